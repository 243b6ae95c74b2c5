//! The placement store: one redb database holding the Raft log, the vote,
//! the committed log id and the latest snapshot. Raft's safety rests on the
//! vote and the log surviving a crash, so on disk every write is a durable
//! (fsynced) commit; tests and simulations use redb's in-memory backend
//! through the same code.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redb::backends::InMemoryBackend;
use redb::{Database, ReadTransaction, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

/// Log entries by index, each the postcard of an openraft `Entry`.
pub(crate) const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Single values, postcard-encoded, under the keys below.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub(crate) const VOTE: &str = "vote";
pub(crate) const COMMITTED: &str = "committed";
pub(crate) const LAST_PURGED: &str = "last_purged";
pub(crate) const SNAPSHOT: &str = "snapshot";

/// The file inside the store directory.
const FILE_NAME: &str = "placement.redb";

/// A failure of the placement store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store directory: {0}")]
    Dir(#[source] std::io::Error),
    /// Boxed: redb's error is large, and results carry it on every path.
    #[error(transparent)]
    Redb(Box<redb::Error>),
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        source: postcard::Error,
    },
    /// The file holds something this code cannot read: corruption, or a
    /// store written by an incompatible version.
    #[error("cannot decode {what}: {source}")]
    Decode {
        what: &'static str,
        source: postcard::Error,
    },
    #[error("a store task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

// redb reports each step with its own error type; all of them fold into
// `redb::Error`.
macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for StoreError {
            fn from(e: $error) -> Self {
                Self::Redb(Box::new(e.into()))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|source| StoreError::Encode { what, source })
}

pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|source| StoreError::Decode { what, source })
}

/// The database and a channel that closes after it: fields drop in order,
/// so when the sender goes the file is closed (redb's drop flushes, so a
/// count of handles reaching zero is not yet "closed").
struct Store {
    db: Database,
    closed: watch::Sender<()>,
}

impl Deref for Store {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.db
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub(crate) struct Db {
    db: Arc<Store>,
    /// On disk, transactions block on fsync, so they run on tokio's blocking
    /// pool instead of stalling a worker thread. In memory they are quick and
    /// run inline, which also keeps simulations single-threaded.
    on_disk: bool,
}

impl Db {
    /// Opens (or creates) the store in `dir`, or an in-memory one.
    pub(crate) fn open(dir: Option<&Path>) -> Result<Self, StoreError> {
        let (db, on_disk) = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(StoreError::Dir)?;
                (Database::create(dir.join(FILE_NAME))?, true)
            }
            None => (
                Database::builder().create_with_backend(InMemoryBackend::new())?,
                false,
            ),
        };
        // Create the tables up front so readers never meet a missing one.
        let tx = db.begin_write()?;
        tx.open_table(LOG)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(Self {
            db: Arc::new(Store {
                db,
                closed: watch::Sender::new(()),
            }),
            on_disk,
        })
    }

    /// A way to learn when every handle on the database is gone, which is
    /// when its file is closed and can be opened again.
    pub(crate) fn closing(&self) -> Closing {
        Closing(self.db.closed.subscribe())
    }

    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        if self.on_disk {
            let db = self.db.clone();
            tokio::task::spawn_blocking(move || work(&db))
                .await
                .map_err(StoreError::Task)?
        } else {
            work(&self.db)
        }
    }

    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |db| work(&db.begin_read()?)).await
    }

    /// Runs `work` in a write transaction and commits it durably.
    pub(crate) async fn write<F>(&self, work: F) -> Result<(), StoreError>
    where
        F: FnOnce(&WriteTransaction) -> Result<(), StoreError> + Send + 'static,
    {
        self.run(move |db| {
            let tx = db.begin_write()?;
            work(&tx)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Reads one value of the META table.
    pub(crate) async fn get_meta<T>(&self, key: &'static str) -> Result<Option<T>, StoreError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.read(move |tx| {
            let table = tx.open_table(META)?;
            let value = table.get(key)?;
            value.map(|v| decode(key, v.value())).transpose()
        })
        .await
    }

    /// Writes one value of the META table.
    pub(crate) async fn put_meta<T: Serialize>(
        &self,
        key: &'static str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode(key, value)?;
        self.write(move |tx| {
            tx.open_table(META)?.insert(key, bytes.as_slice())?;
            Ok(())
        })
        .await
    }
}

/// Watches for the database to close.
pub(crate) struct Closing(watch::Receiver<()>);

impl Closing {
    /// Waits until the database is closed, for at most `limit`; false if it
    /// is still open then. Raft's tasks drop their handles soon after Raft
    /// stops, but not all before `Raft::shutdown` returns.
    pub(crate) async fn wait(&self, limit: Duration) -> bool {
        let mut closed = self.0.clone();
        let until_closed = async { while closed.changed().await.is_ok() {} };
        tokio::time::timeout(limit, until_closed).await.is_ok()
    }
}
