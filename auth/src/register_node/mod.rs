//! The register on the network: [`RegisterNode`] runs one node's
//! [`Coordinator`] and, on the nodes of the replica group, its [`Replica`],
//! over the cluster [`Transport`].
//!
//! One task owns both state machines (see `task`): callers' reads and
//! writes and peers' messages go in, and what the machines answer goes out
//! in one frame per peer per turn. The replica's updates reach its store
//! through group commit on a blocking thread (see `commit`), and the
//! acknowledgements that depend on them leave only after the commit: the
//! register's types allow nothing else. A ticker drives retransmission and
//! the callers' timeouts.
//!
//! ```no_run
//! # async fn example(transport: tessera_cluster::Transport) -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_auth::register_node::{RegisterNode, RegisterNodeConfig};
//! use tessera_cluster::NodeId;
//!
//! let group = vec![NodeId(1), NodeId(2), NodeId(3)];
//! let store = Some("data/register.redb".into());
//! let register = RegisterNode::start(transport, group, store, RegisterNodeConfig::default()).await?;
//! register.write("user:alex", Some(b"record".to_vec())).await?;
//! assert_eq!(register.read("user:alex").await?, Some(b"record".to_vec()));
//! # Ok(())
//! # }
//! ```
//!
//! [`Coordinator`]: crate::register::Coordinator
//! [`Replica`]: crate::register::Replica

mod commit;
mod config;
mod error;
mod local_replica;
mod marker;
mod pending;
mod stats;
mod task;
mod wire;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_cluster::transport::{NodeId, Topic, Transport};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, info_span, Instrument};

pub use config::RegisterNodeConfig;
pub use error::{RegisterError, StartError};
pub use stats::RegisterStats;

use local_replica::LocalReplica;
use pending::PendingOps;
use stats::Counters;
use task::{Command, NodeTask};
use wire::Outbound;

use crate::register::{
    Coordinator, Incarnation, Key, MemoryStore, RedbStore, Replica, ReplicaGroup, Store,
    StoreHealth, Versioned, WriterId,
};

/// One node's access to the replicated register, and its replica if it is
/// in the replica group. Cloning is cheap; the node stops when
/// [`RegisterNode::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct RegisterNode {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

struct Shared {
    id: NodeId,
    op_timeout: Duration,
    ready: Arc<AtomicBool>,
    counters: Arc<Counters>,
    /// This node's replica store's, if it has a replica on a store that can fail.
    store_health: Option<StoreHealth>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl RegisterNode {
    /// Starts the register on `transport`, whose node must be reachable
    /// from every member of `group` (the replica group, the same list on
    /// every node).
    ///
    /// A member keeps its replica in the redb file at `store_path`, or in
    /// memory without one (for tests and single-node play: it forgets
    /// everything on exit). A node outside the group only coordinates: it
    /// reads and writes through the group and ignores `store_path`.
    ///
    /// A store that does not hold a complete replica state (a file just
    /// created, as `RedbStore::was_created` reports, or one a recovery into
    /// it never finished: see `marker`) belongs to a new cluster or replaces
    /// a lost disk. With `config.recover_if_empty`, in a group of more than
    /// one, the replica rebuilds its state from a quorum of the others
    /// before it answers anything, and [`RegisterNode::is_ready`] stays
    /// false until then; with `config.discover_if_empty` it does the same
    /// but also starts once every other replica answered (see
    /// `Replica::discovering`), which tells the two cases apart by itself.
    /// With neither, the store is taken as complete and the replica serves.
    pub async fn start(
        transport: Transport,
        group: Vec<NodeId>,
        store_path: Option<PathBuf>,
        config: RegisterNodeConfig,
    ) -> Result<Self, StartError> {
        let member = group.contains(&transport.node_id());
        match store_path {
            Some(path) if member => {
                let opened = tokio::task::spawn_blocking(move || RedbStore::open(path))
                    .await
                    .map_err(|error| StartError::Store(Box::new(error)))?;
                let store = opened.map_err(|error| StartError::Store(Box::new(error)))?;
                Self::start_with_store(transport, group, store, config).await
            }
            _ => Self::start_with_store(transport, group, MemoryStore::new(), config).await,
        }
    }

    /// [`RegisterNode::start`] with any store. The store is dropped at once
    /// on a node outside the group.
    pub async fn start_with_store<S: Store + Send + 'static>(
        transport: Transport,
        group: Vec<NodeId>,
        store: S,
        config: RegisterNodeConfig,
    ) -> Result<Self, StartError> {
        let id = transport.node_id();
        let group = ReplicaGroup::new(group)?;
        let incarnation = config.incarnation.unwrap_or_else(wall_clock_incarnation);
        let started = Instant::now();
        let counters = Arc::new(Counters::default());

        let store_health = group.contains(id).then(|| store.health()).flatten();
        let replica = if group.contains(id) {
            let may_recover =
                (config.recover_if_empty || config.discover_if_empty) && group.size() > 1;
            let discovering = config.discover_if_empty && !config.recover_if_empty;
            let (store, opened) = tokio::task::spawn_blocking(move || {
                let mut store = store;
                let opened = open_store(&mut store, may_recover);
                (store, opened)
            })
            .await
            .map_err(|error| StartError::Store(Box::new(error)))?;
            let replica = match opened.map_err(|error| StartError::Store(Box::new(error)))? {
                Opened::Complete(entries) => {
                    let replica = Replica::new(id, group.clone(), entries)?;
                    LocalReplica::new(replica, store, counters.clone())
                }
                Opened::MustRecover => {
                    let rebuilding = if discovering {
                        Replica::discovering(
                            id,
                            group.clone(),
                            incarnation,
                            config.retransmit_after,
                        )?
                    } else {
                        Replica::recovering(
                            id,
                            group.clone(),
                            incarnation,
                            config.retransmit_after,
                        )?
                    };
                    LocalReplica::recovering(
                        rebuilding,
                        config.recovery_delay,
                        store,
                        counters.clone(),
                    )
                }
            };
            Some(replica)
        } else {
            None
        };
        let ready = Arc::new(AtomicBool::new(
            replica.as_ref().is_none_or(LocalReplica::is_ready),
        ));
        let inbox = transport.subscribe(Topic::Register)?;
        info!(
            node = %id,
            replicas = group.size(),
            member = replica.is_some(),
            recovering = !ready.load(Ordering::Relaxed),
            incarnation = incarnation.0,
            "register node starting"
        );

        let writer = WriterId {
            node: id,
            incarnation,
        };
        let task = NodeTask {
            id,
            coordinator: Coordinator::new(writer, group, config.retransmit_after),
            replica,
            pending: PendingOps::new(config.op_timeout, counters.clone()),
            outbound: Outbound::new(transport.clone(), counters.clone()),
            tick_interval: config.tick_interval,
            started,
            ready: ready.clone(),
        };
        let (commands, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let span = info_span!("register", node = %id);
        let task = tokio::spawn(task.run(receiver, inbox).instrument(span));
        Ok(Self {
            commands,
            shared: Arc::new(Shared {
                id: transport.node_id(),
                op_timeout: config.op_timeout,
                ready,
                counters,
                store_health,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    pub fn node_id(&self) -> NodeId {
        self.shared.id
    }

    /// The value of `key`, `None` if it was never written or was deleted.
    /// One round trip to a quorum when the replicas agree, two while a
    /// write is under way or a replica missed one.
    pub async fn read(&self, key: impl Into<String>) -> Result<Option<Vec<u8>>, RegisterError> {
        let (reply, answer) = oneshot::channel();
        let key = key.into();
        self.call(Command::Read { key, reply }, answer).await
    }

    /// Sets `key` to `value` (`None` deletes it). Two round trips to a
    /// quorum, the second after the replicas' commits.
    pub async fn write(
        &self,
        key: impl Into<String>,
        value: Option<Vec<u8>>,
    ) -> Result<(), RegisterError> {
        let (reply, answer) = oneshot::channel();
        let key = key.into();
        self.call(Command::Write { key, value, reply }, answer)
            .await
    }

    /// The keys starting with `prefix` that hold a value: every key whose
    /// write completed before this call, and perhaps some being written.
    /// One round trip to a quorum (see [`Coordinator::keys`]).
    pub async fn keys(&self, prefix: impl Into<String>) -> Result<Vec<String>, RegisterError> {
        let (reply, answer) = oneshot::channel();
        let prefix = prefix.into();
        self.call(Command::Keys { prefix, reply }, answer).await
    }

    async fn call<T>(
        &self,
        command: Command,
        answer: oneshot::Receiver<Result<T, RegisterError>>,
    ) -> Result<T, RegisterError> {
        let timeout = self.shared.op_timeout;
        let exchange = async {
            self.commands
                .send(command)
                .await
                .map_err(|_| RegisterError::Stopped)?;
            answer.await.map_err(|_| RegisterError::Stopped)?
        };
        // The task fails the operation at its own deadline too, which comes
        // no sooner; this one also bounds the wait for room in a full queue.
        let result = tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(RegisterError::NoQuorum(timeout)));
        if let Err(RegisterError::NoQuorum(_)) = result {
            stats::add(&self.shared.counters.timeouts, 1);
        }
        result
    }

    /// False while this node's replica rebuilds a lost store from the others
    /// (or after its commit thread panicked and took the store with it); a
    /// store that fails to persist is reported by
    /// [`RegisterNode::store_health`] instead. A node outside the group is
    /// always ready.
    /// Reads and writes through this node work either way, as long as a
    /// quorum of the others answers.
    pub fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Relaxed)
    }

    /// Whether this node's replica store persists; `None` on a node without
    /// a replica, or with one in memory. While it fails, the replica keeps
    /// answering from what is durable but acknowledges no update.
    pub fn store_health(&self) -> Option<StoreHealth> {
        self.shared.store_health.clone()
    }

    pub fn stats(&self) -> RegisterStats {
        self.shared.counters.snapshot()
    }

    /// Stops the node: operations in progress fail with
    /// [`RegisterError::Stopped`], a running commit finishes, and the store
    /// is closed when this returns (so it can be opened again).
    pub async fn shutdown(&self) {
        // Fails only if the task has already stopped.
        let _ = self.commands.send(Command::Stop).await;
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            // A join error is a panic, which tokio has already reported.
            let _ = task.await;
        }
    }
}

/// What a replica's store held at start.
enum Opened {
    Complete(Vec<(Key, Versioned)>),
    /// Incomplete, and the cluster existed before: a lost disk.
    MustRecover,
}

/// Loads the store; an incomplete one is recovered if `may_recover`, and
/// otherwise taken as a new cluster's and marked complete at once.
fn open_store<S: Store>(store: &mut S, may_recover: bool) -> Result<Opened, S::Error> {
    let mut entries = store.load()?;
    if marker::take(&mut entries) {
        return Ok(Opened::Complete(entries));
    }
    if may_recover {
        return Ok(Opened::MustRecover);
    }
    marker::mark(store)?;
    Ok(Opened::Complete(entries))
}

/// Microseconds since the Unix epoch: a new value on every start, unless the
/// clock stepped back by more than the time between two starts.
fn wall_clock_incarnation() -> Incarnation {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros())
        .unwrap_or_default();
    Incarnation(u64::try_from(micros).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tessera_cluster::transport::{ClusterSecret, TokioNet, TransportConfig};

    use super::*;
    use crate::register::faulty_backend::FaultyDisk;

    fn value(text: &str) -> Option<Vec<u8>> {
        Some(text.as_bytes().to_vec())
    }

    async fn single_node(store: RedbStore) -> (Transport, RegisterNode) {
        let listen = "127.0.0.1:0".parse().expect("a socket address");
        let secret = ClusterSecret::new("tessera register store test").expect("a long secret");
        let transport = Transport::start(TokioNet, TransportConfig::new(NodeId(1), listen, secret))
            .await
            .expect("a loopback transport");
        let config = RegisterNodeConfig {
            op_timeout: Duration::from_millis(800),
            retransmit_after: Duration::from_millis(50),
            tick_interval: Duration::from_millis(10),
            ..RegisterNodeConfig::default()
        };
        let register =
            RegisterNode::start_with_store(transport.clone(), vec![NodeId(1)], store, config)
                .await
                .expect("the register starts");
        (transport, register)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_acknowledges_nothing_while_its_store_fails_and_serves_again_after() {
        let disk = FaultyDisk::default();
        let (transport, register) = single_node(disk.store()).await;
        let health = register
            .store_health()
            .expect("a redb store reports its health");
        register.write("user:alex", value("alex")).await.unwrap();

        disk.set_full(true);
        assert_eq!(
            register.write("user:bo", value("bo")).await,
            Err(RegisterError::NoQuorum(Duration::from_millis(800))),
            "a write the store could not persist is not acknowledged"
        );
        assert!(health.is_failing());
        assert!(health.errors() >= 1);
        // What it answers is what is durable: the old value, not the failed one.
        assert_eq!(register.read("user:bo").await.unwrap(), None);
        assert_eq!(register.read("user:alex").await.unwrap(), value("alex"));
        assert!(register.is_ready(), "a failing store does not stop reads");

        disk.set_full(false);
        let deadline = Instant::now() + Duration::from_secs(10);
        while register.write("user:cy", value("cy")).await.is_err() {
            assert!(Instant::now() < deadline, "the store never persisted again");
        }
        assert!(!health.is_failing());
        assert_eq!(register.read("user:cy").await.unwrap(), value("cy"));
        register.shutdown().await;
        transport.shutdown().await;

        // Durable, not only in memory: a store opened afresh on the same disk
        // holds what was written before and after the failure.
        let entries = disk.store().load().unwrap();
        let holds = |key: &str, text: &str| {
            entries
                .iter()
                .any(|(k, v)| k == key && v.value == value(text))
        };
        assert!(
            holds("user:alex", "alex") && holds("user:cy", "cy"),
            "{entries:?}"
        );
    }
}
