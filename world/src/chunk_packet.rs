//! The Chunk Data and Update Light packet of a column: paletted block
//! sections, heightmaps and sky light.

use std::borrow::Cow;

use bytes::Bytes;
use valence_protocol::nbt::{compound, Compound};
use valence_protocol::packets::play::ChunkDataS2c;
use valence_protocol::{BlockState, ChunkPos, Encode, LengthPrefixedArray, VarInt};

use crate::chunk::{Chunk, Section};
use crate::coords::{MIN_Y, SECTION_COUNT};
use crate::framing::Framing;

/// Bits of a direct (palette-less) block entry: enough for every block state.
const DIRECT_BLOCK_BITS: u32 = 15;
/// Sections the light arrays cover: one below and one above the world.
const LIGHT_SECTIONS: usize = SECTION_COUNT + 2;

pub fn encode_chunk_packet(pos: ChunkPos, chunk: &Chunk, biome: u32, framing: &Framing) -> Bytes {
    let heights = column_heights(chunk);
    let mut data = Vec::with_capacity(8 * 1024);
    for section in chunk.sections() {
        write_section(&mut data, section, biome);
    }
    let heightmap = pack_heights(&heights);
    let heightmaps: Compound = compound! {
        "MOTION_BLOCKING" => heightmap.clone(),
        "WORLD_SURFACE" => heightmap,
    };
    let sky = sky_light(&heights);
    let all_sections = vec![(1u64 << LIGHT_SECTIONS) - 1];
    framing.frame(&ChunkDataS2c {
        pos,
        heightmaps: Cow::Owned(heightmaps),
        blocks_and_biomes: &data,
        block_entities: Cow::Borrowed(&[]),
        sky_light_mask: Cow::Borrowed(&all_sections),
        block_light_mask: Cow::Borrowed(&[]),
        empty_sky_light_mask: Cow::Borrowed(&[]),
        empty_block_light_mask: Cow::Borrowed(&all_sections),
        sky_light_arrays: Cow::Owned(sky),
        block_light_arrays: Cow::Borrowed(&[]),
    })
}

/// For each column (index z * 16 + x), the number of rows from the bottom of
/// the world up to and including its highest non-air block.
fn column_heights(chunk: &Chunk) -> [u32; 256] {
    let mut heights = [0u32; 256];
    for z in 0..16 {
        for x in 0..16 {
            heights[z * 16 + x] = chunk
                .top_block_y(x, z)
                .map_or(0, |y| (y - MIN_Y + 1) as u32);
        }
    }
    heights
}

fn pack_heights(heights: &[u32; 256]) -> Vec<i64> {
    pack(heights.iter().map(|&h| u64::from(h)), 9)
}

/// Packs entries of `bits` bits into longs; an entry never spans two longs.
fn pack(values: impl Iterator<Item = u64>, bits: u32) -> Vec<i64> {
    let per_long = (64 / bits) as usize;
    let mut longs = Vec::new();
    let mut current = 0u64;
    let mut filled = 0;
    for value in values {
        current |= value << (filled as u32 * bits);
        filled += 1;
        if filled == per_long {
            longs.push(current as i64);
            current = 0;
            filled = 0;
        }
    }
    if filled > 0 {
        longs.push(current as i64);
    }
    longs
}

fn write_section(out: &mut Vec<u8>, section: &Section, biome: u32) {
    write(out, &(section.non_air_count() as i16));
    match section {
        Section::Uniform(state) => write_single(out, u32::from(state.to_raw())),
        Section::Mixed(_) => write_paletted(out, section),
    }
    write_single(out, biome);
}

fn write_single(out: &mut Vec<u8>, value: u32) {
    out.push(0);
    write(out, &VarInt(value as i32));
    write(out, &VarInt(0));
}

fn write_paletted(out: &mut Vec<u8>, section: &Section) {
    let mut palette: Vec<BlockState> = Vec::new();
    let mut indices = Vec::with_capacity(4096);
    for block in section.blocks() {
        let index = match palette.iter().position(|&p| p == block) {
            Some(i) => i,
            None if palette.len() < 256 => {
                palette.push(block);
                palette.len() - 1
            }
            None => return write_direct(out, section),
        };
        indices.push(index as u64);
    }
    if palette.len() == 1 {
        return write_single(out, u32::from(palette[0].to_raw()));
    }
    let bits = (usize::BITS - (palette.len() - 1).leading_zeros()).max(4);
    out.push(bits as u8);
    write(out, &VarInt(palette.len() as i32));
    for state in &palette {
        write(out, &VarInt(i32::from(state.to_raw())));
    }
    write_longs(out, &pack(indices.into_iter(), bits));
}

fn write_direct(out: &mut Vec<u8>, section: &Section) {
    out.push(DIRECT_BLOCK_BITS as u8);
    let longs = pack(
        section.blocks().map(|b| u64::from(b.to_raw())),
        DIRECT_BLOCK_BITS,
    );
    write_longs(out, &longs);
}

fn write_longs(out: &mut Vec<u8>, longs: &[i64]) {
    write(out, &VarInt(longs.len() as i32));
    for long in longs {
        write(out, long);
    }
}

fn write<T: Encode>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail.
    let _ = value.encode(out);
}

/// Full sky light above each column's highest block, darkness below it. The
/// client relights on its own after later block changes.
fn sky_light(heights: &[u32; 256]) -> Vec<LengthPrefixedArray<u8, 2048>> {
    (0..LIGHT_SECTIONS)
        .map(|light_section| {
            let mut nibbles = [0u8; 2048];
            // Row 0 of light section 1 is the world's bottom row.
            let base = light_section as i64 * 16 - 16;
            for y in 0..16i64 {
                let row = base + y;
                for (column, &height) in heights.iter().enumerate() {
                    if row >= i64::from(height) {
                        let index = (y as usize) * 256 + column;
                        nibbles[index / 2] |= 15 << ((index % 2) * 4);
                    }
                }
            }
            LengthPrefixedArray(nibbles)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use valence_protocol::decode::PacketDecoder;
    use valence_protocol::Decode;

    use super::*;

    #[test]
    fn entries_never_span_longs() {
        let longs = pack([1u64, 2, 3, 4, 5, 6, 7, 8].into_iter(), 9);
        assert_eq!(longs.len(), 2);
        assert_eq!(longs[0] as u64 & 0x1ff, 1);
        assert_eq!((longs[0] as u64 >> 54) & 0x1ff, 7);
        assert_eq!(longs[1], 8);
    }

    #[test]
    fn a_chunk_packet_decodes_with_every_section_and_light_array() {
        let mut chunk = Chunk::default();
        chunk.fill_layers(-64, -60, BlockState::STONE);
        chunk.set_block(1, 10, 1, BlockState::GRASS_BLOCK);
        let framing = Framing::default();
        let bytes = encode_chunk_packet(ChunkPos::new(2, -3), &chunk, 0, &framing);
        let mut decoder = PacketDecoder::new();
        decoder.queue_slice(&bytes);
        let frame = decoder.try_next_packet().unwrap().unwrap();
        let packet: ChunkDataS2c = frame.decode().unwrap();
        assert_eq!(packet.pos, ChunkPos::new(2, -3));
        assert_eq!(packet.sky_light_arrays.len(), LIGHT_SECTIONS);
        assert!(packet.heightmaps.get("MOTION_BLOCKING").is_some());

        let mut r = packet.blocks_and_biomes;
        let mut sections = 0;
        while !r.is_empty() {
            let _count = i16::decode(&mut r).unwrap();
            for _container in 0..2 {
                let bits = u8::decode(&mut r).unwrap();
                if bits == 0 {
                    VarInt::decode(&mut r).unwrap();
                } else if bits <= 8 {
                    let len = VarInt::decode(&mut r).unwrap().0;
                    for _ in 0..len {
                        VarInt::decode(&mut r).unwrap();
                    }
                }
                let longs = VarInt::decode(&mut r).unwrap().0;
                for _ in 0..longs {
                    i64::decode(&mut r).unwrap();
                }
            }
            sections += 1;
        }
        assert_eq!(sections, SECTION_COUNT);
    }
}
