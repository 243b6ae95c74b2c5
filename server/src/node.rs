//! Assembling a single node from its configuration.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use tessera_auth::accounts::{Accounts, LocalRegisters, PlayerRecords};
use tessera_cluster::{NodeId, Vitals};
use tessera_net::frontend::Auth;
use tessera_net::limits::AddressLimits;
use tessera_net::online::OnlineMode;
use tessera_net::player_recovery::{self, recover_all};
use tessera_net::register_watch::{OpsWatch, RulesWatch};
use tessera_net::velocity::VelocityForwarding;
use tessera_net::{Frontend, FrontendConfig};
use tessera_world::anvil::in_use;
use tessera_world::anvil::level_dat::LevelDat;
use tessera_world::coords::RegionGrid;
use tessera_world::framing::Framing;
use tessera_world::journal::Journals;
use tessera_world::registry::Registries;
use tessera_world::routing::{Placement, SingleNode};
use tessera_world::store::RegionStore;
use tessera_world::{World, WorldSettings};
use tokio::net::TcpListener;
use tracing::{error, info, warn};

use crate::cluster::{Cluster, ClusterStart};
use crate::cluster_moves::DrainError;
use crate::config::{Config, Forwarding, ServerConfig};
use crate::level;
use crate::register_metrics::{RegisterMetrics, Timed};
use crate::remote_refusals::RemoteRefusals;

const ICON_FILE: &str = "server-icon.png";
/// The id of a node that runs without a cluster.
pub const SINGLE_NODE: NodeId = NodeId(1);

pub struct Node {
    pub frontend: Arc<Frontend>,
    pub world: Arc<World>,
    pub cluster: Option<Cluster>,
    /// The loops the node cannot work without; `/readyz` reports any that stopped.
    pub vitals: Vitals,
    /// What RCON and Query refused, for `/metrics`.
    pub remote_refusals: RemoteRefusals,
    /// How long the user register's reads and writes take, for `/metrics`.
    pub register_metrics: Arc<RegisterMetrics>,
    /// The world's level.dat as read at start; saves add the time.
    level: LevelDat,
    data_dir: std::path::PathBuf,
    /// How long a stop may spend handing regions to live peers.
    stop_grace: Duration,
    /// Held while the node runs: import and export refuse meanwhile.
    _in_use: std::fs::File,
}

/// The server-list icon from `server-icon.png` beside the config, if present.
fn favicon(folder: &Path) -> anyhow::Result<Option<String>> {
    let path = folder.join(ICON_FILE);
    match std::fs::read(&path) {
        Ok(png) => Ok(Some(format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// What verifies players with the session server, when `server.online_mode` is on.
async fn online_mode(server: &ServerConfig) -> anyhow::Result<Option<Arc<OnlineMode>>> {
    if !server.online_mode {
        return Ok(None);
    }
    if server.forwarding != Forwarding::None {
        // The proxy checks accounts with the session server; logins that
        // reach this node carry its signed verdict instead.
        info!("server.online_mode is left to the proxy: server.forwarding is on");
        return Ok(None);
    }
    let online = OnlineMode::new(&server.session_server)
        .await
        .context("cannot start in online mode (server.online_mode)")?;
    info!(
        "online mode: players are verified with {}",
        server.session_server
    );
    Ok(Some(Arc::new(online)))
}

/// What checks the player info a Velocity proxy forwards, when `server.forwarding` says so.
fn forwarding(server: &ServerConfig) -> Option<Arc<VelocityForwarding>> {
    match &server.forwarding {
        Forwarding::None => None,
        Forwarding::Velocity { secret } => {
            info!("velocity modern forwarding: players must connect through the proxy");
            Some(Arc::new(VelocityForwarding::new(secret.as_bytes())))
        }
    }
}

/// The authentication service of a node without a cluster, over its own
/// register store.
fn open_accounts(
    data_dir: &Path,
    node: NodeId,
    metrics: Arc<RegisterMetrics>,
) -> anyhow::Result<Arc<Accounts>> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = data_dir.join(format!("register-{node}.redb"));
    let inner =
        LocalRegisters::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Arc::new(Accounts::new(Arc::new(Timed { inner, metrics }))))
}

/// Longest start-up waits for the journaled players' states to reach their
/// records; past it they are written in the background (a cluster without
/// a quorum yet must not keep the node from starting).
const RECOVERY_WITHIN: Duration = Duration::from_secs(30);

/// Before anyone logs in, every player state a journal holds that is later
/// than the player's record goes into the record: a crash between a
/// placement and the next save of the record gives no item back.
async fn recover_players(world: &World, records: &PlayerRecords) {
    let Some(journals) = world.journals().cloned() else {
        return;
    };
    let scanned = tokio::task::spawn_blocking(move || journals.scan_players()).await;
    let (states, failed) = match scanned {
        Ok(scanned) => scanned,
        Err(e) => {
            warn!("the journals were not scanned for player states: {e}");
            return;
        }
    };
    for e in failed {
        warn!("player states of a journal not recovered: {e}");
    }
    if states.is_empty() {
        return;
    }
    let found = states.len();
    let records = records.clone();
    let recovering = tokio::spawn(async move { recover_all(&records, states).await });
    match tokio::time::timeout(RECOVERY_WITHIN, recovering).await {
        Ok(Ok(recovered)) => {
            info!(
                found,
                recovered, "journaled player states checked against their records"
            )
        }
        Ok(Err(e)) => warn!("player state recovery failed: {e}"),
        Err(_) => warn!(found, "player state recovery goes on in the background"),
    }
}

impl Node {
    /// Moves this node's regions to live peers, so they run on without
    /// waiting for this node's lease to run out; alone, it keeps them, and
    /// the stop saves them.
    async fn hand_over(&self, cluster: &Cluster) {
        let me = cluster.placement.node_id();
        let owned = cluster.placement.table().regions_of(me).count();
        match tokio::time::timeout(self.stop_grace, cluster.drain_node(me)).await {
            Ok(Ok(drained)) => info!(
                owned,
                moved = drained.moved,
                failed = drained.failed,
                to = ?drained.to,
                "handed this node's regions to live peers"
            ),
            Ok(Err(DrainError::Alone(_) | DrainError::NotPlaceable(_))) => {
                info!("no live peer to hand regions to: saving them here")
            }
            Ok(Err(e)) => warn!("regions not handed over: {e}; saving them here"),
            Err(_) => warn!(
                grace = ?self.stop_grace,
                "the handoff took longer than server.stop_grace_seconds; saving the rest here"
            ),
        }
    }

    /// Builds the node and starts accepting players on the configured address.
    pub async fn start(config: &Config, config_folder: &Path) -> anyhow::Result<Self> {
        let data_dir = &config.world.data_dir;
        let in_use = in_use::running(data_dir)?.with_context(|| {
            format!(
                "{} is being imported or exported (tessera import/export); start the server once that has finished",
                data_dir.display()
            )
        })?;
        let level = level::open(&config.world)?;
        let generator = level::generator_of(&level);
        let framing = Framing {
            threshold: config.server.compression_threshold,
        };
        let (node, cluster, placement): (NodeId, Option<ClusterStart>, Arc<dyn Placement>) =
            match &config.cluster {
                Some(cluster) => {
                    let (start, placement) =
                        ClusterStart::begin(cluster, &config.world.data_dir).await?;
                    (NodeId(cluster.node_id), Some(start), placement)
                }
                None => (SINGLE_NODE, None, Arc::new(SingleNode(SINGLE_NODE))),
            };
        let store = RegionStore::open(config.world.data_dir.clone())
            .context("cannot open the world's region files")?;
        let journals = Journals::new(&config.world.data_dir, config.world.region_size as i32);
        journals
            .check_grid()
            .context("the world's journal does not fit this configuration")?;
        let world = World::new(WorldSettings {
            node,
            placement,
            store: Some(store),
            journals: Some(journals),
            autosave: Duration::from_secs(u64::from(config.world.autosave_seconds)),
            region_idle: Duration::from_secs(u64::from(config.world.region_idle_seconds)),
            generator,
            grid: RegionGrid {
                size: config.world.region_size as i32,
            },
            framing,
            biome: Registries::vanilla().plains_biome,
            spawn: level.spawn,
            clock: level::clock(&level),
        });
        let register_metrics = Arc::new(RegisterMetrics::default());
        let accounts = match &cluster {
            Some(start) => Arc::new(Accounts::new(Arc::new(Timed {
                inner: start.register.clone(),
                metrics: register_metrics.clone(),
            }))),
            None => open_accounts(&config.world.data_dir, node, register_metrics.clone())?,
        };
        let records = accounts.player_records();
        world.set_player_recovery(player_recovery::spawn_writer(records.clone()));
        let auth = Auth {
            ops: OpsWatch::ops(accounts.clone()),
            rules: RulesWatch::world_rules(accounts.clone()),
            accounts,
            require_login: config.auth.require_login,
        };
        let frontend = Frontend::new(
            FrontendConfig {
                motd: config.server.motd.clone(),
                max_players: config.server.max_players,
                view_distance: config.server.view_distance,
                compression_threshold: config.server.compression_threshold,
                favicon: favicon(config_folder)?,
                online_mode: online_mode(&config.server).await?,
                forwarding: forwarding(&config.server),
                per_address: AddressLimits {
                    max_connections: config.server.max_connections_per_address,
                    connections_per_second: config.server.connections_per_address_per_second,
                    status_per_second: config.server.status_requests_per_address_per_second,
                },
                difficulty: level.difficulty(),
            },
            world.clone(),
            auth,
        );
        let rules_follower = tessera_net::world_rules::follow(
            frontend.clone(),
            frontend.auth.rules.subscribe(),
            tessera_auth::accounts::now_ms(),
        );
        let bind = config.server.bind;
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} (server.bind)"))?;
        let addr = listener.local_addr().context("listener has no address")?;
        let vitals = Vitals::default();
        let cluster = match cluster {
            Some(start) => Some(
                start
                    .finish(world.clone(), frontend.clone(), &vitals)
                    .await?,
            ),
            None => None,
        };
        recover_players(&world, &records).await;
        info!("listening on {addr}");
        vitals.spawn("accepting players", frontend.clone().serve(listener));
        vitals.spawn("following the world's rules", rules_follower);
        Ok(Self {
            frontend,
            world,
            cluster,
            vitals,
            remote_refusals: RemoteRefusals::default(),
            register_metrics,
            level,
            data_dir: data_dir.clone(),
            stop_grace: Duration::from_secs(u64::from(config.server.stop_grace_seconds)),
            _in_use: in_use,
        })
    }

    /// The world's name from level.dat: what Query reports as the map.
    pub fn level_name(&self) -> &str {
        &self.level.level_name
    }

    /// Writes level.dat with the world's time now.
    pub async fn save_level(&self) -> anyhow::Result<()> {
        let sky = level::Sky {
            difficulty: self.frontend.difficulty(),
            weather: self.frontend.weather(),
        };
        level::save(&self.data_dir, &self.level, &self.world, sky).await
    }

    /// Saves level.dat every `every`, as regions save their chunks.
    pub async fn autosave_level(self: Arc<Self>, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(e) = self.save_level().await {
                error!("{e:#}");
            }
        }
    }

    /// Stops accepting players and turns not ready, disconnects every player
    /// with `reason`, hands this node's regions to live peers (within the
    /// grace period), saves what is left and leaves the cluster.
    pub async fn stop(&self, reason: &str) {
        info!("stopping: {reason}");
        let started = std::time::Instant::now();
        self.frontend.disconnect_all(reason).await;
        if let Some(cluster) = &self.cluster {
            self.hand_over(cluster).await;
        }
        self.world.stop().await;
        info!(took = ?started.elapsed(), "regions stopped and saved");
        if let Err(e) = self.save_level().await {
            error!("{e:#}");
        }
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
    }
}
