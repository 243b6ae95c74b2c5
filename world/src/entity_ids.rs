//! Entity ids a node hands out: its node number in the top bits, so ids are
//! unique cluster-wide, and a counter below that skips ids still in use when
//! it wraps, so a player online for days never shares an id with a newcomer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ids::EntityId;

/// Bits of the counter; the node number sits above them.
const LOCAL_BITS: u32 = 24;
const LOCAL_MAX: i32 = (1 << LOCAL_BITS) - 1;
/// Node numbers that fit the 7 bits left in a positive `i32`.
pub const MAX_NODE: u64 = (1 << (31 - LOCAL_BITS)) - 1;

#[derive(Debug)]
pub struct EntityIds {
    prefix: i32,
    state: Arc<Mutex<Ids>>,
}

#[derive(Debug)]
struct Ids {
    next: i32,
    live: HashSet<i32>,
}

/// An entity id in use; dropping it frees the id for a later wrap of the
/// counter. Freed ids come round again only after every other id has.
#[derive(Debug)]
pub struct EntityLease {
    id: EntityId,
    local: i32,
    state: Arc<Mutex<Ids>>,
}

impl EntityLease {
    pub fn id(&self) -> EntityId {
        self.id
    }
}

impl Drop for EntityLease {
    fn drop(&mut self) {
        lock(&self.state).live.remove(&self.local);
    }
}

impl EntityIds {
    /// Ids for node `node`, which must be at most `MAX_NODE` (the cluster
    /// configuration refuses larger ones).
    pub fn new(node: u64) -> Self {
        Self::starting_at(node, 1)
    }

    fn starting_at(node: u64, next: i32) -> Self {
        let node = i32::try_from(node.min(MAX_NODE)).unwrap_or(0);
        Self {
            prefix: node << LOCAL_BITS,
            state: Arc::new(Mutex::new(Ids {
                next,
                live: HashSet::new(),
            })),
        }
    }

    /// The next free id, or none when all 2^24 - 1 are in use (a node never
    /// holds that many entities: players are capped far below it).
    pub fn allocate(&self) -> Option<EntityLease> {
        let mut ids = lock(&self.state);
        for _ in 0..LOCAL_MAX {
            let local = ids.next;
            ids.next = if local == LOCAL_MAX { 1 } else { local + 1 };
            if ids.live.insert(local) {
                return Some(EntityLease {
                    id: self.prefix | local,
                    local,
                    state: self.state.clone(),
                });
            }
        }
        None
    }
}

fn lock(state: &Mutex<Ids>) -> std::sync::MutexGuard<'_, Ids> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_node_and_differ_between_nodes() {
        let one = EntityIds::new(1).allocate().unwrap();
        let two = EntityIds::new(2).allocate().unwrap();
        assert_eq!(one.id() >> LOCAL_BITS, 1);
        assert_eq!(two.id() >> LOCAL_BITS, 2);
        assert_ne!(one.id(), two.id());
        let last = EntityIds::new(MAX_NODE).allocate().unwrap();
        assert!(last.id() > 0, "ids stay positive");
    }

    #[test]
    fn a_wrapping_counter_skips_ids_still_in_use() {
        let ids = EntityIds::starting_at(3, LOCAL_MAX);
        let newest = ids.allocate().unwrap();
        let long_lived = ids.allocate().unwrap();
        assert_eq!(long_lived.id() & LOCAL_MAX, 1, "the counter wrapped to 1");
        // Round again while both are held: the wrap passes over them.
        lock(&ids.state).next = LOCAL_MAX;
        let next = ids.allocate().unwrap();
        assert_eq!(next.id() & LOCAL_MAX, 2);
        drop(newest);
        lock(&ids.state).next = LOCAL_MAX;
        assert_eq!(
            ids.allocate().unwrap().id() & LOCAL_MAX,
            LOCAL_MAX,
            "a freed id is free again"
        );
    }

    #[test]
    fn a_freed_id_is_used_again_only_after_a_wrap() {
        let ids = EntityIds::new(1);
        let first = ids.allocate().unwrap().id();
        let second = ids.allocate().unwrap().id();
        assert_ne!(
            first, second,
            "a dropped lease does not hand its id out at once"
        );
    }
}
