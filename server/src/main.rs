//! `tessera`: a Minecraft 1.20.1 server node.

mod admin_http;
mod args;
mod cluster;
mod console;
mod console_accounts;
mod level;
mod links;
mod node;
mod persist_metrics;
mod progress;
mod world_transfer;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::error;
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

async fn run() -> anyhow::Result<()> {
    let Some(args) = args::parse(std::env::args().skip(1))? else {
        println!("{}", args::USAGE);
        return Ok(());
    };
    let path = args.config;
    let config = config::load(&path, std::env::vars())?;
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
    admin_http::start(config.admin.bind, node.clone()).await?;
    let autosave = Duration::from_secs(u64::from(config.world.autosave_seconds));
    tokio::spawn(node.clone().autosave_level(autosave));
    tokio::select! {
        _ = console::run(node.clone()) => {}
        _ = shutdown_signal() => {}
    }
    node.stop("Server closed").await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
