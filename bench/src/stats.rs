//! What the bots count and how a run's figures are summarised.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Counters every bot adds to as it reads.
#[derive(Default)]
pub struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    /// Bots that reached spawn or gave up trying.
    settled: AtomicU64,
    /// Each acknowledged block change: when its acknowledgement came, and
    /// how long after the change was sent.
    acknowledgements: Mutex<Vec<(Instant, Duration)>>,
}

/// Most acknowledgements kept for the percentiles (about 80 MB): a run
/// long enough to pass it reports the first ones.
const MAX_ACKNOWLEDGEMENTS: usize = 5_000_000;

/// Packets and bytes received so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    pub packets: u64,
    pub bytes: u64,
}

impl Counters {
    pub fn received(&self, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn settle(&self) {
        self.settled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn settled(&self) -> u64 {
        self.settled.load(Ordering::Relaxed)
    }

    pub fn acknowledged(&self, at: Instant, after: Duration) {
        let mut acks = self
            .acknowledgements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if acks.len() < MAX_ACKNOWLEDGEMENTS {
            acks.push((at, after));
        }
    }

    /// The delays, in milliseconds, of the acknowledgements that came
    /// during `from..to`.
    pub fn acknowledgements_ms(&self, from: Instant, to: Instant) -> Vec<f64> {
        let acks = self
            .acknowledgements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        acks.iter()
            .filter(|(at, _)| (from..to).contains(at))
            .map(|(_, d)| d.as_secs_f64() * 1000.0)
            .collect()
    }

    pub fn snapshot(&self) -> Received {
        Received {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

/// How a bot's connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Never got into the world: refused, disconnected during login, timed out.
    Failed(String),
    /// The server sent Disconnect while playing.
    Kicked(String),
    /// The connection broke while playing, without a Disconnect.
    Lost(String),
    /// Still connected when the run ended.
    Stayed,
}

/// One bot's life.
#[derive(Debug, Clone)]
pub struct BotRecord {
    /// From starting the TCP connect to the first Synchronize Player Position.
    pub join_to_spawn: Option<Duration>,
    pub spawned_at: Option<Instant>,
    pub ended_at: Instant,
    pub outcome: Outcome,
}

impl BotRecord {
    /// Seconds this bot was in the world during `from..to`.
    pub fn seconds_in_world(&self, from: Instant, to: Instant) -> f64 {
        let Some(spawned) = self.spawned_at else {
            return 0.0;
        };
        let start = spawned.max(from);
        let end = self.ended_at.min(to);
        end.saturating_duration_since(start).as_secs_f64()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Nearest-rank percentiles of `values`; `None` when there are none.
pub fn percentiles(mut values: Vec<f64>) -> Option<Percentiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = |p: f64| values[((p * values.len() as f64).ceil() as usize).max(1) - 1];
    Some(Percentiles {
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
        max: values[values.len() - 1],
    })
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kicks {
    pub count: usize,
    pub reasons: BTreeMap<String, usize>,
}

/// The outcomes of all bots, counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub joined: usize,
    pub failed: usize,
    pub fail_reasons: BTreeMap<String, usize>,
    pub kicks: Kicks,
}

pub fn tally(records: &[BotRecord]) -> Tally {
    let mut t = Tally::default();
    for r in records {
        if r.spawned_at.is_some() {
            t.joined += 1;
        }
        match &r.outcome {
            Outcome::Failed(why) => {
                t.failed += 1;
                *t.fail_reasons.entry(why.clone()).or_default() += 1;
            }
            Outcome::Kicked(why) => {
                t.kicks.count += 1;
                *t.kicks.reasons.entry(why.clone()).or_default() += 1;
            }
            Outcome::Lost(why) => {
                t.kicks.count += 1;
                *t.kicks
                    .reasons
                    .entry(format!("(connection lost: {why})"))
                    .or_default() += 1;
            }
            Outcome::Stayed => {}
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = percentiles((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        let one = percentiles(vec![7.0]).unwrap();
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert!(percentiles(Vec::new()).is_none());
    }

    #[test]
    fn time_in_world_is_clipped_to_the_window() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let record = BotRecord {
            join_to_spawn: Some(s(1)),
            spawned_at: Some(t0 + s(2)),
            ended_at: t0 + s(10),
            outcome: Outcome::Stayed,
        };
        assert_eq!(record.seconds_in_world(t0, t0 + s(5)), 3.0);
        assert_eq!(record.seconds_in_world(t0 + s(4), t0 + s(20)), 6.0);
        assert_eq!(record.seconds_in_world(t0 + s(11), t0 + s(20)), 0.0);
    }

    #[test]
    fn outcomes_are_counted() {
        let now = Instant::now();
        let record = |spawned: bool, outcome| BotRecord {
            join_to_spawn: None,
            spawned_at: spawned.then_some(now),
            ended_at: now,
            outcome,
        };
        let t = tally(&[
            record(true, Outcome::Stayed),
            record(true, Outcome::Kicked("Flying".into())),
            record(true, Outcome::Lost("reset".into())),
            record(false, Outcome::Failed("refused".into())),
        ]);
        assert_eq!((t.joined, t.failed, t.kicks.count), (3, 1, 2));
        assert_eq!(t.kicks.reasons["Flying"], 1);
        assert_eq!(t.kicks.reasons["(connection lost: reset)"], 1);
    }
}
