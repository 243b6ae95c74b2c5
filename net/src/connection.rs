//! A client's TCP stream with the protocol's framing, compression and
//! encryption on it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockSizeUser, KeyIvInit};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use valence_protocol::decode::PacketFrame;
use valence_protocol::{CompressionThreshold, Encode, Packet, PacketDecoder, PacketEncoder};

use crate::error::ClientError;
use crate::limits::PROTOCOL_MAX_FRAME;
use crate::limits::{AddressKey, FrameScanner, Limits, Refusal, Share, PRE_PLAY_MAX_FRAME};
use crate::metrics::NetMetrics;

/// AES/CFB8 of the client's stream. The connection decrypts itself, not
/// the decoder, so frame lengths are checked before the decoder buffers them.
type Decryptor = cfb8::Decryptor<aes::Aes128>;

/// Room made for each read. Clients send little (a moving player about a
/// kilobyte a second), and every connected player keeps this much.
const READ_CHUNK: usize = 2 * 1024;
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

pub struct Connection {
    metrics: Arc<NetMetrics>,
    limits: Arc<Limits>,
    address: AddressKey,
    phase: Phase,
    scanner: FrameScanner,
    /// Frames handed out so far: with the scanner's count, whether the
    /// decoder still holds unread frames.
    frames_out: u64,
    /// The pre-play budget's part this connection holds; gone in play.
    share: Option<Share>,
    decryptor: Option<Decryptor>,
    /// A refusal found in bytes read, returned once the frames before it
    /// are taken (so it is told in the state those frames lead to).
    refused: Option<ClientError>,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    decoder: PacketDecoder,
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
            scanner: FrameScanner::new(PRE_PLAY_MAX_FRAME),
            frames_out: 0,
            share: Some(share),
            decryptor: None,
            refused: None,
            reader,
            writer,
            decoder: PacketDecoder::new(),
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
            self.scanner.set_max(PROTOCOL_MAX_FRAME);
            self.share = None;
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
            if let Some(frame) = self
                .decoder
                .try_next_packet()
                .map_err(ClientError::malformed)?
            {
                self.frames_out += 1;
                NetMetrics::add(&self.metrics.packets_in, 1);
                return Ok(frame);
            }
            if let Some(refused) = self.refused.take() {
                return Err(refused);
            }
            self.decoder.reserve(READ_CHUNK);
            let mut buf = self.decoder.take_capacity();
            let read = self.reader.read_buf(&mut buf).await;
            match read {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => NetMetrics::add(&self.metrics.bytes_in, n as u64),
                Err(e) => return Err(ClientError::Io(e)),
            }
            if let Some(decryptor) = &mut self.decryptor {
                for byte in buf.chunks_mut(Decryptor::block_size()) {
                    decryptor.decrypt_block_mut(GenericArray::from_mut_slice(byte));
                }
            }
            if let Err(refused) = self.check(&buf) {
                buf.truncate(self.scanner.boundary());
                self.refused = Some(refused);
            }
            self.decoder.queue_bytes(buf);
        }
    }

    /// Follows the frames in newly read bytes: a length over the limit is
    /// refused before its body comes, and before play an incomplete frame
    /// must fit in the pre-play budget.
    fn check(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        if let Err(e) = self.scanner.feed(bytes) {
            return Err(self.refuse(Refusal::FrameTooLong, &e.to_string()));
        }
        let held = self.scanner.held();
        match self.share.as_mut().map(|share| share.hold(held)) {
            Some(Err(e)) => Err(self.refuse(Refusal::PrePlayBudget, &e.to_string())),
            Some(Ok(())) | None => Ok(()),
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
        self.decoder.set_compression(threshold);
    }

    /// Switches AES/CFB8 on for both directions, keyed and seeded with the
    /// login's shared secret. Call it once, with nothing queued: bytes queued
    /// before would be sent encrypted too. Fails if the client sent more
    /// after the frame that finished the key exchange: those bytes were
    /// read as plain text.
    pub fn enable_encryption(&mut self, shared_secret: &[u8; 16]) -> Result<(), ClientError> {
        if self.scanner.held() > 0 || self.scanner.frames() > self.frames_out {
            return Err(ClientError::Malformed(
                "data after the encryption response".into(),
            ));
        }
        self.encrypted = true;
        self.encoder.enable_encryption(shared_secret);
        self.decryptor = Some(Decryptor::new(
            GenericArray::from_slice(shared_secret),
            GenericArray::from_slice(shared_secret),
        ));
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
