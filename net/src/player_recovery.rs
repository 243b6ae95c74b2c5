//! Players' states that only a region's journal held (their node died
//! before their session saved them) written into their records, so a
//! player who logs in again has exactly what the blocks it placed left it:
//! at start-up, for every journal, before anyone is let in; and whenever a
//! region is taken over, for the states it replayed.
//!
//! A state is written only if it is later (a higher revision) than the
//! record. The register has no compare-and-set: a session of the same
//! player saving between the read and the write here is the one race left;
//! its state is of the same lineage and at least as late, and its next save
//! (every 30 s, and at logout) writes it again.

use std::collections::HashMap;
use std::time::Duration;

use tessera_auth::accounts::{PlayerRecords, StoredPlayer};
use tessera_world::journal::JournalPlayer;
use tessera_world::player::PlayerState;
use tokio::sync::mpsc;
use tracing::{info, warn};
use uuid::Uuid;

use crate::player_record::to_record;

/// Replayed states waiting to be written; a region sends each of its
/// players once per take-over.
pub const QUEUE: usize = 4_096;
const RETRY_AFTER: Duration = Duration::from_secs(1);
const ATTEMPTS: u32 = 10;

/// What writing one state did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The record was older (or missing) and now holds the state.
    Recovered,
    /// The record already held this state or a later one.
    AlreadyLater,
}

/// The record a journaled state makes.
fn record_of(state: &JournalPlayer) -> tessera_auth::accounts::player_record::PlayerRecord {
    let mut player = PlayerState::new(state.uuid, String::new(), 0, state.position());
    player.yaw = state.yaw;
    player.pitch = state.pitch;
    state.apply_to(&mut player);
    to_record(&player, tessera_auth::accounts::now())
}

/// Writes `state` into its player's record if it is later.
pub async fn write_if_later(
    records: &PlayerRecords,
    state: &JournalPlayer,
) -> Result<Written, String> {
    let uuid = state.uuid.to_string();
    match records.load(&uuid).await.map_err(|e| e.to_string())? {
        StoredPlayer::Found(record) if record.revision >= state.revision => {
            return Ok(Written::AlreadyLater)
        }
        StoredPlayer::Found(_) | StoredPlayer::Missing => {}
        // The damaged bytes were kept aside by the load; the journaled
        // state is the best there is now.
        StoredPlayer::Damaged { error, .. } => {
            warn!(%uuid, "player record damaged ({error}); its journaled state replaces it")
        }
    }
    records
        .save(&uuid, &record_of(state))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Written::Recovered)
}

/// Writes a state, trying again while the register is unavailable; what
/// it came to, `None` if the register never answered.
async fn write_with_retries(records: &PlayerRecords, state: &JournalPlayer) -> Option<Written> {
    let uuid = state.uuid;
    for attempt in 1..=ATTEMPTS {
        match write_if_later(records, state).await {
            Ok(written) => {
                if written == Written::Recovered {
                    info!(%uuid, revision = state.revision, "player record recovered from the journal");
                }
                return Some(written);
            }
            Err(e) => {
                warn!(%uuid, attempt, "journaled player state not written to its record yet: {e}");
                tokio::time::sleep(RETRY_AFTER * attempt).await;
            }
        }
    }
    warn!(%uuid, "journaled player state not written after {ATTEMPTS} attempts; the region carries it on");
    None
}

/// Writes the states found in every journal at start-up; returns how many
/// records it changed.
pub async fn recover_all(records: &PlayerRecords, states: HashMap<Uuid, JournalPlayer>) -> usize {
    let mut recovered = 0;
    for state in states.values() {
        if write_with_retries(records, state).await == Some(Written::Recovered) {
            recovered += 1;
        }
    }
    recovered
}

/// Writes what regions replay, for as long as the node runs.
pub fn spawn_writer(records: PlayerRecords) -> mpsc::Sender<JournalPlayer> {
    let (tx, mut rx) = mpsc::channel::<JournalPlayer>(QUEUE);
    tokio::spawn(async move {
        while let Some(state) = rx.recv().await {
            write_with_retries(&records, &state).await;
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tessera_auth::accounts::MemoryRegisters;
    use valence_protocol::{GameMode, ItemKind, ItemStack};

    use super::*;

    fn journaled(revision: u64, stone: u8) -> JournalPlayer {
        let mut player = PlayerState::new(
            Uuid::from_u128(7),
            "Alice".into(),
            1,
            valence_protocol::math::DVec3::new(3.5, 65.0, -2.5),
        );
        player.game_mode = GameMode::Survival;
        player.inventory[36] = Some(ItemStack::new(ItemKind::Stone, stone, None));
        player.revision = revision;
        JournalPlayer::of(&player)
    }

    fn records() -> PlayerRecords {
        PlayerRecords::new(Arc::new(MemoryRegisters::default()))
    }

    #[tokio::test]
    async fn a_later_journaled_state_replaces_the_record_and_an_older_one_does_not() {
        let records = records();
        let uuid = Uuid::from_u128(7).to_string();
        assert_eq!(
            write_if_later(&records, &journaled(5, 59)).await,
            Ok(Written::Recovered)
        );
        assert_eq!(
            write_if_later(&records, &journaled(3, 61)).await,
            Ok(Written::AlreadyLater)
        );
        let StoredPlayer::Found(record) = records.load(&uuid).await.unwrap() else {
            panic!("no record");
        };
        assert_eq!(record.revision, 5);
        assert_eq!(record.inventory[0].count, 59);
        assert_eq!((record.x, record.z), (3.5, -2.5));
        assert_eq!(
            write_if_later(&records, &journaled(6, 58)).await,
            Ok(Written::Recovered)
        );
    }
}
