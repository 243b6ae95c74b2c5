//! Replacing a file so that a crash leaves either the old or the new one:
//! write a temporary file beside it, fsync, rename over, fsync the folder.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{io, StoreError};

/// The temporary file a replacement of `path` is written to first; one a
/// crash left behind is simply overwritten by the next replacement.
pub fn temp_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Puts `bytes` in place of `path`. `still_allowed` is asked once the new
/// file is durable, right before the rename: when it says no, the old file
/// stays as it was and the result is [`StoreError::Fenced`].
pub fn replace(
    path: &Path,
    bytes: &[u8],
    still_allowed: &dyn Fn() -> bool,
) -> Result<(), StoreError> {
    let temp = temp_of(path);
    let result = write_synced(&temp, bytes).and_then(|()| {
        if !still_allowed() {
            return Err(StoreError::Fenced {
                path: path.to_owned(),
            });
        }
        fs::rename(&temp, path).map_err(io(path))
    });
    if result.is_err() {
        // A failed write must not leave a half file for anyone to mistake.
        let _ = fs::remove_file(&temp);
        return result;
    }
    sync_dir(path)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut out = fs::File::create(path).map_err(io(path))?;
    out.write_all(bytes).map_err(io(path))?;
    out.sync_all().map_err(io(path))
}

/// Makes a rename in `path`'s folder durable.
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// An exclusive lock on the file `path` (made if missing), held until the
/// file is dropped. A lock file of its own, not the data file, is locked:
/// the data file is replaced by renames, which a lock on it would not survive.
pub fn lock_file(path: &Path) -> Result<fs::File, StoreError> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(path))?;
    file.lock().map_err(io(path))?;
    Ok(file)
}
