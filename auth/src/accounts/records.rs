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

/// Vanilla's weather: rain and thunder as the client shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weather {
    #[default]
    Clear,
    Rain,
    Thunder,
}

/// An operator's `/time set`: the time of day at a moment (milliseconds
/// since the Unix epoch), from which the day runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySet {
    pub day_time: i64,
    pub at_ms: u64,
}

/// `world`: the time of day, weather and difficulty operators set, in one
/// record for the cluster, so every node shows the same sky.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldRules {
    #[serde(default)]
    pub day_set: Option<DaySet>,
    #[serde(default)]
    pub weather: Weather,
    /// When weather set for a while clears (milliseconds since the Unix
    /// epoch); `None` keeps it until the next `/weather`.
    #[serde(default)]
    pub weather_until: Option<u64>,
    /// Vanilla's numbers: 0 peaceful to 3 hard; `None` is level.dat's.
    #[serde(default)]
    pub difficulty: Option<u8>,
    /// `/save-off`: regions stop writing their files (the journal still
    /// takes every change), for a backup of the world folder.
    #[serde(default)]
    pub autosave_off: bool,
}

impl WorldRules {
    /// The weather at `now_ms`.
    pub fn weather_at(&self, now_ms: u64) -> Weather {
        match self.weather_until {
            Some(until) if now_ms >= until => Weather::Clear,
            _ => self.weather,
        }
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
pub const WORLD_RULES_KEY: &str = "world";
