//! `tessera`: a Minecraft 1.20.1 server node.

mod admin_http;
mod args;
mod cluster;
mod cluster_moves;
mod console;
mod console_accounts;
mod console_terminal;
mod handoff_metrics;
mod level;
mod links;
mod map;
mod node;
mod persist_metrics;
mod progress;
mod prometheus;
mod query;
mod rcon;
mod register_metrics;
mod remote_refusals;
mod vanilla_metrics;
mod world_transfer;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::info;
use tracing_subscriber::EnvFilter;

use crate::args::Command;
use crate::node::Node;
use tessera_server::config;
use tessera_world::transfer::ImportOptions;

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run(log: console_terminal::LogOutput) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let Some(args) = args::parse(std::env::args().skip(1))? else {
        println!("{}", args::USAGE);
        return Ok(());
    };
    let path = args.config;
    let config = config::load(&path, std::env::vars())?;
    start_log(&config.server.log, log.clone())?;
    let data_dir = config.world.data_dir.clone();
    let offline = match args.command {
        Command::Serve => None,
        Command::Import {
            source,
            force,
            skip_damaged,
        } => {
            let options = ImportOptions {
                force,
                skip_damaged,
            };
            let (from, into) = (source.clone(), data_dir.clone());
            tokio::task::spawn_blocking(move || world_transfer::import(&from, &into, options))
                .await
                .context("the import stopped")??;
            return world_transfer::import_players(&source, &data_dir, &config).await;
        }
        Command::Export { target } => Some(tokio::task::spawn_blocking(move || {
            world_transfer::export(&data_dir, &target)
        })),
    };
    if let Some(transfer) = offline {
        return transfer.await.context("the import or export stopped")?;
    }
    let folder = path.parent().map(PathBuf::from).unwrap_or_default();
    let node = Arc::new(Node::start(&config, &folder).await?);
    let admin = admin_http::start(config.admin.bind, node.clone()).await?;
    let remote_stop = Arc::new(tokio::sync::Notify::new());
    if let Some(rcon) = &config.rcon {
        rcon::start(rcon, node.clone(), remote_stop.clone()).await?;
    }
    if let Some(query) = &config.query {
        query::start(query, config.server.bind, node.clone()).await?;
    }
    let role = match &config.cluster {
        Some(cluster) => format!(
            "node {} of a cluster seeded by {} other nodes",
            cluster.node_id,
            cluster.seeds.len()
        ),
        None => "a single node".to_owned(),
    };
    info!(
        "Done ({:.3}s)! Tessera {} for Minecraft {}: players connect to {}, admin on http://{admin}, \
         world in {}, {role}. For help, type \"help\"",
        started.elapsed().as_secs_f64(),
        env!("CARGO_PKG_VERSION"),
        tessera_net::MINECRAFT_VERSION,
        config.server.bind,
        config.world.data_dir.display(),
    );
    let autosave = Duration::from_secs(u64::from(config.world.autosave_seconds));
    node.vitals
        .spawn("saving level.dat", node.clone().autosave_level(autosave));
    tokio::select! {
        _ = console::run(node.clone(), log) => {}
        _ = remote_stop.notified() => {}
        _ = shutdown_signal() => {}
    }
    node.stop("Server closed").await;
    Ok(())
}

/// Starts logging with `RUST_LOG` when it is set, else with `server.log`.
/// Only once the config is read, as the config names the filter: what
/// fails before is returned to `main`, which prints it.
fn start_log(configured: &str, out: console_terminal::LogOutput) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => EnvFilter::builder()
            .parse(&env)
            .map_err(|e| anyhow::anyhow!("RUST_LOG {env:?} is not log directives: {e}"))?,
        _ => EnvFilter::builder().parse_lossy(configured),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(out)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot start logging: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let log = console_terminal::LogOutput::default();
    match run(log).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Once, on stderr beside the log; the log line would say it twice.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
