//! A region file save never gets ahead of the journal: a change whose
//! journal append keeps failing (here: the next segment's path is taken by
//! a folder, so creating it fails as on a full disk) is neither confirmed
//! nor written into the region files, while what was durable before is.
//! A save first waits for the journal, trying it again after its backoff,
//! not over and over: every try starts a segment, and the 200 blocked here
//! last only as long as the backoff spaces the tries out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tessera_cluster::{Mailbox, NodeId};
use tessera_world::coords::RegionGrid;
use tessera_world::framing::Framing;
use tessera_world::gen::Flat;
use tessera_world::journal::{Journals, SegmentId};
use tessera_world::messages::{
    BlockChange, Delivery, FeedEvent, Precondition, RegionMsg, SessionAddr, ToSession,
};
use tessera_world::routing::SingleNode;
use tessera_world::store::RegionStore;
use tessera_world::{World, WorldSettings};
use valence_protocol::packets::play::PlayerActionResponseS2c;
use valence_protocol::{BlockPos, BlockState, ChunkPos, Packet, VarInt};

/// A folder of its own under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tessera-save-waits-for-journal-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The sequence numbers a delivery acknowledges.
fn acks(deliveries: &[Delivery], out: &mut Vec<i32>) {
    for delivery in deliveries {
        let Delivery::Unicast(FeedEvent::Packets(bytes)) = delivery else {
            continue;
        };
        let mut rest = &bytes[..];
        while let Ok(len) = VarInt::decode_partial(&mut rest) {
            let Some((frame, after)) = usize::try_from(len)
                .ok()
                .and_then(|l| (l <= rest.len()).then(|| rest.split_at(l)))
            else {
                return;
            };
            rest = after;
            let mut frame = frame;
            if VarInt::decode_partial(&mut frame) == Ok(PlayerActionResponseS2c::ID) {
                if let Ok(sequence) = VarInt::decode_partial(&mut frame) {
                    out.push(sequence);
                }
            }
        }
    }
}

/// Whether the change acknowledged as `sequence` is confirmed within `within`.
async fn confirmed(inbox: &mut Mailbox<ToSession>, sequence: i32, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, inbox.recv()).await {
            Ok(Some(ToSession::Deliver(deliveries))) => {
                acks(&deliveries, &mut got);
                if got.contains(&sequence) {
                    return true;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return false,
        }
    }
}

fn stone_at(pos: BlockPos, session: SessionAddr, sequence: i32) -> RegionMsg {
    RegionMsg::SetBlock(BlockChange {
        pos,
        only_if: Precondition::Replaceable,
        state: BlockState::STONE,
        ack: Some((session, sequence)),
    })
}

/// The newest segment in a region's journal folder.
fn newest_segment(region_dir: &Path) -> SegmentId {
    std::fs::read_dir(region_dir)
        .expect("the region's journal folder")
        .filter_map(|entry| entry.ok()?.file_name().to_str().and_then(SegmentId::parse))
        .max()
        .expect("the region has a segment")
}

/// Takes the paths of the segments after `newest` with folders, so the
/// journal cannot start any of them.
fn block_segments_after(region_dir: &Path, newest: SegmentId) {
    for gen in newest.gen + 1..newest.gen + 200 {
        let id = SegmentId {
            epoch: newest.epoch,
            gen,
        };
        std::fs::create_dir(region_dir.join(id.file_name())).expect("a blocking folder");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_journal_never_took_is_not_saved_into_the_region_files() {
    let dir = TempDir::new();
    let grid = RegionGrid { size: 1 };
    let world = World::new(WorldSettings {
        node: NodeId(1),
        generator: Arc::new(Flat),
        grid,
        framing: Framing::default(),
        biome: 0,
        spawn: (0, -60, 0),
        clock: tessera_world::clock::WorldClock::new(0, 0, true),
        placement: Arc::new(SingleNode(NodeId(1))),
        store: Some(RegionStore::open(dir.0.clone()).expect("a region store")),
        journals: Some(Journals::new(&dir.0, 1)),
        autosave: Duration::from_secs(3600),
        region_idle: Duration::from_secs(3600),
    });
    let (session, mut inbox) = world.open_session();
    let region = world.region_of_chunk(ChunkPos::new(0, 0));
    let durable = BlockPos::new(1, -60, 1);
    let held = BlockPos::new(2, -60, 2);

    world
        .to_region(region, stone_at(durable, session, 1))
        .expect("the region takes mail");
    assert!(
        confirmed(&mut inbox, 1, Duration::from_secs(10)).await,
        "a change on a healthy disk is confirmed"
    );
    // The save moves the journal on: its next append needs a new segment.
    let journal = dir.0.join("journal").join("r.0.0");
    let newest = newest_segment(&journal);
    assert_eq!(world.save_all().await, (1, 0));
    block_segments_after(&journal, newest);

    world
        .to_region(region, stone_at(held, session, 2))
        .expect("the region takes mail");
    assert!(
        !confirmed(&mut inbox, 2, Duration::from_secs(1)).await,
        "a change the journal did not take is not confirmed"
    );
    // Waits for the journal as long as a save does, then saves what is durable.
    assert_eq!(
        world.save_all().await,
        (0, 1),
        "a region with changes the journal lacks is not reported saved"
    );

    let loaded = RegionStore::open(dir.0.clone())
        .expect("a region store")
        .load(&grid, region)
        .expect("the region files read back");
    let (_, chunk) = loaded
        .chunks
        .iter()
        .find(|(pos, _)| *pos == ChunkPos::new(0, 0))
        .expect("the changed chunk is saved");
    assert_eq!(
        chunk.block(1, -60, 1),
        BlockState::STONE,
        "the durable change is saved"
    );
    assert_eq!(
        chunk.block(2, -60, 2),
        BlockState::AIR,
        "the change the journal never took is not in the region files"
    );
    world.stop().await;
}
