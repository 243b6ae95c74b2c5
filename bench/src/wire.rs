//! Reading the server's frames cheaply: a bot needs the packet id of every
//! frame but the body of only a few, so compressed frames are inflated just
//! far enough to read the id, and fully only when the body is wanted.

use std::cell::RefCell;

use anyhow::{bail, ensure, Context};
use bytes::{Buf, Bytes, BytesMut};
use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_PARSE_ZLIB_HEADER, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use valence_protocol::var_int::VarIntDecodeError;
use valence_protocol::{Decode, VarInt, MAX_PACKET_SIZE};

/// Inflate straight into the caller's buffer and stop when it is full. (A
/// streaming inflater fills its own 32 KiB window first, which would inflate
/// most of a chunk packet just to read its id.)
const INFLATE_FLAGS: u32 = TINFL_FLAG_PARSE_ZLIB_HEADER | TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;

thread_local! {
    // A decompressor holds ~11 KiB of Huffman tables; the bots of one thread
    // never inflate at the same time, so they share one instead of one each.
    static INFLATER: RefCell<Box<DecompressorOxide>> = RefCell::new(Box::default());
}

/// One frame, with its packet id read and its body left as it arrived.
pub struct Frame {
    pub id: i32,
    /// Bytes the frame took on the wire, length prefix included.
    pub wire_len: usize,
    body: Body,
}

enum Body {
    /// The body after the packet id.
    Plain(Bytes),
    /// The zlib stream of id and body, and their length once inflated.
    Deflated { data_len: usize, deflated: Bytes },
}

impl Frame {
    /// The packet body (after the id), inflated if it arrived compressed.
    pub fn body(&self) -> anyhow::Result<Bytes> {
        match &self.body {
            Body::Plain(body) => Ok(body.clone()),
            Body::Deflated { data_len, deflated } => {
                let data = inflate(deflated, *data_len)?;
                let mut r = &data[..];
                VarInt::decode(&mut r).context("packet id")?;
                let id_len = data.len() - r.len();
                Ok(Bytes::from(data).slice(id_len..))
            }
        }
    }
}

/// Splits the incoming byte stream into frames.
#[derive(Default)]
pub struct FrameReader {
    buf: BytesMut,
    compressed: bool,
}

impl FrameReader {
    /// Set Compression switches every later frame to the compressed format,
    /// including frames already buffered behind it.
    pub fn enable_compression(&mut self) {
        self.compressed = true;
    }

    /// Where the socket reads into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The next complete frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> anyhow::Result<Option<Frame>> {
        let mut r = &self.buf[..];
        let packet_len = match VarInt::decode_partial(&mut r) {
            Ok(len) => len,
            Err(VarIntDecodeError::Incomplete) => return Ok(None),
            Err(VarIntDecodeError::TooLarge) => bail!("malformed frame length"),
        };
        ensure!(
            (1..=MAX_PACKET_SIZE).contains(&packet_len),
            "frame length {packet_len} out of bounds"
        );
        let prefix = self.buf.len() - r.len();
        let wire_len = prefix + packet_len as usize;
        if self.buf.len() < wire_len {
            return Ok(None);
        }
        let mut payload = self.buf.split_to(wire_len).freeze();
        payload.advance(prefix);
        let body = if self.compressed {
            let mut r = &payload[..];
            let data_len = VarInt::decode(&mut r).context("frame data length")?.0;
            ensure!(
                (0..=MAX_PACKET_SIZE).contains(&data_len),
                "frame data length {data_len} out of bounds"
            );
            payload.advance(payload.len() - r.len());
            if data_len == 0 {
                payload
            } else {
                let deflated = payload;
                let id = peek_deflated_id(&deflated)?;
                return Ok(Some(Frame {
                    id,
                    wire_len,
                    body: Body::Deflated {
                        data_len: data_len as usize,
                        deflated,
                    },
                }));
            }
        } else {
            payload
        };
        let mut r = &body[..];
        let id = VarInt::decode(&mut r).context("packet id")?.0;
        let id_len = body.len() - r.len();
        Ok(Some(Frame {
            id,
            wire_len,
            body: Body::Plain(body.slice(id_len..)),
        }))
    }

    /// Gives back memory a burst (the chunks of a join) left behind, so
    /// thousands of idle bots stay small.
    pub fn shrink_if_idle(&mut self) {
        const KEEP: usize = 16 * 1024;
        if self.buf.is_empty() && self.buf.capacity() > KEEP {
            self.buf = BytesMut::with_capacity(KEEP / 4);
        }
    }
}

/// Inflates only the first few bytes of a compressed frame: the packet id.
fn peek_deflated_id(deflated: &[u8]) -> anyhow::Result<i32> {
    let mut head = [0u8; 5];
    let produced = INFLATER.with_borrow_mut(|z| {
        z.init();
        let (status, _, produced) = decompress(z, deflated, &mut head, 0, INFLATE_FLAGS);
        match status {
            // Stopping with output left is the point.
            TINFLStatus::HasMoreOutput | TINFLStatus::Done => Ok(produced),
            status => Err(anyhow::anyhow!("inflating packet id: {status:?}")),
        }
    })?;
    let mut r = &head[..produced];
    Ok(VarInt::decode(&mut r).context("packet id")?.0)
}

fn inflate(deflated: &[u8], data_len: usize) -> anyhow::Result<Vec<u8>> {
    // One byte of room past the announced length tells a longer packet apart.
    let mut data = vec![0; data_len + 1];
    let (status, produced) = INFLATER.with_borrow_mut(|z| {
        z.init();
        let (status, _, produced) = decompress(z, deflated, &mut data, 0, INFLATE_FLAGS);
        (status, produced)
    });
    if status != TINFLStatus::Done || produced != data_len {
        bail!("packet inflated to {produced} bytes ({status:?}), announced {data_len}");
    }
    data.truncate(data_len);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use valence_protocol::packets::play::{CustomPayloadS2c, KeepAliveS2c};
    use valence_protocol::{ident, Encode, Packet, PacketEncoder, RawBytes};

    use super::*;

    fn frames(threshold: Option<u32>) -> BytesMut {
        let mut enc = PacketEncoder::new();
        enc.set_compression(threshold);
        enc.append_packet(&KeepAliveS2c { id: 7 }).unwrap();
        let big = vec![b'x'; 4000];
        enc.append_packet(&CustomPayloadS2c {
            channel: ident!("bench:big").into(),
            data: RawBytes(&big),
        })
        .unwrap();
        enc.take()
    }

    #[test]
    fn reads_ids_and_bodies_of_plain_and_compressed_frames() {
        for threshold in [None, Some(256)] {
            let mut reader = FrameReader::default();
            if threshold.is_some() {
                reader.enable_compression();
            }
            let bytes = frames(threshold);
            let total = bytes.len();
            // Arriving byte by byte must give the same frames as all at once.
            let mut seen = Vec::new();
            for b in bytes {
                reader.buffer().extend_from_slice(&[b]);
                while let Some(frame) = reader.next_frame().unwrap() {
                    seen.push(frame);
                }
            }
            assert_eq!(seen.len(), 2);
            assert_eq!(seen[0].id, KeepAliveS2c::ID);
            let body = seen[0].body().unwrap();
            assert_eq!(KeepAliveS2c::decode(&mut &body[..]).unwrap().id, 7);
            assert_eq!(seen[1].id, CustomPayloadS2c::ID);
            assert!(seen[1].body().unwrap().ends_with(&[b'x'; 4000]));
            assert_eq!(seen[0].wire_len + seen[1].wire_len, total);
        }
    }

    #[test]
    fn a_wrong_announced_length_is_an_error() {
        let mut packet = Vec::new();
        VarInt(KeepAliveS2c::ID).encode(&mut packet).unwrap();
        packet.extend_from_slice(&[0; 300]);
        let deflated = miniz_oxide::deflate::compress_to_vec_zlib(&packet, 1);
        let mut inner = Vec::new();
        VarInt(packet.len() as i32 + 1).encode(&mut inner).unwrap();
        inner.extend_from_slice(&deflated);
        let mut reader = FrameReader::default();
        reader.enable_compression();
        let mut wire = Vec::new();
        VarInt(inner.len() as i32).encode(&mut wire).unwrap();
        wire.extend_from_slice(&inner);
        reader.buffer().extend_from_slice(&wire);
        let frame = reader.next_frame().unwrap().unwrap();
        assert_eq!(frame.id, KeepAliveS2c::ID);
        assert!(frame.body().is_err());
    }
}
