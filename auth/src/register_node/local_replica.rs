//! This node's replica: the state machine, its store behind group commit,
//! and the delayed start of a recovery.

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, error, info};

use super::commit::{CommitError, GroupCommit};
use super::stats::{self, Counters};
use crate::register::{Durable, Envelope, NodeId, Replica, Store, ToReplica};

pub(super) struct LocalReplica<S: Store> {
    replica: Replica,
    commits: GroupCommit<S>,
    /// A recovering replica's first state requests and when to send them
    /// (see `RegisterNodeConfig::recovery_delay`).
    deferred: Option<(Duration, Vec<Envelope>)>,
    /// Set when the commit thread panicked and took the store with it: the
    /// replica answers nothing from then on.
    failed: bool,
    counters: Arc<Counters>,
}

impl<S: Store + Send + 'static> LocalReplica<S> {
    /// A replica whose store holds everything it acknowledged.
    pub(super) fn new(replica: Replica, store: S, counters: Arc<Counters>) -> Self {
        stats::set(&counters.stored_keys, replica.stored_keys());
        Self {
            replica,
            commits: GroupCommit::new(store, counters.clone()),
            deferred: None,
            failed: false,
            counters,
        }
    }

    /// A replica rebuilding a store it cannot trust (from
    /// `Replica::recovering` or `Replica::discovering`); it sends its
    /// `requests` for the others' state at `start_at` (on the node's clock).
    pub(super) fn recovering(
        (replica, requests): (Replica, Vec<Envelope>),
        start_at: Duration,
        store: S,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            replica,
            commits: GroupCommit::new(store, counters.clone()),
            deferred: Some((start_at, requests)),
            failed: false,
            counters,
        }
    }

    /// Whether it counts toward quorums: not while it recovers, nor after
    /// its store was lost. A store that fails to persist keeps it ready:
    /// its answers are all durable, it only holds back acknowledgements.
    pub(super) fn is_ready(&self) -> bool {
        !self.failed && self.replica.is_ready()
    }

    pub(super) fn on_message(&mut self, from: NodeId, msg: ToReplica, send: &mut Vec<Envelope>) {
        if self.failed {
            return;
        }
        let effects = self.replica.on_message(from, msg);
        send.extend(effects.send);
        if let Some(writes) = effects.persist {
            // A recovering replica persists one batch only: the merged state
            // of the others, after which its store is complete.
            let completes_store = !self.replica.is_ready();
            self.commits.submit(writes, completes_store);
        }
    }

    pub(super) fn tick(&mut self, now: Duration, send: &mut Vec<Envelope>) {
        if self.failed {
            return;
        }
        match self.deferred.take() {
            Some((start_at, requests)) if now >= start_at => {
                info!("asking the other replicas for their state to recover a lost store");
                send.extend(requests);
            }
            Some(deferred) => self.deferred = Some(deferred),
            None => send.extend(self.replica.tick(now)),
        }
    }

    /// Resolves when a commit finishes; never if none runs.
    pub(super) async fn commit_finished(&mut self) -> Result<Durable, CommitError<S::Error>> {
        self.commits.finished().await
    }

    pub(super) fn on_commit(
        &mut self,
        result: Result<Durable, CommitError<S::Error>>,
        send: &mut Vec<Envelope>,
    ) {
        match result {
            Ok(durable) => {
                let was_ready = self.replica.is_ready();
                send.extend(self.replica.on_durable(durable));
                stats::set(&self.counters.stored_keys, self.replica.stored_keys());
                if !was_ready && self.replica.is_ready() {
                    info!("replica recovered its state from the others; serving");
                }
            }
            Err(CommitError::Store(error)) => {
                // Nothing of it is acknowledged; the writes wait in the group
                // commit for the store to persist again. What the replica
                // answers meanwhile is all durable, so it keeps answering.
                debug!(%error, "register store commit failed; retrying after a backoff");
            }
            Err(error @ CommitError::Panicked) => {
                // The store went with the thread, so nothing can be persisted
                // again: stay out of every quorum until the node restarts.
                error!(%error, "register store lost; this replica stops answering");
                self.failed = true;
            }
        }
    }

    pub(super) async fn close(self) {
        self.commits.close().await;
    }
}
