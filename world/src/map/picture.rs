//! What a chunk and a region look like from above: the colour and height of
//! the highest block seen in each column, shaded against the column to its
//! north as the game's maps are, so slopes show.

use std::collections::HashMap;

use valence_protocol::BlockState;

use super::colors::color_of;
use super::png::encode_rgba;
use crate::chunk::{Chunk, Section};
use crate::coords::{ChunkPos, RegionPos, MIN_Y};

/// How much of the floor shows through one block of water, and at most.
const WATER_PER_BLOCK: f32 = 0.12;
const WATER_AT_MOST: f32 = 0.85;
const WATER_DEPTH_SEEN: i32 = 8;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Column {
    rgb: [u8; 3],
    height: i32,
    shown: bool,
}

/// The 16 × 16 columns of one chunk from above, north-west first, rows of x.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkPicture {
    columns: Box<[Column; 256]>,
}

fn blend(top: [u8; 3], below: [u8; 3], top_share: f32) -> [u8; 3] {
    let mix = |a: u8, b: u8| (f32::from(a) * top_share + f32::from(b) * (1.0 - top_share)) as u8;
    [
        mix(top[0], below[0]),
        mix(top[1], below[1]),
        mix(top[2], below[2]),
    ]
}

/// The highest block with a colour in a column, and its height.
fn top_block(chunk: &Chunk, x: usize, z: usize, below: i32) -> Option<(BlockState, i32)> {
    for (index, section) in chunk.sections().iter().enumerate().rev() {
        let base = MIN_Y + index as i32 * 16;
        if base >= below {
            continue;
        }
        if let Section::Uniform(state) = section {
            if color_of(*state).is_none() {
                continue;
            }
        }
        for row in (0..16).rev() {
            let y = base + row as i32;
            if y >= below {
                continue;
            }
            let state = section.get(x, row, z);
            if color_of(state).is_some() {
                return Some((state, y));
            }
        }
    }
    None
}

fn is_water(state: BlockState) -> bool {
    state.to_kind() == BlockState::WATER.to_kind()
}

fn column(chunk: &Chunk, x: usize, z: usize) -> Column {
    let Some((state, height)) = top_block(chunk, x, z, i32::MAX) else {
        return Column::default();
    };
    let Some(rgb) = color_of(state) else {
        return Column::default();
    };
    if !is_water(state) {
        return Column {
            rgb,
            height,
            shown: true,
        };
    }
    let mut floor = height;
    while floor > height - WATER_DEPTH_SEEN {
        match top_block(chunk, x, z, floor) {
            Some((below, y)) if is_water(below) => floor = y,
            Some((below, y)) => {
                let depth = (height - y) as f32;
                let share = (1.0 - WATER_PER_BLOCK * depth).max(1.0 - WATER_AT_MOST);
                let seen = color_of(below).map_or(rgb, |floor_rgb| blend(floor_rgb, rgb, share));
                return Column {
                    rgb: seen,
                    height,
                    shown: true,
                };
            }
            None => break,
        }
    }
    Column {
        rgb,
        height,
        shown: true,
    }
}

impl ChunkPicture {
    pub fn of(chunk: &Chunk) -> Self {
        let mut columns = Box::new([Column::default(); 256]);
        for z in 0..16 {
            for x in 0..16 {
                columns[z * 16 + x] = column(chunk, x, z);
            }
        }
        Self { columns }
    }

    fn at(&self, x: usize, z: usize) -> Column {
        self.columns[z * 16 + x]
    }
}

fn shade(rgb: [u8; 3], factor: f32) -> [u8; 3] {
    rgb.map(|c| (f32::from(c) * factor).min(255.0) as u8)
}

/// A region of `size` × `size` chunks as a PNG, one pixel per column, its
/// north-west corner first; chunks not in `chunks` are transparent.
pub fn region_png(
    region: RegionPos,
    size: i32,
    chunks: &HashMap<ChunkPos, ChunkPicture>,
) -> Vec<u8> {
    let side = (size.max(1) * 16) as usize;
    let mut rgba = vec![0u8; side * side * 4];
    let (x0, z0) = (region.x * size, region.z * size);
    let column_at = |bx: usize, bz: usize| {
        let chunk = ChunkPos::new(x0 + (bx / 16) as i32, z0 + (bz / 16) as i32);
        chunks.get(&chunk).map(|p| p.at(bx % 16, bz % 16))
    };
    for bz in 0..side {
        for bx in 0..side {
            let Some(here) = column_at(bx, bz).filter(|c| c.shown) else {
                continue;
            };
            let north = bz
                .checked_sub(1)
                .and_then(|n| column_at(bx, n))
                .filter(|c| c.shown);
            let factor = match north.map(|n| here.height.cmp(&n.height)) {
                Some(std::cmp::Ordering::Greater) => 1.12,
                Some(std::cmp::Ordering::Less) => 0.82,
                _ => 1.0,
            };
            let [r, g, b] = shade(here.rgb, factor);
            let at = (bz * side + bx) * 4;
            rgba[at..at + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    encode_rgba(side as u32, side as u32, &rgba)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(top: BlockState) -> Chunk {
        let mut chunk = Chunk::default();
        chunk.fill_layers(-64, -61, BlockState::STONE);
        chunk.fill_layers(-61, -60, top);
        chunk
    }

    #[test]
    fn a_column_shows_its_highest_block_seen_from_above() {
        let mut chunk = flat(BlockState::GRASS_BLOCK);
        chunk.set_block(3, 10, 4, BlockState::GLASS);
        chunk.set_block(5, 70, 6, BlockState::STONE);
        let picture = ChunkPicture::of(&chunk);
        let grass = color_of(BlockState::GRASS_BLOCK).expect("grass has a colour");
        assert_eq!(picture.at(0, 0).rgb, grass);
        assert_eq!(picture.at(0, 0).height, -61);
        assert_eq!(picture.at(3, 4).rgb, grass, "glass is seen through");
        assert_eq!(picture.at(5, 6).height, 70);
        assert!(!ChunkPicture::of(&Chunk::default()).at(0, 0).shown);
    }

    #[test]
    fn water_shows_its_floor_less_the_deeper_it_is() {
        let mut chunk = flat(BlockState::SAND);
        for y in -60..-58 {
            chunk.set_block(1, y, 1, BlockState::WATER);
        }
        for y in -60..-50 {
            chunk.set_block(2, y, 2, BlockState::WATER);
        }
        let picture = ChunkPicture::of(&chunk);
        let water = color_of(BlockState::WATER).expect("water has a colour");
        let distance = |rgb: [u8; 3]| {
            rgb.iter()
                .zip(water)
                .map(|(a, b)| u32::from(a.abs_diff(b)))
                .sum::<u32>()
        };
        assert_eq!(picture.at(1, 1).height, -59);
        assert!(distance(picture.at(2, 2).rgb) < distance(picture.at(1, 1).rgb));
    }

    #[test]
    fn a_region_picture_is_a_png_of_its_size_with_holes_where_unexplored() {
        let region = RegionPos { x: -1, z: 0 };
        let mut chunks = HashMap::new();
        chunks.insert(
            ChunkPos::new(-2, 0),
            ChunkPicture::of(&flat(BlockState::STONE)),
        );
        let png = region_png(region, 2, &chunks);
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 32);
    }
}
