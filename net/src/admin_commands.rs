//! The operator commands that run the same from the console and in game:
//! say, msg, kick, tp and gamemode on a named player, the time, weather and
//! difficulty, bans, the whitelist, operators and accounts. Changes go
//! through the replicated register, so they hold on every node.

use tessera_auth::accounts::records::{BanRecord, DaySet, Weather};
use tessera_auth::accounts::{now, now_ms, AccountError, Accounts};
use valence_protocol::text::{Color, IntoText};

use crate::admin::{game_mode_name, parse_coordinates, parse_game_mode, AdminError};
use crate::frontend::Frontend;
use crate::world_rules::{difficulty_name, parse_difficulty};
use tessera_world::clock::DAY;

const DEFAULT_BAN_REASON: &str = "Banned by an operator.";
const DEFAULT_KICK_REASON: &str = "Kicked by an operator";
/// The level `op` grants: vanilla's default `op-permission-level`.
const OP_LEVEL: u8 = 4;

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
    let accounts = &frontend.auth.accounts;
    let result = match world_rule_command(frontend, accounts, words).await {
        Some(result) => result,
        None => account_command(frontend, accounts, issuer, words).await?,
    };
    Some(result.unwrap_or_else(|e| format!("Failed: {e}")))
}

/// Tells `target` what `from` whispers and returns what `from` is shown.
pub fn whisper(
    frontend: &Frontend,
    from: &str,
    target: &str,
    message: &str,
) -> Result<String, AdminError> {
    let target = frontend.find_player(target)?;
    let whisper = format!("{from} whispers to you: {message}")
        .color(Color::GRAY)
        .italic();
    frontend.players.tell(&target, whisper);
    Ok(format!("You whisper to {}: {message}", target.name))
}

/// Ticks in `text`: a number of ticks, or with vanilla's `t`, `s` or `d`
/// for ticks, seconds or days.
fn parse_ticks(text: &str) -> Option<i64> {
    let (number, unit) = match text.char_indices().last()? {
        (at, 't') => (&text[..at], 1),
        (at, 's') => (&text[..at], 20),
        (at, 'd') => (&text[..at], 24_000),
        _ => (text, 1),
    };
    let number: f64 = number.parse().ok()?;
    let ticks = (number * f64::from(unit)).round();
    (ticks.is_finite() && (0.0..=i64::from(i32::MAX) as f64).contains(&ticks))
        .then_some(ticks as i64)
}

/// `/time set`'s names for times of day.
fn time_of_day(word: &str) -> Option<i64> {
    match word {
        "day" => Some(1000),
        "noon" => Some(6000),
        "night" => Some(13_000),
        "midnight" => Some(18_000),
        ticks => parse_ticks(ticks),
    }
}

fn weather_name(weather: Weather) -> &'static str {
    match weather {
        Weather::Clear => "clear",
        Weather::Rain => "rain",
        Weather::Thunder => "rain & thunder",
    }
}

/// `save-off` and `save-on`: every node's regions follow (see
/// `world_rules::follow`).
async fn autosave(accounts: &Accounts, off: bool) -> Result<String, AccountError> {
    let before = accounts.world_rules().await?.autosave_off;
    if before == off {
        let state = if off { "off" } else { "on" };
        return Ok(format!("Saving is already turned {state}"));
    }
    accounts.edit_world_rules(|r| r.autosave_off = off).await?;
    let now = if off { "disabled" } else { "enabled" };
    Ok(format!("Automatic saving is now {now}"))
}

/// `/time`, `/weather`, `/difficulty`, `save-off` and `save-on`: one record for the cluster, which
/// every node follows (see `world_rules::follow`).
async fn world_rule_command(
    frontend: &Frontend,
    accounts: &Accounts,
    words: &[&str],
) -> Option<Result<String, AccountError>> {
    let clock = &frontend.world.clock;
    let set_day = |day_time: i64| DaySet {
        day_time,
        at_ms: now_ms(),
    };
    let result = match words {
        ["time", how @ ("set" | "add"), value] => {
            // `set` shows the time as given, `add` the time of day it reached.
            let (day_time, shown) = if *how == "set" {
                let day_time = time_of_day(value)?;
                (day_time, day_time)
            } else {
                let day_time = clock.now().1.saturating_add(parse_ticks(value)?);
                (day_time, day_time.rem_euclid(DAY))
            };
            let done = accounts
                .edit_world_rules(|r| r.day_set = Some(set_day(day_time)))
                .await;
            done.map(|_| format!("Set the time to {shown}"))
        }
        ["time", "query", what] => {
            let (age, day) = clock.now();
            let value = match *what {
                "daytime" => day.rem_euclid(DAY),
                "gametime" => age,
                "day" => day.div_euclid(DAY),
                _ => return None,
            };
            return Some(Ok(format!("The time is {value}")));
        }
        ["weather", kind, rest @ ..] if rest.len() <= 1 => {
            let weather = match *kind {
                "clear" => Weather::Clear,
                "rain" => Weather::Rain,
                "thunder" => Weather::Thunder,
                _ => return None,
            };
            let until = match rest {
                [seconds] => {
                    let seconds: u64 = seconds.parse().ok().filter(|s| *s <= 1_000_000)?;
                    Some(now_ms() + seconds * 1000)
                }
                _ => None,
            };
            let done = accounts
                .edit_world_rules(|r| {
                    r.weather = weather;
                    r.weather_until = until;
                })
                .await;
            done.map(|_| format!("Set the weather to {}", weather_name(weather)))
        }
        ["difficulty"] => Ok(format!(
            "The difficulty is {}",
            difficulty_name(frontend.difficulty())
        )),
        ["difficulty", name] => {
            let wanted = parse_difficulty(name)?;
            if wanted == frontend.difficulty() {
                return Some(Ok(format!(
                    "The difficulty did not change; it is already set to {}",
                    difficulty_name(wanted)
                )));
            }
            let done = accounts
                .edit_world_rules(|r| r.difficulty = Some(wanted))
                .await;
            done.map(|_| format!("The difficulty has been set to {}", difficulty_name(wanted)))
        }
        ["save-off"] => autosave(accounts, true).await,
        ["save-on"] => autosave(accounts, false).await,
        _ => return None,
    };
    frontend.auth.rules.refresh();
    Some(result)
}

fn player_command(
    frontend: &Frontend,
    issuer: Issuer<'_>,
    words: &[&str],
) -> Option<Result<String, AdminError>> {
    let result = match words {
        ["msg", target, message @ ..] if !message.is_empty() => {
            whisper(frontend, issuer.name(), target, &message.join(" "))
        }
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
    frontend.auth.ops.refresh();
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
    fn ticks_read_as_vanilla_reads_them() {
        assert_eq!(parse_ticks("100"), Some(100));
        assert_eq!(parse_ticks("100t"), Some(100));
        assert_eq!(parse_ticks("5s"), Some(100));
        assert_eq!(parse_ticks("0.5d"), Some(12_000));
        assert_eq!(parse_ticks("-3"), None);
        assert_eq!(parse_ticks("lots"), None);
        assert_eq!(parse_ticks("1e300"), None);
        assert_eq!(time_of_day("night"), Some(13_000));
        assert_eq!(time_of_day("midnight"), Some(18_000));
    }
}
