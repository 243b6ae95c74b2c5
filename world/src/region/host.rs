//! What a region needs from the node it runs on, and nothing more: the
//! facts every region of the node shares, and the routes, ids and
//! ownership answers the node gives. `World` is the implementation; the
//! region never names it, so the region does not depend on how a node
//! keeps its regions and sessions.

use std::sync::Arc;
use std::time::Duration;

use tessera_cluster::ActorRef;
use valence_protocol::ChunkPos;

use super::RegionMail;
use crate::coords::{RegionGrid, RegionPos};
use crate::framing::Framing;
use crate::gen::Generator;
use crate::journal::{JournalPlayer, Journals};
use crate::messages::{NodeBatch, NodeId, RegionMsg, SessionAddr, ToSession};
use crate::metrics::WorldMetrics;
use crate::routing::{Ownership, Undelivered};
use crate::store::RegionStore;

/// What every region of a node shares and never changes while it runs.
pub struct RegionContext {
    pub node: NodeId,
    pub grid: RegionGrid,
    pub framing: Framing,
    pub generator: Arc<dyn Generator>,
    pub biome: u32,
    /// Where regions are saved; `None` keeps the world in memory only.
    pub store: Option<RegionStore>,
    /// Where regions journal their changes; with `store`, or not at all.
    pub journals: Option<Journals>,
    /// How often a region saves its changed chunks into the region files.
    pub autosave: Duration,
    /// How long a region with no players, no chunks and nothing unsaved
    /// keeps running before it stops (it starts again when needed).
    pub region_idle: Duration,
    pub metrics: Arc<WorldMetrics>,
}

/// The node as a region sees it.
pub trait RegionHost: Send + Sync + 'static {
    fn context(&self) -> &Arc<RegionContext>;

    /// Sends a message to a region, on this node or the one that owns it.
    fn to_region(&self, region: RegionPos, msg: RegionMsg) -> Result<(), Undelivered>;

    /// Sends a message to a session, on this node or another.
    fn to_session(&self, addr: SessionAddr, msg: ToSession) -> Result<(), Undelivered>;

    /// Sends a region's tick output for the sessions of another node.
    fn to_node(&self, node: NodeId, batch: NodeBatch) -> Result<(), Undelivered>;

    /// Whether this node may run `region` now: it owns it and, in a
    /// cluster, holds the lease that keeps other nodes from running it.
    fn may_tick(&self, region: RegionPos) -> bool;

    /// The epoch under which this node owns `region`, if it owns it.
    fn epoch_of(&self, region: RegionPos) -> Option<u64>;

    /// The node that owns `region` now and its epoch, if it has an owner.
    fn owner_of(&self, region: RegionPos) -> Option<Ownership>;

    /// A handoff id no other node hands out, nor this node before a restart.
    fn next_handoff_id(&self) -> u64;

    fn next_teleport_id(&self) -> i32;

    /// An idle region asks to stop: it is taken out of the node's regions
    /// if it is still the node's actor for `pos` and `nothing_waiting`
    /// (checked so that no mail can reach it after) holds.
    fn retire_region(
        &self,
        pos: RegionPos,
        me: &ActorRef<RegionMail>,
        nothing_waiting: &dyn Fn() -> bool,
    ) -> bool;

    /// Generates `chunk` off the tick path and mails it to `region`.
    fn load_chunk(&self, chunk: ChunkPos, region: ActorRef<RegionMail>);

    /// A region replayed a player's state: its record may be older.
    fn recovered_player(&self, state: JournalPlayer);

    /// `/save-off`: autosaves wait; saves at a handoff, a stop or
    /// `/save-all` still run, as they must for nothing to be lost.
    fn autosave_paused(&self) -> bool;
}
