//! Per-address admission: connections at once, new connections a second
//! and status requests a second. Counts live in one table; entries that say
//! nothing a fresh one would not (no open connection, a full bucket) are
//! swept, so the table holds only the addresses active lately.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::address::AddressKey;
use super::bucket::TokenBucket;
use super::refusals::Refusal;

/// How often idle entries are swept at most.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The per-address limits (each bucket's burst is one second of its rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressLimits {
    pub max_connections: u32,
    pub connections_per_second: u32,
    pub status_per_second: u32,
}

#[derive(Debug)]
struct Table {
    open: HashMap<AddressKey, u32>,
    connects: HashMap<AddressKey, TokenBucket>,
    statuses: HashMap<AddressKey, TokenBucket>,
    swept: Instant,
}

#[derive(Debug)]
pub struct Admission {
    limits: AddressLimits,
    table: Mutex<Table>,
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    admission: Arc<Admission>,
    address: AddressKey,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut table = self.admission.table();
        if let Some(open) = table.open.get_mut(&self.address) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                table.open.remove(&self.address);
            }
        }
    }
}

fn take(
    buckets: &mut HashMap<AddressKey, TokenBucket>,
    address: AddressKey,
    rate: u32,
    now: Instant,
) -> bool {
    buckets
        .entry(address)
        .or_insert_with(|| TokenBucket::new(rate, rate, now))
        .try_take(now)
}

impl Admission {
    pub fn new(limits: AddressLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            table: Mutex::new(Table {
                open: HashMap::new(),
                connects: HashMap::new(),
                statuses: HashMap::new(),
                swept: Instant::now(),
            }),
        })
    }

    /// The table, also after a panic elsewhere held its lock: counts are
    /// updated in single steps, so they are never half-written.
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a new connection from `address`, or says which limit it is over.
    pub fn admit(self: &Arc<Self>, address: AddressKey) -> Result<Admitted, Refusal> {
        self.admit_at(address, Instant::now())
    }

    fn admit_at(self: &Arc<Self>, address: AddressKey, now: Instant) -> Result<Admitted, Refusal> {
        let mut table = self.table();
        sweep(&mut table, now);
        let open = table.open.get(&address).copied().unwrap_or(0);
        if open >= self.limits.max_connections {
            return Err(Refusal::AddressConnections);
        }
        if !take(
            &mut table.connects,
            address,
            self.limits.connections_per_second,
            now,
        ) {
            return Err(Refusal::AddressRate);
        }
        *table.open.entry(address).or_insert(0) += 1;
        Ok(Admitted {
            admission: self.clone(),
            address,
        })
    }

    /// Whether `address` may have a status answer now.
    pub fn allow_status(&self, address: AddressKey) -> bool {
        self.allow_status_at(address, Instant::now())
    }

    fn allow_status_at(&self, address: AddressKey, now: Instant) -> bool {
        let mut table = self.table();
        take(
            &mut table.statuses,
            address,
            self.limits.status_per_second,
            now,
        )
    }
}

fn sweep(table: &mut Table, now: Instant) {
    if now.saturating_duration_since(table.swept) < SWEEP_EVERY {
        return;
    }
    table.swept = now;
    table.connects.retain(|_, bucket| !bucket.is_full(now));
    table.statuses.retain(|_, bucket| !bucket.is_full(now));
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    const LIMITS: AddressLimits = AddressLimits {
        max_connections: 3,
        connections_per_second: 5,
        status_per_second: 2,
    };

    fn key(last: u8) -> AddressKey {
        AddressKey::from(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn connections_at_once_are_capped_per_address() {
        let admission = Admission::new(LIMITS);
        let now = Instant::now();
        let held: Vec<_> = (0..3)
            .map(|_| admission.admit_at(key(1), now).expect("under the cap"))
            .collect();
        assert_eq!(
            admission.admit_at(key(1), now).map(drop),
            Err(Refusal::AddressConnections)
        );
        admission.admit_at(key(2), now).expect("another address");
        drop(held);
        admission.admit_at(key(1), now).expect("places freed");
    }

    #[test]
    fn new_connections_are_rate_limited_per_address() {
        let admission = Admission::new(LIMITS);
        let now = Instant::now();
        for _ in 0..5 {
            drop(admission.admit_at(key(1), now).expect("within the burst"));
        }
        assert_eq!(
            admission.admit_at(key(1), now).map(drop),
            Err(Refusal::AddressRate)
        );
        let later = now + Duration::from_millis(200);
        drop(
            admission
                .admit_at(key(1), later)
                .expect("a token came back"),
        );
    }

    #[test]
    fn a_refusal_at_the_cap_costs_no_token() {
        let admission = Admission::new(LIMITS);
        let now = Instant::now();
        let held: Vec<_> = (0..3)
            .map(|_| admission.admit_at(key(1), now).expect("under the cap"))
            .collect();
        for _ in 0..10 {
            assert!(admission.admit_at(key(1), now).is_err());
        }
        drop(held);
        for _ in 0..2 {
            drop(admission.admit_at(key(1), now).expect("two tokens left"));
        }
    }

    #[test]
    fn status_requests_are_rate_limited_per_address() {
        let admission = Admission::new(LIMITS);
        let now = Instant::now();
        assert!(admission.allow_status_at(key(1), now));
        assert!(admission.allow_status_at(key(1), now));
        assert!(!admission.allow_status_at(key(1), now));
        assert!(admission.allow_status_at(key(2), now));
        assert!(admission.allow_status_at(key(1), now + Duration::from_millis(500)));
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let admission = Admission::new(LIMITS);
        let now = Instant::now();
        drop(admission.admit_at(key(1), now).expect("admitted"));
        assert!(admission.allow_status_at(key(1), now));
        let later = now + SWEEP_EVERY;
        drop(admission.admit_at(key(2), later).expect("admitted"));
        let table = admission.table();
        assert!(table.open.is_empty());
        assert!(!table.connects.contains_key(&key(1)));
        assert!(!table.statuses.contains_key(&key(1)));
        assert!(table.connects.contains_key(&key(2)));
    }
}
