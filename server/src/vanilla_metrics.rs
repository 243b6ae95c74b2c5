//! The series Minecraft exporters and their dashboards already use
//! (`mc_players_online_total`, `mc_tps`, `mc_tick_duration_seconds`,
//! `mc_loaded_chunks_total`), labelled with the node (and the tick time
//! also with the region), beside Tessera's own.

use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use crate::prometheus;
use tessera_net::Frontend;
use tessera_world::World;

/// Vanilla's tick rate: what a region reaches when no tick overruns.
const FULL_TPS: f64 = 20.0;

/// The tick count at the previous scrape, so `mc_tps` is the rate since then
/// rather than since start (which would hide a slow minute for ever).
pub struct TpsSampler {
    last: Mutex<(Instant, u64)>,
}

impl TpsSampler {
    pub fn new(world: &World) -> Self {
        Self {
            last: Mutex::new((Instant::now(), world.metrics().ticks().count)),
        }
    }

    /// Ticks per second of an average region since the last call; 20 when
    /// no region runs (nothing is behind).
    fn tps(&self, world: &World) -> f64 {
        let now = Instant::now();
        let ticks = world.metrics().ticks().count;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (at, before) = *last;
        *last = (now, ticks);
        let regions = world.region_count();
        let elapsed = now.saturating_duration_since(at).as_secs_f64();
        if regions == 0 || elapsed < 0.5 {
            return FULL_TPS;
        }
        let per_region = ticks.saturating_sub(before) as f64 / elapsed / regions as f64;
        per_region.min(FULL_TPS)
    }
}

pub fn render(out: &mut String, frontend: &Frontend, world: &World, tps: &TpsSampler) {
    let node = world.node();
    let mut series = |name: &str, help: &str, kind: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{node=\"{node}\"}} {value}"
        );
    };
    series(
        "mc_players_online_total",
        "Players connected to this node.",
        "gauge",
        frontend.players.count().to_string(),
    );
    series(
        "mc_players_max",
        "The most players the server lets in.",
        "gauge",
        frontend.players.max().to_string(),
    );
    series(
        "mc_loaded_chunks_total",
        "Chunks loaded in this node's regions.",
        "gauge",
        world.metrics().loaded_chunks().to_string(),
    );
    series(
        "mc_tps",
        "Ticks per second of an average region of this node since the last scrape (20 at most).",
        "gauge",
        format!("{:.2}", tps.tps(world)),
    );
    tick_durations(out, world);
}

/// The node's tick time, and each running region's (labelled `region`)
/// beside it: the series without a region label is the node's total, so
/// a sum over the family must pick one kind (`region=""` or `region!=""`).
fn tick_durations(out: &mut String, world: &World) {
    let name = "mc_tick_duration_seconds";
    let node = world.node();
    prometheus::header(
        out,
        name,
        "Time this node's regions spent per tick: the node's total, and per region running here (label region).",
        "histogram",
    );
    prometheus::histogram_series(
        out,
        name,
        &format!("node=\"{node}\""),
        &world.metrics().ticks(),
    );
    for region in world.metrics().regions.snapshot() {
        let labels = format!("node=\"{node}\",region=\"{}\"", region.pos);
        prometheus::histogram_series(out, name, &labels, &region.ticks);
    }
}
