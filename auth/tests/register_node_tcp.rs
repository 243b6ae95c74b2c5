//! Register nodes over real transports on 127.0.0.1, several in one process,
//! each replica on its own redb file. Every wait is bounded.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tessera_auth::register::{RedbStore, Store};
use tessera_auth::register_node::{RegisterError, RegisterNode, RegisterNodeConfig};
use tessera_cluster::transport::{ClusterSecret, NodeId, TokioNet, Transport, TransportConfig};

const SECRET: &str = "tessera register test secret";
const WAIT: Duration = Duration::from_secs(10);
const GROUP: [u64; 3] = [1, 2, 3];

/// A directory no other test (or test run) uses, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "tessera-register-node-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn store(&self, id: u64) -> PathBuf {
        self.0.join(format!("replica-{id}.redb"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Short heartbeats and backoff, so a stopped node is noticed quickly.
fn transport_config(id: u64) -> TransportConfig {
    let listen = "127.0.0.1:0".parse().unwrap();
    let secret = ClusterSecret::new(SECRET).unwrap();
    let mut config = TransportConfig::new(NodeId(id), listen, secret);
    config.handshake_timeout = Duration::from_secs(2);
    config.heartbeat_interval = Duration::from_millis(100);
    config.idle_timeout = Duration::from_millis(500);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config
}

fn register_config(recover_if_empty: bool) -> RegisterNodeConfig {
    RegisterNodeConfig {
        op_timeout: Duration::from_secs(2),
        retransmit_after: Duration::from_millis(100),
        tick_interval: Duration::from_millis(10),
        recover_if_empty,
        // Above the transports' idle timeout, as the setting asks.
        recovery_delay: Duration::from_millis(600),
        ..RegisterNodeConfig::default()
    }
}

fn value(text: &str) -> Option<Vec<u8>> {
    Some(text.as_bytes().to_vec())
}

struct Node {
    transport: Transport,
    register: RegisterNode,
}

/// Up to four nodes: 1–3 form the replica group; any other id only
/// coordinates.
struct Cluster {
    dir: TempDir,
    nodes: Vec<Option<Node>>,
}

impl Cluster {
    async fn start(name: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .with_ansi(false)
            .try_init();
        let mut cluster = Self {
            dir: TempDir::new(name),
            nodes: (0..=4).map(|_| None).collect(),
        };
        for id in GROUP {
            cluster.start_node(id, false).await;
        }
        cluster
    }

    /// Starts node `id` (again) on its store, and introduces it to the others.
    async fn start_node(&mut self, id: u64, recover_if_empty: bool) {
        let transport = Transport::start(TokioNet, transport_config(id))
            .await
            .unwrap();
        for other in self.nodes.iter().flatten() {
            transport.add_peer(other.transport.node_id(), other.transport.local_addr());
            other
                .transport
                .add_peer(transport.node_id(), transport.local_addr());
        }
        let group = GROUP.map(NodeId).to_vec();
        let store = GROUP.contains(&id).then(|| self.dir.store(id));
        let register = RegisterNode::start(
            transport.clone(),
            group,
            store,
            register_config(recover_if_empty),
        )
        .await
        .unwrap();
        self.nodes[id as usize] = Some(Node {
            transport,
            register,
        });
    }

    async fn stop_node(&mut self, id: u64) {
        let node = self.nodes[id as usize].take().expect("node is running");
        node.register.shutdown().await;
        node.transport.shutdown().await;
    }

    fn node(&self, id: u64) -> &RegisterNode {
        &self.nodes[id as usize]
            .as_ref()
            .expect("node is running")
            .register
    }

    async fn shutdown(mut self) {
        for id in 0..self.nodes.len() {
            if self.nodes[id].is_some() {
                self.stop_node(id as u64).await;
            }
        }
    }
}

/// What a stopped node's store holds for `key`.
fn stored(path: &Path, key: &str) -> Option<Vec<u8>> {
    let store = RedbStore::open(path).unwrap();
    let entries = store.load().unwrap();
    entries
        .into_iter()
        .find(|(stored, _)| stored == key)
        .and_then(|(_, versioned)| versioned.value)
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_is_read_on_the_others() {
    let cluster = Cluster::start("read-your-peers").await;
    assert_eq!(cluster.node(2).read("user:alex").await.unwrap(), None);
    cluster
        .node(1)
        .write("user:alex", value("hash-1"))
        .await
        .unwrap();
    for id in GROUP {
        let read = cluster.node(id).read("user:alex").await.unwrap();
        assert_eq!(read, value("hash-1"), "read on node {id}");
    }
    cluster.node(3).write("user:alex", None).await.unwrap();
    assert_eq!(cluster.node(1).read("user:alex").await.unwrap(), None);

    // A write returns once a quorum has it; the third replica gets it soon
    // after. Then replicas agree, and a read takes one round trip.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for id in GROUP {
        let before = cluster.node(id).stats();
        assert_eq!(cluster.node(id).read("user:alex").await.unwrap(), None);
        let after = cluster.node(id).stats();
        assert_eq!(after.reads, before.reads + 1);
        assert_eq!(after.read_write_backs, before.read_write_backs, "node {id}");
        assert!(cluster.node(id).is_ready());
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_from_every_node_settle_on_one_value() {
    let cluster = Cluster::start("concurrent").await;
    let mut writers = Vec::new();
    for id in GROUP {
        let node = cluster.node(id).clone();
        writers.push(tokio::spawn(async move {
            for i in 0..20 {
                node.write("player:1", value(&format!("{id}-{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut seen = BTreeSet::new();
    for id in GROUP {
        seen.insert(cluster.node(id).read("player:1").await.unwrap());
    }
    assert_eq!(seen.len(), 1, "nodes disagree: {seen:?}");
    let last = seen.pop_first().flatten().unwrap();
    let last = String::from_utf8(last).unwrap();
    assert!(last.ends_with("-19"), "{last} is no writer's last value");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_nodes_keep_reading_and_writing() {
    let mut cluster = Cluster::start("one-down").await;
    cluster
        .node(1)
        .write("ban:7", value("before"))
        .await
        .unwrap();
    cluster.stop_node(3).await;
    cluster
        .node(1)
        .write("ban:7", value("after"))
        .await
        .unwrap();
    assert_eq!(cluster.node(2).read("ban:7").await.unwrap(), value("after"));
    cluster.node(2).write("user:new", value("x")).await.unwrap();
    assert_eq!(cluster.node(1).read("user:new").await.unwrap(), value("x"));

    // With two of three down there is no quorum, and the caller is told so.
    cluster.stop_node(2).await;
    let started = Instant::now();
    let error = cluster.node(1).read("ban:7").await.unwrap_err();
    assert_eq!(error, RegisterError::NoQuorum(Duration::from_secs(2)));
    assert!(error.to_string().contains("no quorum"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(cluster.node(1).stats().timeouts, 1);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_listed_through_any_node_with_one_down() {
    let mut cluster = Cluster::start("keys").await;
    cluster.node(1).write("user:a", value("1")).await.unwrap();
    cluster.node(2).write("user:b", value("2")).await.unwrap();
    cluster.node(3).write("ban:c", value("3")).await.unwrap();
    cluster.stop_node(3).await;
    cluster.node(1).write("user:a", None).await.unwrap();
    cluster.node(2).write("user:d", value("4")).await.unwrap();
    assert_eq!(
        cluster.node(1).keys("user:").await.unwrap(),
        ["user:b", "user:d"]
    );
    assert_eq!(cluster.node(2).keys("ban:").await.unwrap(), ["ban:c"]);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_catches_up_on_read_and_serves() {
    let mut cluster = Cluster::start("restart").await;
    cluster
        .node(1)
        .write("player:9", value("old"))
        .await
        .unwrap();
    cluster.stop_node(3).await;
    cluster
        .node(1)
        .write("player:9", value("new"))
        .await
        .unwrap();
    assert_eq!(stored(&cluster.dir.store(3), "player:9"), value("old"));

    // Its file survived, so it serves at once, with what the file holds.
    cluster.start_node(3, true).await;
    assert!(cluster.node(3).is_ready());
    // Its own replica answers with the old value and node 1 or 2 with the
    // new one: the read returns the newer and writes it back.
    let read = cluster.node(3).read("player:9").await.unwrap();
    assert_eq!(read, value("new"));
    assert_eq!(cluster.node(3).stats().read_write_backs, 1);

    // Node 3 now serves in a quorum that needs it.
    cluster.stop_node(1).await;
    assert_eq!(
        cluster.node(2).read("player:9").await.unwrap(),
        value("new")
    );
    cluster
        .node(3)
        .write("player:9", value("newest"))
        .await
        .unwrap();
    assert_eq!(
        cluster.node(2).read("player:9").await.unwrap(),
        value("newest")
    );
    cluster.stop_node(3).await;
    assert_eq!(stored(&cluster.dir.store(3), "player:9"), value("newest"));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_new_store_recovers_before_serving() {
    let mut cluster = Cluster::start("recover").await;
    for i in 0..10 {
        let key = format!("user:{i}");
        cluster
            .node(1 + i % 3)
            .write(key, value(&format!("record {i}")))
            .await
            .unwrap();
    }
    // Node 3 loses its disk while node 1 is down too.
    cluster.stop_node(3).await;
    cluster.stop_node(1).await;
    std::fs::remove_file(cluster.dir.store(3)).unwrap();
    cluster.start_node(3, true).await;
    assert!(!cluster.node(3).is_ready());

    // Recovery needs two other replicas: with one, node 3 stays out of
    // every quorum, so nothing completes.
    let error = cluster.node(3).read("user:0").await.unwrap_err();
    assert!(matches!(error, RegisterError::NoQuorum(_)), "{error}");
    assert!(!cluster.node(3).is_ready());
    // Cut short, the recovery left a file behind, but not a complete one:
    // the next start recovers again rather than serve it.
    cluster.stop_node(3).await;
    assert!(cluster.dir.store(3).exists());
    cluster.start_node(3, true).await;
    assert!(!cluster.node(3).is_ready());
    assert_eq!(cluster.node(3).stats().stored_keys, 0);

    cluster.start_node(1, false).await;
    let recovering = cluster.node(3).clone();
    eventually("node 3 has recovered", || recovering.is_ready()).await;
    assert_eq!(cluster.node(3).stats().stored_keys, 10);
    assert_eq!(cluster.node(2).stats().stored_keys, 10);
    cluster.stop_node(1).await;
    for i in 0..10 {
        let read = cluster.node(3).read(format!("user:{i}")).await.unwrap();
        assert_eq!(read, value(&format!("record {i}")));
    }
    // Everything came from the others in one commit, not from write-backs.
    assert_eq!(cluster.node(3).stats().read_write_backs, 0);
    cluster.stop_node(3).await;
    assert_eq!(stored(&cluster.dir.store(3), "user:4"), value("record 4"));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_outside_the_group_reads_and_writes_through_it() {
    let mut cluster = Cluster::start("outsider").await;
    cluster.start_node(4, false).await;
    cluster
        .node(4)
        .write("whitelist", value("alex"))
        .await
        .unwrap();
    assert_eq!(
        cluster.node(1).read("whitelist").await.unwrap(),
        value("alex")
    );
    cluster.node(2).write("whitelist", None).await.unwrap();
    assert_eq!(cluster.node(4).read("whitelist").await.unwrap(), None);
    assert!(cluster.node(4).is_ready());
    assert_eq!(cluster.node(4).stats().commits, 0);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_group_serves_alone() {
    let dir = TempDir::new("single");
    let path = dir.store(1);
    for round in ["first", "second"] {
        let transport = Transport::start(TokioNet, transport_config(1))
            .await
            .unwrap();
        // A new store and a flag saying the cluster existed: a group of one
        // has nobody to recover from, so it serves what it has.
        let register = RegisterNode::start(
            transport.clone(),
            vec![NodeId(1)],
            Some(path.clone()),
            register_config(true),
        )
        .await
        .unwrap();
        assert!(register.is_ready());
        if round == "first" {
            assert_eq!(register.read("user:solo").await.unwrap(), None);
            register.write("user:solo", value("kept")).await.unwrap();
        } else {
            assert_eq!(register.read("user:solo").await.unwrap(), value("kept"));
        }
        register.shutdown().await;
        transport.shutdown().await;
    }
}
