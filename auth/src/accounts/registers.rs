//! What the accounts service needs of the replicated register: read and
//! write a key. The register node of a cluster provides it over the
//! network; a single node runs the same register core in-process.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use crate::register::{LocalCluster, NodeId, RedbStore};

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
}

/// The register of a node without a cluster: one replica, stored durably.
pub struct LocalRegisters {
    cluster: Arc<Mutex<LocalCluster<RedbStore>>>,
}

const ONLY: NodeId = NodeId(1);

impl LocalRegisters {
    pub fn open(path: &Path) -> Result<Self, RegisterUnavailable> {
        let store = RedbStore::open(path).map_err(|e| RegisterUnavailable(e.to_string()))?;
        let cluster = LocalCluster::with_stores([(ONLY, store)])
            .map_err(|e| RegisterUnavailable(e.to_string()))?;
        Ok(Self {
            cluster: Arc::new(Mutex::new(cluster)),
        })
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
