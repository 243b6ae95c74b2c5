//! The operator commands that run the same from the console and in game:
//! say, kick, tp and gamemode on a named player, bans, the whitelist,
//! operators and accounts. Account changes go through the authentication
//! service, so they hold on every node.

use tessera_auth::accounts::records::BanRecord;
use tessera_auth::accounts::{now, AccountError, Accounts};

use crate::admin::{game_mode_name, parse_coordinates, parse_game_mode, AdminError};
use crate::frontend::Frontend;

const DEFAULT_BAN_REASON: &str = "Banned by an operator.";
const DEFAULT_KICK_REASON: &str = "Kicked by an operator";
/// The level `op` grants: vanilla's default `op-permission-level`.
const OP_LEVEL: u8 = 4;

/// Vanilla's permission levels: 2 for cheats (tp, gamemode, say), 3 for
/// managing players (kick, bans, whitelist, ops), 0 for everyone.
pub const CHEAT_LEVEL: u8 = 2;
pub const MODERATOR_LEVEL: u8 = 3;

/// The level a command needs in game; `None` for commands anyone may run
/// (and for unknown ones, which fail as unknown).
pub fn required_level(command: &str) -> Option<u8> {
    match command {
        "tp" | "gamemode" | "say" => Some(CHEAT_LEVEL),
        "kick" | "ban" | "ban-ip" | "pardon" | "pardon-ip" | "whitelist" | "op" | "deop"
        | "users" => Some(MODERATOR_LEVEL),
        _ => None,
    }
}

/// Who runs a command: the name shown on `say` and recorded on bans.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    Console,
    Player(&'a str),
}

impl Issuer<'_> {
    pub fn name(&self) -> &str {
        match self {
            Issuer::Console => "Server",
            Issuer::Player(name) => name,
        }
    }
}

/// Runs a shared operator command, whose permission the caller checked;
/// `None` when `words` is not one. The text is the answer to show.
pub async fn execute(frontend: &Frontend, issuer: Issuer<'_>, words: &[&str]) -> Option<String> {
    if let Some(answer) = player_command(frontend, issuer, words) {
        return Some(answer.unwrap_or_else(|e| e.to_string()));
    }
    let accounts = &frontend.auth.get()?.accounts;
    let result = account_command(frontend, accounts, issuer, words).await?;
    Some(result.unwrap_or_else(|e| format!("Failed: {e}")))
}

fn player_command(
    frontend: &Frontend,
    issuer: Issuer<'_>,
    words: &[&str],
) -> Option<Result<String, AdminError>> {
    let result = match words {
        ["say", message @ ..] if !message.is_empty() => {
            let message = message.join(" ");
            frontend.say(issuer.name(), &message);
            Ok(format!("[{}] {message}", issuer.name()))
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
        _ => return None,
    };
    Some(result)
}

/// The uuid a name has: the online player's, or the offline-mode one.
fn uuid_of(frontend: &Frontend, name: &str) -> String {
    match frontend.players.get(name) {
        Some(player) => player.uuid.to_string(),
        None => crate::offline_uuid(name).to_string(),
    }
}

fn reason(words: &[&str]) -> String {
    if words.is_empty() {
        DEFAULT_BAN_REASON.to_owned()
    } else {
        words.join(" ")
    }
}

async fn account_command(
    frontend: &Frontend,
    accounts: &Accounts,
    issuer: Issuer<'_>,
    words: &[&str],
) -> Option<Result<String, AccountError>> {
    let by = issuer.name().to_owned();
    let result = match words {
        ["ban", name, rest @ ..] => ban(frontend, accounts, name, reason(rest), by).await,
        ["pardon", name] => accounts
            .pardon(&uuid_of(frontend, name))
            .await
            .map(|existed| {
                if existed {
                    format!("Unbanned {name}")
                } else {
                    format!("{name} was not banned")
                }
            }),
        ["ban-ip", address, rest @ ..] => {
            let record = BanRecord {
                name: address.to_string(),
                reason: reason(rest),
                by,
                created: now(),
                expires: None,
            };
            accounts
                .ban_ip(address, record)
                .await
                .map(|()| format!("Banned IP {address}"))
        }
        ["pardon-ip", address] => accounts.pardon_ip(address).await.map(|existed| {
            if existed {
                format!("Unbanned IP {address}")
            } else {
                format!("{address} was not banned")
            }
        }),
        ["whitelist", "on"] => accounts
            .edit_whitelist(|w| w.enabled = true)
            .await
            .map(|_| "Whitelist is now turned on".into()),
        ["whitelist", "off"] => accounts
            .edit_whitelist(|w| w.enabled = false)
            .await
            .map(|_| "Whitelist is now turned off".into()),
        ["whitelist", "add", name] => {
            let entry = (uuid_of(frontend, name), name.to_string());
            accounts
                .edit_whitelist(|w| w.entries.push(entry))
                .await
                .map(|_| format!("Added {name} to the whitelist"))
        }
        ["whitelist", "remove", name] => {
            let uuid = uuid_of(frontend, name);
            accounts
                .edit_whitelist(|w| w.entries.retain(|(id, _)| *id != uuid))
                .await
                .map(|_| format!("Removed {name} from the whitelist"))
        }
        ["whitelist", "list"] => accounts.whitelist().await.map(|w| {
            let names: Vec<&str> = w.entries.iter().map(|(_, n)| n.as_str()).collect();
            let state = if w.enabled { "on" } else { "off" };
            format!(
                "Whitelist is {state}; {} whitelisted players: {}",
                names.len(),
                names.join(", ")
            )
        }),
        ["op", name] => {
            let entry = (uuid_of(frontend, name), name.to_string(), OP_LEVEL);
            let done = accounts.edit_ops(|o| o.entries.push(entry)).await;
            ops_changed(frontend);
            done.map(|_| format!("Made {name} a server operator"))
        }
        ["deop", name] => {
            let uuid = uuid_of(frontend, name);
            let done = accounts
                .edit_ops(|o| o.entries.retain(|(id, _, _)| *id != uuid))
                .await;
            ops_changed(frontend);
            done.map(|_| format!("Made {name} no longer a server operator"))
        }
        ["users"] => accounts
            .user_count()
            .await
            .map(|n| format!("There are {n} registered users")),
        ["users", name] => accounts.user(name).await.map(|user| match user {
            Some(u) => format!(
                "{}: uuid {}, registered at {} (Unix time)",
                u.name, u.uuid, u.created
            ),
            None => format!("{name} is not registered"),
        }),
        _ => return None,
    };
    Some(result)
}

/// This node's players see their new command trees at once; the other
/// nodes' within their next look at the operator list.
fn ops_changed(frontend: &Frontend) {
    if let Some(auth) = frontend.auth.get() {
        auth.ops.refresh();
    }
}

/// Bans a player on every node and disconnects it wherever it plays.
async fn ban(
    frontend: &Frontend,
    accounts: &Accounts,
    name: &str,
    reason: String,
    by: String,
) -> Result<String, AccountError> {
    let record = BanRecord {
        name: name.to_owned(),
        reason,
        by,
        created: now(),
        expires: None,
    };
    let message = crate::ban_message(&record);
    accounts.ban(&uuid_of(frontend, name), record).await?;
    // Not online anywhere is fine: the ban stops the next login.
    let _ = frontend.kick(name, &message);
    Ok(format!("Banned {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheats_need_level_two_and_moderation_level_three() {
        for command in ["tp", "gamemode", "say"] {
            assert_eq!(required_level(command), Some(2), "{command}");
        }
        for command in [
            "kick",
            "ban",
            "ban-ip",
            "pardon",
            "pardon-ip",
            "whitelist",
            "op",
            "deop",
            "users",
        ] {
            assert_eq!(required_level(command), Some(3), "{command}");
        }
        for command in [
            "help",
            "list",
            "msg",
            "spawn",
            "register",
            "login",
            "changepassword",
        ] {
            assert_eq!(required_level(command), None, "{command}");
        }
    }
}
