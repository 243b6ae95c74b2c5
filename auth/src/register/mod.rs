//! The replicated user register: one multi-writer atomic register per key,
//! after ABD's "read-impose write-consult-majority" (Guerraoui & Rodrigues,
//! *Reliable Distributed Programming*), as sans-IO state machines.
//!
//! - A [`Replica`] on each of the n nodes of a fixed [`ReplicaGroup`] keeps,
//!   per key, the value with the highest [`Tag`] it has stored durably.
//! - A [`Coordinator`] on any node runs reads and writes. A write asks a
//!   quorum (⌊n/2⌋+1) for their tags, then stores its value under
//!   (highest timestamp + 1, itself) on a quorum. A read asks a quorum for
//!   their values, picks the highest tag and, unless a quorum already reported
//!   that very tag, writes it back to a quorum before returning it, so no
//!   later read can return anything older. A read thus costs one round trip
//!   when the replicas agree, and two when a write is under way or some
//!   replica missed one.
//!
//! Neither side does I/O or reads a clock: they take messages and the time,
//! and return [`Envelope`]s to send, [`PendingWrites`] to make durable first,
//! and [`Completion`]s. Messages are idempotent and the coordinator repeats a
//! phase to silent replicas on [`Coordinator::tick`], so the transport may
//! drop, duplicate and reorder them. [`LocalCluster`] wires the pieces
//! together in one process for tests and benchmarks.

mod backoff;
mod coordinator;
#[cfg(test)]
pub(crate) mod faulty_backend;
mod group;
mod health;
mod local;
mod messages;
mod redb_store;
mod replica;
mod store;
mod tag;

pub(crate) use backoff::Backoff;
pub use coordinator::{Completion, Coordinator, Outbox, Outcome};
pub use group::{GroupError, ReplicaGroup};
pub use health::StoreHealth;
pub use local::{LocalCluster, LocalError};
pub use messages::{Envelope, Held, Message, OpId, ToCoordinator, ToReplica};
pub use redb_store::{RedbStore, RedbStoreError};
pub(crate) use replica::NotCommitted;
pub use replica::{Durable, PendingWrites, Replica, ReplicaEffects};
pub use store::{MemoryStore, Store};
pub use tag::{Incarnation, Key, NodeId, Tag, Value, Versioned, WriterId};
