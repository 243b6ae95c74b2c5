//! The map's routes on the admin interface: the page (served by the binary,
//! nothing from elsewhere), its JSON, the region pictures and the live stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use tessera_world::coords::RegionPos;

use super::tiles::LOOK_EVERY;
use super::view::{PlayersJson, RegionsJson};
use super::MapService;

const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/map.js");
const STYLE: &str = include_str!("page/map.css");

/// The map's routes, to merge into the admin interface.
pub fn router(service: Arc<MapService>) -> Router {
    Router::new()
        .route("/map", get(|| async { Html(PAGE) }))
        .route("/map/", get(|| async { Html(PAGE) }))
        .route(
            "/map/map.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], SCRIPT) }),
        )
        .route(
            "/map/map.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], STYLE) }),
        )
        .route("/map/regions", get(regions))
        .route("/map/players", get(players))
        .route("/map/tile/{x}/{file}", get(tile))
        .route("/map/events", get(events))
        .with_state(service)
}

async fn regions(State(service): State<Arc<MapService>>) -> Response {
    let view = service.cluster_view().await;
    json(&RegionsJson {
        node: view.node,
        region_chunks: view.region_chunks,
        nodes: &view.nodes,
        regions: &view.regions,
    })
}

async fn players(State(service): State<Arc<MapService>>) -> Response {
    let view = service.cluster_view().await;
    json(&PlayersJson {
        players: &view.players,
    })
}

fn json(value: &impl Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// `/map/tile/<x>/<z>.png`: a region's picture, one pixel per column.
async fn tile(
    State(service): State<Arc<MapService>>,
    Path((x, file)): Path<(i32, String)>,
) -> Response {
    let Some(z) = file
        .strip_suffix(".png")
        .and_then(|z| z.parse::<i32>().ok())
    else {
        return (StatusCode::NOT_FOUND, "tiles are /map/tile/<x>/<z>.png\n").into_response();
    };
    match service.tile(RegionPos { x, z }).await {
        Some(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                // The page asks with the version in the query, so a
                // changed picture has another address.
                (header::CACHE_CONTROL, "max-age=3600"),
            ],
            png,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no picture of that region yet\n").into_response(),
    }
}

/// `/map/events`: the cluster view as a server-sent event every second.
async fn events(State(service): State<Arc<MapService>>) -> Response {
    let Ok(permit) = service.streams.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "too many map pages open; try again later\n",
        )
            .into_response();
    };
    let stream = futures_util::stream::unfold(
        (service, permit, true),
        |(service, permit, first)| async move {
            if !first {
                tokio::time::sleep(LOOK_EVERY).await;
            }
            let view = service.cluster_view().await;
            let event = match serde_json::to_string(&*view) {
                Ok(data) => Event::default().event("state").data(data),
                Err(_) => Event::default().comment("unencodable"),
            };
            Some((Ok::<_, Infallible>(event), (service, permit, false)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
