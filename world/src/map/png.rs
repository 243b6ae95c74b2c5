//! A minimal PNG writer: 8-bit RGBA, one zlib stream, no filtering.

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// `rgba` (`width * height * 4` bytes, rows top first) as a PNG file.
///
/// # Panics
/// If `rgba` does not hold `width * height` pixels: a caller's bug.
pub fn encode_rgba(width: u32, height: u32, rgba: &[u8]) -> Vec<u8> {
    let row = width as usize * 4;
    assert_eq!(rgba.len(), row * height as usize, "picture size");
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 6 (RGBA), deflate, adaptive filters, no interlace.
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::fast());
    for line in rgba.chunks(row.max(1)) {
        // Writing into a Vec cannot fail.
        let _ = zlib.write_all(&[0]);
        let _ = zlib.write_all(line);
    }
    let data = zlib.finish().unwrap_or_default();
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(&SIGNATURE);
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &data);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn a_picture_comes_back_out_of_its_png() {
        let rgba: Vec<u8> = (0..3 * 2 * 4).map(|i| i as u8 * 7).collect();
        let png = encode_rgba(3, 2, &rgba);
        assert_eq!(png[..8], SIGNATURE);
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 3);
        let idat_len = u32::from_be_bytes([png[33], png[34], png[35], png[36]]) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&png[41..41 + idat_len])
            .read_to_end(&mut raw)
            .expect("zlib");
        let rows: Vec<u8> = raw
            .chunks(1 + 12)
            .flat_map(|line| {
                assert_eq!(line[0], 0, "no filter");
                line[1..].to_vec()
            })
            .collect();
        assert_eq!(rows, rgba);
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]), "IEND's crc");
    }
}
