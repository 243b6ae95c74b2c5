//! The committed inputs: `corpus/<target>/` holds the seeds (real inputs,
//! written by `tests/seeds.rs`), `regressions/<target>/` every input that
//! once crashed a target; `crashes/<target>/` is where a run writes new ones.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The fuzz crate's folder.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `kind` (`corpus`, `regressions` or `crashes`) of `target`.
pub fn dir(kind: &str, target: &str) -> PathBuf {
    root().join(kind).join(target)
}

/// The files of `dir`, sorted by name; none if it does not exist.
pub fn load(dir: &Path) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.is_file() {
            let bytes = fs::read(&path)?;
            files.push((path, bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// A name for `input` that is the same on every machine: FNV-1a of its bytes.
pub fn name_of(input: &[u8]) -> String {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}
