use valence_protocol::{BlockState, ChunkPos};

use super::Generator;
use crate::chunk::Chunk;

/// Noise terrain with hills, water and trees (being written).
#[derive(Debug, Clone, Copy)]
pub struct Terrain {
    pub seed: i64,
}

impl Generator for Terrain {
    fn generate(&self, _pos: ChunkPos) -> Chunk {
        let mut chunk = Chunk::default();
        chunk.fill_layers(-64, 64, BlockState::STONE);
        chunk
    }

    fn surface_y(&self, _x: i32, _z: i32) -> i32 {
        64
    }
}
