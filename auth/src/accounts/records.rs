//! What the register holds about users and players, and under which keys.

use serde::{Deserialize, Serialize};

/// `user:<name>`: an account of the offline-mode login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub uuid: String,
    pub name: String,
    /// Argon2id PHC string; never shown or logged.
    pub password_hash: String,
    /// Seconds since the Unix epoch.
    pub created: u64,
}

/// `ban:<uuid>` or `ban-ip:<address>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    pub name: String,
    pub reason: String,
    pub by: String,
    pub created: u64,
    /// Seconds since the Unix epoch; `None` is forever.
    pub expires: Option<u64>,
}

impl BanRecord {
    pub fn in_force(&self, now: u64) -> bool {
        self.expires.is_none_or(|at| now < at)
    }
}

/// `whitelist`: whether it is enforced and who is on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whitelist {
    pub enabled: bool,
    /// (uuid, name), kept sorted by name.
    pub entries: Vec<(String, String)>,
}

/// `ops`: operators and their permission level (1 to 4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ops {
    pub entries: Vec<(String, String, u8)>,
}

impl Ops {
    /// The permission level of `uuid`: 0 for a player who is not an op.
    pub fn level(&self, uuid: &str) -> u8 {
        self.entries
            .iter()
            .find(|(id, _, _)| id == uuid)
            .map_or(0, |(_, _, level)| *level)
    }
}

pub const USER_PREFIX: &str = "user:";
pub const BAN_PREFIX: &str = "ban:";
pub const IP_BAN_PREFIX: &str = "ban-ip:";

pub fn user_key(name: &str) -> String {
    format!("{USER_PREFIX}{}", name.to_lowercase())
}

pub fn ban_key(uuid: &str) -> String {
    format!("{BAN_PREFIX}{uuid}")
}

pub fn ip_ban_key(address: &str) -> String {
    format!("{IP_BAN_PREFIX}{address}")
}

pub const WHITELIST_KEY: &str = "whitelist";
pub const OPS_KEY: &str = "ops";
