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
