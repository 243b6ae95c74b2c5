//! Entity ids a node hands out: its node number in the low bits, so ids are
//! unique cluster-wide, and a counter above that skips ids still in use when
//! it wraps, so a player online for days never shares an id with a newcomer.
//! The node sits low because every entity packet carries the id as a
//! varint: a few hundred players' ids take three bytes, not the four that
//! a node number in the top bits costs each of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ids::EntityId;

/// Bits of the node number; the counter sits above them.
const NODE_BITS: u32 = 7;
/// Node numbers that fit those bits.
pub const MAX_NODE: u64 = (1 << NODE_BITS) - 1;
/// The counter takes the 24 bits left in a positive `i32`.
const LOCAL_MAX: i32 = (1 << (31 - NODE_BITS)) - 1;

#[derive(Debug)]
pub struct EntityIds {
    node: i32,
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
            node,
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
                    id: local << NODE_BITS | self.node,
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
        assert_eq!(one.id() & MAX_NODE as i32, 1);
        assert_eq!(two.id() & MAX_NODE as i32, 2);
        assert_ne!(one.id(), two.id());
        let last = EntityIds::starting_at(MAX_NODE, LOCAL_MAX)
            .allocate()
            .unwrap();
        assert_eq!(last.id(), i32::MAX, "ids stay positive");
        assert!(
            one.id() < 1 << 14,
            "a first player's id is a two-byte varint"
        );
    }

    #[test]
    fn a_wrapping_counter_skips_ids_still_in_use() {
        let ids = EntityIds::starting_at(3, LOCAL_MAX);
        let newest = ids.allocate().unwrap();
        let long_lived = ids.allocate().unwrap();
        assert_eq!(long_lived.id() >> NODE_BITS, 1, "the counter wrapped to 1");
        // Round again while both are held: the wrap passes over them.
        lock(&ids.state).next = LOCAL_MAX;
        let next = ids.allocate().unwrap();
        assert_eq!(next.id() >> NODE_BITS, 2);
        drop(newest);
        lock(&ids.state).next = LOCAL_MAX;
        assert_eq!(
            ids.allocate().unwrap().id() >> NODE_BITS,
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
