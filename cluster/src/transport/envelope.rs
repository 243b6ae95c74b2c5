use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::NodeId;

/// What a message is about; inbound messages are dispatched to the subscriber
/// of their topic. Each topic's body is the postcard encoding of a message type
/// owned by the crate that handles it, so this crate knows none of them.
///
/// The wire carries the variant's index: add new topics at the end only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// Heartbeats and gossip of the membership layer.
    Membership,
    /// Raft traffic and queries of region placement.
    Placement,
    /// The replicated user register (ABD reads and writes).
    Register,
    /// The authentication service (logins, bans, duplicate-login checks).
    Auth,
    /// Commands to region actors (joins, handoffs, block changes).
    Region,
    /// Batches from regions to the frontend sessions of a node.
    Session,
    /// Messages to remote actors addressed through an `ActorRef`.
    Actor,
    /// Between frontends: cluster-wide chat, tab list and player directory.
    Frontend,
    /// The admin map: a node's players and regions, and region pictures.
    Map,
}

/// Which of a peer's two send queues a topic's messages wait in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Small and critical for the cluster's health (failure detection,
    /// placement, the register): a node busy with game traffic must still
    /// answer probes, so this lane has a queue of its own and the writer
    /// always drains it first.
    Control,
    /// Game and login traffic, which can come in bursts of megabytes.
    Bulk,
}

impl Topic {
    pub(crate) fn lane(self) -> Lane {
        match self {
            Self::Membership | Self::Placement | Self::Register => Lane::Control,
            Self::Auth
            | Self::Region
            | Self::Session
            | Self::Actor
            | Self::Frontend
            | Self::Map => Lane::Bulk,
        }
    }
}

/// A request's correlation id, unique per requesting node.
pub type RequestId = u64;

/// Whether an envelope is a one-way message or part of a request/response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Message,
    /// Expects one reply through `Transport::reply` or `reply_error`.
    Request(RequestId),
    Reply(RequestId),
    /// The handler failed; the body is its UTF-8 error message.
    Failure(RequestId),
}

/// One message between nodes; on the wire, one frame.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sender. On receipt it has been checked against the node that
    /// authenticated the connection, so handlers may trust it.
    pub from: NodeId,
    pub topic: Topic,
    pub kind: Kind,
    pub body: Bytes,
}

/// The most an envelope adds to its body once encoded (varints: node id 10,
/// topic 5, kind 1 + 10, body length 5), so checking the body against
/// `max_frame_len - ENVELOPE_OVERHEAD` guarantees the frame fits.
pub(crate) const ENVELOPE_OVERHEAD: usize = 32;

/// A body that could not be converted to or from its message type.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("cannot encode a message body: {0}")]
    Encode(postcard::Error),
    #[error("cannot decode the body of a {topic:?} message from node {from}: {source}")]
    Decode {
        topic: Topic,
        from: NodeId,
        source: postcard::Error,
    },
}

impl Envelope {
    /// Encodes a message as a body for `Transport::send` or `request`.
    pub fn encode_body<T: Serialize>(message: &T) -> Result<Bytes, BodyError> {
        postcard::to_allocvec(message)
            .map(Bytes::from)
            .map_err(BodyError::Encode)
    }

    /// Decodes the body as the topic's message type. The body came from
    /// another node, so a failure is an ordinary error, not a bug.
    pub fn decode_body<T: DeserializeOwned>(&self) -> Result<T, BodyError> {
        postcard::from_bytes(&self.body).map_err(|source| BodyError::Decode {
            topic: self.topic,
            from: self.from,
            source,
        })
    }
}

impl fmt::Debug for Envelope {
    // A body can be megabytes of chunk data; its length is what a log needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("from", &self.from)
            .field("topic", &self.topic)
            .field("kind", &self.kind)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Move {
        x: f64,
        z: f64,
    }

    #[test]
    fn bodies_round_trip_and_bad_ones_are_errors() {
        let body = Envelope::encode_body(&Move { x: 1.5, z: -2.0 }).unwrap();
        let env = Envelope {
            from: NodeId(4),
            topic: Topic::Region,
            kind: Kind::Message,
            body,
        };
        assert_eq!(env.decode_body::<Move>().unwrap(), Move { x: 1.5, z: -2.0 });
        let short = Envelope {
            body: Bytes::from_static(&[1, 2]),
            ..env
        };
        let err = short.decode_body::<Move>().unwrap_err();
        assert!(
            err.to_string().contains("Region message from node 4"),
            "{err}"
        );
    }

    #[test]
    fn the_overhead_bound_holds_for_the_largest_header() {
        let body = Bytes::from(vec![7u8; 70_000]);
        let env = Envelope {
            from: NodeId(u64::MAX),
            topic: Topic::Actor,
            kind: Kind::Failure(u64::MAX),
            body: body.clone(),
        };
        let encoded = postcard::to_allocvec(&env).unwrap();
        assert!(encoded.len() <= body.len() + ENVELOPE_OVERHEAD);
    }
}
