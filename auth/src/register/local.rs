//! The whole register in one process, messages passed through a queue: for
//! tests and benchmarks of the protocol and the stores without a network.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::coordinator::{Completion, Coordinator, Outcome};
use super::group::{GroupError, ReplicaGroup};
use super::health::StoreHealth;
use super::messages::{Envelope, Message, OpId};
use super::replica::Replica;
use super::store::{MemoryStore, Store};
use super::tag::{Incarnation, Key, NodeId, Tag, Value, Versioned, WriterId};

#[derive(Debug, thiserror::Error)]
pub enum LocalError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Store(E),
    #[error("{0} is not in this cluster")]
    UnknownNode(NodeId),
    #[error("the operation cannot complete: too few replicas are up")]
    NoQuorum,
}

/// n replica nodes, each with a replica, its store and a coordinator.
/// Delivery is in order and immediate; nodes marked down drop everything.
pub struct LocalCluster<S: Store = MemoryStore> {
    replicas: BTreeMap<NodeId, (Replica, S)>,
    coordinators: BTreeMap<NodeId, Coordinator>,
    down: BTreeSet<NodeId>,
    queue: VecDeque<(NodeId, Envelope)>,
}

impl LocalCluster<MemoryStore> {
    /// `n` nodes with ids 1..=n and empty in-memory stores.
    pub fn new(n: u64) -> Result<Self, LocalError<std::convert::Infallible>> {
        Self::with_stores((1..=n).map(|id| (NodeId(id), MemoryStore::new())))
    }
}

impl<S: Store> LocalCluster<S> {
    /// One node per store, each replica starting from what its store holds.
    pub fn with_stores(
        stores: impl IntoIterator<Item = (NodeId, S)>,
    ) -> Result<Self, LocalError<S::Error>> {
        let stores: Vec<(NodeId, S)> = stores.into_iter().collect();
        let group = ReplicaGroup::new(stores.iter().map(|(id, _)| *id))?;
        let mut replicas = BTreeMap::new();
        let mut coordinators = BTreeMap::new();
        for (id, store) in stores {
            let entries = store.load().map_err(LocalError::Store)?;
            replicas.insert(id, (Replica::new(id, group.clone(), entries)?, store));
            let writer = WriterId {
                node: id,
                incarnation: Incarnation(1),
            };
            // Delivery is reliable here, so retransmission never matters.
            coordinators.insert(id, Coordinator::new(writer, group.clone(), Duration::MAX));
        }
        Ok(Self {
            replicas,
            coordinators,
            down: BTreeSet::new(),
            queue: VecDeque::new(),
        })
    }

    /// Marks a node down (it drops every message) or up again.
    pub fn set_down(&mut self, node: NodeId, down: bool) {
        if down {
            self.down.insert(node);
        } else {
            self.down.remove(&node);
        }
    }

    pub fn replica(&self, node: NodeId) -> Option<&Replica> {
        self.replicas.get(&node).map(|(replica, _)| replica)
    }

    /// The health of `node`'s store, if it can fail.
    pub fn store_health(&self, node: NodeId) -> Option<StoreHealth> {
        self.replicas
            .get(&node)
            .and_then(|(_, store)| store.health())
    }

    /// Commits nothing to `node`'s store, which reopens it if an error
    /// closed it: how a store that failed finds out it persists again when
    /// nobody writes.
    pub fn probe_store(&mut self, node: NodeId) -> Result<(), LocalError<S::Error>> {
        let (_, store) = self
            .replicas
            .get_mut(&node)
            .ok_or(LocalError::UnknownNode(node))?;
        store.persist(&[]).map_err(LocalError::Store)
    }

    /// Starts a read on `at`'s coordinator; [`LocalCluster::run`] finishes it.
    pub fn start_read(&mut self, at: NodeId, key: &str) -> Result<OpId, LocalError<S::Error>> {
        let coordinator = self
            .coordinators
            .get_mut(&at)
            .ok_or(LocalError::UnknownNode(at))?;
        let (op, send) = coordinator.read(key);
        self.queue.extend(send.into_iter().map(|env| (at, env)));
        Ok(op)
    }

    /// Starts a write on `at`'s coordinator; [`LocalCluster::run`] finishes it.
    pub fn start_write(
        &mut self,
        at: NodeId,
        key: &str,
        value: Value,
    ) -> Result<OpId, LocalError<S::Error>> {
        let coordinator = self
            .coordinators
            .get_mut(&at)
            .ok_or(LocalError::UnknownNode(at))?;
        let (op, send) = coordinator.write(key, value);
        self.queue.extend(send.into_iter().map(|env| (at, env)));
        Ok(op)
    }

    /// Starts a listing on `at`'s coordinator; [`LocalCluster::run`] finishes it.
    pub fn start_keys(&mut self, at: NodeId, prefix: &str) -> Result<OpId, LocalError<S::Error>> {
        let coordinator = self
            .coordinators
            .get_mut(&at)
            .ok_or(LocalError::UnknownNode(at))?;
        let (op, send) = coordinator.keys(prefix);
        self.queue.extend(send.into_iter().map(|env| (at, env)));
        Ok(op)
    }

    /// Delivers messages until none are left; returns what completed.
    pub fn run(&mut self) -> Result<Vec<Completion>, LocalError<S::Error>> {
        let mut completed = Vec::new();
        while let Some((from, Envelope { to, msg })) = self.queue.pop_front() {
            if self.down.contains(&from) || self.down.contains(&to) {
                continue;
            }
            let send = match msg {
                Message::ToReplica(msg) => {
                    let (replica, store) = self
                        .replicas
                        .get_mut(&to)
                        .ok_or(LocalError::UnknownNode(to))?;
                    match replica.handle(from, msg, store) {
                        Ok(send) => send,
                        Err(error) => {
                            // The update was not persisted, so it is not
                            // acknowledged; what is still queued belongs to
                            // operations that cannot finish now, and would
                            // otherwise be delivered into the next one.
                            self.queue.clear();
                            return Err(LocalError::Store(error));
                        }
                    }
                }
                Message::ToCoordinator(msg) => {
                    let coordinator = self
                        .coordinators
                        .get_mut(&to)
                        .ok_or(LocalError::UnknownNode(to))?;
                    let outbox = coordinator.on_message(from, msg);
                    completed.extend(outbox.completed);
                    outbox.send
                }
            };
            self.queue.extend(send.into_iter().map(|env| (to, env)));
        }
        Ok(completed)
    }

    /// Reads and runs the queue until nothing is left. For sequential use:
    /// completions of operations started with `start_*` before are dropped.
    pub fn read(&mut self, at: NodeId, key: &str) -> Result<Versioned, LocalError<S::Error>> {
        let op = self.start_read(at, key)?;
        match self.finish(at, op)? {
            Outcome::Read(versioned) => Ok(versioned),
            Outcome::Written(_) | Outcome::Keys(_) => unreachable!("{op:?} is a read"),
        }
    }

    /// Writes and runs the queue until nothing is left; see [`LocalCluster::read`].
    pub fn write(
        &mut self,
        at: NodeId,
        key: &str,
        value: Value,
    ) -> Result<Tag, LocalError<S::Error>> {
        let op = self.start_write(at, key, value)?;
        match self.finish(at, op)? {
            Outcome::Written(tag) => Ok(tag),
            Outcome::Read(_) | Outcome::Keys(_) => unreachable!("{op:?} is a write"),
        }
    }

    /// Lists the keys under `prefix` and runs the queue until nothing is
    /// left; see [`LocalCluster::read`].
    pub fn keys(&mut self, at: NodeId, prefix: &str) -> Result<Vec<Key>, LocalError<S::Error>> {
        let op = self.start_keys(at, prefix)?;
        match self.finish(at, op)? {
            Outcome::Keys(keys) => Ok(keys),
            Outcome::Read(_) | Outcome::Written(_) => unreachable!("{op:?} is a listing"),
        }
    }

    fn finish(&mut self, at: NodeId, op: OpId) -> Result<Outcome, LocalError<S::Error>> {
        let completed = match self.run() {
            Ok(completed) => completed,
            Err(error) => {
                // It can no longer complete; the coordinator must not keep it.
                if let Some(coordinator) = self.coordinators.get_mut(&at) {
                    coordinator.cancel(op);
                }
                return Err(error);
            }
        };
        let outcome = completed
            .into_iter()
            .find(|completion| completion.op == op)
            .map(|completion| completion.outcome);
        match outcome {
            Some(outcome) => Ok(outcome),
            None => {
                // Nothing is left to deliver, so it would wait forever.
                if let Some(coordinator) = self.coordinators.get_mut(&at) {
                    coordinator.cancel(op);
                }
                Err(LocalError::NoQuorum)
            }
        }
    }
}
