//! Console commands on accounts, bans, the whitelist and operators; they
//! go through the authentication service, so they hold on every node.

use tessera_auth::accounts::records::BanRecord;
use tessera_auth::accounts::{now, AccountError, Accounts};
use tessera_net::Frontend;

use crate::node::Node;

const DEFAULT_BAN_REASON: &str = "Banned by an operator.";
const OP_LEVEL: u8 = 4;

/// The uuid a name has: the online player's, or the offline-mode one.
fn uuid_of(frontend: &Frontend, name: &str) -> String {
    match frontend.players.get(name) {
        Some(player) => player.uuid.to_string(),
        None => tessera_net::offline_uuid(name).to_string(),
    }
}

fn reason(words: &[&str]) -> String {
    if words.is_empty() {
        DEFAULT_BAN_REASON.to_owned()
    } else {
        words.join(" ")
    }
}

/// Runs an account command; `None` when `words` is not one.
pub async fn execute(node: &Node, words: &[&str]) -> Option<String> {
    let frontend = &node.frontend;
    let accounts = &frontend.auth.get()?.accounts;
    let result = match words {
        ["ban", name, rest @ ..] => ban(frontend, accounts, name, reason(rest)).await,
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
                by: "Console".into(),
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
            accounts
                .edit_ops(|o| o.entries.push(entry))
                .await
                .map(|_| format!("Made {name} a server operator"))
        }
        ["deop", name] => {
            let uuid = uuid_of(frontend, name);
            accounts
                .edit_ops(|o| o.entries.retain(|(id, _, _)| *id != uuid))
                .await
                .map(|_| format!("Made {name} no longer a server operator"))
        }
        ["users", name] => accounts.user(name).await.map(|user| match user {
            Some(u) => format!(
                "{}: uuid {}, registered at {} (Unix time)",
                u.name, u.uuid, u.created
            ),
            None => format!("{name} is not registered"),
        }),
        _ => return None,
    };
    Some(result.unwrap_or_else(|e| format!("Failed: {e}")))
}

/// Bans a player on every node and disconnects it wherever it plays.
async fn ban(
    frontend: &Frontend,
    accounts: &Accounts,
    name: &str,
    reason: String,
) -> Result<String, AccountError> {
    let record = BanRecord {
        name: name.to_owned(),
        reason,
        by: "Console".into(),
        created: now(),
        expires: None,
    };
    let message = tessera_net::ban_message(&record);
    accounts.ban(&uuid_of(frontend, name), record).await?;
    // Not online anywhere is fine: the ban stops the next login.
    let _ = frontend.kick(name, &message);
    Ok(format!("Banned {name}"))
}
