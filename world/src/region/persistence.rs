//! Loading a region's saved chunks when it starts and saving the chunks
//! players changed, off the tick path, every few seconds and at shutdown.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tracing::{error, warn};
use valence_protocol::ChunkPos;

use super::{ChunkSlot, Region, Slot};
use crate::chunk::Chunk;
use crate::store::LoadedRegion;

/// How often changed chunks are written while players keep changing them.
const SAVE_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(super) struct Persistence {
    /// Saved chunks not asked for yet; they replace generation.
    saved: HashMap<ChunkPos, Chunk>,
    /// Chunks that differ from what the generator makes.
    pub modified: std::collections::HashSet<ChunkPos>,
    dirty: bool,
    last_save: Option<Instant>,
    saving: Option<JoinHandle<()>>,
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
}

impl Region {
    /// Reads what this region saved last time; runs before the first message.
    pub(super) async fn load_saved(&mut self) {
        let Some(store) = self.world.store.clone() else {
            return;
        };
        let (pos, grid) = (self.pos(), self.world.grid);
        match tokio::task::spawn_blocking(move || store.load(&grid, pos)).await {
            Ok(Ok(LoadedRegion { chunks, .. })) => {
                for (chunk, blocks) in chunks {
                    self.persistence.modified.insert(chunk);
                    self.persistence.saved.insert(chunk, blocks);
                }
            }
            Ok(Err(e)) => error!(region = %pos, "saved region not loaded, regenerating: {e}"),
            Err(e) => error!(region = %pos, "loading the region failed: {e}"),
        }
    }

    /// A saved chunk, made ready at once instead of generated.
    pub(super) fn ready_from_save(&mut self, chunk: ChunkPos) -> bool {
        let Some(blocks) = self.persistence.take_saved(chunk) else {
            return false;
        };
        self.world.metrics.chunk_loaded();
        let slot = ChunkSlot {
            chunk: blocks,
            packet: None,
            viewers: Default::default(),
        };
        self.chunks.insert(chunk, Slot::Ready(slot));
        true
    }

    fn changed_chunks(&self) -> Vec<(ChunkPos, Chunk)> {
        let mut chunks: Vec<(ChunkPos, Chunk)> = self
            .persistence
            .modified
            .iter()
            .filter_map(|pos| match self.chunks.get(pos) {
                Some(Slot::Ready(slot)) => Some((*pos, slot.chunk.clone())),
                _ => self.persistence.saved.get(pos).map(|c| (*pos, c.clone())),
            })
            .collect();
        chunks.sort_by_key(|(pos, _)| (pos.x, pos.z));
        chunks
    }

    /// Starts a background save if chunks changed and the last one is done.
    pub(super) fn save_if_due(&mut self) {
        let persistence = &self.persistence;
        let due = persistence.dirty
            && persistence
                .last_save
                .is_none_or(|at| at.elapsed() >= SAVE_EVERY)
            && persistence
                .saving
                .as_ref()
                .is_none_or(JoinHandle::is_finished);
        if due {
            self.persistence.saving = self.start_save();
        }
    }

    fn start_save(&mut self) -> Option<JoinHandle<()>> {
        let store = self.world.store.clone()?;
        let epoch = self.world.epoch_of(self.pos())?;
        let chunks = self.changed_chunks();
        let pos = self.pos();
        let world = self.world.clone();
        self.persistence.dirty = false;
        self.persistence.last_save = Some(Instant::now());
        Some(tokio::task::spawn_blocking(move || {
            if let Err(e) = store.save(&chunks, &|| world.epoch_of(pos) == Some(epoch)) {
                warn!(region = %pos, "region not saved: {e}");
            }
        }))
    }

    /// Saves everything that changed and waits until it is on disk.
    pub(super) async fn save_now(&mut self) {
        if let Some(saving) = self.persistence.saving.take() {
            let _ = saving.await;
        }
        if self.persistence.dirty {
            if let Some(saving) = self.start_save() {
                let _ = saving.await;
            }
        }
    }
}
