//! `tessera import` and `tessera export`: what they print around
//! `tessera_world::transfer`, which does the work.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tessera_world::transfer::{self, ImportOptions, Progress};

use crate::progress::Display;

fn rate(chunks: usize, started: Instant) -> (f64, f64) {
    let secs = started.elapsed().as_secs_f64();
    (secs, chunks as f64 / secs.max(0.001))
}

pub fn import(source: &Path, data_dir: &Path, options: ImportOptions) -> anyhow::Result<()> {
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let display = Display::start("imported", progress.clone());
    let result = transfer::import(source, data_dir, options, &progress);
    drop(display);
    let report = result.with_context(|| format!("cannot import {}", source.display()))?;
    let (secs, per_sec) = rate(report.chunks, started);
    println!(
        "imported {} chunks from {} region files in {secs:.1} s ({per_sec:.0} chunks/s)",
        report.chunks, report.region_files
    );
    let level = &report.level;
    let (x, y, z) = level.spawn;
    println!(
        "level.dat: spawn {x} {y} {z}, seed {}, time {}, day time {}, {} game rules",
        level.seed,
        level.time,
        level.day_time,
        level.game_rules.len()
    );
    if !report.skipped.is_empty() {
        println!(
            "left out {} damaged chunks or files (Tessera generates fresh terrain there):",
            report.skipped.len()
        );
        for bad in &report.skipped {
            println!("  {bad}");
        }
    }
    if let Some(aside) = &report.moved_aside {
        println!(
            "the world that was in {} is now in {}",
            data_dir.display(),
            aside.display()
        );
    }
    if report.player_files > 0 {
        println!(
            "{} player files in {} were not imported: Tessera keeps player records \
             (position, inventory) in its replicated user register, not in playerdata/; \
             players start at the world's spawn",
            report.player_files,
            source.join("playerdata").display()
        );
    }
    println!("into {}", data_dir.display());
    Ok(())
}

pub fn export(data_dir: &Path, target: &Path) -> anyhow::Result<()> {
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let display = Display::start("exported", progress.clone());
    let result = transfer::export(data_dir, target, &progress);
    drop(display);
    let report = result.with_context(|| format!("cannot export {}", data_dir.display()))?;
    let (secs, per_sec) = rate(report.chunks, started);
    println!(
        "exported {} chunks in {} region files in {secs:.1} s ({per_sec:.0} chunks/s) to {}",
        report.chunks,
        report.region_files,
        report.target.display()
    );
    println!("player records stay in the register: a vanilla server starts players at the spawn");
    Ok(())
}
