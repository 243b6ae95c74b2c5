//! Latency of single register operations and throughput under load, on
//! three register nodes over loopback with redb stores (real fsyncs).
//!
//! `cargo bench -p tessera-bench --bench register`; per-operation
//! percentiles come from `--bench register_load`.

mod loopback;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loopback::{run_load, Loopback};

fn register(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let cluster = rt.block_on(Loopback::start("register-bench"));
    let node = cluster.nodes[0].clone();
    rt.block_on(async {
        node.write("user:alex", Some(vec![7; 120])).await?;
        node.write("player:alex-uuid", Some(vec![9; 600])).await
    })
    .expect("seed the keys a login reads");

    let mut group = c.benchmark_group("register");
    // One round trip to a quorum when the replicas agree.
    group.bench_function("read", |b| {
        b.iter(|| rt.block_on(node.read("user:alex")).expect("read"))
    });
    // Two round trips, the second after the replicas' fsyncs.
    group.bench_function("write", |b| {
        b.iter(|| {
            rt.block_on(node.write("player:bench", Some(vec![1; 600])))
                .expect("write")
        })
    });
    // What a login reads: the user, then the player record.
    group.bench_function("login", |b| {
        b.iter(|| {
            rt.block_on(async {
                node.read("user:alex").await?;
                node.read("player:alex-uuid").await
            })
            .expect("login reads")
        })
    });
    // Half writes, half reads, 256 in flight over the three coordinators.
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.bench_function("mixed_256_in_flight", |b| {
        b.iter_custom(|iters| {
            let ops = usize::try_from(iters).unwrap_or(usize::MAX);
            rt.block_on(run_load(&cluster.nodes, ops, 256, 1)).elapsed
        })
    });
    group.finish();
    rt.block_on(cluster.shutdown());
}

criterion_group!(benches, register);
criterion_main!(benches);
