//! Durable block changes on one node: real region actors on a real disk,
//! each change acknowledged only once its journal batch is fsynced.
//!
//! `cargo bench -p tessera-bench --bench journal -- [--regions N]
//! [--in-flight N] [--seconds S] [--dir PATH]` (defaults 8 regions, 4096
//! changes in flight per region, 10 s, a folder under the system's temp dir).
//! Prints one JSON line: confirmed changes per second, confirmation latency
//! p50/p99/max, and the journals' group-commit and fsync figures.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_world::coords::RegionGrid;
use tessera_world::framing::Framing;
use tessera_world::gen::Flat;
use tessera_world::journal::Journals;
use tessera_world::messages::{
    BlockChange, Delivery, FeedEvent, NodeId, Precondition, RegionMsg, ToSession,
};
use tessera_world::routing::SingleNode;
use tessera_world::store::RegionStore;
use tessera_world::{World, WorldSettings};
use valence_protocol::packets::play::PlayerActionResponseS2c;
use valence_protocol::{BlockPos, BlockState, Packet, VarInt};

struct Args {
    regions: i32,
    in_flight: usize,
    seconds: u64,
    dir: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        regions: 8,
        in_flight: 4096,
        seconds: 10,
        dir: std::env::temp_dir().join(format!("tessera-journal-bench-{}", std::process::id())),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || {
            given
                .next()
                .unwrap_or_else(|| panic!("{flag} takes a value"))
        };
        match flag.as_str() {
            "--regions" => args.regions = value().parse().expect("--regions takes a number"),
            "--in-flight" => args.in_flight = value().parse().expect("--in-flight takes a number"),
            "--seconds" => args.seconds = value().parse().expect("--seconds takes a number"),
            "--dir" => args.dir = PathBuf::from(value()),
            // `cargo bench` adds `--bench`.
            _ => {}
        }
    }
    args
}

/// The sequence numbers of the acknowledgements in a delivery.
fn acks(bytes: &[u8], out: &mut Vec<i32>) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let Ok(len) = VarInt::decode_partial(&mut rest) else {
            return;
        };
        let (frame, after) = rest.split_at(len as usize);
        rest = after;
        let mut frame = frame;
        if VarInt::decode_partial(&mut frame) == Ok(PlayerActionResponseS2c::ID) {
            if let Ok(sequence) = VarInt::decode_partial(&mut frame) {
                out.push(sequence);
            }
        }
    }
}

/// A block position of region `r` (regions of one chunk, side by side
/// along x), the `i`-th of its columns, one layer above the flat floor.
fn position(r: i32, i: i32) -> BlockPos {
    let column = i % 256;
    let layer = i / 256 % 300;
    BlockPos::new(r * 16 + column % 16, -60 + layer, column / 16)
}

fn quantile(sorted: &[u32], q: f64) -> u32 {
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(0)
}

fn main() {
    let args = args();
    let _ = std::fs::remove_dir_all(&args.dir);
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    rt.block_on(async {
        let world = World::new(WorldSettings {
            node: NodeId(1),
            generator: Arc::new(Flat),
            grid: RegionGrid { size: 1 },
            framing: Framing::default(),
            biome: 0,
            spawn: (0, -60, 0),
            clock: tessera_world::clock::WorldClock::new(0, 0, true),
            placement: Arc::new(SingleNode(NodeId(1))),
            store: Some(RegionStore::open(args.dir.clone()).expect("a region store")),
            journals: Some(Journals::new(&args.dir, 1)),
            autosave: Duration::from_secs(3600),
            region_idle: Duration::from_secs(3600),
        });
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let mut players = Vec::new();
        for r in 0..args.regions {
            let world = world.clone();
            let in_flight = args.in_flight;
            players.push(tokio::spawn(async move {
                let (session, mut inbox) = world.open_session();
                let region = world.region_of_chunk(valence_protocol::ChunkPos::new(r, 0));
                let mut sent: HashMap<i32, Instant> = HashMap::new();
                let mut latencies = Vec::new();
                let mut next = 0i32;
                let mut got = Vec::new();
                let mut started = None;
                loop {
                    while sent.len() < in_flight && Instant::now() < deadline {
                        // Each position is set to stone, then back to air
                        // 75 k changes later: every change is allowed.
                        let round = next / 76_800;
                        let change = BlockChange {
                            pos: position(r, next % 76_800),
                            only_if: if round % 2 == 0 {
                                Precondition::Replaceable
                            } else {
                                Precondition::Breakable
                            },
                            state: if round % 2 == 0 { BlockState::STONE } else { BlockState::AIR },
                            ack: Some((session, next)),
                        };
                        sent.insert(next, Instant::now());
                        next += 1;
                        if world.to_region(region, RegionMsg::SetBlock(change)).is_err() {
                            tokio::task::yield_now().await;
                        }
                    }
                    if sent.is_empty() {
                        break;
                    }
                    let Some(ToSession::Deliver(deliveries)) = inbox.recv().await else {
                        continue;
                    };
                    for delivery in deliveries {
                        if let Delivery::Unicast(FeedEvent::Packets(bytes)) = delivery {
                            got.clear();
                            acks(&bytes, &mut got);
                            for seq in &got {
                                if let Some(at) = sent.remove(seq) {
                                    // Changes sent before the first acknowledgement
                                    // waited for their chunk to generate.
                                    let since = *started.get_or_insert_with(Instant::now);
                                    if at >= since {
                                        latencies.push(at.elapsed().as_micros() as u32);
                                    }
                                }
                            }
                        }
                    }
                }
                (latencies, started)
            }));
        }
        let mut latencies = Vec::new();
        let mut first = None::<Instant>;
        for player in players {
            let (mut mine, started) = player.await.expect("a player task");
            latencies.append(&mut mine);
            first = match (first, started) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let seconds = first.map_or(0.0, |at| at.elapsed().as_secs_f64());
        latencies.sort_unstable();
        let m = &world.metrics();
        let fsync = m.journal_fsync.snapshot();
        let batches = m.group_commit.snapshot();
        let changes = m.journal_changes.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "{{\"regions\":{},\"in_flight_per_region\":{},\"confirmed\":{},\"seconds\":{seconds:.2},\"confirmed_per_s\":{:.0},\"latency_p50_us\":{},\"latency_p99_us\":{},\"latency_max_us\":{},\"fsyncs\":{},\"changes_per_fsync\":{:.1},\"fsync_mean_us\":{:.0},\"journal_bytes\":{},\"dir\":\"{}\"}}",
            args.regions,
            args.in_flight,
            latencies.len(),
            latencies.len() as f64 / seconds.max(1e-9),
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.99),
            latencies.last().copied().unwrap_or(0),
            fsync.count,
            changes as f64 / batches.count.max(1) as f64,
            fsync.sum_seconds / fsync.count.max(1) as f64 * 1e6,
            m.journal_bytes.load(std::sync::atomic::Ordering::Relaxed),
            args.dir.display(),
        );
        world.stop().await;
    });
    let _ = std::fs::remove_dir_all(&args.dir);
}
