//! A replica's entries in a redb database file.
//!
//! redb poisons a `Database` after an I/O error: every later transaction
//! fails with "Previous I/O error occurred" until it is dropped and opened
//! again. So a failed commit closes the database here, and the next
//! operation opens it again (with backoff while that keeps failing); the
//! reopen repairs the file to its last committed state, so nothing committed
//! before the error is lost and nothing from the failed commit is kept.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable, TableDefinition};
use tracing::{info, warn};

use super::backoff::Backoff;
use super::health::StoreHealth;
use super::store::Store;
use super::tag::{Incarnation, Key, NodeId, Tag, Versioned, WriterId};

/// key → (timestamp, writer node, writer incarnation, value).
type Row<'a> = (u64, u64, u64, Option<&'a [u8]>);

const ENTRIES: TableDefinition<&str, Row> = TableDefinition::new("register_entries");

/// The first wait before reopening after an error, and the longest: short
/// enough that a player retrying after space came back is served at once.
const REOPEN_FIRST: Duration = Duration::from_millis(100);
const REOPEN_MAX: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RedbStoreError {
    #[error("register store: {0}")]
    Redb(Box<redb::Error>),
    /// Closed after an error; no attempt to reopen it is due yet.
    #[error("register store: closed after an I/O error, reopening in {0:?}")]
    Reopening(Duration),
    #[error("cannot create the register store {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RedbStoreError {
    /// Whether the database can no longer be trusted and must be reopened:
    /// an I/O error poisons it, and damage may be in its caches only.
    fn poisons(&self) -> bool {
        matches!(
            self,
            Self::Redb(error) if matches!(
                **error,
                redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::Corrupted(_)
            )
        )
    }
}

// redb splits its errors by operation; boxed, they all fit one small type.
macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for RedbStoreError {
            fn from(error: $error) -> Self {
                Self::Redb(Box::new(error.into()))
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// How to open the database again: the file's path in production, a shared
/// in-memory backend in tests.
type Opener = Box<dyn FnMut() -> Result<Database, redb::DatabaseError> + Send>;

/// A [`Store`] on redb: every `persist` is one fsync'd commit.
pub struct RedbStore {
    open: Opener,
    /// `None` after an error poisoned it, until reopened.
    db: Option<Database>,
    reopen: Backoff,
    health: StoreHealth,
    created: bool,
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("open", &self.db.is_some())
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// Creates an empty file only its owner can read: it holds password hashes,
/// and the process umask (often 022) would leave it readable to every user.
/// redb then initialises the empty file as a new database.
fn create_private(path: &Path) -> Result<(), RedbStoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(RedbStoreError::Create {
            path: path.to_owned(),
            source: e,
        }),
    }
}

impl RedbStore {
    /// Opens the database at `path`, creating it if there is none.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RedbStoreError> {
        let path: PathBuf = path.as_ref().to_owned();
        let created = !path.exists();
        if created {
            create_private(&path)?;
        }
        let mut store = Self::open_with(move || Database::create(&path))?;
        store.created = created;
        Ok(store)
    }

    /// A store on whatever database `open` returns, called once now and
    /// again after every error that poisons the database. Each call must
    /// reach the same storage (a redb backend over shared bytes will do).
    pub fn open_with(
        open: impl FnMut() -> Result<Database, redb::DatabaseError> + Send + 'static,
    ) -> Result<Self, RedbStoreError> {
        let mut open: Opener = Box::new(open);
        let db = prepare(&mut open)?;
        Ok(Self {
            open,
            db: Some(db),
            reopen: Backoff::new(REOPEN_FIRST, REOPEN_MAX),
            health: StoreHealth::new(),
            created: false,
        })
    }

    /// Whether `open` created the file. A new file means a new cluster or a
    /// lost disk, and only the cluster's configuration can tell which; a lost
    /// disk must start its replica with `Replica::recovering`.
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// The open database, reopened first if an error closed it and the
    /// backoff allows another attempt.
    fn db(&mut self) -> Result<&Database, RedbStoreError> {
        if self.db.is_none() {
            let wait = self.reopen.wait(Instant::now());
            if !wait.is_zero() {
                return Err(RedbStoreError::Reopening(wait));
            }
            match prepare(&mut self.open) {
                Ok(db) => {
                    info!("register store reopened after an I/O error");
                    self.db = Some(db);
                }
                Err(error) => {
                    let wait = self.reopen.failed(Instant::now());
                    warn!(%error, ?wait, "register store cannot be reopened yet");
                    self.health.record_error();
                    return Err(error);
                }
            }
        }
        self.db
            .as_ref()
            .ok_or(RedbStoreError::Reopening(Duration::ZERO))
    }

    /// Closes a database an error poisoned, so the next call reopens it.
    fn failed(&mut self, error: &RedbStoreError) {
        self.health.record_error();
        if error.poisons() {
            let wait = self.reopen.failed(Instant::now());
            warn!(%error, ?wait, "register store write failed; closing it to reopen");
            self.db = None;
        } else {
            warn!(%error, "register store write failed");
        }
    }
}

/// Opens the database and creates the table up front, so `load` reads an
/// empty store as empty rather than as a missing table.
fn prepare(open: &mut Opener) -> Result<Database, RedbStoreError> {
    let db = open()?;
    let txn = db.begin_write()?;
    txn.open_table(ENTRIES)?;
    txn.commit()?;
    Ok(db)
}

impl Store for RedbStore {
    type Error = RedbStoreError;

    fn load(&self) -> Result<Vec<(Key, Versioned)>, RedbStoreError> {
        let db = self
            .db
            .as_ref()
            .ok_or(RedbStoreError::Reopening(self.reopen.wait(Instant::now())))?;
        let txn = db.begin_read()?;
        let table = txn.open_table(ENTRIES)?;
        let mut entries = Vec::new();
        for row in table.iter()? {
            let (key, row) = row?;
            entries.push((key.value().to_owned(), from_row(row.value())));
        }
        Ok(entries)
    }

    fn persist(&mut self, entries: &[(Key, Versioned)]) -> Result<(), RedbStoreError> {
        let result = self.db().and_then(|db| commit(db, entries));
        match &result {
            Ok(()) => {
                if self.health.is_failing() {
                    info!("register store persists again");
                }
                self.reopen.succeeded();
                self.health.record_success();
            }
            // Waiting to reopen is not a new error.
            Err(RedbStoreError::Reopening(_)) => {}
            Err(error) => self.failed(error),
        }
        result
    }

    fn health(&self) -> Option<StoreHealth> {
        Some(self.health.clone())
    }
}

/// One durable transaction keeping the higher tag of each key.
fn commit(db: &Database, entries: &[(Key, Versioned)]) -> Result<(), RedbStoreError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    {
        let mut table = txn.open_table(ENTRIES)?;
        for (key, versioned) in entries {
            let held = table
                .get(key.as_str())?
                .map(|row| from_row(row.value()).tag);
            if held.is_some_and(|held| held >= versioned.tag) {
                continue;
            }
            table.insert(key.as_str(), to_row(versioned))?;
        }
    }
    txn.commit()?;
    Ok(())
}

fn to_row(versioned: &Versioned) -> Row<'_> {
    let Tag { timestamp, writer } = versioned.tag;
    (
        timestamp,
        writer.node.0,
        writer.incarnation.0,
        versioned.value.as_deref(),
    )
}

fn from_row((timestamp, node, incarnation, value): Row<'_>) -> Versioned {
    Versioned {
        tag: Tag {
            timestamp,
            writer: WriterId {
                node: NodeId(node),
                incarnation: Incarnation(incarnation),
            },
        },
        value: value.map(<[u8]>::to_vec),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::faulty_backend::FaultyDisk;
    use super::*;

    /// A database path no other test (or test run) uses, removed on drop.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(name: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_nanos())
                .unwrap_or_default();
            let file = format!("tessera-auth-{name}-{}-{nanos}.redb", std::process::id());
            Self(std::env::temp_dir().join(file))
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn versioned(timestamp: u64, node: u64, value: Option<&[u8]>) -> Versioned {
        Versioned {
            tag: Tag {
                timestamp,
                writer: WriterId {
                    node: NodeId(node),
                    incarnation: Incarnation(7),
                },
            },
            value: value.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn entries_survive_reopening() {
        let path = TempDb::new("round-trip");
        let written = vec![
            ("ban:1234".to_owned(), versioned(3, 2, None)),
            ("user:alex".to_owned(), versioned(1, 1, Some(b"hash"))),
            ("user:empty".to_owned(), versioned(2, 1, Some(b""))),
        ];
        {
            let mut store = RedbStore::open(&path.0).unwrap();
            assert!(store.was_created());
            assert!(store.load().unwrap().is_empty());
            store.persist(&written).unwrap();
        }
        let store = RedbStore::open(&path.0).unwrap();
        assert!(!store.was_created());
        assert_eq!(store.load().unwrap(), written);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_store_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let path = TempDb::new("private");
        let _store = RedbStore::open(&path.0).unwrap();
        let mode = std::fs::metadata(&path.0).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn persist_never_lowers_a_tag() {
        let path = TempDb::new("monotonic");
        let mut store = RedbStore::open(&path.0).unwrap();
        let newer = versioned(5, 1, Some(b"new"));
        store.persist(&[("k".into(), newer.clone())]).unwrap();
        store
            .persist(&[
                ("k".into(), versioned(4, 9, Some(b"old"))),
                ("k".into(), versioned(5, 0, Some(b"tie-loser"))),
            ])
            .unwrap();
        assert_eq!(store.load().unwrap(), vec![("k".to_owned(), newer)]);
    }

    /// Persists `entries`, retrying while the store waits to reopen.
    fn persist_within(store: &mut RedbStore, entries: &[(Key, Versioned)]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match store.persist(entries) {
                Ok(()) => return,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => panic!("the store never persisted again: {error}"),
            }
        }
    }

    #[test]
    fn a_store_whose_writes_failed_reopens_and_persists_again() {
        let disk = FaultyDisk::default();
        let mut store = disk.store();
        let health = store.health().expect("a redb store reports its health");
        let before = ("user:alex".to_owned(), versioned(1, 1, Some(b"alex")));
        store.persist(std::slice::from_ref(&before)).unwrap();

        disk.set_full(true);
        let lost = ("user:bo".to_owned(), versioned(2, 1, Some(b"bo")));
        let error = store.persist(std::slice::from_ref(&lost)).unwrap_err();
        assert!(error.poisons(), "a failed write is an I/O error: {error}");
        assert!(health.is_failing());
        assert!(health.errors() >= 1);
        // Still full: every attempt fails, none succeeds behind our back.
        for _ in 0..3 {
            assert!(store.persist(std::slice::from_ref(&lost)).is_err());
            std::thread::sleep(REOPEN_FIRST);
        }
        assert!(health.is_failing());

        disk.set_full(false);
        let after = ("user:cy".to_owned(), versioned(3, 1, Some(b"cy")));
        persist_within(&mut store, std::slice::from_ref(&after));
        assert!(!health.is_failing());
        assert_eq!(store.load().unwrap(), vec![before.clone(), after.clone()]);

        // What the reopened store committed is on the disk, not only in a
        // cache: a fresh open of the same bytes sees it.
        drop(store);
        let again = disk.store();
        assert_eq!(again.load().unwrap(), vec![before, after]);
    }
}
