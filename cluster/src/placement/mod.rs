//! Region placement: which node owns which region.
//!
//! The table (`table`) is a deterministic state machine. The placement
//! service (`service`) replicates it with Raft (openraft) over the cluster
//! transport: a group of voters (the first three nodes, or the only one)
//! orders the commands, every other node follows as a learner, and each
//! node reads its own replica locally.
//!
//! A replica can be stale, so owning a region in it is not enough to tick
//! the region: the node also needs a lease from the leader (`lease`), and
//! the leader holds back reassignments until the displaced node's leases
//! have run out (`fencing`). At no time do two nodes tick one region.

mod config;
mod db;
mod error;
mod fencing;
mod lease;
mod log_store;
mod messages;
mod network;
mod release;
mod server;
mod service;
mod state_machine;
mod table;
mod types;

pub use config::PlacementConfig;
pub use db::StoreError;
pub use error::PlacementError;
pub use release::ReleaseRequest;
pub use service::PlacementService;
pub use state_machine::TableEvent;
pub use table::{Applied, Command, Ownership, PlacementTable, RegionKey};
