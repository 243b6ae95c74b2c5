//! The placement table: which node owns which region, under which epoch.
//! A deterministic state machine: every replica that applies the same
//! commands in the same order holds the same table, so it can sit behind a
//! replicated log.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::transport::NodeId;

/// How many regions more than the least loaded node a node may own and
/// still be given a neighbour of its regions: neighbours stay together, but
/// not at the price of one node holding the whole world.
const NEIGHBOUR_SLACK: usize = 3;

/// A region, by its position on the region grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RegionKey {
    pub x: i32,
    pub z: i32,
}

impl RegionKey {
    /// The last key in order, for ranges over keys.
    pub const MAX: RegionKey = RegionKey {
        x: i32::MAX,
        z: i32::MAX,
    };

    fn neighbours(self) -> impl Iterator<Item = RegionKey> {
        (-1..=1)
            .flat_map(move |dz| (-1..=1).map(move |dx| (dx, dz)))
            .filter(|&(dx, dz)| (dx, dz) != (0, 0))
            .map(move |(dx, dz)| RegionKey {
                x: self.x + dx,
                z: self.z + dz,
            })
    }
}

/// Who owns a region. Epochs only grow, so writes fenced by the epoch of an
/// older ownership can always be told apart and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ownership {
    pub node: NodeId,
    pub epoch: u64,
}

/// A change to the table. Every command is idempotent: applying it twice
/// leaves the table as applying it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A node can host regions.
    NodeUp(NodeId),
    /// A node is gone: its regions move to live nodes under new epochs.
    NodeDown(NodeId),
    /// Give an unowned region an owner; an owned one keeps its owner.
    Place(RegionKey),
    /// Move a region, if it is still under ownership `epoch`, to another
    /// node (rebalancing). The epoch keeps a late or repeated move from
    /// taking the region from whoever got it since. If `to` is not live, the
    /// region goes to another live node, its owner included (under a new
    /// epoch), so a move retried after its target died still settles.
    Move {
        region: RegionKey,
        epoch: u64,
        to: NodeId,
    },
}

/// What applying a command changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Regions with a new owner (or none, when no node is live).
    pub changed: Vec<(RegionKey, Option<Ownership>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacementTable {
    owners: BTreeMap<RegionKey, Ownership>,
    live: BTreeSet<NodeId>,
    last_epoch: u64,
}

impl PlacementTable {
    pub fn owner(&self, region: RegionKey) -> Option<Ownership> {
        self.owners.get(&region).copied()
    }

    pub fn live_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.live.iter().copied()
    }

    pub fn regions(&self) -> impl Iterator<Item = (RegionKey, Ownership)> + '_ {
        self.owners.iter().map(|(k, o)| (*k, *o))
    }

    pub fn regions_of(&self, node: NodeId) -> impl Iterator<Item = RegionKey> + '_ {
        self.owners
            .iter()
            .filter(move |(_, o)| o.node == node)
            .map(|(k, _)| *k)
    }

    pub fn is_live(&self, node: NodeId) -> bool {
        self.live.contains(&node)
    }

    /// The live node other than `leaving` that `region` would go to, as
    /// when `leaving` goes down: a drain moves regions where a failure
    /// would have.
    pub fn heir(&self, region: RegionKey, leaving: NodeId) -> Option<NodeId> {
        self.choose(region, Some(leaving))
    }

    fn load(&self, node: NodeId) -> usize {
        self.regions_of(node).count()
    }

    /// The live node a region should go to: the one owning most of its
    /// neighbours (regions that trade players and block changes stay on one
    /// node) unless that node is already well ahead of the least loaded one,
    /// then the least loaded, then the lowest id.
    fn choose(&self, region: RegionKey, excluding: Option<NodeId>) -> Option<NodeId> {
        let candidates = || {
            self.live
                .iter()
                .copied()
                .filter(move |n| Some(*n) != excluding)
        };
        let lightest = candidates().map(|n| self.load(n)).min()?;
        candidates().max_by_key(|&node| {
            let load = self.load(node);
            let neighbours = if load <= lightest + NEIGHBOUR_SLACK {
                region
                    .neighbours()
                    .filter(|r| self.owners.get(r).is_some_and(|o| o.node == node))
                    .count()
            } else {
                0
            };
            (neighbours, std::cmp::Reverse(load), std::cmp::Reverse(node))
        })
    }

    fn give(&mut self, region: RegionKey, node: NodeId) -> Ownership {
        self.last_epoch += 1;
        let ownership = Ownership {
            node,
            epoch: self.last_epoch,
        };
        self.owners.insert(region, ownership);
        ownership
    }

    pub fn apply(&mut self, command: &Command) -> Applied {
        let mut applied = Applied::default();
        match *command {
            Command::NodeUp(node) => {
                self.live.insert(node);
            }
            Command::NodeDown(node) => {
                self.live.remove(&node);
                let orphans: Vec<RegionKey> = self.regions_of(node).collect();
                for region in orphans {
                    let owner = match self.choose(region, Some(node)) {
                        Some(heir) => Some(self.give(region, heir)),
                        None => {
                            self.owners.remove(&region);
                            None
                        }
                    };
                    applied.changed.push((region, owner));
                }
            }
            Command::Place(region) => {
                if !self.owners.contains_key(&region) {
                    if let Some(node) = self.choose(region, None) {
                        applied
                            .changed
                            .push((region, Some(self.give(region, node))));
                    }
                }
            }
            Command::Move { region, epoch, to } => {
                let current = self.owners.get(&region).copied();
                if let Some(current) = current.filter(|o| o.epoch == epoch && o.node != to) {
                    let target = if self.live.contains(&to) {
                        Some(to)
                    } else {
                        self.choose(region, Some(current.node))
                            .or_else(|| self.choose(region, None))
                    };
                    if let Some(target) = target {
                        applied
                            .changed
                            .push((region, Some(self.give(region, target))));
                    }
                }
            }
        }
        applied
    }

    /// Moves that would even out the load after `node` joined: regions of
    /// the busiest nodes, picked so that neighbours move together.
    pub fn rebalance_toward(&self, node: NodeId) -> Vec<Command> {
        if !self.live.contains(&node) || self.live.len() < 2 {
            return Vec::new();
        }
        let fair = self.owners.len() / self.live.len();
        let mut loads: BTreeMap<NodeId, usize> =
            self.live.iter().map(|&n| (n, self.load(n))).collect();
        let mut moves = Vec::new();
        let mut moved: BTreeSet<RegionKey> = BTreeSet::new();
        while loads.get(&node).copied().unwrap_or(0) < fair {
            let Some((&busiest, &load)) = loads
                .iter()
                .filter(|(n, _)| **n != node)
                .max_by_key(|(_, l)| **l)
            else {
                break;
            };
            if load <= fair {
                break;
            }
            // Start from a region next to what the new node already has, so
            // it ends up with a connected patch.
            let candidates: Vec<RegionKey> = self
                .regions_of(busiest)
                .filter(|r| !moved.contains(r))
                .collect();
            let touching = |r: &RegionKey| {
                r.neighbours().any(|n| {
                    moved.contains(&n) || self.owners.get(&n).is_some_and(|o| o.node == node)
                })
            };
            let Some(region) = candidates
                .iter()
                .find(|r| touching(r))
                .or(candidates.first())
                .copied()
            else {
                break;
            };
            moved.insert(region);
            let epoch = self.owners.get(&region).map_or(0, |o| o.epoch);
            moves.push(Command::Move {
                region,
                epoch,
                to: node,
            });
            *loads.entry(busiest).or_default() -= 1;
            *loads.entry(node).or_default() += 1;
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(x: i32, z: i32) -> RegionKey {
        RegionKey { x, z }
    }

    fn table(nodes: &[u64]) -> PlacementTable {
        let mut table = PlacementTable::default();
        for &n in nodes {
            table.apply(&Command::NodeUp(NodeId(n)));
        }
        table
    }

    #[test]
    fn placing_twice_keeps_the_first_owner_and_epoch() {
        let mut t = table(&[1, 2]);
        let first = t.apply(&Command::Place(key(0, 0)));
        assert_eq!(first.changed.len(), 1);
        assert!(t.apply(&Command::Place(key(0, 0))).changed.is_empty());
        assert_eq!(t.owner(key(0, 0)), first.changed[0].1);
    }

    #[test]
    fn neighbours_stay_together_and_new_areas_balance() {
        let mut t = table(&[1, 2]);
        t.apply(&Command::Place(key(0, 0)));
        let home = t.owner(key(0, 0)).unwrap().node;
        t.apply(&Command::Place(key(1, 0)));
        assert_eq!(
            t.owner(key(1, 0)).unwrap().node,
            home,
            "a neighbour joins its neighbour"
        );
        t.apply(&Command::Place(key(50, 50)));
        assert_ne!(
            t.owner(key(50, 50)).unwrap().node,
            home,
            "a far region goes to the idle node"
        );
    }

    #[test]
    fn a_dead_nodes_regions_move_under_higher_epochs() {
        let mut t = table(&[1, 2, 3]);
        for x in 0..6 {
            t.apply(&Command::Place(key(x * 10, 0)));
        }
        let before: BTreeMap<_, _> = t.regions().collect();
        let applied = t.apply(&Command::NodeDown(NodeId(2)));
        assert!(!applied.changed.is_empty());
        for (region, owner) in applied.changed {
            let owner = owner.unwrap();
            assert_ne!(owner.node, NodeId(2));
            assert!(owner.epoch > before[&region].epoch);
        }
        assert_eq!(t.regions_of(NodeId(2)).count(), 0);
        assert_eq!(
            t.apply(&Command::NodeDown(NodeId(2))),
            Applied::default(),
            "idempotent"
        );
    }

    #[test]
    fn with_no_live_node_regions_are_unowned() {
        let mut t = table(&[1]);
        t.apply(&Command::Place(key(0, 0)));
        t.apply(&Command::NodeDown(NodeId(1)));
        assert_eq!(t.owner(key(0, 0)), None);
        assert!(t.apply(&Command::Place(key(0, 0))).changed.is_empty());
    }

    #[test]
    fn a_growing_area_spreads_once_a_node_is_well_ahead() {
        let mut t = table(&[1, 2, 3]);
        for x in 0..12 {
            t.apply(&Command::Place(key(x, 0)));
        }
        let loads: Vec<usize> = [1, 2, 3]
            .iter()
            .map(|&n| t.regions_of(NodeId(n)).count())
            .collect();
        assert!(
            loads.iter().all(|&l| l >= 3),
            "a row of 12 regions spreads over 3 nodes: {loads:?}"
        );
        let runs = (1..12)
            .filter(|&x| {
                t.owner(key(x, 0)).map(|o| o.node) != t.owner(key(x - 1, 0)).map(|o| o.node)
            })
            .count();
        assert!(
            runs <= 4,
            "neighbours still come in runs: {runs} changes of owner along the row"
        );
    }

    #[test]
    fn a_new_node_takes_a_fair_connected_share() {
        let mut t = table(&[1]);
        for x in 0..4 {
            for z in 0..4 {
                t.apply(&Command::Place(key(x, z)));
            }
        }
        t.apply(&Command::NodeUp(NodeId(2)));
        let moves = t.rebalance_toward(NodeId(2));
        assert_eq!(moves.len(), 8);
        for m in &moves {
            t.apply(m);
        }
        assert_eq!(t.regions_of(NodeId(2)).count(), 8);
        let mine: BTreeSet<_> = t.regions_of(NodeId(2)).collect();
        let connected = mine
            .iter()
            .all(|r| r.neighbours().any(|n| mine.contains(&n)));
        assert!(connected, "moved regions are next to each other: {mine:?}");
    }

    #[test]
    fn a_move_applies_only_under_its_epoch_and_settles_without_its_target() {
        let mut t = table(&[1, 2]);
        t.apply(&Command::Place(key(0, 0)));
        let first = t.owner(key(0, 0)).unwrap();
        let other = NodeId(3 - first.node.0);
        let stale = Command::Move {
            region: key(0, 0),
            epoch: first.epoch + 1,
            to: other,
        };
        assert_eq!(t.apply(&stale), Applied::default(), "wrong epoch");
        t.apply(&Command::NodeDown(other));
        let orphaned = Command::Move {
            region: key(0, 0),
            epoch: first.epoch,
            to: other,
        };
        t.apply(&orphaned);
        let now = t.owner(key(0, 0)).unwrap();
        assert_eq!(now.node, first.node, "the only live node keeps it");
        assert!(now.epoch > first.epoch, "under a new epoch");
    }

    #[test]
    fn replicas_applying_the_same_log_agree() {
        let log = vec![
            Command::NodeUp(NodeId(1)),
            Command::NodeUp(NodeId(2)),
            Command::Place(key(0, 0)),
            Command::Place(key(5, 5)),
            Command::NodeDown(NodeId(1)),
            Command::NodeUp(NodeId(3)),
            Command::Move {
                region: key(5, 5),
                epoch: 2,
                to: NodeId(3),
            },
        ];
        let (mut a, mut b) = (PlacementTable::default(), PlacementTable::default());
        for c in &log {
            a.apply(c);
        }
        for c in &log {
            b.apply(c);
        }
        assert_eq!(a, b);
    }
}
