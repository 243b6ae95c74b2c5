//! Group commit of a replica's writes: one commit runs at a time on a
//! blocking thread, and every write that arrives meanwhile waits to go into
//! the next one, so the commit rate, not the update rate, is what costs
//! fsyncs.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::marker;
use super::stats::{add, Counters};
use crate::register::{Durable, PendingWrites, Store};

type Job<S> = JoinHandle<(S, Result<Durable, <S as Store>::Error>)>;

/// Why a commit did not happen. Either way the store is gone: a replica that
/// cannot persist must not acknowledge anything any more.
#[derive(Debug, thiserror::Error)]
pub(super) enum CommitError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Store(E),
    #[error("the commit thread panicked")]
    Panicked,
}

pub(super) struct GroupCommit<S: Store> {
    /// `None` while a commit has it, and for good after a failure.
    store: Option<S>,
    running: Option<Job<S>>,
    queued: Option<PendingWrites>,
    /// Whether the queued writes finish a recovery, so the store is complete
    /// once they are committed (see `marker`).
    queued_completes: bool,
    counters: Arc<Counters>,
}

impl<S: Store + Send + 'static> GroupCommit<S> {
    pub(super) fn new(store: S, counters: Arc<Counters>) -> Self {
        Self {
            store: Some(store),
            running: None,
            queued: None,
            queued_completes: false,
            counters,
        }
    }

    /// Queues writes for the next commit, which starts at once if none runs.
    /// With `completes_store`, the store is marked complete after them.
    pub(super) fn submit(&mut self, writes: PendingWrites, completes_store: bool) {
        match &mut self.queued {
            Some(queued) => queued.absorb(writes),
            None => self.queued = Some(writes),
        }
        self.queued_completes |= completes_store;
        self.start_if_idle();
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
            // The marker goes in a commit of its own, after the entries: a
            // crash between the two leaves a store that recovers again.
            let result = writes.commit(&mut store).and_then(|durable| {
                if completes_store {
                    marker::mark(&mut store)?;
                }
                Ok(durable)
            });
            (store, result)
        }));
    }

    /// Waits for the running commit (forever if none runs, so it can sit in
    /// a `select!`), then starts the next batch. Cancel-safe.
    pub(super) async fn finished(&mut self) -> Result<Durable, CommitError<S::Error>> {
        let Some(running) = self.running.as_mut() else {
            return std::future::pending().await;
        };
        let joined = running.await;
        self.running = None;
        match joined {
            Ok((store, Ok(durable))) => {
                self.store = Some(store);
                self.start_if_idle();
                Ok(durable)
            }
            Ok((_, Err(error))) => {
                self.queued = None;
                self.queued_completes = false;
                Err(CommitError::Store(error))
            }
            Err(_) => {
                self.queued = None;
                self.queued_completes = false;
                Err(CommitError::Panicked)
            }
        }
    }

    /// Waits for the running commit, then closes the store.
    pub(super) async fn close(mut self) {
        if let Some(running) = self.running.take() {
            // Its outcome no longer matters: nothing will be acknowledged.
            let _ = running.await;
        }
    }
}
