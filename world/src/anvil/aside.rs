//! Keeping a damaged file aside before anything reads past its damage, so
//! what it still holds can be recovered by hand: `r.X.Z.mca.corrupt-<secs>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::durable::replace;
use super::error::{io, StoreError};

/// A copy of `bytes`, the damaged contents of `path`. Each load of the same
/// damaged file finds the copy made the first time instead of making more.
pub fn keep_aside(path: &Path, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!("{name}.corrupt-");
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let copy_name = entry.file_name();
        let is_copy = copy_name
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix) && !n.ends_with(".tmp"));
        if !is_copy || entry.metadata().map(|m| m.len()).ok() != Some(bytes.len() as u64) {
            continue;
        }
        let copy = entry.path();
        if fs::read(&copy).map_err(io(&copy))? == bytes {
            return Ok(copy);
        }
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut copy = dir.join(format!("{prefix}{secs}"));
    let mut n = 1;
    while copy.exists() {
        copy = dir.join(format!("{prefix}{secs}-{n}"));
        n += 1;
    }
    replace(&copy, bytes, &|| true)?;
    Ok(copy)
}
