//! The Source RCON framing vanilla speaks, without any IO: a little-endian
//! i32 length, then the request id, the type (i32 LE each), the payload and
//! two NUL bytes. The length counts everything after itself.

use thiserror::Error;

/// A login request: the payload is the password.
pub const LOGIN: i32 = 3;
/// A command request; also the type of the login answer, as in vanilla.
pub const COMMAND: i32 = 2;
/// A command's output.
pub const RESPONSE: i32 = 0;

/// The request id a failed login (or a command before login) is answered with.
pub const AUTH_FAILED_ID: i32 = -1;

/// The smallest length: id, type and the two NUL bytes.
const MIN_LEN: usize = 10;
/// Bytes after the length prefix that are not payload: id, type, two NULs.
const OVERHEAD: usize = 10;
/// Vanilla reads a request into a 1,460-byte buffer, length prefix included.
pub const MAX_REQUEST: usize = 1460;
/// Vanilla sends a command's output in pieces of at most this many bytes.
pub const MAX_RESPONSE_PAYLOAD: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub id: i32,
    pub kind: i32,
    pub payload: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("packet length {0} is negative")]
    Negative(i32),
    #[error("packet length {0} is below the {MIN_LEN} bytes of id, type and terminators")]
    TooShort(i32),
    #[error("packet length {length} is over the {max} bytes accepted")]
    TooLong { length: i32, max: usize },
}

/// Reads one packet of at most `max` bytes (length prefix included) off the
/// front of `buf`: `MAX_REQUEST` for requests. `Ok(None)` while the packet
/// is incomplete; otherwise the packet and how many bytes it took. The
/// length is checked as soon as its four bytes are in, so an oversized
/// packet is refused before anything of it is buffered.
pub fn decode(buf: &[u8], max: usize) -> Result<Option<(Packet, usize)>, CodecError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let length = i32::from_le_bytes(*prefix);
    let Ok(len) = usize::try_from(length) else {
        return Err(CodecError::Negative(length));
    };
    if len < MIN_LEN {
        return Err(CodecError::TooShort(length));
    }
    if len + 4 > max {
        return Err(CodecError::TooLong {
            length,
            max: max.saturating_sub(4),
        });
    }
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    let (head, rest) = body.split_at(8);
    let id = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let kind = i32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    // The payload ends at its first NUL: vanilla reads it as a C string,
    // and clients differ on sending one terminator or two.
    let text = rest.split(|b| *b == 0).next().unwrap_or_default();
    let payload = String::from_utf8_lossy(text).into_owned();
    Ok(Some((Packet { id, kind, payload }, 4 + len)))
}

/// One packet with `payload` as it is; responses go through `encode_response`.
pub fn encode(id: i32, kind: i32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() + OVERHEAD;
    let mut out = Vec::with_capacity(len + 4);
    // Payloads are at most MAX_RESPONSE_PAYLOAD bytes or a request's, so
    // the length always fits.
    out.extend_from_slice(&(len as i32).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&[0, 0]);
    out
}

/// A command's output as vanilla sends it: response packets of at most
/// `MAX_RESPONSE_PAYLOAD` bytes each, all with the request's id, and one
/// empty packet for an empty output. A piece never ends inside a UTF-8
/// character. Nothing marks the last piece; clients send a second request
/// after the command and read until its answer comes (see docs/config.md).
pub fn encode_response(id: i32, text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + OVERHEAD + 4);
    let mut rest = text;
    loop {
        let mut cut = rest.len().min(MAX_RESPONSE_PAYLOAD);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, after) = rest.split_at(cut);
        out.extend_from_slice(&encode(id, RESPONSE, piece.as_bytes()));
        rest = after;
        if rest.is_empty() {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(mut buf: &[u8]) -> Vec<Packet> {
        let mut packets = Vec::new();
        while let Some((packet, used)) = decode(buf, usize::MAX).expect("valid packets") {
            packets.push(packet);
            buf = &buf[used..];
        }
        assert!(buf.is_empty(), "{} bytes left over", buf.len());
        packets
    }

    #[test]
    fn a_packet_round_trips() {
        let bytes = encode(7, COMMAND, b"list");
        assert_eq!(bytes.len(), 4 + 10 + 4);
        assert_eq!(&bytes[..4], &14_i32.to_le_bytes());
        let (packet, used) = decode(&bytes, MAX_REQUEST)
            .expect("valid")
            .expect("complete");
        assert_eq!(used, bytes.len());
        assert_eq!(
            packet,
            Packet {
                id: 7,
                kind: COMMAND,
                payload: "list".into()
            }
        );
    }

    #[test]
    fn the_wiki_example_login_decodes() {
        // wiki.vg's example: login with id 0x12345678 and password "password".
        let mut bytes = 18_i32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&0x1234_5678_i32.to_le_bytes());
        bytes.extend_from_slice(&LOGIN.to_le_bytes());
        bytes.extend_from_slice(b"password\0\0");
        let (packet, _) = decode(&bytes, MAX_REQUEST)
            .expect("valid")
            .expect("complete");
        assert_eq!((packet.id, packet.kind), (0x1234_5678, LOGIN));
        assert_eq!(packet.payload, "password");
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let bytes = encode(1, COMMAND, b"help");
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut], MAX_REQUEST), Ok(None), "cut at {cut}");
        }
        let mut two = bytes.clone();
        two.extend_from_slice(&encode(2, COMMAND, b""));
        let ids: Vec<i32> = all(&two).iter().map(|p| p.id).collect();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn bad_lengths_are_refused_from_the_prefix_alone() {
        assert_eq!(
            decode(&(-5_i32).to_le_bytes(), MAX_REQUEST),
            Err(CodecError::Negative(-5))
        );
        assert_eq!(
            decode(&9_i32.to_le_bytes(), MAX_REQUEST),
            Err(CodecError::TooShort(9))
        );
        assert_eq!(
            decode(&1457_i32.to_le_bytes(), MAX_REQUEST),
            Err(CodecError::TooLong {
                length: 1457,
                max: 1456
            })
        );
        assert_eq!(
            decode(&i32::MAX.to_le_bytes(), MAX_REQUEST),
            Err(CodecError::TooLong {
                length: i32::MAX,
                max: 1456
            })
        );
        // The largest request vanilla reads is accepted.
        let payload = vec![b'a'; MAX_REQUEST - 4 - OVERHEAD];
        let (packet, used) = decode(&encode(1, COMMAND, &payload), MAX_REQUEST)
            .expect("valid")
            .expect("complete");
        assert_eq!((packet.payload.len(), used), (payload.len(), MAX_REQUEST));
    }

    #[test]
    fn a_missing_terminator_or_bad_utf8_is_tolerated() {
        let mut bytes = 10_i32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&3_i32.to_le_bytes());
        bytes.extend_from_slice(&COMMAND.to_le_bytes());
        bytes.extend_from_slice(&[0xff, b'x']);
        let (packet, _) = decode(&bytes, MAX_REQUEST)
            .expect("valid")
            .expect("complete");
        assert_eq!(packet.payload, "\u{fffd}x");
    }

    #[test]
    fn a_long_output_is_split_at_4096_bytes() {
        let text = "x".repeat(MAX_RESPONSE_PAYLOAD * 2 + 10);
        let packets = all(&encode_response(9, &text));
        let sizes: Vec<usize> = packets.iter().map(|p| p.payload.len()).collect();
        assert_eq!(sizes, [4096, 4096, 10]);
        assert!(packets.iter().all(|p| p.id == 9 && p.kind == RESPONSE));
        let joined: String = packets.into_iter().map(|p| p.payload).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn an_exact_multiple_sends_no_empty_tail_and_empty_output_one_packet() {
        let text = "y".repeat(MAX_RESPONSE_PAYLOAD);
        assert_eq!(all(&encode_response(1, &text)).len(), 1);
        let empty = all(&encode_response(1, ""));
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].payload, "");
    }

    #[test]
    fn a_piece_never_ends_inside_a_character() {
        // 4095 ASCII bytes, then a two-byte character across the boundary.
        let text = format!("{}é!", "z".repeat(MAX_RESPONSE_PAYLOAD - 1));
        let packets = all(&encode_response(1, &text));
        let sizes: Vec<usize> = packets.iter().map(|p| p.payload.len()).collect();
        assert_eq!(sizes, [4095, 3]);
        assert!(!packets.iter().any(|p| p.payload.contains('\u{fffd}')));
    }
}
