//! The world's persistence on `/metrics`: what the journals made durable,
//! how long fsyncs and region file saves take, and which regions cannot
//! persist right now.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::prometheus::histogram;
use tessera_world::World;

fn counter(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

pub fn render(out: &mut String, world: &World) {
    let m = &world.metrics;
    counter(
        out,
        "tessera_journal_changes_total",
        "counter",
        "Block changes the region journals made durable.",
        m.journal_changes.load(Ordering::Relaxed),
    );
    counter(
        out,
        "tessera_journal_bytes_total",
        "counter",
        "Bytes appended to the region journals.",
        m.journal_bytes.load(Ordering::Relaxed),
    );
    counter(
        out,
        "tessera_regions_failing_to_persist",
        "gauge",
        "Regions whose journal or region files cannot be written now.",
        m.regions_failing_to_persist(),
    );
    counter(
        out,
        "tessera_damaged_region_data_total",
        "counter",
        "Region files or chunks that failed their checks when read (kept aside).",
        m.damaged_files.load(Ordering::Relaxed),
    );
    histogram(
        out,
        "tessera_journal_fsync_seconds",
        "Time one journal append (write and fsync) took.",
        "",
        &m.journal_fsync.snapshot(),
    );
    histogram(
        out,
        "tessera_journal_group_commit_changes",
        "Block changes one group commit carried.",
        "",
        &m.group_commit.snapshot(),
    );
    histogram(
        out,
        "tessera_region_save_seconds",
        "Time one region file save took.",
        "",
        &m.saves.snapshot(),
    );
}
