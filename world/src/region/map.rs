//! What a region shows the map. Each chunk carries the stamp of its last
//! change; a look names the last stamp it saw, and the region answers with
//! copies of the chunks changed since. Copies, so the picture is drawn off
//! the tick path; only changed chunks, so a map kept open costs a region
//! little more than a clone of what changed. A copy is of the chunk as its
//! viewers may see it: a change still on its way to the journal is left
//! out, and the look's answer stops short of that chunk's stamp, so the
//! next look copies it again.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Region, Slot};
use crate::map::{MapPlayer, MapSince, RegionMap};

/// The region's run and its last stamp. A run starts at the microsecond the
/// actor starts, so a look of an earlier run (before a restart here or a
/// move to another node and back) asks for everything again.
pub(super) struct MapClock {
    incarnation: u64,
    stamp: u64,
}

impl MapClock {
    pub(super) fn start() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_micros());
        Self {
            incarnation: u64::try_from(micros).unwrap_or(1),
            stamp: 0,
        }
    }

    /// The stamp of a change made now.
    pub(super) fn next(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }
}

impl Region {
    pub(super) fn map_look(&self, since: Option<MapSince>) -> RegionMap {
        let from = since
            .filter(|s| s.incarnation == self.map.incarnation)
            .map(|s| s.stamp);
        let mut seen_up_to = self.map.stamp;
        let mut chunks = Vec::new();
        for (pos, slot) in &self.chunks {
            let Slot::Ready(slot) = slot else {
                continue;
            };
            if from.is_some_and(|stamp| slot.map_stamp <= stamp) {
                continue;
            }
            let copy = match self.durability.durable_view(*pos, &slot.chunk) {
                Some(durable) => {
                    seen_up_to = seen_up_to.min(slot.map_stamp - 1);
                    durable
                }
                None => slot.chunk.clone(),
            };
            chunks.push((*pos, copy));
        }
        let players = self
            .players
            .values()
            .map(|p| MapPlayer {
                name: p.state.name.clone(),
                x: p.state.position.x,
                y: p.state.position.y,
                z: p.state.position.z,
            })
            .collect();
        RegionMap {
            since: MapSince {
                incarnation: self.map.incarnation,
                stamp: seen_up_to,
            },
            whole: from.is_none(),
            chunks,
            players,
        }
    }
}
