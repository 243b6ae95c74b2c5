//! One file of a region's journal: a header record naming its owner and
//! how far it read the segments before it, then one record per group commit.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::frame;
use super::player::JournalPlayer;
use super::JournalError;
use crate::coords::RegionPos;

/// Format 2 added the players' states to each batch; format 1 segments,
/// left by the release before, are still read.
const FORMAT: u32 = 2;
const FORMAT_WITHOUT_PLAYERS: u32 = 1;

/// Which segment: the ownership epoch it was written under, then its place
/// among that epoch's segments. Replay follows this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SegmentId {
    pub epoch: u64,
    pub gen: u32,
}

impl SegmentId {
    pub fn file_name(self) -> String {
        format!("{:016x}-{:08x}.log", self.epoch, self.gen)
    }

    pub fn parse(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".log")?;
        let (epoch, gen) = stem.split_once('-')?;
        if epoch.len() != 16 || gen.len() != 8 {
            return None;
        }
        Some(Self {
            epoch: u64::from_str_radix(epoch, 16).ok()?,
            gen: u32::from_str_radix(gen, 16).ok()?,
        })
    }
}

/// How much of an earlier segment a successor took: whatever an outdated
/// owner appends after that never becomes part of the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    pub segment: SegmentId,
    pub len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub region: RegionPos,
    pub region_size: i32,
    pub id: SegmentId,
    pub bounds: Vec<Bound>,
}

impl Header {
    pub fn new(region: RegionPos, region_size: i32, id: SegmentId, bounds: Vec<Bound>) -> Self {
        Self {
            format: FORMAT,
            region,
            region_size,
            id,
            bounds,
        }
    }
}

/// One group commit: the blocks it set, in the order they were set, and
/// the latest state of each player whose inventory changed with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub seq: u64,
    pub changes: Vec<JournalChange>,
    pub players: Vec<JournalPlayer>,
}

#[derive(Deserialize)]
struct BatchRecordWithoutPlayers {
    seq: u64,
    changes: Vec<JournalChange>,
}

fn decode_batch(format: u32, payload: &[u8]) -> postcard::Result<BatchRecord> {
    if format == FORMAT_WITHOUT_PLAYERS {
        let old: BatchRecordWithoutPlayers = postcard::from_bytes(payload)?;
        return Ok(BatchRecord {
            seq: old.seq,
            changes: old.changes,
            players: Vec::new(),
        });
    }
    postcard::from_bytes(payload)
}

/// A block set to a state (its raw protocol id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalChange {
    pub x: i32,
    pub y: i32,
    pub z: i32,
    pub state: u16,
}

/// A segment as read back: its header (none if even that was torn), the
/// batches that check out, and how many bytes they fill.
#[derive(Debug)]
pub struct ReadSegment {
    pub header: Option<Header>,
    pub batches: Vec<BatchRecord>,
    pub valid_len: u64,
    /// Bytes after the valid prefix: a torn last write, or damage.
    pub trailing: u64,
}

/// Reads `bytes` of the segment at `path`, up to `bound` bytes if a
/// successor fixed how far it read.
pub fn read(path: &Path, bytes: &[u8], bound: Option<u64>) -> Result<ReadSegment, JournalError> {
    let usable = match bound {
        Some(len) => &bytes[..bytes.len().min(len as usize)],
        None => bytes,
    };
    let (records, valid_len) = frame::decode(usable);
    let mut records = records.into_iter();
    let header = match records.next() {
        Some(payload) => Some(
            postcard::from_bytes::<Header>(payload)
                .map_err(|e| JournalError::corrupt(path, format!("segment header: {e}")))?,
        ),
        None => None,
    };
    let format = header.as_ref().map_or(FORMAT, |h| h.format);
    if format != FORMAT && format != FORMAT_WITHOUT_PLAYERS {
        return Err(JournalError::corrupt(
            path,
            format!("unknown segment format {format}"),
        ));
    }
    let batches = records
        .map(|payload| {
            decode_batch(format, payload)
                .map_err(|e| JournalError::corrupt(path, format!("batch record: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(ReadSegment {
        header,
        batches,
        valid_len: valid_len as u64,
        trailing: (usable.len() - valid_len) as u64,
    })
}

pub fn encode_header(header: &Header, out: &mut Vec<u8>) {
    let payload = postcard::to_allocvec(header).expect("a header always serialises");
    frame::encode(&payload, out);
}

pub fn encode_batch(batch: &BatchRecord, out: &mut Vec<u8>) {
    let payload = postcard::to_allocvec(batch).expect("a batch always serialises");
    frame::encode(&payload, out);
}

/// The segments in a region's journal folder, oldest first.
pub fn list(dir: &Path) -> Result<Vec<(SegmentId, PathBuf)>, JournalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io(dir, e)),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        if let Some(id) = entry.file_name().to_str().and_then(SegmentId::parse) {
            segments.push((id, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_and_parse_back() {
        let a = SegmentId { epoch: 2, gen: 10 };
        let b = SegmentId { epoch: 10, gen: 0 };
        assert_eq!(SegmentId::parse(&a.file_name()), Some(a));
        assert!(a.file_name() < b.file_name());
        assert_eq!(SegmentId::parse("0002-0001.log"), None);
        assert_eq!(SegmentId::parse("r.0.0.mca"), None);
    }
}
