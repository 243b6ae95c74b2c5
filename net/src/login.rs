//! Login: offline mode makes the name the vanilla offline UUID; online mode
//! asks the session server (see `online`); behind a Velocity proxy the proxy
//! says who the player is (see `velocity`).

use std::borrow::Cow;
use std::net::IpAddr;

use valence_protocol::packets::login::{LoginCompressionS2c, LoginHelloC2s, LoginSuccessS2c};
use valence_protocol::{VarInt, PROTOCOL_VERSION};

use crate::connection::Connection;
use crate::error::ClientError;
use crate::frontend::Frontend;
use crate::profile::{offline_uuid, valid_name, Profile};

/// A finished login: who, and from which address (the player's own, also
/// behind a proxy), for IP bans and rate limits.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub profile: Profile,
    pub address: IpAddr,
}

pub async fn login(
    frontend: &Frontend,
    conn: &mut Connection,
    protocol: i32,
    peer: IpAddr,
) -> Result<LoggedIn, ClientError> {
    let frame = conn.next_frame().await?;
    let hello: LoginHelloC2s = frame.decode().map_err(ClientError::malformed)?;
    if protocol != PROTOCOL_VERSION {
        let which = if protocol < PROTOCOL_VERSION {
            "client"
        } else {
            "server"
        };
        return Err(ClientError::Refused(format!(
            "Outdated {which}! Please use {}",
            valence_protocol::MINECRAFT_VERSION
        )));
    }
    if !valid_name(hello.username) {
        return Err(ClientError::Refused("Invalid player name".into()));
    }
    let players = &frontend.players;
    let online = players.count() + frontend.directory.remote_count();
    let known =
        players.get(hello.username).is_some() || frontend.directory.find(hello.username).is_some();
    if online >= players.max() && !known {
        return Err(ClientError::Refused("The server is full!".into()));
    }
    let config = &frontend.config;
    let (profile, address) = match (&config.forwarding, &config.online_mode) {
        // The proxy checked the account with the session server already:
        // forwarding wins over online mode.
        (Some(velocity), _) => {
            let forwarded = velocity.receive(conn, hello.username).await?;
            let profile = Profile {
                uuid: forwarded.uuid,
                name: forwarded.name,
                properties: forwarded.properties,
            };
            (profile, forwarded.address)
        }
        (None, Some(online)) => (online.verify(conn, hello.username).await?, peer),
        (None, None) => {
            let profile = Profile {
                uuid: offline_uuid(hello.username),
                name: hello.username.to_owned(),
                properties: Vec::new(),
            };
            (profile, peer)
        }
    };
    if let Some(threshold) = frontend.config.compression_threshold {
        conn.queue(&LoginCompressionS2c {
            threshold: VarInt(threshold as i32),
        });
        conn.flush().await?;
        conn.set_compression(Some(threshold));
    }
    conn.queue(&LoginSuccessS2c {
        uuid: profile.uuid,
        username: &profile.name,
        properties: Cow::Borrowed(&profile.properties),
    });
    conn.flush().await?;
    Ok(LoggedIn { profile, address })
}
