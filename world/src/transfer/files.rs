//! The files of a world folder that import and export move.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::anvil::error::{io, StoreError};

/// A region file's place: `r.X.Z.mca` holds chunks X·32.. and Z·32...
pub type FileKey = (i32, i32);

fn parse_name(name: &str, prefix: &str, suffix: &str) -> Option<FileKey> {
    let (x, z) = name
        .strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .split_once('.')?;
    Some((x.parse().ok()?, z.parse().ok()?))
}

/// The `r.X.Z.mca` files in `dir`, in order; none if it does not exist.
pub fn region_files(dir: &Path) -> Result<Vec<(FileKey, PathBuf)>, StoreError> {
    let mut files = named(dir, "r.", ".mca")?;
    files.sort();
    Ok(files)
}

/// The external chunks (`c.X.Z.mcc`, chunks over 1 MiB) in `dir`.
pub fn external_chunks(dir: &Path) -> Result<Vec<(FileKey, PathBuf)>, StoreError> {
    named(dir, "c.", ".mcc")
}

/// The entries of `dir`; none if it does not exist.
fn entries(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map_err(io(dir))).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(dir)(e)),
    }
}

fn named(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<(FileKey, PathBuf)>, StoreError> {
    let mut found = Vec::new();
    for entry in entries(dir)? {
        let name = entry.file_name();
        if let Some(key) = name.to_str().and_then(|n| parse_name(n, prefix, suffix)) {
            found.push((key, entry.path()));
        }
    }
    Ok(found)
}

/// How many chunks a region file's header lists; a file too short for a
/// header lists none (reading it says why).
pub fn chunks_listed(path: &Path) -> Result<usize, StoreError> {
    let mut header = Vec::with_capacity(4096);
    fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut header))
        .map_err(io(path))?;
    if header.len() < 4096 {
        return Ok(0);
    }
    Ok(header
        .chunks_exact(4)
        .filter(|location| location.iter().any(|b| *b != 0))
        .count())
}

/// The files in `dir` (not folders); none if it does not exist.
pub fn plain_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut found = Vec::new();
    for entry in entries(dir)? {
        if entry.file_type().map_err(io(dir))?.is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `bytes` as `path`, durably (temp, fsync, rename).
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    crate::anvil::durable::replace(path, bytes, &|| true)
}

pub fn create_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(io(dir))
}

pub fn rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    fs::rename(from, to).map_err(io(from))
}

pub fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(io(path))
}
