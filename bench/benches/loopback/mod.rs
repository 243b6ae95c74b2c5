//! Three register nodes in one process on real transports over loopback,
//! each replica on its own redb file in a temporary directory, and a load
//! driver that keeps many operations in flight. Shared by the criterion
//! bench and the load harness.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_auth::register_node::{RegisterNode, RegisterNodeConfig};
use tessera_cluster::transport::{ClusterSecret, NodeId, TokioNet, Transport, TransportConfig};

const SECRET: &str = "tessera register benchmark secret";
const GROUP: [u64; 3] = [1, 2, 3];

pub struct Loopback {
    pub nodes: Vec<RegisterNode>,
    transports: Vec<Transport>,
    dir: PathBuf,
}

impl Loopback {
    pub async fn start(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is past 1970")
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("tessera-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the store directory");
        let mut transports = Vec::new();
        for id in GROUP {
            let listen = "127.0.0.1:0".parse().expect("an address");
            let secret = ClusterSecret::new(SECRET).expect("a long enough secret");
            let config = TransportConfig::new(NodeId(id), listen, secret);
            let transport = Transport::start(TokioNet, config)
                .await
                .expect("bind on loopback");
            transports.push(transport);
        }
        for a in &transports {
            for b in &transports {
                a.add_peer(b.node_id(), b.local_addr());
            }
        }
        let mut nodes = Vec::new();
        for (id, transport) in GROUP.into_iter().zip(&transports) {
            let store = dir.join(format!("replica-{id}.redb"));
            let node = RegisterNode::start(
                transport.clone(),
                GROUP.map(NodeId).to_vec(),
                Some(store),
                RegisterNodeConfig::default(),
            )
            .await
            .expect("start a register node");
            nodes.push(node);
        }
        // Every pair connected: one write through each node reaches all.
        for node in &nodes {
            node.write("warm-up", Some(vec![0]))
                .await
                .expect("the cluster answers");
        }
        Self {
            nodes,
            transports,
            dir,
        }
    }

    pub async fn shutdown(self) {
        for node in &self.nodes {
            node.shutdown().await;
        }
        for transport in &self.transports {
            transport.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Per-operation latencies of one load run.
#[derive(Default)]
pub struct LoadReport {
    pub elapsed: Duration,
    pub read_micros: Vec<u32>,
    pub write_micros: Vec<u32>,
}

/// Runs `ops` operations with `in_flight` of them outstanding at all times,
/// spread over the nodes' coordinators; each worker has keys of its own.
/// Each write is followed by `reads_per_write` reads.
pub async fn run_load(
    nodes: &[RegisterNode],
    ops: usize,
    in_flight: usize,
    reads_per_write: usize,
) -> LoadReport {
    let tickets = Arc::new(AtomicUsize::new(ops));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..in_flight {
        let node = nodes[worker % nodes.len()].clone();
        let tickets = tickets.clone();
        workers.push(tokio::spawn(async move {
            let mut report = LoadReport::default();
            let mut n = 0usize;
            let take = || {
                tickets
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| t.checked_sub(1))
                    .is_ok()
            };
            while take() {
                // Writes cycle through the worker's 16 keys; reads go to the
                // key written eight writes back, which every replica has by
                // then (as a login reads records written long before).
                let round = n / (reads_per_write + 1);
                let is_write = n.is_multiple_of(reads_per_write + 1);
                let slot = if is_write {
                    round % 16
                } else {
                    (round + 8) % 16
                };
                let key = format!("player:{worker}:{slot}");
                let op_started = Instant::now();
                if is_write {
                    let value = Some(n.to_le_bytes().to_vec());
                    node.write(key, value).await.expect("write");
                } else {
                    node.read(key).await.expect("read");
                }
                let micros = u32::try_from(op_started.elapsed().as_micros()).unwrap_or(u32::MAX);
                if is_write {
                    report.write_micros.push(micros);
                } else {
                    report.read_micros.push(micros);
                }
                n += 1;
            }
            report
        }));
    }
    let mut total = LoadReport::default();
    for worker in workers {
        let report = worker.await.expect("a load worker");
        total.read_micros.extend(report.read_micros);
        total.write_micros.extend(report.write_micros);
    }
    total.elapsed = started.elapsed();
    total
}
