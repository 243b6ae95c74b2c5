//! `swarm`: thousands of bots from one process on one core, then one JSON
//! line of figures on stdout.

use std::process::ExitCode;

use anyhow::Context;
use tessera_bench::args::{self, USAGE};
use tessera_bench::swarm;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swarm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let Some(opts) = args::parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    // One thread for every bot: the swarm must stay light enough to share a
    // machine with the server it measures.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = runtime.block_on(swarm::run(&opts))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
