//! What sessions, regions and the world say to each other.

use std::sync::Arc;

use bytes::Bytes;
use tessera_cluster::ActorRef;
use valence_protocol::math::DVec3;
use valence_protocol::{BlockPos, BlockState, ChunkPos, Direction, GameMode, Hand, ItemStack};

use crate::coords::RegionPos;
use crate::player::PlayerState;

/// Identifies one client connection for as long as it lasts.
pub type SessionId = u64;
/// A protocol entity id; unique across the whole world.
pub type EntityId = i32;

/// The address of a session: where regions deliver what its client sees.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub id: SessionId,
    pub actor: ActorRef<ToSession>,
}

/// The address of a region actor.
#[derive(Debug, Clone)]
pub struct RegionRef {
    pub pos: RegionPos,
    pub actor: ActorRef<RegionMsg>,
}

/// Something a viewer of a chunk is told about.
#[derive(Debug, Clone)]
pub enum FeedEvent {
    /// Framed packets to write as they are.
    Packets(Bytes),
    /// An entity is now in this chunk; `spawn` makes a client that does not
    /// show it yet show it.
    EntityEntered {
        entity: EntityId,
        chunk: ChunkPos,
        spawn: Bytes,
    },
    /// An entity moved from this chunk to `to`, or out of the world when
    /// `None`; a client not viewing `to` must stop showing it.
    EntityLeft {
        entity: EntityId,
        to: Option<ChunkPos>,
    },
}

/// Events of one chunk in one tick, encoded once and shared by every viewer.
#[derive(Debug)]
pub struct ChunkFeed {
    pub chunk: ChunkPos,
    pub events: Vec<FeedEvent>,
}

/// One item of a session's per-tick batch.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// For this session alone (chunk data, acknowledgements, teleports).
    Unicast(FeedEvent),
    /// The chunk feed of a chunk the session subscribed to.
    Chunk(Arc<ChunkFeed>),
}

/// Messages to a session.
#[derive(Debug)]
pub enum ToSession {
    /// One region's output for one tick, in order.
    Deliver(Vec<Delivery>),
    /// The region accepted the player: what the client needs to start playing.
    Joined(Box<PlayerState>),
    /// The player's entity now lives in another region; send input there.
    OwnerChanged(RegionRef),
    /// The server moved the player (teleport): the view follows.
    Moved(DVec3),
    /// The player's game mode changed.
    GameModeChanged(GameMode),
    /// Close the connection with this reason.
    Disconnect(String),
}

/// What a player does, decoded from the client's packets by the frontend.
#[derive(Debug, Clone)]
pub enum PlayerInput {
    Move {
        position: Option<DVec3>,
        look: Option<(f32, f32)>,
        on_ground: bool,
    },
    Swing(Hand),
    Sneak(bool),
    Sprint(bool),
    StartDigging {
        pos: BlockPos,
        sequence: i32,
    },
    AbortDigging {
        pos: BlockPos,
        sequence: i32,
    },
    FinishDigging {
        pos: BlockPos,
        sequence: i32,
    },
    Place {
        hand: Hand,
        against: BlockPos,
        face: Direction,
        sequence: i32,
    },
    CreativeSlot {
        slot: i16,
        item: Option<ItemStack>,
    },
    HeldSlot(u8),
    /// The client accepted the position the server set.
    TeleportConfirm(i32),
}

/// A block change made across a region border, with what to acknowledge.
#[derive(Debug, Clone)]
pub struct BlockChange {
    pub pos: BlockPos,
    pub only_if: Precondition,
    pub state: BlockState,
    /// The session to acknowledge the change to, and its sequence number.
    pub ack: Option<(SessionHandle, i32)>,
}

/// What must be at a position for a block change to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// A block that a placed block may replace (air, water, grass).
    Replaceable,
    /// Something that can be broken (not air, not bedrock).
    Breakable,
}

/// Messages to a region actor.
#[derive(Debug)]
pub enum RegionMsg {
    /// A player enters the world here.
    Join {
        player: Box<PlayerState>,
        session: SessionHandle,
    },
    /// A neighbouring region hands a player over. Idempotent per `handoff`.
    Adopt {
        handoff: u64,
        from: RegionRef,
        player: Box<PlayerState>,
        session: SessionHandle,
    },
    /// The adopting region has the player; stop retrying.
    AdoptAck {
        handoff: u64,
    },
    Input {
        entity: EntityId,
        input: PlayerInput,
    },
    Teleport {
        entity: EntityId,
        to: DVec3,
    },
    SetGameMode {
        entity: EntityId,
        mode: GameMode,
    },
    /// The player's connection closed.
    Leave {
        entity: EntityId,
    },
    Subscribe {
        chunk: ChunkPos,
        session: SessionHandle,
    },
    Unsubscribe {
        chunk: ChunkPos,
        session: SessionId,
    },
    /// A block in one of this region's chunks, changed by a player elsewhere.
    SetBlock(BlockChange),
    /// A chunk finished generating off the tick path.
    ChunkReady {
        chunk: ChunkPos,
        data: Box<crate::region::LoadedChunk>,
    },
    /// Stop ticking; used at shutdown.
    Stop,
}
