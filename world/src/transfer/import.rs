//! `tessera import`: a vanilla 1.20.1 world folder into `data_dir`.
//!
//! Every chunk is read and checked (its region file's layout, compression,
//! NBT, DataVersion, and for finished chunks every block) on all cores,
//! and the checked chunks are written, byte for byte as vanilla stored
//! them, into region files in a staging folder inside `data_dir`. Only
//! when the whole world checked out are they moved into `data_dir/region/`
//! with the world's level.dat: a refused import changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use valence_protocol::nbt::Value;
use valence_protocol::ChunkPos;

use super::files::{self, FileKey};
use super::{BadChunk, Progress, TransferError};
use crate::anvil::chunk_nbt::{self, DATA_VERSION};
use crate::anvil::in_use;
use crate::anvil::level_dat::LevelDat;
use crate::anvil::region_file::{self, RawChunk, RegionFile, EXTERNAL};
use crate::journal::Journals;

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Import over an existing world, which is moved aside first.
    pub force: bool,
    /// Import what checks out and leave damaged chunks out.
    pub skip_damaged: bool,
}

#[derive(Debug)]
pub struct ImportReport {
    pub chunks: usize,
    pub region_files: usize,
    /// Damaged chunks left out (only with `skip_damaged`).
    pub skipped: Vec<BadChunk>,
    /// Files in the source's `playerdata/`, which are not imported.
    pub player_files: usize,
    /// Where the world that was in `data_dir` went (only with `force`).
    pub moved_aside: Option<PathBuf>,
    pub level: LevelDat,
}

/// What one region file of the source came to.
#[derive(Default)]
struct FileOutcome {
    chunks: usize,
    externals: Vec<(i32, i32)>,
    bad: Vec<BadChunk>,
    versions: BTreeMap<i32, usize>,
}

enum Verdict {
    Keep { external: bool },
    OtherVersion(i32),
    Bad(String),
}

/// Imports the world in `source` into `data_dir`.
pub fn import(
    source: &Path,
    data_dir: &Path,
    options: ImportOptions,
    progress: &Progress,
) -> Result<ImportReport, TransferError> {
    let level_bytes = source_level(source)?;
    let level = LevelDat::parse(&source.join("level.dat"), &level_bytes)?;
    files::create_dir(data_dir)?;
    if same_folder(source, data_dir) {
        return Err(TransferError::NotAWorld {
            dir: source.to_owned(),
            reason: "it is the server's own data_dir".into(),
        });
    }
    let _alone = in_use::alone(data_dir)?.ok_or_else(|| TransferError::InUse(data_dir.into()))?;
    let existing = existing_world(data_dir)?;
    if let (Some(what), false) = (&existing, options.force) {
        return Err(TransferError::NotEmpty {
            dir: data_dir.to_owned(),
            what: what.clone(),
        });
    }
    let source_region = source.join("region");
    let sources = files::region_files(&source_region)?;
    let mut total = 0;
    for (_, path) in &sources {
        total += files::chunks_listed(path)?;
    }
    progress.set_total(total);

    let staging = Staging::new(data_dir)?;
    let outcomes = check_all(&sources, &source_region, &staging.region, progress)?;
    let mut bad = Vec::new();
    let mut versions: BTreeMap<i32, usize> = BTreeMap::new();
    let mut chunks = 0;
    for outcome in &outcomes {
        chunks += outcome.chunks;
        bad.extend(outcome.bad.iter().cloned());
        for (v, n) in &outcome.versions {
            *versions.entry(*v).or_default() += n;
        }
    }
    if !versions.is_empty() {
        return Err(TransferError::OtherVersions(versions));
    }
    if !bad.is_empty() && !options.skip_damaged {
        return Err(TransferError::Damaged(bad));
    }
    for (x, z) in outcomes.iter().flat_map(|o| o.externals.iter()) {
        let name = format!("c.{x}.{z}.mcc");
        let bytes = files::read(&source_region.join(&name))?;
        files::write(&staging.region.join(name), &bytes)?;
    }
    let moved_aside = match existing {
        Some(_) => Some(move_aside(data_dir)?),
        None => None,
    };
    let region = data_dir.join("region");
    files::create_dir(&region)?;
    for staged in files::plain_files(&staging.region)? {
        if let Some(name) = staged.file_name() {
            files::rename(&staged, &region.join(name))?;
        }
    }
    files::write(&data_dir.join("level.dat"), &level_bytes)?;
    let player_files = files::plain_files(&source.join("playerdata"))?
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .count();
    Ok(ImportReport {
        chunks,
        region_files: sources.len(),
        skipped: bad,
        player_files,
        moved_aside,
        level,
    })
}

fn source_level(source: &Path) -> Result<Vec<u8>, TransferError> {
    let path = source.join("level.dat");
    match std::fs::read(&path) {
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(TransferError::NotAWorld {
            dir: source.to_owned(),
            reason: format!("cannot read its level.dat: {e}"),
        }),
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What makes `data_dir` an existing world, if anything does.
fn existing_world(data_dir: &Path) -> Result<Option<String>, TransferError> {
    let mut what = Vec::new();
    if data_dir.join("level.dat").exists() {
        what.push("level.dat".to_owned());
    }
    let regions = files::region_files(&data_dir.join("region"))?.len();
    if regions > 0 {
        what.push(format!("{regions} region files"));
    }
    if !Journals::new(data_dir, 1).unsaved()?.is_empty() {
        what.push("journal segments".to_owned());
    }
    Ok((!what.is_empty()).then(|| what.join(", ")))
}

/// Moves the world in `data_dir` (level.dat, region files, journal) into
/// `data_dir/before-import-<time>/`; player records and accounts stay.
fn move_aside(data_dir: &Path) -> Result<PathBuf, TransferError> {
    let aside = data_dir.join(format!("before-import-{}", files::unix_secs()));
    let aside_region = aside.join("region");
    files::create_dir(&aside_region)?;
    for name in ["level.dat", "level.dat_old"] {
        let path = data_dir.join(name);
        if path.exists() {
            files::rename(&path, &aside.join(name))?;
        }
    }
    for path in files::plain_files(&data_dir.join("region"))? {
        if let Some(name) = path.file_name() {
            files::rename(&path, &aside_region.join(name))?;
        }
    }
    let journal = data_dir.join("journal");
    if journal.exists() {
        files::rename(&journal, &aside.join("journal"))?;
    }
    Ok(aside)
}

/// A folder in `data_dir` the checked region files are written to first;
/// removed when dropped, whatever the import came to.
struct Staging {
    root: PathBuf,
    region: PathBuf,
}

impl Staging {
    fn new(data_dir: &Path) -> Result<Self, TransferError> {
        let root = data_dir.join(format!(
            ".import-{}-{}",
            files::unix_secs(),
            std::process::id()
        ));
        let region = root.join("region");
        files::create_dir(&region)?;
        Ok(Self { root, region })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Checks every source file on every core; each writes its checked
/// chunks into `staging`.
fn check_all(
    sources: &[(FileKey, PathBuf)],
    source_region: &Path,
    staging: &Path,
    progress: &Progress,
) -> Result<Vec<FileOutcome>, TransferError> {
    let workers = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .min(sources.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<FileOutcome, TransferError>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((key, path)) = sources.get(i) else {
                    return;
                };
                let outcome = check_file(*key, path, source_region, staging, progress);
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(outcome);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .collect()
}

fn check_file(
    key: FileKey,
    path: &Path,
    source_region: &Path,
    staging: &Path,
    progress: &Progress,
) -> Result<FileOutcome, TransferError> {
    let mut outcome = FileOutcome::default();
    let bad = |chunk: Option<ChunkPos>, reason: String| BadChunk {
        file: path.to_owned(),
        chunk: chunk.map(|c| (c.x, c.z)),
        reason,
    };
    let file = match RegionFile::parse(files::read(path)?) {
        Ok(file) => file,
        Err(reason) => {
            outcome.bad.push(bad(None, reason));
            return Ok(outcome);
        }
    };
    let mut kept: Vec<(usize, RawChunk)> = Vec::new();
    for slot in 0..region_file::CHUNKS {
        let pos = region_file::chunk_at(key, slot);
        let raw = match file.chunk(slot) {
            Ok(Some(raw)) => raw,
            Ok(None) => continue,
            Err(e) => {
                outcome.bad.push(bad(Some(pos), e.to_string()));
                progress.add(1);
                continue;
            }
        };
        match check_chunk(pos, &raw, source_region) {
            Verdict::Keep { external } => {
                if external {
                    outcome.externals.push((pos.x, pos.z));
                }
                kept.push((slot, raw));
            }
            Verdict::OtherVersion(v) => *outcome.versions.entry(v).or_default() += 1,
            Verdict::Bad(reason) => outcome.bad.push(bad(Some(pos), reason)),
        }
        progress.add(1);
    }
    outcome.chunks = kept.len();
    if !kept.is_empty() {
        let name = path.file_name().unwrap_or_default();
        files::write(&staging.join(name), &region_file::build(&kept))?;
    }
    Ok(outcome)
}

/// Whether the chunk at `pos` can be imported as it is.
fn check_chunk(pos: ChunkPos, raw: &RawChunk, source_region: &Path) -> Verdict {
    let external = raw.compression & EXTERNAL != 0;
    let outside;
    let data = if external {
        let path = source_region.join(format!("c.{}.{}.mcc", pos.x, pos.z));
        outside = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => return Verdict::Bad(format!("cannot read its {}: {e}", path.display())),
        };
        &outside
    } else {
        &raw.data
    };
    let binary = match region_file::decompress(raw.compression, data) {
        Ok(binary) => binary,
        Err(reason) => return Verdict::Bad(reason),
    };
    let nbt = match crate::anvil::nbt::parse(&binary) {
        Ok(nbt) => nbt,
        Err(e) => return Verdict::Bad(format!("its NBT does not parse: {e}")),
    };
    match nbt.get("DataVersion") {
        Some(Value::Int(DATA_VERSION)) => {}
        Some(Value::Int(v)) => return Verdict::OtherVersion(*v),
        _ => return Verdict::Bad("it has no DataVersion".into()),
    }
    // Vanilla's unfinished chunks are kept as they are; Tessera reads only
    // finished ones, so only those must hold blocks it knows.
    if chunk_nbt::is_full(&nbt) {
        if let Err(e) = chunk_nbt::from_nbt(pos, &nbt) {
            return Verdict::Bad(e.to_string());
        }
    }
    Verdict::Keep { external }
}
