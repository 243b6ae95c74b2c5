//! Player records in the replicated register: read when a player comes,
//! written when it leaves and now and then while it plays.

use std::sync::Arc;

use super::player_record::{damaged_player_key, player_key, PlayerRecord};
use super::registers::{RegisterUnavailable, Registers};

/// What the register holds for a player.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredPlayer {
    /// Never saved: a first visit.
    Missing,
    Found(PlayerRecord),
    /// A record is there but cannot be read. Its bytes were copied to
    /// `player-damaged:<uuid>` (if `kept`) so a fresh start does not lose them.
    Damaged {
        error: String,
        kept: bool,
    },
}

#[derive(Clone)]
pub struct PlayerRecords {
    registers: Arc<dyn Registers>,
}

impl PlayerRecords {
    pub fn new(registers: Arc<dyn Registers>) -> Self {
        Self { registers }
    }

    pub async fn load(&self, uuid: &str) -> Result<StoredPlayer, RegisterUnavailable> {
        let Some(bytes) = self.registers.read(&player_key(uuid)).await? else {
            return Ok(StoredPlayer::Missing);
        };
        match serde_json::from_slice(&bytes) {
            Ok(record) => Ok(StoredPlayer::Found(record)),
            Err(e) => {
                let kept = self
                    .registers
                    .write(&damaged_player_key(uuid), Some(bytes))
                    .await
                    .is_ok();
                Ok(StoredPlayer::Damaged {
                    error: e.to_string(),
                    kept,
                })
            }
        }
    }

    /// Writes the record; the register keeps the last write, so the caller
    /// orders the saves of one player (see the frontend's session).
    pub async fn save(&self, uuid: &str, record: &PlayerRecord) -> Result<(), RegisterUnavailable> {
        let bytes = serde_json::to_vec(record)
            .map_err(|e| RegisterUnavailable(format!("player record not encoded: {e}")))?;
        self.registers.write(&player_key(uuid), Some(bytes)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::player_record::PLAYER_RECORD_VERSION;
    use crate::accounts::registers::MemoryRegisters;

    fn record(x: f64) -> PlayerRecord {
        PlayerRecord {
            version: PLAYER_RECORD_VERSION,
            x,
            y: 64.0,
            z: 0.0,
            yaw: 0.0,
            pitch: 0.0,
            dimension: "minecraft:overworld".into(),
            game_mode: 0,
            held_slot: 0,
            inventory: Vec::new(),
            saved_at: 0,
            revision: 0,
        }
    }

    #[tokio::test]
    async fn saved_records_load_and_the_last_save_wins() {
        let records = PlayerRecords::new(Arc::new(MemoryRegisters::default()));
        assert_eq!(records.load("u1").await.unwrap(), StoredPlayer::Missing);
        records.save("u1", &record(1.0)).await.unwrap();
        records.save("u1", &record(2.0)).await.unwrap();
        assert_eq!(
            records.load("u1").await.unwrap(),
            StoredPlayer::Found(record(2.0))
        );
        assert_eq!(records.load("u2").await.unwrap(), StoredPlayer::Missing);
    }

    #[tokio::test]
    async fn a_damaged_record_is_reported_and_kept_aside() {
        let registers = Arc::new(MemoryRegisters::default());
        let garbage = b"{\"x\": \"not a number\"".to_vec();
        registers
            .write(&player_key("u1"), Some(garbage.clone()))
            .await
            .unwrap();
        let records = PlayerRecords::new(registers.clone());
        match records.load("u1").await.unwrap() {
            StoredPlayer::Damaged { error, kept } => {
                assert!(!error.is_empty());
                assert!(kept);
            }
            other => panic!("expected a damaged record, got {other:?}"),
        }
        assert_eq!(
            registers.read(&damaged_player_key("u1")).await.unwrap(),
            Some(garbage)
        );
    }
}
