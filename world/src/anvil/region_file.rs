//! The sector layout of an Anvil region file (`r.X.Z.mca`): 32 × 32 chunks,
//! an 8 KiB header of 1024 locations (3-byte sector offset, 1-byte sector
//! count) and 1024 timestamps, then each chunk in whole 4 KiB sectors as a
//! big-endian length, a compression byte and the compressed NBT.

use std::io::Read;

use flate2::read::{GzDecoder, ZlibDecoder, ZlibEncoder};
use flate2::Compression;
use valence_protocol::nbt::Compound;
use valence_protocol::ChunkPos;

pub const SECTOR: usize = 4096;
const HEADER: usize = 2 * SECTOR;
pub const CHUNKS: usize = 1024;
/// A chunk's data must fit the one-byte sector count.
const MAX_SECTORS: usize = 255;
/// Set on the compression byte when the chunk lives in `c.X.Z.mcc` beside
/// the region file (vanilla does that for chunks over 1 MiB).
pub const EXTERNAL: u8 = 0x80;
const GZIP: u8 = 1;
const ZLIB: u8 = 2;
pub const NONE: u8 = 3;
/// No chunk of 1.20.1 comes near this; it stops a zlib bomb from eating memory.
const MAX_INFLATED: u64 = 256 << 20;

/// The region file holding a chunk.
pub fn file_of(chunk: ChunkPos) -> (i32, i32) {
    (chunk.x >> 5, chunk.z >> 5)
}

/// A chunk's slot in its region file's header.
pub fn slot_of(chunk: ChunkPos) -> usize {
    (chunk.x & 31) as usize + (chunk.z & 31) as usize * 32
}

/// The chunk in slot `slot` of region file (`rx`, `rz`).
pub fn chunk_at(file: (i32, i32), slot: usize) -> ChunkPos {
    ChunkPos::new(
        file.0 * 32 + (slot % 32) as i32,
        file.1 * 32 + (slot / 32) as i32,
    )
}

/// One chunk's stored bytes, as the file has them: compression byte plus
/// compressed data, so chunks we do not change are kept byte for byte.
#[derive(Clone, Debug, PartialEq)]
pub struct RawChunk {
    pub compression: u8,
    pub data: Vec<u8>,
    pub timestamp: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SlotError {
    #[error("the header points to sectors {offset}..{end}, past the file's end at {len} sectors")]
    OutOfFile {
        offset: usize,
        end: usize,
        len: usize,
    },
    #[error("the header points into the header (sector {0})")]
    InHeader(usize),
    #[error("the chunk's length {length} does not fit its {sectors} sectors")]
    BadLength { length: usize, sectors: usize },
}

/// A region file's bytes with a header that checks out.
pub struct RegionFile {
    bytes: Vec<u8>,
}

impl RegionFile {
    /// Refused when the file is too short to hold its header; an empty
    /// file (vanilla makes one before its first chunk) is an empty region.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, String> {
        if !bytes.is_empty() && bytes.len() < HEADER {
            return Err(format!(
                "the file has {} bytes, less than its {HEADER}-byte header",
                bytes.len()
            ));
        }
        Ok(Self { bytes })
    }

    fn header_u32(&self, at: usize) -> u32 {
        let b = &self.bytes[at..at + 4];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The chunk in `slot`, `None` if the file has none there.
    pub fn chunk(&self, slot: usize) -> Result<Option<RawChunk>, SlotError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let location = self.header_u32(slot * 4);
        let (offset, sectors) = ((location >> 8) as usize, (location & 0xff) as usize);
        if location == 0 {
            return Ok(None);
        }
        if offset < 2 {
            return Err(SlotError::InHeader(offset));
        }
        let len = self.bytes.len().div_ceil(SECTOR);
        let start = offset * SECTOR;
        // The last sector may lack its padding; the length must still fit.
        if offset + sectors > len || start + 5 > self.bytes.len() {
            return Err(SlotError::OutOfFile {
                offset,
                end: offset + sectors,
                len,
            });
        }
        let b = &self.bytes[start..start + 4];
        let length = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if length == 0 || 4 + length > sectors * SECTOR || start + 4 + length > self.bytes.len() {
            return Err(SlotError::BadLength { length, sectors });
        }
        Ok(Some(RawChunk {
            compression: self.bytes[start + 4],
            data: self.bytes[start + 5..start + 4 + length].to_vec(),
            timestamp: self.header_u32(SECTOR + slot * 4),
        }))
    }
}

/// Compresses a chunk's binary NBT the way vanilla does (zlib).
pub fn compress(nbt: &[u8], timestamp: u32) -> Result<RawChunk, String> {
    let mut data = Vec::new();
    ZlibEncoder::new(nbt, Compression::default())
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot compress: {e}"))?;
    if (5 + data.len()).div_ceil(SECTOR) > MAX_SECTORS {
        return Err(format!(
            "chunk of {} compressed bytes is too big",
            data.len()
        ));
    }
    Ok(RawChunk {
        compression: ZLIB,
        data,
        timestamp,
    })
}

/// The binary NBT of a chunk from its compressed bytes (for an external
/// chunk, the `.mcc` file's bytes; its compression byte has [`EXTERNAL`]).
pub fn decompress(compression: u8, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let result = match compression & !EXTERNAL {
        GZIP => GzDecoder::new(data)
            .take(MAX_INFLATED)
            .read_to_end(&mut out),
        ZLIB => ZlibDecoder::new(data)
            .take(MAX_INFLATED)
            .read_to_end(&mut out),
        NONE => {
            out.extend_from_slice(data);
            Ok(out.len())
        }
        other => return Err(format!("unknown compression {other}")),
    };
    result.map_err(|e| format!("cannot decompress the chunk: {e}"))?;
    Ok(out)
}

/// A chunk's NBT from its compressed bytes (see [`decompress`]).
pub fn read_nbt(compression: u8, data: &[u8]) -> Result<Compound, String> {
    let binary = decompress(compression, data)?;
    super::nbt::parse(&binary).map_err(|e| format!("its NBT does not parse: {e}"))
}

/// A whole region file from its chunks, laid out one after another.
pub fn build(chunks: &[(usize, RawChunk)]) -> Vec<u8> {
    let mut bytes = vec![0u8; HEADER];
    for (slot, chunk) in chunks {
        let offset = bytes.len() / SECTOR;
        let length = 1 + chunk.data.len();
        let sectors = (4 + length).div_ceil(SECTOR);
        let location = ((offset as u32) << 8) | sectors as u32;
        bytes[slot * 4..slot * 4 + 4].copy_from_slice(&location.to_be_bytes());
        let ts = SECTOR + slot * 4;
        bytes[ts..ts + 4].copy_from_slice(&chunk.timestamp.to_be_bytes());
        bytes.extend_from_slice(&(length as u32).to_be_bytes());
        bytes.push(chunk.compression);
        bytes.extend_from_slice(&chunk.data);
        bytes.resize((offset + sectors) * SECTOR, 0);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_back_from_their_slots() {
        let a = compress(b"first chunk", 7).unwrap();
        let big: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let b = compress(&big, 9).unwrap();
        let bytes = build(&[(0, a.clone()), (1023, b.clone())]);
        assert_eq!(bytes.len() % SECTOR, 0);
        let file = RegionFile::parse(bytes).unwrap();
        assert_eq!(file.chunk(0).unwrap(), Some(a.clone()));
        assert_eq!(file.chunk(1023).unwrap(), Some(b.clone()));
        assert_eq!(file.chunk(5).unwrap(), None);
        assert_eq!(decompress(a.compression, &a.data).unwrap(), b"first chunk");
        assert_eq!(decompress(b.compression, &b.data).unwrap(), big);
        assert_eq!(decompress(NONE, b"raw").unwrap(), b"raw");
        assert!(decompress(4, b"lz4").is_err());
    }

    #[test]
    fn slots_map_to_chunks_with_negative_coordinates() {
        let chunk = ChunkPos::new(-1, -33);
        assert_eq!(file_of(chunk), (-1, -2));
        assert_eq!(chunk_at(file_of(chunk), slot_of(chunk)), chunk);
    }

    #[test]
    fn a_truncated_file_loses_only_what_was_cut() {
        let a = compress(&[1; 100], 1).unwrap();
        let b = compress(
            &(0..30_000u32).map(|i| (i * 7919) as u8).collect::<Vec<_>>(),
            1,
        )
        .unwrap();
        let mut bytes = build(&[(0, a.clone()), (1, b)]);
        bytes.truncate(bytes.len() - SECTOR);
        let file = RegionFile::parse(bytes).unwrap();
        assert_eq!(file.chunk(0).unwrap(), Some(a));
        assert!(matches!(file.chunk(1), Err(SlotError::OutOfFile { .. })));
        assert!(RegionFile::parse(vec![0; 100]).is_err());
    }
}
