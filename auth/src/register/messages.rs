//! What coordinators and replicas say to each other. Every message is
//! idempotent: the network may drop, duplicate and reorder them, and both
//! sides retransmit.

use serde::{Deserialize, Serialize};

use super::tag::{Incarnation, Key, NodeId, Tag, Versioned, WriterId};

/// One read or write of one coordinator. Replies echo it, so the coordinator
/// can drop replies to operations (or runs of itself) that are over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId {
    pub coordinator: WriterId,
    pub seq: u64,
}

/// Messages a replica handles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ToReplica {
    /// Phase 1 of a read: "what do you hold for `key`?"
    ReadQuery { op: OpId, key: Key },
    /// Phase 1 of a write: "what tag do you hold for `key`?" The value is not
    /// sent back, as a writer only needs the tag.
    TagQuery { op: OpId, key: Key },
    /// Phase 2 of a write, or a read's write-back: "store this unless you hold
    /// a newer tag".
    Update {
        op: OpId,
        key: Key,
        versioned: Versioned,
    },
    /// "Which keys starting with `prefix` do you hold, under which tags?"
    /// For listing keys, which ABD itself cannot do (see
    /// [`Coordinator::keys`](super::Coordinator::keys)).
    KeysQuery { op: OpId, prefix: Key },
    /// From a replica recovering a lost disk: "send me everything you hold".
    StateRequest { recovery: Incarnation },
    /// The answer to a [`ToReplica::StateRequest`].
    StateReply {
        recovery: Incarnation,
        entries: Vec<(Key, Versioned)>,
    },
    /// The answer to a [`ToReplica::StateRequest`] from a replica that is
    /// recovering too: it holds nothing it may vouch for.
    AlsoRecovering { recovery: Incarnation },
}

/// Messages a coordinator handles: the replicas' answers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ToCoordinator {
    ReadReply {
        op: OpId,
        versioned: Versioned,
    },
    TagReply {
        op: OpId,
        tag: Tag,
    },
    /// The replica holds the update's tag, or a newer one, durably.
    UpdateAck {
        op: OpId,
    },
    /// Every key under the query's prefix the replica holds durably, deleted
    /// ones included: a deletion's tag must outrank an older value held
    /// elsewhere.
    KeysReply {
        op: OpId,
        held: Vec<(Key, Held)>,
    },
}

/// What a replica holds for a key, without the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Held {
    pub tag: Tag,
    /// False for a deleted key.
    pub present: bool,
}

/// One frame between nodes: a node hands `ToReplica` to its replica and
/// `ToCoordinator` to its coordinator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Message {
    ToReplica(ToReplica),
    ToCoordinator(ToCoordinator),
}

impl From<ToReplica> for Message {
    fn from(msg: ToReplica) -> Self {
        Message::ToReplica(msg)
    }
}

impl From<ToCoordinator> for Message {
    fn from(msg: ToCoordinator) -> Self {
        Message::ToCoordinator(msg)
    }
}

/// A message to send, and to whom.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    pub to: NodeId,
    pub msg: Message,
}

impl Envelope {
    pub fn new(to: NodeId, msg: impl Into<Message>) -> Self {
        Self {
            to,
            msg: msg.into(),
        }
    }
}
