//! Velocity modern forwarding: behind a Velocity proxy, the proxy has
//! already authenticated the player, and at login it answers the server's
//! Login Plugin Request on `velocity:player_info` with the player's uuid,
//! name, address and skin, signed with a secret the two share. This module
//! runs that exchange on the connection; `player_info` checks the answer.

mod player_info;

use std::fmt;
use std::time::Duration;

use tracing::{info, warn};
use valence_protocol::decode::PacketFrame;
use valence_protocol::packets::login::{LoginQueryRequestS2c, LoginQueryResponseC2s};
use valence_protocol::{RawBytes, VarInt};

use player_info::CHANNEL;
pub(crate) use player_info::{verify, ForwardingKey};
pub use player_info::{ForwardedPlayer, ForwardingError, MAX_VERSION};

use crate::connection::Connection;
use crate::error::ClientError;

/// The request's id; one request per login, so any fixed value does.
const MESSAGE_ID: i32 = 0;
/// A proxy answers at once. A client that never answers is refused with a
/// reason well before the login's own timeout just drops it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a frontend behind Velocity needs for every login. Created once per node.
pub struct VelocityForwarding {
    key: ForwardingKey,
}

impl VelocityForwarding {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: ForwardingKey::new(secret),
        }
    }

    /// Asks for the player info of a client that said it is `username` and
    /// returns the player the proxy vouches for.
    pub(crate) async fn receive(
        &self,
        conn: &mut Connection,
        username: &str,
    ) -> Result<ForwardedPlayer, ClientError> {
        conn.queue(&LoginQueryRequestS2c {
            message_id: VarInt(MESSAGE_ID),
            channel: CHANNEL.into(),
            data: RawBytes(&[MAX_VERSION]),
        });
        conn.flush().await?;
        let frame = match tokio::time::timeout(ANSWER_TIMEOUT, conn.next_frame()).await {
            Ok(frame) => frame?,
            Err(_) => return Err(refuse(username, ForwardingError::NotAnswered)),
        };
        let player = self.answer(&frame, username)?;
        info!(
            username,
            name = %player.name,
            uuid = %player.uuid,
            address = %player.address,
            "player forwarded by the proxy"
        );
        Ok(player)
    }

    /// The player the proxy's answer in `frame` vouches for.
    pub(crate) fn answer(
        &self,
        frame: &PacketFrame,
        username: &str,
    ) -> Result<ForwardedPlayer, ClientError> {
        let response: LoginQueryResponseC2s = frame.decode().map_err(ClientError::malformed)?;
        let data = match response.data {
            Some(RawBytes(data)) if response.message_id.0 == MESSAGE_ID => data,
            // "Not understood": a client that connected directly.
            _ => return Err(refuse(username, ForwardingError::NotAnswered)),
        };
        verify(&self.key, data).map_err(|e| refuse(username, e))
    }
}

/// Logs why forwarding failed and turns it into the reason the client is shown.
fn refuse(username: &str, error: ForwardingError) -> ClientError {
    if error.is_server_side() {
        warn!(username, "forwarded login refused: {error}");
    } else {
        info!(username, "forwarded login refused: {error}");
    }
    ClientError::Refused(error.reason())
}

// By hand: the secret must never reach a log line.
impl fmt::Debug for VelocityForwarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VelocityForwarding").finish_non_exhaustive()
    }
}
