//! Each region's journal: the block changes it confirmed, appended and
//! fsynced before anyone is shown them, so a node that dies loses nothing a
//! player saw. A region's journal lives in `data_dir/journal/r.X.Z/`, on the
//! storage shared by every node, next to the Anvil region files.
//!
//! Fencing: every segment is named by the ownership epoch it was written
//! under. A new owner first creates its own segment, whose header fixes how
//! far it read each older segment, and only then reads them: whatever an
//! outdated owner appends later lies past those bounds and is never
//! replayed, by this owner or any after it. An owner that finds a segment
//! of a newer epoch is outdated and refuses to run the region.

mod frame;
pub(crate) mod player;
pub(crate) mod segment;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use uuid::Uuid;

use crate::coords::RegionPos;
pub use player::{keep_latest, JournalPlayer};
pub use segment::{BatchRecord, JournalChange, SegmentId};
use segment::{Bound, Header};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} holds a segment of epoch {newer}, newer than this owner's {ours}: another node owns the region now")]
    Fenced {
        path: PathBuf,
        newer: u64,
        ours: u64,
    },
    #[error("{path} was written with world.region_size = {found}, but it is {configured} now; set it back until the journal is saved into the region files")]
    OtherGrid {
        path: PathBuf,
        found: i32,
        configured: i32,
    },
}

impl JournalError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn corrupt(path: &Path, reason: impl ToString) -> Self {
        Self::Corrupt {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// The journals of every region of one world.
#[derive(Debug, Clone)]
pub struct Journals {
    root: PathBuf,
    region_size: i32,
}

/// What a new owner found in the journal: every change since the region
/// files were last saved, in the order they were made.
#[derive(Debug, Default)]
pub struct Replay {
    pub changes: Vec<JournalChange>,
    /// The latest journaled state of each player, carried or in a segment.
    pub players: HashMap<Uuid, JournalPlayer>,
    pub segments: usize,
    pub batches: usize,
}

/// A region's journal as read: what to replay, and how far each segment
/// was read.
struct RegionRead {
    replay: Replay,
    bounds: Vec<Bound>,
    next_seq: u64,
}

/// What a damaged segment does to a read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Damaged {
    /// A new owner keeps a copy and replays the rest.
    KeepAside,
    /// A look that owns nothing leaves the file as it is.
    Skip,
}

/// Reads the segments of one region's journal, each up to the bound the
/// owner after it recorded, and the players' states carried beside them.
fn read_region(
    region: &str,
    dir: &Path,
    existing: &[(SegmentId, PathBuf)],
    damaged: Damaged,
) -> Result<RegionRead, JournalError> {
    let mut read = Vec::new();
    let mut limits: HashMap<SegmentId, u64> = HashMap::new();
    for (id, path) in existing {
        let bytes = fs::read(path).map_err(|e| JournalError::io(path, e))?;
        let segment = match segment::read(path, &bytes, None) {
            Ok(segment) => segment,
            Err(e) => {
                if damaged == Damaged::KeepAside {
                    keep_aside(path, &e);
                }
                continue;
            }
        };
        if let Some(header) = &segment.header {
            for bound in &header.bounds {
                if bound.segment.epoch < id.epoch {
                    let limit = limits.entry(bound.segment).or_insert(bound.len);
                    *limit = (*limit).min(bound.len);
                }
            }
        }
        read.push((*id, path.clone(), bytes, segment));
    }
    let mut replay = Replay::default();
    match player::read_carried(dir) {
        Ok(carried) => {
            for state in carried {
                keep_latest(&mut replay.players, state);
            }
        }
        Err(e @ JournalError::Corrupt { .. }) if damaged == Damaged::KeepAside => {
            keep_aside(&dir.join(player::CARRIED_FILE), &e);
        }
        Err(e) => return Err(e),
    }
    let mut bounds = Vec::new();
    let mut next_seq = 0;
    for (id, path, bytes, segment) in read {
        let segment = match limits.get(&id) {
            Some(&limit) => segment::read(&path, &bytes, Some(limit))?,
            None => segment,
        };
        if segment.trailing > 0 && damaged == Damaged::KeepAside {
            info!(%region, file = %path.display(), bytes = segment.trailing, "journal segment ends in a torn or fenced-off write; replaying up to it");
        }
        replay.segments += 1;
        replay.batches += segment.batches.len();
        for batch in segment.batches {
            next_seq = next_seq.max(batch.seq + 1);
            replay.changes.extend(batch.changes);
            for state in batch.players {
                keep_latest(&mut replay.players, state);
            }
        }
        bounds.push(Bound {
            segment: id,
            len: segment.valid_len,
        });
    }
    Ok(RegionRead {
        replay,
        bounds,
        next_seq,
    })
}

/// Makes a directory entry (a new or removed file) durable. Some network
/// file systems cannot fsync a directory; they make entries durable anyway.
fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(22) => Ok(()),
        Err(e) => Err(JournalError::io(dir, e)),
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Journals {
    pub fn new(data_dir: &Path, region_size: i32) -> Self {
        Self {
            root: data_dir.join("journal"),
            region_size,
        }
    }

    fn dir(&self, region: RegionPos) -> PathBuf {
        self.root.join(format!("r.{}.{}", region.x, region.z))
    }

    /// Every segment holding at least one change, and its header.
    fn segments_with_changes(&self) -> Result<Vec<(PathBuf, Option<Header>)>, JournalError> {
        let regions = match fs::read_dir(&self.root) {
            Ok(regions) => regions,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(JournalError::io(&self.root, e)),
        };
        let mut found = Vec::new();
        for region in regions {
            let region = region.map_err(|e| JournalError::io(&self.root, e))?;
            for (_, path) in segment::list(&region.path())? {
                let bytes = fs::read(&path).map_err(|e| JournalError::io(&path, e))?;
                let Ok(read) = segment::read(&path, &bytes, None) else {
                    continue;
                };
                if !read.batches.is_empty() {
                    found.push((path, read.header));
                }
            }
        }
        Ok(found)
    }

    /// Refuses a world whose journal was cut into regions of another size:
    /// its changes would be looked for in the wrong folders and lost.
    pub fn check_grid(&self) -> Result<(), JournalError> {
        for (path, header) in self.segments_with_changes()? {
            if let Some(header) = header {
                if header.region_size != self.region_size {
                    return Err(JournalError::OtherGrid {
                        path,
                        found: header.region_size,
                        configured: self.region_size,
                    });
                }
            }
        }
        Ok(())
    }

    /// The journal segments holding changes the region files may lack (a
    /// server that stopped cleanly leaves none).
    pub fn unsaved(&self) -> Result<Vec<PathBuf>, JournalError> {
        Ok(self
            .segments_with_changes()?
            .into_iter()
            .map(|(path, _)| path)
            .collect())
    }

    /// Becomes the writer of `region`'s journal under `epoch`: fences the
    /// older segments, then reads what they hold.
    pub fn take_over(
        &self,
        region: RegionPos,
        epoch: u64,
    ) -> Result<(Replay, JournalWriter), JournalError> {
        let dir = self.dir(region);
        fs::create_dir_all(&dir).map_err(|e| JournalError::io(&dir, e))?;
        let existing = segment::list(&dir)?;
        if let Some((newer, path)) = existing.iter().rev().find(|(id, _)| id.epoch > epoch) {
            return Err(JournalError::Fenced {
                path: path.clone(),
                newer: newer.epoch,
                ours: epoch,
            });
        }
        let RegionRead {
            replay,
            bounds,
            next_seq,
        } = read_region(&region.to_string(), &dir, &existing, Damaged::KeepAside)?;
        let gen = existing
            .iter()
            .filter(|(id, _)| id.epoch == epoch)
            .map(|(id, _)| id.gen + 1)
            .max()
            .unwrap_or(0);
        let mut writer = JournalWriter {
            dir,
            region,
            region_size: self.region_size,
            current: SegmentId { epoch, gen },
            file: None,
            bounds,
            live: existing.into_iter().map(|(id, _)| id).collect(),
            rotate: false,
            next_seq,
        };
        writer.open_segment()?;
        Ok((replay, writer))
    }
}

impl Journals {
    /// The latest state of each player that any region's journal holds,
    /// read without taking any region over: at start-up, these go into
    /// the player records before anyone logs in. A region whose journal
    /// cannot be read is reported and left out.
    pub fn scan_players(&self) -> (HashMap<Uuid, JournalPlayer>, Vec<JournalError>) {
        let mut players = HashMap::new();
        let mut failed = Vec::new();
        let regions = match fs::read_dir(&self.root) {
            Ok(regions) => regions,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (players, failed),
            Err(e) => return (players, vec![JournalError::io(&self.root, e)]),
        };
        for region in regions.flatten() {
            let dir = region.path();
            let name = region.file_name().to_string_lossy().into_owned();
            let read = segment::list(&dir)
                .and_then(|existing| read_region(&name, &dir, &existing, Damaged::Skip));
            match read {
                Ok(read) => {
                    for state in read.replay.players.into_values() {
                        keep_latest(&mut players, state);
                    }
                }
                Err(e) => failed.push(e),
            }
        }
        (players, failed)
    }
}

/// A damaged segment is copied aside, not lost: what checks out of it
/// might still be wanted by hand.
fn keep_aside(path: &Path, error: &JournalError) {
    let aside = path.with_extension(format!("log.corrupt-{}", unix_seconds()));
    match fs::copy(path, &aside) {
        Ok(_) => {
            warn!(file = %path.display(), kept = %aside.display(), "journal segment damaged ({error}); a copy is kept")
        }
        Err(e) => {
            warn!(file = %path.display(), "journal segment damaged ({error}); no copy kept: {e}")
        }
    }
}

/// Appends a region's batches to its current segment. Owned by one region
/// actor; each append runs on a blocking thread, one at a time.
#[derive(Debug)]
pub struct JournalWriter {
    dir: PathBuf,
    region: RegionPos,
    region_size: i32,
    current: SegmentId,
    file: Option<File>,
    /// How far this owner read the segments of its predecessors; repeated
    /// in every segment it writes.
    bounds: Vec<Bound>,
    /// Segments on disk that the next checkpoint may remove.
    live: Vec<SegmentId>,
    rotate: bool,
    next_seq: u64,
}

/// The segments a region file save makes obsolete: removed once the
/// chunks are on disk, oldest first, so a crash between leaves a suffix.
#[derive(Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    obsolete: Vec<PathBuf>,
    /// The players' latest states, written beside the segments before
    /// they are removed.
    carried: Vec<JournalPlayer>,
}

impl Checkpoint {
    pub fn carry(&mut self, players: Vec<JournalPlayer>) {
        self.carried = players;
    }

    pub fn finish(self) -> Result<usize, JournalError> {
        let carried_before = self.dir.join(player::CARRIED_FILE).exists();
        if !self.carried.is_empty() || carried_before {
            player::write_carried(&self.dir, self.carried)?;
        }
        let mut removed = 0;
        for path in &self.obsolete {
            match fs::remove_file(path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(JournalError::io(path, e)),
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

impl JournalWriter {
    pub fn epoch(&self) -> u64 {
        self.current.epoch
    }

    /// The sequence number of the next batch.
    pub fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Starts a new segment; a crash before its header is durable leaves
    /// at worst an empty file, which replay skips. A header that cannot be
    /// written (a full disk) takes its file with it: every retry starts a
    /// segment, and none of them may pile up.
    fn open_segment(&mut self) -> Result<(), JournalError> {
        let path = self.dir.join(self.current.file_name());
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| JournalError::io(&path, e))?;
        let mut bytes = Vec::new();
        let header = Header::new(
            self.region,
            self.region_size,
            self.current,
            self.bounds.clone(),
        );
        segment::encode_header(&header, &mut bytes);
        if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_data()) {
            drop(file);
            if let Err(removed) = fs::remove_file(&path) {
                warn!(file = %path.display(), "a journal segment whose header failed stays: {removed}");
                self.live.push(self.current);
            }
            return Err(JournalError::io(&path, e));
        }
        self.live.push(self.current);
        sync_dir(&self.dir)?;
        self.file = Some(file);
        Ok(())
    }

    /// Appends one batch and waits until it is on disk; returns the bytes
    /// written. After a failure the segment is given up (its tail may hold
    /// part of the batch) and the next append starts a new one.
    pub fn append(&mut self, batch: &BatchRecord) -> Result<usize, JournalError> {
        if self.file.is_none() || self.rotate {
            self.current.gen += 1;
            self.file = None;
            self.rotate = false;
            self.open_segment()?;
        }
        let mut bytes = Vec::new();
        segment::encode_batch(batch, &mut bytes);
        let path = self.dir.join(self.current.file_name());
        let file = self.file.as_mut().expect("a segment was just opened");
        let written = file.write_all(&bytes).and_then(|()| file.sync_data());
        if let Err(e) = written {
            self.file = None;
            return Err(JournalError::io(&path, e));
        }
        Ok(bytes.len())
    }

    /// Every segment written so far becomes obsolete once the chunks as
    /// they are now are saved; later batches go to a new segment.
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.rotate = true;
        let obsolete = std::mem::take(&mut self.live)
            .into_iter()
            .map(|id| self.dir.join(id.file_name()))
            .collect();
        Checkpoint {
            dir: self.dir.clone(),
            obsolete,
            carried: Vec::new(),
        }
    }

    /// A save that failed leaves its segments for the next checkpoint.
    pub fn checkpoint_failed(&mut self, checkpoint: Checkpoint) {
        let mut ids: Vec<SegmentId> = checkpoint
            .obsolete
            .iter()
            .filter_map(|p| p.file_name()?.to_str().and_then(SegmentId::parse))
            .collect();
        ids.append(&mut self.live);
        ids.sort();
        ids.dedup();
        self.live = ids;
    }

    /// What a region file save checks before it replaces a file.
    pub fn fence(&self) -> Fence {
        Fence {
            dir: self.dir.clone(),
            epoch: self.current.epoch,
        }
    }
}

/// Tells whether a newer owner has begun its own segment: a region file
/// this owner saved now could overwrite what that owner starts from.
#[derive(Debug, Clone)]
pub struct Fence {
    dir: PathBuf,
    epoch: u64,
}

impl Fence {
    /// Whether a newer owner exists; a journal folder that cannot be read
    /// counts as one, since nothing then shows there is none.
    pub fn newer_owner(&self) -> bool {
        segment::list(&self.dir).map_or(true, |segments| {
            segments.iter().any(|(id, _)| id.epoch > self.epoch)
        })
    }
}

#[cfg(test)]
mod tests;
