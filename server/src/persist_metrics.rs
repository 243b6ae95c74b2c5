//! The world's persistence on `/metrics`: what the journals made durable,
//! how long fsyncs and region file saves take, how far the region files
//! lag behind the journals, and which regions cannot persist right now.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::prometheus::histogram;
use tessera_world::region_metrics::Lag;
use tessera_world::World;

fn counter(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

pub fn render(out: &mut String, world: &World) {
    let m = &world.metrics();
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
    journal_lag(out, world);
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

/// What the journals hold that the region files do not yet, summed over
/// the regions running here: what a crash would make the next start
/// replay, and how long the oldest of it has waited for a save (it grows
/// past the autosave interval only while saves fail or cannot keep up).
fn journal_lag(out: &mut String, world: &World) {
    let node = world.node();
    let total = world
        .metrics()
        .regions
        .snapshot()
        .iter()
        .fold(Lag::default(), |total, region| total.merge(region.lag));
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{node=\"{node}\"}} {value}"
        );
    };
    gauge(
        "tessera_journal_unsaved_changes",
        "Block changes in the journals of this node's regions not yet saved into their region files.",
        total.changes.to_string(),
    );
    gauge(
        "tessera_journal_unsaved_bytes",
        "Journal bytes of those changes' batches (what a save makes obsolete).",
        total.bytes.to_string(),
    );
    gauge(
        "tessera_journal_oldest_unsaved_seconds",
        "Age of the oldest block change journaled here and not yet saved into a region file (0 when none).",
        format!("{:.3}", total.age(Instant::now()).as_secs_f64()),
    );
}
