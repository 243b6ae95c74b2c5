//! Regions moving between nodes on `/metrics`: how many this node gave
//! away and took over, so a drain or a rebalance shows as it happens.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use tessera_world::World;

pub fn render(out: &mut String, world: &World) {
    let name = "tessera_region_handoffs_total";
    let node = world.node();
    let m = &world.metrics();
    let _ = writeln!(
        out,
        "# HELP {name} Regions this node released to another node (direction out) and took over from one (direction in).\n\
         # TYPE {name} counter\n\
         {name}{{node=\"{node}\",direction=\"out\"}} {}\n\
         {name}{{node=\"{node}\",direction=\"in\"}} {}",
        m.handoffs_out.load(Ordering::Relaxed),
        m.handoffs_in.load(Ordering::Relaxed),
    );
}
