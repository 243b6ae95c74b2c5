//! Group commit of a replica's writes: one commit runs at a time on a
//! blocking thread, and every write that arrives meanwhile waits to go into
//! the next one, so the commit rate, not the update rate, is what costs
//! fsyncs.
//!
//! A commit the store fails (a full disk, an I/O error) is neither
//! acknowledged nor dropped: its writes go back to the head of the queue
//! and are committed again after a backoff, together with whatever arrived
//! meanwhile, until the store persists again. Their acknowledgements leave
//! only then, so a replica never acknowledges what it did not persist, and
//! a recovery's one batch is not lost to a passing error.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::marker;
use super::stats::{add, Counters};
use crate::register::{Backoff, Durable, NotCommitted, PendingWrites, Store};

/// What a commit job hands back: the store, and the durable writes or the
/// ones that still need committing.
type Outcome<S> = (S, Result<Durable, Failed<<S as Store>::Error>>);
type Job<S> = JoinHandle<Outcome<S>>;

/// A commit that did not happen and what it carried.
struct Failed<E> {
    writes: PendingWrites,
    completes_store: bool,
    error: E,
}

/// The first wait before committing a failed batch again, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub(super) enum CommitError<E: std::error::Error + 'static> {
    /// The store failed; the writes wait for the next attempt.
    #[error(transparent)]
    Store(E),
    /// The store went with the thread: nothing can be persisted any more.
    #[error("the commit thread panicked")]
    Panicked,
}

pub(super) struct GroupCommit<S: Store> {
    /// `None` while a commit has it, and for good after a panic.
    store: Option<S>,
    running: Option<Job<S>>,
    queued: Option<PendingWrites>,
    /// Whether the queued writes finish a recovery, so the store is complete
    /// once they are committed (see `marker`).
    queued_completes: bool,
    /// After a failed commit, no new one starts before this.
    retry_at: Option<Instant>,
    backoff: Backoff,
    counters: Arc<Counters>,
}

impl<S: Store + Send + 'static> GroupCommit<S> {
    pub(super) fn new(store: S, counters: Arc<Counters>) -> Self {
        Self {
            store: Some(store),
            running: None,
            queued: None,
            queued_completes: false,
            retry_at: None,
            backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
            counters,
        }
    }

    /// Queues writes for the next commit, which starts at once if none runs
    /// and no retry is waiting out its backoff.
    /// With `completes_store`, the store is marked complete after them.
    pub(super) fn submit(&mut self, writes: PendingWrites, completes_store: bool) {
        self.queue(writes, completes_store);
        if self.retry_at.is_none() {
            self.start_if_idle();
        }
    }

    fn queue(&mut self, writes: PendingWrites, completes_store: bool) {
        match &mut self.queued {
            Some(queued) => queued.absorb(writes),
            None => self.queued = Some(writes),
        }
        self.queued_completes |= completes_store;
    }

    fn start_if_idle(&mut self) {
        if self.running.is_some() || self.queued.is_none() {
            return;
        }
        let (Some(mut store), Some(writes)) = (self.store.take(), self.queued.take()) else {
            return;
        };
        add(&self.counters.commits, 1);
        add(
            &self.counters.committed_entries,
            writes.entries().len() as u64,
        );
        let completes_store = std::mem::take(&mut self.queued_completes);
        self.running = Some(tokio::task::spawn_blocking(move || {
            let result = commit(writes, completes_store, &mut store);
            (store, result)
        }));
    }

    /// Waits for the running commit (forever if none runs and none is due,
    /// so it can sit in a `select!`), then starts the next batch. A failed
    /// commit's writes are queued again and retried after a backoff.
    /// Cancel-safe: every await leaves the state as it found it.
    pub(super) async fn finished(&mut self) -> Result<Durable, CommitError<S::Error>> {
        if self.running.is_none() {
            match self.retry_at {
                Some(at) if self.queued.is_some() => {
                    tokio::time::sleep_until(at).await;
                    self.retry_at = None;
                    self.start_if_idle();
                }
                _ => {}
            }
        }
        let Some(running) = self.running.as_mut() else {
            return std::future::pending().await;
        };
        let joined = running.await;
        self.running = None;
        match joined {
            Ok((store, Ok(durable))) => {
                self.store = Some(store);
                self.backoff.succeeded();
                self.start_if_idle();
                Ok(durable)
            }
            Ok((store, Err(failed))) => {
                self.store = Some(store);
                // The failed writes go first: what arrived since is newer.
                let newer = self.queued.take();
                let newer_completes = std::mem::take(&mut self.queued_completes);
                self.queue(failed.writes, failed.completes_store);
                if let Some(newer) = newer {
                    self.queue(newer, newer_completes);
                }
                let wait = self.backoff.failed(std::time::Instant::now());
                self.retry_at = Some(Instant::now() + wait);
                Err(CommitError::Store(failed.error))
            }
            Err(_) => {
                self.queued = None;
                self.queued_completes = false;
                Err(CommitError::Panicked)
            }
        }
    }

    /// Waits for the running commit, then closes the store. Writes still
    /// queued are dropped unacknowledged; their coordinators retry elsewhere.
    pub(super) async fn close(mut self) {
        if let Some(running) = self.running.take() {
            // Its outcome no longer matters: nothing will be acknowledged.
            let _ = running.await;
        }
    }
}

/// Commits `writes`, then the marker if they complete the store. The marker
/// goes in a commit of its own, after the entries: a crash between the two
/// leaves a store that recovers again.
fn commit<S: Store>(
    writes: PendingWrites,
    completes_store: bool,
    store: &mut S,
) -> Result<Durable, Failed<S::Error>> {
    let durable = writes
        .try_commit(store)
        .map_err(|NotCommitted { writes, error }| Failed {
            writes,
            completes_store,
            error,
        })?;
    if completes_store {
        if let Err(error) = marker::mark(store) {
            // The entries are durable but the store is not yet marked
            // complete: commit them again (a no-op) and the marker after.
            return Err(Failed {
                writes: durable.into_writes(),
                completes_store,
                error,
            });
        }
    }
    Ok(durable)
}
