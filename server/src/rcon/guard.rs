//! Failed RCON logins per address: after `MAX_FAILURES` in a row, each less
//! than `LOCKOUT` after the one before, the address is locked out until
//! `LOCKOUT` has passed since its last failure. Its connections are then
//! closed at once, so a password cannot be guessed faster than that.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tessera_net::limits::AddressKey;

pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// Addresses remembered at once; beyond that, those whose failures are
/// older than `LOCKOUT` are forgotten first, and a new address is not
/// tracked while every entry is recent (the connection limit still holds).
const MAX_TRACKED: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug, Default)]
pub struct LoginGuard {
    failures: HashMap<AddressKey, Failures>,
}

impl LoginGuard {
    pub fn is_locked(&self, address: AddressKey, now: Instant) -> bool {
        self.failures.get(&address).is_some_and(|f| {
            f.count >= MAX_FAILURES && now.saturating_duration_since(f.last) < LOCKOUT
        })
    }

    /// Counts a wrong password; true when the address is now locked out.
    pub fn failed(&mut self, address: AddressKey, now: Instant) -> bool {
        if !self.failures.contains_key(&address) && self.failures.len() >= MAX_TRACKED {
            self.failures
                .retain(|_, f| now.saturating_duration_since(f.last) < LOCKOUT);
            if self.failures.len() >= MAX_TRACKED {
                return false;
            }
        }
        let entry = self.failures.entry(address).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.saturating_duration_since(entry.last) >= LOCKOUT {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        entry.count >= MAX_FAILURES
    }

    /// A right password forgets the address's failures.
    pub fn succeeded(&mut self, address: AddressKey) {
        self.failures.remove(&address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> AddressKey {
        AddressKey::from(std::net::IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn five_failures_lock_the_address_for_a_minute() {
        let mut guard = LoginGuard::default();
        let start = Instant::now();
        for i in 1..MAX_FAILURES {
            assert!(!guard.failed(address(1), start), "failure {i}");
            assert!(!guard.is_locked(address(1), start));
        }
        assert!(guard.failed(address(1), start));
        assert!(guard.is_locked(address(1), start + Duration::from_secs(59)));
        assert!(!guard.is_locked(address(2), start));
        assert!(!guard.is_locked(address(1), start + LOCKOUT));
    }

    #[test]
    fn failures_far_apart_or_a_success_start_over() {
        let mut guard = LoginGuard::default();
        let mut now = Instant::now();
        for _ in 0..10 {
            assert!(!guard.failed(address(1), now));
            now += LOCKOUT;
        }
        for _ in 1..MAX_FAILURES {
            guard.failed(address(1), now);
        }
        guard.succeeded(address(1));
        assert!(!guard.failed(address(1), now));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut guard = LoginGuard::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let ip = std::net::IpAddr::from(i.to_be_bytes());
            guard.failed(AddressKey::from(ip), now);
        }
        assert_eq!(guard.failures.len(), MAX_TRACKED);
        // Once the old failures are stale, new addresses are tracked again.
        let later = now + LOCKOUT;
        guard.failed(address(1), later);
        assert_eq!(guard.failures.len(), 1);
    }
}
