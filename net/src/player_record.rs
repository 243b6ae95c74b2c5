//! Conversion between a player's state in the world and its record in the
//! register. The record is plain data owned by the auth crate; what a
//! record holds that this server cannot use is dropped and reported.

use tessera_auth::accounts::player_record::{ItemEntry, PlayerRecord, PLAYER_RECORD_VERSION};
use tessera_world::coords::{MIN_Y, WORLD_HEIGHT};
use tessera_world::player::{PlayerState, INVENTORY_SLOTS, WORLD_BORDER};
use tessera_world::registry::DIMENSION_NAME;
use valence_protocol::math::DVec3;
use valence_protocol::nbt::Compound;
use valence_protocol::{Decode, Encode, GameMode, ItemKind, ItemStack};

pub fn to_record(state: &PlayerState, saved_at: u64) -> PlayerRecord {
    let inventory = state
        .inventory
        .iter()
        .enumerate()
        .filter_map(|(slot, stack)| {
            let stack = stack.as_ref()?;
            let nbt = stack.nbt.as_ref().and_then(|nbt| {
                let mut bytes = Vec::new();
                nbt.encode(&mut bytes).ok().map(|()| bytes)
            });
            Some(ItemEntry {
                slot: slot as u8,
                item: stack.item.to_str().to_owned(),
                count: stack.count(),
                nbt,
            })
        })
        .collect();
    PlayerRecord {
        version: PLAYER_RECORD_VERSION,
        x: state.position.x,
        y: state.position.y,
        z: state.position.z,
        yaw: state.yaw,
        pitch: state.pitch,
        dimension: DIMENSION_NAME.to_owned(),
        game_mode: state.game_mode as u8,
        held_slot: state.held_slot,
        inventory,
        saved_at,
        revision: state.revision,
    }
}

/// Puts what `record` holds into `state`, keeping `state`'s values for what
/// the record cannot give (a position outside the world, an unknown item).
/// Returns a description of each thing left out, for the log.
pub fn restore(record: &PlayerRecord, state: &mut PlayerState) -> Vec<String> {
    let mut dropped = Vec::new();
    let position = DVec3::new(record.x, record.y, record.z);
    if record.dimension != DIMENSION_NAME {
        dropped.push(format!(
            "position in unknown dimension {}",
            record.dimension
        ));
    } else if !inside_world(position) {
        dropped.push(format!("position {position} outside the world"));
    } else {
        state.position = position;
        if record.yaw.is_finite() && record.pitch.is_finite() {
            state.yaw = record.yaw;
            state.pitch = record.pitch.clamp(-90.0, 90.0);
        }
    }
    match game_mode(record.game_mode) {
        Some(mode) => state.game_mode = mode,
        None => dropped.push(format!("unknown game mode {}", record.game_mode)),
    }
    if record.held_slot < 9 {
        state.held_slot = record.held_slot;
    } else {
        dropped.push(format!("held slot {}", record.held_slot));
    }
    let mut inventory = vec![None; INVENTORY_SLOTS];
    for entry in &record.inventory {
        let slot = usize::from(entry.slot);
        if slot >= INVENTORY_SLOTS {
            dropped.push(format!("slot {slot} beyond the inventory"));
            continue;
        }
        let Some(kind) = ItemKind::from_str(&entry.item).filter(|k| *k != ItemKind::Air) else {
            dropped.push(format!("unknown item {:?} in slot {slot}", entry.item));
            continue;
        };
        let nbt = match &entry.nbt {
            None => None,
            Some(bytes) => match decode_nbt(bytes) {
                Some(nbt) => Some(nbt),
                None => {
                    dropped.push(format!("damaged NBT of {} in slot {slot}", entry.item));
                    None
                }
            },
        };
        inventory[slot] = Some(ItemStack::new(kind, entry.count, nbt));
    }
    state.inventory = inventory;
    state.revision = record.revision;
    dropped
}

fn inside_world(p: DVec3) -> bool {
    p.is_finite()
        && p.x.abs() <= WORLD_BORDER
        && p.z.abs() <= WORLD_BORDER
        && p.y >= f64::from(MIN_Y - 64)
        && p.y <= f64::from(MIN_Y + WORLD_HEIGHT + 256)
}

fn game_mode(number: u8) -> Option<GameMode> {
    match number {
        0 => Some(GameMode::Survival),
        1 => Some(GameMode::Creative),
        2 => Some(GameMode::Adventure),
        3 => Some(GameMode::Spectator),
        _ => None,
    }
}

fn decode_nbt(bytes: &[u8]) -> Option<Compound> {
    let mut r = bytes;
    let nbt = Compound::decode(&mut r).ok()?;
    r.is_empty().then_some(nbt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn fresh() -> PlayerState {
        PlayerState::new(Uuid::nil(), "Alice".into(), 7, DVec3::new(0.5, 65.0, 0.5))
    }

    #[test]
    fn a_state_survives_the_round_trip() {
        let mut state = fresh();
        state.position = DVec3::new(123.25, 70.0, -456.75);
        state.yaw = 135.0;
        state.pitch = -20.0;
        state.game_mode = GameMode::Creative;
        state.held_slot = 3;
        let mut nbt = Compound::new();
        nbt.insert("Damage", 5);
        state.inventory[36] = Some(ItemStack::new(ItemKind::Diamond, 12, None));
        state.inventory[39] = Some(ItemStack::new(ItemKind::IronSword, 1, Some(nbt)));
        state.inventory[45] = Some(ItemStack::new(ItemKind::Shield, 1, None));

        let record = to_record(&state, 42);
        assert_eq!(record.inventory.len(), 3);
        assert_eq!(record.inventory[0].item, "diamond");
        let mut back = fresh();
        assert!(restore(&record, &mut back).is_empty());
        assert_eq!(back.position, state.position);
        assert_eq!((back.yaw, back.pitch), (135.0, -20.0));
        assert_eq!(back.game_mode, GameMode::Creative);
        assert_eq!(back.held_slot, 3);
        assert_eq!(back.inventory, state.inventory);
    }

    #[test]
    fn what_cannot_be_used_is_dropped_and_reported() {
        let mut record = to_record(&fresh(), 0);
        record.x = f64::NAN;
        record.game_mode = 9;
        record.held_slot = 12;
        record.inventory = vec![
            ItemEntry {
                slot: 36,
                item: "no_such_item".into(),
                count: 1,
                nbt: None,
            },
            ItemEntry {
                slot: 200,
                item: "stone".into(),
                count: 1,
                nbt: None,
            },
            ItemEntry {
                slot: 37,
                item: "stone".into(),
                count: 64,
                nbt: Some(vec![0xff, 0x01]),
            },
        ];
        let mut state = fresh();
        let dropped = restore(&record, &mut state);
        assert_eq!(dropped.len(), 6, "{dropped:?}");
        assert_eq!(
            state.position,
            fresh().position,
            "a bad position keeps spawn"
        );
        assert_eq!(state.game_mode, GameMode::Survival);
        assert_eq!(state.held_slot, 0);
        assert_eq!(state.inventory[36], None);
        assert_eq!(
            state.inventory[37],
            Some(ItemStack::new(ItemKind::Stone, 64, None)),
            "the item stays, without its damaged NBT"
        );
    }

    #[test]
    fn a_position_in_another_dimension_is_not_used_but_the_inventory_is() {
        let mut state = fresh();
        state.position = DVec3::new(5.0, 80.0, 5.0);
        state.inventory[0] = Some(ItemStack::new(ItemKind::Apple, 2, None));
        let mut record = to_record(&state, 0);
        record.dimension = "minecraft:the_nether".into();
        let mut back = fresh();
        assert_eq!(restore(&record, &mut back).len(), 1);
        assert_eq!(back.position, fresh().position);
        assert_eq!(back.inventory[0], state.inventory[0]);
    }
}
