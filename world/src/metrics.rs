//! Tick timings of the node's regions, read by the admin interface and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct TickMetrics {
    ticks: AtomicU64,
    total_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

/// Ticks recorded since the last snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickSnapshot {
    pub ticks: u64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

impl TickMetrics {
    pub fn record_tick(&self, took: Duration) {
        let nanos = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.ticks.fetch_add(1, Ordering::Relaxed);
        self.total_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Reads and resets the counters.
    pub fn take(&self) -> TickSnapshot {
        let ticks = self.ticks.swap(0, Ordering::Relaxed);
        let total = self.total_nanos.swap(0, Ordering::Relaxed);
        let max = self.max_nanos.swap(0, Ordering::Relaxed);
        TickSnapshot {
            ticks,
            mean_ms: if ticks == 0 {
                0.0
            } else {
                total as f64 / ticks as f64 / 1e6
            },
            max_ms: max as f64 / 1e6,
        }
    }
}
