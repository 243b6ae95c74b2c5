//! What travels on the Placement topic. Every message is a request
//! (`Transport::request`); each kind has its own reply type.

use openraft::error::{Fatal, InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use super::types::{RaftId, TypeConfig};
use super::{Applied, Command, RegionKey};
use crate::transport::NodeId;

/// A request on the Placement topic.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum PlacementRequest {
    /// Raft replication and heartbeats; replied with `AppendEntriesReply`.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft elections; replied with `VoteReply`.
    Vote(VoteRequest<RaftId>),
    /// One chunk of a snapshot; replied with `InstallSnapshotReply`.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Commit a command, if the receiver leads; replied with `ProposeReply`.
    Propose(Command),
    /// Add the sender (the envelope's authenticated `from`, so a node can
    /// only enrol itself) as a learner; replied with `JoinReply`.
    AddLearner,
    /// Renew the sender's lease on its regions, if the receiver leads;
    /// replied with `LeaseReply`.
    RenewLease,
    /// From the leader: stop `region` (owned under `epoch`) for good, save
    /// it, and confirm, so it can move to `to`; replied with `bool`, whether
    /// the region is stopped and saved.
    Release {
        region: RegionKey,
        epoch: u64,
        to: NodeId,
    },
}

// A Raft handler's only failure is that Raft has stopped (`Fatal`); the
// infallible API error of `RaftError<_>` has no serde form, so the fatal
// error alone is sent.
pub(crate) type AppendEntriesReply = Result<AppendEntriesResponse<RaftId>, Fatal<RaftId>>;
pub(crate) type VoteReply = Result<VoteResponse<RaftId>, Fatal<RaftId>>;
pub(crate) type InstallSnapshotReply =
    Result<InstallSnapshotResponse<RaftId>, RaftError<RaftId, InstallSnapshotError>>;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ProposeReply {
    /// Committed and applied by the leader as log entry `index`.
    Committed { index: u64, applied: Applied },
    /// Not done here: try `leader` if given, or later.
    Retry { leader: Option<RaftId> },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum JoinReply {
    /// The sender is in the group's membership (now or already).
    Added,
    /// Not done here: try `leader` if given, or later.
    Retry { leader: Option<RaftId> },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum LeaseReply {
    /// Leased from when the request was sent, for the configured lease, once
    /// the sender's replica has applied log entry `as_of`, on every region
    /// but those `except`ed (they are moving away).
    Granted {
        as_of: Option<u64>,
        except: Vec<RegionKey>,
    },
    /// The sender's regions are being reassigned: no lease.
    Fenced,
    /// Not done here: try `leader` if given, or later.
    Retry { leader: Option<RaftId> },
}
