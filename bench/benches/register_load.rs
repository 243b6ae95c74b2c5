//! Load on three register nodes over loopback with redb stores: many
//! operations in flight, each one's latency recorded. Prints one JSON line:
//! ops, seconds, ops_per_s and read/write p50/p99 in microseconds (plus the
//! replicas' group-commit figures on stderr).
//!
//! `cargo bench -p tessera-bench --bench register_load -- [--ops N]
//! [--in-flight N] [--reads-per-write N]` (defaults 200000, 256, 1).

mod loopback;

use loopback::{run_load, Loopback};
use tessera_auth::register_node::{RegisterNode, RegisterStats};

struct Args {
    ops: usize,
    in_flight: usize,
    reads_per_write: usize,
}

fn args() -> Args {
    let mut args = Args {
        ops: 200_000,
        in_flight: 256,
        reads_per_write: 1,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let slot = match flag.as_str() {
            "--ops" => &mut args.ops,
            "--in-flight" => &mut args.in_flight,
            "--reads-per-write" => &mut args.reads_per_write,
            // `cargo bench` adds `--bench`.
            _ => continue,
        };
        let value = given.next().and_then(|v| v.parse().ok());
        *slot = value.unwrap_or_else(|| panic!("{flag} takes a number"));
    }
    args
}

/// The `q`-quantile (0..=1) of `samples`, which it sorts.
fn quantile(samples: &mut [u32], q: f64) -> u32 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    let index = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[index]
}

fn stats(cluster: &Loopback) -> Vec<RegisterStats> {
    cluster.nodes.iter().map(RegisterNode::stats).collect()
}

fn main() {
    let args = args();
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    rt.block_on(async {
        let cluster = Loopback::start("register-load").await;
        // A short run first, so connections and stores are warm.
        run_load(&cluster.nodes, args.ops / 10, args.in_flight, args.reads_per_write).await;
        let before = stats(&cluster);
        let mut report =
            run_load(&cluster.nodes, args.ops, args.in_flight, args.reads_per_write).await;
        let after = stats(&cluster);
        for (id, (before, after)) in before.iter().zip(&after).enumerate() {
            let commits = after.commits - before.commits;
            let entries = after.committed_entries - before.committed_entries;
            eprintln!(
                "node {}: {commits} commits, {:.1} entries per commit, {} read write-backs, {} sends dropped",
                id + 1,
                entries as f64 / commits.max(1) as f64,
                after.read_write_backs - before.read_write_backs,
                after.sends_dropped - before.sends_dropped,
            );
        }
        let seconds = report.elapsed.as_secs_f64();
        let ops = report.read_micros.len() + report.write_micros.len();
        println!(
            "{{\"ops\":{ops},\"seconds\":{seconds:.3},\"ops_per_s\":{:.0},\"in_flight\":{},\"reads_per_write\":{},\"read_p50_us\":{},\"read_p99_us\":{},\"write_p50_us\":{},\"write_p99_us\":{}}}",
            ops as f64 / seconds,
            args.in_flight,
            args.reads_per_write,
            quantile(&mut report.read_micros, 0.5),
            quantile(&mut report.read_micros, 0.99),
            quantile(&mut report.write_micros, 0.5),
            quantile(&mut report.write_micros, 0.99),
        );
        cluster.shutdown().await;
    });
}
