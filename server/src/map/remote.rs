//! The map between nodes: any node's page shows the whole cluster, so each
//! node answers the others' questions about what it runs over the cluster
//! transport (the browser talks to one node only).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tessera_cluster::{Envelope, NodeId, Topic, Transport};
use tessera_world::coords::RegionPos;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use super::view::NodeView;
use super::MapService;

/// How long another node has to answer.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// Questions from other nodes answered at once; more are refused, so
/// pages open on other nodes cannot queue work here without bound.
const ANSWERED_AT_ONCE: usize = 4;

#[derive(Debug, Serialize, Deserialize)]
pub enum MapQuery {
    /// What the node runs: `NodeView`.
    Node,
    /// A region's picture: `TileReply`.
    Tile { x: i32, z: i32 },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TileReply {
    pub version: String,
    pub png: Bytes,
}

/// Answers other nodes' map questions until the transport stops.
pub fn answer_peers(transport: Transport, service: Arc<MapService>) {
    let mut inbox = match transport.subscribe(Topic::Map) {
        Ok(inbox) => inbox,
        Err(e) => {
            warn!("the map cannot answer other nodes: {e}");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(ANSWERED_AT_ONCE));
    tokio::spawn(async move {
        while let Some(request) = inbox.recv().await {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                let _ = transport.reply_error(&request, "map busy");
                continue;
            };
            let (transport, service) = (transport.clone(), service.clone());
            tokio::spawn(async move {
                answer(&transport, &service, &request).await;
                drop(permit);
            });
        }
    });
}

async fn answer(transport: &Transport, service: &Arc<MapService>, request: &Envelope) {
    let body = match request.decode_body::<MapQuery>() {
        Ok(MapQuery::Node) => Envelope::encode_body(&service.node_view().await),
        Ok(MapQuery::Tile { x, z }) => match service.tiles.png(RegionPos { x, z }).await {
            Some((png, version)) => Envelope::encode_body(&TileReply { version, png }),
            None => {
                let _ = transport.reply_error(request, "no picture of that region here");
                return;
            }
        },
        Err(e) => {
            debug!(from = %request.from, "undecodable map question: {e}");
            let _ = transport.reply_error(request, "undecodable");
            return;
        }
    };
    match body {
        Ok(body) => {
            let _ = transport.reply(request, body);
        }
        Err(e) => warn!("cannot encode a map answer: {e}"),
    }
}

async fn ask<T: serde::de::DeserializeOwned>(
    transport: &Transport,
    node: NodeId,
    query: &MapQuery,
) -> Option<T> {
    let body = Envelope::encode_body(query).ok()?;
    let reply = transport
        .request(node, Topic::Map, body, ASK_TIMEOUT)
        .await
        .map_err(|e| debug!(%node, "no map answer: {e}"))
        .ok()?;
    postcard::from_bytes(&reply).ok()
}

pub async fn ask_node(transport: &Transport, node: NodeId) -> Option<NodeView> {
    ask(transport, node, &MapQuery::Node).await
}

pub async fn ask_tile(transport: &Transport, node: NodeId, region: RegionPos) -> Option<TileReply> {
    let query = MapQuery::Tile {
        x: region.x,
        z: region.z,
    };
    ask(transport, node, &query).await
}
