//! A run: start the bots at the join rate, measure a window, leave, report.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

use crate::args::Options;
use crate::bot::{self, BotConfig, Login};
use crate::metrics::{self, Mspt, Samples};
use crate::procfs::{self, Usage};
use crate::stats::{self, BotRecord, Counters, Kicks, Outcome, Percentiles, Received};

/// How often the coordinator checks whether the joins have settled.
const POLL: Duration = Duration::from_millis(50);
/// The window closes this long before the bots leave, so the last sample
/// sees every bot still connected.
const END_MARGIN: Duration = Duration::from_millis(250);
/// How long bots get to close their connections after the run.
const LEAVE_GRACE: Duration = Duration::from_secs(5);

/// The one JSON line a run prints.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub bots_requested: u32,
    pub started: usize,
    pub joined: usize,
    pub failed: usize,
    pub fail_reasons: std::collections::BTreeMap<String, usize>,
    pub kicks: Kicks,
    /// Bots still in the world when the run ended.
    pub stayed: usize,
    pub join_to_spawn_ms: Option<Percentiles>,
    pub duration_s: f64,
    /// When the measured window began, in seconds from the first join.
    pub window_start_s: f64,
    pub window_s: f64,
    /// Sum over bots of the seconds each was in the world during the window.
    pub bot_seconds: f64,
    pub packets_per_bot_per_s: f64,
    pub bytes_per_bot_per_s: f64,
    pub server_cpu_seconds: Option<f64>,
    /// Of one core, over the window.
    pub server_cpu_percent: Option<f64>,
    pub server_cpu_ms_per_bot_second: Option<f64>,
    /// Before the first bot connected.
    pub server_rss_mb_before: Option<f64>,
    pub server_rss_mb_start: Option<f64>,
    pub server_rss_mb: Option<f64>,
    /// (RSS at the end - RSS before the first join) / bots in the world at the end.
    pub server_rss_mb_per_bot: Option<f64>,
    /// The swarm's own CPU over the window: near 100 % means the swarm, not
    /// the server, may be the bottleneck.
    pub swarm_cpu_percent: Option<f64>,
    /// The machine's one-minute load average at the end: above the number of
    /// cores, other work competed with the server and the swarm.
    pub host_load_1m: Option<f64>,
    pub mspt: Option<Mspt>,
    /// Block changes (placements and digs) acknowledged during the window.
    pub block_acks: usize,
    pub block_acks_per_s: f64,
    /// From sending a block change to its acknowledgement, which the
    /// server sends once the change is durable.
    pub block_ack_ms: Option<Percentiles>,
}

/// What is read at each end of the window.
#[derive(Clone)]
struct Sample {
    at: std::time::Instant,
    received: Received,
    server: Option<Usage>,
    swarm: Option<Usage>,
    metrics: Option<Samples>,
}

async fn sample(opts: &Options, counters: &Counters) -> Sample {
    let server = opts.server_pid.and_then(|pid| {
        procfs::usage(&pid.to_string())
            .map_err(|e| eprintln!("swarm: server usage: {e:#}"))
            .ok()
    });
    let metrics = match &opts.metrics_url {
        Some(url) => metrics::scrape(url)
            .await
            .map_err(|e| eprintln!("swarm: metrics: {e:#}"))
            .ok(),
        None => None,
    };
    Sample {
        at: std::time::Instant::now(),
        received: counters.snapshot(),
        server,
        swarm: procfs::usage("self").ok(),
        metrics,
    }
}

/// Polls until the port accepts a connection.
async fn wait_ready(host: &str, port: u16, limit: Duration) -> anyhow::Result<()> {
    let give_up = Instant::now() + limit;
    loop {
        if TcpStream::connect((host, port)).await.is_ok() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < give_up,
            "{host}:{port} did not accept within {limit:?}"
        );
        sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    if let Some(limit) = opts.wait_ready {
        wait_ready(&opts.host, opts.port, limit).await?;
    }
    let server = tokio::net::lookup_host((opts.host.as_str(), opts.port))
        .await
        .with_context(|| format!("resolving {}", opts.host))?
        .next()
        .with_context(|| format!("{} has no address", opts.host))?;
    let counters = Arc::new(Counters::default());
    let t0 = Instant::now();
    let leave_at = t0 + opts.duration;
    let window_end = leave_at.checked_sub(END_MARGIN).unwrap_or(leave_at).max(t0);
    let first = sample(opts, &counters).await;
    let mut bots: Vec<JoinHandle<BotRecord>> = Vec::new();
    let gap = Duration::from_secs_f64(1.0 / opts.rate);
    for i in 0..opts.bots {
        let when = t0 + gap * i;
        if when >= leave_at {
            break;
        }
        sleep_until(when).await;
        let cfg = BotConfig {
            login: Login {
                server,
                host: opts.host.clone(),
                name: format!("{}{i}", opts.name_prefix),
                view_distance: opts.view_distance,
            },
            password: opts.password.clone(),
            scenario: opts.scenario,
            area: opts.area,
            habits: opts.habits,
            seed: opts.seed.wrapping_mul(1_000_003).wrapping_add(u64::from(i)),
            join_timeout: opts.join_timeout,
            leave_at,
        };
        bots.push(tokio::spawn(bot::run(cfg, counters.clone())));
    }
    // The window opens once every bot has spawned or given up, plus the
    // warmup; if that never happens before the end, it spans the whole run.
    let mut start = None;
    if !opts.scenario.measures_joins() {
        while counters.settled() < bots.len() as u64 && Instant::now() < window_end {
            sleep(POLL).await;
        }
        sleep_until((Instant::now() + opts.warmup).min(window_end)).await;
        if Instant::now() < window_end {
            start = Some(sample(opts, &counters).await);
        }
    }
    let start = start.unwrap_or_else(|| first.clone());
    sleep_until(window_end).await;
    let end = sample(opts, &counters).await;
    let mut records = Vec::with_capacity(bots.len());
    let give_up = leave_at + LEAVE_GRACE;
    for handle in &mut bots {
        match tokio::time::timeout_at(give_up, handle).await {
            Ok(Ok(record)) => records.push(record),
            Ok(Err(e)) => eprintln!("swarm: a bot task failed: {e}"),
            Err(_) => break,
        }
    }
    for handle in &bots {
        handle.abort();
    }
    let acks = counters.acknowledgements_ms(start.at, end.at);
    Ok(report(
        opts,
        t0.into_std(),
        [&first, &start, &end],
        bots.len(),
        &records,
        acks,
    ))
}

/// `samples`: before the first join, at the start and at the end of the window.
fn report(
    opts: &Options,
    t0: std::time::Instant,
    [first, start, end]: [&Sample; 3],
    started: usize,
    records: &[BotRecord],
    acks: Vec<f64>,
) -> Report {
    let tally = stats::tally(records);
    let stayed = records
        .iter()
        .filter(|r| r.outcome == Outcome::Stayed)
        .count();
    let window_s = end.at.duration_since(start.at).as_secs_f64();
    let bot_seconds: f64 = records
        .iter()
        .map(|r| r.seconds_in_world(start.at, end.at))
        .sum();
    let per_bot_second = |x: f64| {
        if bot_seconds > 0.0 {
            x / bot_seconds
        } else {
            0.0
        }
    };
    let cpu = |u: fn(&Sample) -> Option<Usage>| match (u(start), u(end)) {
        (Some(a), Some(b)) => Some(b.cpu_seconds - a.cpu_seconds),
        _ => None,
    };
    let server_cpu = cpu(|s| s.server);
    let percent = |cpu: f64| {
        if window_s > 0.0 {
            cpu / window_s * 100.0
        } else {
            0.0
        }
    };
    let mspt = match (&start.metrics, &end.metrics) {
        (Some(a), Some(b)) => metrics::mspt(a, b)
            .map_err(|e| eprintln!("swarm: metrics: {e:#}"))
            .ok(),
        _ => None,
    };
    Report {
        scenario: opts.scenario.name(),
        bots_requested: opts.bots,
        started,
        joined: tally.joined,
        failed: tally.failed,
        fail_reasons: tally.fail_reasons,
        kicks: tally.kicks,
        stayed,
        join_to_spawn_ms: stats::percentiles(
            records
                .iter()
                .filter_map(|r| r.join_to_spawn)
                .map(|d| d.as_secs_f64() * 1000.0)
                .collect(),
        ),
        duration_s: opts.duration.as_secs_f64(),
        window_start_s: start.at.saturating_duration_since(t0).as_secs_f64(),
        window_s,
        bot_seconds,
        packets_per_bot_per_s: per_bot_second(
            (end.received.packets - start.received.packets) as f64,
        ),
        bytes_per_bot_per_s: per_bot_second((end.received.bytes - start.received.bytes) as f64),
        server_cpu_seconds: server_cpu,
        server_cpu_percent: server_cpu.map(percent),
        server_cpu_ms_per_bot_second: server_cpu.map(|c| per_bot_second(c * 1000.0)),
        server_rss_mb_before: first.server.map(|u| u.rss_mb),
        server_rss_mb_start: start.server.map(|u| u.rss_mb),
        server_rss_mb: end.server.map(|u| u.rss_mb),
        server_rss_mb_per_bot: match (first.server, end.server) {
            (Some(a), Some(b)) if stayed > 0 => Some((b.rss_mb - a.rss_mb) / stayed as f64),
            _ => None,
        },
        swarm_cpu_percent: cpu(|s| s.swarm).map(percent),
        host_load_1m: procfs::load_average()
            .map_err(|e| eprintln!("swarm: {e:#}"))
            .ok(),
        mspt,
        block_acks: acks.len(),
        block_acks_per_s: if window_s > 0.0 {
            acks.len() as f64 / window_s
        } else {
            0.0
        },
        block_ack_ms: stats::percentiles(acks),
    }
}
