//! The region files of Tessera before Anvil (`regions/r.X.Z.tessera`,
//! postcard), read once to convert a world saved by that release.

use serde::Deserialize;
use valence_protocol::{BlockState, ChunkPos};

use crate::chunk::{Chunk, Section};

const FORMAT: u32 = 1;

#[derive(Deserialize)]
enum StoredSection {
    Uniform(u16),
    Mixed(Vec<u16>),
}

#[derive(Deserialize)]
struct StoredChunk {
    x: i32,
    z: i32,
    sections: Vec<StoredSection>,
}

#[derive(Deserialize)]
struct RegionFile {
    format: u32,
    // The ownership epoch it was written under; Anvil files fence by lock.
    _epoch: u64,
    chunks: Vec<StoredChunk>,
}

/// The chunks of one legacy file, or why it cannot be read.
pub fn read(bytes: &[u8]) -> Result<Vec<(ChunkPos, Chunk)>, String> {
    let file: RegionFile = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
    if file.format != FORMAT {
        return Err(format!("unknown format {}", file.format));
    }
    file.chunks.into_iter().map(chunk).collect()
}

fn chunk(stored: StoredChunk) -> Result<(ChunkPos, Chunk), String> {
    let state = |raw: u16| BlockState::from_raw(raw).ok_or(format!("unknown block state {raw}"));
    let sections = stored
        .sections
        .into_iter()
        .map(|section| match section {
            StoredSection::Uniform(raw) => Ok(Section::Uniform(state(raw)?)),
            StoredSection::Mixed(raws) => {
                let blocks: Vec<BlockState> =
                    raws.into_iter().map(state).collect::<Result<_, _>>()?;
                let blocks: Box<[BlockState; 4096]> = blocks
                    .into_boxed_slice()
                    .try_into()
                    .map_err(|_| "a section without 4096 blocks".to_owned())?;
                Ok(Section::Mixed(blocks))
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let chunk = Chunk::from_sections(sections)
        .ok_or("a chunk with the wrong number of sections".to_owned())?;
    Ok((ChunkPos::new(stored.x, stored.z), chunk))
}

/// A legacy file's bytes, as the last release wrote them; for tests and
/// the fuzz targets' seeds.
pub fn write(epoch: u64, chunks: &[(ChunkPos, Chunk)]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    enum S {
        Uniform(u16),
        Mixed(Vec<u16>),
    }
    #[derive(serde::Serialize)]
    struct C {
        x: i32,
        z: i32,
        sections: Vec<S>,
    }
    #[derive(serde::Serialize)]
    struct F {
        format: u32,
        epoch: u64,
        chunks: Vec<C>,
    }
    let chunks = chunks
        .iter()
        .map(|(pos, chunk)| C {
            x: pos.x,
            z: pos.z,
            sections: chunk
                .sections()
                .iter()
                .map(|s| match s {
                    Section::Uniform(state) => S::Uniform(state.to_raw()),
                    Section::Mixed(_) => S::Mixed(s.blocks().map(BlockState::to_raw).collect()),
                })
                .collect(),
        })
        .collect();
    let file = F {
        format: FORMAT,
        epoch,
        chunks,
    };
    postcard::to_allocvec(&file).unwrap_or_default()
}
