//! Rolling hills, lakes and seas with sandy shores, and oak trees.
//!
//! Every block is a pure function of the seed and its world position: heights
//! come from seeded noise, trees from a seeded hash of a grid cell. A chunk is
//! built from its own columns plus a thin margin of neighbouring ones, so the
//! two sides of a chunk border always agree whichever chunk is made first.

use valence_protocol::block::{PropName, PropValue};
use valence_protocol::{BlockState, ChunkPos};

use super::noise::{hash2, Perlin};
use super::Generator;
use crate::chunk::Chunk;
use crate::coords::MIN_Y;

/// The highest water block; columns whose ground is lower are flooded up to it.
const SEA_LEVEL: i32 = 62;
/// Bounds of the top solid block of any column.
const MIN_GROUND: i32 = 50;
const MAX_GROUND: i32 = 100;
/// Land this low next to water is sand rather than grass.
const BEACH_TOP: i32 = 64;
/// How far a beach column looks for water.
const BEACH_REACH: i32 = 3;
/// Seabed deeper than this turns to gravel.
const GRAVEL_BELOW: i32 = 56;
/// Blocks under the surface block that are dirt or sand rather than stone.
const MAX_SOIL_DEPTH: i32 = 4;

/// Trees are scattered one candidate per square cell, which keeps trunks
/// apart without having to look at neighbouring trees.
const TREE_CELL: i32 = 7;
/// Candidates sit at 0..TREE_SPOTS within a cell, so trunks of adjacent cells
/// are at least TREE_CELL - TREE_SPOTS + 1 blocks apart.
const TREE_SPOTS: i32 = 5;
/// Horizontal reach of the leaves from the trunk.
const CANOPY_RADIUS: i32 = 2;
/// Trees grow only on ground at least this high, which is always grass
/// (beaches stop at BEACH_TOP).
const TREE_MIN_GROUND: i32 = BEACH_TOP + 1;

/// Persistent leaves never decay, so nothing has to track their distance to a
/// log, which may lie in a neighbouring chunk that is not loaded.
const LEAVES: BlockState = BlockState::OAK_LEAVES.set(PropName::Persistent, PropValue::True);

/// Salts that give each noise layer and hash its own stream from one seed.
const CONTINENT_SALT: u64 = 1;
const HILLS_SALT: u64 = 2;
const FOREST_SALT: u64 = 3;
const TREE_SALT: u64 = 4;
const SOIL_SALT: u64 = 5;

/// Noise terrain with hills, water, beaches and oak trees.
#[derive(Debug, Clone, Copy)]
pub struct Terrain {
    pub seed: i64,
}

impl Generator for Terrain {
    fn generate(&self, pos: ChunkPos) -> Chunk {
        let area = Area::new(self, pos);
        let mut chunk = Chunk::default();
        let stone_top = area.lowest_ground() - MAX_SOIL_DEPTH;
        chunk.fill_layers(MIN_Y, MIN_Y + 1, BlockState::BEDROCK);
        chunk.fill_layers(MIN_Y + 1, stone_top, BlockState::STONE);
        for lz in 0..16 {
            for lx in 0..16 {
                let column = self.column(&area, lx, lz);
                fill_column(&mut chunk, lx as usize, lz as usize, stone_top, column);
            }
        }
        let (x0, z0) = (pos.x * 16, pos.z * 16);
        for tree in self.trees_near(x0, z0, x0 + 15, z0 + 15) {
            place_tree(&mut chunk, x0, z0, &tree);
        }
        chunk
    }

    fn surface_y(&self, x: i32, z: i32) -> i32 {
        // Mirrors generate(): the top is the water or ground, unless some
        // tree's log or leaves stand higher in this column.
        let ground = self.ground_y(x, z).max(SEA_LEVEL);
        let canopy = self
            .trees_near(x, z, x, z)
            .flat_map(|tree| tree.blocks())
            .filter(|block| block.x == x && block.z == z)
            .map(|block| block.y)
            .max();
        canopy.map_or(ground, |y| y.max(ground)) + 1
    }
}

impl Terrain {
    fn salted(&self, salt: u64) -> u64 {
        hash2(self.seed as u64, salt as i32, (salt >> 32) as i32)
    }

    /// World y of the top solid block of a column.
    fn ground_y(&self, x: i32, z: i32) -> i32 {
        let (x, z) = (f64::from(x), f64::from(z));
        // Broad swells decide sea or land; smaller hills ride on top and grow
        // steeper inland so shores stay gentle and the interior gets hilly.
        let continent = Perlin::new(self.salted(CONTINENT_SALT)).fractal(x / 320.0, z / 320.0, 2);
        let hills = Perlin::new(self.salted(HILLS_SALT)).fractal(x / 80.0, z / 80.0, 3);
        let inland = (continent + 0.1).max(0.0);
        let height = 65.0 + continent * 20.0 + hills * 6.0 + inland * (hills + 0.6).max(0.0) * 50.0;
        (height.round() as i32).clamp(MIN_GROUND, MAX_GROUND)
    }

    /// The blocks of one chunk column from its ground height and its neighbours'.
    fn column(&self, area: &Area, lx: i32, lz: i32) -> Column {
        let top = area.ground(lx, lz);
        let jitter = hash2(self.salted(SOIL_SALT), area.x0 + lx, area.z0 + lz);
        if top < SEA_LEVEL {
            let floor = if top + ((jitter % 3) as i32) < GRAVEL_BELOW {
                BlockState::GRAVEL
            } else {
                BlockState::SAND
            };
            return Column::uniform(top, floor, 3);
        }
        if top <= BEACH_TOP && area.water_within(lx, lz, BEACH_REACH) {
            return Column::uniform(top, BlockState::SAND, 3);
        }
        Column {
            top,
            surface: BlockState::GRASS_BLOCK,
            soil: BlockState::DIRT,
            soil_depth: 3 + (jitter & 1) as i32,
        }
    }

    /// Trees whose logs or leaves may reach the block box `min_x..=max_x`, `min_z..=max_z`.
    fn trees_near(
        &self,
        min_x: i32,
        min_z: i32,
        max_x: i32,
        max_z: i32,
    ) -> impl Iterator<Item = Tree> + '_ {
        let cells = |min: i32, max: i32| {
            (min - CANOPY_RADIUS).div_euclid(TREE_CELL)
                ..=(max + CANOPY_RADIUS).div_euclid(TREE_CELL)
        };
        let reaches = move |tree: &Tree| {
            (min_x - CANOPY_RADIUS..=max_x + CANOPY_RADIUS).contains(&tree.x)
                && (min_z - CANOPY_RADIUS..=max_z + CANOPY_RADIUS).contains(&tree.z)
        };
        cells(min_z, max_z)
            .flat_map(move |cz| cells(min_x, max_x).map(move |cx| (cx, cz)))
            .filter_map(|(cx, cz)| self.tree_in_cell(cx, cz))
            .filter(reaches)
    }

    /// The tree of a grid cell, if the dice and the ground allow one.
    fn tree_in_cell(&self, cx: i32, cz: i32) -> Option<Tree> {
        let roll = hash2(self.salted(TREE_SALT), cx, cz);
        let x = cx * TREE_CELL + (roll % TREE_SPOTS as u64) as i32;
        let z = cz * TREE_CELL + ((roll >> 8) % TREE_SPOTS as u64) as i32;
        // Forest noise makes woods and open meadows instead of an even sprinkle.
        let forest =
            Perlin::new(self.salted(FOREST_SALT)).sample(f64::from(x) / 96.0, f64::from(z) / 96.0);
        let chance = (0.45 + forest * 1.2).clamp(0.05, 0.95);
        let dice = ((roll >> 16) & 0xFFFF) as f64 / 65536.0;
        if dice >= chance {
            return None;
        }
        let ground = self.ground_y(x, z);
        (ground >= TREE_MIN_GROUND).then(|| Tree {
            x,
            z,
            base: ground + 1,
            trunk: 4 + ((roll >> 32) % 3) as i32,
        })
    }
}

/// Ground heights of a chunk and a margin around it, computed once per chunk
/// because beaches look at their neighbours.
struct Area {
    x0: i32,
    z0: i32,
    heights: Vec<i32>,
}

impl Area {
    const MARGIN: i32 = BEACH_REACH;
    const SIDE: i32 = 16 + 2 * Self::MARGIN;

    fn new(terrain: &Terrain, pos: ChunkPos) -> Self {
        let (x0, z0) = (pos.x * 16, pos.z * 16);
        let range = -Self::MARGIN..16 + Self::MARGIN;
        let heights = range
            .clone()
            .flat_map(|dz| range.clone().map(move |dx| (dx, dz)))
            .map(|(dx, dz)| terrain.ground_y(x0 + dx, z0 + dz))
            .collect();
        Self { x0, z0, heights }
    }

    /// Ground height at chunk-local `lx`, `lz`, which may lie in the margin.
    fn ground(&self, lx: i32, lz: i32) -> i32 {
        let index = (lz + Self::MARGIN) * Self::SIDE + lx + Self::MARGIN;
        self.heights[index as usize]
    }

    fn water_within(&self, lx: i32, lz: i32, reach: i32) -> bool {
        (lz - reach..=lz + reach)
            .any(|z| (lx - reach..=lx + reach).any(|x| self.ground(x, z) < SEA_LEVEL))
    }

    /// Lowest ground inside the chunk itself, below which it is all stone.
    fn lowest_ground(&self) -> i32 {
        (0..16)
            .flat_map(|lz| (0..16).map(move |lx| (lx, lz)))
            .map(|(lx, lz)| self.ground(lx, lz))
            .min()
            .unwrap_or(MIN_GROUND)
    }
}

/// What a column looks like from the top solid block down to the stone.
#[derive(Debug, Clone, Copy)]
struct Column {
    top: i32,
    surface: BlockState,
    soil: BlockState,
    /// Number of `soil` blocks right under the surface block.
    soil_depth: i32,
}

impl Column {
    fn uniform(top: i32, block: BlockState, soil_depth: i32) -> Self {
        Self {
            top,
            surface: block,
            soil: block,
            soil_depth,
        }
    }
}

/// Writes a column above the chunk's shared stone base at `from_y`.
fn fill_column(chunk: &mut Chunk, lx: usize, lz: usize, from_y: i32, column: Column) {
    let soil_bottom = column.top - column.soil_depth;
    for y in from_y..soil_bottom {
        chunk.set_block(lx, y, lz, BlockState::STONE);
    }
    for y in soil_bottom..column.top {
        chunk.set_block(lx, y, lz, column.soil);
    }
    chunk.set_block(lx, column.top, lz, column.surface);
    for y in column.top + 1..=SEA_LEVEL {
        chunk.set_block(lx, y, lz, BlockState::WATER);
    }
}

/// An oak: a straight trunk from `base` up, under a rounded crown of leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tree {
    x: i32,
    z: i32,
    /// World y of the lowest log, one above the grass.
    base: i32,
    /// Number of logs.
    trunk: i32,
}

/// One block of a tree, in world coordinates.
#[derive(Debug, Clone, Copy)]
struct TreeBlock {
    x: i32,
    y: i32,
    z: i32,
    state: BlockState,
}

impl Tree {
    /// Logs and leaves; where they overlap, the log wins (see `place_tree`).
    fn blocks(self) -> impl Iterator<Item = TreeBlock> {
        let top = self.base + self.trunk - 1;
        let logs = (self.base..=top).map(move |y| TreeBlock {
            x: self.x,
            y,
            z: self.z,
            state: BlockState::OAK_LOG,
        });
        // Two wide layers below the trunk top and two narrow ones over it,
        // each with its corners cut so the crown reads as round.
        let layers: [(i32, i32); 4] = [(top - 2, 2), (top - 1, 2), (top, 1), (top + 1, 1)];
        let leaves = layers.into_iter().flat_map(move |(y, radius)| {
            let cut_corners = y == top + 1 || radius == 2;
            (-radius..=radius)
                .flat_map(move |dz| (-radius..=radius).map(move |dx| (dx, dz)))
                .filter(move |&(dx, dz)| !(cut_corners && dx.abs() == radius && dz.abs() == radius))
                .map(move |(dx, dz)| TreeBlock {
                    x: self.x + dx,
                    y,
                    z: self.z + dz,
                    state: LEAVES,
                })
        });
        logs.chain(leaves)
    }
}

/// Writes the part of a tree inside the chunk whose first block is at `x0`, `z0`.
/// Leaves go only into air and logs only into air or leaves, so overlapping
/// trees come out the same whichever order the chunk visits them in.
fn place_tree(chunk: &mut Chunk, x0: i32, z0: i32, tree: &Tree) {
    for block in tree.blocks() {
        let (lx, lz) = (block.x - x0, block.z - z0);
        if !(0..16).contains(&lx) || !(0..16).contains(&lz) {
            continue;
        }
        let (lx, lz) = (lx as usize, lz as usize);
        let current = chunk.block(lx, block.y, lz);
        let free = current.is_air() || (block.state == BlockState::OAK_LOG && current == LEAVES);
        if free {
            chunk.set_block(lx, block.y, lz, block.state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: [i64; 3] = [0, 12345, -987_654_321];

    fn all_blocks(chunk: &Chunk) -> Vec<BlockState> {
        chunk.sections().iter().flat_map(|s| s.blocks()).collect()
    }

    /// Column ground heights over a square of `chunks` × `chunks` chunks, every `step` blocks.
    fn sampled_heights(terrain: &Terrain, chunks: i32, step: usize) -> Vec<i32> {
        let half = chunks * 8;
        (-half..half)
            .step_by(step)
            .flat_map(|z| (-half..half).step_by(step).map(move |x| (x, z)))
            .map(|(x, z)| terrain.ground_y(x, z))
            .collect()
    }

    #[test]
    fn same_seed_and_position_give_the_same_chunk() {
        for seed in SEEDS {
            for pos in [
                ChunkPos::new(0, 0),
                ChunkPos::new(-7, 13),
                ChunkPos::new(100, -100),
            ] {
                let first = Terrain { seed }.generate(pos);
                let again = Terrain { seed }.generate(pos);
                assert!(
                    all_blocks(&first) == all_blocks(&again),
                    "seed {seed} at {pos:?}"
                );
            }
        }
    }

    #[test]
    fn other_seeds_give_other_terrain() {
        let a = sampled_heights(&Terrain { seed: 1 }, 8, 16);
        let b = sampled_heights(&Terrain { seed: 2 }, 8, 16);
        assert_ne!(a, b);
    }

    #[test]
    fn surface_y_is_one_above_the_generated_top_in_every_column() {
        for seed in SEEDS {
            let terrain = Terrain { seed };
            for (cx, cz) in [(0, 0), (-1, -1), (3, -5), (-20, 9)] {
                let chunk = terrain.generate(ChunkPos::new(cx, cz));
                for lz in 0..16 {
                    for lx in 0..16 {
                        let (x, z) = (cx * 16 + lx as i32, cz * 16 + lz as i32);
                        let top = chunk.top_block_y(lx, lz).map(|y| y + 1);
                        assert_eq!(
                            top,
                            Some(terrain.surface_y(x, z)),
                            "seed {seed} at {x}, {z}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn heights_stay_in_range_with_both_water_and_hills() {
        for seed in SEEDS {
            let heights = sampled_heights(&Terrain { seed }, 32, 4);
            assert!(heights
                .iter()
                .all(|h| (MIN_GROUND..=MAX_GROUND).contains(h)));
            let water = heights.iter().filter(|&&h| h < SEA_LEVEL).count();
            let hills = heights.iter().filter(|&&h| h > 80).count();
            assert!(
                water > 0 && water < heights.len() / 2,
                "seed {seed}: {water} wet"
            );
            assert!(hills > 0, "seed {seed}: flat");
        }
    }

    #[test]
    fn columns_are_layered_bedrock_stone_soil_then_grass_sand_or_water() {
        let terrain = Terrain { seed: 12345 };
        let (mut grass, mut beach, mut seabed) = (false, false, false);
        for cx in -4..4 {
            let chunk = terrain.generate(ChunkPos::new(cx * 3, cx * 2));
            for (lx, lz) in [(0, 0), (7, 9), (15, 15), (3, 12)] {
                let (x, z) = (cx * 48 + lx as i32, cx * 32 + lz as i32);
                let top = terrain.ground_y(x, z);
                assert_eq!(chunk.block(lx, MIN_Y, lz), BlockState::BEDROCK);
                assert_eq!(
                    chunk.block(lx, top - MAX_SOIL_DEPTH - 1, lz),
                    BlockState::STONE
                );
                let surface = chunk.block(lx, top, lz);
                if top < SEA_LEVEL {
                    assert_eq!(chunk.block(lx, SEA_LEVEL, lz), BlockState::WATER);
                    assert!([BlockState::SAND, BlockState::GRAVEL].contains(&surface));
                    seabed = true;
                } else if surface == BlockState::GRASS_BLOCK {
                    assert_eq!(chunk.block(lx, top - 3, lz), BlockState::DIRT);
                    grass = true;
                } else {
                    assert_eq!(surface, BlockState::SAND);
                    assert!(top <= BEACH_TOP);
                    beach = true;
                }
            }
        }
        assert!(
            grass && seabed,
            "grass {grass}, seabed {seabed}, beach {beach}"
        );
    }

    #[test]
    fn low_land_by_the_water_is_sand() {
        let terrain = Terrain { seed: 0 };
        let beach = (-30..30)
            .flat_map(|cz| (-30..30).map(move |cx| (cx, cz)))
            .find_map(|(cx, cz)| {
                let area = Area::new(&terrain, ChunkPos::new(cx, cz));
                let (lx, lz) = (8, 8);
                let top = area.ground(lx, lz);
                let by_water =
                    (SEA_LEVEL..=BEACH_TOP).contains(&top) && area.water_within(lx, lz, 1);
                by_water.then_some((cx, cz, top))
            });
        let Some((cx, cz, top)) = beach else {
            panic!("no shore found")
        };
        let chunk = terrain.generate(ChunkPos::new(cx, cz));
        assert_eq!(chunk.block(8, top, 8), BlockState::SAND);
    }

    /// A tree whose crown crosses the border between two chunks along x.
    fn border_tree(terrain: &Terrain) -> Option<Tree> {
        terrain
            .trees_near(-512, -512, 511, 511)
            .find(|tree| matches!(tree.x.rem_euclid(16), 0 | 1 | 14 | 15))
    }

    #[test]
    fn a_tree_across_a_chunk_border_is_whole_on_both_sides() {
        for seed in SEEDS {
            let terrain = Terrain { seed };
            let tree = border_tree(&terrain).expect("some tree sits by a chunk border");
            let mut sides = std::collections::HashSet::new();
            for block in tree.blocks() {
                let pos = ChunkPos::new(block.x.div_euclid(16), block.z.div_euclid(16));
                sides.insert(pos);
                let chunk = terrain.generate(pos);
                let (lx, lz) = (
                    block.x.rem_euclid(16) as usize,
                    block.z.rem_euclid(16) as usize,
                );
                let found = chunk.block(lx, block.y, lz);
                // Only a neighbouring tree's log or a hillside may take a leaf's place.
                let leaf_displaced = block.state == LEAVES && found != LEAVES && !found.is_air();
                assert!(
                    found == block.state || leaf_displaced,
                    "seed {seed}: {block:?} is {found:?}"
                );
            }
            assert!(sides.len() >= 2, "seed {seed}: {tree:?} stays in one chunk");
        }
    }

    #[test]
    fn trees_grow_on_grass_with_four_to_six_logs() {
        let terrain = Terrain { seed: 12345 };
        let trees: Vec<Tree> = terrain.trees_near(-256, -256, 255, 255).collect();
        // 32 × 32 chunks; expect roughly a tree per chunk, give or take water.
        assert!(
            trees.len() > 100 && trees.len() < 4096,
            "{} trees",
            trees.len()
        );
        for tree in trees.iter().take(20) {
            assert!((4..=6).contains(&tree.trunk));
            let pos = ChunkPos::new(tree.x.div_euclid(16), tree.z.div_euclid(16));
            let chunk = terrain.generate(pos);
            let (lx, lz) = (
                tree.x.rem_euclid(16) as usize,
                tree.z.rem_euclid(16) as usize,
            );
            assert_eq!(chunk.block(lx, tree.base - 1, lz), BlockState::GRASS_BLOCK);
            assert_eq!(chunk.block(lx, tree.base, lz), BlockState::OAK_LOG);
            assert_eq!(chunk.block(lx, tree.base + tree.trunk, lz), LEAVES);
        }
    }
}
