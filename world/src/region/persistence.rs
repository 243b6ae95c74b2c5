//! A region's chunks on disk: loaded from the Anvil region files plus every
//! durable journal record when the region starts, and saved back into the
//! region files in the background every autosave interval, after which the
//! journal segments they now hold are removed.
//!
//! The region files are fenced like the journal: a save replaces a file
//! only while this node still holds the region's lease and no newer owner
//! has begun its segment (checked under the file's lock, right before the
//! rename), so an outdated owner never overwrites what its successor
//! starts from.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use tessera_cluster::Mailbox;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};
use valence_protocol::{BlockPos, BlockState, ChunkPos};

use super::durability::{Durability, Unavailable};
use super::{ChunkSlot, Region, RegionMail, Slot};
use crate::chunk::Chunk;
use crate::coords::{RegionGrid, RegionPos};
use crate::gen::Generator;
use crate::journal::{Checkpoint, JournalError, JournalPlayer, JournalWriter, Journals};
use crate::metrics::WorldMetrics;
use crate::store::{RegionStore, StoreError};

const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(super) struct Persistence {
    /// Saved chunks not asked for yet; they replace generation.
    saved: HashMap<ChunkPos, Chunk>,
    /// Chunks that differ from what the generator makes.
    pub modified: HashSet<ChunkPos>,
    dirty: bool,
    last_save: Option<Instant>,
    saving: Option<JoinHandle<Saved>>,
    retry: Option<(Instant, Duration)>,
}

/// A finished region file save.
pub(super) struct Saved {
    result: Result<(), String>,
    /// The segments it would have made obsolete, if it failed.
    unfinished: Option<Checkpoint>,
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a region starts from.
struct Restored {
    chunks: HashMap<ChunkPos, Chunk>,
    replayed: usize,
    players: HashMap<uuid::Uuid, JournalPlayer>,
    writer: JournalWriter,
}

/// Fences the journal, then reads the region files and replays the
/// journal onto them. The region files are read after the fence: an
/// outdated owner's save can then no longer replace them.
fn restore(
    store: &RegionStore,
    journals: &Journals,
    grid: RegionGrid,
    region: RegionPos,
    epoch: u64,
    generator: &dyn Generator,
    metrics: &WorldMetrics,
) -> Result<Restored, LoadError> {
    let (replay, writer) = journals.take_over(region, epoch)?;
    let loaded = store.load(&grid, region)?;
    for damaged in &loaded.damaged {
        metrics
            .damaged_files
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        error!(
            %region,
            file = %damaged.file.display(),
            chunk = ?damaged.chunk.map(|c| (c.x, c.z)),
            kept_as = ?damaged.kept_as.as_ref().map(|p| p.display().to_string()),
            "saved region data is damaged; loading what checks out: {}",
            damaged.reason
        );
    }
    let mut chunks: HashMap<ChunkPos, Chunk> = loaded.chunks.into_iter().collect();
    for change in &replay.changes {
        let pos = BlockPos::new(change.x, change.y, change.z);
        let chunk_pos = ChunkPos::from_block_pos(pos);
        let Some(state) = BlockState::from_raw(change.state) else {
            warn!(%region, state = change.state, "journal names an unknown block state; skipped");
            continue;
        };
        if !grid.contains(region, chunk_pos) {
            continue;
        }
        let chunk = chunks
            .entry(chunk_pos)
            .or_insert_with(|| generator.generate(chunk_pos));
        chunk.set_block(
            pos.x.rem_euclid(16) as usize,
            pos.y,
            pos.z.rem_euclid(16) as usize,
            state,
        );
    }
    if replay.batches > 0 {
        info!(%region, epoch, segments = replay.segments, batches = replay.batches, changes = replay.changes.len(), "journal replayed");
    }
    Ok(Restored {
        chunks,
        replayed: replay.changes.len(),
        players: replay.players,
        writer,
    })
}

impl Persistence {
    pub fn changed(&mut self, chunk: ChunkPos) {
        self.modified.insert(chunk);
        self.dirty = true;
    }

    pub fn take_saved(&mut self, chunk: ChunkPos) -> Option<Chunk> {
        self.saved.remove(&chunk)
    }

    /// A chunk left memory: one players changed is kept with the saved
    /// chunks, so saves still write it and it loads from there again.
    pub fn unloaded(&mut self, pos: ChunkPos, chunk: Chunk) {
        if self.modified.contains(&pos) {
            self.saved.insert(pos, chunk);
        }
    }

    pub fn saving(&mut self) -> Option<&mut JoinHandle<Saved>> {
        self.saving.as_mut()
    }

    pub fn is_failing(&self) -> bool {
        self.retry.is_some()
    }

    pub fn is_saving(&self) -> bool {
        self.saving.is_some()
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
}

impl Region {
    /// Reads what this region saved and journaled; runs before the first
    /// message. A read that fails is retried (the region serves nothing
    /// meanwhile: fresh terrain must never stand in for saved terrain).
    /// Returns the mail that came meanwhile, or `None` if told to stop.
    pub(super) async fn load_saved(
        &mut self,
        mailbox: &mut Mailbox<RegionMail>,
    ) -> Option<Vec<RegionMail>> {
        let (Some(store), Some(journals)) = (self.ctx.store.clone(), self.ctx.journals.clone())
        else {
            return Some(Vec::new());
        };
        let pos = self.pos();
        let Some(epoch) = self.host.epoch_of(pos) else {
            self.durability = Durability::unavailable(Unavailable::Fenced);
            return Some(Vec::new());
        };
        let mut early = Vec::new();
        let mut backoff = FIRST_RETRY;
        loop {
            let (store, journals) = (store.clone(), journals.clone());
            let metrics = self.ctx.metrics.clone();
            let generator = self.ctx.generator.clone();
            let grid = self.ctx.grid;
            let restored = tokio::task::spawn_blocking(move || {
                restore(&store, &journals, grid, pos, epoch, &*generator, &metrics)
            })
            .await;
            let e = match restored {
                Ok(Ok(restored)) => {
                    self.restored(restored);
                    return Some(early);
                }
                Ok(Err(LoadError::Journal(e @ JournalError::Fenced { .. }))) => {
                    error!(region = %pos, "not this node's region any more: {e}; it takes no changes");
                    self.durability = Durability::unavailable(Unavailable::Fenced);
                    return Some(early);
                }
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            error!(region = %pos, retry_in = ?backoff, "region not loaded: {e}");
            self.durability = Durability::unavailable(Unavailable::Broken(e));
            self.report_persist_health();
            let sleep = tokio::time::sleep(backoff);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    mail = mailbox.recv() => match mail {
                        None | Some(RegionMail::Stop) => return None,
                        Some(RegionMail::Save(reply)) => {
                            let _ = reply.send(false);
                        }
                        Some(mail) => early.push(mail),
                    }
                }
            }
            backoff = (backoff * 2).min(LAST_RETRY);
        }
    }

    fn restored(&mut self, restored: Restored) {
        for (chunk, blocks) in restored.chunks {
            self.persistence.modified.insert(chunk);
            self.persistence.saved.insert(chunk, blocks);
        }
        // What came from older segments goes into the region files at once,
        // so those segments (and an outdated owner's) are gone soon.
        if restored.replayed > 0 {
            self.persistence.dirty = true;
            self.series
                .lag()
                .journaled(restored.replayed, 0, Instant::now());
        }
        for state in restored.players.values() {
            self.host.recovered_player(state.clone());
        }
        self.durability = Durability::journaled(restored.writer, restored.players);
        self.report_persist_health();
    }

    /// A saved chunk, made ready at once instead of generated.
    pub(super) fn ready_from_save(&mut self, chunk: ChunkPos) -> bool {
        let Some(blocks) = self.persistence.take_saved(chunk) else {
            return false;
        };
        self.ctx.metrics.chunk_loaded();
        let slot = ChunkSlot {
            chunk: blocks,
            packet: None,
            viewers: Default::default(),
            map_stamp: self.map.next(),
        };
        self.chunks.insert(chunk, Slot::Ready(slot));
        true
    }

    /// The changed chunks as far as they are durable: a change the journal
    /// has not taken yet (a full disk) must not reach the region files
    /// before it, or a change never confirmed could appear after a restart.
    fn changed_chunks(&self) -> Vec<(ChunkPos, Chunk)> {
        let mut chunks: Vec<(ChunkPos, Chunk)> = self
            .persistence
            .modified
            .iter()
            .filter_map(|pos| {
                let chunk = match self.chunks.get(pos) {
                    Some(Slot::Ready(slot)) => &slot.chunk,
                    _ => self.persistence.saved.get(pos)?,
                };
                let durable = self.durability.durable_view(*pos, chunk);
                Some((*pos, durable.unwrap_or_else(|| chunk.clone())))
            })
            .collect();
        chunks.sort_by_key(|(pos, _)| (pos.x, pos.z));
        chunks
    }

    /// Starts a background save if chunks changed, the autosave interval
    /// (or a failed save's backoff) is over, and no other save is running.
    pub(super) fn save_if_due(&mut self) {
        let persistence = &self.persistence;
        let due = persistence.dirty
            && persistence.saving.is_none()
            && !self.host.autosave_paused()
            && match persistence.retry {
                Some((at, _)) => Instant::now() >= at,
                None => persistence
                    .last_save
                    .is_none_or(|at| at.elapsed() >= self.ctx.autosave),
            };
        if due {
            self.start_save();
        }
    }

    /// Saves the chunks as they are now; the journal moves on to a new
    /// segment, and the ones before are removed once the save is on disk.
    fn start_save(&mut self) -> bool {
        let Some(store) = self.ctx.store.clone() else {
            return false;
        };
        if self.durability.is_writing() || !self.durability.accepts_saves() {
            return false;
        }
        // Without a journal (a world whose changes live only in the region
        // files) there is nothing to rotate or fence by segment.
        let writer = self.durability.writer_mut();
        let fence = writer.as_ref().map(|w| w.fence());
        let mut checkpoint = writer.map(|w| w.checkpoint());
        if let Some(checkpoint) = checkpoint.as_mut() {
            checkpoint.carry(self.durability.carried_players());
        }
        let chunks = self.changed_chunks();
        self.series.lag().save_started();
        let (host, metrics) = (self.host.clone(), self.ctx.metrics.clone());
        let pos = self.pos();
        // Changes left out as not yet durable still need a save.
        self.persistence.dirty = self.durability.has_pending();
        self.persistence.last_save = Some(Instant::now());
        self.persistence.saving = Some(tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let still_owner =
                || host.may_tick(pos) && !fence.as_ref().is_some_and(|f| f.newer_owner());
            match store.save(&chunks, &still_owner) {
                Ok(()) => {
                    let took = started.elapsed();
                    metrics.saves.record(took.as_secs_f64());
                    if let Some(Err(e)) = checkpoint.map(Checkpoint::finish) {
                        warn!(region = %pos, "saved, but old journal segments stay: {e}");
                    }
                    Saved {
                        result: Ok(()),
                        unfinished: None,
                    }
                }
                Err(e) => Saved {
                    result: Err(e.to_string()),
                    unfinished: checkpoint,
                },
            }
        }));
        true
    }

    /// A region file save finished: on failure the chunks stay dirty and
    /// the save is tried again after a backoff.
    pub(super) fn saved(&mut self, saved: Result<Saved, tokio::task::JoinError>) {
        self.persistence.saving = None;
        let (result, unfinished) = match saved {
            Ok(Saved { result, unfinished }) => (result, unfinished),
            Err(e) => (Err(e.to_string()), None),
        };
        self.series.lag().save_finished(result.is_ok());
        match result {
            Ok(()) => {
                if self.persistence.retry.take().is_some() {
                    info!(region = %self.pos(), "region saved again");
                }
            }
            Err(e) => {
                let backoff = self
                    .persistence
                    .retry
                    .map_or(FIRST_RETRY, |(_, last)| (last * 2).min(LAST_RETRY));
                error!(region = %self.pos(), retry_in = ?backoff, "region not saved; its changes stay in the journal and are saved later: {e}");
                self.persistence.retry = Some((Instant::now() + backoff, backoff));
                self.persistence.dirty = true;
                if let (Some(checkpoint), Some(writer)) = (unfinished, self.durability.writer_mut())
                {
                    writer.checkpoint_failed(checkpoint);
                }
            }
        }
        self.report_persist_health();
    }

    /// Keeps the node's count of regions that cannot persist up to date.
    pub(super) fn report_persist_health(&mut self) {
        let failing = self.durability.is_failing() || self.persistence.is_failing();
        if failing != self.reported_failing {
            self.reported_failing = failing;
            if failing {
                self.ctx.metrics.persist_failing();
            } else {
                self.ctx.metrics.persist_recovered();
            }
        }
    }

    /// Makes everything durable and saves the region files; used when the
    /// region stops. Bounded: a disk that stays broken must not hold the
    /// node's shutdown (what the journal took is safe either way).
    pub(super) async fn save_now(&mut self) {
        const WITHIN: Duration = Duration::from_secs(5);
        const ATTEMPTS: usize = 3;
        self.drain_journal(WITHIN).await;
        self.flush();
        if let Some(saving) = self.persistence.saving.as_mut() {
            let saved = saving.await;
            self.saved(saved);
        }
        // A region this node may no longer run leaves the region files to
        // the owner after it, which replays the journal.
        for _ in 0..ATTEMPTS {
            if !self.persistence.dirty || !self.host.may_tick(self.pos()) || !self.start_save() {
                break;
            }
            if let Some(saving) = self.persistence.saving.as_mut() {
                let saved = saving.await;
                self.saved(saved);
            }
            // What is left waits for the journal, not for another save.
            if self.durability.has_pending() {
                break;
            }
            if let Some((_, backoff)) = self.persistence.retry {
                tokio::time::sleep(backoff.min(WITHIN / ATTEMPTS as u32)).await;
            }
        }
        if self.persistence.dirty {
            warn!(region = %self.pos(), "stopped before the region files were saved; the journal holds the changes");
        }
    }

    /// A region that stops no longer counts among those failing to persist.
    pub(super) fn forget_persist_health(&mut self) {
        if std::mem::take(&mut self.reported_failing) {
            self.ctx.metrics.persist_recovered();
        }
    }
}
