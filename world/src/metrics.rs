//! Counters of the node's world, read by the admin interface and benchmarks.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::histogram::{Histogram, TickHistogram, BATCH_BUCKETS, DISK_BUCKETS, TICK_BUCKETS};
use crate::region_metrics::RegionSeries;

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
