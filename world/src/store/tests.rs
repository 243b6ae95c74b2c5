use std::fs;

use valence_protocol::block::{PropName, PropValue};
use valence_protocol::nbt::{List, Value};
use valence_protocol::{BlockKind, BlockState};

use super::*;
use crate::anvil::region_file::{build, compress};

struct World {
    dir: PathBuf,
    store: RegionStore,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn world(name: &str) -> World {
    let dir = std::env::temp_dir().join(format!("tessera-store-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    World {
        store: RegionStore::open(dir.clone()).unwrap(),
        dir,
    }
}

fn grid(size: i32) -> RegionGrid {
    RegionGrid { size }
}

fn yes() -> bool {
    true
}

/// A chunk that says where it is: a gold pillar as tall as 10 + x + z.
fn marked(pos: ChunkPos) -> Chunk {
    let mut chunk = Chunk::default();
    chunk.fill_layers(-64, -60, BlockState::STONE);
    let log = BlockKind::OakLog
        .to_state()
        .set(PropName::Axis, PropValue::X);
    chunk.set_block(0, -60, 0, log);
    for y in 0..10 + pos.x.rem_euclid(32) + pos.z.rem_euclid(32) {
        chunk.set_block(5, y, 5, BlockState::GOLD_BLOCK);
    }
    chunk
}

fn is_marked(pos: ChunkPos, chunk: &Chunk) -> bool {
    let height = 10 + pos.x.rem_euclid(32) + pos.z.rem_euclid(32);
    chunk.block(5, height - 1, 5) == BlockState::GOLD_BLOCK
        && chunk.block(5, height, 5) == BlockState::AIR
        && chunk.block(0, -60, 0).get(PropName::Axis) == Some(PropValue::X)
}

fn positions(loaded: &LoadedRegion) -> Vec<ChunkPos> {
    let mut all: Vec<ChunkPos> = loaded.chunks.iter().map(|(p, _)| *p).collect();
    all.sort_by_key(|p| (p.x, p.z));
    all
}

fn corrupt_copies(w: &World) -> Vec<PathBuf> {
    fs::read_dir(w.dir.join("region"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect()
}

#[test]
fn regions_of_one_chunk_share_a_file_without_erasing_each_other() {
    let w = world("size1");
    let (a, b) = (ChunkPos::new(0, 0), ChunkPos::new(1, 0));
    w.store.save(&[(a, marked(a))], &yes).unwrap();
    w.store.save(&[(b, marked(b))], &yes).unwrap();
    assert!(w.dir.join("region/r.0.0.mca").is_file());
    for pos in [a, b] {
        let loaded = w
            .store
            .load(&grid(1), RegionPos { x: pos.x, z: pos.z })
            .unwrap();
        assert_eq!(positions(&loaded), vec![pos]);
        assert!(is_marked(pos, &loaded.chunks[0].1));
        assert!(loaded.damaged.is_empty());
    }
}

#[test]
fn regions_of_two_chunks_load_only_their_own() {
    let w = world("size2");
    let first: Vec<ChunkPos> = vec![ChunkPos::new(-2, -2), ChunkPos::new(-1, -1)];
    let second: Vec<ChunkPos> = vec![ChunkPos::new(0, -2), ChunkPos::new(1, -1)];
    let save = |ps: &[ChunkPos]| {
        let chunks: Vec<_> = ps.iter().map(|p| (*p, marked(*p))).collect();
        w.store.save(&chunks, &yes).unwrap();
    };
    save(&first);
    save(&second);
    // A later save of one region leaves the other's chunks in the file.
    save(&first[..1]);
    let loaded = w.store.load(&grid(2), RegionPos { x: -1, z: -1 }).unwrap();
    assert_eq!(positions(&loaded), first);
    let loaded = w.store.load(&grid(2), RegionPos { x: 0, z: -1 }).unwrap();
    assert_eq!(positions(&loaded), second);
    assert!(loaded.chunks.iter().all(|(p, c)| is_marked(*p, c)));
    // r.-1.-1.mca and r.0.-1.mca: the two regions sit on both sides of a file border.
    assert!(w.dir.join("region/r.-1.-1.mca").is_file());
    assert!(w.dir.join("region/r.0.-1.mca").is_file());
}

#[test]
fn regions_of_32_chunks_are_one_file_and_bigger_ones_span_several() {
    let w = world("size32");
    let corners = [
        ChunkPos::new(-32, 0),
        ChunkPos::new(-1, 31),
        ChunkPos::new(-20, 7),
    ];
    let chunks: Vec<_> = corners.iter().map(|p| (*p, marked(*p))).collect();
    w.store.save(&chunks, &yes).unwrap();
    let loaded = w.store.load(&grid(32), RegionPos { x: -1, z: 0 }).unwrap();
    assert_eq!(loaded.chunks.len(), 3);
    assert!(loaded.chunks.iter().all(|(p, c)| is_marked(*p, c)));
    let loaded = w.store.load(&grid(64), RegionPos { x: -1, z: 0 }).unwrap();
    assert_eq!(loaded.chunks.len(), 3);
    assert!(w
        .store
        .load(&grid(32), RegionPos { x: 0, z: 0 })
        .unwrap()
        .chunks
        .is_empty());
}

#[test]
fn a_file_of_random_bytes_is_reported_and_kept_aside_once() {
    let w = world("random");
    fs::create_dir_all(w.dir.join("region")).unwrap();
    let path = w.dir.join("region/r.0.0.mca");
    let noise: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&path, &noise).unwrap();
    let loaded = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert!(loaded.chunks.is_empty());
    assert!(!loaded.damaged.is_empty());
    let kept = loaded.damaged[0].kept_as.clone().unwrap();
    assert_eq!(fs::read(&kept).unwrap(), noise);
    let again = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert_eq!(again.damaged[0].kept_as.as_ref(), Some(&kept));
    assert_eq!(corrupt_copies(&w), vec![kept]);
    assert_eq!(fs::read(&path).unwrap(), noise, "never replaced by a load");

    fs::write(&path, &noise[..100]).unwrap();
    let short = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert_eq!(short.damaged.len(), 1);
    assert_eq!(short.damaged[0].chunk, None, "the whole file is damaged");
    assert!(short.damaged[0].reason.contains("header"));
}

#[test]
fn a_file_cut_in_half_keeps_its_first_chunk_and_saves_rebuild_from_what_is_left() {
    let w = world("truncated");
    let chunks: Vec<_> = (0..8)
        .map(|i| ChunkPos::new(i, 0))
        .map(|p| (p, marked(p)))
        .collect();
    w.store.save(&chunks, &yes).unwrap();
    let path = w.dir.join("region/r.0.0.mca");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();

    let loaded = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert!(positions(&loaded).contains(&ChunkPos::new(0, 0)));
    assert!(loaded.chunks.iter().all(|(p, c)| is_marked(*p, c)));
    assert!(loaded
        .damaged
        .iter()
        .any(|d| d.chunk == Some(ChunkPos::new(7, 0))));
    assert_eq!(loaded.chunks.len() + loaded.damaged.len(), 8);
    let kept = loaded.damaged[0].kept_as.clone().unwrap();
    assert_eq!(fs::read(&kept).unwrap(), &bytes[..bytes.len() / 2]);

    let new = ChunkPos::new(9, 9);
    w.store.save(&[(new, marked(new))], &yes).unwrap();
    let after = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert!(after.damaged.is_empty());
    let mut expected: Vec<ChunkPos> = loaded.chunks.iter().map(|(p, _)| *p).collect();
    expected.push(new);
    expected.sort_by_key(|p| (p.x, p.z));
    assert_eq!(positions(&after), expected);
    assert_eq!(corrupt_copies(&w), vec![kept]);
}

#[test]
fn chunks_of_other_versions_or_unknown_blocks_are_damaged_with_their_reason() {
    let w = world("foreign");
    fs::create_dir_all(w.dir.join("region")).unwrap();
    let encode = |nbt: Compound| {
        let mut binary = Vec::new();
        nbt.to_binary(&mut binary, "").unwrap();
        compress(&binary, 0).unwrap()
    };
    let (good, old, odd) = (
        ChunkPos::new(0, 0),
        ChunkPos::new(1, 0),
        ChunkPos::new(2, 0),
    );
    let mut old_nbt = chunk_nbt::to_nbt(old, &marked(old));
    old_nbt.insert("DataVersion", 3700);
    let mut odd_nbt = chunk_nbt::to_nbt(odd, &Chunk::default());
    let mut entry = Compound::new();
    entry.insert("Name", "minecraft:mud_brick_pillar".to_owned());
    let mut states = Compound::new();
    states.insert("palette", List::Compound(vec![entry]));
    let mut section = Compound::new();
    section.insert("Y", 0i8);
    section.insert("block_states", states);
    odd_nbt.insert("sections", Value::List(List::Compound(vec![section])));
    let bytes = build(&[
        (0, encode(chunk_nbt::to_nbt(good, &marked(good)))),
        (1, encode(old_nbt)),
        (2, encode(odd_nbt)),
    ]);
    fs::write(w.dir.join("region/r.0.0.mca"), bytes).unwrap();
    let loaded = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert_eq!(positions(&loaded), vec![good]);
    let reason = |pos| {
        loaded
            .damaged
            .iter()
            .find(|d| d.chunk == Some(pos))
            .map(|d| d.reason.clone())
            .unwrap()
    };
    assert!(reason(old).contains("DataVersion 3700"), "{}", reason(old));
    assert!(reason(odd).contains("mud_brick_pillar"), "{}", reason(odd));
}

#[test]
fn a_fenced_save_leaves_the_file_as_it_was() {
    let w = world("fenced");
    let a = ChunkPos::new(3, 3);
    w.store.save(&[(a, marked(a))], &yes).unwrap();
    let path = w.dir.join("region/r.0.0.mca");
    let before = fs::read(&path).unwrap();
    let b = ChunkPos::new(4, 4);
    let result = w.store.save(&[(b, marked(b))], &|| false);
    assert!(
        matches!(result, Err(StoreError::Fenced { .. })),
        "{result:?}"
    );
    assert!(result.unwrap_err().to_string().contains("r.0.0.mca"));
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(!w.dir.join("region/r.0.0.mca.tmp").exists());
}

#[test]
fn a_failed_write_keeps_the_old_file_and_a_crashed_temp_file_is_ignored() {
    let w = world("io");
    let a = ChunkPos::new(0, 0);
    w.store.save(&[(a, marked(a))], &yes).unwrap();
    let path = w.dir.join("region/r.0.0.mca");
    let before = fs::read(&path).unwrap();
    // A folder where the temporary file goes makes its creation fail.
    let temp = w.dir.join("region/r.0.0.mca.tmp");
    fs::create_dir(&temp).unwrap();
    let b = ChunkPos::new(1, 0);
    let result = w.store.save(&[(b, marked(b))], &yes);
    assert!(matches!(result, Err(StoreError::Io { .. })), "{result:?}");
    assert_eq!(fs::read(&path).unwrap(), before);
    fs::remove_dir(&temp).unwrap();

    // What a crash mid-write leaves behind neither loads nor blocks a save.
    fs::write(&temp, b"half a file").unwrap();
    let loaded = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert_eq!(positions(&loaded), vec![a]);
    w.store.save(&[(b, marked(b))], &yes).unwrap();
    assert!(!temp.exists());
    let loaded = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert_eq!(positions(&loaded), vec![a, b]);
}

#[test]
fn a_world_of_the_last_release_is_converted_once() {
    let dir = std::env::temp_dir().join(format!("tessera-store-legacy-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("regions")).unwrap();
    let chunks: Vec<_> = [ChunkPos::new(-5, 70), ChunkPos::new(40, 2)]
        .into_iter()
        .map(|p| (p, marked(p)))
        .collect();
    fs::write(
        dir.join("regions/r.-1.2.tessera"),
        legacy::write(3, &chunks[..1]),
    )
    .unwrap();
    fs::write(
        dir.join("regions/r.1.0.tessera"),
        legacy::write(3, &chunks[1..]),
    )
    .unwrap();
    let store = RegionStore::open(dir.clone()).unwrap();
    assert!(!dir.join("regions").exists());
    assert!(dir.join("regions.converted/r.1.0.tessera").is_file());
    for (pos, _) in &chunks {
        let region = grid(32).region_of_chunk(*pos);
        let loaded = store.load(&grid(32), region).unwrap();
        assert_eq!(positions(&loaded), vec![*pos]);
        assert!(is_marked(*pos, &loaded.chunks[0].1));
    }
    // A second start finds nothing left to convert.
    RegionStore::open(dir.clone()).unwrap();
    assert!(dir.join("regions.converted/r.-1.2.tessera").is_file());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_saved_chunk_keeps_the_biomes_and_block_entities_of_the_vanilla_chunk_it_replaces() {
    let w = world("keep-vanilla");
    fs::create_dir_all(w.dir.join("region")).unwrap();
    let pos = ChunkPos::new(0, 0);
    let mut blocks = marked(pos);
    blocks.set_block(3, -59, 3, BlockKind::Chest.to_state());
    blocks.set_block(7, -59, 7, BlockKind::Chest.to_state());
    let mut vanilla = chunk_nbt::to_nbt(pos, &blocks);
    let Some(Value::List(List::Compound(sections))) = vanilla.get_mut("sections") else {
        panic!("no sections");
    };
    for section in sections.iter_mut() {
        let mut biomes = Compound::new();
        biomes.insert("palette", List::String(vec!["minecraft:desert".into()]));
        section.insert("biomes", biomes);
    }
    let chest = |x: i32, z: i32| {
        let mut entity = Compound::new();
        entity.insert("id", "minecraft:chest".to_owned());
        entity.insert("x", x);
        entity.insert("y", -59);
        entity.insert("z", z);
        entity.insert("Items", List::End);
        entity
    };
    vanilla.insert(
        "block_entities",
        List::Compound(vec![chest(3, 3), chest(7, 7)]),
    );
    vanilla.insert("InhabitedTime", 1234i64);
    let mut binary = Vec::new();
    vanilla.to_binary(&mut binary, "").unwrap();
    fs::write(
        w.dir.join("region/r.0.0.mca"),
        build(&[(0, compress(&binary, 0).unwrap())]),
    )
    .unwrap();

    // A player breaks the second chest and places stone elsewhere.
    let mut changed = blocks.clone();
    changed.set_block(7, -59, 7, BlockState::AIR);
    changed.set_block(9, -59, 9, BlockState::STONE);
    w.store.save(&[(pos, changed)], &yes).unwrap();

    let file = RegionFile::parse(fs::read(w.dir.join("region/r.0.0.mca")).unwrap()).unwrap();
    let saved = w
        .store
        .chunk_nbt(pos, &file.chunk(0).unwrap().unwrap())
        .unwrap();
    let Some(Value::List(List::Compound(sections))) = saved.get("sections") else {
        panic!("no sections saved");
    };
    for section in sections {
        let Some(Value::Compound(biomes)) = section.get("biomes") else {
            panic!("a section without biomes");
        };
        assert_eq!(
            biomes.get("palette"),
            Some(&Value::List(List::String(vec!["minecraft:desert".into()])))
        );
    }
    let Some(Value::List(List::Compound(entities))) = saved.get("block_entities") else {
        panic!("the chest's block entity was dropped");
    };
    let at: Vec<(Option<&Value>, Option<&Value>)> =
        entities.iter().map(|e| (e.get("x"), e.get("z"))).collect();
    assert_eq!(
        at,
        vec![(Some(&Value::Int(3)), Some(&Value::Int(3)))],
        "only the chest still standing keeps its contents"
    );
    assert_eq!(saved.get("InhabitedTime"), Some(&Value::Long(1234)));
    let back = w.store.load(&grid(32), RegionPos { x: 0, z: 0 }).unwrap();
    assert_eq!(back.chunks[0].1.block(9, -59, 9), BlockState::STONE);
}
