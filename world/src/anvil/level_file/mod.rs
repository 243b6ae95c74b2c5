//! The world's `level.dat` on disk: read at start, written at every save.
//! As vanilla does, the file a save replaces is kept as `level.dat_old`,
//! and a damaged `level.dat` is replaced by it at start (the damaged file
//! kept aside as `level.dat.corrupt-<time>`); with no good copy at all the
//! world does not start rather than begin afresh.

use std::path::{Path, PathBuf};

use tracing::error;

use super::aside::keep_aside;
use super::durable::{lock_file, replace};
use super::error::{io, StoreError};
use super::level_dat::LevelDat;

const LEVEL: &str = "level.dat";
const OLD: &str = "level.dat_old";

pub fn level_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LEVEL)
}

/// Nodes of one world take turns: one writes level.dat at a time.
fn lock(data_dir: &Path) -> Result<std::fs::File, StoreError> {
    lock_file(&data_dir.join("level.dat.lock"))
}

/// The world's level.dat; `None` for a world that has none yet.
pub fn load(data_dir: &Path) -> Result<Option<LevelDat>, StoreError> {
    let path = level_path(data_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let damage = match LevelDat::parse(&path, &bytes) {
        Ok(level) => return Ok(Some(level)),
        Err(e @ StoreError::Corrupt { .. }) => e,
        Err(e) => return Err(e),
    };
    let old = data_dir.join(OLD);
    let Ok(Some(level)) = LevelDat::read(&old) else {
        return Err(damage);
    };
    let _lock = lock(data_dir)?;
    let kept = keep_aside(&path, &bytes)?;
    error!(kept_as = %kept.display(), "{damage}; using {} instead", old.display());
    replace(&path, &level.encode(&path)?, &|| true)?;
    Ok(Some(level))
}

/// Writes `level` as the world's level.dat; the one it replaces, if it
/// reads, becomes level.dat_old.
pub fn save(data_dir: &Path, level: &LevelDat) -> Result<(), StoreError> {
    let path = level_path(data_dir);
    let bytes = level.encode(&path)?;
    let _lock = lock(data_dir)?;
    if let Ok(previous) = std::fs::read(&path) {
        if LevelDat::parse(&path, &previous).is_ok() {
            replace(&data_dir.join(OLD), &previous, &|| true)?;
        }
    }
    replace(&path, &bytes, &|| true)
}

/// Writes `level` unless the world has a level.dat already (nodes starting
/// together on one folder: only the first writes); the world's level.dat.
pub fn create_if_missing(data_dir: &Path, level: LevelDat) -> Result<(LevelDat, bool), StoreError> {
    let _lock = lock(data_dir)?;
    if let Some(found) = LevelDat::read(&level_path(data_dir))? {
        return Ok((found, false));
    }
    let path = level_path(data_dir);
    replace(&path, &level.encode(&path)?, &|| true)?;
    Ok((level, true))
}

#[cfg(test)]
mod tests;
