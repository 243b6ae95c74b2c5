//! A region on a node made up for the test: messages go in, and what the
//! region sends out through its `RegionHost` is recorded, with no runtime,
//! no `World`, no network and no files. The property test plays seeded
//! random subscriptions and block changes against a model of the blocks
//! and checks what every viewer sees against it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_cluster::{mailbox, ActorRef, Mailbox};
use uuid::Uuid;
use valence_protocol::decode::PacketDecoder;
use valence_protocol::math::DVec3;
use valence_protocol::packets::play::{BlockUpdateS2c, ChunkDataS2c};
use valence_protocol::{BlockPos, BlockState, ChunkPos, Packet};

use super::{LoadedChunk, Region, RegionContext, RegionHost, RegionMail};
use crate::chunk_packet::encode_chunk_packet;
use crate::coords::{RegionGrid, RegionPos};
use crate::framing::Framing;
use crate::gen::{Flat, Generator};
use crate::journal::JournalPlayer;
use crate::messages::{
    BlockChange, Delivery, DigPhase, FeedEvent, NodeBatch, NodeId, PlayerInput, Precondition,
    RegionMsg, SessionAddr, ToSession,
};
use crate::metrics::WorldMetrics;
use crate::player::PlayerState;
use crate::routing::{Ownership, Undelivered};

const NODE: NodeId = NodeId(1);
const HERE: RegionPos = RegionPos { x: 0, z: 0 };

/// What the region sent out.
#[derive(Debug)]
enum Out {
    Session(SessionAddr, ToSession),
    Region(RegionPos, RegionMsg),
    Node,
    Load(ChunkPos),
}

/// A node that owns every region, says yes to every tick and records the rest.
struct MadeUpNode {
    context: Arc<RegionContext>,
    out: Mutex<Vec<Out>>,
    ids: AtomicU64,
    teleports: AtomicI32,
}

impl MadeUpNode {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            context: Arc::new(RegionContext {
                node: NODE,
                grid: RegionGrid { size: 32 },
                framing: Framing::default(),
                generator: Arc::new(Flat),
                biome: 0,
                store: None,
                journals: None,
                autosave: Duration::from_secs(5),
                region_idle: Duration::from_secs(60),
                metrics: Arc::new(WorldMetrics::default()),
            }),
            out: Mutex::new(Vec::new()),
            ids: AtomicU64::new(1),
            teleports: AtomicI32::new(1),
        })
    }

    fn take(&self) -> Vec<Out> {
        std::mem::take(&mut *self.out.lock().unwrap())
    }

    fn record(&self, out: Out) {
        self.out.lock().unwrap().push(out);
    }
}

impl RegionHost for MadeUpNode {
    fn context(&self) -> &Arc<RegionContext> {
        &self.context
    }

    fn to_region(&self, region: RegionPos, msg: RegionMsg) -> Result<(), Undelivered> {
        self.record(Out::Region(region, msg));
        Ok(())
    }

    fn to_session(&self, addr: SessionAddr, msg: ToSession) -> Result<(), Undelivered> {
        self.record(Out::Session(addr, msg));
        Ok(())
    }

    fn to_node(&self, _node: NodeId, _batch: NodeBatch) -> Result<(), Undelivered> {
        self.record(Out::Node);
        Ok(())
    }

    fn may_tick(&self, _region: RegionPos) -> bool {
        true
    }

    fn epoch_of(&self, _region: RegionPos) -> Option<u64> {
        Some(1)
    }

    fn owner_of(&self, _region: RegionPos) -> Option<Ownership> {
        Some(Ownership {
            node: NODE,
            epoch: 1,
        })
    }

    fn next_handoff_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    fn next_teleport_id(&self) -> i32 {
        self.teleports.fetch_add(1, Ordering::Relaxed)
    }

    fn retire_region(
        &self,
        _pos: RegionPos,
        _me: &ActorRef<RegionMail>,
        _nothing_waiting: &dyn Fn() -> bool,
    ) -> bool {
        false
    }

    fn load_chunk(&self, chunk: ChunkPos, _region: ActorRef<RegionMail>) {
        self.record(Out::Load(chunk));
    }

    fn recovered_player(&self, _state: JournalPlayer) {}

    fn autosave_paused(&self) -> bool {
        false
    }
}

fn session(id: u64) -> SessionAddr {
    SessionAddr { node: NODE, id }
}

/// A region on a made-up node, and the mailbox it would read.
fn region() -> (Region, Arc<MadeUpNode>, Mailbox<RegionMail>) {
    let node = MadeUpNode::new();
    let (me, inbox) = mailbox(64);
    let host: Arc<dyn RegionHost> = node.clone();
    (Region::new(HERE, me, host), node, inbox)
}

/// Hands the region the chunks it asked the node for, as the node's
/// generator would; returns the rest of what it sent.
fn generate_asked(region: &mut Region, node: &MadeUpNode) -> Vec<Out> {
    let mut rest = Vec::new();
    loop {
        let out = node.take();
        if out.is_empty() {
            return rest;
        }
        for out in out {
            match out {
                Out::Load(chunk) => {
                    let generated = Flat.generate(chunk);
                    let packet = encode_chunk_packet(chunk, &generated, 0, &Framing::default());
                    let data = LoadedChunk {
                        chunk: generated,
                        packet,
                    };
                    region.chunk_ready(chunk, data);
                }
                other => rest.push(other),
            }
        }
    }
}

/// One framed packet stream, split into its packets: (id, body decoded as
/// a block update or a chunk's position).
#[derive(Debug, PartialEq)]
enum Seen {
    Chunk(ChunkPos),
    Block(BlockPos, BlockState),
    Other,
}

fn packets(bytes: &[u8]) -> Vec<Seen> {
    let mut decoder = PacketDecoder::new();
    decoder.queue_slice(bytes);
    let mut seen = Vec::new();
    while let Some(frame) = decoder.try_next_packet().unwrap() {
        seen.push(match frame.id {
            id if id == ChunkDataS2c::ID => {
                Seen::Chunk(frame.decode::<ChunkDataS2c>().unwrap().pos)
            }
            id if id == BlockUpdateS2c::ID => {
                let update: BlockUpdateS2c = frame.decode().unwrap();
                let state = BlockState::from_raw(u16::try_from(update.block_id.0).unwrap());
                Seen::Block(update.position, state.unwrap())
            }
            _ => Seen::Other,
        });
    }
    seen
}

/// Every packet `out` carries to each session, in order, and the chunk
/// feed each came in (`None` for what was sent to the session alone).
fn seen_by_session(out: &[Out]) -> HashMap<SessionAddr, Vec<(Option<ChunkPos>, Seen)>> {
    let mut seen: HashMap<SessionAddr, Vec<(Option<ChunkPos>, Seen)>> = HashMap::new();
    for out in out {
        let Out::Session(addr, ToSession::Deliver(deliveries)) = out else {
            continue;
        };
        for delivery in deliveries {
            let (feed, events) = match delivery {
                Delivery::Unicast(event) => (None, std::slice::from_ref(event)),
                Delivery::Chunk(feed) => (Some(feed.chunk), feed.events.as_slice()),
            };
            for event in events {
                if let FeedEvent::Packets(bytes) = event {
                    let packets = packets(bytes).into_iter().map(|p| (feed, p));
                    seen.entry(*addr).or_default().extend(packets);
                }
            }
        }
    }
    seen
}

fn set_block(pos: BlockPos, state: BlockState, only_if: Precondition) -> RegionMsg {
    RegionMsg::SetBlock(BlockChange {
        pos,
        only_if,
        state,
        ack: None,
    })
}

#[test]
fn a_changed_block_reaches_the_viewers_of_its_chunk_and_nobody_else() {
    let (mut region, node, _inbox) = region();
    let (near, far) = (session(1), session(2));
    let here = ChunkPos::new(0, 0);
    let there = ChunkPos::new(1, 0);
    region.handle(RegionMsg::Subscribe {
        chunk: here,
        session: near,
    });
    region.handle(RegionMsg::Subscribe {
        chunk: there,
        session: far,
    });
    assert!(generate_asked(&mut region, &node).is_empty());
    region.tick();
    let joined = seen_by_session(&node.take());
    assert_eq!(joined[&near], [(None, Seen::Chunk(here))]);
    assert_eq!(joined[&far], [(None, Seen::Chunk(there))]);

    let pos = BlockPos::new(3, -60, 4);
    region.handle(set_block(pos, BlockState::STONE, Precondition::Replaceable));
    region.tick();
    let changed = seen_by_session(&node.take());
    assert_eq!(
        changed[&near],
        [(Some(here), Seen::Block(pos, BlockState::STONE))]
    );
    assert!(!changed.contains_key(&far), "{changed:?}");
}

#[test]
fn a_refused_change_is_answered_to_its_sender_alone_with_the_block_as_it_is() {
    let (mut region, node, _inbox) = region();
    let (builder, viewer) = (session(1), session(2));
    let chunk = ChunkPos::new(0, 0);
    for session in [builder, viewer] {
        region.handle(RegionMsg::Subscribe { chunk, session });
    }
    generate_asked(&mut region, &node);
    region.tick();
    node.take();

    let grass = BlockPos::new(1, -61, 1);
    region.handle(RegionMsg::SetBlock(BlockChange {
        pos: grass,
        only_if: Precondition::Replaceable,
        state: BlockState::STONE,
        ack: Some((builder, 7)),
    }));
    region.tick();
    let seen = seen_by_session(&node.take());
    assert_eq!(
        seen[&builder][0],
        (None, Seen::Block(grass, BlockState::GRASS_BLOCK))
    );
    assert!(!seen.contains_key(&viewer), "{seen:?}");
}

#[test]
fn a_change_of_another_regions_block_is_refused_and_loads_nothing() {
    let (mut region, node, _inbox) = region();
    let builder = session(1);
    let beyond = BlockPos::new(32 * 16 + 2, -60, 5);
    region.handle(RegionMsg::SetBlock(BlockChange {
        pos: beyond,
        only_if: Precondition::Replaceable,
        state: BlockState::STONE,
        ack: Some((builder, 3)),
    }));
    region.handle(RegionMsg::Subscribe {
        chunk: ChunkPos::from_block_pos(beyond),
        session: builder,
    });
    region.tick();
    let out = node.take();
    assert!(
        !out.iter().any(|o| matches!(o, Out::Load(_))),
        "no copy of a chunk it does not own: {out:?}"
    );
    assert_eq!(
        seen_by_session(&out)[&builder],
        [(None, Seen::Other)],
        "only the acknowledgement"
    );
    assert_eq!(region.block_at(beyond), None);
}

#[test]
fn digging_across_the_border_is_timed_by_the_region_that_owns_the_block() {
    let (mut region, node, _inbox) = region();
    let digger = session(1);
    let at_the_edge = DVec3::new(32.0 * 16.0 - 0.5, -60.0, 5.5);
    let player = PlayerState::new(Uuid::from_u128(1), "Digger".into(), 11, at_the_edge);
    region.handle(RegionMsg::Join {
        player: Box::new(player),
        session: digger,
    });
    generate_asked(&mut region, &node);
    let beyond = BlockPos::new(32 * 16, -61, 5);
    region.handle(RegionMsg::Input {
        entity: 11,
        input: PlayerInput::Dig {
            pos: beyond,
            sequence: 4,
            phase: DigPhase::Start,
        },
        forwarded: false,
    });
    let out = node.take();
    let sent: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Out::Region(to, RegionMsg::Dig(dig)) => Some((*to, dig.pos, dig.session)),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        [(RegionPos { x: 1, z: 0 }, beyond, digger)],
        "{out:?}"
    );
}

/// What a block change should do, written apart from the region's rules:
/// blocks are placed into air and broken out of anything but air and bedrock.
fn model_allows(only_if: Precondition, current: BlockState) -> bool {
    match only_if {
        Precondition::Replaceable => current.is_air(),
        Precondition::Breakable => !current.is_air() && current != BlockState::BEDROCK,
    }
}

type Views = HashMap<(SessionAddr, ChunkPos), HashMap<BlockPos, BlockState>>;

/// Plays what the region sent on each session's view: chunk data shows the
/// chunk as the model holds it now, and a feed's block update changes one
/// block of a chunk the session was sent.
fn watch(views: &mut Views, model: &HashMap<BlockPos, BlockState>, out: &[Out], seed: u64) {
    for (addr, seen) in seen_by_session(out) {
        for (feed, seen) in seen {
            match (feed, seen) {
                (None, Seen::Chunk(chunk)) => {
                    let now = model
                        .iter()
                        .filter(|(pos, _)| ChunkPos::from_block_pos(**pos) == chunk)
                        .map(|(pos, state)| (*pos, *state))
                        .collect();
                    views.insert((addr, chunk), now);
                }
                (Some(chunk), Seen::Block(pos, state)) => {
                    let view = views.get_mut(&(addr, chunk)).unwrap_or_else(|| {
                        panic!("seed {seed}: {addr:?} got a change of {chunk:?} it was not sent")
                    });
                    view.insert(pos, state);
                }
                (feed, seen) => panic!("seed {seed}: unexpected {seen:?} in {feed:?}"),
            }
        }
    }
}

/// The block a flat world has at `pos` before anyone changes it (every
/// chunk of it is the same).
fn generated(pos: BlockPos) -> BlockState {
    static FLAT: std::sync::LazyLock<crate::chunk::Chunk> =
        std::sync::LazyLock::new(|| Flat.generate(ChunkPos::new(0, 0)));
    FLAT.block(
        pos.x.rem_euclid(16) as usize,
        pos.y,
        pos.z.rem_euclid(16) as usize,
    )
}

#[test]
fn viewers_converge_on_the_regions_blocks_whatever_the_order_of_changes_and_subscriptions() {
    const CHUNKS: [ChunkPos; 3] = [
        ChunkPos { x: 0, z: 0 },
        ChunkPos { x: 1, z: 0 },
        ChunkPos { x: 0, z: 1 },
    ];
    const STATES: [BlockState; 3] = [BlockState::STONE, BlockState::OAK_LOG, BlockState::AIR];
    for seed in 0..40 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut region, node, _inbox) = region();
        let sessions: Vec<SessionAddr> = (1..=3).map(session).collect();
        // The blocks as they should be, and what each session sees of them.
        let mut model: HashMap<BlockPos, BlockState> = HashMap::new();
        let mut views = Views::new();
        let mut subscribed: HashSet<(SessionAddr, ChunkPos)> = HashSet::new();
        for _step in 0..200 {
            let session = sessions[rng.random_range(0..sessions.len())];
            let chunk = CHUNKS[rng.random_range(0..CHUNKS.len())];
            match rng.random_range(0..10) {
                0..=2 => {
                    subscribed.insert((session, chunk));
                    region.handle(RegionMsg::Subscribe { chunk, session });
                }
                3 => {
                    subscribed.remove(&(session, chunk));
                    views.remove(&(session, chunk));
                    region.handle(RegionMsg::Unsubscribe { chunk, session });
                }
                _ => {
                    let pos = BlockPos::new(
                        chunk.x * 16 + rng.random_range(0..3),
                        rng.random_range(-64..-58),
                        chunk.z * 16 + rng.random_range(0..3),
                    );
                    let state = STATES[rng.random_range(0..STATES.len())];
                    let only_if = if state.is_air() {
                        Precondition::Breakable
                    } else {
                        Precondition::Replaceable
                    };
                    let current = model.get(&pos).copied().unwrap_or_else(|| generated(pos));
                    if model_allows(only_if, current) {
                        model.insert(pos, state);
                    }
                    region.handle(set_block(pos, state, only_if));
                }
            }
            let mut out = generate_asked(&mut region, &node);
            if rng.random_range(0..4) == 0 {
                region.tick();
                out.extend(node.take());
            }
            watch(&mut views, &model, &out, seed);
        }
        region.tick();
        watch(&mut views, &model, &node.take(), seed);
        for &(addr, chunk) in &subscribed {
            let view = views
                .get(&(addr, chunk))
                .unwrap_or_else(|| panic!("seed {seed}: {addr:?} never got {chunk:?}"));
            for (pos, state) in model
                .iter()
                .filter(|(pos, _)| ChunkPos::from_block_pos(**pos) == chunk)
            {
                let shown = view.get(pos).copied().unwrap_or_else(|| generated(*pos));
                assert_eq!(shown, *state, "seed {seed}: {addr:?} sees {pos:?} wrong");
            }
        }
        for (pos, state) in &model {
            assert_eq!(
                region.block_at(*pos),
                Some(*state),
                "seed {seed}: region at {pos:?}"
            );
        }
    }
}

#[test]
fn a_map_look_copies_only_the_chunks_changed_since_the_last_look() {
    let (mut region, node, _inbox) = region();
    let (here, there) = (ChunkPos::new(0, 0), ChunkPos::new(1, 0));
    for chunk in [here, there] {
        region.handle(RegionMsg::Subscribe {
            chunk,
            session: session(1),
        });
    }
    generate_asked(&mut region, &node);
    region.tick();

    let first = region.map_look(None);
    assert!(first.whole);
    let mut copied: Vec<ChunkPos> = first.chunks.iter().map(|(pos, _)| *pos).collect();
    copied.sort_by_key(|c| (c.x, c.z));
    assert_eq!(copied, [here, there]);

    let unchanged = region.map_look(Some(first.since));
    assert!(!unchanged.whole);
    assert!(unchanged.chunks.is_empty(), "nothing changed");

    let pos = BlockPos::new(17, -60, 2);
    region.handle(set_block(pos, BlockState::STONE, Precondition::Replaceable));
    let changed = region.map_look(Some(unchanged.since));
    assert_eq!(changed.chunks.len(), 1);
    let (chunk, blocks) = &changed.chunks[0];
    assert_eq!(*chunk, there);
    assert_eq!(blocks.block(1, -60, 2), BlockState::STONE);

    let other_run = crate::map::MapSince {
        incarnation: changed.since.incarnation + 1,
        stamp: changed.since.stamp,
    };
    assert!(
        region.map_look(Some(other_run)).whole,
        "another run's look sees everything"
    );
}
