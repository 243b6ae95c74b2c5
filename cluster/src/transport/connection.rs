//! One connection to a peer: the handshake over the socket, then a reader and
//! a writer until the link breaks, is superseded or the peer is removed.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::frame::{self, Frame, FrameError, HEARTBEAT};
use super::handle::{Inner, Install};
use super::handshake::{Handshake, HandshakeError, HandshakeMsg, MAX_HANDSHAKE_FRAME};
use super::peer::{Link, Peer, PeerState};
use super::stats::add;
use super::{Envelope, NodeId};

/// A socket of any network implementation.
pub(crate) trait AnyStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AnyStream for T {}

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
}

/// Runs `handshake` to completion over `socket`, sending `first` before
/// waiting for the peer; returns the authenticated peer.
pub(crate) async fn handshake(
    socket: &mut Socket,
    handshake: &mut Handshake,
    first: Option<HandshakeMsg>,
    inner: &Inner,
) -> Result<NodeId, LinkError> {
    if let Some(msg) = first {
        write_handshake(socket, &msg).await?;
    }
    loop {
        let msg =
            match frame::read_frame(socket, MAX_HANDSHAKE_FRAME, inner.config.handshake_timeout)
                .await?
            {
                Frame::Data(bytes) => postcard::from_bytes(&bytes).map_err(LinkError::Malformed)?,
                // Never sent during a handshake; harmless, and the handshake's
                // deadline bounds a peer that sends nothing else.
                Frame::Heartbeat => continue,
            };
        let step = handshake.receive(msg)?;
        if let Some(reply) = step.send {
            write_handshake(socket, &reply).await?;
        }
        if let Some(peer) = step.established {
            return Ok(peer);
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
    peer_id: NodeId,
    dialer: NodeId,
    addr: SocketAddr,
) {
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
            let _ = read_loop(&inner, peer_id, reader).await;
            return;
        }
        Install::Closed => return,
    };
    add(&inner.stats.connections_established, 1);
    add(&inner.stats.connections_open, 1);
    info!(%addr, %dialer, "connected");

    let (finish, finish_rx) = watch::channel(false);
    let reading = read_loop(&inner, peer_id, reader);
    let writing = write_loop(&inner, &peer, writer, link, finish_rx);
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
        Err(e @ LinkError::Frame(FrameError::TooLarge { .. })) => {
            warn!(%addr, error = %e, "dropping the connection")
        }
        Err(e) => info!(%addr, error = %e, "connection lost"),
        Ok(WriterStop::Superseded) => {
            debug!(%addr, "connection superseded by the pair's preferred one")
        }
        Ok(WriterStop::Removed | WriterStop::Finished) => info!(%addr, "connection closed"),
    }
}

/// Reads and dispatches envelopes until the connection fails or the peer
/// closes it (`FrameError::Closed`); returns why it stopped.
async fn read_loop<S: AsyncRead>(inner: &Inner, peer: NodeId, reader: ReadHalf<S>) -> LinkError {
    let mut reader = reader;
    let (max, idle) = (inner.config.max_frame_len, inner.config.idle_timeout);
    loop {
        let bytes = match frame::read_frame(&mut reader, max, idle).await {
            Ok(Frame::Data(bytes)) => bytes,
            Ok(Frame::Heartbeat) => continue,
            Err(e) => return e.into(),
        };
        add(&inner.stats.frames_received, 1);
        add(&inner.stats.bytes_received, bytes.len() as u64 + 4);
        // The framing is intact even if this envelope is not (say, a topic
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
    link: Link,
    mut finish: watch::Receiver<bool>,
) -> Result<WriterStop, LinkError> {
    let mut writer = writer;
    let mut state = peer.watch();
    // The queue is the peer's: a connection it superseded may still be
    // finishing a write with it.
    let mut outbox = tokio::select! {
        outbox = peer.outbox() => outbox,
        stop = stopped(&mut state, link, &mut finish) => return Ok(stop),
    };
    let mut frames: Vec<Bytes> = Vec::new();
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
            next = tokio::time::timeout(inner.config.heartbeat_interval, outbox.recv()) => next,
        };
        let first = match next {
            Ok(Some(first)) => first,
            // The peer slot holds a sender for as long as it exists.
            Ok(None) => return Ok(WriterStop::Removed),
            Err(_) => {
                writer.write_all(&HEARTBEAT).await.map_err(FrameError::Io)?;
                writer.flush().await.map_err(FrameError::Io)?;
                continue;
            }
        };
        // Whatever else is queued (typically the rest of this tick's messages)
        // goes out in the same write.
        let mut len = first.len();
        frames.push(first);
        while len < MAX_BATCH {
            let Ok(next) = outbox.try_recv() else { break };
            len += next.len();
            frames.push(next);
        }
        let bytes: &[u8] = if frames.len() == 1 {
            &frames[0]
        } else {
            batch.clear();
            frames.iter().for_each(|f| batch.extend_from_slice(f));
            &batch
        };
        writer.write_all(bytes).await.map_err(FrameError::Io)?;
        writer.flush().await.map_err(FrameError::Io)?;
        add(&inner.stats.frames_sent, frames.len() as u64);
        add(&inner.stats.bytes_sent, len as u64);
        add(&inner.stats.writes, 1);
        frames.clear();
    }
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
