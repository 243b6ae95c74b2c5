//! A player's state as its region owns it, and the packets that show it.

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use valence_protocol::math::DVec3;
use valence_protocol::packets::play::entity_equipment_update_s2c::EquipmentEntry;
use valence_protocol::packets::play::{
    EntityEquipmentUpdateS2c, EntityPositionS2c, EntitySetHeadYawS2c, EntityTrackerUpdateS2c,
    PlayerSpawnS2c, ScreenHandlerSlotUpdateS2c,
};
use valence_protocol::{ByteAngle, ChunkPos, GameMode, ItemStack, RawBytes, VarInt};

use crate::coords::chunk_of_point;
use crate::feed::FeedEvent;
use crate::framing::Framing;
use crate::ids::EntityId;

/// Farthest a client may claim to have moved in one packet before it is
/// put back where the server last saw it.
pub const MAX_STEP: f64 = 100.0;
/// How far from the origin a player may go, as vanilla's world border.
pub const WORLD_BORDER: f64 = 29_999_984.0;

/// Whether a client's claimed move from `from` to `to` may stand: finite,
/// within the world's height and border, and not too far in one packet.
pub fn plausible(from: DVec3, to: DVec3) -> bool {
    to.is_finite()
        && to.y > f64::from(crate::coords::MIN_Y - 128)
        && to.y < f64::from(crate::coords::MIN_Y + crate::coords::WORLD_HEIGHT + 512)
        && to.x.abs() <= WORLD_BORDER
        && to.z.abs() <= WORLD_BORDER
        && from.distance(to) <= MAX_STEP
}

/// Slots of the player inventory window: crafting, armour, main, hotbar, off hand.
pub const INVENTORY_SLOTS: usize = 46;
/// Window slot of the first hotbar slot.
pub const HOTBAR_START: usize = 36;
/// Window slot of the off hand.
pub const OFF_HAND_SLOT: usize = 45;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlayerState {
    pub uuid: Uuid,
    pub name: String,
    pub entity: EntityId,
    pub position: DVec3,
    pub yaw: f32,
    pub pitch: f32,
    pub on_ground: bool,
    #[serde(with = "crate::wire::protocol")]
    pub game_mode: GameMode,
    #[serde(with = "crate::wire::protocol")]
    pub inventory: Vec<Option<ItemStack>>,
    pub held_slot: u8,
    pub sneaking: bool,
    pub sprinting: bool,
    /// A server-set position the client has not confirmed yet; its moves
    /// until then predate the teleport and are ignored.
    pub awaiting_teleport: Option<i32>,
    /// Handoffs the player went through; of two copies, the higher is newer.
    pub hop: u64,
    /// Counts the changes journaled with the player's state (an item used
    /// up by a placement); saved in its record, so the later of a record
    /// and a journaled state is known.
    pub revision: u64,
}

impl PlayerState {
    pub fn new(uuid: Uuid, name: String, entity: EntityId, position: DVec3) -> Self {
        Self {
            uuid,
            name,
            entity,
            position,
            yaw: 0.0,
            pitch: 0.0,
            on_ground: true,
            game_mode: GameMode::Survival,
            inventory: vec![None; INVENTORY_SLOTS],
            held_slot: 0,
            sneaking: false,
            sprinting: false,
            awaiting_teleport: None,
            hop: 0,
            revision: 0,
        }
    }

    pub fn chunk(&self) -> ChunkPos {
        chunk_of_point(self.position.x, self.position.z)
    }

    pub fn held_item(&self) -> Option<&ItemStack> {
        self.inventory
            .get(HOTBAR_START + usize::from(self.held_slot))
            .and_then(Option::as_ref)
    }

    /// Entity metadata: the flags byte (sneaking, sprinting) and the pose.
    pub fn metadata(&self) -> Vec<u8> {
        const FLAGS_INDEX: u8 = 0;
        const POSE_INDEX: u8 = 6;
        const BYTE_TYPE: u8 = 0;
        const POSE_TYPE: u8 = 20;
        const STANDING: u8 = 0;
        const CROUCHING: u8 = 5;
        let flags = (self.sneaking as u8) << 1 | (self.sprinting as u8) << 3;
        let pose = if self.sneaking { CROUCHING } else { STANDING };
        vec![
            FLAGS_INDEX,
            BYTE_TYPE,
            flags,
            POSE_INDEX,
            POSE_TYPE,
            pose,
            0xff,
        ]
    }

    pub fn metadata_packet(&self, framing: &Framing, buf: &mut Vec<u8>) {
        let metadata = self.metadata();
        framing.append(
            buf,
            &EntityTrackerUpdateS2c {
                entity_id: VarInt(self.entity),
                metadata: RawBytes(&metadata),
            },
        );
    }

    pub fn equipment_packet(&self, framing: &Framing, buf: &mut Vec<u8>) {
        const MAIN_HAND: i8 = 0;
        const OFF_HAND: i8 = 1;
        framing.append(
            buf,
            &EntityEquipmentUpdateS2c {
                entity_id: VarInt(self.entity),
                equipment: vec![
                    EquipmentEntry {
                        slot: MAIN_HAND,
                        item: self.held_item().cloned(),
                    },
                    EquipmentEntry {
                        slot: OFF_HAND,
                        item: self.inventory[OFF_HAND_SLOT].clone(),
                    },
                ],
            },
        );
    }

    /// What a client that does not show this player yet needs to show it.
    pub fn spawn_packets(&self, framing: &Framing) -> Bytes {
        let mut buf = Vec::new();
        framing.append(
            &mut buf,
            &PlayerSpawnS2c {
                entity_id: VarInt(self.entity),
                player_uuid: self.uuid,
                position: self.position,
                yaw: ByteAngle::from_degrees(self.yaw),
                pitch: ByteAngle::from_degrees(self.pitch),
            },
        );
        framing.append(
            &mut buf,
            &EntitySetHeadYawS2c {
                entity_id: VarInt(self.entity),
                head_yaw: ByteAngle::from_degrees(self.yaw),
            },
        );
        self.metadata_packet(framing, &mut buf);
        self.equipment_packet(framing, &mut buf);
        Bytes::from(buf)
    }
}

impl PlayerState {
    /// The absolute position and look of this player's entity.
    pub fn position_packet(&self, framing: &Framing) -> Bytes {
        framing.frame(&EntityPositionS2c {
            entity_id: VarInt(self.entity),
            position: self.position,
            yaw: ByteAngle::from_degrees(self.yaw),
            pitch: ByteAngle::from_degrees(self.pitch),
            on_ground: self.on_ground,
        })
    }

    /// Tells the client what one of its inventory slots holds.
    pub fn slot_packet(&self, framing: &Framing, slot: usize) -> Bytes {
        framing.frame(&ScreenHandlerSlotUpdateS2c {
            window_id: 0,
            state_id: VarInt(0),
            slot_idx: slot as i16,
            slot_data: Cow::Borrowed(&self.inventory[slot]),
        })
    }

    /// Tells the viewers of this player's chunk that it is there now.
    pub fn entered(&self, framing: &Framing) -> FeedEvent {
        FeedEvent::EntityEntered {
            entity: self.entity,
            chunk: self.chunk(),
            spawn: self.spawn_packets(framing),
            position: self.position_packet(framing),
        }
    }
}

/// Packets of an entity list removal.
pub fn despawn_packet(framing: &Framing, entities: &[EntityId]) -> Bytes {
    let ids: Vec<VarInt> = entities.iter().map(|&e| VarInt(e)).collect();
    framing.frame(&valence_protocol::packets::play::EntitiesDestroyS2c {
        entity_ids: Cow::Owned(ids),
    })
}

/// The abilities a game mode grants (flying, instant breaking).
pub fn abilities_packet(framing: &Framing, mode: GameMode, buf: &mut Vec<u8>) {
    use valence_protocol::packets::play::player_abilities_s2c::PlayerAbilitiesFlags;
    use valence_protocol::packets::play::PlayerAbilitiesS2c;
    let creative = mode == GameMode::Creative;
    let spectator = mode == GameMode::Spectator;
    framing.append(
        buf,
        &PlayerAbilitiesS2c {
            flags: PlayerAbilitiesFlags::new()
                .with_invulnerable(creative || spectator)
                .with_flying(spectator)
                .with_allow_flying(creative || spectator)
                .with_instant_break(creative),
            flying_speed: 0.05,
            fov_modifier: 0.1,
        },
    );
}
