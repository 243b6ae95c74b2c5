//! Letting go of chunks nobody needs: a chunk no session views and no player
//! stands in is dropped after a grace period. Digging needs no exception: a
//! digger views the chunk, and a dig its player left unfinished must not
//! pin the chunk forever. A chunk players changed
//! goes back to the region's saved chunks, which every save writes and the
//! next subscription loads from, so it returns with its changes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use valence_protocol::ChunkPos;

use super::{Region, Slot, RETRY_FAILED_CHUNK};

/// How long a chunk stays loaded after its last viewer left: players
/// walking back and forth across a view's edge should not reload it.
const UNLOAD_AFTER: Duration = Duration::from_secs(30);
/// Ticks between looks for unused chunks (one second).
pub(super) const SWEEP_EVERY_TICKS: u64 = 20;

/// When each unused chunk was first seen unused, and since when the whole
/// region has been idle.
#[derive(Default)]
pub(super) struct Unused(HashMap<ChunkPos, Instant>, Option<Instant>);

impl Region {
    /// Unloads the chunks unused for the grace period as of `now`.
    pub(super) fn unload_unused(&mut self, now: Instant) {
        let in_use = self.chunks_in_use();
        let unused = &mut self.unused.0;
        let mut expired = Vec::new();
        for (pos, slot) in &self.chunks {
            let idle =
                matches!(slot, Slot::Ready(s) if s.viewers.is_empty()) && !in_use.contains(pos);
            if !idle {
                unused.remove(pos);
                continue;
            }
            let since = *unused.entry(*pos).or_insert(now);
            if now.saturating_duration_since(since) >= UNLOAD_AFTER {
                expired.push(*pos);
            }
        }
        unused.retain(|pos, _| self.chunks.contains_key(pos));
        // A failed chunk due for another try is forgotten: the next message
        // that needs it generates it afresh.
        self.chunks.retain(|_, slot| {
            !matches!(slot, Slot::Failed(at) if now.saturating_duration_since(*at) >= RETRY_FAILED_CHUNK)
        });
        for pos in expired {
            self.unused.0.remove(&pos);
            if let Some(Slot::Ready(slot)) = self.chunks.remove(&pos) {
                self.persistence.unloaded(pos, slot.chunk);
                self.world.metrics.chunks_unloaded(1);
            }
        }
    }

    /// Whether the region holds nothing: no player, no chunk, nothing on
    /// its way to disk or unsaved. Such a region may stop; it starts again
    /// from its files when a message needs it.
    fn holds_nothing(&self) -> bool {
        self.players.is_empty()
            && self.chunks.is_empty()
            && self.new_viewers.is_empty()
            && self.diggers.is_empty()
            && self.handoffs.is_idle()
            && !self.durability.anything_waiting()
            && !self.durability.is_writing()
            && !self.persistence.is_dirty()
            && !self.persistence.is_failing()
            && !self.persistence.is_saving()
    }

    /// Whether the region has held nothing for `world.region_idle`, as of
    /// `now`; checked with each sweep.
    pub(super) fn idle_long_enough(&mut self, now: Instant) -> bool {
        if !self.holds_nothing() {
            self.unused.1 = None;
            return false;
        }
        let since = *self.unused.1.get_or_insert(now);
        now.saturating_duration_since(since) >= self.world.region_idle
    }

    /// Chunks a player stands in or was just promised.
    fn chunks_in_use(&self) -> HashSet<ChunkPos> {
        let standing = self.players.values().map(|p| p.state.chunk());
        let subscribing = self.new_viewers.iter().map(|(chunk, _)| *chunk);
        standing.chain(subscribing).collect()
    }

    fn ready_chunks(&self) -> usize {
        self.chunks
            .values()
            .filter(|slot| matches!(slot, Slot::Ready(_)))
            .count()
    }
}

impl Drop for Region {
    /// A region stopped, moved away or restarted after a panic no longer
    /// holds its chunks.
    fn drop(&mut self) {
        self.world.metrics.chunks_unloaded(self.ready_chunks());
        self.forget_persist_health();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tessera_cluster::{mailbox, Mailbox};
    use valence_protocol::math::DVec3;
    use valence_protocol::{BlockPos, BlockState};

    use super::*;
    use crate::coords::RegionPos;
    use crate::gen::Flat;
    use crate::messages::{BlockChange, Precondition, RegionMsg};
    use crate::player::PlayerState;
    use crate::region::RegionMail;
    use crate::store::RegionStore;
    use crate::world::{World, WorldSettings};

    fn world(dir: &std::path::Path) -> Arc<World> {
        World::new(WorldSettings {
            store: Some(RegionStore::open(dir.to_owned()).unwrap()),
            journals: Some(crate::journal::Journals::new(dir, 32)),
            ..WorldSettings::for_test(Arc::new(Flat))
        })
    }

    /// Loads a chunk for a viewer that then leaves, handling messages until
    /// the chunk generator's answer arrives.
    async fn subscribe(region: &mut Region, inbox: &mut Mailbox<RegionMail>, chunk: ChunkPos) {
        let (session, _session_inbox) = region.world.open_session();
        region.handle(RegionMsg::Subscribe { chunk, session });
        while !matches!(region.chunks.get(&chunk), Some(Slot::Ready(_))) {
            match inbox.recv().await {
                Some(RegionMail::ChunkReady { chunk, data }) => region.chunk_ready(chunk, *data),
                other => panic!("unexpected mail {other:?}"),
            }
        }
        region.flush();
        region.unsubscribe(chunk, session);
    }

    #[tokio::test]
    async fn an_unviewed_chunk_unloads_and_comes_back_with_its_changes() {
        let dir = std::env::temp_dir().join(format!("tessera-unload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let world = world(&dir);
        let (me, mut inbox) = mailbox(64);
        let mut region = Region::new(RegionPos { x: 0, z: 0 }, me, world.clone());
        let (changed, untouched) = (ChunkPos::new(1, 1), ChunkPos::new(2, 1));
        subscribe(&mut region, &mut inbox, changed).await;
        subscribe(&mut region, &mut inbox, untouched).await;
        let pos = BlockPos::new(20, 0, 21);
        region.handle(RegionMsg::SetBlock(BlockChange {
            pos,
            only_if: Precondition::Replaceable,
            state: BlockState::OAK_LOG,
            ack: None,
        }));
        assert_eq!(world.metrics.loaded_chunks(), 2);

        let start = Instant::now();
        region.unload_unused(start);
        region.unload_unused(start + UNLOAD_AFTER / 2);
        assert_eq!(
            world.metrics.loaded_chunks(),
            2,
            "still in its grace period"
        );
        region.unload_unused(start + UNLOAD_AFTER);
        assert!(region.chunks.is_empty());
        assert_eq!(world.metrics.loaded_chunks(), 0);

        region.save_now().await;
        let saved = world
            .store
            .as_ref()
            .unwrap()
            .load(&world.grid, region.pos())
            .unwrap();
        assert_eq!(saved.chunks.len(), 1, "only the changed chunk is saved");
        assert_eq!(saved.chunks[0].1.block(4, 0, 5), BlockState::OAK_LOG);

        subscribe(&mut region, &mut inbox, changed).await;
        let Some(Slot::Ready(slot)) = region.chunks.get(&changed) else {
            panic!("the chunk did not load again");
        };
        assert_eq!(slot.chunk.block(4, 0, 5), BlockState::OAK_LOG);
        assert_eq!(world.metrics.loaded_chunks(), 1);
        drop(region);
        assert_eq!(world.metrics.loaded_chunks(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_subscription_withdrawn_while_its_chunk_loads_leaves_no_viewer() {
        let dir = std::env::temp_dir().join(format!("tessera-unload-early-{}", std::process::id()));
        let world = world(&dir);
        let (me, mut inbox) = mailbox(64);
        let mut region = Region::new(RegionPos { x: 0, z: 0 }, me, world.clone());
        let chunk = ChunkPos::new(3, 3);
        let (session, _session_inbox) = world.open_session();
        region.handle(RegionMsg::Subscribe { chunk, session });
        region.handle(RegionMsg::Unsubscribe { chunk, session });
        match inbox.recv().await {
            Some(RegionMail::ChunkReady { chunk, data }) => region.chunk_ready(chunk, *data),
            other => panic!("unexpected mail {other:?}"),
        }
        region.flush();
        let start = Instant::now();
        region.unload_unused(start);
        region.unload_unused(start + UNLOAD_AFTER);
        assert_eq!(world.metrics.loaded_chunks(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_chunk_with_a_viewer_or_a_player_stays() {
        let dir = std::env::temp_dir().join(format!("tessera-unload-kept-{}", std::process::id()));
        let world = world(&dir);
        let (me, mut inbox) = mailbox(64);
        let mut region = Region::new(RegionPos { x: 0, z: 0 }, me, world.clone());
        let chunk = ChunkPos::new(0, 0);
        subscribe(&mut region, &mut inbox, chunk).await;
        let (viewer, _viewer_inbox) = world.open_session();
        region.handle(RegionMsg::Subscribe {
            chunk,
            session: viewer,
        });
        region.flush();
        let start = Instant::now();
        region.unload_unused(start);
        region.unload_unused(start + UNLOAD_AFTER * 2);
        assert_eq!(world.metrics.loaded_chunks(), 1);
        region.unsubscribe(chunk, viewer);
        let player = PlayerState::new(
            uuid::Uuid::from_u128(1),
            "standing".into(),
            1,
            DVec3::new(1.5, 0.0, 1.5),
        );
        region.handle(RegionMsg::Join {
            player: Box::new(player),
            session: viewer,
        });
        region.unload_unused(start + UNLOAD_AFTER * 3);
        region.unload_unused(start + UNLOAD_AFTER * 4);
        assert_eq!(world.metrics.loaded_chunks(), 1, "a player stands in it");
        region.handle(RegionMsg::Leave { entity: 1 });
        region.unload_unused(start + UNLOAD_AFTER * 5);
        region.unload_unused(start + UNLOAD_AFTER * 6);
        assert_eq!(world.metrics.loaded_chunks(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
