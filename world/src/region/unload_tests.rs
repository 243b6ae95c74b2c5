//! Unloading on a real world: chunks that go and come back with their
//! changes, and chunks that must stay.

use std::sync::Arc;

use tessera_cluster::{mailbox, Mailbox};
use valence_protocol::math::DVec3;
use valence_protocol::{BlockPos, BlockState};

use std::time::Instant;

use valence_protocol::ChunkPos;

use super::unload::UNLOAD_AFTER;
use super::{Region, Slot};
use crate::coords::RegionPos;
use crate::gen::Flat;
use crate::messages::{BlockChange, Precondition, RegionMsg};
use crate::player::PlayerState;
use crate::region::RegionHost;
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
async fn subscribe(
    world: &World,
    region: &mut Region,
    inbox: &mut Mailbox<RegionMail>,
    chunk: ChunkPos,
) {
    let (session, _session_inbox) = world.open_session();
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
    subscribe(&world, &mut region, &mut inbox, changed).await;
    subscribe(&world, &mut region, &mut inbox, untouched).await;
    let pos = BlockPos::new(20, 0, 21);
    region.handle(RegionMsg::SetBlock(BlockChange {
        pos,
        only_if: Precondition::Replaceable,
        state: BlockState::OAK_LOG,
        ack: None,
    }));
    assert_eq!(world.metrics().loaded_chunks(), 2);

    let start = Instant::now();
    region.unload_unused(start);
    region.unload_unused(start + UNLOAD_AFTER / 2);
    assert_eq!(
        world.metrics().loaded_chunks(),
        2,
        "still in its grace period"
    );
    region.unload_unused(start + UNLOAD_AFTER);
    assert!(region.chunks.is_empty());
    assert_eq!(world.metrics().loaded_chunks(), 0);

    region.save_now().await;
    let context = world.context();
    let saved = context
        .store
        .as_ref()
        .unwrap()
        .load(&context.grid, region.pos())
        .unwrap();
    assert_eq!(saved.chunks.len(), 1, "only the changed chunk is saved");
    assert_eq!(saved.chunks[0].1.block(4, 0, 5), BlockState::OAK_LOG);

    subscribe(&world, &mut region, &mut inbox, changed).await;
    let Some(Slot::Ready(slot)) = region.chunks.get(&changed) else {
        panic!("the chunk did not load again");
    };
    assert_eq!(slot.chunk.block(4, 0, 5), BlockState::OAK_LOG);
    assert_eq!(world.metrics().loaded_chunks(), 1);
    drop(region);
    assert_eq!(world.metrics().loaded_chunks(), 0);
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
    assert_eq!(world.metrics().loaded_chunks(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_chunk_with_a_viewer_or_a_player_stays() {
    let dir = std::env::temp_dir().join(format!("tessera-unload-kept-{}", std::process::id()));
    let world = world(&dir);
    let (me, mut inbox) = mailbox(64);
    let mut region = Region::new(RegionPos { x: 0, z: 0 }, me, world.clone());
    let chunk = ChunkPos::new(0, 0);
    subscribe(&world, &mut region, &mut inbox, chunk).await;
    let (viewer, _viewer_inbox) = world.open_session();
    region.handle(RegionMsg::Subscribe {
        chunk,
        session: viewer,
    });
    region.flush();
    let start = Instant::now();
    region.unload_unused(start);
    region.unload_unused(start + UNLOAD_AFTER * 2);
    assert_eq!(world.metrics().loaded_chunks(), 1);
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
    assert_eq!(world.metrics().loaded_chunks(), 1, "a player stands in it");
    region.handle(RegionMsg::Leave { entity: 1 });
    region.unload_unused(start + UNLOAD_AFTER * 5);
    region.unload_unused(start + UNLOAD_AFTER * 6);
    assert_eq!(world.metrics().loaded_chunks(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
