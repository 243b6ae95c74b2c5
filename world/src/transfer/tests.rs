use std::fs;
use std::path::{Path, PathBuf};

use valence_protocol::nbt::Compound;
use valence_protocol::{BlockState, ChunkPos};

use super::*;
use crate::anvil::chunk_nbt;
use crate::anvil::level_dat::{LevelDat, WorldGen};
use crate::anvil::level_file;
use crate::anvil::region_file::{build, compress};
use crate::chunk::Chunk;
use crate::coords::{RegionGrid, RegionPos};
use crate::store::RegionStore;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("tessera-transfer-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn pillar(height: i32) -> Chunk {
    let mut chunk = Chunk::default();
    chunk.fill_layers(-64, -61, BlockState::STONE);
    for y in -60..-60 + height {
        chunk.set_block(3, y, 3, BlockState::GOLD_BLOCK);
    }
    chunk
}

/// A vanilla-layout world of `chunks` chunks, each a
/// pillar as tall as its x + 1, with a level.dat and a player file.
fn vanilla_world(dir: &Path, chunks: &[ChunkPos]) {
    let saved: Vec<(ChunkPos, Chunk)> = chunks
        .iter()
        .map(|p| (*p, pillar(p.x.rem_euclid(16) + 1)))
        .collect();
    RegionStore::open(dir.to_owned())
        .unwrap()
        .save(&saved, &|| true)
        .unwrap();
    let level = LevelDat {
        spawn: (40, -59, 7),
        time: 500,
        day_time: 13_000,
        seed: 1234,
        generator: WorldGen::Flat,
        ..LevelDat::default()
    };
    level_file::save(dir, &level).unwrap();
    fs::create_dir_all(dir.join("playerdata")).unwrap();
    fs::write(dir.join("playerdata/0000.dat"), b"player").unwrap();
}

fn some_chunks() -> Vec<ChunkPos> {
    vec![
        ChunkPos::new(0, 0),
        ChunkPos::new(5, 3),
        ChunkPos::new(-1, -1),
        ChunkPos::new(-20, 40),
    ]
}

fn loaded_height(data_dir: &Path, pos: ChunkPos) -> Option<i32> {
    let store = RegionStore::open(data_dir.to_owned()).unwrap();
    let grid = RegionGrid { size: 1 };
    let loaded = store.load(&grid, RegionPos { x: pos.x, z: pos.z }).unwrap();
    let (_, chunk) = loaded.chunks.into_iter().find(|(p, _)| *p == pos)?;
    (-60..0)
        .take_while(|y| chunk.block(3, *y, 3) == BlockState::GOLD_BLOCK)
        .count()
        .try_into()
        .ok()
}

/// Puts the raw NBT `nbt` as chunk `pos` in its region file of `dir`.
fn put_raw(dir: &Path, pos: ChunkPos, nbt: &Compound) {
    let mut binary = Vec::new();
    nbt.to_binary(&mut binary, "").unwrap();
    let (fx, fz) = crate::anvil::region_file::file_of(pos);
    let path = dir.join(format!("region/r.{fx}.{fz}.mca"));
    let slot = crate::anvil::region_file::slot_of(pos);
    fs::write(path, build(&[(slot, compress(&binary, 0).unwrap())])).unwrap();
}

#[test]
fn a_world_imports_whole_and_its_level_dat_with_it() {
    let (source, target) = (scratch("src"), scratch("dst"));
    vanilla_world(&source.0, &some_chunks());
    let progress = Progress::default();
    let report = import(&source.0, &target.0, ImportOptions::default(), &progress).unwrap();
    assert_eq!((report.chunks, report.region_files), (4, 3));
    assert_eq!(progress.get(), (4, 4));
    assert_eq!(report.player_files, 1);
    assert!(report.skipped.is_empty() && report.moved_aside.is_none());
    for pos in some_chunks() {
        assert_eq!(
            loaded_height(&target.0, pos),
            Some(pos.x.rem_euclid(16) + 1),
            "{pos:?}"
        );
    }
    let level = level_file::load(&target.0).unwrap().unwrap();
    assert_eq!(
        (level.spawn, level.seed, level.day_time),
        ((40, -59, 7), 1234, 13_000)
    );
    let leftovers: Vec<_> = fs::read_dir(&target.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".import"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

#[test]
fn an_existing_world_is_refused_then_moved_aside_with_force() {
    let (source, target) = (scratch("src2"), scratch("dst2"));
    vanilla_world(&source.0, &some_chunks());
    vanilla_world(&target.0, &[ChunkPos::new(100, 100)]);
    let before = fs::read(target.0.join("region/r.3.3.mca")).unwrap();
    let err = import(
        &source.0,
        &target.0,
        ImportOptions::default(),
        &Progress::default(),
    );
    assert!(
        matches!(err, Err(TransferError::NotEmpty { .. })),
        "{err:?}"
    );
    assert_eq!(fs::read(target.0.join("region/r.3.3.mca")).unwrap(), before);

    let force = ImportOptions {
        force: true,
        ..ImportOptions::default()
    };
    let report = import(&source.0, &target.0, force, &Progress::default()).unwrap();
    let aside = report.moved_aside.expect("the old world's place");
    assert_eq!(fs::read(aside.join("region/r.3.3.mca")).unwrap(), before);
    assert!(aside.join("level.dat").exists());
    assert!(!target.0.join("region/r.3.3.mca").exists());
    assert_eq!(loaded_height(&target.0, ChunkPos::new(5, 3)), Some(6));
}

#[test]
fn chunks_of_another_version_refuse_the_import_and_nothing_is_written() {
    let (source, target) = (scratch("src3"), scratch("dst3"));
    vanilla_world(&source.0, &some_chunks());
    let mut old = chunk_nbt::to_nbt(ChunkPos::new(0, 0), &pillar(1));
    old.insert("DataVersion", 3120i32);
    put_raw(&source.0, ChunkPos::new(0, 0), &old);
    let err = import(
        &source.0,
        &target.0,
        ImportOptions::default(),
        &Progress::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("1 of DataVersion 3120") && err.contains("--forceUpgrade"),
        "{err}"
    );
    assert!(!target.0.join("level.dat").exists());
    assert!(files::region_files(&target.0.join("region"))
        .unwrap()
        .is_empty());
}

#[test]
fn damaged_chunks_are_named_and_refused_or_left_out_when_asked() {
    let (source, target) = (scratch("src4"), scratch("dst4"));
    vanilla_world(&source.0, &some_chunks());
    let mut unknown = chunk_nbt::to_nbt(ChunkPos::new(5, 3), &pillar(1));
    unknown.insert("xPos", 6i32);
    put_raw(&source.0, ChunkPos::new(5, 3), &unknown);
    fs::write(source.0.join("region/r.9.9.mca"), b"short").unwrap();
    let err = import(
        &source.0,
        &target.0,
        ImportOptions::default(),
        &Progress::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("2 damaged chunks or region files"), "{err}");
    assert!(
        err.contains("r.0.0.mca chunk 5,3: chunk says it is at (6, 3)"),
        "{err}"
    );
    assert!(err.contains("r.9.9.mca: the file has 5 bytes"), "{err}");
    assert!(!target.0.join("level.dat").exists(), "nothing imported");

    let skip = ImportOptions {
        skip_damaged: true,
        ..ImportOptions::default()
    };
    let report = import(&source.0, &target.0, skip, &Progress::default()).unwrap();
    assert_eq!(report.skipped.len(), 2);
    assert_eq!(report.chunks, 2, "r.0.0 holds only the damaged chunk now");
    assert_eq!(loaded_height(&target.0, ChunkPos::new(-1, -1)), Some(16));
    assert_eq!(loaded_height(&target.0, ChunkPos::new(5, 3)), None);
}

#[test]
fn export_copies_a_stopped_world_and_refuses_one_in_use_or_unsaved() {
    let (world, out) = (scratch("world5"), scratch("out5"));
    vanilla_world(&world.0, &some_chunks());
    let running = crate::anvil::in_use::running(&world.0).unwrap().unwrap();
    let target = out.0.join("exported");
    let err = export(&world.0, &target, &Progress::default());
    assert!(matches!(err, Err(TransferError::InUse(_))), "{err:?}");
    drop(running);

    let report = export(&world.0, &target, &Progress::default()).unwrap();
    assert_eq!((report.chunks, report.region_files), (4, 3));
    assert_eq!(loaded_height(&target, ChunkPos::new(-20, 40)), Some(13));
    assert_eq!(level_file::load(&target).unwrap().unwrap().seed, 1234);
    assert!(
        !target.join("region/.locks").exists(),
        "Tessera's own files stay behind"
    );
    let again = export(&world.0, &target, &Progress::default());
    assert!(
        matches!(again, Err(TransferError::TargetNotEmpty(_))),
        "{again:?}"
    );

    let journals = crate::journal::Journals::new(&world.0, 1);
    let (_, mut writer) = journals.take_over(RegionPos { x: 0, z: 0 }, 1).unwrap();
    let change = crate::journal::JournalChange {
        x: 1,
        y: -60,
        z: 1,
        state: 1,
    };
    let seq = writer.next_seq();
    writer
        .append(&crate::journal::BatchRecord {
            seq,
            changes: vec![change],
            players: Vec::new(),
        })
        .unwrap();
    let unsaved = export(&world.0, &out.0.join("second"), &Progress::default());
    assert!(
        matches!(unsaved, Err(TransferError::Unsaved(_))),
        "{unsaved:?}"
    );
}
