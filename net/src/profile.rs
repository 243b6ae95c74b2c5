//! Who a player is once logged in, however it logged in (offline, online,
//! through a proxy), and what a name may be. Below login, online mode and
//! forwarding alike, so each can name a player without the others.

use md5::{Digest, Md5};
use uuid::Uuid;
use valence_protocol::Property;

#[derive(Debug, Clone)]
pub struct Profile {
    pub uuid: Uuid,
    pub name: String,
    /// From the session server in online mode (the signed skin); none offline.
    pub properties: Vec<Property>,
}

/// The UUID vanilla gives a name in offline mode: version 3 of the MD5 of
/// "OfflinePlayer:<name>", so player data lines up with vanilla worlds.
pub fn offline_uuid(name: &str) -> Uuid {
    let digest: [u8; 16] = Md5::digest(format!("OfflinePlayer:{name}").as_bytes()).into();
    uuid::Builder::from_md5_bytes(digest).into_uuid()
}

/// Vanilla's rule for player names: 1 to 16 letters, digits or underscores.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=16).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_uuids_match_vanilla() {
        // Vanilla's UUID.nameUUIDFromBytes("OfflinePlayer:Notch").
        assert_eq!(
            offline_uuid("Notch").to_string(),
            "b50ad385-829d-3141-a216-7e7d7539ba7f"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("Steve_01"));
        assert!(!valid_name(""));
        assert!(!valid_name("seventeen_chars__"));
        assert!(!valid_name("bad name"));
    }
}
