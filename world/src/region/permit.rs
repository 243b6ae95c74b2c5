//! A region acts only while placement permits it: this node owns it and,
//! in a cluster, holds the lease that keeps every other node from running
//! it at the same time (`Placement::tick_epoch`). A node cut off from the
//! placement leader loses the lease within one lease period, and then its
//! regions neither tick nor change; the mail they get meanwhile waits, and
//! is handled in order once the permit is back, or dropped with the region
//! when its ownership moved (sessions re-attach to the new owner).

use tracing::{info, warn};

use super::Region;
use crate::coords::RegionPos;
use crate::messages::RegionMsg;

/// Whether the region was permitted to act when last asked, and the mail
/// that waits for the permit.
#[derive(Default)]
pub(super) struct Gate {
    closed: bool,
    held: Vec<RegionMsg>,
}

impl Gate {
    /// Notes whether the region is permitted now; `owned`: whether this
    /// node owns it, which tells a lapsed lease (worth a warning) from a
    /// region that moves in or out (routine).
    fn update(&mut self, region: RegionPos, permitted: bool, owned: impl FnOnce() -> bool) {
        if permitted != self.closed {
            return;
        }
        self.closed = !permitted;
        if permitted {
            info!(%region, held = self.held.len(), "region permitted again; resuming");
        } else if owned() {
            warn!(%region, "no placement lease (the leader is out of reach); pausing the region");
        } else {
            info!(%region, "region not owned here (moving in or out); pausing");
        }
    }
}

impl Region {
    /// Handles `msg`, and what waited before it, if the region may act now;
    /// otherwise keeps it waiting. Returns whether the region may act.
    pub(super) fn through_gate(&mut self, gate: &mut Gate, msg: Option<RegionMsg>) -> bool {
        let permitted = self.host.may_tick(self.pos());
        gate.update(self.pos(), permitted, || {
            self.host.epoch_of(self.pos()).is_some()
        });
        if !permitted {
            gate.held.extend(msg);
            return false;
        }
        let waiting = std::mem::take(&mut gate.held);
        for msg in waiting.into_iter().chain(msg) {
            self.contained("message", |r| r.handle(msg));
        }
        true
    }
}
