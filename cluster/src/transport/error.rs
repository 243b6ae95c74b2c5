use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::{NodeId, Topic};

/// Why the transport could not take a message (or start).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("node {0} is not a known peer")]
    UnknownPeer(NodeId),
    /// The peer's send queue for the message's topic (control or bulk) is
    /// full: the peer is slow or unreachable. The message was not queued; the
    /// caller decides whether to drop or retry it.
    #[error("the send queue to node {0} is full")]
    Backpressure(NodeId),
    #[error("a message body of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("topic {0:?} already has a subscriber")]
    AlreadySubscribed(Topic),
    #[error("only a request can be replied to")]
    NotARequest,
    #[error("the transport has shut down")]
    Shutdown,
    #[error("cannot encode a message: {0}")]
    Encode(postcard::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("invalid transport configuration: {0}")]
    InvalidConfig(&'static str),
}

/// Why a request got no reply. Callers retry on `Timeout` and
/// `PeerUnreachable`: cross-node commands carry ids that make repeats harmless.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("no reply from node {to} within {after:?}")]
    Timeout { to: NodeId, after: Duration },
    /// The peer is unknown, or was removed while the request was outstanding
    /// (it may or may not have been handled).
    #[error("node {0} is unreachable")]
    PeerUnreachable(NodeId),
    #[error("node {from} failed the request: {message}")]
    Remote { from: NodeId, message: String },
    #[error(transparent)]
    Send(TransportError),
}

impl From<TransportError> for RpcError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::UnknownPeer(peer) => Self::PeerUnreachable(peer),
            other => Self::Send(other),
        }
    }
}
