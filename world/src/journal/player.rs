//! A player's state as a region journaled it: written in the same record as
//! the block change it goes with (a survival placement uses up the item),
//! so a crash keeps both or neither, and a player can neither get the item
//! back nor lose it without the block.
//!
//! A checkpoint removes the segments that held these states, so the
//! region's latest state of each player is carried over into `players`,
//! beside the segments, before they go.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use valence_protocol::math::DVec3;
use valence_protocol::{GameMode, ItemStack};

use super::{frame, sync_dir, JournalError};
use crate::player::{PlayerState, INVENTORY_SLOTS};

/// The file of carried states in a region's journal folder.
pub const CARRIED_FILE: &str = "players";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalPlayer {
    pub uuid: Uuid,
    /// The player's revision after this change; of two states of one
    /// player, the higher revision is the later.
    pub revision: u64,
    pub position: [f64; 3],
    pub yaw: f32,
    pub pitch: f32,
    #[serde(with = "crate::wire::protocol")]
    pub game_mode: GameMode,
    pub held_slot: u8,
    #[serde(with = "crate::wire::protocol")]
    pub inventory: Vec<Option<ItemStack>>,
}

impl JournalPlayer {
    pub fn of(state: &PlayerState) -> Self {
        Self {
            uuid: state.uuid,
            revision: state.revision,
            position: state.position.to_array(),
            yaw: state.yaw,
            pitch: state.pitch,
            game_mode: state.game_mode,
            held_slot: state.held_slot,
            inventory: state.inventory.clone(),
        }
    }

    pub fn position(&self) -> DVec3 {
        DVec3::from_array(self.position)
    }

    /// Gives `state` what this later state holds: the inventory and what
    /// goes with it. The position stays: moves are not journaled, so the
    /// state's own is the later one.
    pub fn apply_to(&self, state: &mut PlayerState) {
        if self.inventory.len() == INVENTORY_SLOTS {
            state.inventory = self.inventory.clone();
        }
        state.held_slot = self.held_slot.min(8);
        state.game_mode = self.game_mode;
        state.revision = self.revision;
    }
}

/// Keeps in `into` the later of its state of each player and `state`.
pub fn keep_latest(
    into: &mut std::collections::HashMap<Uuid, JournalPlayer>,
    state: JournalPlayer,
) {
    match into.get(&state.uuid) {
        Some(held) if held.revision >= state.revision => {}
        _ => {
            into.insert(state.uuid, state);
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Carried {
    players: Vec<JournalPlayer>,
}

/// Reads the carried states of a region's journal folder; a damaged file
/// is an error, never an empty set (its players would get items back).
pub fn read_carried(dir: &Path) -> Result<Vec<JournalPlayer>, JournalError> {
    let path = dir.join(CARRIED_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io(&path, e)),
    };
    decode_carried(&path, &bytes)
}

/// The carried states in `bytes`, the contents of the file at `path`.
pub fn decode_carried(path: &Path, bytes: &[u8]) -> Result<Vec<JournalPlayer>, JournalError> {
    let (records, valid) = frame::decode(bytes);
    let [payload] = records.as_slice() else {
        return Err(JournalError::corrupt(path, "not one whole record"));
    };
    if valid != bytes.len() {
        return Err(JournalError::corrupt(path, "bytes after its record"));
    }
    postcard::from_bytes::<Carried>(payload)
        .map(|c| c.players)
        .map_err(|e| JournalError::corrupt(path, e))
}

/// The file of carried states holding `players`.
pub fn encode_carried(players: Vec<JournalPlayer>) -> postcard::Result<Vec<u8>> {
    let payload = postcard::to_allocvec(&Carried { players })?;
    let mut bytes = Vec::with_capacity(payload.len() + 8);
    frame::encode(&payload, &mut bytes);
    Ok(bytes)
}

/// Replaces the carried states of a region's journal folder, durably:
/// written beside, fsynced, then renamed over the old file.
pub fn write_carried(dir: &Path, players: Vec<JournalPlayer>) -> Result<(), JournalError> {
    let path = dir.join(CARRIED_FILE);
    let temp = dir.join(format!("{CARRIED_FILE}.tmp"));
    let bytes = encode_carried(players).map_err(|e| JournalError::corrupt(&path, e))?;
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&temp)
        .map_err(|e| JournalError::io(&temp, e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .map_err(|e| JournalError::io(&temp, e))?;
    fs::rename(&temp, &path).map_err(|e| JournalError::io(&path, e))?;
    sync_dir(dir)
}
