//! `startup`: how long a server takes from the spawn of its process to
//! accepting a TCP connection, and to a bot standing in the world.
//!
//!   startup --port P [--host H] [--runs N] [--timeout S] -- <server command...>
//!
//! Starts the command, polls the port every millisecond, logs one bot in,
//! then stops the server (SIGTERM, SIGKILL after 10 s); repeats `--runs`
//! times and prints one JSON line. The command must listen on the port given.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use tessera_bench::bot::{self, Login};
use tessera_bench::stats::{percentiles, Counters, Percentiles};

const USAGE: &str =
    "usage: startup --port P [--host H] [--runs N] [--timeout S] -- <server command...>";
/// How often the port is tried while the server starts.
const POLL: Duration = Duration::from_millis(1);
const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct Report {
    runs: usize,
    accept_ms: Vec<f64>,
    first_spawn_ms: Vec<f64>,
    accept: Option<Percentiles>,
    first_spawn: Option<Percentiles>,
}

struct Options {
    server: SocketAddr,
    host: String,
    runs: usize,
    timeout: Duration,
    command: Vec<String>,
}

fn parse() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let (mut host, mut port, mut runs, mut timeout) = ("127.0.0.1".to_owned(), None, 5, 30.0);
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--host" => host = value()?,
            "--port" => port = Some(value()?.parse::<u16>().context("--port")?),
            "--runs" => runs = value()?.parse().context("--runs")?,
            "--timeout" => timeout = value()?.parse().context("--timeout")?,
            "--" => {
                command = args.collect();
                break;
            }
            _ => bail!("unexpected argument `{arg}`\n{USAGE}"),
        }
    }
    let port = port.context(USAGE)?;
    if command.is_empty() {
        bail!("no server command\n{USAGE}");
    }
    let server = (host.as_str(), port)
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    Ok(Options {
        server,
        host,
        runs,
        timeout: Duration::from_secs_f64(timeout),
        command,
    })
}

/// Stops a server started here: SIGTERM for a clean exit, then SIGKILL.
#[expect(unsafe_code, reason = "std's Child can only SIGKILL")]
fn stop(mut child: Child) -> anyhow::Result<()> {
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    // SAFETY: kill has no memory preconditions; the pid is our own child,
    // not yet reaped, so it cannot name another process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let give_up = Instant::now() + STOP_GRACE;
    while Instant::now() < give_up {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        sleep(Duration::from_millis(20));
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// One start: (ms to accepting, ms to a bot's spawn), both from the spawn.
fn measure(opts: &Options, runtime: &tokio::runtime::Runtime) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let child = Command::new(&opts.command[0])
        .args(&opts.command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", opts.command[0]))?;
    let result = (|| {
        while TcpStream::connect(opts.server).is_err() {
            if started.elapsed() > opts.timeout {
                bail!("{} did not accept within {:?}", opts.server, opts.timeout);
            }
            sleep(POLL);
        }
        let accepted = started.elapsed();
        let login = Login {
            server: opts.server,
            host: opts.host.clone(),
            name: "startup0".into(),
            view_distance: 2,
        };
        runtime.block_on(async {
            tokio::time::timeout(
                opts.timeout,
                bot::join(&login, Arc::new(Counters::default())),
            )
            .await
            .context("no spawn within the timeout")?
        })?;
        let spawned = started.elapsed();
        Ok((ms(accepted), ms(spawned)))
    })();
    stop(child)?;
    result
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run() -> anyhow::Result<()> {
    let opts = parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut report = Report {
        runs: opts.runs,
        accept_ms: Vec::new(),
        first_spawn_ms: Vec::new(),
        accept: None,
        first_spawn: None,
    };
    for _ in 0..opts.runs {
        let (accepted, spawned) = measure(&opts, &runtime)?;
        report.accept_ms.push(accepted);
        report.first_spawn_ms.push(spawned);
    }
    report.accept = percentiles(report.accept_ms.clone());
    report.first_spawn = percentiles(report.first_spawn_ms.clone());
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("startup: {e:#}");
            ExitCode::FAILURE
        }
    }
}
