//! Opening connections: a dial loop per configured peer that keeps one
//! connection up (reconnecting with backoff), and the accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, info_span, warn, Instrument, Span};

use super::cipher::SessionKeys;
use super::connection::{self, buffered, LinkError};
use super::handshake::{Handshake, HandshakeError};
use super::net::{AnyStream, Listener};
use super::peer::{Peer, PeerState};
use super::shared::Inner;
use super::stats::add;
use super::NodeId;

/// Starts the loop that keeps `peer` connected.
pub(crate) fn spawn_dialer(inner: &Arc<Inner>, peer: Arc<Peer>) {
    let span = info_span!("dial", node = %inner.id, peer = %peer.id);
    tokio::spawn(dial_loop(inner.clone(), peer).instrument(span));
}

async fn dial_loop(inner: Arc<Inner>, peer: Arc<Peer>) {
    let mut state = peer.watch();
    let mut delay = inner.config.reconnect_min;
    loop {
        // Nothing to do while a connection is up, whichever side dialled it.
        let addr = match state.wait_for(|s| s.removed || s.active.is_none()).await {
            Ok(s) if !s.removed => s.addr,
            _ => None,
        };
        let Some(addr) = addr else { return };

        let attempt = tokio::time::timeout(
            inner.config.handshake_timeout,
            dial_once(&inner, peer.id, addr),
        );
        let outcome = tokio::select! {
            outcome = attempt => outcome,
            _ = removed(&mut state) => return,
        };
        let pause = match outcome {
            Ok(Ok((socket, keys))) => {
                connection::run(inner.clone(), socket, keys, peer.id, inner.id, addr).await;
                delay = inner.config.reconnect_min;
                delay
            }
            Ok(Err(failure)) => {
                failure.log(&inner, addr, Some(peer.id));
                back_off(&mut delay, inner.config.reconnect_max)
            }
            Err(_) => {
                add(&inner.stats.handshakes_failed, 1);
                debug!(%addr, "connect and handshake timed out");
                back_off(&mut delay, inner.config.reconnect_max)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = removed(&mut state) => return,
        }
    }
}

/// The pause before the next attempt; the one after it doubles, up to `max`.
fn back_off(delay: &mut Duration, max: Duration) -> Duration {
    let pause = *delay;
    *delay = (pause * 2).min(max);
    pause
}

async fn removed(state: &mut watch::Receiver<PeerState>) {
    // An error means the peer slot is gone, which is removal too.
    let _ = state.wait_for(|s| s.removed).await;
}

/// Why a connection attempt ended before it carried messages.
enum Failure {
    Connect(std::io::Error),
    Handshake {
        error: LinkError,
        claimed: Option<NodeId>,
        proof_sent: bool,
    },
}

impl Failure {
    /// Logs it; an authentication problem is a warning naming the address
    /// and the id the peer claimed (never the secret or a MAC).
    fn log(&self, inner: &Inner, addr: SocketAddr, expected: Option<NodeId>) {
        let (error, claimed, proof_sent) = match self {
            Failure::Connect(e) => {
                debug!(%addr, error = %e, "connect failed");
                return;
            }
            Failure::Handshake {
                error,
                claimed,
                proof_sent,
            } => (error, claimed, *proof_sent),
        };
        add(&inner.stats.handshakes_failed, 1);
        let claimed = claimed.or(expected).map(|id| id.to_string());
        let claimed = claimed.as_deref().unwrap_or("unknown");
        match error {
            LinkError::Handshake(HandshakeError::BadProof(_)) => warn!(
                %addr, claimed_node = %claimed,
                "peer failed to prove the cluster secret; connection refused"
            ),
            LinkError::Handshake(e) => {
                warn!(%addr, claimed_node = %claimed, error = %e, "handshake refused")
            }
            _ if proof_sent => warn!(
                %addr, claimed_node = %claimed, error = %error,
                "peer hung up after our proof; its cluster secret probably differs"
            ),
            _ => debug!(%addr, claimed_node = %claimed, error = %error, "handshake failed"),
        }
    }
}

async fn dial_once(
    inner: &Inner,
    expected: NodeId,
    addr: SocketAddr,
) -> Result<(connection::Socket, SessionKeys), Failure> {
    let stream = (inner.connector)(addr).await.map_err(Failure::Connect)?;
    let mut socket = buffered(stream);
    let (mut handshake, hello) = Handshake::dial(inner.config.secret.clone(), inner.id, expected);
    match connection::handshake(&mut socket, &mut handshake, Some(hello), inner).await {
        Ok((_, keys)) => Ok((socket, keys)),
        Err(error) => Err(Failure::Handshake {
            error,
            claimed: handshake.claimed(),
            proof_sent: handshake.proof_sent(),
        }),
    }
}

/// Accepts connections until the transport shuts down; each is authenticated
/// in its own task so a slow or hostile peer holds up no one else. At most
/// `max_pending_handshakes` are in handshake at once: a connection beyond that
/// is closed on the spot, so strangers cannot pile up tasks and sockets, and
/// each one is gone after `handshake_timeout` at the latest.
pub(crate) async fn accept_loop<L: Listener>(inner: Arc<Inner>, mut listener: L) {
    let mut closed = inner.closed();
    let pending = Arc::new(Semaphore::new(inner.config.max_pending_handshakes));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = closed.wait_for(|c| *c) => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    add(&inner.stats.handshakes_refused, 1);
                    // Debug only: a flood would otherwise flood the log too;
                    // the counter shows it.
                    debug!(%addr, "too many connections in handshake; closed at once");
                    drop(stream);
                    continue;
                };
                let span =
                    info_span!("inbound", node = %inner.id, %addr, peer = tracing::field::Empty);
                tokio::spawn(
                    inbound(inner.clone(), Box::new(stream), addr, permit).instrument(span),
                );
            }
            Err(e) => {
                // Typically out of file descriptors: pause rather than spin.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Authenticates one inbound connection, holding `permit` (a slot among the
/// handshakes in progress) until it is authenticated or dropped.
async fn inbound(
    inner: Arc<Inner>,
    stream: Box<dyn AnyStream>,
    addr: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let mut socket = buffered(stream);
    let mut handshake = Handshake::accept(inner.config.secret.clone(), inner.id);
    let mut closed = inner.closed();
    let deadline = inner.config.handshake_timeout;
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(
            deadline,
            connection::handshake(&mut socket, &mut handshake, None, &inner),
        ) => outcome,
        _ = closed.wait_for(|c| *c) => return,
    };
    drop(permit);
    match outcome {
        Ok(Ok((peer, keys))) => {
            Span::current().record("peer", tracing::field::display(peer));
            connection::run(inner, socket, keys, peer, peer, addr).await;
        }
        Ok(Err(error)) => Failure::Handshake {
            error,
            claimed: handshake.claimed(),
            proof_sent: false,
        }
        .log(&inner, addr, None),
        Err(_) => {
            add(&inner.stats.handshakes_failed, 1);
            info!(claimed_node = ?handshake.claimed(), "handshake not finished within {deadline:?}; dropped");
        }
    }
}
