//! `tessera export`: a stopped server's world as a folder a vanilla 1.20.1
//! server opens: `level.dat` and `region/`, copied. Tessera's own files
//! (journal, locks, register, copies of damaged files) stay behind.

use std::path::{Path, PathBuf};

use super::files;
use super::{Progress, TransferError};
use crate::anvil::in_use;
use crate::anvil::level_dat::LevelDat;
use crate::journal::Journals;

#[derive(Debug)]
pub struct ExportReport {
    pub chunks: usize,
    pub region_files: usize,
    pub target: PathBuf,
}

/// Copies the world in `data_dir` to `target`, a folder that must be new
/// or empty.
pub fn export(
    data_dir: &Path,
    target: &Path,
    progress: &Progress,
) -> Result<ExportReport, TransferError> {
    let level_path = data_dir.join("level.dat");
    let level_bytes = match std::fs::read(&level_path) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Err(TransferError::NotAWorld {
                dir: data_dir.to_owned(),
                reason: format!("cannot read its level.dat: {e}"),
            })
        }
    };
    LevelDat::parse(&level_path, &level_bytes)?;
    let _alone = in_use::alone(data_dir)?.ok_or_else(|| TransferError::InUse(data_dir.into()))?;
    let unsaved = Journals::new(data_dir, 1).unsaved()?;
    if !unsaved.is_empty() {
        return Err(TransferError::Unsaved(unsaved));
    }
    let not_empty = match std::fs::read_dir(target) {
        Ok(mut entries) => entries.next().is_some(),
        Err(_) => false,
    };
    if not_empty {
        return Err(TransferError::TargetNotEmpty(target.to_owned()));
    }
    let region = data_dir.join("region");
    let regions = files::region_files(&region)?;
    let mut total = 0;
    let mut listed = Vec::with_capacity(regions.len());
    for (_, path) in &regions {
        let chunks = files::chunks_listed(path)?;
        total += chunks;
        listed.push(chunks);
    }
    progress.set_total(total);
    let target_region = target.join("region");
    files::create_dir(&target_region)?;
    let externals = files::external_chunks(&region)?;
    for ((_, path), chunks) in regions.iter().zip(listed) {
        copy_into(path, &target_region)?;
        progress.add(chunks);
    }
    for (_, path) in &externals {
        copy_into(path, &target_region)?;
    }
    files::write(&target.join("level.dat"), &level_bytes)?;
    Ok(ExportReport {
        chunks: total,
        region_files: regions.len(),
        target: target.to_owned(),
    })
}

fn copy_into(path: &Path, dir: &Path) -> Result<(), TransferError> {
    let name = path.file_name().unwrap_or_default();
    files::write(&dir.join(name), &files::read(path)?)?;
    Ok(())
}
