//! One connection to a peer: the handshake over the socket, then a reader and
//! a writer of sealed frames until the link breaks, is superseded or the peer
//! is removed.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::cipher::{CipherError, Opener, Sealer, SessionKeys};
use super::frame::{self, FrameError, HEADER_LEN};
use super::handshake::{Handshake, HandshakeError, HandshakeMsg, MAX_HANDSHAKE_FRAME};
use super::net::AnyStream;
use super::peer::{Link, Outbox, Peer, PeerState};
use super::shared::{Inner, Install};
use super::stats::add;
use super::{Envelope, NodeId};

/// The reader keeps its buffer across the handshake, so bytes the peer sent
/// right after its last handshake message are not lost.
pub(crate) type Socket = BufReader<Box<dyn AnyStream>>;

const READ_BUFFER: usize = 64 * 1024;

/// A write batches queued frames up to this size; a single bigger frame
/// still goes out, alone.
const MAX_BATCH: usize = 256 * 1024;

pub(crate) fn buffered(stream: Box<dyn AnyStream>) -> Socket {
    BufReader::with_capacity(READ_BUFFER, stream)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error("malformed handshake message: {0}")]
    Malformed(postcard::Error),
    #[error("envelope claims to come from node {0}")]
    Spoofed(NodeId),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// `Handshake` derives the keys in the same step that establishes the
    /// peer; this is that promise broken, reported rather than panicked on.
    #[error("the handshake established the peer but gave no session keys")]
    NoKeys,
}

/// Runs `handshake` to completion over `socket`, sending `first` before
/// waiting for the peer; returns the authenticated peer and the keys that
/// seal everything sent after.
pub(crate) async fn handshake(
    socket: &mut Socket,
    handshake: &mut Handshake,
    first: Option<HandshakeMsg>,
    inner: &Inner,
) -> Result<(NodeId, SessionKeys), LinkError> {
    if let Some(msg) = first {
        write_handshake(socket, &msg).await?;
    }
    loop {
        let bytes =
            frame::read_frame(socket, MAX_HANDSHAKE_FRAME, inner.config.handshake_timeout).await?;
        let msg = postcard::from_bytes(&bytes).map_err(LinkError::Malformed)?;
        let step = handshake.receive(msg)?;
        if let Some(reply) = step.send {
            write_handshake(socket, &reply).await?;
        }
        if let Some(peer) = step.established {
            let keys = handshake.take_keys().ok_or(LinkError::NoKeys)?;
            return Ok((peer, keys));
        }
    }
}

async fn write_handshake(socket: &mut Socket, msg: &HandshakeMsg) -> Result<(), LinkError> {
    let bytes = frame::encode(msg)?;
    socket.write_all(&bytes).await.map_err(FrameError::Io)?;
    socket.flush().await.map_err(FrameError::Io)?;
    Ok(())
}

/// Carries messages over an authenticated connection until it ends. `dialer`
/// is the node that opened it, which decides which of two duplicates stays.
///
/// A connection that loses to a duplicate is closed gracefully: each side
/// stops writing at a frame boundary, sends FIN, and reads until the other
/// side's FIN, so frames either side wrote on it before learning of the switch
/// are still delivered (possibly interleaved with the first frames of the
/// connection that stays).
pub(crate) async fn run(
    inner: Arc<Inner>,
    socket: Socket,
    keys: SessionKeys,
    peer_id: NodeId,
    dialer: NodeId,
    addr: SocketAddr,
) {
    let SessionKeys { sealer, opener } = keys;
    let link = Link {
        id: inner.next_link_id(),
        dialer,
    };
    let (reader, mut writer) = tokio::io::split(socket);
    let peer = match inner.install(peer_id, link) {
        Install::Live(peer) => peer,
        Install::Duplicate => {
            add(&inner.stats.duplicate_connections, 1);
            debug!(%addr, %dialer, "the pair already has a connection; draining this one");
            // The peer may have taken this connection first and written on
            // it: write nothing, read what it sent until it closes.
            let _ = writer.shutdown().await;
            let _ = read_loop(&inner, peer_id, reader, opener).await;
            return;
        }
        Install::Closed => return,
    };
    add(&inner.stats.connections_established, 1);
    add(&inner.stats.connections_open, 1);
    info!(%addr, %dialer, "connected");

    let (finish, finish_rx) = watch::channel(false);
    let reading = read_loop(&inner, peer_id, reader, opener);
    let writing = write_loop(&inner, &peer, writer, sealer, link, finish_rx);
    tokio::pin!(reading, writing);
    let ended = tokio::select! {
        error = &mut reading => {
            if matches!(error, LinkError::Frame(FrameError::Closed)) {
                // The peer is done writing but reads until we are: let the
                // writer finish its frame and close our side.
                let _ = finish.send(true);
                let _ = tokio::time::timeout(inner.config.idle_timeout, &mut writing).await;
            }
            Err(error)
        }
        stop = &mut writing => {
            if let Ok(WriterStop::Superseded) = stop {
                // Frames the peer wrote before it learned of the switch are
                // still arriving: read them until it closes its side.
                let _ = (&mut reading).await;
            }
            stop
        }
    };

    inner
        .stats
        .connections_open
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    inner.release(&peer, link.id);
    match ended {
        Err(LinkError::Frame(FrameError::Closed)) => info!(%addr, "peer closed the connection"),
        // A peer that holds the secret breaking the rules, or someone on the
        // path tampering with the stream: worth an operator's attention.
        Err(e @ (LinkError::Frame(FrameError::TooLarge { .. }) | LinkError::Cipher(_))) => {
            warn!(%addr, peer = %peer_id, error = %e, "dropping the connection")
        }
        Err(e) => info!(%addr, peer = %peer_id, error = %e, "connection lost"),
        Ok(WriterStop::Superseded) => {
            debug!(%addr, "connection superseded by the pair's preferred one")
        }
        Ok(WriterStop::Removed | WriterStop::Finished) => info!(%addr, "connection closed"),
    }
}

/// Opens and dispatches envelopes until the connection fails or the peer
/// closes it (`FrameError::Closed`); returns why it stopped. A frame that does
/// not open (forged, altered, replayed, reordered, cut short, or a bare
/// unsealed heartbeat) ends the connection: after one, nothing that follows
/// on the stream can be trusted.
async fn read_loop<S: AsyncRead>(
    inner: &Inner,
    peer: NodeId,
    reader: ReadHalf<S>,
    mut opener: Opener,
) -> LinkError {
    let mut reader = reader;
    let (max, idle) = (inner.config.max_frame_len, inner.config.idle_timeout);
    loop {
        let sealed = match frame::read_frame(&mut reader, max, idle).await {
            Ok(sealed) => sealed,
            Err(e) => return e.into(),
        };
        let wire_len = sealed.len() + HEADER_LEN;
        let bytes = match opener.open(sealed) {
            // A heartbeat: it proved the link alive by opening.
            Ok(bytes) if bytes.is_empty() => continue,
            Ok(bytes) => bytes,
            Err(e) => return e.into(),
        };
        add(&inner.stats.frames_received, 1);
        add(&inner.stats.bytes_received, wire_len as u64);
        // The stream is intact even if this envelope is not (say, a topic
        // added by a newer node), so only the message is lost, not the link.
        let envelope: Envelope = match postcard::from_bytes(&bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                add(&inner.stats.undeliverable, 1);
                warn!(error = %e, "dropping an envelope that does not decode");
                continue;
            }
        };
        if envelope.from != peer {
            return LinkError::Spoofed(envelope.from);
        }
        inner.dispatch(envelope).await;
    }
}

/// Why a writer stopped without an error.
enum WriterStop {
    /// Another connection to the peer is now the live one.
    Superseded,
    /// The peer was removed or the transport shut down.
    Removed,
    /// The peer closed its side; ours followed.
    Finished,
}

async fn write_loop<S: AsyncWrite>(
    inner: &Inner,
    peer: &Peer,
    writer: WriteHalf<S>,
    mut sealer: Sealer,
    link: Link,
    mut finish: watch::Receiver<bool>,
) -> Result<WriterStop, LinkError> {
    let mut writer = writer;
    let mut state = peer.watch();
    // The queues are the peer's: a connection it superseded may still be
    // finishing a write with them.
    let mut outbox = tokio::select! {
        outbox = peer.outbox() => outbox,
        stop = stopped(&mut state, link, &mut finish) => return Ok(stop),
    };
    let outbox: &mut Outbox = &mut outbox;
    let mut batch: Vec<u8> = Vec::with_capacity(MAX_BATCH);
    loop {
        // Stopping is only checked between writes, so a frame is never cut
        // in half and one not yet taken stays queued for the next connection.
        let next = tokio::select! {
            biased;
            stop = stopped(&mut state, link, &mut finish) => {
                writer.shutdown().await.map_err(FrameError::Io)?;
                return Ok(stop);
            }
            next = tokio::time::timeout(inner.config.heartbeat_interval, outbox.next()) => next,
        };
        batch.clear();
        let first = match next {
            Ok(Some(first)) => first,
            Ok(None) => return Ok(WriterStop::Removed),
            Err(_) => {
                // Sealed like any frame, so no one but the peer can keep a
                // dead link looking alive.
                push_sealed(&mut batch, &mut sealer, &[])?;
                writer.write_all(&batch).await.map_err(FrameError::Io)?;
                writer.flush().await.map_err(FrameError::Io)?;
                continue;
            }
        };
        // Whatever else is queued (typically the rest of this tick's messages)
        // goes out in the same write, control frames first.
        push_sealed(&mut batch, &mut sealer, &first)?;
        let mut frames = 1;
        while batch.len() < MAX_BATCH {
            let Some(next) = outbox.try_next() else { break };
            push_sealed(&mut batch, &mut sealer, &next)?;
            frames += 1;
        }
        writer.write_all(&batch).await.map_err(FrameError::Io)?;
        writer.flush().await.map_err(FrameError::Io)?;
        add(&inner.stats.frames_sent, frames);
        add(&inner.stats.bytes_sent, batch.len() as u64);
        add(&inner.stats.writes, 1);
        // One huge frame must not pin its size in memory for the link's life.
        if batch.capacity() > 2 * MAX_BATCH {
            batch = Vec::with_capacity(MAX_BATCH);
        }
    }
}

/// Appends `plaintext` to `out` as one sealed frame, length prefix included.
fn push_sealed(out: &mut Vec<u8>, sealer: &mut Sealer, plaintext: &[u8]) -> Result<(), LinkError> {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    sealer.seal_into(plaintext, out)?;
    let len = out.len() - start - HEADER_LEN;
    // `send` bounds bodies by `max_frame_len`, which fits a u32.
    let prefix = u32::try_from(len).map_err(|_| CipherError::TooLong(len))?;
    out[start..start + HEADER_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(())
}

/// Resolves when the writer of `link` must stop, and says why.
async fn stopped(
    state: &mut watch::Receiver<PeerState>,
    link: Link,
    finish: &mut watch::Receiver<bool>,
) -> WriterStop {
    tokio::select! {
        changed = state.wait_for(|s| s.removed || s.active != Some(link)) => match changed {
            Ok(s) if !s.removed => WriterStop::Superseded,
            _ => WriterStop::Removed,
        },
        _ = finish.wait_for(|done| *done) => WriterStop::Finished,
    }
}
