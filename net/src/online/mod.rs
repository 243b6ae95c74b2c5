//! Online mode: the client proves, through the session server, that it owns
//! the account it names. RSA key exchange, then AES/CFB8 on the connection,
//! then the session server's `hasJoined` with the hash of that exchange.

mod digest;
mod error;
mod keys;
mod session_server;

use std::fmt;

use tracing::{info, warn};
use valence_protocol::packets::login::{LoginHelloS2c, LoginKeyC2s};

pub use error::OnlineError;
use keys::{Challenge, ServerKeys};
pub(crate) use session_server::parse_profile;
use session_server::SessionServer;

use crate::connection::Connection;
use crate::error::ClientError;
use crate::profile::Profile;

/// Vanilla servers send an empty server id since 1.7; the hash still covers it.
const SERVER_ID: &str = "";

/// What an online-mode frontend needs for every login: its key pair and the
/// session server. Created once per node.
pub struct OnlineMode {
    keys: ServerKeys,
    session_server: SessionServer,
    session_server_url: String,
}

impl OnlineMode {
    /// Checks the session server URL and generates the key pair (on a
    /// blocking thread, so the runtime keeps serving meanwhile).
    pub async fn new(session_server_url: &str) -> Result<Self, OnlineError> {
        let session_server = SessionServer::new(session_server_url)?;
        let keys = tokio::task::spawn_blocking(ServerKeys::generate)
            .await
            .map_err(|e| OnlineError::KeyGeneration(e.to_string()))??;
        Ok(Self {
            keys,
            session_server,
            session_server_url: session_server_url.to_owned(),
        })
    }

    /// Runs the key exchange with a client that said it is `username`, switches
    /// the connection to encryption and asks the session server who it is.
    pub(crate) async fn verify(
        &self,
        conn: &mut Connection,
        username: &str,
    ) -> Result<Profile, ClientError> {
        let challenge = Challenge::new();
        conn.queue(&LoginHelloS2c {
            server_id: SERVER_ID,
            public_key: self.keys.public_der(),
            verify_token: challenge.token(),
        });
        conn.flush().await?;
        let frame = conn.next_frame().await?;
        let response: LoginKeyC2s = frame.decode().map_err(ClientError::malformed)?;
        let secret = challenge
            .accept(&self.keys, response.shared_secret, response.verify_token)
            .map_err(|e| refuse(username, e))?;
        // From here on both directions are encrypted, the refusals below included.
        conn.enable_encryption(&secret)?;
        let hash = digest::server_hash(SERVER_ID, &secret, self.keys.public_der());
        let verified = self
            .session_server
            .has_joined(username, &hash)
            .await
            .map_err(|e| refuse(username, e))?;
        Ok(Profile {
            uuid: verified.uuid,
            name: verified.name,
            properties: verified.properties,
        })
    }
}

/// Logs why a login failed (where the operator will look for it) and turns
/// it into the reason the client is shown.
fn refuse(username: &str, error: OnlineError) -> ClientError {
    if error.is_server_side() {
        warn!(username, "online-mode login failed: {error}");
    } else {
        info!(username, "online-mode login failed: {error}");
    }
    ClientError::Refused(error.reason())
}

// By hand: the private key must never reach a log line.
impl fmt::Debug for OnlineMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnlineMode")
            .field("session_server", &self.session_server_url)
            .finish_non_exhaustive()
    }
}
