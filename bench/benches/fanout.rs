//! One tick of a crowd: N players in one chunk each move, and each of the N
//! viewers gets every move. The region encodes each move once and sends one
//! shared feed per viewer (O(N)); each session then copies the N moves into
//! its socket buffer (O(N) each, O(N²) in all). Modelled with the world's
//! own message types and the cluster's mailboxes, as regions use them.
//! `one_by_one` sends the moves as separate events, as regions did before
//! feeds were sealed; `sealed` joins them into one run (`ChunkFeed::sealed`),
//! which a viewer copies in at most two slices around its own moves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tessera_cluster::{mailbox, ActorRef, Mailbox};
use tessera_world::framing::Framing;
use tessera_world::messages::{ChunkFeed, Delivery, FeedEvent, ToSession};
use valence_protocol::packets::play::MoveRelativeS2c;
use valence_protocol::{ChunkPos, VarInt};

/// Tessera's session mailbox size.
const SESSION_MAILBOX: usize = 1024;
const CROWDS: [usize; 4] = [10, 100, 500, 1000];

struct Crowd {
    moves: Vec<FeedEvent>,
    viewers: Vec<(ActorRef<ToSession>, Mailbox<ToSession>, Vec<u8>)>,
}

impl Crowd {
    fn new(n: usize) -> Self {
        let framing = Framing {
            threshold: Some(256),
        };
        let moves = (0..n)
            .map(|i| FeedEvent::Entity {
                entity: i as i32,
                packets: framing.frame(&MoveRelativeS2c {
                    entity_id: VarInt(i as i32),
                    delta: [700, 0, -300],
                    on_ground: true,
                }),
            })
            .collect();
        let viewers = (0..n)
            .map(|_| {
                let (actor, inbox) = mailbox(SESSION_MAILBOX);
                (actor, inbox, Vec::with_capacity(n * 16))
            })
            .collect();
        Self { moves, viewers }
    }

    /// The region's side: one feed for the chunk, one batch per viewer.
    fn send(&self, sealed: bool) -> Duration {
        let start = Instant::now();
        let (chunk, events) = (ChunkPos::new(0, 0), self.moves.clone());
        let feed = Arc::new(if sealed {
            ChunkFeed::sealed(chunk, events)
        } else {
            ChunkFeed { chunk, events }
        });
        for (actor, _, _) in &self.viewers {
            actor
                .try_send(ToSession::Deliver(vec![Delivery::Chunk(feed.clone())]))
                .expect("a viewer's mailbox has room");
        }
        start.elapsed()
    }

    /// The sessions' side: each takes its batch and queues the bytes but
    /// its own moves, as a session does.
    fn receive(&mut self) -> Duration {
        let start = Instant::now();
        for (me, (_, inbox, out)) in self.viewers.iter_mut().enumerate() {
            let me = me as i32;
            out.clear();
            while let Ok(ToSession::Deliver(items)) = inbox.try_recv() {
                for item in items {
                    let Delivery::Chunk(feed) = item else {
                        continue;
                    };
                    for event in &feed.events {
                        match event {
                            FeedEvent::Entity { entity, packets } if *entity != me => {
                                out.extend_from_slice(packets);
                            }
                            FeedEvent::Entities(run) => {
                                run.shown_to(me, |part| out.extend_from_slice(part));
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        start.elapsed()
    }
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    for n in CROWDS {
        let mut crowd = Crowd::new(n);
        for (kind, sealed) in [("one_by_one", false), ("sealed", true)] {
            group.bench_function(BenchmarkId::new(format!("region_send/{kind}"), n), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += crowd.send(sealed);
                        crowd.receive();
                    }
                    total
                })
            });
            group.bench_function(
                BenchmarkId::new(format!("tick_send_and_write/{kind}"), n),
                |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += crowd.send(sealed) + crowd.receive();
                        }
                        total
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
