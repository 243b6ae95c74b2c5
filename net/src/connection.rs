//! A client's TCP stream with the protocol's framing, compression and
//! encryption on it.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use valence_protocol::decode::PacketFrame;
use valence_protocol::{CompressionThreshold, Encode, Packet, PacketDecoder, PacketEncoder};

use crate::error::ClientError;
use crate::metrics::NetMetrics;

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

pub struct Connection {
    metrics: Arc<NetMetrics>,
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
    pub fn new(stream: TcpStream, metrics: Arc<NetMetrics>) -> Self {
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        NetMetrics::add(&metrics.connections, 1);
        Self {
            metrics,
            reader,
            writer,
            decoder: PacketDecoder::new(),
            encoder: PacketEncoder::new(),
            pending: false,
            threshold: None,
            encrypted: false,
        }
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
                NetMetrics::add(&self.metrics.packets_in, 1);
                return Ok(frame);
            }
            self.decoder.reserve(READ_CHUNK);
            let mut buf = self.decoder.take_capacity();
            let read = self.reader.read_buf(&mut buf).await;
            self.decoder.queue_bytes(buf);
            match read {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => NetMetrics::add(&self.metrics.bytes_in, n as u64),
                Err(e) => return Err(ClientError::Io(e)),
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
        self.decoder.set_compression(threshold);
    }

    /// Switches AES/CFB8 on for both directions, keyed and seeded with the
    /// login's shared secret. Call it once, with nothing queued: bytes queued
    /// before would be sent encrypted too.
    pub fn enable_encryption(&mut self, shared_secret: &[u8; 16]) {
        self.encrypted = true;
        self.encoder.enable_encryption(shared_secret);
        self.decoder.enable_encryption(shared_secret);
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
