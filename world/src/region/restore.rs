//! A player's saved record applied to it while it is already in the world.

use std::borrow::Cow;

use valence_protocol::packets::play::{InventoryS2c, UpdateSelectedSlotS2c};
use valence_protocol::VarInt;

use super::Region;
use crate::messages::{EntityId, FeedEvent, RegionMsg};
use crate::player::{PlayerState, INVENTORY_SLOTS};

impl Region {
    pub(super) fn restore(&mut self, entity: EntityId, mut saved: PlayerState) {
        let Some(player) = self.players.get_mut(&entity) else {
            let saved = Box::new(saved);
            return self.forward(entity, RegionMsg::Restore { entity, saved });
        };
        saved.uuid = player.state.uuid;
        if let Some(later) = self.durability.later_state_of(&saved) {
            later.apply_to(&mut saved);
        }
        let Some(player) = self.players.get_mut(&entity) else {
            return;
        };
        if saved.inventory.len() == INVENTORY_SLOTS {
            player.state.inventory = saved.inventory;
        }
        player.state.held_slot = saved.held_slot.min(8);
        player.state.yaw = saved.yaw;
        player.state.pitch = saved.pitch;
        player.state.revision = saved.revision;
        self.show_inventory(entity);
        self.set_game_mode(entity, saved.game_mode);
        // Last: the move may hand the player to another region.
        self.teleport(entity, saved.position);
    }

    /// Shows a player its whole inventory and hand, and the others what
    /// it holds.
    pub(super) fn show_inventory(&mut self, entity: EntityId) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get(&entity) else {
            return;
        };
        let mut buf = Vec::new();
        framing.append(
            &mut buf,
            &InventoryS2c {
                window_id: 0,
                state_id: VarInt(0),
                slots: Cow::Borrowed(&player.state.inventory),
                carried_item: Cow::Owned(None),
            },
        );
        framing.append(
            &mut buf,
            &UpdateSelectedSlotS2c {
                slot: player.state.held_slot,
            },
        );
        let session = player.session;
        let mut equipment = Vec::new();
        player.state.equipment_packet(&framing, &mut equipment);
        self.outbox.unicast(session, FeedEvent::Packets(buf.into()));
        self.feed_about(entity, equipment);
    }
}
