//! A generator that panics: the chunk is tried once more, then reported,
//! and what waited for it goes on without it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tessera_cluster::{mailbox, Mailbox};
use uuid::Uuid;
use valence_protocol::math::DVec3;
use valence_protocol::{BlockPos, BlockState, ChunkPos};

use super::{Region, RegionMail, Slot};
use crate::chunk::Chunk;
use crate::coords::RegionPos;
use crate::gen::{Flat, Generator};
use crate::messages::{BlockChange, Precondition, RegionMsg};
use crate::player::PlayerState;
use crate::world::{World, WorldSettings};

const BROKEN: ChunkPos = ChunkPos { x: 5, z: 5 };
const FLAKY: ChunkPos = ChunkPos { x: 6, z: 6 };

/// Panics on `BROKEN` every time and on `FLAKY` the first time only.
#[derive(Default)]
struct Panicky {
    flaky_calls: AtomicU32,
}

impl Generator for Panicky {
    fn generate(&self, pos: ChunkPos) -> Chunk {
        if pos == BROKEN {
            panic!("no terrain here");
        }
        if pos == FLAKY && self.flaky_calls.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("not this time");
        }
        Flat.generate(pos)
    }

    fn surface_y(&self, x: i32, z: i32) -> i32 {
        Flat.surface_y(x, z)
    }
}

fn world() -> Arc<World> {
    World::new(WorldSettings::for_test(Arc::new(Panicky::default())))
}

async fn next_chunk_mail(region: &mut Region, inbox: &mut Mailbox<RegionMail>) {
    match inbox.recv().await {
        Some(RegionMail::ChunkReady { chunk, data }) => region.chunk_ready(chunk, *data),
        Some(RegionMail::ChunkFailed { chunk }) => region.chunk_failed(chunk),
        other => panic!("unexpected mail {other:?}"),
    }
}

#[tokio::test]
async fn a_chunk_whose_generator_panics_once_loads_on_the_second_try() {
    let world = world();
    let (me, mut inbox) = mailbox(64);
    let mut region = Region::new(RegionPos { x: 0, z: 0 }, me, world.clone());
    let (session, _session_inbox) = world.open_session();
    region.handle(RegionMsg::Subscribe {
        chunk: FLAKY,
        session,
    });
    next_chunk_mail(&mut region, &mut inbox).await;
    assert!(matches!(region.chunks.get(&FLAKY), Some(Slot::Ready(_))));
    assert_eq!(
        world
            .metrics()
            .chunk_generation_failures
            .load(Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn a_chunk_that_keeps_panicking_is_reported_and_what_waited_goes_on() {
    let world = world();
    let (me, mut inbox) = mailbox(64);
    let mut region = Region::new(RegionPos { x: 0, z: 0 }, me, world.clone());
    let (session, _session_inbox) = world.open_session();
    let position = DVec3::new(
        f64::from(BROKEN.x * 16 + 8),
        -60.0,
        f64::from(BROKEN.z * 16 + 8),
    );
    let player = PlayerState::new(Uuid::from_u128(9), "Stuck".into(), 77, position);
    region.handle(RegionMsg::Join {
        player: Box::new(player),
        session,
    });
    assert!(matches!(region.chunks.get(&BROKEN), Some(Slot::Loading(_))));
    next_chunk_mail(&mut region, &mut inbox).await;

    assert!(matches!(region.chunks.get(&BROKEN), Some(Slot::Failed(_))));
    assert_eq!(
        world
            .metrics()
            .chunk_generation_failures
            .load(Ordering::Relaxed),
        1
    );
    assert!(
        region.players.contains_key(&77),
        "the join waited no longer"
    );
    // Nothing can change in the failed chunk, and asking again does not
    // start another generation before the retry time.
    region.handle(RegionMsg::SetBlock(BlockChange {
        pos: BlockPos::new(BROKEN.x * 16, -60, BROKEN.z * 16),
        only_if: Precondition::Replaceable,
        state: BlockState::STONE,
        ack: None,
    }));
    region.handle(RegionMsg::Subscribe {
        chunk: BROKEN,
        session,
    });
    assert!(matches!(region.chunks.get(&BROKEN), Some(Slot::Failed(_))));
    let again = tokio::time::timeout(std::time::Duration::from_millis(200), inbox.recv()).await;
    assert!(again.is_err(), "no second generation was started");
}
