use valence_protocol::{BlockState, ChunkPos};

use super::Generator;
use crate::chunk::Chunk;
use crate::coords::MIN_Y;

/// Vanilla's default superflat: bedrock, two dirt, grass; the grass top is y = -61.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flat;

impl Generator for Flat {
    fn generate(&self, _pos: ChunkPos) -> Chunk {
        let mut chunk = Chunk::default();
        chunk.fill_layers(MIN_Y, MIN_Y + 1, BlockState::BEDROCK);
        chunk.fill_layers(MIN_Y + 1, MIN_Y + 3, BlockState::DIRT);
        chunk.fill_layers(MIN_Y + 3, MIN_Y + 4, BlockState::GRASS_BLOCK);
        chunk
    }

    fn surface_y(&self, _x: i32, _z: i32) -> i32 {
        MIN_Y + 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grass_on_two_dirt_on_bedrock() {
        let chunk = Flat.generate(ChunkPos::new(5, -9));
        assert_eq!(chunk.block(0, -64, 0), BlockState::BEDROCK);
        assert_eq!(chunk.block(8, -62, 8), BlockState::DIRT);
        assert_eq!(chunk.block(15, -61, 15), BlockState::GRASS_BLOCK);
        assert_eq!(chunk.block(15, -60, 15), BlockState::AIR);
        assert_eq!(Flat.surface_y(100, -100), -60);
    }
}
