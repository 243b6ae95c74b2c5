//! Moving live regions on an operator's word: one region (`handoff`), all
//! of a node's (`drain`, and a node's own stop), and back (`undrain`). Each
//! move is the rebalance's: the owner saves and releases the region before
//! the move commits, and its players stay connected and re-attach to the
//! new owner. A move names the ownership epoch it ends, so one retried after
//! a timeout changes nothing twice.

use std::collections::BTreeSet;
use std::time::Instant;

use tessera_cluster::placement::{Command, RegionKey};
use tessera_cluster::transport::NodeId;
use tracing::{info, warn};

use crate::cluster::Cluster;

/// What a drain did.
#[derive(Debug, Default)]
pub struct Drained {
    pub moved: usize,
    pub failed: usize,
    pub to: BTreeSet<u64>,
}

/// Why a drain did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("node {0} hosts no regions (drained or down)")]
    NotPlaceable(NodeId),
    #[error("node {0} is the only live node: its regions have nowhere to go")]
    Alone(NodeId),
    #[error("the regions moved, but node {node} is still placeable: {why}")]
    StillPlaceable { node: NodeId, why: String },
}

fn name(region: RegionKey) -> String {
    format!("r.{}.{}", region.x, region.z)
}

impl Cluster {
    /// Moves `region` to `to`.
    pub async fn hand_off(&self, region: RegionKey, to: NodeId) -> Result<String, String> {
        let table = self.placement.table();
        let Some(owner) = table.owner(region) else {
            return Err(format!(
                "{} has no owner: no player has been there since the cluster started",
                name(region)
            ));
        };
        if !table.is_live(to) {
            return Err(format!("node {} is not live", to.0));
        }
        if owner.node == to {
            return Ok(format!("{} is already on node {}", name(region), to.0));
        }
        let started = Instant::now();
        self.placement
            .propose(Command::Move {
                region,
                epoch: owner.epoch,
                to,
            })
            .await
            .map_err(|e| e.to_string())?;
        let now = self.placement.table().owner(region);
        match now {
            Some(now) if now.node == to => Ok(format!(
                "Moved {} from node {} to node {} (epoch {}) in {:.1} s",
                name(region),
                owner.node.0,
                to.0,
                now.epoch,
                started.elapsed().as_secs_f64()
            )),
            Some(now) => Err(format!(
                "{} went to node {} (epoch {}) instead: node {} was not live when the move committed",
                name(region),
                now.node.0,
                now.epoch,
                to.0
            )),
            None => Err(format!("{} has no owner now", name(region))),
        }
    }

    /// Moves every region of `node` to the other live nodes, one at a time,
    /// then takes `node` out of placement so it is given no new regions.
    /// Its players stay connected, their regions served from other nodes.
    pub async fn drain_node(&self, node: NodeId) -> Result<Drained, DrainError> {
        let table = self.placement.table();
        if !table.is_live(node) {
            return Err(DrainError::NotPlaceable(node));
        }
        if !table.live_nodes().any(|n| n != node) {
            return Err(DrainError::Alone(node));
        }
        let mut drained = Drained::default();
        let mut tried = BTreeSet::new();
        // Re-read the table each time: loads change as moves commit, and a
        // region placed on the node meanwhile is moved too.
        loop {
            let table = self.placement.table();
            let Some(region) = table.regions_of(node).find(|r| !tried.contains(r)) else {
                break;
            };
            tried.insert(region);
            let (Some(owner), Some(heir)) = (table.owner(region), table.heir(region, node)) else {
                continue;
            };
            let command = Command::Move {
                region,
                epoch: owner.epoch,
                to: heir,
            };
            match self.placement.propose(command).await {
                Ok(_) => {
                    drained.moved += 1;
                    drained.to.insert(heir.0);
                }
                Err(e) => {
                    drained.failed += 1;
                    warn!(region = %name(region), "a region did not move off node {}: {e}", node.0);
                }
            }
        }
        // Whatever is left (a failed move, a region placed in between) moves
        // as a departed node's regions do, after its lease runs out.
        self.placement
            .on_node_down(node)
            .await
            .map_err(|e| DrainError::StillPlaceable {
                node,
                why: e.to_string(),
            })?;
        info!(
            node = node.0,
            moved = drained.moved,
            failed = drained.failed,
            "drained"
        );
        Ok(drained)
    }

    /// The console's `drain`.
    pub async fn drain(&self, node: NodeId) -> Result<String, String> {
        let started = Instant::now();
        let drained = self.drain_node(node).await.map_err(|e| e.to_string())?;
        let to: Vec<String> = drained.to.iter().map(u64::to_string).collect();
        let failed = match drained.failed {
            0 => String::new(),
            n => format!(" ({n} did not move at once and followed as a departed node's do)"),
        };
        Ok(format!(
            "Drained node {}: moved {} regions to nodes {}{failed} in {:.1} s. It takes no new regions until `undrain {}` or a restart",
            node.0,
            drained.moved,
            if to.is_empty() { "-".to_owned() } else { to.join(", ") },
            started.elapsed().as_secs_f64(),
            node.0,
        ))
    }

    /// Makes `node` placeable again and moves its share of regions to it.
    pub async fn undrain(&self, node: NodeId) -> Result<String, String> {
        if !self.membership.members().iter().any(|m| m.id == node) {
            return Err(format!("node {} is not a member of the cluster", node.0));
        }
        let moves = self
            .placement
            .on_node_up(node)
            .await
            .map_err(|e| e.to_string())?;
        let planned = moves.len();
        let mut moved = 0;
        for command in moves {
            match self.placement.propose(command).await {
                Ok(_) => moved += 1,
                Err(e) => warn!("a region did not move to node {}: {e}", node.0),
            }
        }
        Ok(format!(
            "Node {} takes regions again: moved {moved} of {planned} regions to it",
            node.0
        ))
    }
}
