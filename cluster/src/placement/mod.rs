//! Region placement: which node owns which region.
//!
//! The table (`table`) is a deterministic state machine. The placement
//! service (`service`) replicates it with Raft (openraft) over the cluster
//! transport: a group of voters (the first three nodes, or the only one)
//! orders the commands, every other node follows as a learner, and each
//! node reads its own replica locally.

mod config;
mod db;
mod error;
mod log_store;
mod messages;
mod network;
mod server;
mod service;
mod state_machine;
mod table;
mod types;

pub use config::PlacementConfig;
pub use db::StoreError;
pub use error::PlacementError;
pub use service::PlacementService;
pub use state_machine::TableEvent;
pub use table::{Applied, Command, Ownership, PlacementTable, RegionKey};
