//! World generators: each fills a fresh chunk column from its position and
//! the seed alone, so any node can regenerate any chunk identically.

mod flat;
mod noise;
mod terrain;

use valence_protocol::ChunkPos;

use crate::chunk::Chunk;
pub use flat::Flat;
pub use terrain::Terrain;

/// A deterministic chunk generator, shared by every region of a node.
pub trait Generator: Send + Sync + 'static {
    fn generate(&self, pos: ChunkPos) -> Chunk;
    /// Block y a player can stand on at column `x`, `z` (the top solid block + 1).
    fn surface_y(&self, x: i32, z: i32) -> i32;
}
