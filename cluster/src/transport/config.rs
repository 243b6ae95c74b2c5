use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::cipher::TAG_LEN;
use super::envelope::ENVELOPE_OVERHEAD;
use super::frame::DEFAULT_MAX_FRAME_LEN;
use super::{ClusterSecret, NodeId, TransportError};

/// What a frame adds to a body at most: the envelope's header and the tag.
const FRAME_OVERHEAD: usize = ENVELOPE_OVERHEAD + TAG_LEN;

/// How a node's transport listens, whom it dials and its limits.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub node_id: NodeId,
    pub listen: SocketAddr,
    pub secret: ClusterSecret,
    /// Nodes to dial and keep connected. An entry for our own id is ignored,
    /// so every node can be given the same list.
    pub peers: HashMap<NodeId, SocketAddr>,
    /// Frames queued per peer on the bulk lane (game, login and actor
    /// topics) before `send` reports backpressure.
    pub queue_capacity: usize,
    /// Frames queued per peer on the control lane (membership, placement and
    /// register topics): a queue of its own, drained before the bulk one, so
    /// a burst of game traffic never fills it.
    pub control_queue_capacity: usize,
    /// Envelopes queued per topic subscriber before the connection's reader
    /// waits (which, in turn, fills the sender's queue).
    pub inbox_capacity: usize,
    /// The largest frame sent or accepted, tag included (see
    /// `DEFAULT_MAX_FRAME_LEN` for why the default is what it is).
    pub max_frame_len: usize,
    /// Connect plus authentication must finish within this.
    pub handshake_timeout: Duration,
    /// Inbound connections allowed in handshake at once, over the whole
    /// listener; one more is closed as soon as it is accepted. Anyone who can
    /// reach the port can open connections, and until a peer proves the
    /// secret this and `handshake_timeout` are all that bound what it costs.
    pub max_pending_handshakes: usize,
    /// An idle writer sends a heartbeat this often.
    pub heartbeat_interval: Duration,
    /// A connection that received nothing (not even a heartbeat) for this long
    /// is dropped and redialled: how fast a partition or a hung peer is noticed.
    pub idle_timeout: Duration,
    /// Reconnection delay after the first failure; it doubles up to the max.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
}

impl TransportConfig {
    /// A configuration with production defaults and no peers.
    pub fn new(node_id: NodeId, listen: SocketAddr, secret: ClusterSecret) -> Self {
        Self {
            node_id,
            listen,
            secret,
            peers: HashMap::new(),
            queue_capacity: 1024,
            control_queue_capacity: 1024,
            inbox_capacity: 1024,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            handshake_timeout: Duration::from_secs(5),
            max_pending_handshakes: 64,
            heartbeat_interval: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
        }
    }

    /// Timeouts for turmoil's simulated network, listening on `port` of
    /// every address: partitions are noticed within a second of simulated
    /// time. Every simulation in the workspace runs the transport with these.
    #[cfg(feature = "simulation")]
    pub fn simulated(node_id: NodeId, port: u16, secret: ClusterSecret) -> Self {
        let listen = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port));
        Self {
            handshake_timeout: Duration::from_secs(1),
            heartbeat_interval: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(1),
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(500),
            ..Self::new(node_id, listen, secret)
        }
    }

    pub(crate) fn validate(&self) -> Result<(), TransportError> {
        let invalid = TransportError::InvalidConfig;
        if self.queue_capacity == 0 || self.control_queue_capacity == 0 || self.inbox_capacity == 0
        {
            return Err(invalid("queue and inbox capacities must be at least 1"));
        }
        if self.max_pending_handshakes == 0 {
            return Err(invalid("max_pending_handshakes must be at least 1"));
        }
        if self.max_frame_len <= FRAME_OVERHEAD || self.max_frame_len > u32::MAX as usize {
            return Err(invalid(
                "max_frame_len must fit the u32 length prefix and an envelope",
            ));
        }
        if self.heartbeat_interval.is_zero() || self.idle_timeout <= self.heartbeat_interval {
            return Err(invalid(
                "heartbeat_interval must be positive and below idle_timeout",
            ));
        }
        if self.reconnect_min.is_zero() || self.reconnect_min > self.reconnect_max {
            return Err(invalid(
                "reconnect_min must be positive and at most reconnect_max",
            ));
        }
        Ok(())
    }

    /// The largest body `send` accepts: the frame cap less the envelope's
    /// header and the seal's tag.
    pub(crate) fn max_body_len(&self) -> usize {
        self.max_frame_len - FRAME_OVERHEAD
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::transport::{Envelope, Kind, Topic};

    fn config(max_frame_len: usize) -> TransportConfig {
        let secret = ClusterSecret::new("the right cluster secret").unwrap();
        let mut config = TransportConfig::new(NodeId(1), "127.0.0.1:0".parse().unwrap(), secret);
        config.max_frame_len = max_frame_len;
        config
    }

    #[test]
    fn the_largest_body_send_accepts_fits_a_sealed_frame() {
        let config = config(4096);
        config.validate().unwrap();
        let envelope = Envelope {
            from: NodeId(u64::MAX),
            topic: Topic::Frontend,
            kind: Kind::Failure(u64::MAX),
            body: Bytes::from(vec![0xA5; config.max_body_len()]),
        };
        let sealed_len = postcard::to_allocvec(&envelope).unwrap().len() + TAG_LEN;
        assert!(sealed_len <= config.max_frame_len, "{sealed_len}");
    }

    #[test]
    fn limits_that_cannot_work_are_refused() {
        assert!(config(FRAME_OVERHEAD).validate().is_err());
        assert!(config(FRAME_OVERHEAD + 1).validate().is_ok());
        let mut no_handshakes = config(DEFAULT_MAX_FRAME_LEN);
        no_handshakes.max_pending_handshakes = 0;
        assert!(no_handshakes.validate().is_err());
        let mut no_control = config(DEFAULT_MAX_FRAME_LEN);
        no_control.control_queue_capacity = 0;
        assert!(no_control.validate().is_err());
    }
}
