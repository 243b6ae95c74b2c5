//! Chunk subscriptions: who sees which chunk of this region.

use valence_protocol::ChunkPos;

use super::{Region, Slot};
use crate::chunk_packet::encode_chunk_packet;
use crate::messages::{FeedEvent, RegionMsg, SessionAddr};

pub(super) struct NewViewer {
    pub chunk: ChunkPos,
    pub session: SessionAddr,
}

impl Region {
    pub(super) fn take_new_viewers(&mut self) -> Vec<NewViewer> {
        std::mem::take(&mut self.new_viewers)
            .into_iter()
            .map(|(chunk, session)| NewViewer { chunk, session })
            .collect()
    }

    /// Sends a subscriber the chunk as it is now and the players standing in
    /// it, then adds it to the chunk's feed.
    pub(super) fn send_chunk(&mut self, chunk: ChunkPos, session: SessionAddr) {
        let framing = self.ctx.framing;
        let biome = self.ctx.biome;
        let Some(Slot::Ready(slot)) = self.chunks.get_mut(&chunk) else {
            return;
        };
        let packet = match self.durability.durable_view(chunk, &slot.chunk) {
            Some(durable) => encode_chunk_packet(chunk, &durable, biome, &framing),
            None => slot
                .packet
                .get_or_insert_with(|| encode_chunk_packet(chunk, &slot.chunk, biome, &framing))
                .clone(),
        };
        slot.viewers.insert(session);
        self.outbox.unicast(session, FeedEvent::Packets(packet));
        for player in self.players.values() {
            if player.state.chunk() == chunk && player.session != session {
                self.outbox.unicast(session, player.state.entered(&framing));
            }
        }
    }

    pub(super) fn unsubscribe(&mut self, chunk: ChunkPos, session: SessionAddr) {
        self.new_viewers
            .retain(|(c, s)| !(*c == chunk && *s == session));
        match self.chunks.get_mut(&chunk) {
            Some(Slot::Ready(slot)) => {
                slot.viewers.remove(&session);
            }
            // A subscription still waiting for its chunk is withdrawn too, or
            // it would make the session a viewer once the chunk is ready.
            Some(Slot::Loading(waiting)) => waiting.retain(|msg| {
                !matches!(msg, RegionMsg::Subscribe { chunk: c, session: s } if *c == chunk && *s == session)
            }),
            Some(Slot::Failed(_)) | None => {}
        }
    }
}
