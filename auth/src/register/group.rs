//! The fixed set of replicas and the size of its quorums.

use std::collections::BTreeSet;

use super::tag::NodeId;

/// Why a replica group or a replica could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("a replica group needs at least one member")]
    Empty,
    #[error("{0} is not a member of the replica group")]
    NotAMember(NodeId),
    #[error("a single replica cannot recover a lost disk: there is no other replica to copy from")]
    CannotRecoverAlone,
}

/// The replicas of the register: every key is replicated on all of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaGroup {
    members: BTreeSet<NodeId>,
}

impl ReplicaGroup {
    pub fn new(members: impl IntoIterator<Item = NodeId>) -> Result<Self, GroupError> {
        let members: BTreeSet<NodeId> = members.into_iter().collect();
        if members.is_empty() {
            return Err(GroupError::Empty);
        }
        Ok(Self { members })
    }

    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.members.iter().copied()
    }

    pub fn contains(&self, node: NodeId) -> bool {
        self.members.contains(&node)
    }

    /// The number of replicas, n.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// ⌊n/2⌋+1: any two quorums share at least one replica.
    pub fn quorum(&self) -> usize {
        self.members.len() / 2 + 1
    }

    /// How many *other* replicas a replica that lost its disk must copy from:
    /// n − quorum + 1. A value that completed is on some quorum; without the
    /// recovering replica that quorum still has at least quorum − 1 members
    /// among the n − 1 others, so any n − quorum + 1 of the others include
    /// one of them. For odd n this is a quorum; for n = 2 it is the other one.
    pub fn recovery_quorum(&self) -> usize {
        self.members.len() - self.quorum() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_strict_majority() {
        let sizes = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)];
        for (n, q) in sizes {
            let group = ReplicaGroup::new((0..n).map(NodeId)).unwrap();
            assert_eq!(group.quorum(), q, "n = {n}");
        }
    }

    #[test]
    fn recovery_reaches_every_quorum_without_the_recovering_replica() {
        let sizes = [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)];
        for (n, r) in sizes {
            let group = ReplicaGroup::new((0..n).map(NodeId)).unwrap();
            assert_eq!(group.recovery_quorum(), r, "n = {n}");
        }
    }

    #[test]
    fn empty_group_is_rejected() {
        assert_eq!(ReplicaGroup::new([]), Err(GroupError::Empty));
    }
}
