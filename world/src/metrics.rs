//! Counters of the node's world, read by the admin interface and benchmarks.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the tick-duration histogram buckets; a tick
/// must stay under 50 ms for 20 TPS.
pub const TICK_BUCKETS: [f64; 8] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

#[derive(Default)]
pub struct WorldMetrics {
    /// Ticks that took at most `TICK_BUCKETS[i]`, not cumulative; the last
    /// slot counts the slower ones.
    tick_buckets: [AtomicU64; TICK_BUCKETS.len() + 1],
    tick_nanos: AtomicU64,
    loaded_chunks: AtomicI64,
}

/// A histogram as Prometheus shows it: cumulative counts per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct TickHistogram {
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl WorldMetrics {
    pub fn record_tick(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = TICK_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(TICK_BUCKETS.len());
        self.tick_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.tick_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn chunk_loaded(&self) {
        self.loaded_chunks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn chunks_unloaded(&self, count: usize) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.loaded_chunks.fetch_sub(count, Ordering::Relaxed);
    }

    pub fn loaded_chunks(&self) -> i64 {
        self.loaded_chunks.load(Ordering::Relaxed)
    }

    pub fn ticks(&self) -> TickHistogram {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(TICK_BUCKETS.len());
        for (bound, count) in TICK_BUCKETS.iter().zip(&self.tick_buckets) {
            running += count.load(Ordering::Relaxed);
            cumulative.push((*bound, running));
        }
        let count = running + self.tick_buckets[TICK_BUCKETS.len()].load(Ordering::Relaxed);
        TickHistogram {
            cumulative,
            count,
            sum_seconds: self.tick_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_into_cumulative_buckets() {
        let metrics = WorldMetrics::default();
        metrics.record_tick(Duration::from_micros(300));
        metrics.record_tick(Duration::from_millis(3));
        metrics.record_tick(Duration::from_millis(200));
        let ticks = metrics.ticks();
        assert_eq!(ticks.count, 3);
        assert_eq!(ticks.cumulative[0], (0.0005, 1));
        assert_eq!(ticks.cumulative[3], (0.005, 2));
        assert_eq!(ticks.cumulative[7], (0.1, 2));
        assert!((ticks.sum_seconds - 0.2033).abs() < 1e-9);
    }
}
