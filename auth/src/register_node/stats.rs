//! Counters of a register node, for metrics, tests and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a register node has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegisterStats {
    /// Reads that returned a value.
    pub reads: u64,
    /// Writes that took effect.
    pub writes: u64,
    /// Reads that had to write the value back to a quorum: a second round
    /// trip, needed while a write is under way or a replica missed one.
    pub read_write_backs: u64,
    /// Operations that failed for want of a quorum.
    pub timeouts: u64,
    /// Commits of this node's replica store, and the entries they carried:
    /// their ratio is the group commit's batch size.
    pub commits: u64,
    pub committed_entries: u64,
    /// Messages the transport refused (a full queue or an unknown peer);
    /// retransmission covers them.
    pub sends_dropped: u64,
    /// Keys this node's replica holds durably now (a gauge, not a count of
    /// events); zero on a node outside the replica group. Equal on every
    /// replica once they all saw the same writes, so it shows whether a
    /// restarted or recovered replica caught up.
    pub stored_keys: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) reads: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) read_write_backs: AtomicU64,
    pub(super) timeouts: AtomicU64,
    pub(super) commits: AtomicU64,
    pub(super) committed_entries: AtomicU64,
    pub(super) sends_dropped: AtomicU64,
    pub(super) stored_keys: AtomicU64,
}

/// Adds to a counter; relaxed, as counters order nothing.
pub(super) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Sets a gauge.
pub(super) fn set(gauge: &AtomicU64, n: usize) {
    gauge.store(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl Counters {
    pub(super) fn snapshot(&self) -> RegisterStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RegisterStats {
            reads: get(&self.reads),
            writes: get(&self.writes),
            read_write_backs: get(&self.read_write_backs),
            timeouts: get(&self.timeouts),
            commits: get(&self.commits),
            committed_entries: get(&self.committed_entries),
            sends_dropped: get(&self.sends_dropped),
            stored_keys: get(&self.stored_keys),
        }
    }
}
