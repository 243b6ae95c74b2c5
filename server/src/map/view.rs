//! What the map shows, as nodes tell each other and as the page reads it.

use serde::{Deserialize, Serialize};
use tessera_world::map::MapPlayer;

/// One region as the node that runs it sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionSummary {
    pub x: i32,
    pub z: i32,
    pub players: usize,
    pub tick_p50_ms: Option<f64>,
    pub tick_p99_ms: Option<f64>,
    /// Changes whenever the region's picture does; `None` before one is drawn.
    pub version: Option<String>,
}

/// What one node runs: its regions and their players. Nodes answer this to
/// the node whose map page is open.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub regions: Vec<RegionSummary>,
    pub players: Vec<MapPlayer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeJson {
    pub id: u64,
    pub addr: Option<String>,
    /// `alive`, `suspect` or `down`, as this node sees it.
    pub state: &'static str,
    pub players: usize,
    pub regions: usize,
}

/// A region with its owner, as the page reads it.
#[derive(Debug, Clone, Serialize)]
pub struct RegionJson {
    pub node: u64,
    pub epoch: u64,
    #[serde(flatten)]
    pub summary: RegionSummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlayerJson {
    pub name: String,
    pub node: u64,
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// The whole cluster as the answering node sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    pub node: u64,
    pub region_chunks: i32,
    pub nodes: Vec<NodeJson>,
    pub regions: Vec<RegionJson>,
    pub players: Vec<PlayerJson>,
}

#[derive(Serialize)]
pub struct RegionsJson<'a> {
    pub node: u64,
    pub region_chunks: i32,
    pub nodes: &'a [NodeJson],
    pub regions: &'a [RegionJson],
}

#[derive(Serialize)]
pub struct PlayersJson<'a> {
    pub players: &'a [PlayerJson],
}
