//! Records on disk: a little-endian length, a CRC-32 of the payload, then
//! the payload. A crash can leave the last record half written; its length
//! or checksum then fails, and the segment ends before it.

/// Bytes before each payload: length, then checksum.
pub const FRAME_HEAD: usize = 8;
/// Longest payload a record may carry; anything longer is damage, not data.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// Appends one record holding `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("journal payloads stay under MAX_PAYLOAD");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The records of `bytes` that check out, in order, and the length of the
/// prefix they fill: the first record that fails ends the segment.
pub fn decode(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + FRAME_HEAD) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let start = at + FRAME_HEAD;
        if len > MAX_PAYLOAD {
            break;
        }
        let Some(payload) = bytes.get(start..start + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        records.push(payload);
        at = start + len;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order() {
        let mut out = Vec::new();
        encode(b"first", &mut out);
        encode(b"", &mut out);
        encode(b"third", &mut out);
        let (records, len) = decode(&out);
        assert_eq!(records, vec![&b"first"[..], b"", b"third"]);
        assert_eq!(len, out.len());
    }

    #[test]
    fn a_torn_or_damaged_tail_ends_the_segment_at_the_last_good_record() {
        let mut out = Vec::new();
        encode(b"kept", &mut out);
        let good = out.len();
        encode(b"torn record", &mut out);
        for cut in good..out.len() {
            let (records, len) = decode(&out[..cut]);
            assert_eq!(records, vec![&b"kept"[..]], "cut at {cut}");
            assert_eq!(len, good);
        }
        let mut flipped = out.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(decode(&flipped).1, good);
    }
}
