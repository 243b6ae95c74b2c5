//! `player:<uuid>`: where a player was and what it carried when it last left,
//! so it comes back to the same place on any node.
//!
//! Plain data without the world's types (auth sits below world in the
//! crate graph); the frontend converts to and from its player state.

use serde::{Deserialize, Serialize};

/// The layout written now. Every field added later has a serde default, and
/// fields this version does not know are ignored, so old and new nodes of a
/// cluster read each other's records.
pub const PLAYER_RECORD_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayerRecord {
    #[serde(default = "first_version")]
    pub version: u32,
    pub x: f64,
    pub y: f64,
    pub z: f64,
    #[serde(default)]
    pub yaw: f32,
    #[serde(default)]
    pub pitch: f32,
    /// The dimension's identifier, e.g. `minecraft:overworld`.
    pub dimension: String,
    /// The protocol's numbering: survival 0, creative 1, adventure 2, spectator 3.
    #[serde(default)]
    pub game_mode: u8,
    /// Hotbar slot in hand, 0 to 8.
    #[serde(default)]
    pub held_slot: u8,
    /// The occupied slots of the inventory window; empty slots are left out.
    #[serde(default)]
    pub inventory: Vec<ItemEntry>,
    /// Seconds since the Unix epoch, for operators reading the register.
    #[serde(default)]
    pub saved_at: u64,
    /// The player's revision (changes journaled with its state) when this
    /// was saved: a region's journaled state with a higher one is later.
    #[serde(default)]
    pub revision: u64,
}

/// One occupied inventory slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemEntry {
    /// Slot of the player's inventory window (0 to 45).
    pub slot: u8,
    /// The item's name, e.g. `diamond`: names survive protocol versions,
    /// numeric ids do not.
    pub item: String,
    pub count: u8,
    /// The item's NBT in the protocol's binary encoding, if it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbt: Option<Vec<u8>>,
}

fn first_version() -> u32 {
    1
}

pub fn player_key(uuid: &str) -> String {
    format!("player:{uuid}")
}

/// Where a record that could not be read is kept, so starting the player
/// afresh does not destroy it.
pub fn damaged_player_key(uuid: &str) -> String {
    format!("player-damaged:{uuid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_later_fields_still_reads() {
        let old = br#"{"x":1.5,"y":70.0,"z":-3.25,"dimension":"minecraft:overworld"}"#;
        let record: PlayerRecord = serde_json::from_slice(old).unwrap();
        assert_eq!(record.version, 1);
        assert_eq!((record.x, record.y, record.z), (1.5, 70.0, -3.25));
        assert_eq!(record.game_mode, 0);
        assert!(record.inventory.is_empty());
    }

    #[test]
    fn fields_of_a_newer_version_are_ignored() {
        let newer = br#"{"version":7,"x":0.0,"y":64.0,"z":0.0,"dimension":"minecraft:overworld",
            "game_mode":1,"health":12.5,"inventory":[{"slot":36,"item":"stone","count":3,"glint":true}]}"#;
        let record: PlayerRecord = serde_json::from_slice(newer).unwrap();
        assert_eq!(record.version, 7);
        assert_eq!(record.game_mode, 1);
        assert_eq!(record.inventory[0].item, "stone");
        assert_eq!(record.inventory[0].nbt, None);
    }

    #[test]
    fn a_record_round_trips() {
        let record = PlayerRecord {
            version: PLAYER_RECORD_VERSION,
            x: 10.5,
            y: 65.0,
            z: -7.5,
            yaw: 90.0,
            pitch: -10.0,
            dimension: "minecraft:overworld".into(),
            game_mode: 1,
            held_slot: 4,
            inventory: vec![ItemEntry {
                slot: 36,
                item: "diamond".into(),
                count: 5,
                nbt: Some(vec![10, 0]),
            }],
            saved_at: 1_700_000_000,
            revision: 12,
        };
        let bytes = serde_json::to_vec(&record).unwrap();
        assert_eq!(
            serde_json::from_slice::<PlayerRecord>(&bytes).unwrap(),
            record
        );
    }
}
