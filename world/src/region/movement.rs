//! Players moving, looking, swinging and changing pose, and what viewers see of it.

use valence_protocol::math::DVec3;
use valence_protocol::packets::play::game_state_change_s2c::GameEventKind;
use valence_protocol::packets::play::player_position_look_s2c::PlayerPositionLookFlags;
use valence_protocol::packets::play::{
    EntityAnimationS2c, EntityPositionS2c, EntitySetHeadYawS2c, GameStateChangeS2c,
    MoveRelativeS2c, PlayerPositionLookS2c, RotateAndMoveRelativeS2c, RotateS2c,
};
use valence_protocol::{ByteAngle, GameMode, Hand, VarInt};

use super::Region;
use crate::coords::chunk_of_point;
use crate::framing::Framing;
use crate::messages::{EntityId, FeedEvent, ToSession};
use crate::player::{abilities_packet, plausible, PlayerState};

/// Movement as viewers see it: a relative move when small, else an absolute one.
fn movement_packets(framing: &Framing, before: &PlayerState, after: &PlayerState) -> Vec<u8> {
    let mut buf = Vec::new();
    let entity_id = VarInt(after.entity);
    let yaw = ByteAngle::from_degrees(after.yaw);
    let pitch = ByteAngle::from_degrees(after.pitch);
    let on_ground = after.on_ground;
    let looked = (before.yaw, before.pitch) != (after.yaw, after.pitch);
    let delta = (after.position * 4096.0).round() - (before.position * 4096.0).round();
    let small = delta.abs().max_element() < f64::from(i16::MAX);
    let moved = delta != DVec3::ZERO;
    let d = [delta.x as i16, delta.y as i16, delta.z as i16];
    match (moved, small, looked) {
        (false, _, false) => {}
        (false, _, true) => framing.append(
            &mut buf,
            &RotateS2c {
                entity_id,
                yaw,
                pitch,
                on_ground,
            },
        ),
        (true, true, true) => framing.append(
            &mut buf,
            &RotateAndMoveRelativeS2c {
                entity_id,
                delta: d,
                yaw,
                pitch,
                on_ground,
            },
        ),
        (true, true, false) => framing.append(
            &mut buf,
            &MoveRelativeS2c {
                entity_id,
                delta: d,
                on_ground,
            },
        ),
        (true, false, _) => framing.append(
            &mut buf,
            &EntityPositionS2c {
                entity_id,
                position: after.position,
                yaw,
                pitch,
                on_ground,
            },
        ),
    }
    if looked {
        framing.append(
            &mut buf,
            &EntitySetHeadYawS2c {
                entity_id,
                head_yaw: yaw,
            },
        );
    }
    buf
}

impl Region {
    pub(super) fn player_moved(
        &mut self,
        entity: EntityId,
        position: Option<DVec3>,
        look: Option<(f32, f32)>,
        on_ground: bool,
    ) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get_mut(&entity) else {
            return;
        };
        if player.state.awaiting_teleport.is_some() {
            return;
        }
        if let Some(to) = position {
            if !plausible(player.state.position, to) {
                let back = player.state.position;
                return self.teleport(entity, back);
            }
        }
        let before = player.state.clone();
        if let Some(to) = position {
            player.state.position = to;
        }
        if let Some((yaw, pitch)) = look {
            if yaw.is_finite() && pitch.is_finite() {
                player.state.yaw = yaw.rem_euclid(360.0);
                player.state.pitch = pitch.clamp(-90.0, 90.0);
            }
        }
        player.state.on_ground = on_ground;
        let packets = movement_packets(&framing, &before, &player.state);
        self.relocated(entity, &before, packets.into());
    }

    /// Shows viewers a player's new position; moves its entity between chunk
    /// feeds and hands it off when it left this region.
    fn relocated(&mut self, entity: EntityId, before: &PlayerState, packets: bytes::Bytes) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get(&entity) else {
            return;
        };
        let from = before.chunk();
        let to = player.state.chunk();
        if from == to {
            if !packets.is_empty() {
                self.outbox
                    .feed(from, FeedEvent::Entity { entity, packets });
            }
            return;
        }
        let moved = player.state.position_packet(&framing);
        let entered = player.state.entered(&framing);
        self.outbox.feed(
            from,
            FeedEvent::Entity {
                entity,
                packets: moved,
            },
        );
        self.left_chunk(entity, from, to);
        if self.ctx.grid.contains(self.pos(), to) {
            self.outbox.feed(to, entered);
        } else {
            self.hand_off(entity);
        }
    }

    /// Moves a player where the server says, whatever the client thinks.
    pub(super) fn teleport(&mut self, entity: EntityId, to: DVec3) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get_mut(&entity) else {
            return self.forward(entity, crate::messages::RegionMsg::Teleport { entity, to });
        };
        if !to.is_finite() {
            return;
        }
        let before = player.state.clone();
        player.state.position = to;
        let teleport_id = self.host.next_teleport_id();
        player.state.awaiting_teleport = Some(teleport_id);
        let packet = framing.frame(&PlayerPositionLookS2c {
            position: to,
            yaw: player.state.yaw,
            pitch: player.state.pitch,
            flags: PlayerPositionLookFlags::new(),
            teleport_id: VarInt(teleport_id),
        });
        let session = player.session;
        self.outbox.unicast(session, FeedEvent::Packets(packet));
        self.tell(session, ToSession::Moved(to));
        let moved = self.players[&entity].state.position_packet(&framing);
        if chunk_of_point(to.x, to.z) == before.chunk() {
            self.outbox.feed(
                before.chunk(),
                FeedEvent::Entity {
                    entity,
                    packets: moved,
                },
            );
        } else {
            self.relocated(entity, &before, moved);
        }
    }

    pub(super) fn teleport_confirmed(&mut self, entity: EntityId, id: i32) {
        if let Some(player) = self.players.get_mut(&entity) {
            if player.state.awaiting_teleport == Some(id) {
                player.state.awaiting_teleport = None;
            }
        }
    }

    pub(super) fn set_game_mode(&mut self, entity: EntityId, mode: GameMode) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get_mut(&entity) else {
            return self.forward(
                entity,
                crate::messages::RegionMsg::SetGameMode { entity, mode },
            );
        };
        player.state.game_mode = mode;
        let mut buf = Vec::new();
        framing.append(
            &mut buf,
            &GameStateChangeS2c {
                kind: GameEventKind::ChangeGameMode,
                value: mode as u8 as f32,
            },
        );
        abilities_packet(&framing, mode, &mut buf);
        let session = player.session;
        self.outbox.unicast(session, FeedEvent::Packets(buf.into()));
        self.tell(session, ToSession::GameModeChanged(mode));
    }

    pub(super) fn swing(&mut self, entity: EntityId, hand: Hand) {
        const SWING_MAIN_ARM: u8 = 0;
        const SWING_OFF_HAND: u8 = 3;
        let Some(player) = self.players.get(&entity) else {
            return;
        };
        let animation = match hand {
            Hand::Main => SWING_MAIN_ARM,
            Hand::Off => SWING_OFF_HAND,
        };
        let packet = self.ctx.framing.frame(&EntityAnimationS2c {
            entity_id: VarInt(entity),
            animation,
        });
        self.outbox.feed(
            player.state.chunk(),
            FeedEvent::Entity {
                entity,
                packets: packet,
            },
        );
    }

    pub(super) fn update_flags(&mut self, entity: EntityId, change: impl FnOnce(&mut PlayerState)) {
        let framing = self.ctx.framing;
        let Some(player) = self.players.get_mut(&entity) else {
            return;
        };
        change(&mut player.state);
        let mut buf = Vec::new();
        player.state.metadata_packet(&framing, &mut buf);
        self.feed_about(entity, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implausible_moves_are_refused() {
        let here = DVec3::new(0.0, 64.0, 0.0);
        assert!(plausible(here, DVec3::new(3.0, 64.0, 0.0)));
        assert!(!plausible(here, DVec3::new(f64::NAN, 64.0, 0.0)));
        assert!(!plausible(here, DVec3::new(500.0, 64.0, 0.0)));
        assert!(!plausible(here, DVec3::new(0.0, 1e9, 0.0)));
        let edge = DVec3::new(29_999_950.0, 64.0, 0.0);
        assert!(!plausible(edge, DVec3::new(30_000_010.0, 64.0, 0.0)));
    }
}
