//! Traffic counters of the frontend, read by the admin interface.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct NetMetrics {
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub connections: AtomicU64,
    /// Clients kicked for sending chat or commands too fast.
    pub spam_kicks: AtomicU64,
    /// Clients kicked for sending packets of any kind too fast.
    pub packet_flood_kicks: AtomicU64,
    /// Clients kicked for a creative item whose data is over the bound.
    pub oversized_item_kicks: AtomicU64,
}

impl NetMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
