//! The operator's console on standard input, with vanilla's command names.

use std::sync::Arc;

use tessera_net::admin::{game_mode_name, parse_coordinates, parse_game_mode, AdminError};
use tessera_net::Frontend;
use tokio::io::{AsyncBufReadExt, BufReader};

const HELP: &str = "Commands: help, list, say <message>, kick <player> [reason], \
                    tp <player> <x> <y> <z> | tp <player> <target>, \
                    gamemode <mode> <player>, stop";
const DEFAULT_KICK_REASON: &str = "Kicked by an operator";

/// What the console loop should do after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    Stop,
}

/// Runs one console line and returns what to print and whether to stop.
pub fn execute(frontend: &Frontend, line: &str) -> (String, Next) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let result = match words.as_slice() {
        [] => Ok(String::new()),
        ["help"] | ["?"] => Ok(HELP.to_owned()),
        ["list"] => Ok(frontend.list_line()),
        ["stop"] => return ("Stopping the server".to_owned(), Next::Stop),
        ["say", message @ ..] if !message.is_empty() => {
            let message = message.join(" ");
            frontend.say("Server", &message);
            Ok(format!("[Server] {message}"))
        }
        ["kick", name, reason @ ..] => {
            let reason = if reason.is_empty() {
                DEFAULT_KICK_REASON.to_owned()
            } else {
                reason.join(" ")
            };
            frontend
                .kick(name, &reason)
                .map(|()| format!("Kicked {name}: {reason}"))
        }
        ["tp", name, target] => frontend.find_player(target).and_then(|target| {
            frontend.teleport(name, target.position())?;
            Ok(format!("Teleported {name} to {}", target.name))
        }),
        ["tp", name, coordinates @ ..] if coordinates.len() == 3 => frontend
            .find_player(name)
            .and_then(|player| parse_coordinates(coordinates, player.position()))
            .and_then(|to| {
                frontend.teleport(name, to)?;
                Ok(format!(
                    "Teleported {name} to {:.1}, {:.1}, {:.1}",
                    to.x, to.y, to.z
                ))
            }),
        ["gamemode", mode, name] => parse_game_mode(mode).and_then(|mode| {
            frontend.set_game_mode(name, mode)?;
            Ok(format!(
                "Set {name}'s game mode to {} Mode",
                game_mode_name(mode)
            ))
        }),
        [command, ..] => Ok(format!(
            "Unknown or incomplete command: {command}. Type help for help"
        )),
    };
    (
        result.unwrap_or_else(|e: AdminError| e.to_string()),
        Next::Continue,
    )
}

/// Reads commands until `stop`. End of input leaves the server running: a
/// server started without a terminal is stopped by a signal instead.
pub async fn run(frontend: Arc<Frontend>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let (output, next) = execute(&frontend, &line);
        if !output.is_empty() {
            println!("{output}");
        }
        if next == Next::Stop {
            return;
        }
    }
    std::future::pending::<()>().await;
}
