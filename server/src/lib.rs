//! The library half of the tessera binary: its configuration, so the fuzz
//! targets (the `tessera-fuzz` crate) can reach the parser the binary uses.

pub mod config;
