use std::time::Duration;

use crate::transport::TransportError;

use super::StoreError;

/// Why the placement service could not start or do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("the placement group needs at least one voter")]
    NoVoters,
    #[error("invalid placement configuration: {0}")]
    Config(String),
    #[error("placement store: {0}")]
    Store(#[from] StoreError),
    #[error("placement transport: {0}")]
    Transport(#[from] TransportError),
    /// Raft refused to start or to form the group (a storage fault, usually).
    #[error("placement raft: {0}")]
    Raft(String),
    #[error("the placement service has stopped")]
    Stopped,
    /// No leader committed the command in time, or it committed but this
    /// node's replica did not apply it in time. Commands are idempotent, so
    /// the caller may simply retry.
    #[error("placement did not complete within {0:?}")]
    Timeout(Duration),
}
