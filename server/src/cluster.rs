//! A node's part in a cluster: the authenticated, encrypted transport, membership,
//! the Raft placement group, and the wiring that lets the world and the
//! frontend use them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use tessera_auth::register_node::{RegisterNode, RegisterNodeConfig};
use tessera_cluster::membership::{MemberEvent, MemberInfo, Membership, MembershipConfig};
use tessera_cluster::placement::{
    Command, PlacementConfig, PlacementService, RegionKey, ReleaseRequest, TableEvent,
};
use tessera_cluster::{ClusterSecret, NodeId, TokioNet, Transport, TransportConfig, Vitals};
use tessera_net::Frontend;
use tessera_world::coords::RegionPos;
use tessera_world::routing::{Ownership, Placement};
use tessera_world::World;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::ClusterConfig;

/// Nodes in the Raft group: the three lowest ids, as every node computes the same.
const VOTERS: usize = 3;

pub struct Cluster {
    pub transport: Transport,
    pub register: RegisterNode,
    pub membership: Membership,
    pub placement: PlacementService,
}

fn key(region: RegionPos) -> RegionKey {
    RegionKey {
        x: region.x,
        z: region.z,
    }
}

fn region(key: RegionKey) -> RegionPos {
    RegionPos { x: key.x, z: key.z }
}

/// The world's view of placement: the local replica of the Raft table.
struct RaftPlacement {
    service: PlacementService,
    requests: mpsc::UnboundedSender<RegionPos>,
}

impl Placement for RaftPlacement {
    fn owner(&self, region: RegionPos) -> Option<Ownership> {
        self.service.owner(key(region)).map(|o| Ownership {
            node: o.node,
            epoch: o.epoch,
        })
    }

    fn tick_epoch(&self, region: RegionPos) -> Option<u64> {
        self.service
            .tick_permit(key(region), tokio::time::Instant::now())
            .map(|o| o.epoch)
    }

    fn request(&self, region: RegionPos) {
        let _ = self.requests.send(region);
    }
}

/// The nodes of the Raft group and of the register's replica group: the
/// three lowest ids among this node and its seeds.
fn voters(config: &ClusterConfig) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = config.seeds.iter().map(|s| s.id).collect();
    ids.push(NodeId(config.node_id));
    ids.sort();
    ids.dedup();
    ids.truncate(VOTERS);
    ids
}

/// `cluster.register_recover` means "this replica lost its disk": on a node
/// without a replica, or with no other replica to recover from, it is a
/// mistake the operator should hear about rather than a no-op.
fn check_register_recover(config: &ClusterConfig, replicas: &[NodeId]) -> anyhow::Result<()> {
    if !config.register_recover {
        return Ok(());
    }
    let me = NodeId(config.node_id);
    let others: Vec<String> = replicas
        .iter()
        .filter(|id| **id != me)
        .map(ToString::to_string)
        .collect();
    if !replicas.contains(&me) {
        bail!(
            "`cluster.register_recover` is set, but node {me} holds no register replica \
             (the replicas are nodes {}, the three lowest ids): remove the setting",
            others.join(", ")
        );
    }
    if others.is_empty() {
        bail!(
            "`cluster.register_recover` is set, but `cluster.seeds` names no other node \
             to recover the register from"
        );
    }
    Ok(())
}

/// The first half of starting a cluster node: transport and placement,
/// which the world needs before it exists.
pub struct ClusterStart {
    transport: Transport,
    /// The replicated user register, for the authentication service.
    pub register: RegisterNode,
    placement: PlacementService,
    requests: mpsc::UnboundedReceiver<RegionPos>,
    config: ClusterConfig,
}

impl ClusterStart {
    pub async fn begin(
        config: &ClusterConfig,
        data_dir: &Path,
    ) -> anyhow::Result<(Self, Arc<dyn Placement>)> {
        let me = NodeId(config.node_id);
        let secret = ClusterSecret::new(config.secret.as_bytes()).context("cluster.secret")?;
        let transport = Transport::start(TokioNet, TransportConfig::new(me, config.bind, secret))
            .await
            .with_context(|| format!("cannot listen on {} (cluster.bind)", config.bind))?;
        let ids = voters(config);
        check_register_recover(config, &ids)?;
        let register_store = data_dir.join(format!("register-{}.redb", config.node_id));
        let register = RegisterNode::start(
            transport.clone(),
            ids.clone(),
            Some(register_store),
            // An empty store is rebuilt from the others, or starts empty
            // once every replica says it is empty too (a new cluster);
            // `register_recover` insists on a quorum's state.
            RegisterNodeConfig {
                recover_if_empty: config.register_recover,
                discover_if_empty: true,
                ..RegisterNodeConfig::default()
            },
        )
        .await
        .context("cannot start the user register")?;
        let store = data_dir.join(format!("placement-{}", config.node_id));
        let placement = PlacementService::start(
            transport.clone(),
            ids,
            Some(store),
            PlacementConfig::default(),
        )
        .await
        .context("cannot start the placement group")?;
        let (requests_tx, requests) = mpsc::unbounded_channel();
        let view = Arc::new(RaftPlacement {
            service: placement.clone(),
            requests: requests_tx,
        });
        info!(node = config.node_id, voters = ?placement.voters(), "cluster transport on {}", transport.local_addr());
        Ok((
            Self {
                transport,
                register,
                placement,
                requests,
                config: config.clone(),
            },
            view,
        ))
    }

    /// Wires the started world and frontend to the cluster and joins it.
    pub async fn finish(
        self,
        world: Arc<World>,
        frontend: Arc<Frontend>,
        vitals: &Vitals,
    ) -> anyhow::Result<Cluster> {
        let Self {
            transport,
            register,
            placement,
            requests,
            config,
        } = self;
        world.set_remote(Arc::new(crate::links::ClusterLinks::new(transport.clone())));
        crate::links::serve_inbound(&transport, world.clone())?;
        frontend.attach_cluster(transport.clone())?;
        let seeds = config.seeds.clone();
        let me = MemberInfo {
            id: transport.node_id(),
            addr: config.bind,
        };
        let membership =
            Membership::start(transport.clone(), me, seeds, MembershipConfig::default())
                .context("cannot start membership")?;
        vitals.spawn(
            "placing regions",
            place_on_request(placement.clone(), world.clone(), requests),
        );
        vitals.spawn(
            "following the placement table",
            follow_table(placement.clone(), world.clone()),
        );
        vitals.spawn(
            "releasing regions",
            release_regions(placement.release_requests(), world.clone()),
        );
        vitals.spawn(
            "following members",
            follow_members(
                membership.clone(),
                placement.clone(),
                frontend,
                world.clone(),
            ),
        );
        tokio::spawn(announce_self(placement.clone(), transport.node_id()));
        Ok(Cluster {
            transport,
            register,
            membership,
            placement,
        })
    }
}

/// Proposes an owner for each region the world asked about.
async fn place_on_request(
    placement: PlacementService,
    world: Arc<World>,
    mut requests: mpsc::UnboundedReceiver<RegionPos>,
) {
    while let Some(pos) = requests.recv().await {
        let (placement, world) = (placement.clone(), world.clone());
        tokio::spawn(async move {
            loop {
                match placement.propose(Command::Place(key(pos))).await {
                    Ok(_) => return world.placement_changed(pos, None).await,
                    Err(e) => {
                        warn!(region = %pos, "placing the region failed, retrying: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }
}

/// Tells the world about every ownership change its replica applies.
async fn follow_table(placement: PlacementService, world: Arc<World>) {
    let mut known: HashMap<RegionKey, Option<NodeId>> = HashMap::new();
    let mut events = placement.subscribe();
    loop {
        let changed: Vec<(RegionKey, Option<NodeId>)> = match events.recv().await {
            Ok(TableEvent::Applied { applied, .. }) => applied
                .changed
                .into_iter()
                .map(|(k, owner)| (k, owner.map(|o| o.node)))
                .collect(),
            Ok(TableEvent::Replaced { .. })
            | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => placement
                .table()
                .regions()
                .map(|(k, o)| (k, Some(o.node)))
                .collect(),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        for (k, owner) in changed {
            let previous = known.insert(k, owner).flatten();
            world.placement_changed(region(k), previous).await;
        }
    }
}

/// Nodes coming and going: the frontend's player directory follows, the
/// regions here drop a dead node's players, and the placement group moves a
/// dead node's regions.
async fn follow_members(
    membership: Membership,
    placement: PlacementService,
    frontend: Arc<Frontend>,
    world: Arc<World>,
) {
    let mut events = membership.subscribe();
    loop {
        match events.recv().await {
            Ok(MemberEvent::Up(node, addr)) => {
                info!(%node, %addr, "node up");
                frontend.node_up(node);
                // The node takes its share of live regions itself (see
                // `announce_self`): one plan, not one per voter.
                if placement.is_voter() {
                    if let Err(e) = placement.on_node_up(node).await {
                        warn!(%node, "could not mark the node live: {e}");
                    }
                }
            }
            Ok(MemberEvent::Down(node)) => {
                warn!(%node, "node down; its regions move to live nodes");
                frontend.node_down(node);
                world.node_gone(node);
                if placement.is_voter() {
                    if let Err(e) = placement.on_node_down(node).await {
                        warn!(%node, "could not move the dead node's regions: {e}");
                    }
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                warn!(missed, "membership events missed");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Stops and saves each region placement gives away from this node, before
/// the move is committed (see `PlacementService::release_requests`).
async fn release_regions(mut requests: mpsc::UnboundedReceiver<ReleaseRequest>, world: Arc<World>) {
    while let Some(request) = requests.recv().await {
        let pos = region(request.region);
        info!(region = %pos, epoch = request.epoch, "releasing the region to another node");
        world.release_region(pos).await;
        request.done();
    }
}

/// Moves live regions to `node`, which just joined, one at a time: each
/// owner releases its region (players re-attach to the new owner) before
/// the move commits. A move names the ownership epoch it ends, so one that
/// is late or repeated changes nothing.
async fn rebalance(placement: PlacementService, node: NodeId, moves: Vec<Command>) {
    if moves.is_empty() {
        return;
    }
    let planned = moves.len();
    let mut failed = 0;
    for command in moves {
        if let Err(e) = placement.propose(command).await {
            failed += 1;
            warn!(%node, "a region did not move: {e}");
        }
    }
    info!(%node, planned, failed, "rebalanced live regions toward the node");
}

/// Marks this node live in the placement table once the group can take it,
/// and takes its share of the live regions.
async fn announce_self(placement: PlacementService, me: NodeId) {
    loop {
        match placement.on_node_up(me).await {
            Ok(moves) => {
                info!("this node hosts regions now");
                return rebalance(placement, me, moves).await;
            }
            Err(e) => {
                warn!("not yet live in placement: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

impl Cluster {
    /// Leaves the cluster in order: membership first, so the others move
    /// this node's regions at once rather than after a failure timeout.
    pub async fn leave(&self) {
        if let Err(e) = self.membership.leave().await {
            warn!("leaving the cluster: {e}");
        }
        self.placement.shutdown().await;
        self.register.shutdown().await;
        self.transport.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(node_id: u64, seeds: &[u64], register_recover: bool) -> ClusterConfig {
        ClusterConfig {
            node_id,
            bind: "127.0.0.1:0".parse().expect("address"),
            seeds: seeds
                .iter()
                .map(|id| format!("{id}@127.0.0.1:1").parse().expect("seed"))
                .collect(),
            secret: "sixteen-bytes-or-more".into(),
            register_recover,
        }
    }

    fn check(node_id: u64, seeds: &[u64], register_recover: bool) -> Result<(), String> {
        let config = config(node_id, seeds, register_recover);
        check_register_recover(&config, &voters(&config)).map_err(|e| e.to_string())
    }

    #[test]
    fn the_replicas_are_the_three_lowest_ids() {
        let ids = voters(&config(5, &[9, 2, 7, 1, 2], false));
        assert_eq!(ids, vec![NodeId(1), NodeId(2), NodeId(5)]);
    }

    #[test]
    fn register_recover_is_accepted_on_a_replica_with_others() {
        assert_eq!(check(3, &[1, 2, 3], true), Ok(()));
        assert_eq!(check(4, &[1, 2, 3], false), Ok(()));
    }

    #[test]
    fn register_recover_on_a_node_without_a_replica_is_refused() {
        let error = check(4, &[1, 2, 3], true).unwrap_err();
        assert!(
            error.starts_with("`cluster.register_recover` is set, but node 4 holds no"),
            "{error}"
        );
        assert!(error.contains("nodes 1, 2, 3"), "{error}");
    }

    #[test]
    fn register_recover_with_nobody_to_recover_from_is_refused() {
        let error = check(1, &[], true).unwrap_err();
        assert!(error.contains("names no other node"), "{error}");
    }
}
