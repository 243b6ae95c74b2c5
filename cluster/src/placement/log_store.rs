//! The Raft log, vote and committed log id, kept in the placement store.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogId, RaftLogReader, StorageIOError};
use redb::ReadableTable;

use super::db::{self, Db, StoreError, COMMITTED, LAST_PURGED, LOG, VOTE};
use super::types::{Entry, LogId, RaftId, StorageError, TypeConfig, Vote};

/// openraft's log storage over the placement store. Clones share the
/// database, which is how log readers for replication are handed out.
#[derive(Clone)]
pub(crate) struct LogStore {
    db: Db,
}

impl LogStore {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

fn read_error(e: StoreError) -> StorageError {
    StorageIOError::<RaftId>::read_logs(&e).into()
}

fn write_error(e: StoreError) -> StorageError {
    StorageIOError::<RaftId>::write_logs(&e).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let bounds: (Bound<u64>, Bound<u64>) =
            (range.start_bound().cloned(), range.end_bound().cloned());
        self.db
            .read(move |tx| {
                let table = tx.open_table(LOG)?;
                let mut entries = Vec::new();
                for item in table.range::<u64>(bounds)? {
                    let (_, bytes) = item?;
                    entries.push(db::decode("a log entry", bytes.value())?);
                }
                Ok(entries)
            })
            .await
            .map_err(read_error)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.db.get_meta(LAST_PURGED).await.map_err(read_error)?;
        let last_entry: Option<Entry> = self
            .db
            .read(|tx| {
                let table = tx.open_table(LOG)?;
                let last = table.last()?;
                last.map(|(_, bytes)| db::decode("a log entry", bytes.value()))
                    .transpose()
            })
            .await
            .map_err(read_error)?;
        let last_log_id = last_entry.map(|entry| *entry.get_log_id()).or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.db
            .put_meta(VOTE, vote)
            .await
            .map_err(|e| StorageIOError::<RaftId>::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.db
            .get_meta(VOTE)
            .await
            .map_err(|e| StorageIOError::<RaftId>::read_vote(&e).into())
    }

    // Persisting the committed id lets a restarted node re-apply its
    // committed entries at once instead of waiting to hear from a leader.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.db
            .put_meta(COMMITTED, &committed)
            .await
            .map_err(write_error)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed: Option<Option<LogId>> =
            self.db.get_meta(COMMITTED).await.map_err(read_error)?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let encoded = entries
            .into_iter()
            .map(|entry| Ok((entry.get_log_id().index, db::encode("a log entry", &entry)?)))
            .collect::<Result<Vec<(u64, Vec<u8>)>, StoreError>>();
        let outcome = match encoded {
            Ok(encoded) => {
                self.db
                    .write(move |tx| {
                        let mut table = tx.open_table(LOG)?;
                        for (index, bytes) in &encoded {
                            table.insert(*index, bytes.as_slice())?;
                        }
                        Ok(())
                    })
                    .await
            }
            Err(e) => Err(e),
        };
        // The write has committed durably (or failed) by now, so the flush
        // can be reported right away.
        match outcome {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.to_string())));
                Err(write_error(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.db
            .write(move |tx| {
                tx.open_table(LOG)?
                    .retain_in(log_id.index.., |_, _| false)?;
                Ok(())
            })
            .await
            .map_err(write_error)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let last_purged = db::encode(LAST_PURGED, &log_id).map_err(write_error)?;
        self.db
            .write(move |tx| {
                // Recorded in the same transaction, so a crash cannot leave
                // entries gone without the mark that says so.
                tx.open_table(db::META)?
                    .insert(LAST_PURGED, last_purged.as_slice())?;
                tx.open_table(LOG)?
                    .retain_in(..=log_id.index, |_, _| false)?;
                Ok(())
            })
            .await
            .map_err(write_error)
    }
}
