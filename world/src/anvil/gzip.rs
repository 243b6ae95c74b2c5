//! Vanilla's gzipped NBT files (`level.dat`, `playerdata/<uuid>.dat`),
//! inflated with a cap.

use std::io::Read;

use flate2::read::GzDecoder;

/// Far above any vanilla `level.dat` or player file (kilobytes). A file
/// that inflates past it is a gzip bomb, not data: a few megabytes of
/// file would otherwise take gigabytes of memory, and the NBT parsed from
/// it several times that.
pub const MAX_INFLATED: u64 = 16 << 20;

/// The bytes `gz` inflates to, refused past `MAX_INFLATED`.
pub fn gunzip(gz: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    GzDecoder::new(gz)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not gzip: {e}"))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(format!("it inflates to more than {MAX_INFLATED} bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_file_inflating_past_the_cap_is_refused() {
        assert_eq!(gunzip(&gzip(b"level")).unwrap(), b"level");
        let at_cap = vec![0; MAX_INFLATED as usize];
        assert_eq!(gunzip(&gzip(&at_cap)).unwrap().len(), at_cap.len());
        let bomb = gzip(&vec![0; MAX_INFLATED as usize + 1]);
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        let refused = gunzip(&bomb).unwrap_err();
        assert!(refused.contains("inflates to more than"), "{refused}");
        assert!(gunzip(b"not gzip").unwrap_err().starts_with("not gzip"));
    }
}
