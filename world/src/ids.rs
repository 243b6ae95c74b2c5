//! The ids everything in the world is addressed by: nodes, sessions and
//! where they live, and entities. They are plain numbers so that any message
//! can carry them across a node boundary; the feed, the players and the
//! messages all name things by them, so they sit below all three.

use serde::{Deserialize, Serialize};

/// Identifies a node of the cluster: the transport's id, so a session's
/// node is the node messages for it are sent to.
pub use tessera_cluster::NodeId;
/// Identifies one client connection on its node for as long as it lasts.
pub type SessionId = u64;
/// A protocol entity id; unique across the whole cluster.
pub type EntityId = i32;

/// Where a session lives: regions deliver what its client sees here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionAddr {
    pub node: NodeId,
    pub id: SessionId,
}
