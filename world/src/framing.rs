//! Turning packets into the wire bytes sessions write as they are: regions
//! encode a packet once and every viewer gets the same bytes.

use bytes::Bytes;
use valence_protocol::encode::{PacketWriter, WritePacket};
use valence_protocol::{CompressionThreshold, Encode, Packet};

/// Frames play-state packets with the server's compression threshold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Framing {
    pub threshold: CompressionThreshold,
}

impl Framing {
    /// Appends one framed packet to `buf`. Every packet built by the server
    /// encodes, so a failure is a bug in the server, reported in the log.
    pub fn append<P: Packet + Encode>(&self, buf: &mut Vec<u8>, packet: &P) {
        PacketWriter::new(buf, self.threshold).write_packet(packet);
    }

    pub fn frame<P: Packet + Encode>(&self, packet: &P) -> Bytes {
        let mut buf = Vec::new();
        self.append(&mut buf, packet);
        // A compressed packet is far smaller than the buffer it was encoded
        // in, and cached chunk packets live long: keep only what is used.
        buf.shrink_to_fit();
        Bytes::from(buf)
    }
}
