//! Vanilla's world format (Anvil, Minecraft 1.20.1): region files, chunk
//! NBT and level.dat. The store puts these together.

pub(crate) mod aside;
pub mod chunk_nbt;
pub(crate) mod durable;
pub(crate) mod error;
mod gzip;
pub mod in_use;
pub(crate) mod legacy;
pub mod level_dat;
pub mod level_file;
pub mod nbt;
mod packing;
pub mod player_dat;
pub mod region_file;
