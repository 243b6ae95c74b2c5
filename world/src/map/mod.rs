//! The world seen from above, for the admin map: one colour per block column,
//! taken from copies of a region's chunks off its tick path, and the PNG a
//! region's picture travels as.

mod colors;
mod picture;
mod png;

use serde::{Deserialize, Serialize};

pub use colors::color_of;
pub use picture::{region_png, ChunkPicture};
pub use png::encode_rgba;

use crate::chunk::Chunk;
use crate::coords::ChunkPos;

/// Where a previous look at a region left off: the region's run and the
/// last change seen in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSince {
    pub incarnation: u64,
    pub stamp: u64,
}

/// A player as the map shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapPlayer {
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// What a region answers a look: its players, and copies of the chunks
/// that changed since the look it was given (all of them when the look was
/// of another run of the region, or none was given).
#[derive(Debug)]
pub struct RegionMap {
    pub since: MapSince,
    /// Whether `chunks` holds every chunk the region has loaded, not only
    /// the changed ones.
    pub whole: bool,
    pub chunks: Vec<(ChunkPos, Chunk)>,
    pub players: Vec<MapPlayer>,
}
