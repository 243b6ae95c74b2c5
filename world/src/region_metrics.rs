//! Series per region this node runs: its tick time and how far its region
//! files lag behind its journal.
//!
//! Bounded by the regions this node runs: a region's entry is added when
//! its actor starts and removed when the actor ends (stopped, idle,
//! released to another node or failed), so a node that once ran many
//! regions does not keep reporting them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::coords::RegionPos;
use crate::histogram::{Histogram, TickHistogram, TICK_BUCKETS};

/// Journaled changes the region files do not hold yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lag {
    pub changes: u64,
    pub bytes: u64,
    /// When the oldest of them was journaled (or, for what a region
    /// replayed at start, when this node took the region over).
    pub since: Option<Instant>,
}

impl Lag {
    /// Both lags as one: their sums, since the older of them.
    pub fn merge(self, other: Lag) -> Lag {
        let since = match (self.since, other.since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Lag {
            changes: self.changes + other.changes,
            bytes: self.bytes + other.bytes,
            since,
        }
    }

    /// How long the oldest unsaved change has waited, at `now`.
    pub fn age(&self, now: Instant) -> Duration {
        self.since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

/// What of a region's journal its region files miss. A save folds in what
/// was journaled before it started; what comes while it runs waits for the
/// next one, and a save that fails leaves all of it waiting.
#[derive(Debug, Default)]
pub struct JournalLag {
    waiting: Lag,
    saving: Lag,
}

impl JournalLag {
    pub fn journaled(&mut self, changes: usize, bytes: usize, at: Instant) {
        let added = Lag {
            changes: changes as u64,
            bytes: bytes as u64,
            since: Some(at),
        };
        self.waiting = self.waiting.merge(added);
    }

    pub fn save_started(&mut self) {
        self.saving = self.saving.merge(std::mem::take(&mut self.waiting));
    }

    pub fn save_finished(&mut self, saved: bool) {
        let saving = std::mem::take(&mut self.saving);
        if !saved {
            self.waiting = self.waiting.merge(saving);
        }
    }

    pub fn unsaved(&self) -> Lag {
        self.waiting.merge(self.saving)
    }
}

/// One running region's series.
pub struct RegionMetrics {
    pub ticks: Histogram,
    lag: Mutex<JournalLag>,
}

impl RegionMetrics {
    /// The region's journal lag, to update or read; held only briefly
    /// (at appends and saves, and by a scrape).
    pub fn lag(&self) -> MutexGuard<'_, JournalLag> {
        self.lag.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Entries = Arc<Mutex<HashMap<RegionPos, Arc<RegionMetrics>>>>;

/// The series of every region running here.
#[derive(Default)]
pub struct RegionSeries {
    entries: Entries,
}

/// A region's entry; dropping it (the actor ended) removes the entry.
pub struct RegionEntry {
    pos: RegionPos,
    metrics: Arc<RegionMetrics>,
    entries: Entries,
}

impl std::ops::Deref for RegionEntry {
    type Target = RegionMetrics;

    fn deref(&self) -> &RegionMetrics {
        &self.metrics
    }
}

impl Drop for RegionEntry {
    fn drop(&mut self) {
        let mut entries = lock(&self.entries);
        // An actor for the same region may have started before this one
        // ended (a region back on this node at once): its entry stays.
        if entries
            .get(&self.pos)
            .is_some_and(|m| Arc::ptr_eq(m, &self.metrics))
        {
            entries.remove(&self.pos);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One region's series as a scrape sees them.
pub struct RegionSnapshot {
    pub pos: RegionPos,
    pub ticks: TickHistogram,
    pub lag: Lag,
}

impl RegionSeries {
    /// A fresh entry for a region actor that starts.
    pub fn start(&self, pos: RegionPos) -> RegionEntry {
        let metrics = Arc::new(RegionMetrics {
            ticks: Histogram::new(&TICK_BUCKETS),
            lag: Mutex::new(JournalLag::default()),
        });
        lock(&self.entries).insert(pos, metrics.clone());
        RegionEntry {
            pos,
            metrics,
            entries: self.entries.clone(),
        }
    }

    /// The tick histogram of one region running here.
    pub fn ticks_of(&self, pos: RegionPos) -> Option<TickHistogram> {
        let metrics = lock(&self.entries).get(&pos)?.clone();
        Some(metrics.ticks.snapshot())
    }

    /// Every running region's series, ordered by position so scrapes list
    /// them alike.
    pub fn snapshot(&self) -> Vec<RegionSnapshot> {
        let entries: Vec<(RegionPos, Arc<RegionMetrics>)> = lock(&self.entries)
            .iter()
            .map(|(pos, m)| (*pos, m.clone()))
            .collect();
        let mut snapshot: Vec<RegionSnapshot> = entries
            .into_iter()
            .map(|(pos, m)| RegionSnapshot {
                pos,
                ticks: m.ticks.snapshot(),
                lag: m.lag().unsaved(),
            })
            .collect();
        snapshot.sort_by_key(|s| (s.pos.x, s.pos.z));
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_folds_in_only_what_was_journaled_before_it_started() {
        let t0 = Instant::now();
        let mut lag = JournalLag::default();
        lag.journaled(3, 300, t0);
        lag.save_started();
        lag.journaled(1, 50, t0 + Duration::from_secs(2));
        assert_eq!(lag.unsaved().changes, 4);
        assert_eq!(lag.unsaved().since, Some(t0));
        lag.save_finished(true);
        let left = lag.unsaved();
        assert_eq!((left.changes, left.bytes), (1, 50));
        assert_eq!(
            left.age(t0 + Duration::from_secs(5)),
            Duration::from_secs(3)
        );
        lag.save_started();
        lag.save_finished(true);
        assert_eq!(lag.unsaved(), Lag::default());
        assert_eq!(lag.unsaved().age(t0), Duration::ZERO);
    }

    #[test]
    fn merged_lags_add_up_and_keep_the_oldest_time() {
        let t0 = Instant::now();
        let later = Lag {
            changes: 2,
            bytes: 40,
            since: Some(t0 + Duration::from_secs(4)),
        };
        let older = Lag {
            changes: 5,
            bytes: 100,
            since: Some(t0),
        };
        let total = [later, Lag::default(), older]
            .into_iter()
            .fold(Lag::default(), Lag::merge);
        assert_eq!(
            (total.changes, total.bytes, total.since),
            (7, 140, Some(t0))
        );
        assert_eq!(Lag::default().merge(Lag::default()).since, None);
    }

    #[test]
    fn a_failed_save_leaves_everything_waiting_with_its_oldest_time() {
        let t0 = Instant::now();
        let mut lag = JournalLag::default();
        lag.journaled(2, 100, t0);
        lag.save_started();
        lag.journaled(1, 10, t0 + Duration::from_secs(1));
        lag.save_finished(false);
        let left = lag.unsaved();
        assert_eq!((left.changes, left.bytes, left.since), (3, 110, Some(t0)));
    }

    #[test]
    fn an_entry_goes_when_its_region_stops_but_not_a_newer_ones() {
        let series = RegionSeries::default();
        let pos = RegionPos { x: 1, z: -2 };
        let first = series.start(pos);
        first.ticks.record(0.001);
        let second = series.start(pos);
        drop(first);
        let snapshot = series.snapshot();
        assert_eq!(snapshot.len(), 1);
        assert_eq!(snapshot[0].ticks.count, 0, "the newer actor's entry stays");
        drop(second);
        assert!(series.snapshot().is_empty());
    }
}
