//! A region actor: owns a square of chunks and the players standing in them,
//! and ticks on its own at 20 TPS.

#[cfg(test)]
mod alone_tests;
mod block_rules;
mod blocks;
#[cfg(test)]
mod chunk_failure_tests;
mod durability;
mod handoff;
mod host;
mod map;
mod movement;
mod outbox;
mod permit;
mod persistence;
mod restore;
mod unload;
#[cfg(test)]
mod unload_tests;
mod view;

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tessera_cluster::{ActorRef, Mailbox, Restart};
use tokio::time::MissedTickBehavior;
use tracing::{debug, error, info, warn};
use valence_protocol::ChunkPos;

use crate::chunk::Chunk;
use crate::coords::RegionPos;
use crate::handoff::{LeaveOutcome, RegionHandoffs};
use crate::map::{MapSince, RegionMap};
use crate::messages::{
    BlockChange, Dig, EntityId, FeedEvent, NodeId, PlayerInput, RegionMsg, SessionAddr, ToSession,
};
use crate::player::PlayerState;
use crate::region_metrics::RegionEntry;
use crate::routing::Undelivered;
pub use host::{RegionContext, RegionHost};
use outbox::Outbox;

pub const TICK: Duration = Duration::from_millis(50);
/// Most mail handled after a wake before the tick and the journal get
/// their turn again.
const DRAIN_AT_ONCE: usize = 256;
/// How often sessions get a copy of their player's state (one second).
const SNAPSHOT_EVERY_TICKS: u64 = 20;

/// A generated chunk with its encoded packet, made off the tick path.
#[derive(Debug)]
pub struct LoadedChunk {
    pub chunk: Chunk,
    pub packet: Bytes,
}

/// What a region's mailbox takes: messages from anywhere, and its own
/// chunks coming back from the generator.
#[derive(Debug)]
pub enum RegionMail {
    Msg(RegionMsg),
    /// A chunk finished generating off the tick path.
    ChunkReady {
        chunk: ChunkPos,
        data: Box<LoadedChunk>,
    },
    /// The generator panicked on this chunk twice.
    ChunkFailed {
        chunk: ChunkPos,
    },
    /// Stop ticking; used at shutdown.
    Stop,
    /// Make every change durable and save the region files now, then say
    /// whether they are on disk (`save-all`).
    Save(tokio::sync::oneshot::Sender<bool>),
    /// A look for the map: the players, and copies of the chunks changed
    /// since the look given (see `map`).
    Map {
        since: Option<MapSince>,
        reply: tokio::sync::oneshot::Sender<RegionMap>,
    },
}

struct ChunkSlot {
    chunk: Chunk,
    /// The encoded Chunk Data packet; dropped when a block changes.
    packet: Option<Bytes>,
    viewers: HashSet<SessionAddr>,
    /// The map stamp of the chunk's last change (see `map`).
    map_stamp: u64,
}

enum Slot {
    /// Generating; messages that need the chunk wait here.
    Loading(Vec<RegionMsg>),
    Ready(ChunkSlot),
    /// Generation failed at this time: nobody is sent the chunk and nothing
    /// can change in it, and it is tried again once `RETRY_FAILED_CHUNK`
    /// has passed.
    Failed(Instant),
}

/// How long a chunk whose generation failed stays empty before it is tried
/// again: a generator that fails on a chunk keeps failing for a while, and
/// each try costs a core.
pub(super) const RETRY_FAILED_CHUNK: Duration = Duration::from_secs(60);

struct Digging {
    pos: valence_protocol::BlockPos,
    started: Instant,
    stage: u8,
}

struct Player {
    state: PlayerState,
    session: SessionAddr,
}

pub struct Region {
    pos: RegionPos,
    me: ActorRef<RegionMail>,
    ctx: Arc<RegionContext>,
    host: Arc<dyn RegionHost>,
    chunks: HashMap<ChunkPos, Slot>,
    players: HashMap<EntityId, Player>,
    /// Blocks of this region being dug, by the digging entity (which may
    /// stand in another region).
    diggers: HashMap<EntityId, Digging>,
    /// Viewers that subscribed this tick; they get the chunk at the flush.
    new_viewers: Vec<(ChunkPos, SessionAddr)>,
    handoffs: RegionHandoffs,
    outbox: Outbox,
    persistence: persistence::Persistence,
    durability: durability::Durability,
    /// Whether this region is counted among those that cannot persist.
    reported_failing: bool,
    unused: unload::Unused,
    ticks: u64,
    /// This region's own series on `/metrics`, gone when the actor ends.
    series: RegionEntry,
    map: map::MapClock,
}

impl Region {
    pub fn new(pos: RegionPos, me: ActorRef<RegionMail>, host: Arc<dyn RegionHost>) -> Self {
        let ctx = host.context().clone();
        Self {
            series: ctx.metrics.regions.start(pos),
            pos,
            me,
            ctx,
            host,
            chunks: HashMap::new(),
            players: HashMap::new(),
            diggers: HashMap::new(),
            new_viewers: Vec::new(),
            handoffs: RegionHandoffs::new(pos),
            outbox: Outbox::default(),
            persistence: Default::default(),
            durability: Default::default(),
            reported_failing: false,
            unused: Default::default(),
            ticks: 0,
            map: map::MapClock::start(),
        }
    }

    pub fn pos(&self) -> RegionPos {
        self.pos
    }

    /// Runs the actor until told to stop. A panic while handling one message
    /// or tick is logged and contained: the region keeps serving its players.
    pub async fn run(mut self, mailbox: &mut Mailbox<RegionMail>) -> Restart {
        let Some(early) = self.load_saved(mailbox).await else {
            return Restart::Done;
        };
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut gate = permit::Gate::default();
        for mail in early {
            if self.mail(&mut gate, mail).await {
                return Restart::Done;
            }
        }
        loop {
            tokio::select! {
                msg = mailbox.recv() => {
                    let Some(mail) = msg else {
                        return Restart::Done;
                    };
                    if self.mail(&mut gate, mail).await {
                        return Restart::Done;
                    }
                    // Mail that queued meanwhile is taken without another
                    // round of the select: one wake for a burst of inputs.
                    for _ in 0..DRAIN_AT_ONCE {
                        let Ok(mail) = mailbox.try_recv() else {
                            break;
                        };
                        if self.mail(&mut gate, mail).await {
                            return Restart::Done;
                        }
                    }
                }
                appended = async { self.durability.writing().expect("guarded").await }, if self.durability.is_writing() => {
                    match appended {
                        Ok(appended) => self.contained("journal", |r| r.appended(appended)),
                        Err(e) => self.journal_lost(e),
                    }
                }
                saved = async { self.persistence.saving().expect("guarded").await }, if self.persistence.saving().is_some() => {
                    self.saved(saved);
                }
                _ = ticker.tick() => {
                    if !self.through_gate(&mut gate, None) {
                        continue;
                    }
                    let started = Instant::now();
                    self.contained("tick", Region::tick);
                    let took = started.elapsed();
                    self.ctx.metrics.record_tick(took);
                    self.series.ticks.record(took.as_secs_f64());
                    if self.ticks.is_multiple_of(unload::SWEEP_EVERY_TICKS)
                        && self.idle_long_enough(started)
                        && self.host.retire_region(self.pos, &self.me, &|| mailbox.is_empty())
                    {
                        info!(region = %self.pos(), "idle region stopped");
                        self.forget_persist_health();
                        return Restart::Done;
                    }
                }
            }
        }
    }

    /// Handles one piece of mail; returns whether the region stops.
    async fn mail(&mut self, gate: &mut permit::Gate, mail: RegionMail) -> bool {
        match mail {
            RegionMail::Stop => {
                self.flush();
                self.save_now().await;
                return true;
            }
            RegionMail::Save(reply) => {
                self.save_now().await;
                let _ = reply.send(!self.persistence.is_dirty());
            }
            RegionMail::Msg(msg) => {
                self.through_gate(gate, Some(msg));
            }
            RegionMail::ChunkReady { chunk, data } => {
                self.contained("chunk", |r| r.chunk_ready(chunk, *data))
            }
            RegionMail::ChunkFailed { chunk } => self.chunk_failed(chunk),
            RegionMail::Map { since, reply } => {
                let _ = reply.send(self.map_look(since));
            }
        }
        false
    }

    fn contained(&mut self, what: &str, f: impl FnOnce(&mut Region)) {
        if catch_unwind(AssertUnwindSafe(|| f(self))).is_err() {
            error!(region = %self.pos(), "region {what} panicked; the region continues");
        }
    }

    fn handle(&mut self, msg: RegionMsg) {
        if self.misrouted(&msg) {
            return self.refuse_misrouted(msg);
        }
        if let Some(chunk) = self.chunk_needed(&msg) {
            match self.chunks.get_mut(&chunk) {
                Some(Slot::Ready(_)) => {}
                Some(Slot::Loading(waiting)) => return waiting.push(msg),
                Some(Slot::Failed(_)) | None => {
                    self.start_loading(chunk);
                    if let Some(Slot::Loading(waiting)) = self.chunks.get_mut(&chunk) {
                        waiting.push(msg);
                        return;
                    }
                }
            }
        }
        match msg {
            RegionMsg::Join { player, session } => self.join(*player, session),
            RegionMsg::Adopt {
                handoff,
                epoch,
                from,
                player,
                session,
            } => self.adopt(handoff, epoch, from, *player, session),
            RegionMsg::AdoptAck { handoff } => self.handoffs.acknowledged(handoff),
            RegionMsg::Release { entity, hop } => self.release(entity, hop),
            RegionMsg::Input {
                entity,
                input,
                forwarded,
            } => self.input(entity, input, forwarded),
            RegionMsg::Teleport { entity, to } => self.teleport(entity, to),
            RegionMsg::SetGameMode { entity, mode } => self.set_game_mode(entity, mode),
            RegionMsg::Leave { entity } => self.leave(entity),
            RegionMsg::NodeGone { node } => self.node_gone(node),
            RegionMsg::Restore { entity, saved } => self.restore(entity, *saved),
            RegionMsg::Subscribe { chunk, session } => self.new_viewers.push((chunk, session)),
            RegionMsg::Unsubscribe { chunk, session } => self.unsubscribe(chunk, session),
            RegionMsg::SetBlock(change) => self.apply_block_change(change),
            RegionMsg::Dig(dig) => self.timed_dig(dig),
        }
    }

    /// A message about a block or a chunk of another region: only a node
    /// whose grid differs from its sender's sends one (regions route their
    /// changes by the grid), and taking it would give this region a copy
    /// of a chunk it does not own.
    fn misrouted(&self, msg: &RegionMsg) -> bool {
        let chunk = match msg {
            RegionMsg::SetBlock(change) => ChunkPos::from_block_pos(change.pos),
            RegionMsg::Dig(dig) => ChunkPos::from_block_pos(dig.pos),
            RegionMsg::Subscribe { chunk, .. } => *chunk,
            _ => return false,
        };
        !self.ctx.grid.contains(self.pos, chunk)
    }

    /// Answers a misrouted change so its client stops predicting it; a
    /// misrouted subscription gets no chunk.
    fn refuse_misrouted(&mut self, msg: RegionMsg) {
        warn!(region = %self.pos(), "a message for another region's chunk is refused: {msg:?}");
        match msg {
            RegionMsg::SetBlock(BlockChange {
                ack: Some((session, sequence)),
                ..
            })
            | RegionMsg::Dig(Dig {
                session, sequence, ..
            }) => self.ack(session, sequence),
            _ => {}
        }
    }

    /// The chunk a message cannot be handled without, if it is not loaded yet.
    fn chunk_needed(&self, msg: &RegionMsg) -> Option<ChunkPos> {
        let chunk = match msg {
            RegionMsg::Join { player, .. } | RegionMsg::Adopt { player, .. } => player.chunk(),
            RegionMsg::Subscribe { chunk, .. } => *chunk,
            RegionMsg::SetBlock(change) => ChunkPos::from_block_pos(change.pos),
            RegionMsg::Dig(dig) => ChunkPos::from_block_pos(dig.pos),
            _ => return None,
        };
        let needed = match self.chunks.get(&chunk) {
            Some(Slot::Ready(_)) => false,
            // Handled without it until it is due for another try: a join
            // there still joins, and a dig or a subscription finds no chunk.
            Some(Slot::Failed(at)) => at.elapsed() >= RETRY_FAILED_CHUNK,
            Some(Slot::Loading(_)) | None => true,
        };
        needed.then_some(chunk)
    }

    fn start_loading(&mut self, chunk: ChunkPos) {
        if !self.ready_from_save(chunk) {
            self.chunks.insert(chunk, Slot::Loading(Vec::new()));
            self.host.load_chunk(chunk, self.me.clone());
        }
    }

    /// The generator gave up on `pos`: what waited for it is handled
    /// without it, as in a chunk still failing.
    fn chunk_failed(&mut self, pos: ChunkPos) {
        let waiting = match self.chunks.insert(pos, Slot::Failed(Instant::now())) {
            Some(Slot::Loading(waiting)) => waiting,
            _ => Vec::new(),
        };
        for msg in waiting {
            self.handle(msg);
        }
    }

    fn chunk_ready(&mut self, pos: ChunkPos, data: LoadedChunk) {
        self.ctx.metrics.chunk_loaded();
        let slot = ChunkSlot {
            chunk: data.chunk,
            packet: Some(data.packet),
            viewers: HashSet::new(),
            map_stamp: self.map.next(),
        };
        let waiting = match self.chunks.insert(pos, Slot::Ready(slot)) {
            Some(Slot::Loading(waiting)) => waiting,
            _ => Vec::new(),
        };
        for msg in waiting {
            self.handle(msg);
        }
    }

    /// Each player's state, and which copy this is: an `OwnerChanged` lost
    /// on the way is made good, and a stale copy is found and released.
    fn send_snapshots(&self) {
        for player in self.players.values() {
            self.tell(
                player.session,
                ToSession::Snapshot(Box::new(player.state.clone())),
            );
            let holder = ToSession::OwnerChanged {
                region: self.pos(),
                hop: player.state.hop,
            };
            self.tell(player.session, holder);
        }
    }

    /// Shows the viewers of a player's chunk packets about what it did.
    fn feed_about(&mut self, entity: EntityId, packets: Vec<u8>) {
        if let Some(player) = self.players.get(&entity) {
            let chunk = player.state.chunk();
            self.outbox.feed(
                chunk,
                FeedEvent::Entity {
                    entity,
                    packets: packets.into(),
                },
            );
        }
    }

    /// Sends a session a message outside the tick's batch.
    fn tell(&self, session: SessionAddr, msg: ToSession) {
        if let Err(e) = self.host.to_session(session, msg) {
            debug!(region = %self.pos(), ?session, "session not told: {e}");
        }
    }

    /// Puts a player's entity into this region and shows it to the viewers of its chunk.
    /// A player whose state this region journaled later than the copy it
    /// comes with (its node died before its session saw that state) gets
    /// the journaled inventory.
    fn insert_player(&mut self, mut state: PlayerState, session: SessionAddr) {
        let later = self.durability.later_state_of(&state).cloned();
        if let Some(later) = &later {
            info!(region = %self.pos(), player = %state.name, from = state.revision, to = later.revision, "player gets its journaled state back");
            later.apply_to(&mut state);
        }
        let chunk = state.chunk();
        self.outbox.feed(chunk, state.entered(&self.ctx.framing));
        let entity = state.entity;
        self.players.insert(entity, Player { state, session });
        if later.is_some() {
            self.show_inventory(entity);
        }
    }

    fn leave(&mut self, entity: EntityId) {
        let outcome = self.handoffs.leave(Instant::now(), entity);
        match self.players.remove(&entity) {
            Some(player) => {
                let chunk = player.state.chunk();
                self.outbox
                    .feed(chunk, FeedEvent::EntityLeft { entity, to: None });
                self.tell(player.session, ToSession::Left(Box::new(player.state)));
            }
            None => {
                if let LeaveOutcome::Forward(to) = outcome {
                    if let Err(e) = self.host.to_region(to, RegionMsg::Leave { entity }) {
                        debug!(region = %self.pos(), %to, "leave not forwarded: {e}");
                    }
                }
            }
        }
    }

    /// Without this, the players of a dead frontend would stand here for
    /// good, and their chunks would never unload. Their copies are released
    /// rather than made to leave: a node wrongly taken for dead joins its
    /// players again, as a newer copy, when it finds their region silent.
    fn node_gone(&mut self, node: NodeId) {
        let gone: Vec<EntityId> = self
            .players
            .iter()
            .filter(|(_, player)| player.session.node == node)
            .map(|(entity, _)| *entity)
            .collect();
        if !gone.is_empty() {
            info!(region = %self.pos(), %node, players = gone.len(), "the players of a dead node leave");
        }
        for entity in gone {
            self.release(entity, u64::MAX);
        }
        self.new_viewers.retain(|(_, session)| session.node != node);
        for slot in self.chunks.values_mut() {
            match slot {
                Slot::Ready(slot) => slot.viewers.retain(|session| session.node != node),
                Slot::Loading(waiting) => waiting.retain(|msg| {
                    !matches!(msg, RegionMsg::Subscribe { session, .. } if session.node == node)
                }),
                Slot::Failed(_) => {}
            }
        }
    }

    fn input(&mut self, entity: EntityId, input: PlayerInput, forwarded: bool) {
        if !self.players.contains_key(&entity) {
            if !forwarded {
                let forwarded = true;
                self.forward(
                    entity,
                    RegionMsg::Input {
                        entity,
                        input,
                        forwarded,
                    },
                );
            }
            return;
        }
        match input {
            PlayerInput::Move {
                position,
                look,
                on_ground,
            } => self.player_moved(entity, position, look, on_ground),
            PlayerInput::Swing(hand) => self.swing(entity, hand),
            PlayerInput::Sneak(on) => self.update_flags(entity, |s| s.sneaking = on),
            PlayerInput::Sprint(on) => self.update_flags(entity, |s| s.sprinting = on),
            PlayerInput::Dig {
                pos,
                sequence,
                phase,
            } => self.dig(entity, pos, sequence, phase),
            PlayerInput::Place {
                hand,
                against,
                face,
                sequence,
            } => self.place(entity, hand, against, face, sequence),
            PlayerInput::CreativeSlot { slot, item } => self.creative_slot(entity, slot, item),
            PlayerInput::HeldSlot(slot) => self.held_slot(entity, slot),
            PlayerInput::TeleportConfirm(id) => self.teleport_confirmed(entity, id),
        }
    }

    fn tick(&mut self) {
        self.ticks += 1;
        if self.ticks.is_multiple_of(SNAPSHOT_EVERY_TICKS) {
            self.send_snapshots();
        }
        self.dig_progress();
        if self.ticks.is_multiple_of(unload::SWEEP_EVERY_TICKS) {
            self.unload_unused(Instant::now());
        }
        self.retry_commit_if_due();
        self.save_if_due();
        self.report_persist_health();
        self.handoff_tick();
        self.flush();
        self.commit();
    }

    /// Sends this tick's batches; new viewers get their chunk after the feeds,
    /// so nothing in a feed can predate the chunk data a viewer receives.
    fn flush(&mut self) {
        self.send_sorted();
        for view::NewViewer { chunk, session } in self.take_new_viewers() {
            self.send_chunk(chunk, session);
        }
        self.send_sorted();
    }

    fn send_sorted(&mut self) {
        let chunks = &self.chunks;
        let sorted = self
            .outbox
            .sort(self.ctx.node, |pos| match chunks.get(&pos) {
                Some(Slot::Ready(slot)) => Some(&slot.viewers),
                _ => None,
            });
        for (id, deliveries) in sorted.local {
            let addr = SessionAddr {
                node: self.ctx.node,
                id,
            };
            match self.host.to_session(addr, ToSession::Deliver(deliveries)) {
                Ok(()) => {}
                Err(Undelivered::Full) => self.drop_slow_viewer(addr),
                Err(_) => self.forget_viewer(addr),
            }
        }
        for (node, batch) in sorted.remote {
            if let Err(e) = self.host.to_node(node, batch) {
                warn!(region = %self.pos(), %node, "tick output not sent: {e}");
            }
        }
    }

    fn forget_viewer(&mut self, session: SessionAddr) {
        for slot in self.chunks.values_mut() {
            if let Slot::Ready(slot) = slot {
                slot.viewers.remove(&session);
            }
        }
    }

    /// A session that cannot keep up would show its player a broken world if
    /// batches were dropped, so it is disconnected instead.
    fn drop_slow_viewer(&mut self, session: SessionAddr) {
        warn!(region = %self.pos(), session = session.id, "session not keeping up; disconnecting it");
        self.forget_viewer(session);
        let host = self.host.clone();
        tokio::spawn(async move {
            for _ in 0..50 {
                let msg = ToSession::Disconnect("Your connection could not keep up".into());
                if host.to_session(session, msg).is_ok() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
    }
}
