//! Entry points for the fuzz targets (the `tessera-fuzz` crate): each takes
//! arbitrary bytes through a reader of what the world keeps on disk or gets
//! from another world. Not part of the crate's API.

use std::path::Path;

use uuid::Uuid;
use valence_protocol::nbt::Compound;
use valence_protocol::ChunkPos;

use crate::anvil::level_dat::LevelDat;
use crate::anvil::region_file::{self, RegionFile, EXTERNAL};
use crate::anvil::{chunk_nbt, legacy, player_dat};
use crate::journal::{player, segment};

/// A journal segment, read whole and up to a successor's bound (the
/// input's first byte, in 64-byte steps), and the same bytes as the file of
/// carried player states.
pub fn journal(data: &[u8]) {
    let path = Path::new("fuzz.log");
    let _ = segment::read(path, data, None);
    if let Some(&bound) = data.first() {
        let _ = segment::read(path, data, Some(u64::from(bound) * 64));
    }
    let _ = player::decode_carried(path, data);
}

/// A region file as the store loads it: the header, then each chunk it
/// holds decompressed, parsed as NBT and read as a chunk. (A chunk kept in a
/// `.mcc` file beside it is left out: the store reads that file instead.)
pub fn region_file(data: &[u8]) {
    let Ok(file) = RegionFile::parse(data.to_vec()) else {
        return;
    };
    for slot in 0..region_file::CHUNKS {
        let Ok(Some(raw)) = file.chunk(slot) else {
            continue;
        };
        if raw.compression & EXTERNAL != 0 {
            continue;
        }
        if let Ok(nbt) = region_file::read_nbt(raw.compression, &raw.data) {
            chunk(region_file::chunk_at((0, 0), slot), &nbt);
        }
    }
}

/// A chunk's binary NBT, uncompressed, as read from a region file.
pub fn chunk_nbt(data: &[u8]) {
    if let Ok(nbt) = region_file::read_nbt(region_file::NONE, data) {
        chunk(ChunkPos::new(0, 0), &nbt);
    }
}

fn chunk(pos: ChunkPos, nbt: &Compound) {
    if chunk_nbt::is_full(nbt) {
        let _ = chunk_nbt::from_nbt(pos, nbt);
    }
}

/// A vanilla `playerdata/<uuid>.dat`, as `tessera import` reads it.
pub fn player_dat(data: &[u8]) {
    let _ = player_dat::decode(Uuid::nil(), data);
}

/// A `level.dat`, as the store and the importer read it.
pub fn level_dat(data: &[u8]) {
    let _ = LevelDat::parse(Path::new("level.dat"), data);
}

/// A region file of the release before Anvil, read once to convert it.
pub fn legacy_region(data: &[u8]) {
    let _ = legacy::read(data);
}

/// Real inputs for the journal target, written by the journal's own
/// encoders: a segment (its header and two batches, one with a player's
/// state) and a file of carried player states.
pub fn journal_seeds() -> Vec<Vec<u8>> {
    use crate::coords::RegionPos;
    use crate::journal::{BatchRecord, JournalChange, JournalPlayer, SegmentId};
    use valence_protocol::{GameMode, ItemKind, ItemStack};

    let id = SegmentId { epoch: 3, gen: 1 };
    let earlier = segment::Bound {
        segment: SegmentId { epoch: 2, gen: 0 },
        len: 96,
    };
    let header = segment::Header::new(RegionPos { x: -1, z: 2 }, 4, id, vec![earlier]);
    let mut inventory = vec![None; crate::player::INVENTORY_SLOTS];
    inventory[36] = Some(ItemStack::new(ItemKind::Stone, 12, None));
    let player = JournalPlayer {
        uuid: Uuid::from_u128(0x1234_5678_9abc_def0),
        revision: 5,
        position: [8.5, 65.0, -3.5],
        yaw: 90.0,
        pitch: 0.0,
        game_mode: GameMode::Survival,
        held_slot: 0,
        inventory,
    };
    let change = |x, state| JournalChange {
        x,
        y: 64,
        z: -7,
        state,
    };
    let mut log = Vec::new();
    segment::encode_header(&header, &mut log);
    segment::encode_batch(
        &BatchRecord {
            seq: 0,
            changes: vec![change(1, 1), change(2, 0)],
            players: Vec::new(),
        },
        &mut log,
    );
    segment::encode_batch(
        &BatchRecord {
            seq: 1,
            changes: vec![change(3, 9)],
            players: vec![player.clone()],
        },
        &mut log,
    );
    let carried = player::encode_carried(vec![player]).expect("carried states encode");
    vec![log, carried]
}

/// A region file of the release before Anvil, with one chunk.
pub fn legacy_seeds() -> Vec<Vec<u8>> {
    let mut chunk = crate::chunk::Chunk::default();
    chunk.fill_layers(-64, -60, valence_protocol::BlockState::STONE);
    chunk.set_block(3, 10, 4, valence_protocol::BlockState::OAK_LOG);
    vec![legacy::write(1, &[(ChunkPos::new(0, 0), chunk)])]
}
