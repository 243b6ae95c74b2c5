//! A session's decoding of play packets and its parsing of chat and
//! commands, reached without a session or a frontend: for the fuzz targets.

use valence_protocol::decode::PacketFrame;
use valence_protocol::math::DVec3;
use valence_protocol::packets::play::{ChatMessageC2s, CommandExecutionC2s, UpdateSelectedSlotC2s};
use valence_protocol::Packet;

use super::auth::parse_account_command;
use super::input::{chat_problem, held_slot};
use super::packet_check::check_play_packet;
use crate::admin::{parse_coordinates, parse_game_mode};
use crate::command_table::required_level;

/// Decodes a play packet as the session does before acting on it; `false`
/// when the session would end the connection over it.
pub(crate) fn play_packet(frame: &PacketFrame) -> bool {
    match frame.id {
        UpdateSelectedSlotC2s::ID => held_slot(frame).is_ok(),
        ChatMessageC2s::ID => match frame.decode::<ChatMessageC2s>() {
            Ok(p) => chat_problem(p.message).is_none(),
            Err(_) => false,
        },
        CommandExecutionC2s::ID => match frame.decode::<CommandExecutionC2s>() {
            Ok(p) => {
                let fine = chat_problem(p.command).is_none();
                if fine {
                    command(p.command);
                }
                fine
            }
            Err(_) => false,
        },
        _ => check_play_packet(frame).is_ok(),
    }
}

/// Parses a command line the way the session takes it apart: the login
/// gate's account commands, then the permission table and the arguments
/// of the commands a player runs on itself.
pub(crate) fn command(line: &str) {
    let words = crate::command_table::words(line);
    for open in [false, true] {
        let _ = parse_account_command(&words, open);
    }
    if let Some(first) = words.first() {
        let _ = required_level(first);
    }
    match words.as_slice() {
        ["tp", coordinates @ ..] => {
            let _ = parse_coordinates(coordinates, DVec3::new(0.5, 64.0, -0.5));
        }
        ["gamemode", mode, ..] => {
            let _ = parse_game_mode(mode);
        }
        _ => {}
    }
}
