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
    println!("into {}", data_dir.display());
    Ok(())
}

/// The players of the imported world into the register of this single
/// node (a cluster's register is replicated over its running nodes, which
/// `tessera import` does not start).
pub async fn import_players(
    source: &Path,
    data_dir: &Path,
    config: &crate::config::Config,
) -> anyhow::Result<()> {
    if !source.join("playerdata").is_dir() {
        return Ok(());
    }
    if config.cluster.is_some() {
        println!(
            "players in {} were not imported: in a cluster the player records live in the \
             replicated register; import the world on one node without [cluster] first",
            source.join("playerdata").display()
        );
        return Ok(());
    }
    let path = data_dir.join(format!("register-{}.redb", crate::node::SINGLE_NODE));
    let registers = tessera_auth::accounts::LocalRegisters::open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let records = tessera_auth::accounts::PlayerRecords::new(Arc::new(registers));
    let report =
        tessera_net::player_import::import_players(&records, source, config.server.online_mode)
            .await?;
    println!(
        "imported {} players from {} (position, rotation, game mode, inventory)",
        report.imported,
        source.join("playerdata").display()
    );
    if !report.unnamed.is_empty() {
        println!(
            "left out {} players no usercache.json names (offline mode finds a player by name):",
            report.unnamed.len()
        );
        for file in &report.unnamed {
            println!("  {file}");
        }
    }
    for bad in report.damaged.iter().chain(&report.dropped) {
        println!("  left out: {bad}");
    }
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
