//! Nothing a region changes is shown before it is durable: a block change
//! is applied at once (later changes are checked against it), but its block
//! update, the acknowledgement of its player's action and everything said
//! about blocks after it wait until its batch is fsynced in the journal.
//! One batch is on its way to disk at a time; what comes meanwhile gathers
//! into the next one (group commit), so a busy region pays one fsync per
//! batch, not per block. A batch is confirmed only if the region still
//! holds its lease once the fsync returned: an owner that lost the region
//! while writing never tells anyone of a change its successor may lack.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tracing::{error, info, warn};
use uuid::Uuid;
use valence_protocol::{BlockPos, BlockState, ChunkPos};

use super::Region;
use crate::chunk::Chunk;
use crate::journal::{
    keep_latest, BatchRecord, JournalChange, JournalError, JournalPlayer, JournalWriter,
};
use crate::messages::{FeedEvent, SessionAddr};
use crate::player::PlayerState;

/// Most changes a region keeps waiting for the disk; past this, new
/// changes are refused until the journal catches up (a full disk must not
/// grow memory without bound).
pub(super) const MAX_PENDING_CHANGES: usize = 65_536;
/// Most players' states a region carries from checkpoint to checkpoint;
/// past this the oldest are dropped (their records have long since been
/// saved by their sessions).
const MAX_CARRIED_PLAYERS: usize = 4_096;
/// How long a player's journaled state is carried: its session saves the
/// record every 30 s and at logout, and a region taken over after a crash
/// hands the states it replayed to the records at once.
const CARRY_FOR: Duration = Duration::from_secs(3_600);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// Output that reveals a change: sent only once the change is durable.
enum Held {
    Feed(ChunkPos, FeedEvent),
    Unicast(SessionAddr, FeedEvent),
}

struct Pending {
    pos: BlockPos,
    old: BlockState,
    new: BlockState,
}

#[derive(Default)]
struct Batch {
    changes: Vec<Pending>,
    players: HashMap<Uuid, JournalPlayer>,
    held: Vec<Held>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.players.is_empty() && self.held.is_empty()
    }

    fn to_write(&self) -> bool {
        !self.changes.is_empty() || !self.players.is_empty()
    }

    /// Puts a later batch's contents after this one's.
    fn append(&mut self, later: Batch) {
        self.changes.extend(later.changes);
        for state in later.players.into_values() {
            keep_latest(&mut self.players, state);
        }
        self.held.extend(later.held);
    }

    fn record(&self, seq: u64) -> BatchRecord {
        BatchRecord {
            seq,
            changes: self
                .changes
                .iter()
                .map(|p| JournalChange {
                    x: p.pos.x,
                    y: p.pos.y,
                    z: p.pos.z,
                    state: p.new.to_raw(),
                })
                .collect(),
            players: self.players.values().cloned().collect(),
        }
    }
}

/// A finished append, with the writer coming home.
pub(super) struct Appended {
    writer: JournalWriter,
    result: Result<usize, JournalError>,
    took: Duration,
}

/// Why a region cannot change blocks now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unavailable {
    /// A newer owner's segment exists: this node lost the region.
    Fenced,
    /// The journal could not be opened.
    Broken(String),
}

#[derive(Default)]
pub(super) struct Durability {
    /// Journal writing: off for a world kept in memory only.
    enabled: bool,
    unavailable: Option<Unavailable>,
    /// The writer, while no append is on its way.
    writer: Option<JournalWriter>,
    writing: Option<JoinHandle<Appended>>,
    in_flight: Option<Batch>,
    open: Batch,
    /// Changes not yet durable, per chunk: a new viewer of such a chunk is
    /// sent it as it was before them.
    pending_chunks: HashMap<ChunkPos, u32>,
    retry: Option<(Instant, Duration)>,
    /// The latest journaled state of each player, with when it was
    /// journaled here: applied to a player who comes back with an older
    /// one, and carried over at each checkpoint.
    players: HashMap<Uuid, (JournalPlayer, Instant)>,
    /// The same, as far as the journal holds it: what a checkpoint carries
    /// over (the region files it goes with hold only durable changes).
    durable_players: HashMap<Uuid, (JournalPlayer, Instant)>,
}

/// Keeps `state` as the latest of its player in `map`, within the bound.
fn remember(map: &mut HashMap<Uuid, (JournalPlayer, Instant)>, state: JournalPlayer) {
    if map.len() >= MAX_CARRIED_PLAYERS && !map.contains_key(&state.uuid) {
        let oldest = map
            .iter()
            .min_by_key(|(_, (_, at))| *at)
            .map(|(uuid, _)| *uuid);
        if let Some(oldest) = oldest {
            map.remove(&oldest);
        }
    }
    match map.get(&state.uuid) {
        Some((held, _)) if held.revision > state.revision => {}
        _ => {
            map.insert(state.uuid, (state, Instant::now()));
        }
    }
}

impl Durability {
    pub fn journaled(writer: JournalWriter, players: HashMap<Uuid, JournalPlayer>) -> Self {
        let now = Instant::now();
        let players: HashMap<Uuid, (JournalPlayer, Instant)> =
            players.into_iter().map(|(k, v)| (k, (v, now))).collect();
        Self {
            enabled: true,
            writer: Some(writer),
            durable_players: players.clone(),
            players,
            ..Self::default()
        }
    }

    /// The players' durable states a checkpoint carries over; drops those
    /// carried for long enough.
    pub fn carried_players(&mut self) -> Vec<JournalPlayer> {
        self.players.retain(|_, (_, at)| at.elapsed() < CARRY_FOR);
        self.durable_players
            .retain(|_, (_, at)| at.elapsed() < CARRY_FOR);
        self.durable_players
            .values()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The journaled state of a player, if it is later than `state`'s.
    pub fn later_state_of(&self, state: &PlayerState) -> Option<&JournalPlayer> {
        self.players
            .get(&state.uuid)
            .map(|(p, _)| p)
            .filter(|p| p.revision > state.revision)
    }

    pub fn unavailable(reason: Unavailable) -> Self {
        Self {
            enabled: true,
            unavailable: Some(reason),
            ..Self::default()
        }
    }

    pub fn anything_waiting(&self) -> bool {
        !self.open.is_empty() || self.in_flight.is_some()
    }

    fn pending_changes(&self) -> usize {
        self.open.changes.len() + self.in_flight.as_ref().map_or(0, |b| b.changes.len())
    }

    /// Whether some change is not durable yet.
    pub fn has_pending(&self) -> bool {
        !self.pending_chunks.is_empty()
    }

    /// Whether a change may be made now.
    pub fn accepts_changes(&self) -> bool {
        self.unavailable.is_none() && self.pending_changes() < MAX_PENDING_CHANGES
    }

    /// Whether this region may write its region files: not once a newer
    /// owner fenced it, nor while its journal could not be read.
    pub fn accepts_saves(&self) -> bool {
        self.unavailable.is_none()
    }

    pub fn is_failing(&self) -> bool {
        self.retry.is_some() || matches!(self.unavailable, Some(Unavailable::Broken(_)))
    }

    pub fn writer_mut(&mut self) -> Option<&mut JournalWriter> {
        self.writer.as_mut()
    }

    pub fn writing(&mut self) -> Option<&mut JoinHandle<Appended>> {
        self.writing.as_mut()
    }

    pub fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    /// The chunk as its viewers may see it: without the changes still on
    /// their way to disk, undone newest first.
    pub fn durable_view(&self, pos: ChunkPos, chunk: &Chunk) -> Option<Chunk> {
        if !self.pending_chunks.contains_key(&pos) {
            return None;
        }
        let mut view = chunk.clone();
        let pending = self.in_flight.iter().chain([&self.open]);
        let changes: Vec<&Pending> = pending.flat_map(|b| b.changes.iter()).collect();
        for change in changes.into_iter().rev() {
            if ChunkPos::from_block_pos(change.pos) == pos {
                view.set_block(
                    change.pos.x.rem_euclid(16) as usize,
                    change.pos.y,
                    change.pos.z.rem_euclid(16) as usize,
                    change.old,
                );
            }
        }
        Some(view)
    }

    fn forget_pending(&mut self, batch: &Batch) {
        for change in &batch.changes {
            let chunk = ChunkPos::from_block_pos(change.pos);
            if let Some(count) = self.pending_chunks.get_mut(&chunk) {
                *count -= 1;
                if *count == 0 {
                    self.pending_chunks.remove(&chunk);
                }
            }
        }
    }
}

impl Region {
    /// Notes a block change that must reach the journal before it is shown.
    pub(super) fn journal_change(&mut self, pos: BlockPos, old: BlockState, new: BlockState) {
        let durability = &mut self.durability;
        if !durability.enabled {
            return;
        }
        durability.open.changes.push(Pending { pos, old, new });
        *durability
            .pending_chunks
            .entry(ChunkPos::from_block_pos(pos))
            .or_default() += 1;
    }

    /// Notes a player's state that must reach the journal with the changes
    /// noted so far, in the same record.
    pub(super) fn journal_player(&mut self, state: &PlayerState) {
        let durability = &mut self.durability;
        if !durability.enabled {
            return;
        }
        let journaled = JournalPlayer::of(state);
        remember(&mut durability.players, journaled.clone());
        keep_latest(&mut durability.open.players, journaled);
    }

    /// Shows a chunk's viewers something about its blocks, once everything
    /// changed before it is durable.
    pub(super) fn confirm_feed(&mut self, chunk: ChunkPos, event: FeedEvent) {
        if self.durability.anything_waiting() {
            self.durability.open.held.push(Held::Feed(chunk, event));
        } else {
            self.outbox.feed(chunk, event);
        }
    }

    /// Tells one session something about blocks, once everything changed
    /// before it is durable.
    pub(super) fn confirm_unicast(&mut self, session: SessionAddr, event: FeedEvent) {
        if self.durability.anything_waiting() {
            self.durability
                .open
                .held
                .push(Held::Unicast(session, event));
        } else {
            self.outbox.unicast(session, event);
        }
    }

    /// Sends the open batch to disk if nothing else is on its way.
    pub(super) fn commit(&mut self) {
        let permitted = self.host.may_tick(self.pos);
        let durability = &mut self.durability;
        if durability.writing.is_some() || durability.open.is_empty() {
            return;
        }
        if !durability.open.to_write() {
            if durability.in_flight.is_none() {
                let batch = std::mem::take(&mut durability.open);
                self.release_held(batch);
            }
            return;
        }
        if durability.retry.is_some_and(|(at, _)| Instant::now() < at) {
            return;
        }
        if !permitted {
            return;
        }
        let Some(mut writer) = durability.writer.take() else {
            return;
        };
        let batch = std::mem::take(&mut durability.open);
        let record = batch.record(writer.next_seq());
        durability.in_flight = Some(batch);
        let metrics = self.ctx.metrics.clone();
        durability.writing = Some(tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = writer.append(&record);
            let took = started.elapsed();
            if result.is_ok() {
                metrics.journal_batch(record.changes.len(), took);
            }
            Appended {
                writer,
                result,
                took,
            }
        }));
    }

    /// A batch came back from the disk: confirmed if it is durable and the
    /// region is still this node's, kept for another try if not.
    pub(super) fn appended(&mut self, appended: Appended) {
        let Appended {
            writer,
            result,
            took,
        } = appended;
        let epoch = writer.epoch();
        self.durability.writing = None;
        self.durability.writer = Some(writer);
        let Some(batch) = self.durability.in_flight.take() else {
            return;
        };
        match result {
            Ok(bytes) => {
                self.ctx.metrics.journal_bytes(bytes);
                // Only block changes wait for a region file save; a batch of
                // player states alone makes no save due.
                if !batch.changes.is_empty() {
                    self.series
                        .lag()
                        .journaled(batch.changes.len(), bytes, Instant::now());
                }
                if self.durability.retry.take().is_some() {
                    info!(region = %self.pos(), "journal writable again");
                }
                let still_ours =
                    self.host.may_tick(self.pos()) && self.host.epoch_of(self.pos()) == Some(epoch);
                self.durability.forget_pending(&batch);
                for state in batch.players.values() {
                    remember(&mut self.durability.durable_players, state.clone());
                }
                if still_ours {
                    self.release_held(batch);
                    self.send_sorted();
                } else {
                    warn!(region = %self.pos(), changes = batch.changes.len(), ?took, "lease lost while the journal was written; those changes are not confirmed");
                }
            }
            Err(e) => {
                let backoff = self
                    .durability
                    .retry
                    .map_or(FIRST_RETRY, |(_, last)| (last * 2).min(LAST_RETRY));
                error!(region = %self.pos(), retry_in = ?backoff, "journal append failed; the changes wait: {e}");
                self.durability.retry = Some((Instant::now() + backoff, backoff));
                let later = std::mem::take(&mut self.durability.open);
                let mut retried = batch;
                retried.append(later);
                self.durability.open = retried;
            }
        }
        self.commit();
    }

    fn release_held(&mut self, batch: Batch) {
        for held in batch.held {
            match held {
                Held::Feed(chunk, event) => self.outbox.feed(chunk, event),
                Held::Unicast(session, event) => self.outbox.unicast(session, event),
            }
        }
    }

    /// Waits until everything changed is durable (or gives up after
    /// `within`: a disk that stays full must not hold a shutdown forever;
    /// what is not durable then was never confirmed). A failed append is
    /// tried again at once, then after its backoff: a
    /// disk that keeps failing is not hammered (each try starts a segment).
    pub(super) async fn drain_journal(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        self.durability.retry = self.durability.retry.map(|(_, b)| (Instant::now(), b));
        loop {
            if let Some(writing) = self.durability.writing.as_mut() {
                match writing.await {
                    Ok(appended) => self.appended(appended),
                    Err(e) => return self.journal_lost(e),
                }
                continue;
            }
            if !self.durability.anything_waiting() {
                break;
            }
            if let Some((at, _)) = self.durability.retry {
                if at >= deadline {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
            }
            self.commit();
            if !self.durability.is_writing() {
                break;
            }
        }
        if self.durability.pending_changes() > 0 {
            error!(region = %self.pos(), changes = self.durability.pending_changes(), "stopping with changes the journal could not take; they were never confirmed");
        }
    }

    /// An append task died (it panicked): the writer is gone with it.
    pub(super) fn journal_lost(&mut self, e: tokio::task::JoinError) {
        error!(region = %self.pos(), "journal writer lost: {e}; the region takes no more changes");
        self.durability.writing = None;
        self.durability.in_flight = None;
        self.durability.unavailable = Some(Unavailable::Broken(e.to_string()));
    }

    /// Retries a failed append once its backoff is over.
    pub(super) fn retry_commit_if_due(&mut self) {
        if self
            .durability
            .retry
            .is_some_and(|(at, _)| Instant::now() >= at)
        {
            self.commit();
        }
    }
}
