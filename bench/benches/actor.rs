//! A local actor round trip: a request into a bounded mailbox, the actor's
//! reply on a oneshot channel, on one thread and across worker threads; and
//! the same across nodes: a request over the cluster transport (loopback TCP,
//! authenticated connection, postcard frames) answered by the other node.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tessera_cluster::transport::{
    ClusterSecret, NodeId, TokioNet, Topic, Transport, TransportConfig,
};
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

async fn node(id: u64) -> Transport {
    let listen = "127.0.0.1:0".parse().expect("an address");
    let secret = ClusterSecret::new("tessera actor benchmark secret").expect("a long secret");
    Transport::start(TokioNet, TransportConfig::new(NodeId(id), listen, secret))
        .await
        .expect("bind on loopback")
}

/// Node 2 answers every request on `Topic::Actor` with its body; node 1 asks.
fn cross_node(c: &mut Criterion, rt: &Runtime) {
    let (asker, answerer) = rt.block_on(async {
        let (one, two) = (node(1).await, node(2).await);
        one.add_peer(two.node_id(), two.local_addr());
        two.add_peer(one.node_id(), one.local_addr());
        (one, two)
    });
    let mut requests = answerer.subscribe(Topic::Actor).expect("a free topic");
    let replier = answerer.clone();
    rt.spawn(async move {
        while let Some(request) = requests.recv().await {
            let _ = replier.reply(&request, request.body.clone());
        }
    });
    let body = vec![7u8; 64];
    c.bench_function("actor/cross_node_round_trip/64B", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let reply = asker
                        .request(
                            NodeId(2),
                            Topic::Actor,
                            body.clone(),
                            Duration::from_secs(5),
                        )
                        .await
                        .expect("node 2 answers");
                    assert_eq!(reply.len(), body.len());
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
        .enable_all()
        .build()
        .expect("a runtime starts");
    cross_node(c, &multi);
    round_trips(c, "actor/round_trip/multi_thread", multi);
}

criterion_group!(benches, actor);
criterion_main!(benches);
