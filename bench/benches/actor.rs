//! A local actor round trip: a request into a bounded mailbox, the actor's
//! reply on a oneshot channel, on one thread and across worker threads.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use tessera_cluster::{mailbox, ActorRef};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::oneshot;

struct Ping(u64, oneshot::Sender<u64>);

/// Starts an actor that answers each ping with its number plus one.
fn echo(rt: &Runtime) -> ActorRef<Ping> {
    let (actor, mut inbox) = mailbox::<Ping>(64);
    rt.spawn(async move {
        while let Some(Ping(n, reply)) = inbox.recv().await {
            let _ = reply.send(n + 1);
        }
    });
    actor
}

fn round_trips(c: &mut Criterion, name: &str, rt: Runtime) {
    let actor = echo(&rt);
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let (tx, rx) = oneshot::channel();
                    actor.send(Ping(i, tx)).await.expect("the actor runs");
                    assert_eq!(rx.await.expect("the actor answers"), i + 1);
                }
                start.elapsed()
            })
        })
    });
}

fn actor(c: &mut Criterion) {
    let current = Builder::new_current_thread()
        .build()
        .expect("a runtime starts");
    round_trips(c, "actor/round_trip/current_thread", current);
    let multi = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime starts");
    round_trips(c, "actor/round_trip/multi_thread", multi);
}

criterion_group!(benches, actor);
criterion_main!(benches);
