//! The replica side of the register: answers queries, stores updates, and
//! rebuilds its state from the others after losing its disk.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::group::{GroupError, ReplicaGroup};
use super::messages::{Envelope, Held, ToCoordinator, ToReplica};
use super::store::Store;
use super::tag::{Incarnation, Key, NodeId, Versioned};

/// One replica of every key. It holds only what is durable: an update becomes
/// visible to queries when the I/O layer hands back the [`Durable`] proof, so
/// a reply never reports a tag the replica could forget in a crash (the read
/// fast path counts on replies meaning "this is on disk").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica {
    id: NodeId,
    group: ReplicaGroup,
    entries: BTreeMap<Key, Versioned>,
    /// `Some` while rebuilding after a lost disk; the replica serves nothing
    /// until it is `None`.
    recovery: Option<Recovery>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Recovery {
    incarnation: Incarnation,
    retransmit_after: Duration,
    resend_at: Option<Duration>,
    answered: BTreeSet<NodeId>,
    /// Replicas that answered they are recovering too (and have not sent
    /// their state since).
    also_recovering: BTreeSet<NodeId>,
    /// Whether the recovery may also end once every other replica answered,
    /// with state or as recovering too (see [`Replica::discovering`]).
    may_complete_from_all: bool,
    merged: BTreeMap<Key, Versioned>,
    persisting: bool,
}

/// What the I/O layer must do after a replica handled a message.
#[must_use = "replies must be sent and pending writes persisted"]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplicaEffects {
    /// Send these now, in any order.
    pub send: Vec<Envelope>,
    /// Commit these to the store; the messages that depend on them come back
    /// from [`Replica::on_durable`].
    pub persist: Option<PendingWrites>,
}

/// Entries to make durable, with the messages that may only be sent after.
///
/// The only way to the acknowledgements is [`PendingWrites::commit`], which
/// returns the [`Durable`] proof once the store reports the commit done.
/// Several of these can be merged with [`PendingWrites::absorb`] and committed
/// at once (group commit).
#[must_use = "the updates are not acknowledged until committed"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PendingWrites {
    entries: Vec<(Key, Versioned)>,
    after: Vec<Envelope>,
    completes_recovery: Option<Incarnation>,
}

impl PendingWrites {
    pub fn entries(&self) -> &[(Key, Versioned)] {
        &self.entries
    }

    /// Adds `other`'s entries and messages to these, for one commit.
    pub fn absorb(&mut self, other: PendingWrites) {
        self.entries.extend(other.entries);
        self.after.extend(other.after);
        self.completes_recovery = self.completes_recovery.or(other.completes_recovery);
    }

    /// Persists the entries in one durable commit.
    pub fn commit<S: Store>(self, store: &mut S) -> Result<Durable, S::Error> {
        self.try_commit(store).map_err(|failed| failed.error)
    }

    /// [`PendingWrites::commit`] that hands the writes back when the store
    /// fails, so they can be committed again once it recovers: their
    /// acknowledgements are still owed, and a recovery waits on its batch.
    pub(crate) fn try_commit<S: Store>(
        self,
        store: &mut S,
    ) -> Result<Durable, NotCommitted<S::Error>> {
        match store.persist(&self.entries) {
            Ok(()) => Ok(Durable(self)),
            Err(error) => Err(NotCommitted {
                writes: self,
                error,
            }),
        }
    }
}

/// Writes a store did not commit, and why.
#[derive(Debug)]
pub(crate) struct NotCommitted<E> {
    pub(crate) writes: PendingWrites,
    pub(crate) error: E,
}

/// Proof that a [`PendingWrites`] is on disk; hand it to [`Replica::on_durable`].
#[must_use = "hand it to Replica::on_durable to release the acknowledgements"]
#[derive(Debug, PartialEq, Eq)]
pub struct Durable(PendingWrites);

impl Durable {
    /// The writes back, to commit again (a no-op for the store, as commits
    /// are monotonic) when something that had to follow them failed.
    pub(crate) fn into_writes(self) -> PendingWrites {
        self.0
    }
}

impl Replica {
    /// A replica with the entries its store holds (none for a new cluster).
    ///
    /// Only for a store that has kept everything this replica acknowledged; a
    /// replica whose disk was lost or replaced starts with [`Replica::recovering`].
    pub fn new(
        id: NodeId,
        group: ReplicaGroup,
        entries: impl IntoIterator<Item = (Key, Versioned)>,
    ) -> Result<Self, GroupError> {
        if !group.contains(id) {
            return Err(GroupError::NotAMember(id));
        }
        Ok(Self {
            id,
            group,
            entries: entries.into_iter().collect(),
            recovery: None,
        })
    }

    /// A replica that lost its disk: it copies the state of
    /// [`ReplicaGroup::recovery_quorum`] other replicas, persists the merge,
    /// and only then serves. Until then it ignores queries and updates, so
    /// coordinators count it as silent. The returned messages are the first
    /// state requests; [`Replica::tick`] repeats them to replicas that have
    /// not answered.
    ///
    /// One hazard remains: an acknowledgement the replica sent before losing
    /// its disk may still be on its way to a coordinator when recovery ends,
    /// for an update that reached none of the replicas it copied from. Start
    /// recovery only after any connection of the previous run has closed and
    /// its in-flight frames had time to drain (a recovering node has just
    /// restarted, so waiting for the transport's reconnect timeout does it).
    pub fn recovering(
        id: NodeId,
        group: ReplicaGroup,
        incarnation: Incarnation,
        retransmit_after: Duration,
    ) -> Result<(Self, Vec<Envelope>), GroupError> {
        Self::rebuilding(id, group, incarnation, retransmit_after, false)
    }

    /// A replica whose store is empty without knowing why: a new cluster's,
    /// or one that replaces a lost disk. It recovers as
    /// [`Replica::recovering`] does, and also ends once every other replica
    /// has answered, each with its state or as recovering too, taking what
    /// the answers hold. That is how the replicas of a new cluster start
    /// together, and it loses nothing a plain recovery would keep: every
    /// replica that holds anything has sent it. Only when a majority lost
    /// their disks at once is there no one left to copy an update from.
    pub fn discovering(
        id: NodeId,
        group: ReplicaGroup,
        incarnation: Incarnation,
        retransmit_after: Duration,
    ) -> Result<(Self, Vec<Envelope>), GroupError> {
        if group.size() == 1 && group.contains(id) {
            // Alone, an empty store can only be a new cluster's.
            return Ok((Self::new(id, group, [])?, Vec::new()));
        }
        Self::rebuilding(id, group, incarnation, retransmit_after, true)
    }

    fn rebuilding(
        id: NodeId,
        group: ReplicaGroup,
        incarnation: Incarnation,
        retransmit_after: Duration,
        may_complete_from_all: bool,
    ) -> Result<(Self, Vec<Envelope>), GroupError> {
        if !group.contains(id) {
            return Err(GroupError::NotAMember(id));
        }
        if group.size() == 1 {
            return Err(GroupError::CannotRecoverAlone);
        }
        let replica = Self {
            id,
            group,
            entries: BTreeMap::new(),
            recovery: Some(Recovery {
                incarnation,
                retransmit_after,
                resend_at: None,
                answered: BTreeSet::new(),
                also_recovering: BTreeSet::new(),
                may_complete_from_all,
                merged: BTreeMap::new(),
                persisting: false,
            }),
        };
        let requests = replica.state_requests();
        Ok((replica, requests))
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Whether the replica answers queries and updates.
    pub fn is_ready(&self) -> bool {
        self.recovery.is_none()
    }

    /// How many keys the replica durably holds (deleted ones included: a
    /// deletion is a write with its own tag).
    pub fn stored_keys(&self) -> usize {
        self.entries.len()
    }

    /// What the replica durably holds for `key`.
    pub fn get(&self, key: &str) -> Versioned {
        self.entries.get(key).cloned().unwrap_or(Versioned::ABSENT)
    }

    pub fn on_message(&mut self, from: NodeId, msg: ToReplica) -> ReplicaEffects {
        let mut effects = ReplicaEffects::default();
        match msg {
            ToReplica::ReadQuery { op, key } if self.is_ready() => {
                let versioned = self.get(&key);
                effects.send.push(Envelope::new(
                    from,
                    ToCoordinator::ReadReply { op, versioned },
                ));
            }
            ToReplica::TagQuery { op, key } if self.is_ready() => {
                let tag = self.get(&key).tag;
                effects
                    .send
                    .push(Envelope::new(from, ToCoordinator::TagReply { op, tag }));
            }
            ToReplica::Update { op, key, versioned } if self.is_ready() => {
                let ack = Envelope::new(from, ToCoordinator::UpdateAck { op });
                if self.get(&key).tag >= versioned.tag {
                    // Already durable at this tag or a newer one: a duplicate,
                    // a retransmission, or overtaken by a later write.
                    effects.send.push(ack);
                } else {
                    effects.persist = Some(PendingWrites {
                        entries: vec![(key, versioned)],
                        after: vec![ack],
                        completes_recovery: None,
                    });
                }
            }
            ToReplica::KeysQuery { op, prefix } if self.is_ready() => {
                let held = self
                    .entries
                    .range(prefix.clone()..)
                    .take_while(|(key, _)| key.starts_with(prefix.as_str()))
                    .map(|(key, versioned)| {
                        let held = Held {
                            tag: versioned.tag,
                            present: versioned.value.is_some(),
                        };
                        (key.clone(), held)
                    })
                    .collect();
                effects
                    .send
                    .push(Envelope::new(from, ToCoordinator::KeysReply { op, held }));
            }
            ToReplica::StateRequest { recovery }
                if self.is_ready() && from != self.id && self.group.contains(from) =>
            {
                let entries = self
                    .entries
                    .iter()
                    .map(|(key, versioned)| (key.clone(), versioned.clone()))
                    .collect();
                effects.send.push(Envelope::new(
                    from,
                    ToReplica::StateReply { recovery, entries },
                ));
            }
            ToReplica::StateRequest { recovery }
                if from != self.id && self.group.contains(from) =>
            {
                effects
                    .send
                    .push(Envelope::new(from, ToReplica::AlsoRecovering { recovery }));
            }
            ToReplica::StateReply { recovery, entries } => {
                effects.persist = self.on_state_reply(from, recovery, entries);
            }
            ToReplica::AlsoRecovering { recovery } => {
                effects.persist = self.on_also_recovering(from, recovery);
            }
            // Not ready: a recovering replica must stay out of every quorum.
            ToReplica::ReadQuery { .. }
            | ToReplica::TagQuery { .. }
            | ToReplica::Update { .. }
            | ToReplica::KeysQuery { .. }
            | ToReplica::StateRequest { .. } => {}
        }
        effects
    }

    /// Whether an answer from `from` to recovery run `incarnation` counts:
    /// one to an earlier run's request may predate updates this replica
    /// acknowledged since, so only this run's replies from other members do.
    fn counts_answer(&self, from: NodeId, incarnation: Incarnation) -> bool {
        self.recovery.as_ref().is_some_and(|recovery| {
            !recovery.persisting
                && recovery.incarnation == incarnation
                && from != self.id
                && self.group.contains(from)
        })
    }

    fn on_state_reply(
        &mut self,
        from: NodeId,
        incarnation: Incarnation,
        entries: Vec<(Key, Versioned)>,
    ) -> Option<PendingWrites> {
        if !self.counts_answer(from, incarnation) {
            return None;
        }
        let recovery = self.recovery.as_mut()?;
        if !recovery.answered.insert(from) {
            return None;
        }
        recovery.also_recovering.remove(&from);
        for (key, versioned) in entries {
            let stale =
                matches!(recovery.merged.get(&key), Some(held) if held.tag >= versioned.tag);
            if !stale {
                recovery.merged.insert(key, versioned);
            }
        }
        self.complete_if_enough()
    }

    fn on_also_recovering(
        &mut self,
        from: NodeId,
        incarnation: Incarnation,
    ) -> Option<PendingWrites> {
        if !self.counts_answer(from, incarnation) {
            return None;
        }
        let recovery = self.recovery.as_mut()?;
        if recovery.answered.contains(&from) {
            return None;
        }
        recovery.also_recovering.insert(from);
        self.complete_if_enough()
    }

    /// Ends the recovery once a recovery quorum sent its state, or, for a
    /// discovering replica, once every other replica answered one way or
    /// the other.
    fn complete_if_enough(&mut self) -> Option<PendingWrites> {
        let needed = self.group.recovery_quorum();
        let others = self.group.size() - 1;
        let recovery = self.recovery.as_mut()?;
        let quorum = recovery.answered.len() >= needed;
        let everyone = recovery.may_complete_from_all
            && recovery.answered.len() + recovery.also_recovering.len() >= others;
        if !quorum && !everyone {
            return None;
        }
        recovery.persisting = true;
        Some(PendingWrites {
            entries: std::mem::take(&mut recovery.merged).into_iter().collect(),
            after: Vec::new(),
            completes_recovery: Some(recovery.incarnation),
        })
    }

    /// Applies a commit: its entries become visible and its acknowledgements
    /// can go out.
    pub fn on_durable(&mut self, durable: Durable) -> Vec<Envelope> {
        let Durable(writes) = durable;
        for (key, versioned) in writes.entries {
            let stale = matches!(self.entries.get(&key), Some(held) if held.tag >= versioned.tag);
            if !stale {
                self.entries.insert(key, versioned);
            }
        }
        let finished = matches!(
            (&self.recovery, writes.completes_recovery),
            (Some(recovery), Some(incarnation))
                if recovery.persisting && recovery.incarnation == incarnation
        );
        if finished {
            self.recovery = None;
        }
        writes.after
    }

    /// Handles a message and persists what it needs before returning what to
    /// send: for an I/O layer that commits each update on its own, and for
    /// tests and benchmarks that run the protocol in one process.
    pub fn handle<S: Store>(
        &mut self,
        from: NodeId,
        msg: ToReplica,
        store: &mut S,
    ) -> Result<Vec<Envelope>, S::Error> {
        let ReplicaEffects { mut send, persist } = self.on_message(from, msg);
        if let Some(writes) = persist {
            let durable = writes.commit(store)?;
            send.extend(self.on_durable(durable));
        }
        Ok(send)
    }

    /// Repeats state requests to the replicas that have not answered, every
    /// `retransmit_after`. `now` is any monotonic clock the I/O layer keeps.
    pub fn tick(&mut self, now: Duration) -> Vec<Envelope> {
        let Some(recovery) = self.recovery.as_mut() else {
            return Vec::new();
        };
        if recovery.persisting {
            return Vec::new();
        }
        match recovery.resend_at {
            Some(at) if now >= at => {}
            Some(_) => return Vec::new(),
            // The first tick after the requests went out starts the clock.
            None => {
                recovery.resend_at = Some(now.saturating_add(recovery.retransmit_after));
                return Vec::new();
            }
        }
        recovery.resend_at = Some(now.saturating_add(recovery.retransmit_after));
        self.state_requests()
    }

    fn state_requests(&self) -> Vec<Envelope> {
        let Some(recovery) = &self.recovery else {
            return Vec::new();
        };
        self.group
            .members()
            .filter(|&peer| peer != self.id && !recovery.answered.contains(&peer))
            .map(|peer| {
                Envelope::new(
                    peer,
                    ToReplica::StateRequest {
                        recovery: recovery.incarnation,
                    },
                )
            })
            .collect()
    }
}
