//! The admin HTTP interface: liveness, readiness, Prometheus metrics and
//! the cluster map (`map`).

use std::fmt::Write;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tessera_auth::register::StoreHealth;
use tessera_auth::register_node::RegisterStats;
use tessera_net::limits::Refusal;
use tessera_net::metrics::NetMetrics;
use tessera_net::Frontend;
use tessera_world::World;

use crate::node::Node;
use crate::remote_refusals::{RemoteRefusal, RemoteRefusals};
use tokio::net::TcpListener;
use tracing::{info, warn};

#[derive(Clone)]
struct Admin {
    node: Arc<Node>,
    tps: Arc<crate::vanilla_metrics::TpsSampler>,
}

/// Starts the admin interface; the address it listens on.
pub async fn start(
    bind: std::net::SocketAddr,
    node: Arc<Node>,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind} (admin.bind)"))?;
    let addr = listener
        .local_addr()
        .context("admin listener has no address")?;
    info!("admin interface on http://{addr}");
    let app = Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(Admin {
            tps: Arc::new(crate::vanilla_metrics::TpsSampler::new(&node.world)),
            node: node.clone(),
        })
        .merge(crate::map::router(crate::map::MapService::start(node)));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!("admin interface stopped: {e}");
        }
    });
    Ok(addr)
}

/// Ready while the node accepts players: not once it is shutting down, nor
/// once one of its essential loops stopped or a region failed past its
/// restart budget (the node runs, but part of it is dead), nor
/// while its register store cannot persist (a full disk: new accounts and
/// player records are refused until it can) or a region cannot persist its
/// changes, nor in a cluster while no placement leader is known (regions
/// cannot be placed) or while this node's register replica rebuilds a lost
/// store: until then it counts toward no quorum, so stopping another replica
/// (a rolling restart waits for readiness) would leave the register without
/// one.
async fn ready(State(admin): State<Admin>) -> Response {
    let node = &admin.node;
    if node.frontend.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    if let Some(stopped) = node.vitals.stopped().first() {
        let body = format!(
            "essential loop '{}' stopped: it {}\n",
            stopped.name, stopped.why
        );
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    if let Some(region) = node.world.failed_regions().first() {
        let body = format!("region {region} failed more often than its restart budget allows\n");
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    ready_parts(node).into_response()
}

/// The readiness of the node's services, once its own loops are known alive.
fn ready_parts(node: &Node) -> (StatusCode, &'static str) {
    if store_health(node).is_some_and(|health| health.is_failing()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "register store cannot persist\n",
        );
    }
    match &node.cluster {
        Some(cluster) if !cluster.register.is_ready() => (
            StatusCode::SERVICE_UNAVAILABLE,
            "register replica recovering\n",
        ),
        Some(cluster) if cluster.placement.leader().is_none() => {
            (StatusCode::SERVICE_UNAVAILABLE, "no placement leader\n")
        }
        _ if node.world.metrics().regions_failing_to_persist() > 0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "regions cannot persist their changes\n",
        ),
        _ => (StatusCode::OK, "ready\n"),
    }
}

async fn metrics(State(admin): State<Admin>) -> impl IntoResponse {
    let mut body = render(&admin.node.frontend, &admin.node.world);
    crate::vanilla_metrics::render(
        &mut body,
        &admin.node.frontend,
        &admin.node.world,
        &admin.tps,
    );
    crate::persist_metrics::render(&mut body, &admin.node.world);
    crate::handoff_metrics::render(&mut body, &admin.node.world);
    crate::register_metrics::render(
        &mut body,
        admin.node.world.node().0,
        &admin.node.register_metrics,
    );
    render_remote_refusals(&mut body, &admin.node.remote_refusals);
    if let Some(cluster) = &admin.node.cluster {
        render_register(&mut body, &cluster.register.stats());
    }
    if let Some(health) = store_health(&admin.node) {
        render_store_health(&mut body, &health);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// This node's register store's health, in a cluster or not; `None` when
/// the store cannot fail.
fn store_health(node: &Node) -> Option<StoreHealth> {
    node.frontend.auth.accounts.store_health()
}

/// Whether the register store persists: the alert to raise on a full disk.
fn render_store_health(out: &mut String, health: &StoreHealth) {
    let name = "tessera_register_store_errors_total";
    let _ = writeln!(
        out,
        "# HELP {name} I/O errors of this node's register store (failed commits and reopens).\n\
         # TYPE {name} counter\n{name} {}",
        health.errors()
    );
    let name = "tessera_register_store_failing";
    let _ = writeln!(
        out,
        "# HELP {name} 1 while this node's register store cannot persist (since its last failed commit), else 0.\n\
         # TYPE {name} gauge\n{name} {}",
        u8::from(health.is_failing())
    );
}

/// What the connection caps refused, and what pre-play buffers hold.
fn render_limits(out: &mut String, frontend: &Frontend) {
    let limits = &frontend.limits;
    let name = "tessera_connections_refused_total";
    let _ = writeln!(
        out,
        "# HELP {name} Connections refused or closed for going over a limit, by limit.\n\
         # TYPE {name} counter"
    );
    for refusal in Refusal::ALL {
        let _ = writeln!(
            out,
            "{name}{{reason=\"{}\"}} {}",
            refusal.label(),
            limits.refusals.count(refusal)
        );
    }
    let name = "tessera_pre_play_buffered_bytes";
    let _ = writeln!(
        out,
        "# HELP {name} Bytes of incomplete frames charged to the pre-play budget.\n\
         # TYPE {name} gauge\n{name} {}",
        limits.budget.used()
    );
}

/// What RCON and Query refused, by service and reason.
fn render_remote_refusals(out: &mut String, refusals: &RemoteRefusals) {
    let name = "tessera_remote_refused_total";
    let _ = writeln!(
        out,
        "# HELP {name} RCON and Query requests or connections refused, by service and reason.\n\
         # TYPE {name} counter"
    );
    for refusal in RemoteRefusal::ALL {
        let (service, reason) = refusal.labels();
        let _ = writeln!(
            out,
            "{name}{{service=\"{service}\",reason=\"{reason}\"}} {}",
            refusals.count(refusal)
        );
    }
}

/// The register's part: what shows whether this node's replica has caught up.
fn render_register(out: &mut String, stats: &RegisterStats) {
    let name = "tessera_register_stored_keys";
    let _ = writeln!(
        out,
        "# HELP {name} Keys this node's register replica holds durably.\n\
         # TYPE {name} gauge\n{name} {}",
        stats.stored_keys
    );
}

fn render(frontend: &Frontend, world: &World) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    let net = &frontend.metrics;
    gauge(
        "tessera_players_online",
        "Players connected to this node.",
        "gauge",
        frontend.players.count().to_string(),
    );
    gauge(
        "tessera_regions",
        "Region actors running on this node.",
        "gauge",
        world.region_count().to_string(),
    );
    gauge(
        "tessera_chunks_loaded",
        "Chunks held by this node's regions.",
        "gauge",
        world.metrics().loaded_chunks().to_string(),
    );
    gauge(
        "tessera_connections_total",
        "Client connections accepted.",
        "counter",
        NetMetrics::read(&net.connections).to_string(),
    );
    gauge(
        "tessera_packets_in_total",
        "Packets received from clients.",
        "counter",
        NetMetrics::read(&net.packets_in).to_string(),
    );
    gauge(
        "tessera_bytes_in_total",
        "Bytes received from clients.",
        "counter",
        NetMetrics::read(&net.bytes_in).to_string(),
    );
    gauge(
        "tessera_spam_kicks_total",
        "Clients kicked for sending chat or commands too fast.",
        "counter",
        NetMetrics::read(&net.spam_kicks).to_string(),
    );
    gauge(
        "tessera_chunk_generation_failures_total",
        "Chunks whose generator panicked twice in a row (they stay empty for a minute).",
        "counter",
        world
            .metrics()
            .chunk_generation_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            .to_string(),
    );
    gauge(
        "tessera_regions_failed",
        "Regions that failed more often than their restart budget allows and no longer run.",
        "gauge",
        world.failed_regions().len().to_string(),
    );
    gauge(
        "tessera_packet_flood_kicks_total",
        "Clients kicked for sending more packets a second than the limit.",
        "counter",
        NetMetrics::read(&net.packet_flood_kicks).to_string(),
    );
    gauge(
        "tessera_oversized_item_kicks_total",
        "Clients kicked for a creative item whose data is over the bound.",
        "counter",
        NetMetrics::read(&net.oversized_item_kicks).to_string(),
    );
    gauge(
        "tessera_bytes_out_total",
        "Bytes sent to clients.",
        "counter",
        NetMetrics::read(&net.bytes_out).to_string(),
    );
    render_limits(&mut out, frontend);
    crate::prometheus::histogram(
        &mut out,
        "tessera_tick_duration_seconds",
        "Time regions spent per tick.",
        "",
        &world.metrics().ticks(),
    );
    out
}
