//! The register nodes and the cluster transport, unchanged, on turmoil's
//! simulated network: three nodes whose clients read and write two keys
//! with unique values while the network partitions and heals and nodes
//! crash, restart and lose their disks. Every operation's invocation and
//! answer is recorded with the simulated time, and each key's history must
//! be linearizable.
//!
//! To show the check has teeth, a scripted run gives one node a disk that
//! silently stops persisting, and the check must fail.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod linearizability;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_auth::register::{Incarnation, Key, MemoryStore, Store, Versioned};
use tessera_auth::register_node::{RegisterNode, RegisterNodeConfig};
use tessera_cluster::transport::{ClusterSecret, NodeId, Transport, TransportConfig, TurmoilNet};

use linearizability::{Kind, Op};

const SECRET: &str = "tessera simulated register secret";
const PORT: u16 = 7600;
const NODES: [u64; 3] = [1, 2, 3];
const KEYS: usize = 2;
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// Simulated time after which a run that has not finished fails.
const LIMIT: Duration = Duration::from_secs(90);

fn host(node: u64) -> String {
    format!("n{node}")
}

fn key_name(key: usize) -> String {
    format!("player:{key}")
}

fn now() -> Duration {
    turmoil::sim_elapsed().expect("runs inside the simulation")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn transport_config(node: u64) -> TransportConfig {
    let secret = ClusterSecret::new(SECRET).unwrap();
    let mut config = TransportConfig::simulated(NodeId(node), PORT, secret);
    for peer in NODES {
        let addr = SocketAddr::new(turmoil::lookup(host(peer)), PORT);
        config.peers.insert(NodeId(peer), addr);
    }
    config
}

/// A node's disk, which outlives the node's crashes: a memory store behind
/// a lock, that can be wiped (a lost disk), or be broken: it silently stops
/// persisting after its first commit (the mark of a new cluster's store).
#[derive(Clone)]
struct SimDisk(Arc<Mutex<DiskState>>);

struct DiskState {
    entries: MemoryStore,
    broken: bool,
    commits: usize,
}

impl SimDisk {
    fn new(broken: bool) -> Self {
        Self(Arc::new(Mutex::new(DiskState {
            entries: MemoryStore::new(),
            broken,
            commits: 0,
        })))
    }

    fn wipe(&self) {
        lock(&self.0).entries = MemoryStore::new();
    }
}

impl Store for SimDisk {
    type Error = Infallible;

    fn load(&self) -> Result<Vec<(Key, Versioned)>, Infallible> {
        lock(&self.0).entries.load()
    }

    fn persist(&mut self, entries: &[(Key, Versioned)]) -> Result<(), Infallible> {
        let mut disk = lock(&self.0);
        disk.commits += 1;
        if disk.broken && disk.commits > 1 {
            return Ok(());
        }
        disk.entries.persist(entries)
    }
}

#[derive(Clone, Copy, Debug)]
enum Call {
    Read,
    Write(u64),
}

#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// No answer: the call timed out, or its node crashed under it.
    Unknown,
    Read(Option<u64>),
    Written,
}

struct Record {
    node: u64,
    key: usize,
    call: Call,
    invoked: Duration,
    returned: Duration,
    outcome: Outcome,
}

/// Every operation of a run, in invocation order.
#[derive(Default)]
struct History(Mutex<Vec<Record>>);

impl History {
    fn invoke(&self, node: u64, key: usize, call: Call) -> usize {
        let mut records = lock(&self.0);
        records.push(Record {
            node,
            key,
            call,
            invoked: now(),
            returned: Duration::MAX,
            outcome: Outcome::Unknown,
        });
        records.len() - 1
    }

    fn answer(&self, index: usize, outcome: Outcome) {
        let mut records = lock(&self.0);
        records[index].returned = now();
        records[index].outcome = outcome;
    }

    /// One key's operations for the checker: unanswered writes may or may
    /// not have happened; unanswered reads say nothing.
    fn ops(&self, key: usize) -> Vec<Op> {
        lock(&self.0)
            .iter()
            .filter(|record| record.key == key)
            .filter_map(|record| {
                let (returned, kind) = match (record.call, record.outcome) {
                    (Call::Write(value), Outcome::Written) => {
                        (Some(record.returned), Kind::Write(value))
                    }
                    (Call::Write(value), Outcome::Unknown) => (None, Kind::Write(value)),
                    (Call::Read, Outcome::Read(value)) => {
                        (Some(record.returned), Kind::Read(value))
                    }
                    (Call::Read, _) => return None,
                    (Call::Write(_), Outcome::Read(_)) => unreachable!("a write answered a read"),
                };
                Some(Op {
                    invoked: record.invoked,
                    returned,
                    kind,
                })
            })
            .collect()
    }

    fn summary(&self) -> String {
        let records = lock(&self.0);
        let answered = |want: fn(&Record) -> bool| records.iter().filter(|r| want(r)).count();
        format!(
            "{} ops: {} reads answered, {} writes answered, {} unanswered",
            records.len(),
            answered(|r| matches!(r.outcome, Outcome::Read(_))),
            answered(|r| matches!(r.outcome, Outcome::Written)),
            answered(|r| matches!(r.outcome, Outcome::Unknown)),
        )
    }

    fn dump(&self) -> String {
        lock(&self.0)
            .iter()
            .map(|r| {
                let returned = match r.outcome {
                    Outcome::Unknown => "never".to_owned(),
                    _ => format!("{:?}", r.returned),
                };
                format!(
                    "n{} key {}: {:?} at {:?} -> {:?} at {returned}\n",
                    r.node, r.key, r.call, r.invoked, r.outcome
                )
            })
            .collect()
    }
}

/// A scripted operation: `node` starts `call` on `key` at `at`.
#[derive(Clone, Copy)]
struct Step {
    at: Duration,
    node: u64,
    key: usize,
    call: Call,
}

#[derive(Clone)]
enum Workload {
    /// Two clients per node, each op on a random key, half reads and half
    /// writes of fresh values, until `ops` operations have been started.
    Random {
        seed: u64,
        ops: usize,
    },
    Script(Vec<Step>),
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Cuts `node` off from the other two.
    Isolate(u64),
    Partition(u64, u64),
    RepairAll,
    /// Kills `node`'s process; with `wipe`, its disk is lost too.
    Crash {
        node: u64,
        wipe: bool,
    },
    Restart(u64),
}

enum Faults {
    /// A random fault every 0.15–0.7 s; crashes last 0.5–2 s.
    Random {
        seed: u64,
    },
    Script(Vec<(Duration, Fault)>),
}

/// What the hosts share with each other and with the test.
struct Shared {
    workload: Workload,
    history: History,
    tickets: AtomicUsize,
    next_value: AtomicU64,
    /// How often each node has started: its incarnation, and its clients' seed.
    starts: BTreeMap<u64, AtomicU64>,
    faults: Mutex<Vec<(Duration, Fault)>>,
}

impl Shared {
    fn new(workload: Workload) -> Self {
        let tickets = match &workload {
            Workload::Random { ops, .. } => *ops,
            Workload::Script(_) => 0,
        };
        Self {
            workload,
            history: History::default(),
            tickets: AtomicUsize::new(tickets),
            next_value: AtomicU64::new(1),
            starts: NODES.iter().map(|&n| (n, AtomicU64::new(0))).collect(),
            faults: Mutex::new(Vec::new()),
        }
    }

    fn take_ticket(&self) -> bool {
        self.tickets
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

async fn perform(register: &RegisterNode, shared: &Shared, node: u64, key: usize, call: Call) {
    let index = shared.history.invoke(node, key, call);
    let outcome =
        match call {
            Call::Read => match register.read(key_name(key)).await {
                Ok(value) => Outcome::Read(value.map(|bytes| {
                    u64::from_le_bytes(bytes.try_into().expect("the test writes u64s"))
                })),
                Err(_) => Outcome::Unknown,
            },
            Call::Write(value) => {
                let bytes = value.to_le_bytes().to_vec();
                match register.write(key_name(key), Some(bytes)).await {
                    Ok(()) => Outcome::Written,
                    Err(_) => Outcome::Unknown,
                }
            }
        };
    shared.history.answer(index, outcome);
}

async fn random_client(register: RegisterNode, shared: Arc<Shared>, node: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while shared.take_ticket() {
        let key = rng.random_range(0..KEYS);
        let call = if rng.random_bool(0.5) {
            Call::Write(shared.next_value.fetch_add(1, Ordering::Relaxed))
        } else {
            Call::Read
        };
        perform(&register, &shared, node, key, call).await;
        let pause = rng.random_range(0..800);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

async fn scripted_client(register: RegisterNode, shared: Arc<Shared>, node: u64, steps: Vec<Step>) {
    for step in steps {
        // A restarted node skips what its previous run was due to do.
        let Some(wait) = step.at.checked_sub(now()) else {
            continue;
        };
        tokio::time::sleep(wait).await;
        perform(&register, &shared, node, step.key, step.call).await;
    }
}

/// One node's process: its transport, its register node on its disk, and
/// its clients.
async fn node_main(node: u64, disk: SimDisk, shared: Arc<Shared>) -> turmoil::Result {
    let start = shared.starts[&node].fetch_add(1, Ordering::Relaxed);
    let transport = Transport::start(TurmoilNet, transport_config(node)).await?;
    let config = RegisterNodeConfig {
        op_timeout: OP_TIMEOUT,
        retransmit_after: Duration::from_millis(200),
        tick_interval: Duration::from_millis(20),
        // The first start is the cluster's; on any later one an empty disk
        // is a lost one.
        recover_if_empty: start > 0,
        recovery_delay: Duration::from_millis(1500),
        incarnation: Some(Incarnation(start + 1)),
        ..RegisterNodeConfig::default()
    };
    let group = NODES.map(NodeId).to_vec();
    let register = RegisterNode::start_with_store(transport, group, disk, config).await?;
    match &shared.workload {
        Workload::Random { seed, .. } => {
            for client in 0..2 {
                let seed = seed ^ (node << 32) ^ (start << 16) ^ client;
                tokio::spawn(random_client(register.clone(), shared.clone(), node, seed));
            }
        }
        Workload::Script(steps) => {
            let mine = steps.iter().filter(|s| s.node == node).copied().collect();
            tokio::spawn(scripted_client(
                register.clone(),
                shared.clone(),
                node,
                mine,
            ));
        }
    }
    std::future::pending().await
}

struct Run {
    /// Seeds turmoil's network (latencies) too.
    seed: u64,
    workload: Workload,
    faults: Faults,
    /// The node whose disk stops persisting after its first commit, if any.
    broken_disk: Option<u64>,
}

fn repair_all(sim: &turmoil::Sim<'_>) {
    for a in NODES {
        for b in NODES {
            if a < b {
                sim.repair(host(a), host(b));
            }
        }
    }
}

/// Runs the simulation until the workload is done and every operation has
/// had time to finish; returns the history.
fn simulate(run: Run) -> Arc<Shared> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .with_ansi(false)
        .try_init();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(LIMIT + Duration::from_secs(10))
        .max_message_latency(Duration::from_millis(20))
        .rng_seed(run.seed)
        .build();
    let shared = Arc::new(Shared::new(run.workload));
    let disks: BTreeMap<u64, SimDisk> = NODES
        .iter()
        .map(|&node| (node, SimDisk::new(run.broken_disk == Some(node))))
        .collect();
    for node in NODES {
        let (disk, shared) = (disks[&node].clone(), shared.clone());
        sim.host(host(node), move || {
            node_main(node, disk.clone(), shared.clone())
        });
    }

    let mut faults = match run.faults {
        Faults::Random { seed } => FaultPlan::Random {
            rng: Box::new(StdRng::seed_from_u64(seed)),
            next: Duration::from_millis(500),
            down: None,
        },
        Faults::Script(mut script) => {
            script.reverse();
            FaultPlan::Script(script)
        }
    };
    // Once the clients are done: heal, then let every operation finish.
    let mut settle_until = None;
    loop {
        sim.step().expect("the simulation runs");
        let now = sim.elapsed();
        assert!(now < LIMIT, "the workload did not finish in {LIMIT:?}");
        match settle_until {
            Some(until) if now >= until => break,
            Some(_) => continue,
            None => {}
        }
        let script_done = match &faults {
            FaultPlan::Script(script) => script.is_empty(),
            FaultPlan::Random { .. } => true,
        };
        let clients_done = match &shared.workload {
            Workload::Random { .. } => shared.tickets.load(Ordering::Relaxed) == 0,
            Workload::Script(steps) => steps.iter().all(|step| step.at < now),
        };
        if clients_done && script_done {
            repair_all(&sim);
            if let FaultPlan::Random {
                down: Some((node, _)),
                ..
            } = faults
            {
                sim.bounce(host(node));
            }
            settle_until = Some(now + OP_TIMEOUT + Duration::from_secs(1));
            continue;
        }
        for fault in faults.due(now) {
            apply(&mut sim, &disks, fault);
            lock(&shared.faults).push((now, fault));
        }
    }
    shared
}

enum FaultPlan {
    Random {
        rng: Box<StdRng>,
        next: Duration,
        /// The crashed node and when it comes back.
        down: Option<(u64, Duration)>,
    },
    /// In reverse time order, so the next is at the end.
    Script(Vec<(Duration, Fault)>),
}

impl FaultPlan {
    fn due(&mut self, now: Duration) -> Vec<Fault> {
        match self {
            FaultPlan::Script(script) => {
                let mut due = Vec::new();
                while script.last().is_some_and(|(at, _)| *at <= now) {
                    due.extend(script.pop().map(|(_, fault)| fault));
                }
                due
            }
            FaultPlan::Random { rng, next, down } => {
                let mut due = Vec::new();
                if let Some((node, until)) = *down {
                    if now >= until {
                        due.push(Fault::Restart(node));
                        *down = None;
                    }
                }
                if now < *next {
                    return due;
                }
                *next = now + Duration::from_millis(rng.random_range(150..700));
                let node = rng.random_range(1..=3);
                let fault = match rng.random_range(0..10) {
                    0..=2 => Fault::Isolate(node),
                    3..=4 => Fault::Partition(node, node % 3 + 1),
                    5..=6 => Fault::RepairAll,
                    _ if down.is_none() => {
                        let back = now + Duration::from_millis(rng.random_range(500..2000));
                        *down = Some((node, back));
                        Fault::Crash {
                            node,
                            wipe: rng.random_bool(0.4),
                        }
                    }
                    _ => Fault::RepairAll,
                };
                due.push(fault);
                due
            }
        }
    }
}

fn apply(sim: &mut turmoil::Sim<'_>, disks: &BTreeMap<u64, SimDisk>, fault: Fault) {
    match fault {
        Fault::Isolate(node) => {
            for other in NODES.into_iter().filter(|&other| other != node) {
                sim.partition(host(node), host(other));
            }
        }
        Fault::Partition(a, b) => sim.partition(host(a), host(b)),
        Fault::RepairAll => repair_all(sim),
        Fault::Crash { node, wipe } => {
            sim.crash(host(node));
            if wipe {
                disks[&node].wipe();
            }
        }
        Fault::Restart(node) => sim.bounce(host(node)),
    }
}

/// Checks every key's history; returns the first violation, explained.
fn violation(shared: &Shared) -> Option<String> {
    (0..KEYS).find_map(|key| {
        let ops = shared.history.ops(key);
        linearizability::check(&ops)
            .err()
            .map(|violation| format!("key {key}: {violation}"))
    })
}

fn random_run(seed: u64) {
    let shared = simulate(Run {
        seed,
        workload: Workload::Random { seed, ops: 60 },
        faults: Faults::Random { seed: seed + 1 },
        broken_disk: None,
    });
    let faults = lock(&shared.faults);
    let crashes = faults
        .iter()
        .filter(|(_, fault)| matches!(fault, Fault::Crash { .. }))
        .count();
    let wipes = faults
        .iter()
        .filter(|(_, fault)| matches!(fault, Fault::Crash { wipe: true, .. }))
        .count();
    let summary = format!(
        "{}; {} faults, {crashes} crashes ({wipes} with the disk lost), last at {:?}",
        shared.history.summary(),
        faults.len(),
        faults.last().map(|(at, _)| *at).unwrap_or_default(),
    );
    drop(faults);
    if let Some(violation) = violation(&shared) {
        let faults: String = lock(&shared.faults)
            .iter()
            .map(|(at, fault)| format!("{at:?}: {fault:?}\n"))
            .collect();
        panic!(
            "seed {seed}: {violation}\n{summary}\nhistory:\n{}faults:\n{faults}",
            shared.history.dump()
        );
    }
    eprintln!("seed {seed}: linearizable; {summary}");
}

#[test]
fn random_partitions_and_crashes_leave_every_key_linearizable() {
    for seed in 1..=10 {
        random_run(seed);
    }
}

#[test]
#[ignore = "many seeds: cargo test --release -p tessera-auth --test register_node_sim -- --ignored"]
fn many_seeds_leave_every_key_linearizable() {
    for seed in 11..=500 {
        random_run(seed);
    }
}

/// Node 2 is cut off while node 1 writes (so only nodes 1 and 3 hold the
/// write); node 3 restarts from its disk; then node 1 is cut off and node 2
/// reads through nodes 2 and 3. Only a disk that kept the write makes the
/// read see it.
fn lost_write_scenario(broken_disk: Option<u64>) -> Arc<Shared> {
    let ms = Duration::from_millis;
    let step = |at, node, call| Step {
        at: ms(at),
        node,
        key: 0,
        call,
    };
    simulate(Run {
        seed: 7,
        workload: Workload::Script(vec![
            step(1000, 1, Call::Write(1)),
            step(3000, 1, Call::Write(2)),
            step(9000, 2, Call::Read),
        ]),
        faults: Faults::Script(vec![
            (ms(2500), Fault::Isolate(2)),
            (
                ms(5000),
                Fault::Crash {
                    node: 3,
                    wipe: false,
                },
            ),
            (ms(5500), Fault::Restart(3)),
            (ms(7000), Fault::RepairAll),
            (ms(7000), Fault::Isolate(1)),
        ]),
        broken_disk,
    })
}

#[test]
fn the_check_catches_a_disk_that_drops_acknowledged_writes() {
    let sound = lost_write_scenario(None);
    assert_eq!(violation(&sound), None, "{}", sound.history.dump());
    let last_read = |shared: &Shared| {
        lock(&shared.history.0)
            .last()
            .map(|record| format!("{:?}", record.outcome))
    };
    assert_eq!(last_read(&sound).as_deref(), Some("Read(Some(2))"));

    let broken = lost_write_scenario(Some(3));
    let found = violation(&broken);
    assert!(
        found.is_some(),
        "a lost write went unnoticed:\n{}",
        broken.history.dump()
    );
    // Node 3 came back without write 2 and node 2 never had it.
    assert_eq!(last_read(&broken).as_deref(), Some("Read(Some(1))"));
}
