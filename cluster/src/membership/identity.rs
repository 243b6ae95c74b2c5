//! Who a member is, as foca sees it: a node id alone is not enough, because
//! SWIM never lets an identity that was declared Down come back. Each run of a
//! node's process is therefore a new identity (a new `generation`), and a run
//! that was wrongly declared Down (a partition, a long pause) rejoins under a
//! renewed one (`rejoins` + 1). Both always beat the identity they replace.

use std::cmp::Ordering;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::transport::NodeId;

/// One life of a node in the cluster, as carried in foca's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeIdentity {
    pub(crate) node: NodeId,
    /// Where the node's transport accepts connections.
    pub(crate) addr: SocketAddr,
    /// When this run of the process started (microseconds since the Unix
    /// epoch), so a restarted node outranks its previous run without keeping
    /// any state on disk.
    pub(crate) generation: u64,
    /// How often this run rejoined after the cluster declared it Down.
    pub(crate) rejoins: u32,
}

impl NodeIdentity {
    /// The identity of a process starting now.
    pub(crate) fn starting_now(node: NodeId, addr: SocketAddr) -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
            });
        Self {
            node,
            addr,
            // Generation 0 is left to `seed`.
            generation: micros.max(1),
            rejoins: 0,
        }
    }

    /// Stands for a seed whose real identity is not known yet. Foca accepts an
    /// `Announce` addressed to any identity with its node id and answers from
    /// its real one, so this is only ever a destination, never a member.
    pub(crate) fn seed(node: NodeId, addr: SocketAddr) -> Self {
        Self {
            node,
            addr,
            generation: 0,
            rejoins: 0,
        }
    }

    /// Orders the identities of one node: the later run wins, then the later
    /// rejoin; the address only breaks ties between two processes wrongly
    /// started with the same id, so that every member picks the same one.
    fn rank(&self, other: &Self) -> Ordering {
        (self.generation, self.rejoins, self.addr).cmp(&(
            other.generation,
            other.rejoins,
            other.addr,
        ))
    }
}

impl foca::Identity for NodeIdentity {
    /// Foca keeps one identity per node id, and replaces it with the winner
    /// of `win_addr_conflict` when another life of the node shows up.
    type Addr = NodeId;

    fn renew(&self) -> Option<Self> {
        // Going Defunct after four billion rejoins is acceptable.
        let rejoins = self.rejoins.checked_add(1)?;
        Some(Self { rejoins, ..*self })
    }

    fn addr(&self) -> NodeId {
        self.node
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.rank(adversary) == Ordering::Greater
    }
}

#[cfg(test)]
mod tests {
    use foca::Identity;

    use super::*;

    fn at(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_restart_beats_every_rejoin_of_the_previous_run() {
        let old = NodeIdentity::starting_now(NodeId(3), at(1));
        let rejoined = old.renew().unwrap().renew().unwrap();
        let restarted = NodeIdentity {
            generation: old.generation + 1,
            ..NodeIdentity::starting_now(NodeId(3), at(2))
        };
        assert!(rejoined.win_addr_conflict(&old));
        assert!(!old.win_addr_conflict(&rejoined));
        assert!(restarted.win_addr_conflict(&rejoined));
        assert!(!rejoined.win_addr_conflict(&restarted));
        assert_eq!(restarted.addr(), NodeId(3));
    }

    #[test]
    fn a_tie_is_broken_the_same_way_on_every_member() {
        let a = NodeIdentity {
            addr: at(1),
            ..NodeIdentity::seed(NodeId(1), at(1))
        };
        let b = NodeIdentity { addr: at(2), ..a };
        assert!(b.win_addr_conflict(&a) ^ a.win_addr_conflict(&b));
        assert!(!a.win_addr_conflict(&a));
    }

    #[test]
    fn a_seed_stand_in_loses_to_any_real_identity() {
        let real = NodeIdentity::starting_now(NodeId(1), at(1));
        assert!(real.win_addr_conflict(&NodeIdentity::seed(NodeId(1), at(1))));
    }
}
