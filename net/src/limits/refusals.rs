//! Why clients are refused: a counter per reason for `/metrics`, and a log
//! line per address and reason at most once an interval, so a flood does
//! not flood the log too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::warn;

use super::address::AddressKey;

/// At most one line per address and reason this often.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A frame length prefix over the limit of the connection's state.
    FrameTooLong,
    /// The bytes pre-play connections may hold together are spent.
    PrePlayBudget,
    /// Too many connections from one address at once.
    AddressConnections,
    /// New connections from one address came too fast.
    AddressRate,
    /// More than one status request or ping on one connection.
    StatusPerConnection,
    /// Status requests from one address came too fast.
    StatusRate,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::FrameTooLong,
        Refusal::PrePlayBudget,
        Refusal::AddressConnections,
        Refusal::AddressRate,
        Refusal::StatusPerConnection,
        Refusal::StatusRate,
    ];

    /// The `reason` label of `tessera_connections_refused_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::FrameTooLong => "frame_too_long",
            Refusal::PrePlayBudget => "pre_play_budget",
            Refusal::AddressConnections => "connections_per_address",
            Refusal::AddressRate => "connection_rate",
            Refusal::StatusPerConnection => "status_per_connection",
            Refusal::StatusRate => "status_rate",
        }
    }

    /// What the client is told, where its state has a disconnect packet.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::FrameTooLong => "Packet too large",
            Refusal::PrePlayBudget => "The server is busy with other logins, try again in a moment",
            Refusal::AddressConnections => "Too many connections from your address",
            Refusal::AddressRate => "Connecting too fast, wait a moment before reconnecting",
            Refusal::StatusPerConnection => "One status request and one ping per connection",
            Refusal::StatusRate => "Too many status requests from your address",
        }
    }

    fn index(self) -> usize {
        Refusal::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Logged {
    at: Instant,
    /// Refusals since that line that had no line of their own.
    quiet: u64,
}

#[derive(Debug, Default)]
pub struct Refusals {
    counts: [AtomicU64; Refusal::ALL.len()],
    logged: Mutex<HashMap<(AddressKey, Refusal), Logged>>,
}

impl Refusals {
    /// Counts a refusal and logs it unless this address had a line for this
    /// reason less than `LOG_INTERVAL` ago.
    pub fn record(&self, address: AddressKey, refusal: Refusal, detail: &str) {
        self.counts[refusal.index()].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let Ok(mut logged) = self.logged.lock() else {
            return;
        };
        let key = (address, refusal);
        match logged.get_mut(&key) {
            Some(entry) if now.duration_since(entry.at) < LOG_INTERVAL => {
                entry.quiet += 1;
                return;
            }
            Some(entry) => {
                let quiet = std::mem::take(&mut entry.quiet);
                entry.at = now;
                warn!(
                    %address,
                    reason = %refusal.label(),
                    "connection refused: {detail} ({quiet} more like it in the last {}s)",
                    LOG_INTERVAL.as_secs()
                );
            }
            None => {
                warn!(%address, reason = %refusal.label(), "connection refused: {detail}");
                logged.insert(key, Logged { at: now, quiet: 0 });
            }
        }
        // Addresses that went quiet are forgotten, so the map stays as
        // small as the set of addresses refused lately.
        if logged.len() > 1024 {
            logged.retain(|_, entry| now.duration_since(entry.at) < LOG_INTERVAL);
        }
    }

    /// Refusals so far for `refusal`.
    pub fn count(&self, refusal: Refusal) -> u64 {
        self.counts[refusal.index()].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_counted() {
        let refusals = Refusals::default();
        let address = AddressKey::from(std::net::IpAddr::from([10, 0, 0, 1]));
        for _ in 0..5 {
            refusals.record(address, Refusal::StatusRate, "test");
        }
        refusals.record(address, Refusal::FrameTooLong, "test");
        assert_eq!(refusals.count(Refusal::StatusRate), 5);
        assert_eq!(refusals.count(Refusal::FrameTooLong), 1);
        assert_eq!(refusals.count(Refusal::AddressRate), 0);
        let logged = refusals.logged.lock().expect("not poisoned");
        assert_eq!(logged[&(address, Refusal::StatusRate)].quiet, 4);
    }
}
