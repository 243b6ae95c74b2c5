//! Identities and the version tags that order a register's values.

use serde::{Deserialize, Serialize};

/// The key of one register. Keys are namespaced strings such as `user:<name>`.
pub type Key = String;

/// The content of one register; `None` means never written, or deleted.
pub type Value = Option<Vec<u8>>;

/// A node of the cluster: the transport's id, so a replica's peer is the
/// node a message came from, with no conversion between two kinds of id.
pub use tessera_cluster::NodeId;

/// Distinguishes the successive runs of one node's process.
///
/// It must differ on every start of the process (a counter bumped in a local
/// file, or the wall clock at start-up in microseconds). Coordinators put it
/// in their operation ids and write tags, so that a restarted coordinator can
/// neither mistake a reply meant for its previous run for one of its own nor
/// reuse a tag its previous run already gave to a different value. A replica
/// recovering from a lost disk puts it in its state requests for the same
/// reason.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Incarnation(pub u64);

/// Who wrote a value: one run of one node's coordinator.
///
/// The node alone is not enough: a coordinator that restarts while one of its
/// writes sits on a minority of replicas would compute the same next
/// timestamp again and give the same tag to a different value, and replicas
/// (and the read fast path) treat equal tags as equal values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WriterId {
    pub node: NodeId,
    pub incarnation: Incarnation,
}

/// Nobody: the writer of a register nobody has written (`Tag::ZERO`).
impl Default for WriterId {
    fn default() -> Self {
        Tag::ZERO.writer
    }
}

/// The version of a register's value: ordered by timestamp, then writer.
///
/// Field order matters: the derived `Ord` is the lexicographic order ABD needs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Tag {
    pub timestamp: u64,
    pub writer: WriterId,
}

impl Tag {
    /// The tag of a register nobody has written: every write's tag is above it,
    /// because writes use timestamps from 1 up.
    pub const ZERO: Tag = Tag {
        timestamp: 0,
        writer: WriterId {
            node: NodeId(0),
            incarnation: Incarnation(0),
        },
    };

    /// The tag a write by `writer` takes after seeing `self` as the highest,
    /// with a timestamp above `floor` too: the highest the writer used.
    pub fn successor(self, writer: WriterId, floor: u64) -> Tag {
        Tag {
            timestamp: self.timestamp.max(floor).saturating_add(1),
            writer,
        }
    }
}

/// A value together with the tag it was written under.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Versioned {
    pub tag: Tag,
    pub value: Value,
}

impl Versioned {
    /// What a replica holds for a key it has never stored.
    pub const ABSENT: Versioned = Versioned {
        tag: Tag::ZERO,
        value: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(node: u64, incarnation: u64) -> WriterId {
        WriterId {
            node: NodeId(node),
            incarnation: Incarnation(incarnation),
        }
    }

    #[test]
    fn tags_order_by_timestamp_then_writer() {
        let low = Tag {
            timestamp: 1,
            writer: writer(9, 9),
        };
        let high = Tag {
            timestamp: 2,
            writer: writer(1, 1),
        };
        assert!(low < high);
        assert!(high.successor(writer(1, 1), 0) > high);
        assert_eq!(high.successor(writer(1, 1), 7).timestamp, 8);
        assert!(Tag::successor(Tag::ZERO, writer(0, 0), 0) > Tag::ZERO);
        let same_ts_lower_node = Tag {
            timestamp: 2,
            writer: writer(0, 5),
        };
        assert!(same_ts_lower_node < high);
        let same_node_later_run = Tag {
            timestamp: 2,
            writer: writer(1, 2),
        };
        assert!(high < same_node_later_run);
    }
}
