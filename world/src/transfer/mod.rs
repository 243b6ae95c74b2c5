//! Moving a world between a vanilla 1.20.1 world folder and Tessera's
//! `data_dir`, while no server runs on it: `tessera import` and
//! `tessera export`. Both folders use the same Anvil layout; import checks
//! every chunk on the way in, export refuses a world whose journal still
//! holds changes the region files lack.

mod export;
mod files;
mod import;
mod progress;

use std::path::PathBuf;

pub use export::{export, ExportReport};
pub use import::{import, ImportOptions, ImportReport};
pub use progress::Progress;

use crate::anvil::error::StoreError;
use crate::journal::JournalError;

/// A chunk of the source world that did not check out.
#[derive(Debug, Clone, PartialEq)]
pub struct BadChunk {
    pub file: PathBuf,
    /// `None` when the whole file is unreadable.
    pub chunk: Option<(i32, i32)>,
    pub reason: String,
}

impl std::fmt::Display for BadChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.chunk {
            Some((x, z)) => write!(f, "{} chunk {x},{z}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

/// The damaged chunks, at most this many of them named in an error.
const NAMED: usize = 20;

fn list_bad(bad: &[BadChunk]) -> String {
    let mut out: Vec<String> = bad.iter().take(NAMED).map(|b| format!("\n  {b}")).collect();
    if bad.len() > NAMED {
        out.push(format!("\n  ... and {} more", bad.len() - NAMED));
    }
    out.concat()
}

fn list_versions(versions: &std::collections::BTreeMap<i32, usize>) -> String {
    versions
        .iter()
        .map(|(v, n)| format!("{n} of DataVersion {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0} is in use by a running server (region/.locks/world.lock is held); stop it first")]
    InUse(PathBuf),
    #[error("{dir} is not a world folder: {reason}")]
    NotAWorld { dir: PathBuf, reason: String },
    #[error("{dir} already holds a world ({what}); nothing was changed. Pass --force to import anyway: the world there is moved aside, not deleted")]
    NotEmpty { dir: PathBuf, what: String },
    #[error("{0} exists and is not empty; export into a new folder")]
    TargetNotEmpty(PathBuf),
    #[error("chunks of other Minecraft versions: {}; this server reads only DataVersion 3465 (1.20.1) and converts nothing. Open the world once with a vanilla 1.20.1 server started with --forceUpgrade, then import it again. Nothing was imported", list_versions(.0))]
    OtherVersions(std::collections::BTreeMap<i32, usize>),
    #[error("{} damaged chunks or region files; nothing was imported (pass --skip-damaged to import the rest; Tessera then generates fresh terrain where they were):{}", .0.len(), list_bad(.0))]
    Damaged(Vec<BadChunk>),
    #[error("the journal holds changes not yet saved into the region files ({}); start the server and stop it with `stop` so it saves them, then export", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Unsaved(Vec<PathBuf>),
}

#[cfg(test)]
mod tests;
