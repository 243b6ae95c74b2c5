//! Writing what regions deliver, and keeping the chunk subscriptions and the
//! set of shown entities in step with the view.

use tessera_world::messages::{Delivery, FeedEvent, RegionMsg};
use tessera_world::player::despawn_packet;
use tessera_world::routing::OwnerChange;
use valence_protocol::packets::play::{ChunkRenderDistanceCenterS2c, UnloadChunkS2c};
use valence_protocol::{ChunkPos, VarInt};

use super::Session;

impl Session {
    pub(super) fn deliver(&mut self, items: Vec<Delivery>) {
        for item in items {
            match item {
                Delivery::Unicast(event) => self.apply(&event),
                // A feed of a chunk this client has unloaded since is stale.
                // Its events are shared by every viewer: read, not cloned.
                Delivery::Chunk(feed) if self.view.contains(feed.chunk) => {
                    for event in &feed.events {
                        self.apply(event);
                    }
                }
                Delivery::Chunk(_) => {}
            }
        }
    }

    fn apply(&mut self, event: &FeedEvent) {
        match *event {
            FeedEvent::Packets(ref bytes) => self.conn.queue_framed(bytes),
            FeedEvent::Entity {
                entity,
                ref packets,
            } => {
                if entity != self.me.entity {
                    self.conn.queue_framed(packets);
                }
            }
            FeedEvent::Entities(ref run) => {
                let conn = &mut self.conn;
                run.shown_to(self.me.entity, |part| conn.queue_framed(part));
            }
            FeedEvent::EntityEntered {
                entity,
                chunk,
                ref spawn,
                ref position,
            } => {
                if entity == self.me.entity || !self.view.contains(chunk) {
                    return;
                }
                match self.visible.insert(entity, chunk) {
                    None => self.conn.queue_framed(spawn),
                    Some(_) => self.conn.queue_framed(position),
                }
            }
            FeedEvent::EntityLeft { entity, to } => match to {
                Some(to) if self.view.contains(to) => {
                    if let Some(chunk) = self.visible.get_mut(&entity) {
                        *chunk = to;
                    }
                }
                _ => {
                    if self.visible.remove(&entity).is_some() {
                        self.conn
                            .queue_framed(&despawn_packet(&self.frontend.framing, &[entity]));
                    }
                }
            },
        }
    }

    /// Centres the view on `chunk`: unloads what fell out of range and
    /// subscribes to what came in, nearest first.
    pub(super) fn recenter(&mut self, chunk: ChunkPos) {
        let (added, removed) = self.view.recenter(chunk);
        self.conn.queue(&ChunkRenderDistanceCenterS2c {
            chunk_x: VarInt(chunk.x),
            chunk_z: VarInt(chunk.z),
        });
        for pos in &removed {
            self.conn.queue(&UnloadChunkS2c { pos: *pos });
        }
        self.unsubscribe(&removed);
        let gone: Vec<_> = self
            .visible
            .iter()
            .filter(|(_, c)| removed.contains(c))
            .map(|(&e, _)| e)
            .collect();
        if !gone.is_empty() {
            for entity in &gone {
                self.visible.remove(entity);
            }
            self.conn
                .queue_framed(&despawn_packet(&self.frontend.framing, &gone));
        }
        let world = &self.frontend.world;
        for chunk in added {
            let region = world.region_of_chunk(chunk);
            let msg = RegionMsg::Subscribe {
                chunk,
                session: self.me.session,
            };
            if let Err(e) = world.to_region(region, msg) {
                tracing::warn!(%region, "chunk not requested: {e}");
            }
        }
    }

    pub(super) fn unsubscribe(&self, chunks: &[ChunkPos]) {
        let world = &self.frontend.world;
        for &chunk in chunks {
            let msg = RegionMsg::Unsubscribe {
                chunk,
                session: self.me.session,
            };
            let _ = world.to_region(world.region_of_chunk(chunk), msg);
        }
    }
}

impl Session {
    /// A region changed hands (its node died or it was moved): what the
    /// client sees of it is fetched again from the new owner, and a player
    /// who stood in it is brought back there from its last known state.
    pub(super) fn reattach(&mut self, change: OwnerChange) {
        let world = self.frontend.world.clone();
        let in_region: Vec<ChunkPos> = self
            .view
            .loaded()
            .filter(|c| world.region_of_chunk(*c) == change.region)
            .collect();
        let stale: Vec<_> = self
            .visible
            .iter()
            .filter(|(_, c)| in_region.contains(c))
            .map(|(&e, _)| e)
            .collect();
        if !stale.is_empty() {
            for entity in &stale {
                self.visible.remove(entity);
            }
            self.conn
                .queue_framed(&despawn_packet(&self.frontend.framing, &stale));
        }
        self.region_moved(change.region);
        for chunk in in_region {
            let msg = RegionMsg::Subscribe {
                chunk,
                session: self.me.session,
            };
            if let Err(e) = world.to_region(change.region, msg) {
                tracing::warn!(region = %change.region, "chunk not requested again: {e}");
            }
        }
    }
}
