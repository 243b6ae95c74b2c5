//! Positions of blocks, chunks and regions, and the conversions between them.

use serde::{Deserialize, Serialize};
pub use valence_protocol::{BlockPos, ChunkPos};

/// Lowest block y of the overworld.
pub const MIN_Y: i32 = -64;
/// Number of block rows in a chunk column.
pub const WORLD_HEIGHT: i32 = 384;
/// Number of 16-high sections in a chunk column.
pub const SECTION_COUNT: usize = (WORLD_HEIGHT / 16) as usize;

/// A square of `size` × `size` chunks owned by one region actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RegionPos {
    pub x: i32,
    pub z: i32,
}

impl std::fmt::Display for RegionPos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "r.{}.{}", self.x, self.z)
    }
}

/// How the world is cut into regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionGrid {
    /// Side of a region, in chunks.
    pub size: i32,
}

impl RegionGrid {
    pub fn region_of_chunk(&self, chunk: ChunkPos) -> RegionPos {
        RegionPos {
            x: chunk.x.div_euclid(self.size),
            z: chunk.z.div_euclid(self.size),
        }
    }

    pub fn region_of_block(&self, pos: BlockPos) -> RegionPos {
        self.region_of_chunk(ChunkPos::from_block_pos(pos))
    }

    pub fn region_of_point(&self, x: f64, z: f64) -> RegionPos {
        self.region_of_chunk(chunk_of_point(x, z))
    }

    pub fn contains(&self, region: RegionPos, chunk: ChunkPos) -> bool {
        self.region_of_chunk(chunk) == region
    }
}

pub fn chunk_of_point(x: f64, z: f64) -> ChunkPos {
    ChunkPos::new(
        (x.floor() as i32).div_euclid(16),
        (z.floor() as i32).div_euclid(16),
    )
}

/// True when a block y lies inside the world's vertical range.
pub fn in_height(y: i32) -> bool {
    (MIN_Y..MIN_Y + WORLD_HEIGHT).contains(&y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_coordinates_round_towards_negative_infinity() {
        let grid = RegionGrid { size: 2 };
        assert_eq!(chunk_of_point(-0.5, 15.9), ChunkPos::new(-1, 0));
        assert_eq!(
            grid.region_of_chunk(ChunkPos::new(-1, 1)),
            RegionPos { x: -1, z: 0 }
        );
        assert_eq!(
            grid.region_of_block(BlockPos::new(-33, 0, 64)),
            RegionPos { x: -2, z: 2 }
        );
        assert!(grid.contains(RegionPos { x: 0, z: 0 }, ChunkPos::new(1, 1)));
    }
}
