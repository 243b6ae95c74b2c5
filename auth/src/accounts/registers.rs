//! What the accounts service needs of the replicated register: read and
//! write a key. The register node of a cluster provides it over the
//! network; a single node runs the same register core in-process.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use super::store_probe;
use crate::register::{LocalCluster, NodeId, RedbStore, StoreHealth};

pub type RegisterFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RegisterUnavailable>> + Send + 'a>>;

/// The register did not answer: no quorum, a store failure, or shutdown.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the user register is unavailable: {0}")]
pub struct RegisterUnavailable(pub String);

pub trait Registers: Send + Sync + 'static {
    fn read<'a>(&'a self, key: &'a str) -> RegisterFuture<'a, Option<Vec<u8>>>;
    fn write<'a>(&'a self, key: &'a str, value: Option<Vec<u8>>) -> RegisterFuture<'a, ()>;
    /// The keys starting with `prefix` that hold a value; it reflects every
    /// write that completed before the call.
    fn keys<'a>(&'a self, prefix: &'a str) -> RegisterFuture<'a, Vec<String>>;
    /// Whether this node's store of the register persists, where it has one
    /// that can fail: for metrics and readiness.
    fn store_health(&self) -> Option<StoreHealth> {
        None
    }
}

/// The register of a node without a cluster: one replica, stored durably.
pub struct LocalRegisters {
    cluster: Arc<Mutex<LocalCluster<RedbStore>>>,
    health: Option<StoreHealth>,
}

const ONLY: NodeId = NodeId(1);

impl LocalRegisters {
    pub fn open(path: &Path) -> Result<Self, RegisterUnavailable> {
        let store = RedbStore::open(path).map_err(|e| RegisterUnavailable(e.to_string()))?;
        Self::with_store(store)
    }

    /// The register on a store already open. Inside a tokio runtime, a
    /// store that fails is probed in the background until it persists again
    /// (see `store_probe`); without one, only the next write finds out.
    pub fn with_store(store: RedbStore) -> Result<Self, RegisterUnavailable> {
        let cluster = LocalCluster::with_stores([(ONLY, store)])
            .map_err(|e| RegisterUnavailable(e.to_string()))?;
        let health = cluster.store_health(ONLY);
        let cluster = Arc::new(Mutex::new(cluster));
        if let (Some(health), Ok(runtime)) = (&health, tokio::runtime::Handle::try_current()) {
            runtime.spawn(store_probe::probe_while_failing(
                Arc::downgrade(&cluster),
                ONLY,
                health.clone(),
            ));
        }
        Ok(Self { cluster, health })
    }

    /// Runs one register operation on the blocking pool: the store fsyncs.
    fn blocking<'a, T: Send + 'static>(
        &'a self,
        op: impl FnOnce(&mut LocalCluster<RedbStore>) -> Result<T, String> + Send + 'static,
    ) -> RegisterFuture<'a, T> {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut cluster = cluster.lock().unwrap_or_else(PoisonError::into_inner);
                op(&mut cluster)
            })
            .await
            .map_err(|e| RegisterUnavailable(e.to_string()))?
            .map_err(RegisterUnavailable)
        })
    }
}

impl Registers for LocalRegisters {
    fn read<'a>(&'a self, key: &'a str) -> RegisterFuture<'a, Option<Vec<u8>>> {
        let key = key.to_owned();
        self.blocking(move |c| {
            c.read(ONLY, &key)
                .map(|v| v.value)
                .map_err(|e| e.to_string())
        })
    }

    fn write<'a>(&'a self, key: &'a str, value: Option<Vec<u8>>) -> RegisterFuture<'a, ()> {
        let key = key.to_owned();
        self.blocking(move |c| {
            c.write(ONLY, &key, value)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn keys<'a>(&'a self, prefix: &'a str) -> RegisterFuture<'a, Vec<String>> {
        let prefix = prefix.to_owned();
        self.blocking(move |c| c.keys(ONLY, &prefix).map_err(|e| e.to_string()))
    }

    fn store_health(&self) -> Option<StoreHealth> {
        self.health.clone()
    }
}

/// The replicated register of a cluster: reads and writes go to a quorum.
impl Registers for crate::register_node::RegisterNode {
    fn read<'a>(&'a self, key: &'a str) -> RegisterFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            crate::register_node::RegisterNode::read(self, key)
                .await
                .map_err(|e| RegisterUnavailable(e.to_string()))
        })
    }

    fn write<'a>(&'a self, key: &'a str, value: Option<Vec<u8>>) -> RegisterFuture<'a, ()> {
        Box::pin(async move {
            crate::register_node::RegisterNode::write(self, key, value)
                .await
                .map_err(|e| RegisterUnavailable(e.to_string()))
        })
    }

    fn keys<'a>(&'a self, prefix: &'a str) -> RegisterFuture<'a, Vec<String>> {
        Box::pin(async move {
            crate::register_node::RegisterNode::keys(self, prefix)
                .await
                .map_err(|e| RegisterUnavailable(e.to_string()))
        })
    }

    fn store_health(&self) -> Option<StoreHealth> {
        crate::register_node::RegisterNode::store_health(self)
    }
}

/// Registers in memory, for tests.
#[derive(Default)]
pub struct MemoryRegisters {
    values: Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

impl Registers for MemoryRegisters {
    fn read<'a>(&'a self, key: &'a str) -> RegisterFuture<'a, Option<Vec<u8>>> {
        let value = self
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        Box::pin(async move { Ok(value) })
    }

    fn write<'a>(&'a self, key: &'a str, value: Option<Vec<u8>>) -> RegisterFuture<'a, ()> {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        match value {
            Some(v) => values.insert(key.to_owned(), v),
            None => values.remove(key),
        };
        Box::pin(async { Ok(()) })
    }

    fn keys<'a>(&'a self, prefix: &'a str) -> RegisterFuture<'a, Vec<String>> {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<String> = values
            .keys()
            .filter(|key| key.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::accounts::{AccountError, Accounts};
    use crate::register::faulty_backend::FaultyDisk;

    #[tokio::test]
    async fn a_registration_on_a_full_disk_is_refused_clearly_and_works_once_space_returns() {
        let disk = FaultyDisk::default();
        let registers = LocalRegisters::with_store(disk.store()).unwrap();
        let health = registers
            .store_health()
            .expect("a redb store reports its health");
        let accounts = Accounts::new(Arc::new(registers));
        accounts
            .register("Alice", "u1", "secret1", "secret1")
            .await
            .unwrap();

        disk.set_full(true);
        let refused = accounts.register("Bob", "u2", "secret2", "secret2").await;
        let Err(error @ AccountError::NotSaved(_)) = refused else {
            panic!("a registration on a full disk was answered {refused:?}");
        };
        assert_eq!(
            error.for_player(),
            "Your account could not be saved right now; try again shortly"
        );
        assert!(health.is_failing());
        assert!(
            !accounts.is_registered("Bob").await.unwrap(),
            "not stored, not claimed"
        );
        accounts.login("Alice", "secret1", "1.2.3.4").await.unwrap();

        // Space returns; nobody writes, yet the store finds out by itself.
        disk.set_full(false);
        let deadline = Instant::now() + Duration::from_secs(10);
        while health.is_failing() {
            assert!(
                Instant::now() < deadline,
                "the store never reported healthy again"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        accounts
            .register("Bob", "u2", "secret2", "secret2")
            .await
            .unwrap();
        accounts.login("Bob", "secret2", "1.2.3.4").await.unwrap();

        // A register opened afresh on the same disk has both accounts.
        drop(accounts);
        let reopened = Accounts::new(Arc::new(LocalRegisters::with_store(disk.store()).unwrap()));
        reopened.login("Alice", "secret1", "1.2.3.4").await.unwrap();
        reopened.login("Bob", "secret2", "1.2.3.4").await.unwrap();
    }
}
