//! A redb backend in memory whose writes can be made to fail, as on a full
//! disk, for tests of what the register does after an I/O error.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use redb::{Database, DatabaseError, StorageBackend};

use super::RedbStore;

/// The bytes of one database and a switch; clones share both, so a store
/// that reopens its database finds what was committed before.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultyDisk {
    bytes: Arc<RwLock<Vec<u8>>>,
    full: Arc<AtomicBool>,
}

impl FaultyDisk {
    /// While `full`, every write, resize and sync fails with ENOSPC.
    pub(crate) fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    pub(crate) fn open(&self) -> Result<Database, DatabaseError> {
        redb::Builder::new().create_with_backend(self.clone())
    }

    /// A store on this disk that reopens it after errors.
    pub(crate) fn store(&self) -> RedbStore {
        let disk = self.clone();
        match RedbStore::open_with(move || disk.open()) {
            Ok(store) => store,
            Err(error) => panic!("cannot open a store on an empty in-memory disk: {error}"),
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            // ENOSPC, as a full disk reports it.
            Err(io::Error::from_raw_os_error(28))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for FaultyDisk {
    fn len(&self) -> io::Result<u64> {
        let bytes = self.bytes.read().unwrap_or_else(PoisonError::into_inner);
        Ok(bytes.len() as u64)
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let bytes = self.bytes.read().unwrap_or_else(PoisonError::into_inner);
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        bytes
            .get(start..start + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check()?;
        let mut bytes = self.bytes.write().unwrap_or_else(PoisonError::into_inner);
        bytes.resize(usize::try_from(len).map_err(io::Error::other)?, 0);
        Ok(())
    }

    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        self.check()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check()?;
        let mut bytes = self.bytes.write().unwrap_or_else(PoisonError::into_inner);
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + data.len();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        Ok(())
    }
}
