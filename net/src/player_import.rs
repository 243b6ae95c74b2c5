//! Players of an imported vanilla world into the register: each
//! `playerdata/<uuid>.dat` becomes the record of the player who will log
//! in under that name here, so it comes back where it was with what it
//! carried. Offline mode names players by `OfflinePlayer:<name>`, so the
//! file's uuid is matched to a name through the vanilla server's
//! `usercache.json`; online mode keeps the uuid.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_auth::accounts::player_record::{ItemEntry, PlayerRecord, PLAYER_RECORD_VERSION};
use tessera_auth::accounts::PlayerRecords;
use tessera_world::anvil::player_dat::{self, VanillaPlayer};
use tessera_world::registry::DIMENSION_NAME;
use uuid::Uuid;
use valence_protocol::Encode;

use crate::profile::offline_uuid;

/// What importing the players came to.
#[derive(Debug, Default)]
pub struct PlayersImported {
    pub imported: usize,
    /// Files whose uuid no `usercache.json` entry names (offline mode).
    pub unnamed: Vec<String>,
    pub damaged: Vec<String>,
    /// Items left out of records, with the player.
    pub dropped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlayerImportError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the register did not take the record of {name}: {reason}")]
    Register { name: String, reason: String },
}

#[derive(Deserialize)]
struct CachedUser {
    name: String,
    uuid: Uuid,
}

/// Names by uuid from the vanilla server's user cache: beside the world
/// folder (where vanilla keeps it) or inside it.
fn user_cache(world: &Path) -> Result<HashMap<Uuid, String>, PlayerImportError> {
    let candidates = [
        world.parent().map(|p| p.join("usercache.json")),
        Some(world.join("usercache.json")),
    ];
    for path in candidates.into_iter().flatten() {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(PlayerImportError::Read {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let users: Vec<CachedUser> =
            serde_json::from_str(&text).map_err(|e| PlayerImportError::Read {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        return Ok(users.into_iter().map(|u| (u.uuid, u.name)).collect());
    }
    Ok(HashMap::new())
}

fn record_of(player: &VanillaPlayer, saved_at: u64) -> PlayerRecord {
    let inventory = player
        .inventory
        .iter()
        .map(|item| ItemEntry {
            slot: item.window_slot,
            item: item.item.clone(),
            count: item.count,
            nbt: item.tag.as_ref().and_then(|tag| {
                let mut bytes = Vec::new();
                tag.encode(&mut bytes).ok().map(|()| bytes)
            }),
        })
        .collect();
    let [x, y, z] = player.position;
    PlayerRecord {
        version: PLAYER_RECORD_VERSION,
        x,
        y,
        z,
        yaw: player.yaw,
        pitch: player.pitch,
        dimension: DIMENSION_NAME.to_owned(),
        game_mode: player.game_mode,
        held_slot: player.held_slot,
        inventory,
        saved_at,
        revision: 0,
    }
}

/// Writes a record for each player file of `world/playerdata/`, replacing
/// the record a player of that uuid had here: the imported world is the
/// one it will play in.
pub async fn import_players(
    records: &PlayerRecords,
    world: &Path,
    online_mode: bool,
) -> Result<PlayersImported, PlayerImportError> {
    let folder = world.join("playerdata");
    let mut files = match std::fs::read_dir(&folder) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "dat"))
            .collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => {
            return Err(PlayerImportError::Read {
                path: folder,
                reason: e.to_string(),
            })
        }
    };
    files.sort();
    let names = if online_mode {
        HashMap::new()
    } else {
        user_cache(world)?
    };
    let mut report = PlayersImported::default();
    let now = tessera_auth::accounts::now();
    for file in files {
        let player = match player_dat::read(&file) {
            Ok(player) => player,
            Err(e) => {
                report.damaged.push(e.to_string());
                continue;
            }
        };
        let (uuid, name) = if online_mode || player.uuid.get_version_num() == 3 {
            (player.uuid, player.uuid.to_string())
        } else {
            match names.get(&player.uuid) {
                Some(name) => (offline_uuid(name), name.clone()),
                None => {
                    report.unnamed.push(file.display().to_string());
                    continue;
                }
            }
        };
        for what in &player.dropped {
            report.dropped.push(format!("{name}: {what}"));
        }
        records
            .save(&uuid.to_string(), &record_of(&player, now))
            .await
            .map_err(|e| PlayerImportError::Register {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        report.imported += 1;
    }
    Ok(report)
}
