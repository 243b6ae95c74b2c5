//! A client's TCP stream with the protocol's framing, compression and
//! encryption on it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use valence_protocol::decode::PacketFrame;
use valence_protocol::{CompressionThreshold, Encode, Packet, PacketEncoder};

use crate::error::ClientError;
use crate::inbound::Inbound;
use crate::limits::{AddressKey, Limits, Refusal, Share};
use crate::metrics::NetMetrics;

/// A client that does not take its bytes for this long is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing connection waits for the client to hang up.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// A write at least this big is a burst (the chunks of a join or a
/// teleport). The encoder's buffer keeps the capacity of the largest write
/// it made, so after a burst it starts afresh instead of holding that much
/// for a player who then stands still.
const BURST: usize = 64 * 1024;

/// Where a connection is in the protocol: what it may send, and whether
/// it can be told why it is refused (status and handshake have no
/// disconnect packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Handshake,
    Status,
    Login,
    Play,
}

/// What `try_next_frame` found.
pub enum Arrived {
    Frame(PacketFrame),
    /// Nothing whole is left and the socket is empty.
    Drained,
    /// The reads allowed are spent; the socket may hold more.
    MoreWaiting,
}

pub struct Connection {
    metrics: Arc<NetMetrics>,
    limits: Arc<Limits>,
    address: AddressKey,
    phase: Phase,
    inbound: Inbound,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    encoder: PacketEncoder,
    /// Something was queued since the last flush.
    pending: bool,
    /// `None` until Set Compression.
    threshold: CompressionThreshold,
    /// An encrypting encoder cannot be replaced: its cipher carries state.
    encrypted: bool,
}

impl Connection {
    pub fn new(
        stream: TcpStream,
        metrics: Arc<NetMetrics>,
        limits: Arc<Limits>,
        peer: IpAddr,
    ) -> Self {
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        NetMetrics::add(&metrics.connections, 1);
        let share = Share::new(limits.budget.clone());
        Self {
            metrics,
            limits,
            address: AddressKey::from(peer),
            phase: Phase::Handshake,
            inbound: Inbound::new(share),
            reader,
            writer,
            encoder: PacketEncoder::new(),
            pending: false,
            threshold: None,
            encrypted: false,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Moves on to `phase`. In play, frames may be as large as the protocol
    /// allows and no longer draw on the pre-play budget.
    pub fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        if phase == Phase::Play {
            self.inbound.enter_play();
        }
    }

    /// The address per-address limits count this connection under.
    pub fn address(&self) -> AddressKey {
        self.address
    }

    /// Counts and logs a refusal of this connection; the error ends it.
    pub fn refuse(&self, refusal: Refusal, detail: &str) -> ClientError {
        self.limits.refusals.record(self.address, refusal, detail);
        ClientError::Limit(refusal)
    }

    /// The next whole packet, reading from the socket as needed.
    /// Cancel-safe: bytes read before a cancellation stay queued.
    pub async fn next_frame(&mut self) -> Result<PacketFrame, ClientError> {
        loop {
            if let Some(frame) = self.inbound.next_frame()? {
                NetMetrics::add(&self.metrics.packets_in, 1);
                return Ok(frame);
            }
            let mut buf = self.inbound.buffer();
            let read = self.reader.read_buf(&mut buf).await;
            match read {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => NetMetrics::add(&self.metrics.bytes_in, n as u64),
                Err(e) => return Err(ClientError::Io(e)),
            }
            // Counted now; `next_frame` gives the refusal out after the
            // frames before it.
            if let Err((refusal, detail)) = self.inbound.received(buf) {
                self.refuse(refusal, &detail);
            }
        }
    }

    /// Waits until the socket has something to read, or is closed or
    /// broken (which the next read reports). Cancel-safe.
    pub async fn readable(&self) -> Result<(), ClientError> {
        self.reader.readable().await.map_err(ClientError::Io)
    }

    /// The next whole packet among the bytes that have arrived, without
    /// waiting: reads what the socket holds now, at most `reads` more
    /// times (counted down, so one pass over a fast sender ends).
    pub fn try_next_frame(&mut self, reads: &mut u32) -> Result<Arrived, ClientError> {
        loop {
            if let Some(frame) = self.inbound.next_frame()? {
                NetMetrics::add(&self.metrics.packets_in, 1);
                return Ok(Arrived::Frame(frame));
            }
            if *reads == 0 {
                return Ok(Arrived::MoreWaiting);
            }
            *reads -= 1;
            let mut buf = self.inbound.buffer();
            let read = match self.reader.try_read_buf(&mut buf) {
                Ok(0) => Err(ClientError::Closed),
                Ok(n) => {
                    NetMetrics::add(&self.metrics.bytes_in, n as u64);
                    Ok(true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
                Err(e) => Err(ClientError::Io(e)),
            };
            // The buffer goes back even when nothing was read: it holds the
            // decoder's spare capacity.
            if let Err((refusal, detail)) = self.inbound.received(buf) {
                self.refuse(refusal, &detail);
            }
            if !read? {
                return Ok(match self.inbound.next_frame()? {
                    Some(frame) => {
                        NetMetrics::add(&self.metrics.packets_in, 1);
                        Arrived::Frame(frame)
                    }
                    None => Arrived::Drained,
                });
            }
        }
    }

    /// Queues a packet; it is sent by the next `flush`.
    pub fn queue<P: Packet + Encode>(&mut self, packet: &P) {
        if let Err(e) = self.encoder.append_packet(packet) {
            tracing::error!("could not encode {}: {e:#}", P::NAME);
        }
        self.pending = true;
    }

    /// Queues bytes that are already framed with this connection's compression.
    pub fn queue_framed(&mut self, bytes: &[u8]) {
        self.encoder.append_bytes(bytes);
        self.pending = true;
    }

    /// Whether bytes wait for the next `flush`.
    pub fn has_pending(&self) -> bool {
        self.pending
    }

    /// Writes everything queued in one go.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        self.pending = false;
        let bytes: BytesMut = self.encoder.take();
        if bytes.is_empty() {
            return Ok(());
        }
        NetMetrics::add(&self.metrics.bytes_out, bytes.len() as u64);
        let written = match tokio::time::timeout(WRITE_TIMEOUT, self.writer.write_all(&bytes)).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ClientError::Io(e)),
            Err(_) => Err(ClientError::TooSlow),
        };
        if bytes.len() >= BURST && !self.encrypted {
            self.encoder = PacketEncoder::new();
            self.encoder.set_compression(self.threshold);
        }
        written
    }

    /// Switches compression on for everything after the Set Compression packet.
    pub fn set_compression(&mut self, threshold: CompressionThreshold) {
        self.threshold = threshold;
        self.encoder.set_compression(threshold);
        self.inbound.set_compression(threshold);
    }

    /// Switches AES/CFB8 on for both directions, keyed and seeded with the
    /// login's shared secret. Call it once, with nothing queued: bytes queued
    /// before would be sent encrypted too. Fails if the client sent more
    /// after the frame that finished the key exchange: those bytes were
    /// read as plain text.
    pub fn enable_encryption(&mut self, shared_secret: &[u8; 16]) -> Result<(), ClientError> {
        self.inbound.enable_decryption(shared_secret)?;
        self.encrypted = true;
        self.encoder.enable_encryption(shared_secret);
        Ok(())
    }

    /// Sends what is queued and closes. Unread input is drained for a
    /// moment first: closing a socket with unread data makes the kernel send
    /// a reset, which can destroy the disconnect message still in flight.
    pub async fn close(mut self) {
        let _ = self.flush().await;
        let _ = self.writer.shutdown().await;
        let drain = async {
            let mut sink = [0u8; 4096];
            while matches!(self.reader.read(&mut sink).await, Ok(n) if n > 0) {}
        };
        let _ = tokio::time::timeout(CLOSE_LINGER, drain).await;
    }
}
