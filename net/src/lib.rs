//! The Minecraft frontend: accepts clients, runs their sessions, routes
//! their input to the regions that own their players, and writes back what
//! regions send. It never changes world state itself.

pub mod admin;
pub mod admin_commands;
pub mod command_table;
mod connection;
pub mod directory;
mod error;
pub mod frontend;
#[doc(hidden)]
pub mod fuzzing;
mod inbound;
pub mod limits;
mod listener;
mod login;
pub mod metrics;
pub mod online;
mod peer_frontends;
pub mod player_import;
mod player_record;
pub mod player_recovery;
pub mod players;
mod profile;
pub mod register_watch;
mod session;
mod status;
pub mod velocity;
pub mod world_rules;

pub use frontend::{Frontend, FrontendConfig};
pub use profile::offline_uuid;
pub use session::ban_message;
/// The game version this server speaks, for start-up and status lines.
pub use valence_protocol::MINECRAFT_VERSION;
