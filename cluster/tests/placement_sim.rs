//! The placement group under turmoil's simulated network: three voters,
//! seeded random partitions (both ways and one way) and repairs, proposals
//! from every node throughout. Safety is checked on everything the replicas
//! apply: each replica's applied commands are a prefix of the longest
//! sequence, and no epoch ever names two different owners. After the
//! network heals, every replica holds the same table.
//!
//! The network schedule and the proposals are seeded; openraft draws its
//! election timeouts from its own thread-local RNG, so the interleaving of
//! elections can differ between runs. The checks hold for every run.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/sim_placement.rs"]
mod sim_placement;
#[path = "common/wait.rs"]
mod wait;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use wait::wait_until;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_cluster::placement::{
    Command, PlacementService, PlacementTable, RegionKey, TableEvent,
};
use tessera_cluster::transport::{ClusterSecret, NodeId, Transport, TransportConfig, TurmoilNet};
use tokio::sync::broadcast::error::RecvError;

const SECRET: &str = "tessera simulated placement secret";
const PORT: u16 = 7600;
const VOTERS: [(&str, u64); 3] = [("n1", 1), ("n2", 2), ("n3", 3)];
/// The seed of the schedule; `TESSERA_SIM_SEED` picks another one, to
/// explore more schedules or replay a failing one.
fn seed() -> u64 {
    std::env::var("TESSERA_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e55e4a)
}
const CHAOS_ROUNDS: usize = 30;

fn transport_config(id: u64) -> TransportConfig {
    let mut config =
        TransportConfig::simulated(NodeId(id), PORT, ClusterSecret::new(SECRET).unwrap());
    for (name, peer) in VOTERS {
        config
            .peers
            .insert(NodeId(peer), SocketAddr::new(turmoil::lookup(name), PORT));
    }
    config
}

/// What the replicas did, gathered as it happens.
#[derive(Default)]
struct History {
    services: BTreeMap<u64, PlacementService>,
    /// Per replica, the commands it applied with their log indexes.
    applied: BTreeMap<u64, Vec<(u64, Command)>>,
    /// Every ownership any replica granted, by epoch.
    grants: HashMap<u64, (RegionKey, NodeId)>,
    violations: Vec<String>,
    committed: usize,
    failed: usize,
    stop_proposing: bool,
}

impl History {
    fn record(&mut self, replica: u64, event: TableEvent) {
        match event {
            TableEvent::Applied {
                index,
                command,
                applied,
            } => {
                for (region, owner) in applied.changed {
                    let Some(owner) = owner else { continue };
                    let grant = (region, owner.node);
                    let first = *self.grants.entry(owner.epoch).or_insert(grant);
                    if first != grant {
                        self.violations.push(format!(
                            "epoch {} is {first:?} on one replica and {grant:?} on {replica}",
                            owner.epoch
                        ));
                    }
                }
                self.applied
                    .entry(replica)
                    .or_default()
                    .push((index, command));
                self.check_prefixes();
            }
            // Nothing is compacted in this test, so no snapshot is sent.
            TableEvent::Replaced { index } => self.violations.push(format!(
                "replica {replica} unexpectedly replaced at {index:?}"
            )),
        }
    }

    /// Every replica's sequence is a prefix of the longest one.
    fn check_prefixes(&mut self) {
        let Some(longest) = self.applied.values().max_by_key(|s| s.len()) else {
            return;
        };
        for (replica, sequence) in &self.applied {
            if longest[..sequence.len()] != sequence[..] {
                self.violations
                    .push(format!("replica {replica} diverged from the longest log"));
            }
        }
    }

    fn tables(&self) -> Vec<PlacementTable> {
        self.services
            .values()
            .map(PlacementService::table)
            .collect()
    }
}

fn lock(history: &Mutex<History>) -> MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|e| e.into_inner())
}

fn random_command(rng: &mut StdRng) -> Command {
    let node = NodeId(rng.random_range(1..=3));
    match rng.random_range(0..10) {
        0 => Command::NodeDown(node),
        1 | 2 => Command::NodeUp(node),
        3 => Command::Move {
            region: RegionKey {
                x: rng.random_range(0..6),
                z: rng.random_range(0..6),
            },
            epoch: rng.random_range(1..40),
            to: node,
        },
        _ => Command::Place(RegionKey {
            x: rng.random_range(0..6),
            z: rng.random_range(0..6),
        }),
    }
}

/// One voter: its replica, a recorder of what it applies, and a stream of
/// random proposals.
async fn voter(id: u64, history: Arc<Mutex<History>>) -> turmoil::Result {
    let transport = Transport::start(TurmoilNet, transport_config(id)).await?;
    let voters = VOTERS.iter().map(|&(_, v)| NodeId(v)).collect();
    let placement =
        PlacementService::start(transport, voters, None, sim_placement::placement_config()).await?;
    let mut events = placement.subscribe();
    lock(&history).services.insert(id, placement.clone());
    let recorder = history.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => lock(&recorder).record(id, event),
                Err(RecvError::Lagged(n)) => lock(&recorder)
                    .violations
                    .push(format!("replica {id}'s recorder lagged by {n}")),
                Err(RecvError::Closed) => return,
            }
        }
    });
    let mut rng = StdRng::seed_from_u64(seed() ^ id);
    loop {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        if lock(&history).stop_proposing {
            continue;
        }
        let outcome = placement.propose(random_command(&mut rng)).await;
        let mut history = lock(&history);
        match outcome {
            Ok(_) => history.committed += 1,
            Err(_) => history.failed += 1,
        }
    }
}

fn name(i: usize) -> &'static str {
    VOTERS[i].0
}

fn repair_all() {
    for a in 0..3 {
        for b in a + 1..3 {
            turmoil::repair(name(a), name(b));
        }
    }
}

#[test]
fn partitions_never_split_the_placement_table() -> turmoil::Result {
    common::show_logs_of_failures();
    let history = Arc::new(Mutex::new(History::default()));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(200))
        .rng_seed(seed())
        .build();
    tracing::info!(seed = seed(), "placement simulation");
    for (host, id) in VOTERS {
        let history = history.clone();
        sim.host(host, move || voter(id, history.clone()));
    }
    let observed = history.clone();
    sim.client("chaos", async move {
        let history = observed;
        wait_until(
            "all voters are up with a leader",
            Duration::from_secs(20),
            || {
                let h = lock(&history);
                h.services.len() == 3 && h.services.values().any(|s| s.leader().is_some())
            },
        )
        .await;
        let mut rng = StdRng::seed_from_u64(seed());
        for _ in 0..CHAOS_ROUNDS {
            let a = rng.random_range(0..3);
            let b = (a + rng.random_range(1..3)) % 3;
            match rng.random_range(0..6) {
                0 | 1 => turmoil::partition(name(a), name(b)),
                2 => turmoil::partition_oneway(name(a), name(b)),
                // Cut one node off from both others.
                3 => {
                    turmoil::partition(name(a), name(b));
                    turmoil::partition(name(a), name(3 - a - b));
                }
                4 => turmoil::repair(name(a), name(b)),
                _ => repair_all(),
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(200..2500))).await;
            let violations = lock(&history).violations.clone();
            assert!(violations.is_empty(), "{violations:#?}");
        }

        repair_all();
        lock(&history).stop_proposing = true;
        wait_until(
            "every replica holds the same table",
            Duration::from_secs(30),
            || {
                let h = lock(&history);
                let tables = h.tables();
                let lengths: Vec<usize> = h.applied.values().map(Vec::len).collect();
                tables.windows(2).all(|w| w[0] == w[1])
                    && lengths.len() == 3
                    && lengths.windows(2).all(|w| w[0] == w[1])
            },
        )
        .await;
        // Healed, the group still takes commands.
        let service = lock(&history).services[&1].clone();
        let region = RegionKey { x: 100, z: 100 };
        service.propose(Command::NodeUp(NodeId(1))).await?;
        service.propose(Command::Place(region)).await?;
        assert!(service.owner(region).is_some());

        let h = lock(&history);
        assert!(h.violations.is_empty(), "{:#?}", h.violations);
        assert!(
            h.committed > 20,
            "too few commands committed: {}",
            h.committed
        );
        tracing::info!(
            committed = h.committed,
            failed = h.failed,
            applied = h.applied[&1].len(),
            epochs = h.grants.len(),
            "simulation done"
        );
        Ok(())
    });
    sim.run()
}
