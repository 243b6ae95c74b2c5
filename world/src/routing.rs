//! How messages find regions and sessions wherever they live: placement
//! says which node owns a region; links carry messages to other nodes.

use std::fmt;

use crate::coords::RegionPos;
use crate::messages::{NodeBatch, NodeId, RegionMsg, SessionAddr, ToSession};

/// Which node owns each region. An owner is fenced by its epoch: data a
/// region writes under an older epoch must be refused.
pub trait Placement: Send + Sync + 'static {
    /// The owner of `region`, or `None` while it is not decided yet.
    fn owner(&self, region: RegionPos) -> Option<Ownership>;

    /// The epoch under which this node may run `region` right now: it owns
    /// it, and no other node may run it at the same time (in a cluster, it
    /// holds a lease on its ownership). `None`: the region must neither
    /// tick nor change, even if `owner` names this node.
    fn tick_epoch(&self, region: RegionPos) -> Option<u64>;

    /// Asks for an owner to be chosen for `region`; the world is told
    /// through `World::placement_changed` once there is one.
    fn request(&self, _region: RegionPos) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    pub node: NodeId,
    pub epoch: u64,
}

/// Sending to other nodes. Implementations serialise and never block: a
/// message that cannot be queued is reported, so the caller may retry.
pub trait RemoteLinks: Send + Sync + 'static {
    fn to_region(&self, node: NodeId, region: RegionPos, msg: RegionMsg)
        -> Result<(), Undelivered>;
    fn to_session(&self, addr: SessionAddr, msg: ToSession) -> Result<(), Undelivered>;
    fn batch(&self, node: NodeId, batch: NodeBatch) -> Result<(), Undelivered>;
}

/// Why a message did not leave this node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undelivered {
    #[error("no route to node {0}")]
    NoRoute(NodeId),
    #[error("the link to node {0} is congested")]
    Congested(NodeId),
    #[error("the recipient is gone")]
    Gone,
    #[error("the recipient's mailbox is full")]
    Full,
}

/// A region's owner changed from one node to another (`None`: no owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerChange {
    pub region: RegionPos,
    pub from: Option<NodeId>,
    pub to: Option<NodeId>,
}

/// Every region on this node: the placement of a server without a cluster.
pub struct SingleNode(pub NodeId);

impl Placement for SingleNode {
    fn owner(&self, _region: RegionPos) -> Option<Ownership> {
        Some(Ownership {
            node: self.0,
            epoch: 1,
        })
    }

    fn tick_epoch(&self, _region: RegionPos) -> Option<u64> {
        Some(1)
    }
}

impl fmt::Debug for dyn Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Placement")
    }
}
