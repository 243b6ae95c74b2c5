//! Loading `config.toml`, the operator's settings for one Tessera node.
//!
//! The file is parsed into a raw TOML table and environment variables named
//! `TESSERA_<SECTION>_<KEY>` are laid over it; only then are values type- and
//! range-checked. Checking after merging means an error reads the same whatever
//! its source: which key, what is wrong, and where the value came from.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_cluster::membership::Seed;
use tessera_world::entity_ids::MAX_NODE;
use thiserror::Error;
use toml::{Table, Value};

/// Environment variables with this prefix must name a config key; a typo
/// there would otherwise be silently ignored.
const ENV_PREFIX: &str = "TESSERA_";

/// The TOML type a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Boolean,
    String,
    /// A TOML array of strings; in the environment, comma-separated.
    StringList,
}

/// Every key the file may set (dotted path, type). Keys not listed here are
/// rejected, so a misspelt key fails loudly instead of leaving a default.
const KEYS: [(&str, Kind); 36] = [
    ("server.bind", Kind::String),
    ("server.motd", Kind::String),
    ("server.max_players", Kind::Integer),
    ("server.view_distance", Kind::Integer),
    ("server.compression_threshold", Kind::Integer),
    ("server.online_mode", Kind::Boolean),
    ("server.session_server", Kind::String),
    ("server.forwarding", Kind::String),
    ("server.forwarding_secret", Kind::String),
    ("server.forwarding_secret_file", Kind::String),
    ("server.max_connections_per_address", Kind::Integer),
    ("server.connections_per_address_per_second", Kind::Integer),
    (
        "server.status_requests_per_address_per_second",
        Kind::Integer,
    ),
    ("server.stop_grace_seconds", Kind::Integer),
    ("server.log", Kind::String),
    ("world.generator", Kind::String),
    ("world.seed", Kind::Integer),
    ("world.spawn.x", Kind::Integer),
    ("world.spawn.z", Kind::Integer),
    ("world.region_size", Kind::Integer),
    ("world.data_dir", Kind::String),
    ("world.autosave_seconds", Kind::Integer),
    ("world.region_idle_seconds", Kind::Integer),
    ("admin.bind", Kind::String),
    ("auth.require_login", Kind::Boolean),
    ("cluster.node_id", Kind::Integer),
    ("cluster.bind", Kind::String),
    ("cluster.seeds", Kind::StringList),
    ("cluster.secret", Kind::String),
    ("cluster.register_recover", Kind::Boolean),
    ("rcon.enabled", Kind::Boolean),
    ("rcon.bind", Kind::String),
    ("rcon.password", Kind::String),
    ("query.enabled", Kind::Boolean),
    ("query.host", Kind::String),
    ("query.port", Kind::Integer),
];

/// The variable names of the itzg/minecraft-server image for the same
/// keys, so compose files written for it keep working. Only these: its
/// other names mean settings Tessera has not, or differently.
const ALIASES: [(&str, &str); 10] = [
    ("MAX_PLAYERS", "server.max_players"),
    ("MOTD", "server.motd"),
    ("VIEW_DISTANCE", "server.view_distance"),
    ("ONLINE_MODE", "server.online_mode"),
    ("SEED", "world.seed"),
    ("ENABLE_RCON", "rcon.enabled"),
    ("RCON_PASSWORD", "rcon.password"),
    ("ENABLE_QUERY", "query.enabled"),
    ("QUERY_PORT", "query.port"),
    ("STOP_DURATION", "server.stop_grace_seconds"),
];

/// The libraries' own INFO lines (openraft's votes and replication, foca's
/// probes) are noise to an operator; `server.log = "info"` or `RUST_LOG`
/// brings them back.
pub const DEFAULT_LOG: &str = "info,openraft=warn,foca=warn";

/// Mojang's session server, which online mode asks whether a player is who it says.
const DEFAULT_SESSION_SERVER: &str = "https://sessionserver.mojang.com";

/// Per-address defaults: high enough for many players behind one address
/// (a NAT, a campus) and for the bench swarm on loopback (up to 1,000 bots,
/// joining at up to 100 a second), low enough that one address cannot hold
/// thousands of sockets or reconnect thousands of times a second.
const DEFAULT_CONNECTIONS_PER_ADDRESS: u32 = 2000;
const DEFAULT_CONNECTION_RATE: u32 = 200;
/// A multiplayer screen pings each server once when it opens or refreshes.
/// Below Kubernetes' default 30 s termination grace, with room for the
/// save and exit after the handoff.
const DEFAULT_STOP_GRACE_SECONDS: u32 = 20;
const DEFAULT_STATUS_RATE: u32 = 20;

/// Minecraft's standard port, used by the default `server.bind`.
const DEFAULT_PORT: u16 = 25565;
const DEFAULT_ADMIN_PORT: u16 = 25580;
const DEFAULT_CLUSTER_PORT: u16 = 25590;
/// Vanilla's `rcon.port`.
const DEFAULT_RCON_PORT: u16 = 25575;
/// Shortest RCON password accepted; with the lockout after failed logins,
/// guessing one this long is out of reach.
const MIN_RCON_PASSWORD_LEN: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub world: WorldConfig,
    pub admin: AdminConfig,
    pub auth: AuthConfig,
    pub cluster: Option<ClusterConfig>,
    /// Present when `rcon.enabled` is true.
    pub rcon: Option<RconConfig>,
    /// Present when `query.enabled` is true.
    pub query: Option<QueryConfig>,
}

/// The remote console, when enabled.
#[derive(Clone, PartialEq)]
pub struct RconConfig {
    /// Address the RCON listener binds; loopback unless configured.
    pub bind: SocketAddr,
    /// What a client must log in with; never printed.
    pub password: String,
}

impl fmt::Debug for RconConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RconConfig")
            .field("bind", &self.bind)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The Query (GameSpy4) responder, when enabled.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryConfig {
    /// UDP address it answers on.
    pub bind: SocketAddr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    /// Offline-mode players must /register or /login before they can play.
    pub require_login: bool,
}

/// Present when the node is part of a cluster; absent for a single node.
#[derive(Clone, PartialEq)]
pub struct ClusterConfig {
    /// This node's id, unique in the cluster.
    pub node_id: u64,
    /// Address of the cluster port other nodes connect to.
    pub bind: SocketAddr,
    /// Other nodes to contact at start, as `id@host:port`.
    pub seeds: Vec<Seed>,
    /// Shared secret every node must prove it holds; never printed.
    pub secret: String,
    /// This node's register replica lost its disk: an empty store is to be
    /// rebuilt from the other replicas, not taken as a new cluster's.
    pub register_recover: bool,
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("node_id", &self.node_id)
            .field("bind", &self.bind)
            .field("seeds", &self.seeds)
            .field("secret", &"<redacted>")
            .field("register_recover", &self.register_recover)
            .finish()
    }
}

/// A seed as the configuration gives it: `id@host:port`, a positive id.
fn parse_seed(text: &str) -> Option<Seed> {
    text.parse::<Seed>().ok().filter(|seed| seed.id.0 > 0)
}

/// Shortest cluster secret accepted: guessing it must be out of reach.
const MIN_SECRET_LEN: usize = 16;
/// Shortest Velocity forwarding secret accepted: the length of the one
/// Velocity generates into `forwarding.secret` (random letters and digits).
const MIN_FORWARDING_SECRET_LEN: usize = 12;

/// How players reach this server: directly, or through a proxy that has
/// already authenticated them and forwards who they are.
#[derive(Clone, PartialEq, Eq)]
pub enum Forwarding {
    /// Clients connect directly.
    None,
    /// Behind a Velocity proxy with modern forwarding: every login must carry
    /// player info signed with this secret (shared with the proxy).
    Velocity { secret: String },
}

// By hand: the secret must never reach a log line or an error.
impl fmt::Debug for Forwarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Velocity { .. } => f
                .debug_struct("Velocity")
                .field("secret", &"<redacted>")
                .finish(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    /// Address of the admin HTTP interface (`/livez`, `/readyz`, `/metrics`).
    pub bind: SocketAddr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address the Minecraft listener binds.
    pub bind: SocketAddr,
    pub motd: String,
    pub max_players: u32,
    /// In chunks.
    pub view_distance: u8,
    /// Packets larger than this many bytes are compressed; `None` turns
    /// compression off (`-1` in the file).
    pub compression_threshold: Option<u32>,
    /// Verify players with the session server (and encrypt their connections).
    pub online_mode: bool,
    /// Base URL of the session server online mode asks.
    pub session_server: String,
    /// Whether a proxy forwards players' identities (and then online mode
    /// is the proxy's job).
    pub forwarding: Forwarding,
    /// Connections one address (an IPv4 address, an IPv6 /64) may hold at once.
    pub max_connections_per_address: u32,
    /// New connections one address may open a second (and at once).
    pub connections_per_address_per_second: u32,
    /// Server list pings one address may have answered a second (and at once).
    pub status_requests_per_address_per_second: u32,
    /// How long a stop may take to hand regions to live peers before it
    /// saves what is left and exits.
    pub stop_grace_seconds: u32,
    /// Which log lines are written, as `RUST_LOG` directives; checked
    /// here, so a typo is a config error rather than a silent default.
    pub log: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    pub generator: GeneratorKind,
    pub seed: i64,
    /// Block column players spawn on; they stand on its surface.
    pub spawn_x: i32,
    pub spawn_z: i32,
    /// Side of a region in chunks.
    pub region_size: u32,
    /// Already resolved against the config file's folder.
    pub data_dir: PathBuf,
    /// How often regions save their changes into the region files (the
    /// journal makes every change durable before it is shown anyway).
    pub autosave_seconds: u32,
    /// How long a region with no players and nothing unsaved keeps running.
    pub region_idle_seconds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratorKind {
    /// A superflat world.
    Flat,
    /// Noise hills, water and trees.
    Terrain,
}

impl GeneratorKind {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "flat" => Some(Self::Flat),
            "terrain" => Some(Self::Terrain),
            _ => None,
        }
    }
}

/// Where a value came from, so an error points the operator at what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "in {}", path.display()),
            Self::Env(var) => write!(f, "in environment variable {var}"),
        }
    }
}

// The underlying io/toml errors are part of the message rather than a
// `#[source]`, so the message is complete however main prints it and is not
// repeated when printed with its chain.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    // toml's message is multi-line and ends in a newline; trim it so the
    // error does not print a trailing blank line.
    #[error("invalid TOML in {}: {}", path.display(), error.to_string().trim_end())]
    Syntax {
        path: PathBuf,
        error: toml::de::Error,
    },
    #[error("unknown key `{key}` {origin}")]
    UnknownKey { key: String, origin: Origin },
    #[error(
        "environment variable {var} names no config key \
         (expected {ENV_PREFIX}<SECTION>_<KEY>, such as {ENV_PREFIX}SERVER_BIND)"
    )]
    UnknownEnvVar { var: String },
    #[error("`{key}` must be {expected}, got {found} {origin}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: String,
        origin: Origin,
    },
    #[error("`{key}` must be between {min} and {max}, got {value} {origin}")]
    OutOfRange {
        key: &'static str,
        min: i64,
        max: i64,
        value: i64,
        origin: Origin,
    },
    #[error("`{key}` must be set when the node is part of a cluster")]
    Missing { key: &'static str },
    #[error("`{key}` must be set when `{switch}` is true")]
    MissingFor {
        key: &'static str,
        switch: &'static str,
    },
    // The value is a secret: the message names where it came from, never it.
    #[error("`{key}` must be at least {min} bytes long {origin}")]
    WeakSecret {
        key: &'static str,
        min: usize,
        origin: Origin,
    },
    #[error("cannot read the secret file {} named by `{key}` {origin}: {error}", path.display())]
    SecretFile {
        key: &'static str,
        path: PathBuf,
        origin: Origin,
        error: std::io::Error,
    },
    #[error(
        "`server.forwarding` is \"velocity\" {origin}, so `server.forwarding_secret` or \
         `server.forwarding_secret_file` must be set to the proxy's forwarding secret"
    )]
    NoForwardingSecret { origin: Origin },
    #[error("`{key}` is set {origin}, but `server.forwarding` is not \"velocity\"")]
    UnusedForwardingSecret { key: &'static str, origin: Origin },
    #[error(
        "`server.forwarding_secret` and `server.forwarding_secret_file` are both set: set one"
    )]
    TwoForwardingSecrets,
    #[error("`{key}` must be {expected}, got {value:?} {origin}")]
    Invalid {
        key: &'static str,
        expected: &'static str,
        value: String,
        origin: Origin,
    },
}

/// Reads the config file at `path`, applies `TESSERA_*` overrides from `env`
/// (pass `std::env::vars()`), and checks every value.
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let text = fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    parse(&text, path, env)
}

/// The configuration in `text`, the contents of the file at `path`, with
/// `TESSERA_*` overrides from `env`, checked as `load` does.
pub fn parse(
    text: &str,
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let table: Table = text.parse().map_err(|error| ConfigError::Syntax {
        path: path.to_owned(),
        error,
    })?;
    let mut settings = Settings::default();
    settings.add_table(table, "", path)?;
    settings.add_env(env)?;
    build(&settings, config_dir(path))
}

/// Folder relative paths in the file are resolved against, so the world
/// lands next to the config whatever the working directory.
fn config_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

fn build(settings: &Settings, config_dir: &Path) -> Result<Config, ConfigError> {
    let server = server_config(settings, config_dir)?;
    Ok(Config {
        rcon: rcon_config(settings)?,
        query: query_config(settings, &server)?,
        server,
        world: world_config(settings, config_dir)?,
        admin: admin_config(settings)?,
        auth: AuthConfig {
            require_login: settings.boolean("auth.require_login", true)?,
        },
        cluster: cluster_config(settings)?,
    })
}

fn cluster_config(settings: &Settings) -> Result<Option<ClusterConfig>, ConfigError> {
    if !settings.0.keys().any(|key| key.starts_with("cluster.")) {
        return Ok(None);
    }
    // A value of the wrong kind is reported before a missing one, so each
    // message points at the first thing to fix in the file.
    // Entity ids carry the node in 7 bits, so they stay unique cluster-wide.
    let node_id = settings.integer("cluster.node_id", 0, MAX_NODE as i64, 0)?;
    let bind = settings.string(
        "cluster.bind",
        "an address:port such as \"0.0.0.0:25590\"",
        SocketAddr::from(([0, 0, 0, 0], DEFAULT_CLUSTER_PORT)),
        |text| text.parse().ok(),
    )?;
    let seeds = settings.string_list("cluster.seeds", "a list of \"id@host:port\"", parse_seed)?;
    let register_recover = settings.boolean("cluster.register_recover", false)?;
    let secret =
        settings
            .secret("cluster.secret", MIN_SECRET_LEN)?
            .ok_or(ConfigError::Missing {
                key: "cluster.secret",
            })?;
    if node_id == 0 {
        return Err(ConfigError::Missing {
            key: "cluster.node_id",
        });
    }
    Ok(Some(ClusterConfig {
        node_id: node_id as u64,
        bind,
        seeds,
        secret,
        register_recover,
    }))
}

fn rcon_config(settings: &Settings) -> Result<Option<RconConfig>, ConfigError> {
    let enabled = settings.boolean("rcon.enabled", false)?;
    // Loopback unless the operator says otherwise, as it runs any command.
    let bind = settings.string(
        "rcon.bind",
        "an address:port such as \"127.0.0.1:25575\"",
        SocketAddr::from(([127, 0, 0, 1], DEFAULT_RCON_PORT)),
        |text| text.parse().ok(),
    )?;
    let password = settings.secret("rcon.password", MIN_RCON_PASSWORD_LEN)?;
    if !enabled {
        return Ok(None);
    }
    let password = password.ok_or(ConfigError::MissingFor {
        key: "rcon.password",
        switch: "rcon.enabled",
    })?;
    Ok(Some(RconConfig { bind, password }))
}

/// Query answers on UDP at `query.host` (the game listener's address
/// unless set) and `query.port` (vanilla's 25565 unless set).
fn query_config(
    settings: &Settings,
    server: &ServerConfig,
) -> Result<Option<QueryConfig>, ConfigError> {
    let enabled = settings.boolean("query.enabled", false)?;
    let host = settings.string(
        "query.host",
        "an IP address such as \"0.0.0.0\"",
        server.bind.ip(),
        |text| text.parse().ok(),
    )?;
    let port = settings.integer("query.port", 1, u16::MAX, DEFAULT_PORT)?;
    Ok(enabled.then(|| QueryConfig {
        bind: SocketAddr::new(host, port),
    }))
}

fn admin_config(settings: &Settings) -> Result<AdminConfig, ConfigError> {
    // Loopback unless the operator says otherwise: it is unauthenticated.
    let default_bind = SocketAddr::from(([127, 0, 0, 1], DEFAULT_ADMIN_PORT));
    Ok(AdminConfig {
        bind: settings.string(
            "admin.bind",
            "an address:port such as \"127.0.0.1:25580\"",
            default_bind,
            |text| text.parse().ok(),
        )?,
    })
}

/// `server.forwarding` and the secret it needs, from the key itself or from
/// a file (as Velocity keeps it in `forwarding.secret`).
fn forwarding_config(settings: &Settings, config_dir: &Path) -> Result<Forwarding, ConfigError> {
    let velocity = settings.string(
        "server.forwarding",
        "\"none\" or \"velocity\"",
        false,
        |text| match text {
            "none" => Some(false),
            "velocity" => Some(true),
            _ => None,
        },
    )?;
    const INLINE: &str = "server.forwarding_secret";
    const FILE: &str = "server.forwarding_secret_file";
    let inline = settings.secret(INLINE, MIN_FORWARDING_SECRET_LEN)?;
    let file = settings.string(FILE, "a non-empty path", None, |text| {
        (!text.is_empty()).then(|| Some(config_dir.join(text)))
    })?;
    if !velocity {
        return match [INLINE, FILE]
            .into_iter()
            .find_map(|key| settings.0.get_key_value(key))
        {
            Some((key, setting)) => Err(ConfigError::UnusedForwardingSecret {
                key,
                origin: setting.origin.clone(),
            }),
            None => Ok(Forwarding::None),
        };
    }
    let secret = match (inline, file) {
        (Some(_), Some(_)) => return Err(ConfigError::TwoForwardingSecrets),
        (Some(secret), None) => secret,
        (None, Some(path)) => read_secret_file(settings, FILE, &path)?,
        (None, None) => {
            let origin = settings.origin("server.forwarding");
            return Err(ConfigError::NoForwardingSecret { origin });
        }
    };
    Ok(Forwarding::Velocity { secret })
}

/// A secret kept in a file of its own. Line breaks are dropped, as Velocity
/// does when it reads `forwarding.secret`, so a trailing newline is harmless.
fn read_secret_file(
    settings: &Settings,
    key: &'static str,
    path: &Path,
) -> Result<String, ConfigError> {
    let text = fs::read_to_string(path).map_err(|error| ConfigError::SecretFile {
        key,
        path: path.to_owned(),
        origin: settings.origin(key),
        error,
    })?;
    let secret: String = text.lines().collect();
    if secret.len() < MIN_FORWARDING_SECRET_LEN {
        return Err(ConfigError::WeakSecret {
            key,
            min: MIN_FORWARDING_SECRET_LEN,
            origin: Origin::File(path.to_owned()),
        });
    }
    Ok(secret)
}

fn server_config(settings: &Settings, config_dir: &Path) -> Result<ServerConfig, ConfigError> {
    let default_bind = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT));
    let threshold = settings.integer("server.compression_threshold", -1_i32, 65535, 256)?;
    Ok(ServerConfig {
        bind: settings.string(
            "server.bind",
            "an address:port such as \"0.0.0.0:25565\"",
            default_bind,
            |text| text.parse().ok(),
        )?,
        motd: settings.string(
            "server.motd",
            "a string",
            "A Tessera server".into(),
            |text| Some(text.to_owned()),
        )?,
        max_players: settings.integer("server.max_players", 1, 100_000, 100)?,
        view_distance: settings.integer("server.view_distance", 2, 32, 10)?,
        // -1 is the only negative value the range admits; it means "off".
        compression_threshold: u32::try_from(threshold).ok(),
        online_mode: settings.boolean("server.online_mode", false)?,
        session_server: settings.string(
            "server.session_server",
            "an http:// or https:// URL",
            DEFAULT_SESSION_SERVER.into(),
            |text| {
                let rest = text
                    .strip_prefix("https://")
                    .or_else(|| text.strip_prefix("http://"))?;
                (!rest.is_empty()).then(|| text.to_owned())
            },
        )?,
        forwarding: forwarding_config(settings, config_dir)?,
        max_connections_per_address: settings.integer(
            "server.max_connections_per_address",
            1,
            1_000_000,
            DEFAULT_CONNECTIONS_PER_ADDRESS,
        )?,
        connections_per_address_per_second: settings.integer(
            "server.connections_per_address_per_second",
            1,
            100_000,
            DEFAULT_CONNECTION_RATE,
        )?,
        status_requests_per_address_per_second: settings.integer(
            "server.status_requests_per_address_per_second",
            1,
            100_000,
            DEFAULT_STATUS_RATE,
        )?,
        stop_grace_seconds: settings.integer(
            "server.stop_grace_seconds",
            1,
            3600,
            DEFAULT_STOP_GRACE_SECONDS,
        )?,
        log: settings.string(
            "server.log",
            "log directives such as \"info,openraft=warn\" (a level, or target=level, comma-separated)",
            DEFAULT_LOG.to_owned(),
            |text| valid_log_directives(text).then(|| text.to_owned()),
        )?,
    })
}

/// Whether `text` parses as `RUST_LOG` directives, every one of them:
/// a directive the filter cannot read would otherwise be dropped with a
/// warning nobody sees, leaving the log quieter than asked.
pub fn valid_log_directives(text: &str) -> bool {
    !text.trim().is_empty() && tracing_subscriber::EnvFilter::builder().parse(text).is_ok()
}

fn world_config(settings: &Settings, config_dir: &Path) -> Result<WorldConfig, ConfigError> {
    let data_dir = settings.string(
        "world.data_dir",
        "a non-empty path",
        PathBuf::from("data"),
        |text| (!text.is_empty()).then(|| PathBuf::from(text)),
    )?;
    Ok(WorldConfig {
        generator: settings.string(
            "world.generator",
            "\"flat\" or \"terrain\"",
            GeneratorKind::Terrain,
            GeneratorKind::from_name,
        )?,
        seed: settings.integer("world.seed", i64::MIN, i64::MAX, 0)?,
        spawn_x: settings.integer("world.spawn.x", i32::MIN, i32::MAX, 0)?,
        spawn_z: settings.integer("world.spawn.z", i32::MIN, i32::MAX, 0)?,
        region_size: settings.integer("world.region_size", 1, 1024, 32)?,
        // `join` keeps an absolute data_dir as it is.
        data_dir: config_dir.join(data_dir),
        autosave_seconds: settings.integer("world.autosave_seconds", 1, 86_400, 60)?,
        region_idle_seconds: settings.integer("world.region_idle_seconds", 1, 86_400, 60)?,
    })
}

/// `TESSERA_` + the dotted key upper-cased with `_` for `.`:
/// `world.spawn.x` is `TESSERA_WORLD_SPAWN_X`.
fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_uppercase())
}

fn known_key(path: &str) -> Option<(&'static str, Kind)> {
    KEYS.into_iter().find(|(key, _)| *key == path)
}

/// Whether `path` is a table holding keys, such as `server` or `world.spawn`.
fn is_section(path: &str) -> bool {
    KEYS.iter().any(|(key, _)| {
        key.strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Environment values are untyped text. Integer keys take TOML number syntax
/// (`-1`, `1_000`), ignoring the stray spaces shell quoting leaves; booleans
/// and floats are kept so the type error can name them. String keys take the
/// text verbatim, so a MOTD of `2024` stays a string rather than failing as an
/// integer.
fn env_value(raw: &str, kind: Kind) -> Value {
    if kind == Kind::StringList {
        let items = raw.split(',').map(str::trim).filter(|s| !s.is_empty());
        return Value::Array(items.map(|s| Value::String(s.to_owned())).collect());
    }
    // The itzg image's files write `TRUE` and `FALSE`.
    if kind == Kind::Boolean {
        for (text, value) in [("true", true), ("false", false)] {
            if raw.trim().eq_ignore_ascii_case(text) {
                return Value::Boolean(value);
            }
        }
    }
    let parsed = Value::deserialize(toml::de::ValueDeserializer::new(raw.trim())).ok();
    match parsed {
        Some(value @ (Value::Integer(_) | Value::Float(_) | Value::Boolean(_)))
            if matches!(kind, Kind::Integer | Kind::Boolean) =>
        {
            value
        }
        _ => Value::String(raw.to_owned()),
    }
}

/// "an integer", "a string": the type as the error message says it.
fn with_article(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {type_name}")
}

struct Setting {
    value: Value,
    origin: Origin,
}

impl Setting {
    fn wrong_type(&self, key: &str, expected: &'static str) -> ConfigError {
        ConfigError::WrongType {
            key: key.to_owned(),
            expected,
            found: with_article(self.value.type_str()),
            origin: self.origin.clone(),
        }
    }
}

/// Values set so far by dotted key; a later source replaces an earlier one.
/// Unset keys take their defaults when the config is built.
#[derive(Default)]
struct Settings(HashMap<&'static str, Setting>);

impl Settings {
    /// Adds the keys of `table`, whose own path is `prefix` ("" for the root).
    fn add_table(&mut self, table: Table, prefix: &str, file: &Path) -> Result<(), ConfigError> {
        let origin = || Origin::File(file.to_owned());
        for (name, value) in table {
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}.{name}")
            };
            if let Some((key, _)) = known_key(&path) {
                let origin = origin();
                self.0.insert(key, Setting { value, origin });
            } else if !is_section(&path) {
                return Err(ConfigError::UnknownKey {
                    key: path,
                    origin: origin(),
                });
            } else if let Value::Table(inner) = value {
                self.add_table(inner, &path, file)?;
            } else {
                let setting = Setting {
                    value,
                    origin: origin(),
                };
                return Err(setting.wrong_type(&path, "a table"));
            }
        }
        Ok(())
    }

    fn add_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        // Aliases first, so the TESSERA_ name of the same key wins
        // whatever order the environment lists them in.
        let (vars, aliased): (Vec<_>, Vec<_>) = env
            .into_iter()
            .partition(|(var, _)| var.starts_with(ENV_PREFIX));
        let aliased = aliased.into_iter().filter_map(|(var, raw)| {
            let (_, key) = ALIASES.into_iter().find(|(alias, _)| *alias == var)?;
            Some((env_var_name(key), raw, var))
        });
        let mut all: Vec<(String, String, String)> = aliased.collect();
        all.extend(vars.into_iter().map(|(var, raw)| (var.clone(), raw, var)));
        for (name, raw, var) in all {
            let Some((key, kind)) = KEYS.into_iter().find(|(key, _)| env_var_name(key) == name)
            else {
                return Err(ConfigError::UnknownEnvVar { var });
            };
            let value = env_value(&raw, kind);
            self.0.insert(
                key,
                Setting {
                    value,
                    origin: Origin::Env(var),
                },
            );
        }
        Ok(())
    }

    fn boolean(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        let Some(setting) = self.0.get(key) else {
            return Ok(default);
        };
        match setting.value {
            Value::Boolean(value) => Ok(value),
            _ => Err(setting.wrong_type(key, "true or false")),
        }
    }

    /// An integer key as `T`, checked against `min..=max`.
    fn integer<T>(&self, key: &'static str, min: T, max: T, default: T) -> Result<T, ConfigError>
    where
        T: TryFrom<i64> + Into<i64> + PartialOrd + Copy,
    {
        let Some(setting) = self.0.get(key) else {
            return Ok(default);
        };
        let Value::Integer(value) = setting.value else {
            return Err(setting.wrong_type(key, "an integer"));
        };
        // A value that does not even fit `T` is out of range just the same.
        T::try_from(value)
            .ok()
            .filter(|converted| (min..=max).contains(converted))
            .ok_or_else(|| ConfigError::OutOfRange {
                key,
                min: min.into(),
                max: max.into(),
                value,
                origin: setting.origin.clone(),
            })
    }

    /// A secret string of at least `min` bytes, if the key is set.
    fn secret(&self, key: &'static str, min: usize) -> Result<Option<String>, ConfigError> {
        let Some(setting) = self.0.get(key) else {
            return Ok(None);
        };
        match &setting.value {
            Value::String(text) if text.len() >= min => Ok(Some(text.clone())),
            Value::String(_) => Err(ConfigError::WeakSecret {
                key,
                min,
                origin: setting.origin.clone(),
            }),
            _ => Err(setting.wrong_type(key, "a string")),
        }
    }

    /// Where a set key's value came from. Only for keys known to be set.
    fn origin(&self, key: &str) -> Origin {
        self.0
            .get(key)
            .map(|setting| setting.origin.clone())
            .unwrap_or_else(|| Origin::Env(env_var_name(key)))
    }

    /// A list of strings, each turned into `T` by `parse`.
    fn string_list<T>(
        &self,
        key: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, ConfigError> {
        let Some(setting) = self.0.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = &setting.value else {
            return Err(setting.wrong_type(key, "an array of strings"));
        };
        items
            .iter()
            .map(|item| {
                let text = item
                    .as_str()
                    .ok_or_else(|| setting.wrong_type(key, "an array of strings"))?;
                parse(text).ok_or_else(|| ConfigError::Invalid {
                    key,
                    expected,
                    value: text.to_owned(),
                    origin: setting.origin.clone(),
                })
            })
            .collect()
    }

    /// A string key turned into `T` by `parse`; `None` from `parse` means the
    /// text is not `expected`.
    fn string<T>(
        &self,
        key: &'static str,
        expected: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        let Some(setting) = self.0.get(key) else {
            return Ok(default);
        };
        let Value::String(text) = &setting.value else {
            return Err(setting.wrong_type(key, "a string"));
        };
        parse(text).ok_or_else(|| ConfigError::Invalid {
            key,
            expected,
            value: text.clone(),
            origin: setting.origin.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A config file in its own fresh folder under the system temp dir,
    /// removed on drop (no tempfile crate in the workspace).
    struct TempConfig {
        dir: PathBuf,
        path: PathBuf,
    }

    impl TempConfig {
        fn new(contents: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let unique = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "tessera-config-test-{}-{unique}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).expect("create temp dir");
            let path = dir.join("config.toml");
            fs::write(&path, contents).expect("write temp config");
            Self { dir, path }
        }

        fn load(&self, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
            let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
            load(&self.path, env)
        }

        fn error(&self, env: &[(&str, &str)]) -> String {
            match self.load(env) {
                Ok(config) => panic!("expected an error, loaded {config:?}"),
                Err(error) => error.to_string(),
            }
        }
    }

    impl Drop for TempConfig {
        fn drop(&mut self) {
            // Best effort: a leftover folder in temp is harmless.
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn shipped_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.toml")
    }

    #[test]
    fn shipped_config_equals_defaults() {
        let path = shipped_path();
        let loaded = load(&path, []).expect("shipped config.toml loads");
        let defaults = build(&Settings::default(), config_dir(&path)).expect("defaults are valid");
        assert_eq!(loaded, defaults);
    }

    #[test]
    fn shipped_config_sets_every_key() {
        let path = shipped_path();
        let text = fs::read_to_string(&path).expect("read shipped config.toml");
        let mut settings = Settings::default();
        settings
            .add_table(text.parse().expect("valid TOML"), "", &path)
            .expect("only known keys");
        for (key, _) in KEYS {
            // A cluster section would make the default a cluster node, and
            // a forwarding secret without forwarding is an error, so these
            // keys are shown commented out.
            // An RCON password is shown commented out, as it must not
            // be a known default, and so is Query's host, whose default
            // follows server.bind.
            let commented = key
                .strip_prefix("cluster.")
                .or_else(|| {
                    key.strip_prefix("server.")
                        .filter(|k| k.starts_with("forwarding_"))
                })
                .or_else(|| key.strip_prefix("rcon.").filter(|k| *k == "password"))
                .or_else(|| key.strip_prefix("query.").filter(|k| *k == "host"));
            let present = match commented {
                Some(name) => text.contains(&format!("# {name} =")),
                None => settings.0.contains_key(key),
            };
            assert!(present, "config.toml lacks `{key}`");
        }
    }

    #[test]
    fn the_readme_and_the_config_reference_name_every_key_and_its_variable() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for doc in ["README.md", "docs/config.md"] {
            let text = fs::read_to_string(root.join(doc)).expect("read the docs");
            for (key, _) in KEYS {
                assert!(
                    text.contains(&format!("`{key}`")) || grouped(&text, key),
                    "{doc} lacks `{key}`"
                );
                let var = env_var_name(key);
                assert!(text.contains(&var), "{doc} lacks {var}");
            }
        }
    }

    /// Keys documented together, as `world.spawn.x`, `world.spawn.z`.
    fn grouped(text: &str, key: &str) -> bool {
        text.contains(&format!("`{key}`,")) || text.contains(&format!(", `{key}`"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let file = TempConfig::new("");
        let config = file.load(&[]).expect("empty file loads");
        let server = &config.server;
        assert_eq!(server.bind, "0.0.0.0:25565".parse().expect("valid addr"));
        assert_eq!(server.motd, "A Tessera server");
        assert_eq!(server.max_players, 100);
        assert_eq!(server.view_distance, 10);
        assert_eq!(server.compression_threshold, Some(256));
        assert!(!server.online_mode);
        assert_eq!(server.session_server, "https://sessionserver.mojang.com");
        assert_eq!(server.max_connections_per_address, 2000);
        assert_eq!(server.connections_per_address_per_second, 200);
        assert_eq!(server.status_requests_per_address_per_second, 20);
        assert_eq!(server.log, "info,openraft=warn,foca=warn");
        let world = &config.world;
        assert_eq!(world.generator, GeneratorKind::Terrain);
        assert_eq!(world.seed, 0);
        assert_eq!((world.spawn_x, world.spawn_z), (0, 0));
        assert_eq!(world.region_size, 32);
        assert_eq!(world.data_dir, file.dir.join("data"));
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let file = TempConfig::new("[server]\nbind = \"127.0.0.1:1\"\n");
        let config = file.load(&[]).expect("partial file loads");
        assert_eq!(
            config.server.bind,
            "127.0.0.1:1".parse().expect("valid addr")
        );
        assert_eq!(config.server.max_players, 100);
        assert_eq!(config.world.region_size, 32);
    }

    #[test]
    fn file_values_are_read() {
        let file = TempConfig::new(
            "[server]\nmax_players = 7\nview_distance = 2\n\
             [world]\ngenerator = \"flat\"\nseed = -9\nspawn = { x = -3, z = 4 }\n",
        );
        let config = file.load(&[]).expect("loads");
        assert_eq!(config.server.max_players, 7);
        assert_eq!(config.server.view_distance, 2);
        assert_eq!(config.world.generator, GeneratorKind::Flat);
        assert_eq!(config.world.seed, -9);
        assert_eq!((config.world.spawn_x, config.world.spawn_z), (-3, 4));
    }

    #[test]
    fn env_overrides_win_over_file() {
        let file = TempConfig::new(
            "[server]\nbind = \"0.0.0.0:1\"\nmotd = \"file\"\n\
             [world]\nregion_size = 8\nspawn = { x = 1, z = 1 }\n",
        );
        let config = file
            .load(&[
                ("TESSERA_SERVER_BIND", "127.0.0.1:25566"),
                ("TESSERA_SERVER_MOTD", "hello world"),
                ("TESSERA_WORLD_REGION_SIZE", " 2 "),
                ("TESSERA_WORLD_SPAWN_X", "5"),
                ("TESSERA_WORLD_SEED", "-1_000"),
                ("PATH", "/usr/bin"),
                ("RUST_LOG", "debug"),
            ])
            .expect("loads");
        assert_eq!(
            config.server.bind,
            "127.0.0.1:25566".parse().expect("valid addr")
        );
        assert_eq!(config.server.motd, "hello world");
        assert_eq!(config.world.region_size, 2);
        assert_eq!((config.world.spawn_x, config.world.spawn_z), (5, 1));
        assert_eq!(config.world.seed, -1000);
    }

    #[test]
    fn env_string_keys_keep_numeric_text() {
        let file = TempConfig::new("");
        let config = file
            .load(&[("TESSERA_SERVER_MOTD", "2024")])
            .expect("loads");
        assert_eq!(config.server.motd, "2024");
    }

    #[test]
    fn unknown_env_var_is_named() {
        let file = TempConfig::new("");
        let message = file.error(&[("TESSERA_SERVER_FOO", "1")]);
        assert!(message.contains("TESSERA_SERVER_FOO"), "{message}");
    }

    #[test]
    fn unknown_key_is_named_with_file() {
        let file = TempConfig::new("[server]\nfoo = 1\n");
        let expected = format!("unknown key `server.foo` in {}", file.path.display());
        assert_eq!(file.error(&[]), expected);
        let file = TempConfig::new("[network]\nport = 1\n");
        assert!(file.error(&[]).contains("`network`"));
    }

    #[test]
    fn section_that_is_not_a_table_is_named() {
        let file = TempConfig::new("world = 3\n");
        let message = file.error(&[]);
        assert!(
            message.starts_with("`world` must be a table, got an integer"),
            "{message}"
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let file = TempConfig::new("[server]\nmax_players = \"many\"\n");
        let expected = format!(
            "`server.max_players` must be an integer, got a string in {}",
            file.path.display()
        );
        assert_eq!(file.error(&[]), expected);
    }

    #[test]
    fn wrong_type_from_env_names_the_variable() {
        let file = TempConfig::new("");
        let message = file.error(&[("TESSERA_SERVER_VIEW_DISTANCE", "true")]);
        assert_eq!(
            message,
            "`server.view_distance` must be an integer, got a boolean \
             in environment variable TESSERA_SERVER_VIEW_DISTANCE"
        );
    }

    #[test]
    fn every_key_is_read_and_type_checked() {
        // An array (a number, for lists) is the wrong type for every key, so each must fail naming
        // itself; a key listed in KEYS but never read would load instead.
        for (key, kind) in KEYS {
            let wrong = if kind == Kind::StringList { "5" } else { "[]" };
            let file = TempConfig::new(&format!("{key} = {wrong}\n"));
            let message = file.error(&[]);
            assert!(
                message.starts_with(&format!("`{key}` must be")),
                "{message}"
            );
        }
    }

    #[test]
    fn out_of_range_is_named() {
        let file = TempConfig::new("[server]\nview_distance = 40\n");
        let expected = format!(
            "`server.view_distance` must be between 2 and 32, got 40 in {}",
            file.path.display()
        );
        assert_eq!(file.error(&[]), expected);
        let file = TempConfig::new("[server]\nmax_players = -5\n");
        assert!(file
            .error(&[])
            .starts_with("`server.max_players` must be between 1 and 100000"));
        let file = TempConfig::new("");
        let message = file.error(&[("TESSERA_WORLD_REGION_SIZE", "0")]);
        assert!(message.starts_with("`world.region_size` must be between 1 and 1024, got 0"));
    }

    #[test]
    fn invalid_bind_is_named() {
        let file = TempConfig::new("[server]\nbind = \"localhost\"\n");
        let message = file.error(&[]);
        assert!(
            message.starts_with("`server.bind` must be an address:port"),
            "{message}"
        );
        assert!(message.contains("got \"localhost\""), "{message}");
    }

    #[test]
    fn unknown_generator_is_named() {
        let file = TempConfig::new("[world]\ngenerator = \"hills\"\n");
        let expected = format!(
            "`world.generator` must be \"flat\" or \"terrain\", got \"hills\" in {}",
            file.path.display()
        );
        assert_eq!(file.error(&[]), expected);
    }

    #[test]
    fn empty_data_dir_is_rejected() {
        let file = TempConfig::new("[world]\ndata_dir = \"\"\n");
        assert!(file
            .error(&[])
            .starts_with("`world.data_dir` must be a non-empty path"));
    }

    #[test]
    fn syntax_error_has_line() {
        let file = TempConfig::new("[server]\nbind = \n");
        let message = file.error(&[]);
        assert!(
            message.contains(&file.path.display().to_string()),
            "{message}"
        );
        assert!(message.contains("line 2"), "{message}");
        assert!(!message.ends_with('\n'), "{message:?}");
    }

    #[test]
    fn missing_file_is_named() {
        let file = TempConfig::new("");
        let missing = file.dir.join("absent.toml");
        let error = load(&missing, []).expect_err("missing file fails");
        assert!(matches!(error, ConfigError::Read { .. }));
        assert!(error.to_string().contains(&missing.display().to_string()));
    }

    #[test]
    fn minus_one_disables_compression() {
        let file = TempConfig::new("[server]\ncompression_threshold = -1\n");
        let config = file.load(&[]).expect("loads");
        assert_eq!(config.server.compression_threshold, None);
        let config = file
            .load(&[("TESSERA_SERVER_COMPRESSION_THRESHOLD", "0")])
            .expect("loads");
        assert_eq!(config.server.compression_threshold, Some(0));
        let message = file.error(&[("TESSERA_SERVER_COMPRESSION_THRESHOLD", "-2")]);
        assert!(
            message.contains("between -1 and 65535, got -2"),
            "{message}"
        );
    }

    #[test]
    fn online_mode_keys_are_read_and_checked() {
        let file = TempConfig::new(
            "[server]\nonline_mode = true\nsession_server = \"http://127.0.0.1:8080\"\n",
        );
        let config = file.load(&[]).expect("loads");
        assert!(config.server.online_mode);
        assert_eq!(config.server.session_server, "http://127.0.0.1:8080");
        let config = file
            .load(&[("TESSERA_SERVER_ONLINE_MODE", " false ")])
            .expect("loads");
        assert!(!config.server.online_mode);
        let message = file.error(&[("TESSERA_SERVER_ONLINE_MODE", "yes")]);
        assert!(
            message.starts_with("`server.online_mode` must be")
                && message.ends_with("in environment variable TESSERA_SERVER_ONLINE_MODE"),
            "{message}"
        );
        let message = file.error(&[("TESSERA_SERVER_SESSION_SERVER", "sessionserver.mojang.com")]);
        assert!(
            message.starts_with("`server.session_server` must be an http:// or https:// URL"),
            "{message}"
        );
    }

    #[test]
    fn the_log_key_takes_directives_and_names_itself_when_one_is_wrong() {
        let file = TempConfig::new("[server]\nlog = \"debug,openraft=info\"\n");
        let config = file.load(&[]).expect("loads");
        assert_eq!(config.server.log, "debug,openraft=info");
        let config = file.load(&[("TESSERA_SERVER_LOG", "warn")]).expect("loads");
        assert_eq!(config.server.log, "warn");
        for wrong in ["info,openraft=loud", "", "tessera=[", "info,,=warn"] {
            let message = file.error(&[("TESSERA_SERVER_LOG", wrong)]);
            assert!(
                message.starts_with("`server.log` must be log directives")
                    && message.ends_with("in environment variable TESSERA_SERVER_LOG"),
                "{wrong:?}: {message}"
            );
        }
        let file = TempConfig::new("[server]\nlog = 3\n");
        let message = file.error(&[]);
        assert!(
            message.starts_with("`server.log` must be a string"),
            "{message}"
        );
    }

    #[test]
    fn data_dir_is_resolved_against_config_folder() {
        let file = TempConfig::new("[world]\ndata_dir = \"worlds/main\"\n");
        let config = file.load(&[]).expect("loads");
        assert_eq!(config.world.data_dir, file.dir.join("worlds/main"));

        let absolute = std::env::temp_dir().join("tessera-absolute");
        let absolute_text = absolute.to_str().expect("utf-8 temp dir");
        let config = file
            .load(&[("TESSERA_WORLD_DATA_DIR", absolute_text)])
            .expect("loads");
        assert_eq!(config.world.data_dir, absolute);
    }

    #[test]
    fn the_itzg_images_names_set_their_keys_and_tessera_names_win() {
        let file = TempConfig::new("");
        let config = file
            .load(&[
                ("MAX_PLAYERS", "50"),
                ("ONLINE_MODE", "FALSE"),
                ("MOTD", "itzg"),
                ("TESSERA_SERVER_MOTD", "ours"),
                ("EULA", "TRUE"),
            ])
            .expect("loads");
        assert_eq!(config.server.max_players, 50);
        assert_eq!(config.server.motd, "ours");
    }

    #[test]
    fn a_node_id_beyond_what_entity_ids_carry_is_refused() {
        let file = TempConfig::new("[cluster]\nnode_id = 200\n");
        let error = file.error(&[("TESSERA_CLUSTER_SECRET", "sixteen-bytes-or-more")]);
        assert!(
            error.contains("cluster.node_id") && error.contains("127") && error.contains("200"),
            "{error}"
        );
    }

    #[test]
    fn a_cluster_section_names_its_seeds_and_hides_its_secret() {
        let file = TempConfig::new(
            "[cluster]\nnode_id = 2\nbind = \"127.0.0.1:25591\"\nseeds = [\"1@localhost:25590\"]\n",
        );
        let config = file
            .load(&[("TESSERA_CLUSTER_SECRET", "sixteen-bytes-or-more")])
            .expect("cluster config loads");
        let cluster = config.cluster.expect("cluster section");
        assert_eq!(cluster.node_id, 2);
        assert_eq!(
            cluster.seeds,
            vec![Seed {
                id: tessera_cluster::NodeId(1),
                host: "localhost".into(),
                port: 25590
            }]
        );
        assert!(!format!("{cluster:?}").contains("sixteen"));

        let weak = file.error(&[("TESSERA_CLUSTER_SECRET", "short-secret")]);
        assert!(
            weak.contains("at least 16 bytes") && !weak.contains("short-secret"),
            "{weak}"
        );
        let missing = file.error(&[]);
        assert!(
            missing.starts_with("`cluster.secret` must be set"),
            "{missing}"
        );
        let from_env = TempConfig::new("").load(&[
            ("TESSERA_CLUSTER_NODE_ID", "3"),
            ("TESSERA_CLUSTER_SEEDS", "1@a:1, 2@b:2"),
            ("TESSERA_CLUSTER_SECRET", "sixteen-bytes-or-more"),
        ]);
        assert_eq!(
            from_env
                .expect("env cluster")
                .cluster
                .expect("cluster")
                .seeds
                .len(),
            2
        );
        let bad_seed = TempConfig::new("[cluster]\nseeds = [\"nohost\"]\n").error(&[]);
        assert!(
            bad_seed.starts_with("`cluster.seeds` must be a list of \"id@host:port\""),
            "{bad_seed}"
        );
    }

    #[test]
    fn velocity_forwarding_takes_its_secret_from_the_key_or_a_file() {
        let file = TempConfig::new("[server]\nforwarding = \"velocity\"\n");
        let config = file
            .load(&[("TESSERA_SERVER_FORWARDING_SECRET", "twelve-bytes")])
            .expect("inline secret loads");
        assert_eq!(
            config.server.forwarding,
            Forwarding::Velocity {
                secret: "twelve-bytes".into()
            }
        );
        assert!(!format!("{config:?}").contains("twelve-bytes"));

        // Velocity writes forwarding.secret without a newline; an editor adds one.
        fs::write(file.dir.join("forwarding.secret"), "from-a-file-01\n").expect("write secret");
        let config = file
            .load(&[("TESSERA_SERVER_FORWARDING_SECRET_FILE", "forwarding.secret")])
            .expect("secret file loads");
        assert_eq!(
            config.server.forwarding,
            Forwarding::Velocity {
                secret: "from-a-file-01".into()
            }
        );
        let config = TempConfig::new("").load(&[]).expect("loads");
        assert_eq!(config.server.forwarding, Forwarding::None);
    }

    #[test]
    fn forwarding_mistakes_are_named_without_the_secret() {
        let file = TempConfig::new("[server]\nforwarding = \"velocity\"\n");
        let missing = file.error(&[]);
        assert_eq!(
            missing,
            format!(
                "`server.forwarding` is \"velocity\" in {}, so `server.forwarding_secret` or \
                 `server.forwarding_secret_file` must be set to the proxy's forwarding secret",
                file.path.display()
            )
        );
        let weak = file.error(&[("TESSERA_SERVER_FORWARDING_SECRET", "hunter2")]);
        assert_eq!(
            weak,
            "`server.forwarding_secret` must be at least 12 bytes long \
             in environment variable TESSERA_SERVER_FORWARDING_SECRET"
        );
        fs::write(file.dir.join("weak.secret"), "hunter2\n").expect("write secret");
        let weak_file = file.error(&[("TESSERA_SERVER_FORWARDING_SECRET_FILE", "weak.secret")]);
        assert!(
            weak_file.starts_with("`server.forwarding_secret_file` must be at least 12 bytes")
                && weak_file.contains("weak.secret")
                && !weak_file.contains("hunter2"),
            "{weak_file}"
        );
        let absent = file.error(&[("TESSERA_SERVER_FORWARDING_SECRET_FILE", "absent.secret")]);
        assert!(
            absent.starts_with("cannot read the secret file ")
                && absent.contains("absent.secret")
                && absent.contains("`server.forwarding_secret_file`"),
            "{absent}"
        );
        let both = file.error(&[
            ("TESSERA_SERVER_FORWARDING_SECRET", "twelve-bytes"),
            ("TESSERA_SERVER_FORWARDING_SECRET_FILE", "weak.secret"),
        ]);
        assert!(both.contains("are both set"), "{both}");
        let unused =
            TempConfig::new("").error(&[("TESSERA_SERVER_FORWARDING_SECRET", "twelve-bytes")]);
        assert_eq!(
            unused,
            "`server.forwarding_secret` is set in environment variable \
             TESSERA_SERVER_FORWARDING_SECRET, but `server.forwarding` is not \"velocity\""
        );
        let unknown = file.error(&[("TESSERA_SERVER_FORWARDING", "bungeecord")]);
        assert!(
            unknown.starts_with(
                "`server.forwarding` must be \"none\" or \"velocity\", got \"bungeecord\""
            ),
            "{unknown}"
        );
    }

    #[test]
    fn register_recover_is_off_unless_set() {
        let env = [
            ("TESSERA_CLUSTER_NODE_ID", "3"),
            ("TESSERA_CLUSTER_SECRET", "sixteen-bytes-or-more"),
        ];
        let file = TempConfig::new("");
        let cluster = |config: Config| config.cluster.expect("cluster");
        assert!(!cluster(file.load(&env).expect("loads")).register_recover);
        let on = [&env[..], &[("TESSERA_CLUSTER_REGISTER_RECOVER", "true")]].concat();
        assert!(cluster(file.load(&on).expect("loads")).register_recover);
        let bad = [&env[..], &[("TESSERA_CLUSTER_REGISTER_RECOVER", "yes")]].concat();
        let message = file.error(&bad);
        assert!(
            message.starts_with("`cluster.register_recover` must be true or false"),
            "{message}"
        );
    }

    #[test]
    fn rcon_and_query_are_off_unless_enabled() {
        let config = TempConfig::new("").load(&[]).expect("defaults load");
        assert_eq!((config.rcon, config.query), (None, None));
        // A password alone turns nothing on.
        let file = TempConfig::new("[rcon]\npassword = \"long enough\"\n");
        assert_eq!(file.load(&[]).expect("loads").rcon, None);
    }

    #[test]
    fn rcon_needs_a_password_and_hides_it() {
        let file = TempConfig::new("[rcon]\nenabled = true\n");
        assert_eq!(
            file.error(&[]),
            "`rcon.password` must be set when `rcon.enabled` is true"
        );
        let short = file.error(&[("TESSERA_RCON_PASSWORD", "short")]);
        assert_eq!(
            short,
            "`rcon.password` must be at least 8 bytes long \
             in environment variable TESSERA_RCON_PASSWORD"
        );
        let config = file
            .load(&[("TESSERA_RCON_PASSWORD", "correct horse")])
            .expect("loads");
        let rcon = config.rcon.expect("enabled");
        assert_eq!(rcon.bind, "127.0.0.1:25575".parse().expect("address"));
        assert_eq!(rcon.password, "correct horse");
        let shown = format!("{rcon:?}");
        assert!(!shown.contains("correct horse"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let moved = file
            .load(&[
                ("TESSERA_RCON_PASSWORD", "correct horse"),
                ("TESSERA_RCON_BIND", "0.0.0.0:1234"),
            ])
            .expect("loads");
        assert_eq!(
            moved.rcon.expect("enabled").bind,
            "0.0.0.0:1234".parse().expect("address")
        );
    }

    #[test]
    fn itzg_names_set_rcon_and_query_and_tessera_names_win() {
        let file = TempConfig::new("");
        let config = file
            .load(&[
                ("ENABLE_RCON", "true"),
                ("RCON_PASSWORD", "from the alias"),
                ("ENABLE_QUERY", "true"),
                ("QUERY_PORT", "25570"),
                ("STOP_DURATION", "12"),
            ])
            .expect("loads");
        assert_eq!(config.server.stop_grace_seconds, 12);
        assert_eq!(config.rcon.expect("enabled").password, "from the alias");
        assert_eq!(config.query.expect("enabled").bind.port(), 25570);
        // Either order: the TESSERA_ variable wins.
        for env in [
            [("TESSERA_QUERY_PORT", "25571"), ("QUERY_PORT", "25570")],
            [("QUERY_PORT", "25570"), ("TESSERA_QUERY_PORT", "25571")],
        ] {
            let mut env = env.to_vec();
            env.push(("ENABLE_QUERY", "true"));
            let query = file.load(&env).expect("loads").query.expect("enabled");
            assert_eq!(query.bind.port(), 25571);
        }
        // Errors name the variable the value came from.
        assert_eq!(
            file.error(&[("ENABLE_RCON", "yes")]),
            "`rcon.enabled` must be true or false, got a string in environment variable ENABLE_RCON"
        );
    }

    #[test]
    fn query_follows_the_game_host_unless_set() {
        let file =
            TempConfig::new("[server]\nbind = \"127.0.0.2:30000\"\n[query]\nenabled = true\n");
        let query = file.load(&[]).expect("loads").query.expect("enabled");
        assert_eq!(query.bind, "127.0.0.2:25565".parse().expect("address"));
        let env = [
            ("TESSERA_QUERY_HOST", "0.0.0.0"),
            ("TESSERA_QUERY_PORT", "25570"),
        ];
        let query = file.load(&env).expect("loads").query.expect("enabled");
        assert_eq!(query.bind, "0.0.0.0:25570".parse().expect("address"));
        let bad = file.error(&[("TESSERA_QUERY_HOST", "example.com")]);
        assert!(
            bad.starts_with("`query.host` must be an IP address"),
            "{bad}"
        );
        let bad = file.error(&[("TESSERA_QUERY_PORT", "0")]);
        assert!(
            bad.starts_with("`query.port` must be between 1 and 65535"),
            "{bad}"
        );
    }

    #[test]
    fn no_cluster_section_means_a_single_node() {
        assert!(TempConfig::new("")
            .load(&[])
            .expect("loads")
            .cluster
            .is_none());
    }
}
