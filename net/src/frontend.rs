//! The frontend's services, built once per node: configuration, the world,
//! the players here and elsewhere, limits, metrics and the authentication
//! service. Everything that serves clients (`listener`, sessions, commands)
//! reaches them through here; this module depends on none of those.

use std::sync::Arc;
use std::time::Duration;

use tessera_world::framing::Framing;
use tessera_world::registry::Registries;
use tessera_world::World;
use tokio::sync::watch;
use tracing::warn;
use valence_protocol::packets::play::WorldTimeUpdateS2c;
use valence_protocol::CompressionThreshold;

use crate::directory::Directory;
use crate::limits::{AddressLimits, Limits};
use crate::metrics::NetMetrics;
use crate::players::Players;

/// The authentication service and how the frontend uses it.
pub struct Auth {
    pub accounts: Arc<tessera_auth::accounts::Accounts>,
    /// Offline-mode players must /register or /login before they can play.
    pub require_login: bool,
    /// The operator list as last read, for the command trees players see.
    pub ops: crate::register_watch::OpsWatch,
    /// The time, weather and difficulty as last read, for what players see.
    pub rules: crate::register_watch::RulesWatch,
}

#[derive(Debug, Clone)]
pub struct FrontendConfig {
    pub motd: String,
    pub max_players: u32,
    pub view_distance: u8,
    pub compression_threshold: CompressionThreshold,
    /// `data:image/png;base64,...` of `server-icon.png`, if there is one.
    pub favicon: Option<String>,
    /// Set in online mode: logins are verified with the session server.
    pub online_mode: Option<Arc<crate::online::OnlineMode>>,
    /// Set behind a Velocity proxy: logins carry the player info it signed,
    /// and online mode is the proxy's job (this takes precedence).
    pub forwarding: Option<Arc<crate::velocity::VelocityForwarding>>,
    /// Connections and status requests each address may have.
    pub per_address: AddressLimits,
    /// level.dat's difficulty, until an operator sets one.
    pub difficulty: u8,
}

pub struct Frontend {
    pub config: FrontendConfig,
    pub world: Arc<World>,
    pub players: Players,
    pub registries: Registries,
    pub framing: Framing,
    pub metrics: Arc<NetMetrics>,
    /// Frame, buffer and per-address caps, and what they refused.
    pub limits: Arc<Limits>,
    pub directory: Directory,
    pub auth: Auth,
    /// Becomes true when the node shuts down: sessions then leave with the reason.
    shutdown: watch::Sender<Option<String>>,
}

impl Frontend {
    pub fn new(config: FrontendConfig, world: Arc<World>, auth: Auth) -> Arc<Self> {
        let framing = world.framing();
        Arc::new(Self {
            players: Players::new(world.clone(), config.max_players as usize, framing),
            registries: Registries::vanilla(),
            framing,
            metrics: Arc::default(),
            limits: Limits::new(config.per_address),
            directory: Directory::default(),
            auth,
            config,
            world,
            shutdown: watch::channel(None).0,
        })
    }

    pub fn time_packet(&self) -> bytes::Bytes {
        let clock = &self.world.clock;
        self.framing.frame(&WorldTimeUpdateS2c {
            world_age: clock.now().0,
            time_of_day: clock.packet_time_of_day(),
        })
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.borrow().is_some()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<Option<String>> {
        self.shutdown.subscribe()
    }

    /// Disconnects every player with `reason` and waits (a bounded time) until they are gone.
    pub async fn disconnect_all(&self, reason: &str) {
        // A session is gone once it saved its player's record, which takes
        // at most four seconds when the register is slow (session/record.rs).
        const WAIT: Duration = Duration::from_secs(5);
        const POLL: Duration = Duration::from_millis(20);
        self.shutdown.send_replace(Some(reason.to_owned()));
        for _ in 0..WAIT.as_millis() / POLL.as_millis() {
            if self.players.count() == 0 {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        warn!(
            left = self.players.count(),
            "players still connected after shutdown notice"
        );
    }
}
