//! Counters of the node's world, read by the admin interface and benchmarks.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::region_metrics::RegionSeries;

/// Upper bounds (seconds) of the tick-duration histogram buckets; a tick
/// must stay under 50 ms for 20 TPS.
pub const TICK_BUCKETS: [f64; 8] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
/// Upper bounds (seconds) of a journal fsync and of a region file save.
pub const DISK_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0,
];
/// Upper bounds of the block changes one group commit carries.
pub const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 1000.0, 10000.0];

/// Counts of observations per bucket (not cumulative; the last slot counts
/// the larger ones) and their sum, in millionths.
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    sum_millionths: AtomicU64,
}

/// A histogram as Prometheus shows it: cumulative counts per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct TickHistogram {
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_millionths: AtomicU64::new(0),
        }
    }

    pub fn record(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(self.bounds.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_millionths
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> TickHistogram {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(self.bounds.len());
        for (bound, count) in self.bounds.iter().zip(&self.buckets) {
            running += count.load(Ordering::Relaxed);
            cumulative.push((*bound, running));
        }
        let count = running + self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        TickHistogram {
            cumulative,
            count,
            sum_seconds: self.sum_millionths.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

pub struct WorldMetrics {
    ticks: Histogram,
    loaded_chunks: AtomicI64,
    /// Block changes and bytes the journals made durable.
    pub journal_changes: AtomicU64,
    pub journal_bytes: AtomicU64,
    /// How long each journal append (write and fsync) took.
    pub journal_fsync: Histogram,
    /// How many block changes each group commit carried.
    pub group_commit: Histogram,
    /// How long each region file save took.
    pub saves: Histogram,
    /// Regions whose journal or region file cannot be written now.
    persist_failing: AtomicI64,
    /// Saved regions or chunks that failed their checks when read.
    pub damaged_files: AtomicU64,
    /// Chunks whose generator panicked twice in a row.
    pub chunk_generation_failures: AtomicU64,
    /// Tick time and journal lag of each region running here.
    pub regions: RegionSeries,
    /// Regions this node stopped because another node took them over, and
    /// regions it took over from another node.
    pub handoffs_out: AtomicU64,
    pub handoffs_in: AtomicU64,
}

impl Default for WorldMetrics {
    fn default() -> Self {
        Self {
            ticks: Histogram::new(&TICK_BUCKETS),
            loaded_chunks: AtomicI64::new(0),
            journal_changes: AtomicU64::new(0),
            journal_bytes: AtomicU64::new(0),
            journal_fsync: Histogram::new(&DISK_BUCKETS),
            group_commit: Histogram::new(&BATCH_BUCKETS),
            saves: Histogram::new(&DISK_BUCKETS),
            persist_failing: AtomicI64::new(0),
            damaged_files: AtomicU64::new(0),
            chunk_generation_failures: AtomicU64::new(0),
            regions: RegionSeries::default(),
            handoffs_out: AtomicU64::new(0),
            handoffs_in: AtomicU64::new(0),
        }
    }
}

impl WorldMetrics {
    pub fn record_tick(&self, took: Duration) {
        self.ticks.record(took.as_secs_f64());
    }

    pub fn chunk_generation_failed(&self) {
        self.chunk_generation_failures
            .fetch_add(1, Ordering::Relaxed);
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
        self.ticks.snapshot()
    }

    pub fn journal_batch(&self, changes: usize, took: Duration) {
        self.journal_changes
            .fetch_add(changes as u64, Ordering::Relaxed);
        self.journal_fsync.record(took.as_secs_f64());
        self.group_commit.record(changes as f64);
    }

    pub fn journal_bytes(&self, bytes: usize) {
        self.journal_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn persist_failing(&self) {
        self.persist_failing.fetch_add(1, Ordering::Relaxed);
    }

    pub fn persist_recovered(&self) {
        self.persist_failing.fetch_sub(1, Ordering::Relaxed);
    }

    /// Regions that cannot write their journal or region file right now.
    pub fn regions_failing_to_persist(&self) -> i64 {
        self.persist_failing.load(Ordering::Relaxed).max(0)
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
        assert!((ticks.sum_seconds - 0.2033).abs() < 1e-6);
    }
}
