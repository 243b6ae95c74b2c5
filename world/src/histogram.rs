//! Histograms shared by the world's and the node's metrics: fixed buckets,
//! counted with atomics so a tick records without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

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

impl TickHistogram {
    /// The upper bound of the bucket that holds the `q` quantile; `None`
    /// with nothing observed, or when it lies above the last bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        self.cumulative
            .iter()
            .find(|(_, below)| *below >= rank)
            .map(|(bound, _)| *bound)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_is_the_bound_of_the_bucket_that_holds_it() {
        let histogram = Histogram::new(&TICK_BUCKETS);
        assert_eq!(histogram.snapshot().quantile(0.5), None, "nothing seen");
        for _ in 0..98 {
            histogram.record(0.0003);
        }
        histogram.record(0.004);
        histogram.record(0.2);
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.quantile(0.5), Some(0.0005));
        assert_eq!(snapshot.quantile(0.99), Some(0.005));
        assert_eq!(snapshot.quantile(1.0), None, "above the last bound");
    }
}
