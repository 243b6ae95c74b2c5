//! The Raft type configuration of the placement group.
//!
//! Log entries carry the table's own `Command`s and responses are its
//! `Applied`, so the replicated log is exactly the table's input. Nodes are
//! `EmptyNode`: the transport already knows every peer's address, so Raft's
//! membership only needs ids.

use std::io::Cursor;

use openraft::EmptyNode;

use super::{Applied, Command};

openraft::declare_raft_types!(
    /// The placement group's Raft types.
    pub(crate) TypeConfig:
        D = Command,
        R = Applied,
        NodeId = u64,
        Node = EmptyNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

pub(crate) type RaftId = u64;
pub(crate) type Raft = openraft::Raft<TypeConfig>;
pub(crate) type Entry = openraft::Entry<TypeConfig>;
pub(crate) type LogId = openraft::LogId<RaftId>;
pub(crate) type Vote = openraft::Vote<RaftId>;
pub(crate) type StoredMembership = openraft::StoredMembership<RaftId, EmptyNode>;
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<RaftId, EmptyNode>;
pub(crate) type Snapshot = openraft::Snapshot<TypeConfig>;
pub(crate) type StorageError = openraft::StorageError<RaftId>;
