//! Why an operation or a start failed.

use std::time::Duration;

use tessera_cluster::transport::TransportError;

use crate::register::GroupError;

/// Why a read or write did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Fewer than a quorum of the replica group answered in time (replicas
    /// down, partitioned away or still recovering). A write may or may not
    /// have taken effect; retrying it is harmless.
    #[error("no quorum of the register's replicas answered within {0:?}")]
    NoQuorum(Duration),
    /// The node was shut down before the operation completed.
    #[error("the register node has stopped")]
    Stopped,
}

/// Why a register node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error("cannot open the register store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot receive register messages: {0}")]
    Transport(#[from] TransportError),
}
