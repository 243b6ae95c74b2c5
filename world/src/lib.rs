//! The world: region actors own chunks and the players standing in them.
//! Nothing here touches a socket; sessions receive already-encoded packets.

pub mod anvil;
pub mod chunk;
pub mod chunk_packet;
pub mod clock;
pub mod coords;
pub mod entity_ids;
mod feed;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub mod gen;
pub mod handoff;
#[cfg(test)]
mod handoff_count_tests;
mod hardness;
pub mod histogram;
mod ids;
pub mod journal;
pub mod map;
pub mod messages;
pub mod metrics;
pub mod player;
mod region;
pub mod region_metrics;
pub mod registry;
pub mod routing;
pub mod store;
pub mod transfer;
mod world;

pub use region::{LoadedChunk, RegionMail, TICK};
pub use world::{World, WorldSettings};
pub mod wire;
