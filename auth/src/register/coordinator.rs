//! The client side of the register: runs reads and writes against the
//! replicas, many at once, each in at most two phases.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::group::ReplicaGroup;
use super::messages::{Envelope, Held, OpId, ToCoordinator, ToReplica};
use super::tag::{Key, NodeId, Tag, Value, Versioned, WriterId};

/// Runs one node's register operations. Any node may have one, replica or not.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Coordinator {
    writer: WriterId,
    group: ReplicaGroup,
    retransmit_after: Duration,
    next_seq: u64,
    ops: BTreeMap<u64, Operation>,
    /// The highest timestamp this run has put in a tag. Two writes of one
    /// key in flight at once can see the same highest tag; without this
    /// floor both would take its successor, one tag for two values, and
    /// replicas (which keep the first value of a tag) could end up holding
    /// different values that reads cannot tell apart.
    last_timestamp: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Operation {
    key: Key,
    phase: Phase,
    /// When to repeat the phase's message to the replicas that have not
    /// answered; `None` until the first tick of the phase.
    resend_at: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Phase {
    /// A read's query: the highest (tag, value) seen, and which replicas
    /// reported exactly that tag.
    ReadQuery {
        replied: BTreeSet<NodeId>,
        highest: Versioned,
        holders: BTreeSet<NodeId>,
    },
    /// A write's query: the highest tag seen.
    TagQuery {
        value: Value,
        replied: BTreeSet<NodeId>,
        highest: Tag,
    },
    /// A listing: per key under the prefix, the highest tag seen.
    Keys {
        replied: BTreeSet<NodeId>,
        merged: BTreeMap<Key, Held>,
    },
    /// A write's update, or a read's write-back.
    Update {
        purpose: Purpose,
        versioned: Versioned,
        acked: BTreeSet<NodeId>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Purpose {
    Read,
    Write,
}

/// What came of handling a reply.
#[must_use = "messages must be sent and completions reported"]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    pub send: Vec<Envelope>,
    pub completed: Vec<Completion>,
}

/// An operation that finished; its id was returned when it started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub op: OpId,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The register's value; its tag is `Tag::ZERO` if nobody wrote it.
    Read(Versioned),
    /// The write took effect under this tag.
    Written(Tag),
    /// The keys under the prefix that hold a value, in order.
    Keys(Vec<Key>),
}

impl Coordinator {
    /// `writer` must be unique to this run of this node (see
    /// [`Incarnation`](super::tag::Incarnation)); `retransmit_after` is how
    /// long a phase waits before repeating itself to silent replicas.
    pub fn new(writer: WriterId, group: ReplicaGroup, retransmit_after: Duration) -> Self {
        Self {
            writer,
            group,
            retransmit_after,
            next_seq: 0,
            ops: BTreeMap::new(),
            last_timestamp: 0,
        }
    }

    pub fn writer(&self) -> WriterId {
        self.writer
    }

    /// Starts a read; its completion carries the value.
    pub fn read(&mut self, key: impl Into<Key>) -> (OpId, Vec<Envelope>) {
        self.start(
            key.into(),
            Phase::ReadQuery {
                replied: BTreeSet::new(),
                highest: Versioned::ABSENT,
                holders: BTreeSet::new(),
            },
        )
    }

    /// Starts a write; `None` deletes.
    pub fn write(&mut self, key: impl Into<Key>, value: Value) -> (OpId, Vec<Envelope>) {
        self.start(
            key.into(),
            Phase::TagQuery {
                value,
                replied: BTreeSet::new(),
                highest: Tag::ZERO,
            },
        )
    }

    /// Starts a listing of the keys under `prefix` that hold a value.
    ///
    /// ABD has no enumeration, so this is one extra query: every replica of
    /// a quorum reports the tags it holds under the prefix, and a key is
    /// listed when the highest tag seen for it carries a value. Every write
    /// (or deletion) that completed before the listing began is durable on
    /// a quorum, and any two quorums share a replica, so the listing sees
    /// its tag or a newer one: it reflects all completed writes. Writes in
    /// flight may or may not show, and unlike a read there is no write-back,
    /// so two overlapping listings may disagree about those: a regular, not
    /// atomic, view, enough for counting and exporting. Each reply carries
    /// every key under the prefix in one message, so on the network a
    /// listing is bounded by the transport's frame size (16 MiB by default:
    /// some 400,000 keys of a user name and a tag), as a recovery's state
    /// transfer is.
    pub fn keys(&mut self, prefix: impl Into<Key>) -> (OpId, Vec<Envelope>) {
        self.start(
            prefix.into(),
            Phase::Keys {
                replied: BTreeSet::new(),
                merged: BTreeMap::new(),
            },
        )
    }

    fn start(&mut self, key: Key, phase: Phase) -> (OpId, Vec<Envelope>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let op = Operation {
            key,
            phase,
            resend_at: None,
        };
        let id = self.op_id(seq);
        let send = self.phase_messages(id, &op);
        self.ops.insert(seq, op);
        (id, send)
    }

    /// Forgets an operation, for a caller that gave up waiting. A write may
    /// or may not take effect, as with any write whose reply was lost.
    pub fn cancel(&mut self, op: OpId) -> bool {
        op.coordinator == self.writer && self.ops.remove(&op.seq).is_some()
    }

    /// How many operations have not completed.
    pub fn in_flight(&self) -> usize {
        self.ops.len()
    }

    pub fn on_message(&mut self, from: NodeId, msg: ToCoordinator) -> Outbox {
        let op_id = match &msg {
            ToCoordinator::ReadReply { op, .. }
            | ToCoordinator::TagReply { op, .. }
            | ToCoordinator::UpdateAck { op }
            | ToCoordinator::KeysReply { op, .. } => *op,
        };
        // Replies to another run of this node, to a finished operation, or
        // from a node that is not a replica count for nothing.
        if op_id.coordinator != self.writer || !self.group.contains(from) {
            return Outbox::default();
        }
        let Some(op) = self.ops.get_mut(&op_id.seq) else {
            return Outbox::default();
        };
        let quorum = self.group.quorum();
        let advanced = match (&mut op.phase, msg) {
            (
                Phase::ReadQuery {
                    replied,
                    highest,
                    holders,
                },
                ToCoordinator::ReadReply { versioned, .. },
            ) => {
                if replied.insert(from) {
                    if versioned.tag > highest.tag {
                        *highest = versioned;
                        holders.clear();
                        holders.insert(from);
                    } else if versioned.tag == highest.tag {
                        holders.insert(from);
                    }
                }
                replied.len() >= quorum
            }
            (
                Phase::TagQuery {
                    replied, highest, ..
                },
                ToCoordinator::TagReply { tag, .. },
            ) => {
                if replied.insert(from) {
                    *highest = (*highest).max(tag);
                }
                replied.len() >= quorum
            }
            (Phase::Keys { replied, merged }, ToCoordinator::KeysReply { held, .. }) => {
                if replied.insert(from) {
                    for (key, held) in held {
                        let newer = merged.get(&key).is_none_or(|seen| held.tag > seen.tag);
                        if newer {
                            merged.insert(key, held);
                        }
                    }
                }
                replied.len() >= quorum
            }
            (Phase::Update { acked, .. }, ToCoordinator::UpdateAck { .. }) => {
                acked.insert(from);
                acked.len() >= quorum
            }
            // A reply to a phase this operation has left.
            _ => false,
        };
        if !advanced {
            return Outbox::default();
        }
        self.advance(op_id)
    }

    /// Moves an operation whose phase has a quorum to its next phase, or
    /// completes it.
    fn advance(&mut self, id: OpId) -> Outbox {
        let Some(mut op) = self.ops.remove(&id.seq) else {
            return Outbox::default();
        };
        let quorum = self.group.quorum();
        let next = match op.phase {
            // The value is already durable on a quorum, which is all a
            // write-back would achieve: any later read's quorum meets this
            // one, and replicas never lower a durable tag, so it sees this
            // tag or a newer one. Equal tags mean equal values because a tag
            // names one write of one coordinator run.
            Phase::ReadQuery {
                highest, holders, ..
            } if holders.len() >= quorum => {
                return completed(id, Outcome::Read(highest));
            }
            Phase::ReadQuery {
                highest, holders, ..
            } => Phase::Update {
                purpose: Purpose::Read,
                versioned: highest,
                // Replicas that reported the tag hold it durably already.
                acked: holders,
            },
            Phase::TagQuery { value, highest, .. } => {
                let tag = highest.successor(self.writer, self.last_timestamp);
                self.last_timestamp = tag.timestamp;
                Phase::Update {
                    purpose: Purpose::Write,
                    versioned: Versioned { tag, value },
                    acked: BTreeSet::new(),
                }
            }
            Phase::Keys { merged, .. } => {
                let present = merged
                    .into_iter()
                    .filter(|(_, held)| held.present)
                    .map(|(key, _)| key)
                    .collect();
                return completed(id, Outcome::Keys(present));
            }
            Phase::Update {
                purpose: Purpose::Read,
                versioned,
                ..
            } => return completed(id, Outcome::Read(versioned)),
            Phase::Update {
                purpose: Purpose::Write,
                versioned,
                ..
            } => return completed(id, Outcome::Written(versioned.tag)),
        };
        op.phase = next;
        op.resend_at = None;
        let send = self.phase_messages(id, &op);
        self.ops.insert(id.seq, op);
        Outbox {
            send,
            completed: Vec::new(),
        }
    }

    /// Repeats each operation's current phase to the replicas that have not
    /// answered it, once every `retransmit_after`. `now` is any monotonic
    /// clock the I/O layer keeps.
    pub fn tick(&mut self, now: Duration) -> Vec<Envelope> {
        let mut due = Vec::new();
        for (&seq, op) in &mut self.ops {
            match op.resend_at {
                Some(at) if now >= at => due.push(seq),
                Some(_) => continue,
                // The first tick of a phase starts its clock: the phase's
                // messages went out when it began.
                None => {}
            }
            op.resend_at = Some(now.saturating_add(self.retransmit_after));
        }
        let mut send = Vec::new();
        for seq in due {
            if let Some(op) = self.ops.get(&seq) {
                send.extend(self.phase_messages(self.op_id(seq), op));
            }
        }
        send
    }

    fn op_id(&self, seq: u64) -> OpId {
        OpId {
            coordinator: self.writer,
            seq,
        }
    }

    /// The current phase's message to every replica that has not answered it.
    fn phase_messages(&self, id: OpId, op: &Operation) -> Vec<Envelope> {
        let (answered, msg) = match &op.phase {
            Phase::ReadQuery { replied, .. } => (
                replied,
                ToReplica::ReadQuery {
                    op: id,
                    key: op.key.clone(),
                },
            ),
            Phase::TagQuery { replied, .. } => (
                replied,
                ToReplica::TagQuery {
                    op: id,
                    key: op.key.clone(),
                },
            ),
            Phase::Keys { replied, .. } => (
                replied,
                ToReplica::KeysQuery {
                    op: id,
                    prefix: op.key.clone(),
                },
            ),
            Phase::Update {
                versioned, acked, ..
            } => (
                acked,
                ToReplica::Update {
                    op: id,
                    key: op.key.clone(),
                    versioned: versioned.clone(),
                },
            ),
        };
        self.group
            .members()
            .filter(|member| !answered.contains(member))
            .map(|member| Envelope::new(member, msg.clone()))
            .collect()
    }
}

fn completed(op: OpId, outcome: Outcome) -> Outbox {
    Outbox {
        send: Vec::new(),
        completed: vec![Completion { op, outcome }],
    }
}
