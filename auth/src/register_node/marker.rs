//! Whether a replica's store holds a complete replica state: everything the
//! replica ever acknowledged. A store says so with a marker entry under a
//! key no register key can take (it starts with a NUL), written once the
//! store is complete: when a new cluster starts on it, or after a recovery
//! into it has been committed.
//!
//! A store without the marker was just created (a new disk, or a lost one),
//! or a recovery into it never finished (the node crashed part way). Only
//! the configuration can tell a new cluster from a lost disk; either way,
//! the marker turns "the file exists" into "the file is complete", so a
//! crash during recovery cannot leave a half-filled store that the next
//! start would serve from.

use crate::register::{Key, Store, Tag, Versioned, WriterId};

const COMPLETE: &str = "\0tessera:replica-complete";

/// Takes the marker out of a store's entries; true if it was there.
pub(super) fn take(entries: &mut Vec<(Key, Versioned)>) -> bool {
    let before = entries.len();
    entries.retain(|(key, _)| key != COMPLETE);
    entries.len() != before
}

/// Records in `store` that it is complete.
pub(super) fn mark<S: Store>(store: &mut S) -> Result<(), S::Error> {
    let marker = Versioned {
        tag: Tag {
            timestamp: 1,
            writer: WriterId::default(),
        },
        value: None,
    };
    store.persist(&[(COMPLETE.to_owned(), marker)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::MemoryStore;

    #[test]
    fn a_marked_store_loads_as_complete_without_the_marker() {
        let mut store = MemoryStore::new();
        let mut entries = store.load().unwrap();
        assert!(!take(&mut entries));
        mark(&mut store).unwrap();
        let user = Versioned {
            tag: Tag {
                timestamp: 3,
                writer: WriterId::default(),
            },
            value: Some(b"record".to_vec()),
        };
        store
            .persist(&[("user:alex".into(), user.clone())])
            .unwrap();
        let mut entries = store.load().unwrap();
        assert!(take(&mut entries));
        assert_eq!(entries, vec![("user:alex".to_owned(), user)]);
    }
}
