//! A replica's entries in a redb database file.

use std::path::Path;

use redb::{Database, Durability, ReadableTable, TableDefinition};

use super::store::Store;
use super::tag::{Incarnation, Key, NodeId, Tag, Versioned, WriterId};

/// key → (timestamp, writer node, writer incarnation, value).
type Row<'a> = (u64, u64, u64, Option<&'a [u8]>);

const ENTRIES: TableDefinition<&str, Row> = TableDefinition::new("register_entries");

#[derive(Debug, thiserror::Error)]
#[error("register store: {0}")]
pub struct RedbStoreError(Box<redb::Error>);

// redb splits its errors by operation; boxed, they all fit one small type.
macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for RedbStoreError {
            fn from(error: $error) -> Self {
                Self(Box::new(error.into()))
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

/// A [`Store`] on redb: every `persist` is one fsync'd commit.
pub struct RedbStore {
    db: Database,
    created: bool,
}

impl RedbStore {
    /// Opens the database at `path`, creating it if there is none.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RedbStoreError> {
        let path = path.as_ref();
        let created = !path.exists();
        let db = Database::create(path)?;
        // Creating the table up front lets `load` read an empty store as
        // empty rather than as a missing table.
        let txn = db.begin_write()?;
        txn.open_table(ENTRIES)?;
        txn.commit()?;
        Ok(Self { db, created })
    }

    /// Whether `open` created the file. A new file means a new cluster or a
    /// lost disk, and only the cluster's configuration can tell which; a lost
    /// disk must start its replica with `Replica::recovering`.
    pub fn was_created(&self) -> bool {
        self.created
    }
}

impl Store for RedbStore {
    type Error = RedbStoreError;

    fn load(&self) -> Result<Vec<(Key, Versioned)>, RedbStoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ENTRIES)?;
        let mut entries = Vec::new();
        for row in table.iter()? {
            let (key, row) = row?;
            entries.push((key.value().to_owned(), from_row(row.value())));
        }
        Ok(entries)
    }

    fn persist(&mut self, entries: &[(Key, Versioned)]) -> Result<(), RedbStoreError> {
        let mut txn = self.db.begin_write()?;
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
}
