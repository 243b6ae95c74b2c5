//! What the viewers of a chunk are told each tick, and how one region's tick
//! of it travels to another node's sessions: each chunk's events encoded
//! once and shared by every viewer. Players describe themselves to viewers
//! in these terms, and the messages to sessions carry them, so the feed sits
//! below both.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use valence_protocol::ChunkPos;

use crate::ids::{EntityId, SessionId};

/// Something a viewer of a chunk is told about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FeedEvent {
    /// Framed packets to write as they are.
    Packets(Bytes),
    /// Packets about what an entity does (moves, looks, swings, wears); the
    /// player who is that entity is not shown its own doings.
    Entity { entity: EntityId, packets: Bytes },
    /// An entity is now in this chunk. A client that does not show it yet
    /// writes `spawn`; one that does writes `position`, since moves sent by
    /// the region it came from may arrive in any order with these.
    EntityEntered {
        entity: EntityId,
        #[serde(with = "crate::wire::protocol")]
        chunk: ChunkPos,
        spawn: Bytes,
        position: Bytes,
    },
    /// An entity moved from this chunk to `to`, or out of the world when
    /// `None`; a client not viewing `to` must stop showing it.
    EntityLeft {
        entity: EntityId,
        #[serde(with = "crate::wire::protocol")]
        to: Option<ChunkPos>,
    },
}

/// Events of one chunk in one tick, encoded once and shared by every viewer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChunkFeed {
    #[serde(with = "crate::wire::protocol")]
    pub chunk: ChunkPos,
    pub events: Vec<FeedEvent>,
}

/// One item of a session's per-tick batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Delivery {
    /// For this session alone (chunk data, acknowledgements, teleports).
    Unicast(FeedEvent),
    /// The chunk feed of a chunk the session subscribed to.
    Chunk(Arc<ChunkFeed>),
}

/// One region's tick output for all the sessions of one other node: each
/// chunk feed travels once, however many of that node's sessions view it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NodeBatch {
    pub feeds: Vec<Arc<ChunkFeed>>,
    pub sessions: Vec<(SessionId, Vec<BatchItem>)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum BatchItem {
    Unicast(FeedEvent),
    /// Index into the batch's feeds.
    Feed(u32),
}

impl NodeBatch {
    /// Each session's deliveries, sharing the feeds again.
    pub fn into_deliveries(self) -> impl Iterator<Item = (SessionId, Vec<Delivery>)> {
        let feeds = self.feeds;
        self.sessions.into_iter().map(move |(session, items)| {
            let deliveries = items
                .into_iter()
                .filter_map(|item| match item {
                    BatchItem::Unicast(event) => Some(Delivery::Unicast(event)),
                    BatchItem::Feed(i) => feeds.get(i as usize).cloned().map(Delivery::Chunk),
                })
                .collect();
            (session, deliveries)
        })
    }
}
