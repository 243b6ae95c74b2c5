//! The replicated state machine: this node's copy of the placement table,
//! fed by openraft with committed entries, snapshotted as postcard.

use std::io::Cursor;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftLogId, RaftSnapshotBuilder, StorageIOError};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tracing::info;

use super::db::{self, Db, StoreError, SNAPSHOT};
use super::types::{
    Entry, LogId, RaftId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use super::{Applied, Command, PlacementTable};

/// What a replica's table went through, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableEvent {
    /// `command`, the log entry at `index`, was applied and changed what
    /// `applied` lists (possibly nothing: commands are idempotent).
    Applied {
        index: u64,
        command: Command,
        applied: Applied,
    },
    /// The table was replaced wholesale by a snapshot from the leader (this
    /// replica had fallen behind the leader's compacted log): re-read it.
    Replaced { index: Option<u64> },
}

/// How many events a slow subscriber may fall behind before it is told it
/// lagged (and should re-read the table).
const EVENT_CAPACITY: usize = 1024;

/// The part of the state machine the service reads without going through
/// Raft: the table, how far it has applied, and the event feed.
pub(crate) struct Replica {
    table: RwLock<PlacementTable>,
    applied: watch::Sender<Option<u64>>,
    events: broadcast::Sender<TableEvent>,
}

impl Replica {
    pub(crate) fn new() -> Self {
        Self {
            table: RwLock::new(PlacementTable::default()),
            applied: watch::Sender::new(None),
            events: broadcast::channel(EVENT_CAPACITY).0,
        }
    }

    // The table is replaced or updated in single steps, so a panic elsewhere
    // cannot leave it half-changed: poisoning is ignored.
    pub(crate) fn table(&self) -> RwLockReadGuard<'_, PlacementTable> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn table_mut(&self) -> RwLockWriteGuard<'_, PlacementTable> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The index of the last log entry applied to the table.
    pub(crate) fn applied(&self) -> watch::Receiver<Option<u64>> {
        self.applied.subscribe()
    }

    /// The index of the last log entry applied to the table, now.
    pub(crate) fn applied_index(&self) -> Option<u64> {
        *self.applied.borrow()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<TableEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: TableEvent) {
        // Nobody listening is fine: the table itself is the state.
        let _ = self.events.send(event);
    }
}

/// The contents of a snapshot: the table and where in the log it stands.
#[derive(Serialize, Deserialize)]
struct SnapshotState {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    table: PlacementTable,
}

/// A snapshot as kept in the store, so that a restart after log compaction
/// still has the state the purged entries built.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

impl StoredSnapshot {
    fn into_snapshot(self) -> Snapshot {
        Snapshot {
            meta: self.meta,
            snapshot: Box::new(Cursor::new(self.data)),
        }
    }
}

pub(crate) struct StateMachine {
    db: Db,
    replica: Arc<Replica>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    snapshots_built: u64,
}

fn sm_read_error(e: StoreError) -> StorageError {
    StorageIOError::<RaftId>::read_state_machine(&e).into()
}

impl StateMachine {
    /// Restores the state of the stored snapshot, if any; openraft then
    /// re-applies the committed entries after it.
    pub(crate) async fn open(db: Db, replica: Arc<Replica>) -> Result<Self, StoreError> {
        let mut machine = Self {
            db,
            replica,
            last_applied: None,
            membership: StoredMembership::default(),
            snapshots_built: 0,
        };
        let stored: Option<StoredSnapshot> = machine.db.get_meta(SNAPSHOT).await?;
        if let Some(stored) = stored {
            let state: SnapshotState = db::decode("the stored snapshot", &stored.data)?;
            machine.restore(state);
        }
        Ok(machine)
    }

    fn restore(&mut self, state: SnapshotState) {
        self.last_applied = state.last_applied;
        self.membership = state.membership;
        *self.replica.table_mut() = state.table;
        self.replica
            .applied
            .send_replace(self.last_applied.map(|id| id.index));
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut responses = Vec::new();
        for entry in entries {
            let log_id = *entry.get_log_id();
            self.last_applied = Some(log_id);
            let applied = match entry.payload {
                EntryPayload::Blank => Applied::default(),
                EntryPayload::Normal(command) => {
                    let applied = self.replica.table_mut().apply(&command);
                    self.replica.emit(TableEvent::Applied {
                        index: log_id.index,
                        command,
                        applied: applied.clone(),
                    });
                    applied
                }
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(log_id), membership);
                    Applied::default()
                }
            };
            responses.push(applied);
        }
        self.replica
            .applied
            .send_replace(self.last_applied.map(|id| id.index));
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.snapshots_built += 1;
        SnapshotBuilder {
            db: self.db.clone(),
            state: SnapshotState {
                last_applied: self.last_applied,
                membership: self.membership.clone(),
                table: self.replica.table().clone(),
            },
            seq: self.snapshots_built,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let snapshot_error =
            |e: StoreError| StorageIOError::<RaftId>::read_snapshot(Some(meta.signature()), &e);
        let data = snapshot.into_inner();
        let state: SnapshotState =
            db::decode("a received snapshot", &data).map_err(snapshot_error)?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.db
            .put_meta(SNAPSHOT, &stored)
            .await
            .map_err(|e| StorageIOError::<RaftId>::write_snapshot(Some(meta.signature()), &e))?;
        // openraft's meta is authoritative for where the snapshot stands.
        self.restore(SnapshotState {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            table: state.table,
        });
        info!(index = ?meta.last_log_id.map(|id| id.index), "installed a placement snapshot");
        self.replica.emit(TableEvent::Replaced {
            index: meta.last_log_id.map(|id| id.index),
        });
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let stored: Option<StoredSnapshot> =
            self.db.get_meta(SNAPSHOT).await.map_err(sm_read_error)?;
        Ok(stored.map(StoredSnapshot::into_snapshot))
    }
}

/// Builds a snapshot from a copy of the state taken when openraft asked for
/// it, so applying can go on meanwhile.
pub(crate) struct SnapshotBuilder {
    db: Db,
    state: SnapshotState,
    seq: u64,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let last = self.state.last_applied;
        let snapshot_id = match last {
            Some(id) => format!("{}-{}-{}", id.leader_id, id.index, self.seq),
            None => format!("none-{}", self.seq),
        };
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: self.state.membership.clone(),
            snapshot_id,
        };
        let write_error =
            |e: StoreError| StorageIOError::<RaftId>::write_snapshot(Some(meta.signature()), &e);
        let data = db::encode("a snapshot", &self.state).map_err(write_error)?;
        let stored = StoredSnapshot { meta, data };
        self.db.put_meta(SNAPSHOT, &stored).await.map_err(|e| {
            StorageIOError::<RaftId>::write_snapshot(Some(stored.meta.signature()), &e)
        })?;
        Ok(stored.into_snapshot())
    }
}
