//! The receiving side of a client's protocol stream without its socket:
//! bytes read go in, whole frames come out. The connection feeds it from
//! TCP; the fuzz targets feed it arbitrary bytes through the same path.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockSizeUser, KeyIvInit};
use bytes::BytesMut;
use valence_protocol::decode::PacketFrame;
use valence_protocol::{CompressionThreshold, PacketDecoder};

use crate::error::ClientError;
use crate::limits::{FrameScanner, Refusal, Share, PRE_PLAY_MAX_FRAME, PROTOCOL_MAX_FRAME};

/// AES/CFB8 of the client's stream. The stream is decrypted here, not by
/// the decoder, so frame lengths are checked before the decoder buffers them.
type Decryptor = cfb8::Decryptor<aes::Aes128>;

/// Room made for each read. Clients send little (a moving player about a
/// kilobyte a second), and every connected player keeps this much.
pub const READ_CHUNK: usize = 2 * 1024;

pub struct Inbound {
    scanner: FrameScanner,
    /// Frames handed out so far: with the scanner's count, whether the
    /// decoder still holds unread frames.
    frames_out: u64,
    /// The pre-play budget's part this connection holds; gone in play.
    share: Option<Share>,
    decryptor: Option<Decryptor>,
    /// A refusal found in bytes received, returned once the frames before
    /// it are taken (so it is told in the state those frames lead to).
    refused: Option<Refusal>,
    decoder: PacketDecoder,
}

impl Inbound {
    /// A stream before play, drawing on the pre-play budget through `share`.
    pub fn new(share: Share) -> Self {
        Self {
            scanner: FrameScanner::new(PRE_PLAY_MAX_FRAME),
            frames_out: 0,
            share: Some(share),
            decryptor: None,
            refused: None,
            decoder: PacketDecoder::new(),
        }
    }

    /// In play, frames may be as large as the protocol allows and no longer
    /// draw on the pre-play budget.
    pub fn enter_play(&mut self) {
        self.scanner.set_max(PROTOCOL_MAX_FRAME);
        self.share = None;
    }

    /// The next whole frame received, `None` if more bytes are needed. Once
    /// the frames before a refusal are taken, the refusal.
    pub fn next_frame(&mut self) -> Result<Option<PacketFrame>, ClientError> {
        if let Some(frame) = self
            .decoder
            .try_next_packet()
            .map_err(ClientError::malformed)?
        {
            self.frames_out += 1;
            return Ok(Some(frame));
        }
        match self.refused.take() {
            Some(refusal) => Err(ClientError::Limit(refusal)),
            None => Ok(None),
        }
    }

    /// A buffer to read the next bytes into; hand it back to `received`.
    pub fn buffer(&mut self) -> BytesMut {
        self.decoder.reserve(READ_CHUNK);
        self.decoder.take_capacity()
    }

    /// Takes bytes read from the client. A refusal found in them is returned
    /// (for the caller to count) and given out by `next_frame` after the
    /// frames before it; the bytes from the refused frame on are dropped.
    pub fn received(&mut self, mut buf: BytesMut) -> Result<(), (Refusal, String)> {
        if let Some(decryptor) = &mut self.decryptor {
            for block in buf.chunks_mut(Decryptor::block_size()) {
                decryptor.decrypt_block_mut(GenericArray::from_mut_slice(block));
            }
        }
        let checked = self.check(&buf);
        if let Err((refusal, _)) = &checked {
            buf.truncate(self.scanner.boundary());
            self.refused = Some(*refusal);
        }
        self.decoder.queue_bytes(buf);
        checked
    }

    /// Follows the frames in newly received bytes: a length over the limit
    /// is refused before its body comes, and before play an incomplete
    /// frame must fit in the pre-play budget.
    fn check(&mut self, bytes: &[u8]) -> Result<(), (Refusal, String)> {
        if let Err(e) = self.scanner.feed(bytes) {
            return Err((Refusal::FrameTooLong, e.to_string()));
        }
        let held = self.scanner.held();
        match self.share.as_mut().map(|share| share.hold(held)) {
            Some(Err(e)) => Err((Refusal::PrePlayBudget, e.to_string())),
            Some(Ok(())) | None => Ok(()),
        }
    }

    /// Decompresses frames after the Set Compression packet.
    pub fn set_compression(&mut self, threshold: CompressionThreshold) {
        self.decoder.set_compression(threshold);
    }

    /// Decrypts everything received from now on with AES/CFB8, keyed and
    /// seeded with the login's shared secret. Fails if the client sent more
    /// after the frame that finished the key exchange: those bytes were
    /// received as plain text.
    pub fn enable_decryption(&mut self, shared_secret: &[u8; 16]) -> Result<(), ClientError> {
        if self.scanner.held() > 0 || self.scanner.frames() > self.frames_out {
            return Err(ClientError::Malformed(
                "data after the encryption response".into(),
            ));
        }
        self.decryptor = Some(Decryptor::new(
            GenericArray::from_slice(shared_secret),
            GenericArray::from_slice(shared_secret),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use valence_protocol::packets::play::KeepAliveC2s;
    use valence_protocol::{Packet, PacketEncoder};

    use super::*;
    use crate::limits::PrePlayBudget;

    fn inbound() -> Inbound {
        Inbound::new(Share::new(PrePlayBudget::new(1 << 20)))
    }

    fn keep_alives(n: u64) -> Vec<u8> {
        let mut encoder = PacketEncoder::new();
        for id in 0..n {
            encoder.append_packet(&KeepAliveC2s { id }).unwrap();
        }
        encoder.take().to_vec()
    }

    fn receive(inbound: &mut Inbound, bytes: &[u8]) -> Result<(), (Refusal, String)> {
        let mut buf = inbound.buffer();
        buf.extend_from_slice(bytes);
        inbound.received(buf)
    }

    #[test]
    fn frames_received_a_byte_at_a_time_come_out_whole() {
        let mut inbound = inbound();
        let mut ids = Vec::new();
        for byte in keep_alives(3) {
            receive(&mut inbound, &[byte]).unwrap();
            while let Some(frame) = inbound.next_frame().unwrap() {
                assert_eq!(frame.id, KeepAliveC2s::ID);
                ids.push(frame.decode::<KeepAliveC2s>().unwrap().id);
            }
        }
        assert_eq!(ids, [0, 1, 2]);
    }

    #[test]
    fn the_frames_before_a_refused_one_come_out_before_the_refusal() {
        let mut inbound = inbound();
        let mut bytes = keep_alives(2);
        // A length prefix of 2^20, over the pre-play limit.
        bytes.extend([0x80, 0x80, 0x40]);
        let (refusal, _) = receive(&mut inbound, &bytes).unwrap_err();
        assert_eq!(refusal, Refusal::FrameTooLong);
        assert!(inbound.next_frame().unwrap().is_some());
        assert!(inbound.next_frame().unwrap().is_some());
        assert!(matches!(
            inbound.next_frame(),
            Err(ClientError::Limit(Refusal::FrameTooLong))
        ));
    }

    #[test]
    fn decryption_is_refused_while_plain_bytes_wait() {
        let mut inbound = inbound();
        receive(&mut inbound, &keep_alives(2)).unwrap();
        assert!(inbound.next_frame().unwrap().is_some());
        assert!(inbound.enable_decryption(&[7; 16]).is_err());
        assert!(inbound.next_frame().unwrap().is_some());
        assert!(inbound.enable_decryption(&[7; 16]).is_ok());
    }
}
