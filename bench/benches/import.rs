//! `tessera import`'s rate: a world of side × side chunks of the terrain
//! generator's hills, water and trees (10,000 by default), written as
//! vanilla region files with the project's own Anvil writer, then imported
//! into an empty data_dir as `tessera import` does (every chunk read,
//! checked and written, on all cores).
//!
//! `cargo bench -p tessera-bench --bench import -- [--side N] [--dir PATH]`
//! (defaults 100, a folder under the system's temp dir). Prints one JSON
//! line: chunks, region files, seconds and chunks per second.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tessera_world::anvil::level_dat::{LevelDat, WorldGen};
use tessera_world::anvil::level_file;
use tessera_world::chunk::Chunk;
use tessera_world::gen::{Generator, Terrain};
use tessera_world::store::RegionStore;
use tessera_world::transfer::{import, ImportOptions, Progress};
use valence_protocol::ChunkPos;

struct Args {
    side: i32,
    dir: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        side: 100,
        dir: std::env::temp_dir().join(format!("tessera-import-bench-{}", std::process::id())),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || {
            given
                .next()
                .unwrap_or_else(|| panic!("{flag} takes a value"))
        };
        match flag.as_str() {
            "--side" => args.side = value().parse().expect("--side takes a number"),
            "--dir" => args.dir = PathBuf::from(value()),
            // `cargo bench` adds `--bench`.
            _ => {}
        }
    }
    args
}

/// Writes the source world, one region file's chunks at a time, on all cores.
fn write_source(dir: &std::path::Path, side: i32) {
    let generator = Terrain { seed: 7 };
    let store = RegionStore::open(dir.to_owned()).expect("a region store");
    let per_side = (side + 31) / 32;
    let files: Vec<(i32, i32)> = (0..per_side)
        .flat_map(|fx| (0..per_side).map(move |fz| (fx, fz)))
        .collect();
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..std::thread::available_parallelism().map_or(2, usize::from) {
            scope.spawn(|| {
                while let Some(&(fx, fz)) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let chunks: Vec<(ChunkPos, Chunk)> = (fx * 32..(fx * 32 + 32).min(side))
                        .flat_map(|x| (fz * 32..(fz * 32 + 32).min(side)).map(move |z| (x, z)))
                        .map(|(x, z)| {
                            let pos = ChunkPos::new(x, z);
                            (pos, generator.generate(pos))
                        })
                        .collect();
                    if let Err(e) = store.save(&chunks, &|| true) {
                        *failed.lock().expect("a lock") = Some(e);
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().expect("a lock") {
        panic!("cannot write the source world: {e}");
    }
    let level = LevelDat {
        spawn: (0, generator.surface_y(0, 0), 0),
        seed: 7,
        generator: WorldGen::Noise,
        ..LevelDat::default()
    };
    level_file::save(dir, &level).expect("a level.dat");
}

fn main() {
    let args = args();
    let _ = std::fs::remove_dir_all(&args.dir);
    let (source, target) = (args.dir.join("vanilla"), args.dir.join("data"));
    let written = Instant::now();
    write_source(&source, args.side);
    eprintln!(
        "wrote {} chunks in {:.1} s",
        args.side * args.side,
        written.elapsed().as_secs_f64()
    );
    let bytes: u64 = std::fs::read_dir(source.join("region"))
        .expect("the source's region folder")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let started = Instant::now();
    let report = import(
        &source,
        &target,
        ImportOptions::default(),
        &Progress::default(),
    )
    .expect("the import");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"chunks\":{},\"region_files\":{},\"source_mib\":{:.1},\"seconds\":{seconds:.2},\"chunks_per_sec\":{:.0}}}",
        report.chunks,
        report.region_files,
        bytes as f64 / (1 << 20) as f64,
        report.chunks as f64 / seconds
    );
    let _ = std::fs::remove_dir_all(&args.dir);
}
