//! A region actor: owns a square of chunks and the players standing in them,
//! and ticks on its own at 20 TPS.

mod blocks;
mod handoff;
mod movement;
mod outbox;
mod view;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tessera_cluster::{Mailbox, Restart};
use tokio::time::MissedTickBehavior;
use tracing::{debug, error, warn};
use valence_protocol::ChunkPos;

use crate::chunk::Chunk;
use crate::coords::RegionPos;
use crate::messages::{
    EntityId, FeedEvent, PlayerInput, RegionMsg, RegionRef, SessionHandle, SessionId, ToSession,
};
use crate::player::PlayerState;
use crate::world::World;
use handoff::Handoffs;
use outbox::Outbox;

pub const TICK: Duration = Duration::from_millis(50);

/// A generated chunk with its encoded packet, made off the tick path.
#[derive(Debug)]
pub struct LoadedChunk {
    pub chunk: Chunk,
    pub packet: Bytes,
}

struct ChunkSlot {
    chunk: Chunk,
    /// The encoded Chunk Data packet; dropped when a block changes.
    packet: Option<Bytes>,
    viewers: HashMap<SessionId, SessionHandle>,
}

enum Slot {
    /// Generating; messages that need the chunk wait here.
    Loading(Vec<RegionMsg>),
    Ready(ChunkSlot),
}

struct Digging {
    pos: valence_protocol::BlockPos,
    started: Instant,
    stage: u8,
}

struct Player {
    state: PlayerState,
    session: SessionHandle,
    digging: Option<Digging>,
}

pub struct Region {
    me: RegionRef,
    world: Arc<World>,
    chunks: HashMap<ChunkPos, Slot>,
    players: HashMap<EntityId, Player>,
    /// Viewers that subscribed this tick; they get the chunk at the flush.
    new_viewers: Vec<(ChunkPos, SessionHandle)>,
    handoffs: Handoffs,
    outbox: Outbox,
}

impl Region {
    pub fn new(me: RegionRef, world: Arc<World>) -> Self {
        Self {
            me,
            world,
            chunks: HashMap::new(),
            players: HashMap::new(),
            new_viewers: Vec::new(),
            handoffs: Handoffs::default(),
            outbox: Outbox::default(),
        }
    }

    pub fn pos(&self) -> RegionPos {
        self.me.pos
    }

    /// Runs the actor until told to stop. A panic while handling one message
    /// or tick is logged and contained: the region keeps serving its players.
    pub async fn run(mut self, mailbox: &mut Mailbox<RegionMsg>) -> Restart {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                msg = mailbox.recv() => {
                    let Some(msg) = msg else { return Restart::Done };
                    if matches!(msg, RegionMsg::Stop) {
                        self.shutdown();
                        return Restart::Done;
                    }
                    self.contained("message", |region| region.handle(msg));
                }
                _ = ticker.tick() => {
                    let started = Instant::now();
                    self.contained("tick", Region::tick);
                    self.world.metrics.record_tick(started.elapsed());
                }
            }
        }
    }

    fn contained(&mut self, what: &str, f: impl FnOnce(&mut Region)) {
        if catch_unwind(AssertUnwindSafe(|| f(self))).is_err() {
            error!(region = %self.pos(), "region {what} panicked; the region continues");
        }
    }

    fn handle(&mut self, msg: RegionMsg) {
        if let Some(chunk) = self.chunk_needed(&msg) {
            match self.chunks.get_mut(&chunk) {
                Some(Slot::Ready(_)) => {}
                Some(Slot::Loading(waiting)) => return waiting.push(msg),
                None => {
                    self.start_loading(chunk);
                    if let Some(Slot::Loading(waiting)) = self.chunks.get_mut(&chunk) {
                        waiting.push(msg);
                    }
                    return;
                }
            }
        }
        match msg {
            RegionMsg::Join { player, session } => self.join(*player, session),
            RegionMsg::Adopt {
                handoff,
                from,
                player,
                session,
            } => self.adopt(handoff, from, *player, session),
            RegionMsg::AdoptAck { handoff } => self.handoffs.acknowledged(handoff),
            RegionMsg::Input { entity, input } => self.input(entity, input),
            RegionMsg::Teleport { entity, to } => self.teleport(entity, to),
            RegionMsg::SetGameMode { entity, mode } => self.set_game_mode(entity, mode),
            RegionMsg::Leave { entity } => self.leave(entity),
            RegionMsg::Subscribe { chunk, session } => self.new_viewers.push((chunk, session)),
            RegionMsg::Unsubscribe { chunk, session } => self.unsubscribe(chunk, session),
            RegionMsg::SetBlock(change) => self.apply_block_change(change),
            RegionMsg::ChunkReady { chunk, data } => self.chunk_ready(chunk, *data),
            RegionMsg::Stop => {}
        }
    }

    /// The chunk a message cannot be handled without, if it is not loaded yet.
    fn chunk_needed(&self, msg: &RegionMsg) -> Option<ChunkPos> {
        let chunk = match msg {
            RegionMsg::Join { player, .. } | RegionMsg::Adopt { player, .. } => player.chunk(),
            RegionMsg::Subscribe { chunk, .. } => *chunk,
            RegionMsg::SetBlock(change) => ChunkPos::from_block_pos(change.pos),
            _ => return None,
        };
        (!matches!(self.chunks.get(&chunk), Some(Slot::Ready(_)))).then_some(chunk)
    }

    fn start_loading(&mut self, chunk: ChunkPos) {
        self.chunks.insert(chunk, Slot::Loading(Vec::new()));
        self.world.load_chunk(chunk, self.me.actor.clone());
    }

    fn chunk_ready(&mut self, pos: ChunkPos, data: LoadedChunk) {
        self.world.metrics.chunk_loaded();
        let slot = ChunkSlot {
            chunk: data.chunk,
            packet: Some(data.packet),
            viewers: HashMap::new(),
        };
        let waiting = match self.chunks.insert(pos, Slot::Ready(slot)) {
            Some(Slot::Loading(waiting)) => waiting,
            _ => Vec::new(),
        };
        for msg in waiting {
            self.handle(msg);
        }
    }

    fn join(&mut self, state: PlayerState, session: SessionHandle) {
        debug!(region = %self.pos(), player = %state.name, "player joins");
        let _ = session
            .actor
            .try_send(ToSession::Joined(Box::new(state.clone())));
        self.insert_player(state, session);
    }

    /// Puts a player's entity into this region and shows it to the viewers of its chunk.
    fn insert_player(&mut self, state: PlayerState, session: SessionHandle) {
        let chunk = state.chunk();
        self.outbox.feed(
            chunk,
            FeedEvent::EntityEntered {
                entity: state.entity,
                chunk,
                spawn: state.spawn_packets(&self.world.framing),
            },
        );
        self.players.insert(
            state.entity,
            Player {
                state,
                session,
                digging: None,
            },
        );
    }

    fn leave(&mut self, entity: EntityId) {
        match self.players.remove(&entity) {
            Some(player) => {
                let chunk = player.state.chunk();
                self.outbox
                    .feed(chunk, FeedEvent::EntityLeft { entity, to: None });
            }
            None => self.handoffs.forward(entity, RegionMsg::Leave { entity }),
        }
    }

    fn input(&mut self, entity: EntityId, input: PlayerInput) {
        if !self.players.contains_key(&entity) {
            self.handoffs
                .forward(entity, RegionMsg::Input { entity, input });
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
            PlayerInput::StartDigging { pos, sequence } => {
                self.start_digging(entity, pos, sequence)
            }
            PlayerInput::AbortDigging { pos, sequence } => {
                self.abort_digging(entity, pos, sequence)
            }
            PlayerInput::FinishDigging { pos, sequence } => {
                self.finish_digging(entity, pos, sequence)
            }
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
        self.dig_progress();
        for (handoff, target, msg) in self.handoffs.due_for_retry() {
            warn!(region = %self.pos(), handoff, to = %target.pos, "handoff not acknowledged; retrying");
            let _ = target.actor.try_send(msg);
        }
        self.flush();
    }

    /// Sends this tick's batches; new viewers get their chunk after the feeds,
    /// so nothing in a feed can predate the chunk data a viewer receives.
    fn flush(&mut self) {
        let chunks = &self.chunks;
        let overflowed = self.outbox.flush(|pos| match chunks.get(&pos) {
            Some(Slot::Ready(slot)) => Some(&slot.viewers),
            _ => None,
        });
        for view::NewViewer { chunk, session } in self.take_new_viewers() {
            self.send_chunk(chunk, session);
        }
        let overflowed_late = self.outbox.flush(|_| None);
        for outbox::Overflowed(session) in overflowed.into_iter().chain(overflowed_late) {
            self.drop_slow_session(session);
        }
    }

    /// A session that cannot keep up would show its player a broken world if
    /// batches were dropped, so it is disconnected instead.
    fn drop_slow_session(&mut self, session: SessionHandle) {
        warn!(region = %self.pos(), session = session.id, "session is not keeping up; disconnecting it");
        for slot in self.chunks.values_mut() {
            if let Slot::Ready(slot) = slot {
                slot.viewers.remove(&session.id);
            }
        }
        tokio::spawn(async move {
            let _ = session
                .actor
                .send(ToSession::Disconnect(
                    "Your connection could not keep up".into(),
                ))
                .await;
        });
    }

    fn shutdown(&mut self) {
        self.flush();
    }
}
