//! Letting go of chunks nobody needs: a chunk no session views and no player
//! stands in is dropped after a grace period. Digging needs no exception: a
//! digger views the chunk, and a dig its player left unfinished must not
//! pin the chunk forever. A chunk players changed
//! goes back to the region's saved chunks, which every save writes and the
//! next subscription loads from, so it returns with its changes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use valence_protocol::ChunkPos;

use super::{Region, Slot, RETRY_FAILED_CHUNK};

/// How long a chunk stays loaded after its last viewer left: players
/// walking back and forth across a view's edge should not reload it.
pub(super) const UNLOAD_AFTER: Duration = Duration::from_secs(30);
/// Ticks between looks for unused chunks (one second).
pub(super) const SWEEP_EVERY_TICKS: u64 = 20;

/// When each unused chunk was first seen unused, and since when the whole
/// region has been idle.
#[derive(Default)]
pub(super) struct Unused(HashMap<ChunkPos, Instant>, Option<Instant>);

impl Region {
    /// Unloads the chunks unused for the grace period as of `now`.
    pub(super) fn unload_unused(&mut self, now: Instant) {
        let in_use = self.chunks_in_use();
        let unused = &mut self.unused.0;
        let mut expired = Vec::new();
        for (pos, slot) in &self.chunks {
            let idle =
                matches!(slot, Slot::Ready(s) if s.viewers.is_empty()) && !in_use.contains(pos);
            if !idle {
                unused.remove(pos);
                continue;
            }
            let since = *unused.entry(*pos).or_insert(now);
            if now.saturating_duration_since(since) >= UNLOAD_AFTER {
                expired.push(*pos);
            }
        }
        unused.retain(|pos, _| self.chunks.contains_key(pos));
        // A failed chunk due for another try is forgotten: the next message
        // that needs it generates it afresh.
        self.chunks.retain(|_, slot| {
            !matches!(slot, Slot::Failed(at) if now.saturating_duration_since(*at) >= RETRY_FAILED_CHUNK)
        });
        for pos in expired {
            self.unused.0.remove(&pos);
            if let Some(Slot::Ready(slot)) = self.chunks.remove(&pos) {
                self.persistence.unloaded(pos, slot.chunk);
                self.ctx.metrics.chunks_unloaded(1);
            }
        }
    }

    /// Whether the region holds nothing: no player, no chunk, nothing on
    /// its way to disk or unsaved. Such a region may stop; it starts again
    /// from its files when a message needs it.
    fn holds_nothing(&self) -> bool {
        self.players.is_empty()
            && self.chunks.is_empty()
            && self.new_viewers.is_empty()
            && self.diggers.is_empty()
            && self.handoffs.is_idle()
            && !self.durability.anything_waiting()
            && !self.durability.is_writing()
            && !self.persistence.is_dirty()
            && !self.persistence.is_failing()
            && !self.persistence.is_saving()
    }

    /// Whether the region has held nothing for `world.region_idle`, as of
    /// `now`; checked with each sweep.
    pub(super) fn idle_long_enough(&mut self, now: Instant) -> bool {
        if !self.holds_nothing() {
            self.unused.1 = None;
            return false;
        }
        let since = *self.unused.1.get_or_insert(now);
        now.saturating_duration_since(since) >= self.ctx.region_idle
    }

    /// Chunks a player stands in or was just promised.
    fn chunks_in_use(&self) -> HashSet<ChunkPos> {
        let standing = self.players.values().map(|p| p.state.chunk());
        let subscribing = self.new_viewers.iter().map(|(chunk, _)| *chunk);
        standing.chain(subscribing).collect()
    }

    fn ready_chunks(&self) -> usize {
        self.chunks
            .values()
            .filter(|slot| matches!(slot, Slot::Ready(_)))
            .count()
    }
}

impl Drop for Region {
    /// A region stopped, moved away or restarted after a panic no longer
    /// holds its chunks.
    fn drop(&mut self) {
        self.ctx.metrics.chunks_unloaded(self.ready_chunks());
        self.forget_persist_health();
    }
}
