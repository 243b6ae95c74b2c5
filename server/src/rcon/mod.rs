//! Vanilla's remote console: operators log in with `rcon.password` and run
//! exactly the commands the console runs, with the same output.
//!
//! Bounds: `MAX_CONNECTIONS` connections at once; requests of at most
//! `codec::MAX_REQUEST` bytes; a login within `LOGIN_WITHIN` of connecting;
//! an idle logged-in connection closes after `IDLE`; wrong passwords lock
//! an address out (see `guard`). Each refusal is counted in `/metrics`.

mod codec;
mod guard;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_net::limits::AddressKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tracing::{debug, info, warn};

use crate::config::RconConfig;
use crate::console::{self, Next};
use crate::node::Node;
use crate::remote_refusals::RemoteRefusal;
use codec::Packet;
use guard::LoginGuard;

/// Operators, not players, connect here: a handful at once is plenty, and
/// the cap keeps unauthenticated sockets from piling up.
pub const MAX_CONNECTIONS: usize = 8;
/// A client must log in this soon after connecting.
pub const LOGIN_WITHIN: Duration = Duration::from_secs(10);
/// A logged-in connection that sends nothing this long is closed; tools
/// that keep a session open send a command at least this often.
pub const IDLE: Duration = Duration::from_secs(600);

struct Rcon {
    node: Arc<Node>,
    password: String,
    /// Notified when a `stop` comes over RCON: main stops the node.
    stop: Arc<Notify>,
    guard: Mutex<LoginGuard>,
    slots: Arc<Semaphore>,
}

/// Binds `config.bind` and serves RCON there until the node stops.
pub async fn start(config: &RconConfig, node: Arc<Node>, stop: Arc<Notify>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {} (rcon.bind)", config.bind))?;
    let addr = listener
        .local_addr()
        .context("rcon listener has no address")?;
    info!("rcon on {addr}");
    let rcon = Arc::new(Rcon {
        node: node.clone(),
        password: config.password.clone(),
        stop,
        guard: Mutex::default(),
        slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
    });
    node.vitals.spawn("accepting rcon", accept(listener, rcon));
    Ok(())
}

async fn accept(listener: TcpListener, rcon: Arc<Rcon>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                warn!("rcon accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if rcon.locked(AddressKey::from(peer.ip())) {
            rcon.refuse(
                RemoteRefusal::RconLockedOut,
                peer,
                "locked out after failed logins",
            );
            continue;
        }
        let Ok(slot) = rcon.slots.clone().try_acquire_owned() else {
            rcon.refuse(
                RemoteRefusal::RconConnections,
                peer,
                "every connection slot is taken",
            );
            continue;
        };
        let rcon = rcon.clone();
        tokio::spawn(async move {
            let _slot = slot;
            rcon.serve(stream, peer).await;
        });
    }
}

/// What a request leads to: bytes to send, and whether to close afterwards.
struct Answer {
    bytes: Vec<u8>,
    close: bool,
    stop: bool,
}

impl Rcon {
    fn locked(&self, address: AddressKey) -> bool {
        self.guard
            .lock()
            .is_ok_and(|guard| guard.is_locked(address, Instant::now()))
    }

    fn refuse(&self, refusal: RemoteRefusal, peer: SocketAddr, detail: &str) {
        self.node.remote_refusals.record(refusal);
        debug!(%peer, "rcon refused: {detail}");
    }

    async fn serve(&self, mut stream: TcpStream, peer: SocketAddr) {
        let login_deadline = tokio::time::Instant::now() + LOGIN_WITHIN;
        let mut logged_in = false;
        // At most one incomplete request and one read: a request is
        // handled before more is read.
        let mut buf = Vec::with_capacity(2 * codec::MAX_REQUEST);
        let mut chunk = [0_u8; codec::MAX_REQUEST];
        loop {
            match codec::decode(&buf, codec::MAX_REQUEST) {
                Err(e) => {
                    self.refuse(RemoteRefusal::RconPacket, peer, &e.to_string());
                    return;
                }
                Ok(Some((packet, used))) => {
                    buf.drain(..used);
                    let answer = self.answer(packet, &mut logged_in, peer).await;
                    let sent = tokio::time::timeout(IDLE, stream.write_all(&answer.bytes)).await;
                    if answer.stop {
                        self.stop.notify_one();
                    }
                    if answer.close || !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                    continue;
                }
                Ok(None) => {}
            }
            let wait = if logged_in {
                tokio::time::Instant::now() + IDLE
            } else {
                login_deadline
            };
            match tokio::time::timeout_at(wait, stream.read(&mut chunk)).await {
                Err(_) => {
                    self.refuse(RemoteRefusal::RconIdle, peer, "idle");
                    return;
                }
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn answer(&self, packet: Packet, logged_in: &mut bool, peer: SocketAddr) -> Answer {
        let reply = |bytes| Answer {
            bytes,
            close: false,
            stop: false,
        };
        let refused = codec::encode(codec::AUTH_FAILED_ID, codec::COMMAND, b"");
        match packet.kind {
            codec::LOGIN => {
                let address = AddressKey::from(peer.ip());
                // A connection opened before its address was locked out
                // gets no more tries than a new one would.
                if self.locked(address) {
                    self.refuse(
                        RemoteRefusal::RconLockedOut,
                        peer,
                        "locked out after failed logins",
                    );
                    return Answer {
                        bytes: refused,
                        close: true,
                        stop: false,
                    };
                }
                if same_secret(&packet.payload, &self.password) {
                    if let Ok(mut guard) = self.guard.lock() {
                        guard.succeeded(address);
                    }
                    *logged_in = true;
                    info!(%peer, "rcon login");
                    return reply(codec::encode(packet.id, codec::COMMAND, b""));
                }
                *logged_in = false;
                let locked = self
                    .guard
                    .lock()
                    .is_ok_and(|mut guard| guard.failed(address, Instant::now()));
                self.node
                    .remote_refusals
                    .record(RemoteRefusal::RconLoginFailed);
                // Never the password tried: it may be a real one mistyped.
                warn!(%peer, locked_out = locked, "rcon login with a wrong password");
                Answer {
                    bytes: refused,
                    close: locked,
                    stop: false,
                }
            }
            _ if !*logged_in => {
                self.refuse(
                    RemoteRefusal::RconBeforeLogin,
                    peer,
                    "a request before login",
                );
                Answer {
                    bytes: refused,
                    close: true,
                    stop: false,
                }
            }
            codec::COMMAND => {
                if !packet.payload.is_empty() {
                    info!(%peer, "rcon issued server command: {}", packet.payload);
                }
                let (output, next) = console::run_line(&self.node, &packet.payload).await;
                Answer {
                    bytes: codec::encode_response(packet.id, &output),
                    close: next == Next::Stop,
                    stop: next == Next::Stop,
                }
            }
            // As vanilla answers them; clients also use this to find the
            // end of a long, split output.
            other => reply(codec::encode_response(
                packet.id,
                &format!("Unknown request {other:x}"),
            )),
        }
    }
}

/// Compares without stopping at the first differing byte, so the time
/// taken tells nothing about how much of a guess was right.
fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    let differ = given
        .iter()
        .zip(expected)
        .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
    differ == 0 && given.len() == expected.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("hunter22", "hunter22"));
        assert!(!same_secret("hunter2", "hunter22"));
        assert!(!same_secret("hunter22x", "hunter22"));
        assert!(!same_secret("", "hunter22"));
        assert!(!same_secret("Hunter22", "hunter22"));
    }
}
