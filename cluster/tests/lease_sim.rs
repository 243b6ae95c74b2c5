//! Region leases under turmoil: four nodes (three voters and a learner) run
//! the real placement service, each ticking every region its
//! `tick_permit` allows, while the network partitions (both ways, one way,
//! a node cut off), links fail at random and lose what is in flight, and
//! nodes crash and restart from their stores. The failure detector is
//! deliberately wrong: nodes declare live peers down at random, so regions
//! move all the time, also away from nodes that are alive and ticking; and
//! nodes rebalance live regions at random (`Move`), which the leader does by
//! asking the owner to release them.
//!
//! Every node records, per region, the spans of simulated time in which it
//! ticked it. Safety: no two nodes' spans for one region overlap. Liveness:
//! once the network heals and the false alarms stop, every region ticks
//! somewhere again.
//!
//! `TESSERA_SIM_SEED` replays one seed; the ignored test runs many.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/sim_placement.rs"]
mod sim_placement;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_cluster::placement::{Command, PlacementService, RegionKey};
use tessera_cluster::transport::{ClusterSecret, NodeId, Transport, TransportConfig, TurmoilNet};
use tokio::time::Instant;

const SECRET: &str = "tessera simulated lease secret";
const PORT: u16 = 7700;
const NODES: [(&str, u64); 4] = [("n1", 1), ("n2", 2), ("n3", 3), ("n4", 4)];
const VOTERS: [u64; 3] = [1, 2, 3];
/// Regions form a square of this side.
const SIDE: i32 = 5;
const TICK: Duration = Duration::from_millis(50);
const STARTUP: Duration = Duration::from_secs(5);
const CHAOS: Duration = Duration::from_secs(40);
/// After healing, how long every region may take to tick again.
const RECOVERY: Duration = Duration::from_secs(30);

fn regions() -> impl Iterator<Item = RegionKey> {
    (0..SIDE).flat_map(|x| (0..SIDE).map(move |z| RegionKey { x, z }))
}

fn transport_config(id: u64) -> TransportConfig {
    let mut config =
        TransportConfig::simulated(NodeId(id), PORT, ClusterSecret::new(SECRET).unwrap());
    for (name, peer) in NODES {
        config
            .peers
            .insert(NodeId(peer), SocketAddr::new(turmoil::lookup(name), PORT));
    }
    config
}

/// A span of simulated time in which one node ticked one region.
#[derive(Debug, Clone, Copy)]
struct Span {
    node: u64,
    epoch: u64,
    first: Duration,
    last: Duration,
}

/// What the nodes did, gathered as it happens.
#[derive(Default)]
struct Record {
    spans: BTreeMap<RegionKey, Vec<Span>>,
    /// The span each node is extending, per region.
    open: BTreeMap<(u64, RegionKey), usize>,
    /// Whether nodes still raise false alarms.
    chaos: bool,
    ticks: usize,
}

impl Record {
    /// `node` ticked `region` under `epoch` at `now`, or (with `None`) did not.
    fn tick(&mut self, node: u64, region: RegionKey, epoch: Option<u64>, now: Duration) {
        let spans = self.spans.entry(region).or_default();
        let open = self.open.get(&(node, region)).copied();
        match (epoch, open) {
            (Some(epoch), Some(i)) if spans[i].epoch == epoch => spans[i].last = now,
            (Some(epoch), _) => {
                spans.push(Span {
                    node,
                    epoch,
                    first: now,
                    last: now,
                });
                self.open.insert((node, region), spans.len() - 1);
                self.ticks += 1;
            }
            (None, _) => {
                self.open.remove(&(node, region));
            }
        }
    }

    /// A node (re)started: whatever it ticked before is over.
    fn restarted(&mut self, node: u64) {
        self.open.retain(|(n, _), _| *n != node);
    }

    /// Spans of different nodes that overlap, per region.
    fn overlaps(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (region, spans) in &self.spans {
            for (i, a) in spans.iter().enumerate() {
                for b in &spans[i + 1..] {
                    if a.node != b.node && a.first <= b.last && b.first <= a.last {
                        found.push(format!("region {region:?}: {a:?} and {b:?}"));
                    }
                }
            }
        }
        found
    }

    /// Regions nobody ticked at or after `since`.
    fn idle_since(&self, since: Duration) -> Vec<RegionKey> {
        regions()
            .filter(|r| {
                !self
                    .spans
                    .get(r)
                    .is_some_and(|spans| spans.iter().any(|s| s.last >= since))
            })
            .collect()
    }
}

fn lock(record: &Mutex<Record>) -> MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(|e| e.into_inner())
}

fn sim_now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// Ticks every region this node's permit allows, as a region actor would.
async fn tick_regions(id: u64, placement: PlacementService, record: Arc<Mutex<Record>>) {
    let mut ticker = tokio::time::interval(TICK);
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let at = sim_now();
        let mut record = lock(&record);
        for region in regions() {
            let permit = placement.tick_permit(region, now).map(|o| o.epoch);
            record.tick(id, region, permit, at);
        }
    }
}

/// What the rest of a node does: announce itself, place unowned regions,
/// and, while the chaos lasts, raise false alarms about its peers and move
/// live regions about.
async fn drive(id: u64, placement: PlacementService, record: Arc<Mutex<Record>>, seed: u64) {
    let me = NodeId(id);
    let mut rng = StdRng::seed_from_u64(seed ^ id.rotate_left(17));
    loop {
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..800))).await;
        let table = placement.table();
        if !table.live_nodes().any(|n| n == me) {
            let _ = placement.propose(Command::NodeUp(me)).await;
            continue;
        }
        let unowned: Vec<RegionKey> = regions().filter(|r| table.owner(*r).is_none()).collect();
        if let Some(&region) = unowned.first() {
            let _ = placement.propose(Command::Place(region)).await;
        }
        if !lock(&record).chaos {
            continue;
        }
        let someone = NodeId(NODES[rng.random_range(0..NODES.len())].1);
        let command = match rng.random_range(0..8) {
            0 | 1 => Command::NodeDown(someone),
            2..=4 => {
                let region = RegionKey {
                    x: rng.random_range(0..SIDE),
                    z: rng.random_range(0..SIDE),
                };
                let Some(owner) = table.owner(region) else {
                    continue;
                };
                Command::Move {
                    region,
                    epoch: owner.epoch,
                    to: someone,
                }
            }
            _ => continue,
        };
        let placement = placement.clone();
        tokio::spawn(async move {
            let _ = placement.propose(command).await;
        });
    }
}

async fn node(id: u64, store: PathBuf, record: Arc<Mutex<Record>>, seed: u64) -> turmoil::Result {
    lock(&record).restarted(id);
    let transport = Transport::start(TurmoilNet, transport_config(id)).await?;
    let voters = VOTERS.iter().map(|&v| NodeId(v)).collect();
    let placement = PlacementService::start(
        transport,
        voters,
        Some(store),
        sim_placement::placement_config(),
    )
    .await?;
    tokio::spawn(tick_regions(id, placement.clone(), record.clone()));
    drive(id, placement, record, seed).await;
    Ok(())
}

/// Store directories of one run, removed when it ends.
struct Stores(PathBuf);

impl Stores {
    fn new(seed: u64) -> Self {
        let path =
            std::env::temp_dir().join(format!("tessera-lease-sim-{}-{seed}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    fn node(&self, id: u64) -> PathBuf {
        self.0.join(format!("n{id}"))
    }
}

impl Drop for Stores {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn name(i: usize) -> &'static str {
    NODES[i].0
}

fn pairs() -> impl Iterator<Item = (usize, usize)> {
    (0..NODES.len()).flat_map(|a| (a + 1..NODES.len()).map(move |b| (a, b)))
}

/// One seeded run. Panics with the overlaps, or the regions left idle.
fn run(seed: u64) {
    let record = Arc::new(Mutex::new(Record {
        chaos: true,
        ..Record::default()
    }));
    let stores = Stores::new(seed);
    let mut sim = turmoil::Builder::new()
        .simulation_duration(STARTUP + CHAOS + RECOVERY + Duration::from_secs(10))
        .rng_seed(seed)
        .repair_rate(0.05)
        .build();
    for (host, id) in NODES {
        let record = record.clone();
        let store = stores.node(id);
        sim.host(host, move || node(id, store.clone(), record.clone(), seed));
    }
    // Keeps the simulation going; the schedule below ends it.
    sim.client("clock", async {
        std::future::pending::<()>().await;
        Ok(())
    });

    let mut rng = StdRng::seed_from_u64(seed);
    let mut next_action = STARTUP;
    let mut crashed: BTreeMap<usize, Duration> = BTreeMap::new();
    let mut healed_at: Option<Duration> = None;
    loop {
        sim.step().expect("simulation step");
        let now = sim.elapsed();
        let overlaps = lock(&record).overlaps();
        assert!(
            overlaps.is_empty(),
            "seed {seed}: two tickers:\n{overlaps:#?}"
        );
        let restart_due: Vec<usize> = crashed
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(i, _)| *i)
            .collect();
        for i in restart_due {
            crashed.remove(&i);
            sim.bounce(name(i));
        }
        if let Some(healed) = healed_at {
            let idle = lock(&record).idle_since(now.saturating_sub(TICK * 4));
            if idle.is_empty() && now > healed + TICK * 4 {
                break;
            }
            assert!(
                now < healed + RECOVERY,
                "seed {seed}: regions never tick again after healing: {idle:?}"
            );
            continue;
        }
        if now >= STARTUP + CHAOS {
            sim.set_fail_rate(0.0);
            for (a, b) in pairs() {
                sim.repair(name(a), name(b));
            }
            for (i, _) in std::mem::take(&mut crashed) {
                sim.bounce(name(i));
            }
            lock(&record).chaos = false;
            healed_at = Some(now);
            continue;
        }
        if now < next_action {
            continue;
        }
        next_action = now + Duration::from_millis(rng.random_range(300..2500));
        let a = rng.random_range(0..NODES.len());
        let b = (a + rng.random_range(1..NODES.len())) % NODES.len();
        match rng.random_range(0..10) {
            0 | 1 => sim.partition(name(a), name(b)),
            2 => sim.partition_oneway(name(a), name(b)),
            3 => {
                for other in (0..NODES.len()).filter(|&o| o != a) {
                    sim.partition(name(a), name(other));
                }
            }
            4 => sim.set_fail_rate(rng.random_range(0.0..0.01)),
            5 if crashed.is_empty() => {
                sim.crash(name(a));
                crashed.insert(a, now + Duration::from_millis(rng.random_range(500..4000)));
            }
            6 | 7 => sim.repair(name(a), name(b)),
            _ => {
                for (a, b) in pairs() {
                    sim.repair(name(a), name(b));
                }
            }
        }
    }
    let record = lock(&record);
    let moved: BTreeSet<u64> = record
        .spans
        .values()
        .flat_map(|spans| spans.iter().map(|s| s.node))
        .collect();
    assert!(
        record.ticks > 100 && moved.len() > 1,
        "seed {seed}: too little happened to prove anything: {} spans on nodes {moved:?}",
        record.ticks
    );
    let per_node: BTreeMap<u64, usize> =
        record
            .spans
            .values()
            .flatten()
            .fold(BTreeMap::new(), |mut counts, span| {
                *counts.entry(span.node).or_default() += 1;
                counts
            });
    tracing::info!(
        seed,
        spans = record.ticks,
        ?per_node,
        "lease simulation done"
    );
}

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("TESSERA_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => default.to_vec(),
    }
}

#[test]
fn no_two_nodes_ever_tick_one_region() {
    common::show_logs_of_failures();
    for seed in seeds(&[0x1ea5e, 7, 1_000_003]) {
        run(seed);
    }
}

#[test]
#[ignore = "many seeds; minutes in a debug build"]
fn no_two_nodes_ever_tick_one_region_many_seeds() {
    common::show_logs_of_failures();
    for seed in seeds(&(100..124).collect::<Vec<_>>()) {
        run(seed);
    }
}
