//! What can go wrong with the world's files on disk. Every reader and writer
//! of them shares it: the Anvil helpers here, the region store that puts
//! them together, and import and export. It sits below all of them, so none
//! of the helpers reaches up into the store for its own error type.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} is from another Minecraft version: {reason}")]
    OtherVersion { path: PathBuf, reason: String },
    #[error("{path} not written: this node no longer owns the region")]
    Fenced { path: PathBuf },
}

/// Turns an I/O failure on `path` into a [`StoreError::Io`] naming it.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}
