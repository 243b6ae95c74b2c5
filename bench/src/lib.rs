//! Tessera's load generator: a swarm of light bots speaking the real
//! 1.20.1 protocol, and what it measures.

pub mod args;
mod auth;
pub mod behaviour;
pub mod bot;
pub mod metrics;
pub mod motion;
pub mod procfs;
pub mod scenario;
pub mod stats;
pub mod swarm;
pub mod wire;
