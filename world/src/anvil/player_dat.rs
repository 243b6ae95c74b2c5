//! A vanilla 1.20.1 `playerdata/<uuid>.dat`: where the player was and what
//! it carried, read for `tessera import`. Only what a Tessera player record
//! holds is read: position, rotation, game mode, selected slot, inventory.

use std::path::Path;

use uuid::Uuid;
use valence_protocol::nbt::{Compound, List, Value};

use super::gzip::gunzip;

/// A player as its vanilla file has it, with inventory slots already in
/// the numbering of the player's inventory window (hotbar 36..=44, main
/// 9..=35, armour 5..=8 from the head down, off hand 45).
#[derive(Debug, Clone, PartialEq)]
pub struct VanillaPlayer {
    pub uuid: Uuid,
    pub position: [f64; 3],
    pub yaw: f32,
    pub pitch: f32,
    /// The protocol's numbering: survival 0 to spectator 3.
    pub game_mode: u8,
    pub held_slot: u8,
    pub inventory: Vec<VanillaItem>,
    /// Items left out, with why: an unknown slot.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VanillaItem {
    pub window_slot: u8,
    /// Without the `minecraft:` prefix, as the player record names items.
    pub item: String,
    pub count: u8,
    pub tag: Option<Compound>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlayerDatError {
    #[error("{path}: the file name is not a player's uuid")]
    NotAUuid { path: String },
    #[error("{path}: {reason}")]
    Damaged { path: String, reason: String },
}

/// The window slot of a vanilla inventory slot number.
fn window_slot(vanilla: i8) -> Option<u8> {
    match vanilla {
        0..=8 => Some(36 + vanilla as u8),
        9..=35 => Some(vanilla as u8),
        100..=103 => Some(8 - (vanilla as u8 - 100)),
        -106 => Some(45),
        _ => None,
    }
}

/// Reads the file at `path`, named `<uuid>.dat`.
pub fn read(path: &Path) -> Result<VanillaPlayer, PlayerDatError> {
    let name = path.display().to_string();
    let uuid = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| PlayerDatError::NotAUuid { path: name.clone() })?;
    let damaged = |reason: String| PlayerDatError::Damaged {
        path: name.clone(),
        reason,
    };
    let gz = std::fs::read(path).map_err(|e| damaged(e.to_string()))?;
    decode(uuid, &gz).map_err(damaged)
}

/// The player `uuid` from its file's bytes, `gz`.
pub fn decode(uuid: Uuid, gz: &[u8]) -> Result<VanillaPlayer, String> {
    let binary = gunzip(gz)?;
    let root = super::nbt::parse(&binary)?;
    parse(uuid, &root)
}

fn parse(uuid: Uuid, root: &Compound) -> Result<VanillaPlayer, String> {
    let position = match root.get("Pos") {
        Some(Value::List(List::Double(p))) if p.len() == 3 => [p[0], p[1], p[2]],
        _ => return Err("no Pos of three doubles".into()),
    };
    let (yaw, pitch) = match root.get("Rotation") {
        Some(Value::List(List::Float(r))) if r.len() == 2 => (r[0], r[1]),
        _ => (0.0, 0.0),
    };
    let game_mode = match root.get("playerGameType") {
        Some(Value::Int(mode)) => u8::try_from(*mode).ok().filter(|m| *m <= 3).unwrap_or(0),
        _ => 0,
    };
    let held_slot = match root.get("SelectedItemSlot") {
        Some(Value::Int(slot)) => u8::try_from(*slot).ok().filter(|s| *s < 9).unwrap_or(0),
        _ => 0,
    };
    let mut inventory = Vec::new();
    let mut dropped = Vec::new();
    if let Some(Value::List(List::Compound(items))) = root.get("Inventory") {
        for item in items {
            let (Some(Value::Byte(slot)), Some(Value::String(id)), Some(Value::Byte(count))) =
                (item.get("Slot"), item.get("id"), item.get("Count"))
            else {
                dropped.push("an item without Slot, id or Count".into());
                continue;
            };
            let Some(window_slot) = window_slot(*slot) else {
                dropped.push(format!("{id} in unknown slot {slot}"));
                continue;
            };
            let tag = match item.get("tag") {
                Some(Value::Compound(tag)) => Some(tag.clone()),
                _ => None,
            };
            inventory.push(VanillaItem {
                window_slot,
                item: id.strip_prefix("minecraft:").unwrap_or(id).to_owned(),
                count: u8::try_from(*count).unwrap_or(1).clamp(1, 64),
                tag,
            });
        }
    }
    Ok(VanillaPlayer {
        uuid,
        position,
        yaw,
        pitch,
        game_mode,
        held_slot,
        inventory,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;

    use super::*;

    fn item(slot: i8, id: &str, count: i8) -> Compound {
        let mut c = Compound::new();
        c.insert("Slot", slot);
        c.insert("id", id.to_owned());
        c.insert("Count", count);
        c
    }

    #[test]
    fn a_vanilla_player_file_gives_its_place_and_its_items_in_window_slots() {
        let mut root = Compound::new();
        root.insert("Pos", List::Double(vec![10.5, 70.0, -3.25]));
        root.insert("Rotation", List::Float(vec![90.0, -15.0]));
        root.insert("playerGameType", 1);
        root.insert("SelectedItemSlot", 4);
        let mut sword = item(0, "minecraft:diamond_sword", 1);
        let mut tag = Compound::new();
        tag.insert("Damage", 3);
        sword.insert("tag", tag);
        root.insert(
            "Inventory",
            List::Compound(vec![
                sword,
                item(9, "minecraft:stone", 64),
                item(103, "minecraft:iron_helmet", 1),
                item(100, "minecraft:iron_boots", 1),
                item(-106, "minecraft:shield", 1),
                item(77, "minecraft:dirt", 3),
            ]),
        );
        let mut binary = Vec::new();
        root.to_binary(&mut binary, "").unwrap();
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&binary).unwrap();
        let dir = std::env::temp_dir().join(format!("tessera-player-dat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let uuid = Uuid::from_u128(0x1234);
        let path = dir.join(format!("{uuid}.dat"));
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let player = read(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(player.uuid, uuid);
        assert_eq!(player.position, [10.5, 70.0, -3.25]);
        assert_eq!((player.yaw, player.pitch), (90.0, -15.0));
        assert_eq!((player.game_mode, player.held_slot), (1, 4));
        let slots: Vec<(u8, &str, u8)> = player
            .inventory
            .iter()
            .map(|i| (i.window_slot, i.item.as_str(), i.count))
            .collect();
        assert_eq!(
            slots,
            vec![
                (36, "diamond_sword", 1),
                (9, "stone", 64),
                (5, "iron_helmet", 1),
                (8, "iron_boots", 1),
                (45, "shield", 1)
            ]
        );
        assert!(player.inventory[0].tag.is_some());
        assert_eq!(player.dropped, vec!["minecraft:dirt in unknown slot 77"]);
    }

    #[test]
    fn a_file_not_named_by_a_uuid_or_not_gzip_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("tessera-player-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let named = dir.join("steve.dat");
        std::fs::write(&named, b"x").unwrap();
        assert!(matches!(read(&named), Err(PlayerDatError::NotAUuid { .. })));
        let junk = dir.join(format!("{}.dat", Uuid::from_u128(9)));
        std::fs::write(&junk, b"not gzip").unwrap();
        let error = read(&junk).unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(error.contains("not gzip"), "{error}");
    }
}
