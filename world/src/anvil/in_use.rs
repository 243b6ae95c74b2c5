//! Who has a world folder: every running node holds a shared lock on
//! `region/.locks/world.lock` for as long as it runs; `tessera import` and
//! `tessera export`, which need the folder to themselves, hold it
//! exclusively. Either side refuses rather than waits.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::error::{io, StoreError};

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("region").join(".locks").join("world.lock")
}

fn open(data_dir: &Path) -> Result<File, StoreError> {
    let path = lock_path(data_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))
}

/// The lock a running node holds (with the other nodes of its cluster);
/// `None` while an import or export has the folder.
pub fn running(data_dir: &Path) -> Result<Option<File>, StoreError> {
    let file = open(data_dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io(&lock_path(data_dir))(e)),
    }
}

/// The lock an import or export holds; `None` while a server runs on the
/// folder.
pub fn alone(data_dir: &Path) -> Result<Option<File>, StoreError> {
    let file = open(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io(&lock_path(data_dir))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_share_the_folder_and_an_import_needs_it_alone() {
        let dir = std::env::temp_dir().join(format!("tessera-in-use-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let one = running(&dir).unwrap().expect("the first node");
        let two = running(&dir).unwrap().expect("a second node beside it");
        assert!(alone(&dir).unwrap().is_none(), "nodes run");
        drop(one);
        assert!(alone(&dir).unwrap().is_none(), "one node still runs");
        drop(two);
        let import = alone(&dir).unwrap().expect("no node runs");
        assert!(running(&dir).unwrap().is_none(), "an import runs");
        drop(import);
        assert!(running(&dir).unwrap().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
