//! What a region shows the map. Each chunk carries the stamp of its last
//! change; a look names the last stamp it saw, and the region answers with
//! copies of the chunks changed since. Copies, so the picture is drawn off
//! the tick path; only changed chunks, so a map kept open costs a region
//! little more than a clone of what changed.

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
        let chunks = self
            .chunks
            .iter()
            .filter_map(|(pos, slot)| match slot {
                Slot::Ready(slot) if from.is_none_or(|stamp| slot.map_stamp > stamp) => {
                    Some((*pos, slot.chunk.clone()))
                }
                _ => None,
            })
            .collect();
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
                stamp: self.map.stamp,
            },
            whole: from.is_none(),
            chunks,
            players,
        }
    }
}
