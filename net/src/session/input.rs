//! Decoding a client's play packets into what the player does.

use tessera_world::messages::{DigPhase, PlayerInput, RegionMsg};
use valence_protocol::decode::PacketFrame;
use valence_protocol::packets::play::client_command_c2s::ClientCommand;
use valence_protocol::packets::play::player_action_c2s::PlayerAction;
use valence_protocol::packets::play::{
    ChatMessageC2s, ClientCommandC2s, CommandExecutionC2s, CreativeInventoryActionC2s, FullC2s,
    HandSwingC2s, KeepAliveC2s, LookAndOnGroundC2s, OnGroundOnlyC2s, PlayerActionC2s,
    PlayerInteractBlockC2s, PositionAndOnGroundC2s, TeleportConfirmC2s, UpdateSelectedSlotC2s,
};
use valence_protocol::{Decode, Packet};

use std::time::Instant;

use super::packet_check::check_play_packet;
use super::spam::SPAM_KICK;
use super::{End, Session};
use crate::error::ClientError;
use crate::metrics::NetMetrics;

/// What a player who has not logged in yet may not do: move, dig, place,
/// swing, change pose or items. Chat and commands are answered instead.
const GATED: [i32; 10] = [
    PositionAndOnGroundC2s::ID,
    FullC2s::ID,
    LookAndOnGroundC2s::ID,
    OnGroundOnlyC2s::ID,
    PlayerActionC2s::ID,
    PlayerInteractBlockC2s::ID,
    HandSwingC2s::ID,
    ClientCommandC2s::ID,
    CreativeInventoryActionC2s::ID,
    UpdateSelectedSlotC2s::ID,
];

const MAX_CHAT_LENGTH: usize = 256;

/// Paper's packet limiter: 500 packets a second averaged over 7 seconds. A
/// vanilla client sends about 25 a second while playing, a few hundred in
/// a burst when it drags items or joins.
pub(super) const PACKETS_PER_SECOND: u32 = 500;
pub(super) const PACKET_BURST: u32 = 7 * PACKETS_PER_SECOND;
const PACKET_FLOOD_KICK: &str = "You are sending too many packets!";

/// The most a creative slot packet may carry. The item is stored in the
/// player record and resent to everyone who sees the player, so its NBT is
/// bounded: 32 KiB holds a shulker box of named, enchanted stacks, while a
/// client could otherwise send 2 MiB a packet.
const MAX_CREATIVE_ITEM_BYTES: usize = 32 * 1024;

fn decode<'a, P: Packet + Decode<'a>>(frame: &'a PacketFrame) -> Result<P, End> {
    frame
        .decode::<P>()
        .map_err(|e| End::from(ClientError::malformed(e)))
}

/// Set Held Item carries a Short; valence_protocol's type reads a byte, so
/// this packet is decoded here.
pub(super) fn held_slot(frame: &PacketFrame) -> Result<u8, End> {
    let mut body = &frame.body[..];
    let slot = i16::decode(&mut body).map_err(|e| End::from(ClientError::malformed(e)))?;
    match (body.is_empty(), u8::try_from(slot)) {
        (true, Ok(slot)) if slot < 9 => Ok(slot),
        _ => Err(End::from(ClientError::Malformed(format!(
            "held slot {slot} out of range"
        )))),
    }
}

/// Vanilla refuses these in chat: formatting codes and control characters.
fn legal_chat(text: &str) -> bool {
    !text.chars().any(|c| c == '§' || c < ' ' || c == '\u{7f}')
}

/// Why a chat message or command is refused, if it is.
pub(super) fn chat_problem(text: &str) -> Option<String> {
    if text.chars().count() > MAX_CHAT_LENGTH {
        return Some(format!(
            "Chat message too long (more than {MAX_CHAT_LENGTH} characters)"
        ));
    }
    (!legal_chat(text)).then(|| "Illegal characters in chat".to_owned())
}

impl Session {
    pub(super) fn handle_packet(&mut self, frame: PacketFrame) -> Result<(), End> {
        self.me.heard_now();
        if !self.packet_rate.try_take(Instant::now()) {
            NetMetrics::add(&self.frontend.metrics.packet_flood_kicks, 1);
            tracing::warn!("kicked for sending more than {PACKETS_PER_SECOND} packets a second");
            return Err(End::Kick(PACKET_FLOOD_KICK.into()));
        }
        if !self.gate.open && GATED.contains(&frame.id) {
            return self.gated(&frame);
        }
        match frame.id {
            KeepAliveC2s::ID => {
                let packet: KeepAliveC2s = decode(&frame)?;
                self.keep_alive.answered(packet.id);
            }
            TeleportConfirmC2s::ID => {
                let packet: TeleportConfirmC2s = decode(&frame)?;
                self.teleport_pending = false;
                self.input(PlayerInput::TeleportConfirm(packet.teleport_id.0));
            }
            PositionAndOnGroundC2s::ID => {
                let p: PositionAndOnGroundC2s = decode(&frame)?;
                self.movement(Some(p.position), None, p.on_ground);
            }
            FullC2s::ID => {
                let p: FullC2s = decode(&frame)?;
                self.movement(Some(p.position), Some((p.yaw, p.pitch)), p.on_ground);
            }
            LookAndOnGroundC2s::ID => {
                let p: LookAndOnGroundC2s = decode(&frame)?;
                self.movement(None, Some((p.yaw, p.pitch)), p.on_ground);
            }
            OnGroundOnlyC2s::ID => {
                let p: OnGroundOnlyC2s = decode(&frame)?;
                self.movement(None, None, p.on_ground);
            }
            ChatMessageC2s::ID => {
                let p: ChatMessageC2s = decode(&frame)?;
                self.check_chat(p.message)?;
                if !self.gate.open {
                    self.tell("Please log in first".into());
                    return Ok(());
                }
                self.chat(p.message);
            }
            CommandExecutionC2s::ID => {
                let p: CommandExecutionC2s = decode(&frame)?;
                self.check_chat(p.command)?;
                let command = p.command.to_owned();
                self.run_command(&command);
            }
            PlayerActionC2s::ID => {
                let p: PlayerActionC2s = decode(&frame)?;
                let (pos, sequence) = (p.position, p.sequence.0);
                let phase = match p.action {
                    PlayerAction::StartDestroyBlock => Some(DigPhase::Start),
                    PlayerAction::AbortDestroyBlock => Some(DigPhase::Abort),
                    PlayerAction::StopDestroyBlock => Some(DigPhase::Finish),
                    _ => None,
                };
                if let Some(phase) = phase {
                    self.input(PlayerInput::Dig {
                        pos,
                        sequence,
                        phase,
                    });
                }
            }
            PlayerInteractBlockC2s::ID => {
                let p: PlayerInteractBlockC2s = decode(&frame)?;
                self.input(PlayerInput::Place {
                    hand: p.hand,
                    against: p.position,
                    face: p.face,
                    sequence: p.sequence.0,
                });
            }
            HandSwingC2s::ID => {
                let p: HandSwingC2s = decode(&frame)?;
                self.input(PlayerInput::Swing(p.hand));
            }
            ClientCommandC2s::ID => {
                let p: ClientCommandC2s = decode(&frame)?;
                match p.action {
                    ClientCommand::StartSneaking => self.input(PlayerInput::Sneak(true)),
                    ClientCommand::StopSneaking => self.input(PlayerInput::Sneak(false)),
                    ClientCommand::StartSprinting => self.input(PlayerInput::Sprint(true)),
                    ClientCommand::StopSprinting => self.input(PlayerInput::Sprint(false)),
                    _ => {}
                }
            }
            CreativeInventoryActionC2s::ID => {
                if frame.body.len() > MAX_CREATIVE_ITEM_BYTES {
                    NetMetrics::add(&self.frontend.metrics.oversized_item_kicks, 1);
                    tracing::warn!("kicked for a creative item of {} bytes", frame.body.len());
                    return Err(End::Kick(format!(
                        "Item data too large ({} bytes, at most {MAX_CREATIVE_ITEM_BYTES})",
                        frame.body.len()
                    )));
                }
                let p: CreativeInventoryActionC2s = decode(&frame)?;
                self.input(PlayerInput::CreativeSlot {
                    slot: p.slot,
                    item: p.clicked_item,
                });
            }
            UpdateSelectedSlotC2s::ID => {
                let slot = held_slot(&frame)?;
                self.input(PlayerInput::HeldSlot(slot));
            }
            // Settings, plugin channels, chat sessions, recipe book and the
            // like: nothing here acts on them yet, but they must be well formed.
            _ => check_play_packet(&frame)?,
        }
        Ok(())
    }

    /// A gated packet from a player who has not logged in: a move is undone,
    /// anything else is dropped (once decoded, so garbage is still caught).
    fn gated(&mut self, frame: &PacketFrame) -> Result<(), End> {
        let moved_to = match frame.id {
            PositionAndOnGroundC2s::ID => Some(decode::<PositionAndOnGroundC2s>(frame)?.position),
            FullC2s::ID => Some(decode::<FullC2s>(frame)?.position),
            UpdateSelectedSlotC2s::ID => {
                held_slot(frame)?;
                None
            }
            _ => {
                check_play_packet(frame)?;
                None
            }
        };
        if let (Some(to), false) = (moved_to, self.teleport_pending) {
            if to.distance(self.position) > 0.01 {
                self.hold_in_place();
            }
        }
        Ok(())
    }

    fn input(&self, input: PlayerInput) {
        self.to_owner(RegionMsg::Input {
            entity: self.me.entity,
            input,
            forwarded: false,
        });
    }

    fn movement(
        &mut self,
        position: Option<valence_protocol::math::DVec3>,
        look: Option<(f32, f32)>,
        on_ground: bool,
    ) {
        // The view follows only a move the region will accept: a claimed
        // jump far away is put back by the region, and must not load the
        // chunks there first.
        if let (Some(to), false) = (position, self.teleport_pending) {
            if tessera_world::player::plausible(self.position, to) {
                self.moved_to(to);
            }
        }
        self.input(PlayerInput::Move {
            position,
            look,
            on_ground,
        });
    }

    /// Length, characters and rate of a chat message or command.
    fn check_chat(&mut self, text: &str) -> Result<(), End> {
        if let Some(problem) = chat_problem(text) {
            return Err(End::Kick(problem));
        }
        if !self.spam.message(Instant::now()) {
            NetMetrics::add(&self.frontend.metrics.spam_kicks, 1);
            return Err(End::Kick(SPAM_KICK.into()));
        }
        Ok(())
    }

    fn chat(&self, message: &str) {
        let text = format!("<{}> {}", self.me.name, message);
        tracing::info!(target: "chat", "{text}");
        self.frontend.broadcast_message(text.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_with_formatting_codes_or_control_characters_is_illegal() {
        assert!(legal_chat("hello there"));
        assert!(!legal_chat("§4red"));
        assert!(!legal_chat("bell\u{7}"));
        assert!(chat_problem(&"x".repeat(257)).is_some_and(|p| p.contains("too long")));
        assert_eq!(chat_problem(&"é".repeat(256)), None);
    }
}
