//! Carrying out digging, placing and inventory edits, and block changes
//! across the border, as the rules in `block_rules` decide them.

use std::time::Instant;

use tracing::warn;

use valence_protocol::packets::play::{
    BlockBreakingProgressS2c, BlockUpdateS2c, PlayerActionResponseS2c,
};
use valence_protocol::{
    BlockPos, BlockState, ChunkPos, Direction, GameMode, Hand, ItemStack, VarInt,
};

use super::block_rules::{
    breaks_at_once, change_allowed, dig_check, dug_long_enough, placement, DigCheck, Placement,
};
use super::{Digging, Region, Slot};
use crate::hardness::break_time;
use crate::messages::{
    BlockChange, Dig, DigPhase, EntityId, FeedEvent, Precondition, RegionMsg, SessionAddr,
};
use crate::player::INVENTORY_SLOTS;

/// Breaking progress stage that clears the cracks.
const NO_CRACKS: u8 = 10;

/// The item a survival placement uses up: the player's slot.
#[derive(Clone, Copy)]
struct ItemUse {
    entity: EntityId,
    slot: usize,
}

impl Region {
    /// Acknowledges a player's action; after the changes before it are durable.
    pub(super) fn ack(&mut self, session: SessionAddr, sequence: i32) {
        let packet = self.ctx.framing.frame(&PlayerActionResponseS2c {
            sequence: VarInt(sequence),
        });
        self.confirm_unicast(session, FeedEvent::Packets(packet));
    }

    /// A player's digging, checked here for reach and game mode, then timed
    /// by the region that owns the block (it may be across the border).
    pub(super) fn dig(&mut self, entity: EntityId, pos: BlockPos, sequence: i32, phase: DigPhase) {
        let Some(player) = self.players.get(&entity) else {
            return;
        };
        let session = player.session;
        let creative = match dig_check(&player.state, pos, phase) {
            DigCheck::Acknowledge => return self.ack(session, sequence),
            DigCheck::Refuse => return self.refuse(entity, pos, sequence),
            DigCheck::Time { creative } => creative,
        };
        let dig = Dig {
            entity,
            session,
            pos,
            sequence,
            phase,
            creative,
        };
        let chunk = ChunkPos::from_block_pos(pos);
        if self.ctx.grid.contains(self.pos(), chunk) {
            self.handle(RegionMsg::Dig(dig));
        } else {
            let region = self.ctx.grid.region_of_chunk(chunk);
            if let Err(e) = self.host.to_region(region, RegionMsg::Dig(dig)) {
                warn!(region = %self.pos(), to = %region, "dig not sent: {e}");
            }
        }
    }

    /// Digging of a block in one of this region's chunks: instant in
    /// creative, otherwise it must last about as long as the block takes.
    pub(super) fn timed_dig(&mut self, dig: Dig) {
        let Dig {
            entity,
            session,
            pos,
            sequence,
            phase,
            creative,
        } = dig;
        let current = self.block_at(pos);
        match phase {
            DigPhase::Start => {
                if breaks_at_once(creative, current) {
                    return self.apply_block_change(BlockChange {
                        pos,
                        only_if: Precondition::Breakable,
                        state: BlockState::AIR,
                        ack: Some((session, sequence)),
                    });
                }
                self.diggers.insert(
                    entity,
                    Digging {
                        pos,
                        started: Instant::now(),
                        stage: 0,
                    },
                );
                self.ack(session, sequence);
            }
            DigPhase::Abort => {
                if self.diggers.remove(&entity).is_some() {
                    self.show_cracks(entity, pos, NO_CRACKS);
                }
                self.ack(session, sequence);
            }
            DigPhase::Finish => {
                let started = match self.diggers.remove(&entity) {
                    Some(digging) if digging.pos == pos => digging.started,
                    _ => return self.refuse_to(session, pos, sequence),
                };
                self.show_cracks(entity, pos, NO_CRACKS);
                if !dug_long_enough(current, started.elapsed()) {
                    return self.refuse_to(session, pos, sequence);
                }
                self.apply_block_change(BlockChange {
                    pos,
                    only_if: Precondition::Breakable,
                    state: BlockState::AIR,
                    ack: Some((session, sequence)),
                });
            }
        }
    }

    /// Advances the breaking cracks other players see on blocks being dug.
    pub(super) fn dig_progress(&mut self) {
        let mut updates = Vec::new();
        for (&entity, digging) in &mut self.diggers {
            let Some(total) = block_in(&self.chunks, digging.pos).and_then(break_time) else {
                continue;
            };
            let done = digging.started.elapsed().as_secs_f32() / total.as_secs_f32().max(0.05);
            let stage = ((done * 10.0) as u8).min(9);
            if stage != digging.stage {
                digging.stage = stage;
                updates.push((entity, digging.pos, stage));
            }
        }
        for (entity, pos, stage) in updates {
            self.show_cracks(entity, pos, stage);
        }
    }

    fn show_cracks(&mut self, entity: EntityId, pos: BlockPos, stage: u8) {
        let chunk = ChunkPos::from_block_pos(pos);
        let packet = self.ctx.framing.frame(&BlockBreakingProgressS2c {
            entity_id: VarInt(entity),
            position: pos,
            destroy_stage: stage,
        });
        self.outbox.feed(
            chunk,
            FeedEvent::Entity {
                entity,
                packets: packet,
            },
        );
    }

    pub(super) fn place(
        &mut self,
        entity: EntityId,
        hand: Hand,
        against: BlockPos,
        face: Direction,
        sequence: i32,
    ) {
        let Some(player) = self.players.get(&entity) else {
            return;
        };
        let session = player.session;
        let decision = placement(&player.state, hand, against, face, |pos| {
            block_in(&self.chunks, pos)
        });
        let (target, state, uses) = match decision {
            Placement::Nothing => return self.ack(session, sequence),
            Placement::Refused { pos } => return self.refuse(entity, pos, sequence),
            Placement::Place { pos, state, uses } => (pos, state, uses),
        };
        let change = BlockChange {
            pos: target,
            only_if: Precondition::Replaceable,
            state,
            ack: Some((session, sequence)),
        };
        let chunk = ChunkPos::from_block_pos(target);
        let here = self.ctx.grid.contains(self.pos(), chunk);
        if here && matches!(self.chunks.get(&chunk), Some(Slot::Ready(_))) {
            let uses = uses.map(|slot| ItemUse { entity, slot });
            return self.apply_change_using(change, uses);
        }
        // Across the border (or in a chunk still loading) the item is used
        // up first and the block set later, maybe by another region: a
        // refusal then, or a crash of that region before its journal took
        // the block, costs the item. The reverse order could give the item
        // back with the block placed.
        if let Some(slot) = uses {
            self.take_one(entity, slot);
        }
        if here {
            return self.handle(RegionMsg::SetBlock(change));
        }
        let region = self.ctx.grid.region_of_chunk(chunk);
        if let Err(e) = self.host.to_region(region, RegionMsg::SetBlock(change)) {
            warn!(region = %self.pos(), to = %region, "block change not sent: {e}");
        }
    }

    /// Uses up one item of a survival player's stack; the player's new
    /// state goes into the journal with the changes noted so far, and the
    /// client sees its slot once that is durable.
    fn take_one(&mut self, entity: EntityId, slot: usize) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get_mut(&entity) else {
            return;
        };
        let Some(stack) = &mut player.state.inventory[slot] else {
            return;
        };
        let left = stack.count().saturating_sub(1);
        if left == 0 {
            player.state.inventory[slot] = None;
        } else {
            stack.set_count(left);
        }
        player.state.revision += 1;
        let packet = player.state.slot_packet(&framing, slot);
        let session = player.session;
        let state = player.state.clone();
        self.journal_player(&state);
        self.confirm_unicast(session, FeedEvent::Packets(packet));
    }

    pub(super) fn creative_slot(&mut self, entity: EntityId, slot: i16, item: Option<ItemStack>) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get_mut(&entity) else {
            return;
        };
        let valid = (0..INVENTORY_SLOTS as i16).contains(&slot)
            && player.state.game_mode == GameMode::Creative
            && item.as_ref().is_none_or(|i| (1..=64).contains(&i.count()));
        if !valid {
            return;
        }
        player.state.inventory[slot as usize] = item;
        // Vanilla confirms the slot, and clients wait for that confirmation.
        let confirm = player.state.slot_packet(&framing, slot as usize);
        let session = player.session;
        let mut buf = Vec::new();
        player.state.equipment_packet(&framing, &mut buf);
        self.outbox.unicast(session, FeedEvent::Packets(confirm));
        self.feed_about(entity, buf);
    }

    pub(super) fn held_slot(&mut self, entity: EntityId, slot: u8) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get_mut(&entity) else {
            return;
        };
        if slot >= 9 {
            return;
        }
        player.state.held_slot = slot;
        let mut buf = Vec::new();
        player.state.equipment_packet(&framing, &mut buf);
        self.feed_about(entity, buf);
    }

    /// The block at `pos`, if its chunk belongs to this region and is loaded.
    pub(super) fn block_at(&self, pos: BlockPos) -> Option<BlockState> {
        block_in(&self.chunks, pos)
    }

    /// Applies a block change in one of this region's loaded chunks.
    pub(super) fn apply_block_change(&mut self, change: BlockChange) {
        self.apply_change_using(change, None);
    }

    /// Applies a block change that, if it is made, uses up an item of a
    /// player here: both go into the same journal record.
    fn apply_change_using(&mut self, change: BlockChange, uses: Option<ItemUse>) {
        let chunk = ChunkPos::from_block_pos(change.pos);
        let (x, z) = (
            change.pos.x.rem_euclid(16) as usize,
            change.pos.z.rem_euclid(16) as usize,
        );
        let Some(Slot::Ready(slot)) = self.chunks.get_mut(&chunk) else {
            return;
        };
        let current = slot.chunk.block(x, change.pos.y, z);
        let allowed = self.durability.accepts_changes()
            && change_allowed(change.only_if, current, change.pos.y);
        let shown = if allowed {
            slot.chunk.set_block(x, change.pos.y, z, change.state);
            slot.packet = None;
            slot.map_stamp = self.map.next();
            self.persistence.changed(chunk);
            self.journal_change(change.pos, current, change.state);
            if let Some(ItemUse { entity, slot }) = uses {
                self.take_one(entity, slot);
            }
            change.state
        } else {
            current
        };
        let update = self.ctx.framing.frame(&BlockUpdateS2c {
            position: change.pos,
            block_id: VarInt(i32::from(shown.to_raw())),
        });
        match (&change.ack, allowed) {
            (_, true) => self.confirm_feed(chunk, FeedEvent::Packets(update)),
            (Some((session, _)), false) => {
                self.confirm_unicast(*session, FeedEvent::Packets(update))
            }
            (None, false) => {}
        }
        if let Some((session, sequence)) = change.ack {
            self.ack(session, sequence);
        }
        self.commit();
    }

    /// Tells a client its action did not happen: the block stays as it was.
    fn refuse(&mut self, entity: EntityId, pos: BlockPos, sequence: i32) {
        if let Some(player) = self.players.get(&entity) {
            let session = player.session;
            self.refuse_to(session, pos, sequence);
        }
    }

    fn refuse_to(&mut self, session: SessionAddr, pos: BlockPos, sequence: i32) {
        if let Some(state) = self.block_at(pos) {
            let update = self.ctx.framing.frame(&BlockUpdateS2c {
                position: pos,
                block_id: VarInt(i32::from(state.to_raw())),
            });
            self.confirm_unicast(session, FeedEvent::Packets(update));
        }
        self.ack(session, sequence);
    }
}

/// The block at `pos` among `chunks`, if its chunk is loaded.
fn block_in(
    chunks: &std::collections::HashMap<ChunkPos, Slot>,
    pos: BlockPos,
) -> Option<BlockState> {
    match chunks.get(&ChunkPos::from_block_pos(pos))? {
        Slot::Ready(slot) => Some(slot.chunk.block(
            pos.x.rem_euclid(16) as usize,
            pos.y,
            pos.z.rem_euclid(16) as usize,
        )),
        Slot::Loading(_) | Slot::Failed(_) => None,
    }
}
