//! What sessions, regions and the world say to each other. Everything here
//! can cross a node boundary, so it is plain serialisable data: regions are
//! named by position and sessions by address, never by a local handle.

use serde::{Deserialize, Serialize};
use valence_protocol::math::DVec3;
use valence_protocol::{BlockPos, BlockState, ChunkPos, Direction, GameMode, Hand, ItemStack};

use crate::coords::RegionPos;
use crate::player::PlayerState;

// The feed and the ids are messages' vocabulary too: named here, with the
// messages that carry them.
pub use crate::feed::{BatchItem, ChunkFeed, Delivery, FeedEvent, NodeBatch};
pub use crate::ids::{EntityId, NodeId, SessionAddr, SessionId};

/// Messages to a session.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToSession {
    /// One region's output for one tick, in order.
    Deliver(Vec<Delivery>),
    /// The region accepted the player: what the client needs to start playing.
    Joined(Box<PlayerState>),
    /// The player's entity now lives in this region, at this hop
    /// (`PlayerState::hop`); send input there.
    OwnerChanged { region: RegionPos, hop: u64 },
    /// A region gave up handing the player over (see `handoff`): its copy,
    /// for the session to join again if it knows of nothing newer.
    HandoffAbandoned(Box<PlayerState>),
    /// The server moved the player (teleport): the view follows.
    Moved(DVec3),
    /// The player's game mode changed.
    GameModeChanged(#[serde(with = "crate::wire::protocol")] GameMode),
    /// The player's state as its region holds it now, so the session can
    /// bring the player back if that region's node dies.
    Snapshot(Box<PlayerState>),
    /// Close the connection with this reason.
    Disconnect(String),
    /// The region let the player go (it left): its state at that moment,
    /// which the session saves to the player's record.
    Left(Box<PlayerState>),
}

/// What a player does, decoded from the client's packets by the frontend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PlayerInput {
    Move {
        position: Option<DVec3>,
        look: Option<(f32, f32)>,
        on_ground: bool,
    },
    Swing(#[serde(with = "crate::wire::protocol")] Hand),
    Sneak(bool),
    Sprint(bool),
    Dig {
        #[serde(with = "crate::wire::protocol")]
        pos: BlockPos,
        sequence: i32,
        phase: DigPhase,
    },
    Place {
        #[serde(with = "crate::wire::protocol")]
        hand: Hand,
        #[serde(with = "crate::wire::protocol")]
        against: BlockPos,
        #[serde(with = "crate::wire::protocol")]
        face: Direction,
        sequence: i32,
    },
    CreativeSlot {
        slot: i16,
        #[serde(with = "crate::wire::protocol")]
        item: Option<ItemStack>,
    },
    HeldSlot(u8),
    /// The client accepted the position the server set.
    TeleportConfirm(i32),
}

/// A block change made across a region border, with what to acknowledge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockChange {
    #[serde(with = "crate::wire::protocol")]
    pub pos: BlockPos,
    pub only_if: Precondition,
    #[serde(with = "crate::wire::block_state")]
    pub state: BlockState,
    /// The session to acknowledge the change to, and its sequence number.
    pub ack: Option<(SessionAddr, i32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DigPhase {
    Start,
    Abort,
    Finish,
}

/// A player's digging, sent to the region that owns the block so that
/// region times it against the block it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dig {
    pub entity: EntityId,
    pub session: SessionAddr,
    #[serde(with = "crate::wire::protocol")]
    pub pos: BlockPos,
    pub sequence: i32,
    pub phase: DigPhase,
    pub creative: bool,
}

/// What must be at a position for a block change to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precondition {
    /// A block that a placed block may replace (air, water, grass).
    Replaceable,
    /// Something that can be broken (not air, not bedrock).
    Breakable,
}

/// Messages to a region, from sessions and other regions, local or remote.
#[derive(Debug, Serialize, Deserialize)]
pub enum RegionMsg {
    /// A player enters the world here.
    Join {
        player: Box<PlayerState>,
        session: SessionAddr,
    },
    /// A neighbouring region hands a player over. Idempotent: a region
    /// adopts a player at most once per hop (`PlayerState::hop`).
    Adopt {
        handoff: u64,
        /// The placement epoch of the adopting region the sender addressed,
        /// if it had an owner: another owner must not adopt (see `handoff`).
        epoch: Option<u64>,
        from: RegionPos,
        player: Box<PlayerState>,
        session: SessionAddr,
    },
    /// The adopting region has the player; stop retrying.
    AdoptAck {
        handoff: u64,
    },
    /// A node died: the players whose sessions it held and its chunk
    /// subscriptions are gone with it.
    NodeGone {
        node: NodeId,
    },
    /// The session heard of a newer copy of its player: drop this region's
    /// copy if it is at `hop` or older.
    Release {
        entity: EntityId,
        hop: u64,
    },
    Input {
        entity: EntityId,
        input: PlayerInput,
        /// Sent on by a region the player had left: forwarded once at
        /// most, so two regions that each think the other has the player
        /// (a handoff still in flight) do not bounce it between them.
        forwarded: bool,
    },
    Teleport {
        entity: EntityId,
        to: DVec3,
    },
    SetGameMode {
        entity: EntityId,
        #[serde(with = "crate::wire::protocol")]
        mode: GameMode,
    },
    /// The player's connection closed. The region answers with `ToSession::Left`.
    Leave {
        entity: EntityId,
    },
    /// Gives a player already in the world what its saved record holds:
    /// look, inventory, held slot, game mode, then moves it to the saved
    /// position. Used when the record may only be revealed after login.
    Restore {
        entity: EntityId,
        saved: Box<PlayerState>,
    },
    Subscribe {
        #[serde(with = "crate::wire::protocol")]
        chunk: ChunkPos,
        session: SessionAddr,
    },
    Unsubscribe {
        #[serde(with = "crate::wire::protocol")]
        chunk: ChunkPos,
        session: SessionAddr,
    },
    /// A block in one of this region's chunks, changed by a player elsewhere.
    SetBlock(BlockChange),
    /// Digging of a block in one of this region's chunks.
    Dig(Dig),
}
