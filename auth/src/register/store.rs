//! Where a replica keeps its entries across restarts.

use std::collections::BTreeMap;
use std::convert::Infallible;

use super::health::StoreHealth;
use super::tag::{Key, Versioned};

/// A replica's durable storage.
///
/// `persist` must be monotonic per key: it keeps whichever of the stored and
/// the given entry has the higher tag. That makes it idempotent and
/// independent of the order in which batches reach it, so retransmitted or
/// reordered updates can never lower what a replica has acknowledged.
pub trait Store {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every stored entry, to start a replica from.
    fn load(&self) -> Result<Vec<(Key, Versioned)>, Self::Error>;

    /// Stores `entries` in one atomic commit that is durable when this returns.
    fn persist(&mut self, entries: &[(Key, Versioned)]) -> Result<(), Self::Error>;

    /// Whether the store currently persists, for metrics and readiness;
    /// `None` for a store that cannot fail.
    fn health(&self) -> Option<StoreHealth> {
        None
    }
}

/// A store that lives as long as the value does: for tests, the model check
/// and benchmarks of the protocol alone. Cloning it takes a snapshot, which is
/// how the model check tells persisted from volatile state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemoryStore {
    entries: BTreeMap<Key, Versioned>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &str) -> Option<&Versioned> {
        self.entries.get(key)
    }
}

impl Store for MemoryStore {
    type Error = Infallible;

    fn load(&self) -> Result<Vec<(Key, Versioned)>, Infallible> {
        Ok(self
            .entries
            .iter()
            .map(|(key, versioned)| (key.clone(), versioned.clone()))
            .collect())
    }

    fn persist(&mut self, entries: &[(Key, Versioned)]) -> Result<(), Infallible> {
        for (key, versioned) in entries {
            let stale =
                matches!(self.entries.get(key), Some(stored) if stored.tag >= versioned.tag);
            if !stale {
                self.entries.insert(key.clone(), versioned.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tag::{Tag, WriterId};
    use super::*;

    fn at(timestamp: u64, value: &[u8]) -> Versioned {
        Versioned {
            tag: Tag {
                timestamp,
                writer: WriterId::default(),
            },
            value: Some(value.to_vec()),
        }
    }

    #[test]
    fn persist_keeps_the_highest_tag() {
        let mut store = MemoryStore::new();
        store.persist(&[("k".into(), at(2, b"new"))]).unwrap();
        store.persist(&[("k".into(), at(1, b"old"))]).unwrap();
        assert_eq!(store.get("k"), Some(&at(2, b"new")));
        assert_eq!(store.load().unwrap(), vec![("k".into(), at(2, b"new"))]);
    }
}
