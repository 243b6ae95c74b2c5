//! The placement service over real transports on 127.0.0.1: elections,
//! forwarding, learners, leader failure, restarts from disk, snapshots.
//! Every wait is bounded by a deadline; nothing sleeps for long.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_cluster::placement::{
    Command, PlacementConfig, PlacementService, PlacementTable, RegionKey, TableEvent,
};
use tessera_cluster::transport::{ClusterSecret, NodeId, TokioNet, Transport, TransportConfig};
use tokio::time::{timeout, Instant};

const SECRET: &str = "tessera placement test secret";
const WAIT: Duration = Duration::from_secs(20);

fn transport_config(id: u64) -> TransportConfig {
    let listen = "127.0.0.1:0".parse().unwrap();
    let mut config = TransportConfig::new(NodeId(id), listen, ClusterSecret::new(SECRET).unwrap());
    config.handshake_timeout = Duration::from_secs(2);
    config.heartbeat_interval = Duration::from_millis(100);
    config.idle_timeout = Duration::from_millis(1000);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config
}

/// Quick elections, but with room for a loaded two-core machine (an fsync
/// must fit in one heartbeat interval).
fn placement_config() -> PlacementConfig {
    PlacementConfig {
        heartbeat_interval: Duration::from_millis(150),
        election_timeout_min: Duration::from_millis(600),
        election_timeout_max: Duration::from_millis(1200),
        request_timeout: Duration::from_secs(1),
        propose_timeout: Duration::from_secs(15),
        retry_interval: Duration::from_millis(50),
        snapshot_every: 5000,
        lease: Duration::from_secs(1),
        lease_renew_interval: Duration::from_millis(200),
        clock_drift_margin: Duration::from_millis(100),
    }
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("tessera-placement-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    fn node(&self, id: u64) -> PathBuf {
        self.0.join(format!("node-{id}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Node {
    transport: Transport,
    placement: PlacementService,
}

impl Node {
    fn id(&self) -> NodeId {
        self.transport.node_id()
    }

    async fn stop(self) {
        self.placement.shutdown().await;
        self.transport.shutdown().await;
    }
}

async fn start_transports(ids: &[u64]) -> Vec<Transport> {
    let mut transports = Vec::new();
    for &id in ids {
        transports.push(
            Transport::start(TokioNet, transport_config(id))
                .await
                .unwrap(),
        );
    }
    introduce(&transports.iter().collect::<Vec<_>>());
    transports
}

/// Tells every node where every other one listens (each ignores itself).
fn introduce(transports: &[&Transport]) {
    for a in transports {
        for b in transports {
            a.add_peer(b.node_id(), b.local_addr());
        }
    }
}

async fn start_node(
    transport: Transport,
    voters: &[u64],
    dir: Option<&Path>,
    config: PlacementConfig,
) -> Node {
    let voters = voters.iter().copied().map(NodeId).collect();
    let placement = PlacementService::start(
        transport.clone(),
        voters,
        dir.map(Path::to_path_buf),
        config,
    )
    .await
    .unwrap();
    Node {
        transport,
        placement,
    }
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    timeout(WAIT, work)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// The leader all the given nodes agree on, once they do.
async fn agreed_leader(nodes: &[&Node]) -> NodeId {
    agreed_leader_other_than(nodes, None).await
}

/// The same, ignoring a leader that the nodes remember but that is gone.
async fn agreed_leader_other_than(nodes: &[&Node], gone: Option<NodeId>) -> NodeId {
    let mut leader = None;
    eventually("the nodes agree on a leader", || {
        let first = nodes[0].placement.leader();
        leader = first;
        first.is_some() && first != gone && nodes.iter().all(|n| n.placement.leader() == first)
    })
    .await;
    leader.unwrap()
}

async fn converge(nodes: &[&Node]) -> PlacementTable {
    eventually("all replicas hold the same table", || {
        let first = nodes[0].placement.table();
        nodes.iter().all(|n| n.placement.table() == first)
    })
    .await;
    nodes[0].placement.table()
}

fn key(x: i32, z: i32) -> RegionKey {
    RegionKey { x, z }
}

async fn place(node: &Node, region: RegionKey) {
    within("a proposal", node.placement.propose(Command::Place(region)))
        .await
        .unwrap();
    assert!(
        node.placement.owner(region).is_some(),
        "the proposer's replica has the placement on return"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_and_a_learner_agree_and_survive_a_leader_crash_and_restart() {
    common::show_logs_of_failures();
    let dirs = TempDir::new("crash");
    let voters = [1, 2, 3];
    let mut transports = start_transports(&[1, 2, 3, 4]).await.into_iter();
    let mut nodes = Vec::new();
    for id in 1..=4 {
        let transport = transports.next().unwrap();
        nodes.push(start_node(transport, &voters, Some(&dirs.node(id)), placement_config()).await);
    }
    let learner = &nodes[3];
    assert!(!learner.placement.is_voter());
    let leader = agreed_leader(&nodes.iter().collect::<Vec<_>>()).await;
    assert!(nodes[(leader.0 - 1) as usize].placement.is_leader());
    let follower = nodes
        .iter()
        .find(|n| n.placement.is_voter() && n.id() != leader)
        .unwrap();

    // Liveness comes from outside; any node may announce it.
    for id in voters {
        within("node up", learner.placement.on_node_up(NodeId(id)))
            .await
            .unwrap();
    }
    place(follower, key(0, 0)).await;
    place(learner, key(40, 40)).await;
    place(&nodes[(leader.0 - 1) as usize], key(-40, 7)).await;
    let table = converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert_eq!(table.regions().count(), 3);
    assert_eq!(table.live_nodes().count(), 3);

    // The leader crashes (service and transport gone).
    let crashed = nodes.remove((leader.0 - 1) as usize);
    let crashed_id = crashed.id();
    crashed.stop().await;
    let survivors: Vec<&Node> = nodes.iter().collect();
    let new_leader = agreed_leader_other_than(&survivors, Some(crashed_id)).await;
    assert!(survivors.iter().any(|n| n.id() == new_leader));
    within("node down", nodes[0].placement.on_node_down(crashed_id))
        .await
        .unwrap();
    let learner = nodes.iter().find(|n| !n.placement.is_voter()).unwrap();
    place(learner, key(100, 100)).await;
    place(&nodes[0], key(1, 0)).await;
    let table = converge(&survivors).await;
    assert_eq!(table.regions_of(crashed_id).count(), 0);
    assert_eq!(table.regions().count(), 5);

    // It comes back on another port, alone at first: what it has then can
    // only come from its own log on disk.
    let transport = Transport::start(TokioNet, transport_config(crashed_id.0))
        .await
        .unwrap();
    let restarted = start_node(
        transport,
        &voters,
        Some(&dirs.node(crashed_id.0)),
        placement_config(),
    )
    .await;
    eventually("the restarted voter re-applies its log", || {
        restarted.placement.owner(key(-40, 7)).is_some()
    })
    .await;
    assert!(
        restarted.placement.owner(key(100, 100)).is_none(),
        "isolated, it cannot know later placements yet"
    );
    // Then it reconnects and catches up.
    nodes.push(restarted);
    introduce(&nodes.iter().map(|n| &n.transport).collect::<Vec<_>>());
    within("node up", nodes[2].placement.on_node_up(crashed_id))
        .await
        .unwrap();
    place(&nodes[2], key(-100, -100)).await;
    let table = converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert_eq!(table.regions().count(), 6);
    assert!(table.live_nodes().any(|n| n == crashed_id));

    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_voter_places_regions_alone_and_keeps_them_across_a_restart() {
    common::show_logs_of_failures();
    let dirs = TempDir::new("single");
    // Frequent snapshots, so the restart rebuilds from a snapshot plus the
    // log after it.
    let config = PlacementConfig {
        snapshot_every: 5,
        ..placement_config()
    };
    let transport = start_transports(&[1]).await.remove(0);
    let node = start_node(transport, &[1], Some(&dirs.node(1)), config.clone()).await;
    eventually("the lone voter leads", || node.placement.is_leader()).await;
    let mut events = node.placement.subscribe();
    within("node up", node.placement.on_node_up(NodeId(1)))
        .await
        .unwrap();
    for x in 0..20 {
        place(&node, key(x, 0)).await;
    }
    let before = node.placement.table();
    let epochs: Vec<u64> = (0..20)
        .map(|x| before.owner(key(x, 0)).unwrap().epoch)
        .collect();
    assert!(
        epochs.windows(2).all(|w| w[0] < w[1]),
        "epochs grow: {epochs:?}"
    );
    assert!(before.regions().all(|(_, o)| o.node == NodeId(1)));
    // The feed saw each command in log order.
    let mut indexes = Vec::new();
    while let Ok(TableEvent::Applied { index, .. }) = events.try_recv() {
        indexes.push(index);
    }
    assert_eq!(indexes.len(), 21, "one NodeUp and twenty Places");
    assert!(indexes.windows(2).all(|w| w[0] < w[1]));
    node.stop().await;

    let transport = start_transports(&[1]).await.remove(0);
    let node = start_node(transport, &[1], Some(&dirs.node(1)), config).await;
    eventually("the restarted voter has its table back", || {
        node.placement.table() == before
    })
    .await;
    eventually("it leads again", || node.placement.is_leader()).await;
    place(&node, key(0, 1)).await;
    assert_eq!(node.placement.table().regions().count(), 21);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_learner_catches_up_from_a_snapshot() {
    common::show_logs_of_failures();
    let config = PlacementConfig {
        snapshot_every: 5,
        ..placement_config()
    };
    let mut transports = start_transports(&[1, 2, 3, 4]).await;
    let late = transports.pop().unwrap();
    let mut nodes = Vec::new();
    for transport in transports {
        nodes.push(start_node(transport, &[1, 2, 3], None, config.clone()).await);
    }
    agreed_leader(&nodes.iter().collect::<Vec<_>>()).await;
    within("node up", nodes[0].placement.on_node_up(NodeId(1)))
        .await
        .unwrap();
    for x in 0..30 {
        place(&nodes[(x % 3) as usize], key(x, x)).await;
    }
    converge(&nodes.iter().collect::<Vec<_>>()).await;

    // The log's start has been compacted away, so the learner can only be
    // brought up to date with a snapshot.
    let learner = start_node(late, &[1, 2, 3], None, config).await;
    let mut events = learner.placement.subscribe();
    nodes.push(learner);
    let table = converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert_eq!(table.regions().count(), 30);
    let replaced = within("a snapshot event", async {
        loop {
            if let Ok(TableEvent::Replaced { .. }) = events.recv().await {
                return true;
            }
        }
    })
    .await;
    assert!(replaced);
    for node in nodes {
        node.stop().await;
    }
}
