use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies a node of the cluster. Ids come from configuration and must be
/// unique; when two nodes dial each other at once, the connection dialled by
/// the lower id is the one both keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u64> for NodeId {
    fn from(id: u64) -> Self {
        Self(id)
    }
}
