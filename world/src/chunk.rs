//! Block storage of one chunk column.

use valence_protocol::BlockState;

use crate::coords::{MIN_Y, SECTION_COUNT, WORLD_HEIGHT};

const SECTION_VOLUME: usize = 16 * 16 * 16;

/// Sixteen block rows of a column: a section of one block (air above the
/// ground, stone deep down) takes no more room than its one state.
#[derive(Clone, Debug)]
pub enum Section {
    Uniform(BlockState),
    Mixed(Box<[BlockState; SECTION_VOLUME]>),
}

impl Section {
    fn index(x: usize, y: usize, z: usize) -> usize {
        (y << 8) | (z << 4) | x
    }

    pub fn get(&self, x: usize, y: usize, z: usize) -> BlockState {
        match self {
            Section::Uniform(state) => *state,
            Section::Mixed(blocks) => blocks[Self::index(x, y, z)],
        }
    }

    fn set(&mut self, x: usize, y: usize, z: usize, state: BlockState) -> BlockState {
        if let Section::Uniform(current) = *self {
            if current == state {
                return current;
            }
            *self = Section::Mixed(Box::new([current; SECTION_VOLUME]));
        }
        let Section::Mixed(blocks) = self else {
            unreachable!("a uniform section was just made mixed")
        };
        std::mem::replace(&mut blocks[Self::index(x, y, z)], state)
    }

    /// Blocks in index order (y, then z, then x), the order the protocol uses.
    pub fn blocks(&self) -> impl Iterator<Item = BlockState> + '_ {
        (0..SECTION_VOLUME).map(move |i| match self {
            Section::Uniform(state) => *state,
            Section::Mixed(blocks) => blocks[i],
        })
    }

    pub fn non_air_count(&self) -> u16 {
        match self {
            Section::Uniform(state) if state.is_air() => 0,
            Section::Uniform(_) => SECTION_VOLUME as u16,
            Section::Mixed(blocks) => blocks.iter().filter(|b| !b.is_air()).count() as u16,
        }
    }
}

/// The blocks of one 16 × 384 × 16 column, addressed with chunk-local x and z
/// (0..16) and world y (-64..320).
#[derive(Clone, Debug)]
pub struct Chunk {
    sections: Vec<Section>,
}

impl Default for Chunk {
    fn default() -> Self {
        Self {
            sections: vec![Section::Uniform(BlockState::AIR); SECTION_COUNT],
        }
    }
}

impl Chunk {
    fn locate(y: i32) -> Option<(usize, usize)> {
        let row = y - MIN_Y;
        (0..WORLD_HEIGHT)
            .contains(&row)
            .then_some(((row / 16) as usize, (row % 16) as usize))
    }

    /// The block at chunk-local `x`, `z` and world `y`; air outside the height range.
    pub fn block(&self, x: usize, y: i32, z: usize) -> BlockState {
        match Self::locate(y) {
            Some((section, row)) => self.sections[section].get(x, row, z),
            None => BlockState::AIR,
        }
    }

    /// Sets a block and returns the one it replaced; `None` when `y` is outside the world.
    pub fn set_block(
        &mut self,
        x: usize,
        y: i32,
        z: usize,
        state: BlockState,
    ) -> Option<BlockState> {
        let (section, row) = Self::locate(y)?;
        Some(self.sections[section].set(x, row, z, state))
    }

    /// Fills whole rows `from_y..to_y` with one block; used by generators.
    pub fn fill_layers(&mut self, from_y: i32, to_y: i32, state: BlockState) {
        for y in from_y..to_y {
            let Some((section, row)) = Self::locate(y) else {
                continue;
            };
            if row == 0 && y + 16 <= to_y {
                self.sections[section] = Section::Uniform(state);
                continue;
            }
            if let Section::Uniform(s) = self.sections[section] {
                if s == state {
                    continue;
                }
            }
            for z in 0..16 {
                for x in 0..16 {
                    self.sections[section].set(x, row, z, state);
                }
            }
        }
    }

    /// A column from its sections, bottom first; `None` unless there is
    /// one section for every 16 rows of the world.
    pub fn from_sections(sections: Vec<Section>) -> Option<Self> {
        (sections.len() == SECTION_COUNT).then_some(Self { sections })
    }

    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// World y of the highest block that is not air in a column, if any.
    pub fn top_block_y(&self, x: usize, z: usize) -> Option<i32> {
        for (index, section) in self.sections.iter().enumerate().rev() {
            if let Section::Uniform(state) = section {
                if state.is_air() {
                    continue;
                }
            }
            for row in (0..16).rev() {
                if !section.get(x, row, z).is_air() {
                    return Some(MIN_Y + (index * 16 + row) as i32);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_get_round_trip_and_report_the_old_block() {
        let mut chunk = Chunk::default();
        assert_eq!(
            chunk.set_block(3, -64, 5, BlockState::STONE),
            Some(BlockState::AIR)
        );
        assert_eq!(chunk.set_block(3, 320, 5, BlockState::STONE), None);
        assert_eq!(chunk.block(3, -64, 5), BlockState::STONE);
        assert_eq!(chunk.block(4, -64, 5), BlockState::AIR);
        assert_eq!(chunk.top_block_y(3, 5), Some(-64));
        assert_eq!(chunk.top_block_y(0, 0), None);
    }

    #[test]
    fn filled_layers_stay_compact() {
        let mut chunk = Chunk::default();
        chunk.fill_layers(-64, -32, BlockState::STONE);
        chunk.fill_layers(-32, -30, BlockState::DIRT);
        assert!(matches!(
            chunk.sections()[0],
            Section::Uniform(BlockState::STONE)
        ));
        assert!(matches!(chunk.sections()[2], Section::Mixed(_)));
        assert_eq!(chunk.block(15, -31, 15), BlockState::DIRT);
        assert_eq!(chunk.top_block_y(7, 7), Some(-31));
        assert_eq!(chunk.sections()[2].non_air_count(), 512);
    }
}
