//! The world's chunks on disk, as vanilla 1.20.1 keeps them: Anvil region
//! files `data_dir/region/r.X.Z.mca`, each holding 32 × 32 chunks, so
//! vanilla worlds load here and the usual tools work on ours.
//!
//! A Tessera region (a square of `grid.size` chunks) may be part of one
//! region file or span several; regions of different nodes sharing the
//! folder write the same file under an exclusive lock on a lock file of
//! its own, and each write replaces the file whole (temp, fsync, rename).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{error, info, warn};
use valence_protocol::nbt::Compound;
use valence_protocol::ChunkPos;

use crate::anvil::aside::keep_aside;
use crate::anvil::durable::{lock_file, replace};
use crate::anvil::error::io;
use crate::anvil::region_file::{self, RawChunk, RegionFile, EXTERNAL};
use crate::anvil::{chunk_nbt, legacy};
use crate::chunk::Chunk;
use crate::coords::{RegionGrid, RegionPos};

// The error of every store operation, defined with the Anvil helpers the
// store is built on and named here beside the store.
pub use crate::anvil::error::StoreError;

/// The chunks of a Tessera region as they were saved, and the ones that
/// could not be read.
#[derive(Debug, Default)]
pub struct LoadedRegion {
    pub chunks: Vec<(ChunkPos, Chunk)>,
    pub damaged: Vec<Damaged>,
}

/// A chunk (or, when `chunk` is `None`, a whole region file) that failed
/// its checks; `kept_as` is the copy of the damaged file kept aside.
#[derive(Debug, Clone)]
pub struct Damaged {
    pub file: PathBuf,
    pub chunk: Option<ChunkPos>,
    pub reason: String,
    pub kept_as: Option<PathBuf>,
}

/// The region files of one world folder.
#[derive(Debug, Clone)]
pub struct RegionStore {
    paths: Arc<Paths>,
}

#[derive(Debug)]
struct Paths {
    /// `data_dir/region`
    region: PathBuf,
    /// Lock files, one per region file, in a folder tools do not look in.
    locks: PathBuf,
}

/// A region file (`rx`, `rz`), the unit of reading, locking and writing.
type FileKey = (i32, i32);

fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

fn corrupt(path: &Path, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

impl RegionStore {
    /// `data_dir` is the world folder; Anvil files live in `data_dir/region/`.
    /// A world saved by the last release (`data_dir/regions/*.tessera`) is
    /// converted on first start and its folder moved to `regions.converted`.
    pub fn open(data_dir: PathBuf) -> Result<Self, StoreError> {
        let region = data_dir.join("region");
        let store = Self {
            paths: Arc::new(Paths {
                locks: region.join(".locks"),
                region,
            }),
        };
        let legacy = data_dir.join("regions");
        if legacy.is_dir() {
            store.convert_legacy(&legacy, &data_dir.join("regions.converted"))?;
        }
        Ok(store)
    }

    fn file_path(&self, (x, z): FileKey) -> PathBuf {
        self.paths.region.join(format!("r.{x}.{z}.mca"))
    }

    /// The saved chunks of the Tessera region `region`.
    pub fn load(&self, grid: &RegionGrid, region: RegionPos) -> Result<LoadedRegion, StoreError> {
        let size = grid.size.max(1);
        let (x0, z0) = (region.x * size, region.z * size);
        let mut loaded = LoadedRegion::default();
        for fx in (x0 >> 5)..=((x0 + size - 1) >> 5) {
            for fz in (z0 >> 5)..=((z0 + size - 1) >> 5) {
                let wanted = |c: ChunkPos| grid.contains(region, c);
                self.load_file((fx, fz), &wanted, &mut loaded)?;
            }
        }
        Ok(loaded)
    }

    fn load_file(
        &self,
        key: FileKey,
        wanted: &dyn Fn(ChunkPos) -> bool,
        loaded: &mut LoadedRegion,
    ) -> Result<(), StoreError> {
        let path = self.file_path(key);
        let Some(bytes) = read_if_there(&path)? else {
            return Ok(());
        };
        let first_damage = loaded.damaged.len();
        let damage = |chunk, reason: String| Damaged {
            file: path.clone(),
            chunk,
            reason,
            kept_as: None,
        };
        match RegionFile::parse(bytes.clone()) {
            Err(reason) => loaded.damaged.push(damage(None, reason)),
            Ok(file) => {
                for slot in 0..region_file::CHUNKS {
                    let pos = region_file::chunk_at(key, slot);
                    if !wanted(pos) {
                        continue;
                    }
                    match self.read_chunk(&file, slot, pos) {
                        Ok(Some(chunk)) => loaded.chunks.push((pos, chunk)),
                        Ok(None) => {}
                        Err(reason) => loaded.damaged.push(damage(Some(pos), reason)),
                    }
                }
            }
        }
        if loaded.damaged.len() > first_damage {
            let kept = keep_aside(&path, &bytes)?;
            for d in &mut loaded.damaged[first_damage..] {
                error!(file = %d.file.display(), chunk = ?d.chunk, kept_as = %kept.display(),
                    "damaged chunk not loaded: {}", d.reason);
                d.kept_as = Some(kept.clone());
            }
        }
        Ok(())
    }

    /// One chunk of a file; `None` when the file has none there, or only a
    /// half-generated one (vanilla's terrain in the making is not the world).
    fn read_chunk(
        &self,
        file: &RegionFile,
        slot: usize,
        pos: ChunkPos,
    ) -> Result<Option<Chunk>, String> {
        let Some(raw) = file.chunk(slot).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let nbt = self.chunk_nbt(pos, &raw)?;
        if !chunk_nbt::is_full(&nbt) {
            return Ok(None);
        }
        chunk_nbt::from_nbt(pos, &nbt)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn chunk_nbt(&self, pos: ChunkPos, raw: &RawChunk) -> Result<Compound, String> {
        let external;
        let data = if raw.compression & EXTERNAL != 0 {
            // Vanilla keeps a chunk too big for 255 sectors in c.X.Z.mcc.
            let path = self.paths.region.join(format!("c.{}.{}.mcc", pos.x, pos.z));
            external =
                fs::read(&path).map_err(|e| format!("cannot read its {}: {e}", path.display()))?;
            &external
        } else {
            &raw.data
        };
        region_file::read_nbt(raw.compression, data)
    }

    /// Writes these chunks into their region files, keeping every other
    /// chunk those files hold. `still_owner` is asked under each file's lock
    /// right before its rename; when it says no, that file stays as it was
    /// and the save stops with [`StoreError::Fenced`].
    pub fn save(
        &self,
        chunks: &[(ChunkPos, Chunk)],
        still_owner: &dyn Fn() -> bool,
    ) -> Result<(), StoreError> {
        let mut by_file: BTreeMap<FileKey, Vec<(ChunkPos, &Chunk)>> = BTreeMap::new();
        for (pos, chunk) in chunks {
            by_file
                .entry(region_file::file_of(*pos))
                .or_default()
                .push((*pos, chunk));
        }
        if by_file.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(&self.paths.locks).map_err(io(&self.paths.locks))?;
        for (key, new) in by_file {
            self.save_file(key, new, still_owner)?;
        }
        Ok(())
    }

    /// A chunk as it goes into its file: its blocks, and what the chunk the
    /// file held there before carries beyond them.
    fn encode(
        &self,
        key: FileKey,
        pos: ChunkPos,
        chunk: &Chunk,
        before: Option<&RawChunk>,
        now: u32,
    ) -> Result<RawChunk, StoreError> {
        let mut nbt = chunk_nbt::to_nbt(pos, chunk);
        if let Some(old) = before.and_then(|raw| self.chunk_nbt(pos, raw).ok()) {
            chunk_nbt::keep_from(&mut nbt, chunk, pos, &old);
        }
        let mut binary = Vec::new();
        nbt.to_binary(&mut binary, "")
            .map_err(|e| corrupt(&self.file_path(key), format!("cannot encode {pos:?}: {e}")))?;
        region_file::compress(&binary, now)
            .map_err(|e| corrupt(&self.file_path(key), format!("{pos:?}: {e}")))
    }

    fn save_file(
        &self,
        key: FileKey,
        new: Vec<(ChunkPos, &Chunk)>,
        still_owner: &dyn Fn() -> bool,
    ) -> Result<(), StoreError> {
        let path = self.file_path(key);
        let _lock = self.lock(key)?;
        let mut slots: BTreeMap<usize, RawChunk> = BTreeMap::new();
        if let Some(bytes) = read_if_there(&path)? {
            let mut damaged = false;
            match RegionFile::parse(bytes.clone()) {
                Ok(file) => {
                    for slot in 0..region_file::CHUNKS {
                        match file.chunk(slot) {
                            Ok(Some(raw)) => {
                                slots.insert(slot, raw);
                            }
                            Ok(None) => {}
                            Err(_) => damaged = true,
                        }
                    }
                }
                Err(_) => damaged = true,
            }
            if damaged {
                // What cannot be read is dropped from the new file: a copy
                // of the damaged one is kept first (or was, at load).
                let kept = keep_aside(&path, &bytes)?;
                warn!(file = %path.display(), kept_as = %kept.display(),
                    "rewriting a damaged region file from the chunks it still holds");
            }
        }
        let now = now_secs();
        for (pos, chunk) in new {
            let slot = region_file::slot_of(pos);
            let raw = self.encode(key, pos, chunk, slots.get(&slot), now)?;
            slots.insert(slot, raw);
        }
        let chunks: Vec<(usize, RawChunk)> = slots.into_iter().collect();
        replace(&path, &region_file::build(&chunks), still_owner)
    }

    /// An exclusive lock on region file `key`, held until dropped (from
    /// reading the old file to renaming the new one).
    fn lock(&self, key: FileKey) -> Result<fs::File, StoreError> {
        let (x, z) = key;
        let path = self.paths.locks.join(format!("r.{x}.{z}.lock"));
        lock_file(&path)
    }

    fn convert_legacy(&self, legacy: &Path, moved_to: &Path) -> Result<(), StoreError> {
        fs::create_dir_all(&self.paths.locks).map_err(io(&self.paths.locks))?;
        // Nodes starting together convert once: the others wait, then find
        // the folder gone.
        let _lock = lock_file(&self.paths.locks.join("convert.lock"))?;
        if !legacy.is_dir() {
            return Ok(());
        }
        let mut chunks = Vec::new();
        let mut files = 0;
        for entry in fs::read_dir(legacy).map_err(io(legacy))? {
            let path = entry.map_err(io(legacy))?.path();
            if path.extension().is_none_or(|e| e != "tessera") {
                continue;
            }
            let bytes = fs::read(&path).map_err(io(&path))?;
            match legacy::read(&bytes) {
                Ok(mut read) => {
                    files += 1;
                    chunks.append(&mut read);
                }
                // It stays in the moved folder; nothing is deleted.
                Err(reason) => error!(file = %path.display(),
                    "legacy region file damaged, not converted: {reason}"),
            }
        }
        self.save(&chunks, &|| true)?;
        let mut target = moved_to.to_owned();
        if target.exists() {
            target = moved_to.with_extension(format!("converted-{}", now_secs()));
        }
        fs::rename(legacy, &target).map_err(io(legacy))?;
        info!(chunks = chunks.len(), files, moved_to = %target.display(),
            "converted the world saved by the last release to Anvil");
        Ok(())
    }
}

fn read_if_there(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

#[cfg(test)]
mod tests;
