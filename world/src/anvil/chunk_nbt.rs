//! One chunk column as the NBT compound vanilla 1.20.1 keeps in a region
//! file, and back. Tessera holds only blocks; what else a vanilla chunk
//! carries (biomes, block entities, structures, scheduled ticks) is taken
//! over from the chunk the file held before ([`keep_from`]), so changing one
//! block of an imported chunk does not empty its chests. Light is left for
//! vanilla to compute (`isLightOn` 0).

use std::collections::HashMap;

use valence_protocol::block::{PropName, PropValue};
use valence_protocol::nbt::{Compound, List, Value};
use valence_protocol::{BlockKind, BlockState, ChunkPos};

use super::packing;
use crate::chunk::{Chunk, Section};
use crate::coords::{MIN_Y, SECTION_COUNT};

/// The data version of Minecraft 1.20.1; chunks of other versions have
/// other block names and layouts, which vanilla upgrades and we do not.
pub const DATA_VERSION: i32 = 3465;
const MIN_SECTION: i32 = MIN_Y >> 4;
const SECTION_VOLUME: usize = 4096;
const PLAINS: &str = "minecraft:plains";

/// Why a chunk's NBT cannot become a [`Chunk`].
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChunkNbtError {
    #[error(
        "chunk has DataVersion {found}, this server reads only 3465 (Minecraft 1.20.1); \
         upgrade the world with a vanilla 1.20.1 server first"
    )]
    DataVersion { found: i32 },
    #[error("chunk has no DataVersion; it predates 1.9 or is not a chunk")]
    NoDataVersion,
    #[error("chunk lacks {0} or it has the wrong type")]
    Missing(&'static str),
    #[error("chunk says it is at {found:?}, its place in the file is {expected:?}")]
    WrongPosition {
        found: (i32, i32),
        expected: (i32, i32),
    },
    #[error("unknown block {0:?}")]
    UnknownBlock(String),
    #[error("block {block:?} has no property {name:?} with value {value:?}")]
    BadProperty {
        block: String,
        name: String,
        value: String,
    },
    #[error("section {y}: {reason}")]
    BadSection { y: i32, reason: String },
}

/// Whether a chunk is finished terrain; vanilla also saves half-generated
/// chunks around the explored area, which are not part of the world yet.
pub fn is_full(nbt: &Compound) -> bool {
    matches!(nbt.get("Status"), Some(Value::String(s)) if s == "minecraft:full" || s == "full")
}

/// The NBT of `chunk` at `pos`, as vanilla 1.20.1 writes a full chunk.
pub fn to_nbt(pos: ChunkPos, chunk: &Chunk) -> Compound {
    let mut nbt = Compound::new();
    nbt.insert("DataVersion", DATA_VERSION);
    nbt.insert("xPos", pos.x);
    nbt.insert("zPos", pos.z);
    nbt.insert("yPos", MIN_SECTION);
    nbt.insert("Status", "minecraft:full".to_owned());
    nbt.insert("LastUpdate", 0i64);
    nbt.insert("InhabitedTime", 0i64);
    let sections = chunk
        .sections()
        .iter()
        .enumerate()
        .map(|(i, section)| section_to_nbt(MIN_SECTION + i as i32, section))
        .collect::<Vec<_>>();
    nbt.insert("sections", List::Compound(sections));
    nbt.insert("Heightmaps", heightmaps(chunk));
    nbt.insert("block_entities", List::End);
    let mut structures = Compound::new();
    structures.insert("References", Compound::new());
    structures.insert("starts", Compound::new());
    nbt.insert("structures", structures);
    // No light is stored: vanilla computes it when it loads the chunk.
    nbt.insert("isLightOn", 0i8);
    nbt
}

/// What a chunk the file held before carries beyond its blocks, kept in
/// `ours` (just made by [`to_nbt`] from `chunk`): each section's biomes,
/// the block entities whose block is still the one they belong to, and the
/// chunk's structures, inhabited time, post-processing and scheduled ticks.
/// A chunk of another version, or one that is not finished, gives nothing.
pub fn keep_from(ours: &mut Compound, chunk: &Chunk, pos: ChunkPos, before: &Compound) {
    if !matches!(before.get("DataVersion"), Some(Value::Int(DATA_VERSION))) || !is_full(before) {
        return;
    }
    if let (Some(Value::List(List::Compound(old))), Some(Value::List(List::Compound(new)))) =
        (before.get("sections"), ours.get_mut("sections"))
    {
        let biomes: HashMap<i8, &Value> = old
            .iter()
            .filter_map(|s| match (s.get("Y"), s.get("biomes")) {
                (Some(Value::Byte(y)), Some(b @ Value::Compound(_))) => Some((*y, b)),
                _ => None,
            })
            .collect();
        for section in new.iter_mut() {
            if let Some(Value::Byte(y)) = section.get("Y") {
                if let Some(kept) = biomes.get(y) {
                    section.insert("biomes", (*kept).clone());
                }
            }
        }
    }
    let old_blocks = from_nbt(pos, before).ok();
    if let Some(Value::List(List::Compound(entities))) = before.get("block_entities") {
        let kept: Vec<Compound> = entities
            .iter()
            .filter(|e| block_unchanged(e, chunk, old_blocks.as_ref()))
            .cloned()
            .collect();
        if !kept.is_empty() {
            ours.insert("block_entities", List::Compound(kept));
        }
    }
    for key in [
        "structures",
        "InhabitedTime",
        "PostProcessing",
        "block_ticks",
        "fluid_ticks",
    ] {
        if let Some(value) = before.get(key) {
            ours.insert(key, value.clone());
        }
    }
}

/// Whether a block entity's block is still what it was: a chest broken or
/// replaced takes its contents with it, as in vanilla.
fn block_unchanged(entity: &Compound, chunk: &Chunk, before: Option<&Chunk>) -> bool {
    let (Some(Value::Int(x)), Some(Value::Int(y)), Some(Value::Int(z))) =
        (entity.get("x"), entity.get("y"), entity.get("z"))
    else {
        return false;
    };
    let Some(before) = before else {
        return false;
    };
    let (x, z) = (x.rem_euclid(16) as usize, z.rem_euclid(16) as usize);
    if *y < MIN_Y || *y >= MIN_Y + (SECTION_COUNT as i32) * 16 {
        return false;
    }
    let (now, then) = (chunk.block(x, *y, z), before.block(x, *y, z));
    now.to_kind() == then.to_kind() && !now.is_air()
}

fn section_to_nbt(y: i32, section: &Section) -> Compound {
    let mut palette: Vec<BlockState> = Vec::new();
    let mut indices: HashMap<BlockState, u64> = HashMap::new();
    let mut data = Vec::with_capacity(SECTION_VOLUME);
    for state in section.blocks() {
        let index = *indices.entry(state).or_insert_with(|| {
            palette.push(state);
            palette.len() as u64 - 1
        });
        data.push(index);
    }
    let mut block_states = Compound::new();
    let entries = palette.iter().map(|s| state_to_nbt(*s)).collect();
    block_states.insert("palette", List::Compound(entries));
    if palette.len() > 1 {
        let bits = packing::block_bits(palette.len());
        block_states.insert("data", packing::pack(data.into_iter(), bits));
    }
    let mut biomes = Compound::new();
    biomes.insert("palette", List::String(vec![PLAINS.to_owned()]));
    let mut nbt = Compound::new();
    nbt.insert("Y", y as i8);
    nbt.insert("block_states", block_states);
    nbt.insert("biomes", biomes);
    nbt
}

fn state_to_nbt(state: BlockState) -> Compound {
    let kind = state.to_kind();
    let mut entry = Compound::new();
    entry.insert("Name", format!("minecraft:{}", kind.to_str()));
    if !kind.props().is_empty() {
        let mut props = Compound::new();
        for &name in kind.props() {
            if let Some(value) = state.get(name) {
                props.insert(name.to_str(), value.to_str().to_owned());
            }
        }
        entry.insert("Properties", props);
    }
    entry
}

/// MOTION_BLOCKING and WORLD_SURFACE: per column, one more than the
/// height (from the world's bottom) of the highest matching block, 0 if none.
fn heightmaps(chunk: &Chunk) -> Compound {
    let blocks_motion = |s: BlockState| s.collision_shapes().len() > 0 || s.is_liquid();
    let mut motion = Vec::with_capacity(256);
    let mut surface = Vec::with_capacity(256);
    for z in 0..16 {
        for x in 0..16 {
            let top = chunk.top_block_y(x, z);
            surface.push(top.map_or(0, |y| (y - MIN_Y + 1) as u64));
            let mut height = 0;
            let mut y = top.unwrap_or(MIN_Y - 1);
            while y >= MIN_Y {
                if blocks_motion(chunk.block(x, y, z)) {
                    height = (y - MIN_Y + 1) as u64;
                    break;
                }
                y -= 1;
            }
            motion.push(height);
        }
    }
    let mut maps = Compound::new();
    maps.insert("MOTION_BLOCKING", packing::pack(motion.into_iter(), 9));
    maps.insert("WORLD_SURFACE", packing::pack(surface.into_iter(), 9));
    maps
}

/// The blocks of a chunk read from a region file at `pos`.
pub fn from_nbt(pos: ChunkPos, nbt: &Compound) -> Result<Chunk, ChunkNbtError> {
    match nbt.get("DataVersion") {
        Some(Value::Int(DATA_VERSION)) => {}
        Some(Value::Int(found)) => return Err(ChunkNbtError::DataVersion { found: *found }),
        _ => return Err(ChunkNbtError::NoDataVersion),
    }
    let found = (int(nbt, "xPos")?, int(nbt, "zPos")?);
    if found != (pos.x, pos.z) {
        return Err(ChunkNbtError::WrongPosition {
            found,
            expected: (pos.x, pos.z),
        });
    }
    // Sections vanilla did not write are air; those above and below the
    // world (vanilla keeps light there) carry no blocks.
    let mut sections = vec![Section::Uniform(BlockState::AIR); SECTION_COUNT];
    let list = match nbt.get("sections") {
        Some(Value::List(List::Compound(list))) => list.as_slice(),
        Some(Value::List(List::End)) => &[],
        _ => return Err(ChunkNbtError::Missing("sections")),
    };
    for section in list {
        let y = match section.get("Y") {
            Some(Value::Byte(y)) => i32::from(*y),
            Some(Value::Int(y)) => *y,
            _ => return Err(ChunkNbtError::Missing("a section's Y")),
        };
        // A Y far outside the world is skipped like any other outside it;
        // `y - MIN_SECTION` itself overflowed for one near i32::MAX.
        let Some(index) = y
            .checked_sub(MIN_SECTION)
            .filter(|index| (0..SECTION_COUNT as i32).contains(index))
        else {
            continue;
        };
        if let Some(states) = section.get("block_states") {
            let Value::Compound(states) = states else {
                return Err(ChunkNbtError::Missing("a section's block_states"));
            };
            sections[index as usize] = section_from_nbt(y, states)?;
        }
    }
    Chunk::from_sections(sections).ok_or(ChunkNbtError::Missing("sections"))
}

fn int(nbt: &Compound, key: &'static str) -> Result<i32, ChunkNbtError> {
    match nbt.get(key) {
        Some(Value::Int(v)) => Ok(*v),
        _ => Err(ChunkNbtError::Missing(key)),
    }
}

fn section_from_nbt(y: i32, states: &Compound) -> Result<Section, ChunkNbtError> {
    let bad = |reason: &str| ChunkNbtError::BadSection {
        y,
        reason: reason.to_owned(),
    };
    let palette = match states.get("palette") {
        Some(Value::List(List::Compound(entries))) if !entries.is_empty() => entries
            .iter()
            .map(state_from_nbt)
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(bad("no block palette")),
    };
    if palette.len() == 1 {
        return Ok(Section::Uniform(palette[0]));
    }
    let Some(Value::LongArray(data)) = states.get("data") else {
        return Err(bad("a palette of several blocks but no data"));
    };
    let bits = packing::block_bits(palette.len());
    let indices = packing::unpack(data, bits, SECTION_VOLUME)
        .ok_or_else(|| bad("block data does not match its palette's size"))?;
    let mut blocks = Box::new([BlockState::AIR; SECTION_VOLUME]);
    for (block, index) in blocks.iter_mut().zip(indices) {
        *block = *palette
            .get(index as usize)
            .ok_or_else(|| bad("a block index past the end of the palette"))?;
    }
    Ok(Section::Mixed(blocks))
}

fn state_from_nbt(entry: &Compound) -> Result<BlockState, ChunkNbtError> {
    let Some(Value::String(name)) = entry.get("Name") else {
        return Err(ChunkNbtError::Missing("a palette entry's Name"));
    };
    let kind = name
        .strip_prefix("minecraft:")
        .and_then(BlockKind::from_str)
        .ok_or_else(|| ChunkNbtError::UnknownBlock(name.clone()))?;
    let mut state = kind.to_state();
    if let Some(Value::Compound(props)) = entry.get("Properties") {
        for (key, value) in props.iter() {
            let Value::String(value) = value else {
                return Err(ChunkNbtError::Missing("a block property's string value"));
            };
            let bad = || ChunkNbtError::BadProperty {
                block: name.clone(),
                name: key.clone(),
                value: value.clone(),
            };
            let prop = PropName::from_str(key).ok_or_else(bad)?;
            let val = PropValue::from_str(value).ok_or_else(bad)?;
            state = state.set(prop, val);
            // `set` ignores what the block does not have; that is damage.
            if state.get(prop) != Some(val) {
                return Err(bad());
            }
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str, props: &[(&str, &str)]) -> BlockState {
        let mut state = BlockKind::from_str(name).unwrap().to_state();
        for (k, v) in props {
            state = state.set(
                PropName::from_str(k).unwrap(),
                PropValue::from_str(v).unwrap(),
            );
        }
        state
    }

    fn mixed_chunk() -> Chunk {
        let mut chunk = Chunk::default();
        chunk.fill_layers(-64, -20, BlockState::STONE);
        chunk.fill_layers(-20, -19, BlockState::GRASS_BLOCK);
        // Every state of a few kinds, so sections need wide palettes.
        let many: Vec<BlockState> = (0..600u16).filter_map(BlockState::from_raw).collect();
        for (i, s) in many.iter().enumerate() {
            chunk.set_block(i % 16, (i / 256) as i32, (i / 16) % 16, *s);
        }
        chunk.set_block(1, 100, 1, state("oak_log", &[("axis", "x")]));
        chunk.set_block(2, 100, 1, state("oak_log", &[("axis", "z")]));
        chunk.set_block(
            3,
            100,
            1,
            state("oak_stairs", &[("facing", "west"), ("half", "top")]),
        );
        chunk.set_block(15, 319, 15, BlockState::GOLD_BLOCK);
        chunk
    }

    fn same(a: &Chunk, b: &Chunk) {
        for (sa, sb) in a.sections().iter().zip(b.sections()) {
            assert!(sa.blocks().eq(sb.blocks()));
        }
    }

    #[test]
    fn a_chunk_comes_back_block_for_block_through_binary_nbt() {
        let chunk = mixed_chunk();
        let pos = ChunkPos::new(-3, 41);
        let mut bytes = Vec::new();
        to_nbt(pos, &chunk).to_binary(&mut bytes, "").unwrap();
        let (nbt, _) = Compound::from_binary(&mut bytes.as_slice()).unwrap();
        assert!(is_full(&nbt));
        let back = from_nbt(pos, &nbt).unwrap();
        same(&chunk, &back);
        assert_eq!(back.block(1, 100, 1), state("oak_log", &[("axis", "x")]));
        assert_eq!(
            back.block(3, 100, 1),
            state("oak_stairs", &[("facing", "west"), ("half", "top")])
        );
        // Single-state sections are written without data, as vanilla does.
        let Some(Value::List(List::Compound(sections))) = nbt.get("sections") else {
            panic!("no sections");
        };
        let Some(Value::Compound(top)) = sections[23].get("block_states") else {
            panic!("no block states");
        };
        assert!(top.get("data").is_some());
        let Some(Value::Compound(low)) = sections[0].get("block_states") else {
            panic!("no block states");
        };
        assert!(low.get("data").is_none());
    }

    #[test]
    fn heightmaps_count_from_the_bottom_of_the_world() {
        let mut chunk = Chunk::default();
        chunk.fill_layers(-64, -60, BlockState::STONE);
        chunk.set_block(0, 10, 0, BlockState::GRASS);
        let nbt = to_nbt(ChunkPos::new(0, 0), &chunk);
        let Some(Value::Compound(maps)) = nbt.get("Heightmaps") else {
            panic!("no heightmaps");
        };
        let Some(Value::LongArray(surface)) = maps.get("WORLD_SURFACE") else {
            panic!("no WORLD_SURFACE");
        };
        let Some(Value::LongArray(motion)) = maps.get("MOTION_BLOCKING") else {
            panic!("no MOTION_BLOCKING");
        };
        assert_eq!(surface.len(), 37);
        let surface = packing::unpack(surface, 9, 256).unwrap();
        let motion = packing::unpack(motion, 9, 256).unwrap();
        assert_eq!(
            (surface[0], motion[0]),
            (75, 4),
            "grass does not block motion"
        );
        assert_eq!((surface[1], motion[1]), (4, 4));
    }

    #[test]
    fn other_versions_and_unknown_blocks_are_refused_with_their_reason() {
        let pos = ChunkPos::new(0, 0);
        let mut nbt = to_nbt(pos, &mixed_chunk());
        nbt.insert("DataVersion", 3953);
        let err = from_nbt(pos, &nbt).unwrap_err();
        assert_eq!(err, ChunkNbtError::DataVersion { found: 3953 });
        assert!(err.to_string().contains("3953"));

        let mut nbt = to_nbt(pos, &Chunk::default());
        let mut entry = Compound::new();
        entry.insert("Name", "minecraft:copper_bulb".to_owned());
        let mut states = Compound::new();
        states.insert("palette", List::Compound(vec![entry]));
        let mut section = Compound::new();
        section.insert("Y", 0i8);
        section.insert("block_states", states);
        nbt.insert("sections", List::Compound(vec![section]));
        assert_eq!(
            from_nbt(pos, &nbt).unwrap_err(),
            ChunkNbtError::UnknownBlock("minecraft:copper_bulb".into())
        );
        assert!(matches!(
            from_nbt(ChunkPos::new(1, 0), &to_nbt(pos, &Chunk::default())),
            Err(ChunkNbtError::WrongPosition { .. })
        ));
    }
}
