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
    /// Consecutive `Entity` events of a feed joined into one buffer when
    /// the feed is sealed, so a viewer copies a crowd's tick in one or two
    /// slices instead of one per entity.
    Entities(EntityRun),
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

/// Packets of several entities back to back: entity `ends[i].0`'s packets
/// run from the end of the one before it to `ends[i].1`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityRun {
    pub packets: Bytes,
    pub ends: Vec<(EntityId, u32)>,
}

impl EntityRun {
    /// Hands `write` the parts of the run a viewer who is `me` is shown:
    /// all of it but `me`'s own packets, in order.
    pub fn shown_to(&self, me: EntityId, mut write: impl FnMut(&[u8])) {
        let mut from = 0;
        let mut start = 0;
        for &(entity, end) in &self.ends {
            let end = end as usize;
            if entity == me {
                if from < start {
                    write(&self.packets[from..start]);
                }
                from = end;
            }
            start = end;
        }
        if from < self.packets.len() {
            write(&self.packets[from..]);
        }
    }
}

/// Events of one chunk in one tick, encoded once and shared by every viewer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChunkFeed {
    #[serde(with = "crate::wire::protocol")]
    pub chunk: ChunkPos,
    pub events: Vec<FeedEvent>,
}

impl ChunkFeed {
    /// The feed of `events`, each stretch of two or more `Entity` events
    /// joined into one `Entities` run: done once per chunk and tick, for
    /// every viewer.
    pub fn sealed(chunk: ChunkPos, events: Vec<FeedEvent>) -> Self {
        let mut sealed = Vec::with_capacity(events.len());
        let mut run: Vec<(EntityId, Bytes)> = Vec::new();
        for event in events {
            match event {
                FeedEvent::Entity { entity, packets } => run.push((entity, packets)),
                other => {
                    join_run(&mut run, &mut sealed);
                    sealed.push(other);
                }
            }
        }
        join_run(&mut run, &mut sealed);
        Self {
            chunk,
            events: sealed,
        }
    }
}

fn join_run(run: &mut Vec<(EntityId, Bytes)>, into: &mut Vec<FeedEvent>) {
    match run.len() {
        0 => {}
        1 => {
            if let Some((entity, packets)) = run.pop() {
                into.push(FeedEvent::Entity { entity, packets });
            }
        }
        _ => {
            let mut packets = Vec::with_capacity(run.iter().map(|(_, p)| p.len()).sum());
            let mut ends = Vec::with_capacity(run.len());
            for (entity, bytes) in run.drain(..) {
                packets.extend_from_slice(&bytes);
                // A feed's run is one tick of one chunk: far below 4 GiB.
                ends.push((entity, u32::try_from(packets.len()).unwrap_or(u32::MAX)));
            }
            into.push(FeedEvent::Entities(EntityRun {
                packets: Bytes::from(packets),
                ends,
            }));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(entity: EntityId, packets: &'static [u8]) -> FeedEvent {
        FeedEvent::Entity {
            entity,
            packets: Bytes::from_static(packets),
        }
    }

    fn shown(feed: &ChunkFeed, me: EntityId) -> Vec<u8> {
        let mut out = Vec::new();
        for event in &feed.events {
            match event {
                FeedEvent::Entities(run) => run.shown_to(me, |part| out.extend_from_slice(part)),
                FeedEvent::Entity { entity, packets } if *entity != me => {
                    out.extend_from_slice(packets)
                }
                FeedEvent::Packets(packets) => out.extend_from_slice(packets),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn a_viewer_sees_a_sealed_feed_as_it_would_the_events_one_by_one() {
        let events = || {
            vec![
                entity(1, b"a1"),
                entity(2, b"b"),
                entity(1, b"a2"),
                FeedEvent::Packets(Bytes::from_static(b"|block|")),
                entity(3, b"c"),
                entity(1, b"a3"),
                entity(2, b"bb"),
            ]
        };
        let sealed = ChunkFeed::sealed(ChunkPos::new(0, 0), events());
        assert_eq!(sealed.events.len(), 3, "two runs around the block update");
        let one_by_one = ChunkFeed {
            chunk: ChunkPos::new(0, 0),
            events: events(),
        };
        for me in [0, 1, 2, 3] {
            assert_eq!(shown(&sealed, me), shown(&one_by_one, me), "viewer {me}");
        }
        assert_eq!(shown(&sealed, 1), b"b|block|cbb");
    }

    #[test]
    fn a_lone_entity_event_stays_as_it_is() {
        let sealed = ChunkFeed::sealed(ChunkPos::new(0, 0), vec![entity(4, b"x")]);
        assert!(matches!(
            sealed.events[..],
            [FeedEvent::Entity { entity: 4, .. }]
        ));
    }
}
