//! The world: region actors own chunks and the players standing in them.

pub mod chunk;
pub mod chunk_packet;
pub mod coords;
pub mod framing;
pub mod gen;
pub mod registry;
