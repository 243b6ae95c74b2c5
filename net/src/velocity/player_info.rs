//! The player info a Velocity proxy forwards, checked and decoded: bytes in,
//! a verified player (or why not) out. No sockets here; `super` does the
//! exchange on the connection.
//!
//! The proxy's Login Plugin Response on [`CHANNEL`] carries a 32-byte
//! HMAC-SHA256 of the rest, keyed with the forwarding secret, then the
//! signed data: VarInt version, String client address, UUID, String name,
//! and the profile's properties (VarInt count; each a name, a value and an
//! optional signature).

use std::fmt;
use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;
use uuid::Uuid;
use valence_protocol::{ident, Decode, Ident, Property, VarInt};

use crate::profile::valid_name;

/// The login plugin channel Velocity answers with player info.
pub const CHANNEL: Ident<&str> = ident!("velocity:player_info");
/// Forwarding version 1, `MODERN_DEFAULT`: the profile without a chat
/// signing key, which is what a 1.20.1 client (1.19.3 and later) needs.
pub const MODERN_DEFAULT: u8 = 1;
/// The highest version this server asks for and accepts.
pub const MAX_VERSION: u8 = MODERN_DEFAULT;

const SIGNATURE_LEN: usize = 32;

/// Refusal shown when there is no forwarded player info at all: the client
/// connected directly, not through the proxy (Paper's wording).
pub const NOT_PROXIED: &str = "This server requires you to connect with Velocity.";
/// Refusal shown when the player info is not signed with the secret.
pub const UNVERIFIED: &str = "Unable to verify player details.";

/// The forwarding secret, ready to check signatures with.
#[derive(Clone)]
pub struct ForwardingKey(Hmac<Sha256>);

impl ForwardingKey {
    pub fn new(secret: &[u8]) -> Self {
        // The error exists for fixed-size MACs; HMAC takes any key length.
        Self(
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length"),
        )
    }
}

// By hand: the key must never reach a log line.
impl fmt::Debug for ForwardingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForwardingKey(<redacted>)")
    }
}

/// Who the proxy says is connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedPlayer {
    /// The player's own address (the socket's peer is the proxy).
    pub address: IpAddr,
    pub uuid: Uuid,
    pub name: String,
    /// The profile's properties as the proxy got them (the signed skin).
    pub properties: Vec<Property>,
}

/// Why forwarded player info was not accepted. No variant carries the
/// secret or the signature, so these are safe to log.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ForwardingError {
    #[error("no player info: the client did not answer the forwarding request")]
    NotAnswered,
    #[error("the player info is {0} bytes, too short to hold a signature")]
    TooShort(usize),
    #[error("the player info is not signed with the forwarding secret")]
    BadSignature,
    #[error("the proxy forwarded version {0}; this server accepts up to {MAX_VERSION}")]
    UnsupportedVersion(i32),
    #[error("the signed player info is malformed: {0}")]
    Malformed(String),
}

impl ForwardingError {
    /// What the refused client is told.
    pub fn reason(&self) -> String {
        match self {
            Self::NotAnswered | Self::TooShort(_) => NOT_PROXIED.into(),
            Self::BadSignature | Self::Malformed(_) => UNVERIFIED.into(),
            Self::UnsupportedVersion(version) => {
                format!("Unsupported forwarding version {version}, wanted up to {MAX_VERSION}")
            }
        }
    }

    /// Whether the fault is more likely the operator's (a proxy or secret
    /// that does not match this server) than a client's.
    pub fn is_server_side(&self) -> bool {
        matches!(
            self,
            Self::BadSignature | Self::UnsupportedVersion(_) | Self::Malformed(_)
        )
    }
}

/// Checks the signature of a Login Plugin Response's data and decodes the
/// player it vouches for. The signature is checked first, in constant time,
/// so nothing unsigned is even parsed.
pub fn verify(key: &ForwardingKey, response: &[u8]) -> Result<ForwardedPlayer, ForwardingError> {
    if response.len() < SIGNATURE_LEN {
        return Err(ForwardingError::TooShort(response.len()));
    }
    let (signature, data) = response.split_at(SIGNATURE_LEN);
    let mut mac = key.0.clone();
    mac.update(data);
    mac.verify_slice(signature)
        .map_err(|_| ForwardingError::BadSignature)?;
    decode(data)
}

fn decode(mut data: &[u8]) -> Result<ForwardedPlayer, ForwardingError> {
    let r = &mut data;
    let version = VarInt::decode(r).map_err(malformed)?.0;
    if !(1..=i32::from(MAX_VERSION)).contains(&version) {
        return Err(ForwardingError::UnsupportedVersion(version));
    }
    let address = <&str>::decode(r).map_err(malformed)?;
    let address = parse_address(address)
        .ok_or_else(|| ForwardingError::Malformed(format!("client address {address:?}")))?;
    let uuid = Uuid::decode(r).map_err(malformed)?;
    let name = <&str>::decode(r).map_err(malformed)?;
    if !valid_name(name) {
        return Err(ForwardingError::Malformed(format!("player name {name:?}")));
    }
    let properties = Vec::<Property>::decode(r).map_err(malformed)?;
    if !r.is_empty() {
        return Err(ForwardingError::Malformed(format!(
            "{} bytes after the properties",
            r.len()
        )));
    }
    Ok(ForwardedPlayer {
        address,
        uuid,
        name: name.to_owned(),
        properties,
    })
}

/// Java's `InetAddress.getHostAddress()`: dotted IPv4, or IPv6 in full or
/// compressed form, possibly with a `%scope` suffix the ban list ignores.
fn parse_address(text: &str) -> Option<IpAddr> {
    let without_scope = text.split('%').next().unwrap_or(text);
    without_scope.parse().ok()
}

fn malformed(error: impl fmt::Display) -> ForwardingError {
    ForwardingError::Malformed(format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use valence_protocol::Encode;

    const SECRET: &[u8] = b"twelve-chars";

    /// The signed data as Velocity writes it.
    fn player_info(version: i32, address: &str, name: &str) -> Vec<u8> {
        let mut data = Vec::new();
        VarInt(version).encode(&mut data).expect("encode");
        address.encode(&mut data).expect("encode");
        Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)
            .encode(&mut data)
            .expect("encode");
        name.encode(&mut data).expect("encode");
        vec![
            Property {
                name: "textures".to_owned(),
                value: "c2tpbg==".to_owned(),
                signature: Some("c2lnbmVk".to_owned()),
            },
            Property {
                name: "unsigned".to_owned(),
                value: "x".to_owned(),
                signature: None,
            },
        ]
        .encode(&mut data)
        .expect("encode");
        data
    }

    /// What the proxy sends: the HMAC of `data` with `secret`, then `data`.
    fn signed(secret: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(data);
        let mut response = mac.finalize().into_bytes().to_vec();
        response.extend_from_slice(data);
        response
    }

    fn key() -> ForwardingKey {
        ForwardingKey::new(SECRET)
    }

    #[test]
    fn a_signed_version_1_player_is_accepted() {
        let data = player_info(1, "203.0.113.7", "Steve");
        let player = verify(&key(), &signed(SECRET, &data)).expect("verified");
        assert_eq!(player.address, "203.0.113.7".parse::<IpAddr>().expect("ip"));
        assert_eq!(
            player.uuid.to_string(),
            "01234567-89ab-cdef-0123-456789abcdef"
        );
        assert_eq!(player.name, "Steve");
        assert_eq!(player.properties.len(), 2);
        assert_eq!(player.properties[0].name, "textures");
        assert_eq!(player.properties[0].signature.as_deref(), Some("c2lnbmVk"));
        assert_eq!(player.properties[1].signature, None);
    }

    #[test]
    fn ipv6_addresses_as_java_prints_them_are_read() {
        for (text, expected) in [
            ("0:0:0:0:0:0:0:1", "::1"),
            ("2001:db8:0:0:0:0:0:7", "2001:db8::7"),
            ("fe80:0:0:0:0:0:0:1%eth0", "fe80::1"),
        ] {
            let data = player_info(1, text, "Alex");
            let player = verify(&key(), &signed(SECRET, &data)).expect("verified");
            assert_eq!(player.address, expected.parse::<IpAddr>().expect("ip"));
        }
    }

    #[test]
    fn a_signature_made_with_another_secret_is_refused() {
        let data = player_info(1, "203.0.113.7", "Steve");
        let error = verify(&key(), &signed(b"another-secret", &data)).unwrap_err();
        assert_eq!(error, ForwardingError::BadSignature);
        assert_eq!(error.reason(), UNVERIFIED);
    }

    #[test]
    fn data_changed_after_signing_is_refused() {
        let mut response = signed(SECRET, &player_info(1, "203.0.113.7", "Steve"));
        let last = response.len() - 1;
        response[last] ^= 1;
        assert_eq!(
            verify(&key(), &response),
            Err(ForwardingError::BadSignature)
        );
    }

    #[test]
    fn truncated_player_info_is_refused() {
        let response = signed(SECRET, &player_info(1, "203.0.113.7", "Steve"));
        // Shorter than a signature: nothing to check.
        let error = verify(&key(), &response[..20]).unwrap_err();
        assert_eq!(error, ForwardingError::TooShort(20));
        assert_eq!(error.reason(), NOT_PROXIED);
        // Cut in the data: the signature no longer matches.
        let cut = &response[..response.len() - 5];
        assert_eq!(verify(&key(), cut), Err(ForwardingError::BadSignature));
        // Signed as cut (a broken proxy): malformed, and nothing panics.
        let data = player_info(1, "203.0.113.7", "Steve");
        for len in 0..data.len() {
            let error = verify(&key(), &signed(SECRET, &data[..len])).unwrap_err();
            assert!(
                matches!(error, ForwardingError::Malformed(_)),
                "{len}: {error}"
            );
        }
    }

    #[test]
    fn unknown_versions_are_refused_naming_the_version() {
        for version in [0, 2, 4, 200] {
            let data = player_info(version, "203.0.113.7", "Steve");
            let error = verify(&key(), &signed(SECRET, &data)).unwrap_err();
            assert_eq!(error, ForwardingError::UnsupportedVersion(version));
            assert!(error.reason().contains(&version.to_string()));
        }
    }

    #[test]
    fn a_bad_address_name_or_trailing_data_is_malformed() {
        for data in [
            player_info(1, "not-an-address", "Steve"),
            player_info(1, "203.0.113.7", "no spaces allowed"),
            [player_info(1, "203.0.113.7", "Steve"), vec![0]].concat(),
        ] {
            let error = verify(&key(), &signed(SECRET, &data)).unwrap_err();
            assert!(matches!(error, ForwardingError::Malformed(_)), "{error}");
            assert_eq!(error.reason(), UNVERIFIED);
        }
    }

    #[test]
    fn the_key_is_not_printed() {
        assert!(!format!("{:?}", key()).contains("twelve"));
    }
}
