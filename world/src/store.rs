//! Saving regions between runs: each region file holds the chunks players
//! changed (the rest regenerate from the seed), stamped with the ownership
//! epoch it was written under so an outdated owner cannot overwrite its
//! successor's work.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use valence_protocol::{BlockState, ChunkPos};

use crate::chunk::{Chunk, Section};
use crate::coords::RegionPos;

const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} was written under epoch {stored}, newer than this owner's {ours}")]
    Fenced {
        path: PathBuf,
        stored: u64,
        ours: u64,
    },
}

#[derive(Serialize, Deserialize)]
enum StoredSection {
    Uniform(u16),
    Mixed(Vec<u16>),
}

#[derive(Serialize, Deserialize)]
struct StoredChunk {
    x: i32,
    z: i32,
    sections: Vec<StoredSection>,
}

#[derive(Serialize, Deserialize)]
struct RegionFile {
    format: u32,
    epoch: u64,
    chunks: Vec<StoredChunk>,
}

/// The chunks of a region as they were saved.
#[derive(Default)]
pub struct SavedRegion {
    pub epoch: u64,
    pub chunks: Vec<(ChunkPos, Chunk)>,
}

/// Region files in one folder.
#[derive(Debug, Clone)]
pub struct RegionStore {
    dir: PathBuf,
}

/// What `load` found of a region.
#[derive(Debug, Default)]
pub struct LoadedRegion {
    pub chunks: Vec<(ChunkPos, Chunk)>,
    pub damaged: Vec<Damaged>,
}

/// A file, or one chunk of it, that failed its checks.
#[derive(Debug)]
pub struct Damaged {
    pub file: PathBuf,
    pub chunk: Option<ChunkPos>,
    pub reason: String,
    pub kept_as: Option<PathBuf>,
}

fn file_of(chunk: ChunkPos) -> RegionPos {
    RegionPos {
        x: chunk.x.div_euclid(32),
        z: chunk.z.div_euclid(32),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn corrupt(path: &Path, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn to_stored(pos: ChunkPos, chunk: &Chunk) -> StoredChunk {
    let sections = chunk
        .sections()
        .iter()
        .map(|section| match section {
            Section::Uniform(state) => StoredSection::Uniform(state.to_raw()),
            Section::Mixed(_) => {
                StoredSection::Mixed(section.blocks().map(BlockState::to_raw).collect())
            }
        })
        .collect();
    StoredChunk {
        x: pos.x,
        z: pos.z,
        sections,
    }
}

fn from_stored(path: &Path, stored: StoredChunk) -> Result<(ChunkPos, Chunk), StoreError> {
    let state = |raw: u16| {
        BlockState::from_raw(raw).ok_or_else(|| corrupt(path, format!("unknown block state {raw}")))
    };
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
                    .map_err(|_| corrupt(path, "a section without 4096 blocks"))?;
                Ok(Section::Mixed(blocks))
            }
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let chunk = Chunk::from_sections(sections)
        .ok_or_else(|| corrupt(path, "a chunk with the wrong number of sections"))?;
    Ok((ChunkPos::new(stored.x, stored.z), chunk))
}

impl RegionStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn open(data_dir: PathBuf) -> Result<Self, StoreError> {
        Ok(Self::new(data_dir.join("regions")))
    }

    /// The saved chunks of one region of `grid`.
    pub fn load(
        &self,
        grid: &crate::coords::RegionGrid,
        region: RegionPos,
    ) -> Result<LoadedRegion, StoreError> {
        let mut loaded = LoadedRegion::default();
        let (lo, hi) = (region.x * grid.size, (region.x + 1) * grid.size - 1);
        let (zlo, zhi) = (region.z * grid.size, (region.z + 1) * grid.size - 1);
        let mut files: Vec<RegionPos> = Vec::new();
        for x in [lo.div_euclid(32), hi.div_euclid(32)] {
            for z in [zlo.div_euclid(32), zhi.div_euclid(32)] {
                if !files.contains(&RegionPos { x, z }) {
                    files.push(RegionPos { x, z });
                }
            }
        }
        for file in files {
            match self.load_file(file) {
                Ok(saved) => loaded.chunks.extend(
                    saved
                        .chunks
                        .into_iter()
                        .filter(|(pos, _)| grid.contains(region, *pos)),
                ),
                Err(StoreError::Corrupt { path, reason }) => loaded.damaged.push(Damaged {
                    file: path,
                    chunk: None,
                    reason,
                    kept_as: None,
                }),
                Err(e) => return Err(e),
            }
        }
        Ok(loaded)
    }

    /// Writes `chunks` into their files, keeping the other chunks there.
    pub fn save(
        &self,
        chunks: &[(ChunkPos, Chunk)],
        still_owner: &dyn Fn() -> bool,
    ) -> Result<(), StoreError> {
        let mut by_file: std::collections::BTreeMap<RegionPos, Vec<(ChunkPos, Chunk)>> =
            Default::default();
        for (pos, chunk) in chunks {
            by_file
                .entry(file_of(*pos))
                .or_default()
                .push((*pos, chunk.clone()));
        }
        for (file, mut new) in by_file {
            let old = self.load_file(file).unwrap_or_default();
            for (pos, chunk) in old.chunks {
                if !new.iter().any(|(p, _)| *p == pos) {
                    new.push((pos, chunk));
                }
            }
            if !still_owner() {
                return Err(StoreError::Fenced {
                    path: self.path(file),
                    stored: 0,
                    ours: 0,
                });
            }
            self.save_file(file, 0, &new)?;
        }
        Ok(())
    }

    fn path(&self, region: RegionPos) -> PathBuf {
        self.dir
            .join(format!("r.{}.{}.tessera", region.x, region.z))
    }

    fn read(&self, path: &Path) -> Result<Option<RegionFile>, StoreError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(path)(e)),
        };
        let file: RegionFile = postcard::from_bytes(&bytes).map_err(|e| corrupt(path, e))?;
        if file.format != FORMAT {
            return Err(corrupt(path, format!("unknown format {}", file.format)));
        }
        Ok(Some(file))
    }

    fn load_file(&self, region: RegionPos) -> Result<SavedRegion, StoreError> {
        let path = self.path(region);
        let Some(file) = self.read(&path)? else {
            return Ok(SavedRegion::default());
        };
        let chunks = file
            .chunks
            .into_iter()
            .map(|c| from_stored(&path, c))
            .collect::<Result<_, _>>()?;
        Ok(SavedRegion {
            epoch: file.epoch,
            chunks,
        })
    }

    /// Writes the changed chunks of a region durably (write, fsync, rename),
    /// unless a newer owner has written it since.
    fn save_file(
        &self,
        region: RegionPos,
        epoch: u64,
        chunks: &[(ChunkPos, Chunk)],
    ) -> Result<(), StoreError> {
        let path = self.path(region);
        if let Some(existing) = self.read(&path).ok().flatten() {
            if existing.epoch > epoch {
                return Err(StoreError::Fenced {
                    path,
                    stored: existing.epoch,
                    ours: epoch,
                });
            }
        }
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let file = RegionFile {
            format: FORMAT,
            epoch,
            chunks: chunks
                .iter()
                .map(|(pos, chunk)| to_stored(*pos, chunk))
                .collect(),
        };
        let bytes = postcard::to_allocvec(&file).map_err(|e| corrupt(&path, e))?;
        let temp = path.with_extension("tmp");
        let mut out = fs::File::create(&temp).map_err(io(&temp))?;
        out.write_all(&bytes).map_err(io(&temp))?;
        out.sync_all().map_err(io(&temp))?;
        fs::rename(&temp, &path).map_err(io(&path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store(name: &str) -> RegionStore {
        let dir = std::env::temp_dir().join(format!("tessera-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        RegionStore::new(dir)
    }

    #[test]
    fn saved_chunks_come_back_block_for_block() {
        let store = temp_store("round-trip");
        let region = RegionPos { x: -1, z: 2 };
        let mut chunk = Chunk::default();
        chunk.fill_layers(-64, -60, BlockState::STONE);
        chunk.set_block(3, 70, 4, BlockState::OAK_LOG);
        store
            .save_file(region, 3, &[(ChunkPos::new(-5, 70), chunk)])
            .unwrap();
        let saved = store.load_file(region).unwrap();
        assert_eq!(saved.epoch, 3);
        let (pos, loaded) = &saved.chunks[0];
        assert_eq!(*pos, ChunkPos::new(-5, 70));
        assert_eq!(loaded.block(3, 70, 4), BlockState::OAK_LOG);
        assert_eq!(loaded.block(0, -61, 0), BlockState::STONE);
        assert_eq!(loaded.block(0, -60, 0), BlockState::AIR);
        assert!(store
            .load_file(RegionPos { x: 9, z: 9 })
            .unwrap()
            .chunks
            .is_empty());
    }

    #[test]
    fn an_older_owner_cannot_overwrite_a_newer_one() {
        let store = temp_store("fence");
        let region = RegionPos { x: 0, z: 0 };
        store.save_file(region, 5, &[]).unwrap();
        assert!(matches!(
            store.save_file(region, 4, &[]),
            Err(StoreError::Fenced {
                stored: 5,
                ours: 4,
                ..
            })
        ));
        store.save_file(region, 5, &[]).unwrap();
    }

    #[test]
    fn a_damaged_file_is_reported_not_loaded() {
        let store = temp_store("corrupt");
        fs::create_dir_all(&store.dir).unwrap();
        fs::write(store.path(RegionPos { x: 0, z: 0 }), b"\xff\xff garbage").unwrap();
        assert!(matches!(
            store.load_file(RegionPos { x: 0, z: 0 }),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
