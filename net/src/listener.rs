//! The node's Minecraft listener: accepts clients, admits them by address,
//! and takes each through handshake, status or login, then play.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn, Instrument};
use valence_protocol::packets::handshaking::handshake_c2s::HandshakeNextState;
use valence_protocol::packets::handshaking::HandshakeC2s;
use valence_protocol::packets::login::LoginDisconnectS2c;
use valence_protocol::Text;

use crate::connection::{Connection, Phase};
use crate::error::ClientError;
use crate::frontend::Frontend;
use crate::limits::{AddressKey, Admitted, Refusal};
use crate::session::Session;
use crate::status::serve_status;

/// Time allowed for a handshake, a status exchange or a login.
const PRE_PLAY_TIMEOUT: Duration = Duration::from_secs(15);

impl Frontend {
    /// Accepts clients until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        tokio::spawn(self.clone().advance_time());
        let mut next_connection = 1u64;
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if self.is_shutting_down() {
                // A stopping node takes no one: the client tries again and
                // a load balancer sends it to a node that stays.
                drop(stream);
                continue;
            }
            let connection = next_connection;
            next_connection += 1;
            let Some(admitted) = self.admit(peer.ip()) else {
                // Closed at once: the handshake state has no disconnect
                // packet, and reading on to login would hold the very
                // sockets the limit is there to refuse.
                drop(stream);
                continue;
            };
            let frontend = self.clone();
            let span = tracing::info_span!("client", connection, %peer);
            tokio::spawn(
                async move { frontend.handle_client(stream, peer, admitted).await }
                    .instrument(span),
            );
        }
    }

    /// A place for a new connection from `ip`, unless its address is over
    /// a limit (then the refusal is counted and logged).
    fn admit(&self, ip: std::net::IpAddr) -> Option<Admitted> {
        let address = AddressKey::from(ip);
        match self.limits.admission.admit(address) {
            Ok(admitted) => Some(admitted),
            Err(refusal) => {
                let limits = &self.config.per_address;
                let detail = match refusal {
                    Refusal::AddressConnections => format!(
                        "{} connections from this address at once",
                        limits.max_connections
                    ),
                    _ => format!(
                        "more than {} new connections a second from this address",
                        limits.connections_per_second
                    ),
                };
                self.limits.refusals.record(address, refusal, &detail);
                None
            }
        }
    }

    async fn advance_time(self: Arc<Self>) {
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        loop {
            every_second.tick().await;
            if self.players.count() > 0 {
                self.players.broadcast(self.time_packet());
            }
        }
    }

    /// One client from accept to the end; `_admitted` holds its address's
    /// place until then.
    async fn handle_client(
        self: Arc<Self>,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        _admitted: Admitted,
    ) {
        let mut conn =
            Connection::new(stream, self.metrics.clone(), self.limits.clone(), peer.ip());
        let outcome =
            tokio::time::timeout(PRE_PLAY_TIMEOUT, self.pre_play(&mut conn, peer.ip())).await;
        let logged_in = match outcome {
            Ok(Ok(Some(logged_in))) => logged_in,
            Ok(Ok(None)) => return conn.close().await,
            Ok(Err(ClientError::Limit(refusal))) => {
                // Counted and logged where it was found; told only where
                // the protocol has a way to say it.
                if conn.phase() == Phase::Login {
                    conn.queue(&LoginDisconnectS2c {
                        reason: std::borrow::Cow::Owned(Text::from(refusal.reason())),
                    });
                }
                return conn.close().await;
            }
            Ok(Err(e)) => {
                if let Some(reason) = e.reason() {
                    info!("login refused: {reason}");
                    conn.queue(&LoginDisconnectS2c {
                        reason: std::borrow::Cow::Owned(Text::from(reason)),
                    });
                } else {
                    debug!("connection ended before play: {e}");
                }
                return conn.close().await;
            }
            Err(_) => {
                debug!("handshake or login timed out");
                return conn.close().await;
            }
        };
        conn.enter(Phase::Play);
        let crate::login::LoggedIn { profile, address } = logged_in;
        let span = tracing::info_span!("player", name = %profile.name, %address);
        Session::run(self, conn, profile, address.to_string())
            .instrument(span)
            .await;
    }

    /// Handshake, then status (returns `None`) or login (returns who logged in).
    async fn pre_play(
        &self,
        conn: &mut Connection,
        peer: std::net::IpAddr,
    ) -> Result<Option<crate::login::LoggedIn>, ClientError> {
        let frame = conn.next_frame().await?;
        let handshake: HandshakeC2s = frame.decode().map_err(ClientError::malformed)?;
        let protocol = handshake.protocol_version.0;
        match handshake.next_state {
            HandshakeNextState::Status => {
                conn.enter(Phase::Status);
                serve_status(self, conn).await?;
                Ok(None)
            }
            HandshakeNextState::Login => {
                conn.enter(Phase::Login);
                crate::login::login(self, conn, protocol, peer)
                    .await
                    .map(Some)
            }
        }
    }
}
