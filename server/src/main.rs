//! `tessera`: a Minecraft 1.20.1 server node.

mod admin_http;
mod cluster;
mod config;
mod console;
mod console_accounts;
mod level;
mod links;
mod node;
mod persist_metrics;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::error;
use tracing_subscriber::EnvFilter;

use crate::node::Node;

const USAGE: &str = "usage: tessera [--config <path to config.toml>]";

fn config_path() -> anyhow::Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    let mut path = PathBuf::from("config.toml");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => path = args.next().map(PathBuf::from).context(USAGE)?,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(path)
}

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
    let path = config_path()?;
    let config = config::load(&path, std::env::vars())?;
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
