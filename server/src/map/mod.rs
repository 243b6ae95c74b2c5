//! The live map of the cluster on the admin interface: the world from above,
//! regions coloured by the node that owns them, players moving.
//!
//! Costs are bounded so that a busy map page cannot slow a region: a region
//! is looked at at most once per `LOOK_EVERY` whatever the number of pages,
//! through `try_send` (a full mailbox skips the look, the region never
//! waits), and answers with copies of the chunks changed since; drawing and
//! PNG encoding run on one blocking thread at a time; the cluster view is
//! gathered once per `LOOK_EVERY` and shared by every page and stream; live
//! streams are capped at `MAX_STREAMS`; other nodes' questions at
//! `remote::ANSWERED_AT_ONCE`; pictures kept at `tiles::KEPT_REGIONS`.

mod http;
mod remote;
mod tiles;
mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use tessera_cluster::membership::MemberState;
use tessera_cluster::NodeId;
use tessera_world::coords::RegionPos;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::node::Node;
use tiles::{LocalTiles, KEPT_REGIONS, LOOK_EVERY};
use view::{ClusterView, NodeJson, NodeView, PlayerJson, RegionJson, RegionSummary};

pub use http::router;

/// Live streams (`/map/events`) served at once.
pub const MAX_STREAMS: usize = 16;

pub struct MapService {
    node: Arc<Node>,
    tiles: LocalTiles,
    /// Pictures of regions other nodes run, by region: the version and PNG.
    remote_tiles: Mutex<HashMap<RegionPos, (String, Bytes)>>,
    view: tokio::sync::Mutex<Option<(Instant, Arc<ClusterView>)>>,
    streams: Arc<Semaphore>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn state_name(state: MemberState) -> &'static str {
    match state {
        MemberState::Alive => "alive",
        MemberState::Suspect => "suspect",
        MemberState::Down => "down",
    }
}

impl MapService {
    /// The map of `node`, answering the other nodes' map questions too.
    pub fn start(node: Arc<Node>) -> Arc<Self> {
        let service = Arc::new(Self {
            tiles: LocalTiles::new(node.world.clone()),
            remote_tiles: Mutex::new(HashMap::new()),
            view: tokio::sync::Mutex::new(None),
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
            node,
        });
        if let Some(cluster) = &service.node.cluster {
            remote::answer_peers(cluster.transport.clone(), service.clone());
        }
        service
    }

    /// What this node runs, every region looked at concurrently.
    async fn node_view(self: &Arc<Self>) -> NodeView {
        let mut looks = JoinSet::new();
        for region in self.node.world.local_regions() {
            let service = self.clone();
            looks.spawn(async move { service.tiles.look(region).await });
        }
        let mut view = NodeView::default();
        while let Some(look) = looks.join_next().await {
            if let Ok(Some((summary, players))) = look {
                view.regions.push(summary);
                view.players.extend(players);
            }
        }
        view.regions.sort_by_key(|r| (r.x, r.z));
        view.players.sort_by(|a, b| a.name.cmp(&b.name));
        view
    }

    /// The whole cluster, gathered at most once per `LOOK_EVERY`.
    async fn cluster_view(self: &Arc<Self>) -> Arc<ClusterView> {
        let mut cached = self.view.lock().await;
        if let Some((at, view)) = &*cached {
            if at.elapsed() < LOOK_EVERY {
                return view.clone();
            }
        }
        let view = Arc::new(self.gather().await);
        *cached = Some((Instant::now(), view.clone()));
        view
    }

    async fn gather(self: &Arc<Self>) -> ClusterView {
        let me = self.node.world.node();
        let own = self.node_view().await;
        let region_chunks = self.node.world.region_size();
        let Some(cluster) = &self.node.cluster else {
            return ClusterView {
                node: me.0,
                region_chunks,
                nodes: vec![NodeJson {
                    id: me.0,
                    addr: None,
                    state: "alive",
                    players: own.players.len(),
                    regions: own.regions.len(),
                }],
                regions: own
                    .regions
                    .iter()
                    .map(|summary| RegionJson {
                        node: me.0,
                        epoch: 0,
                        summary: summary.clone(),
                    })
                    .collect(),
                players: players_of(me, &own),
            };
        };
        let members = cluster.membership.members();
        let mut asks = JoinSet::new();
        for member in &members {
            if member.id != me && member.state != MemberState::Down {
                let (transport, id) = (cluster.transport.clone(), member.id);
                asks.spawn(async move { (id, remote::ask_node(&transport, id).await) });
            }
        }
        let mut views: HashMap<NodeId, NodeView> = HashMap::new();
        views.insert(me, own);
        while let Some(asked) = asks.join_next().await {
            if let Ok((id, Some(view))) = asked {
                views.insert(id, view);
            }
        }
        let table = cluster.placement.table();
        let mut regions: Vec<RegionJson> = table
            .regions()
            .map(|(key, owner)| {
                let summary = views
                    .get(&owner.node)
                    .and_then(|v| v.regions.iter().find(|r| r.x == key.x && r.z == key.z))
                    .cloned()
                    .unwrap_or(RegionSummary {
                        x: key.x,
                        z: key.z,
                        players: 0,
                        tick_p50_ms: None,
                        tick_p99_ms: None,
                        version: None,
                    });
                RegionJson {
                    node: owner.node.0,
                    epoch: owner.epoch,
                    summary,
                }
            })
            .collect();
        regions.sort_by_key(|r| (r.summary.x, r.summary.z));
        let mut players: Vec<PlayerJson> = views
            .iter()
            .flat_map(|(id, view)| players_of(*id, view))
            .collect();
        players.sort_by(|a, b| a.name.cmp(&b.name));
        let mut nodes: Vec<NodeJson> = members
            .iter()
            .map(|member| NodeJson {
                id: member.id.0,
                addr: Some(member.addr.to_string()),
                state: state_name(member.state),
                players: views.get(&member.id).map_or(0, |v| v.players.len()),
                regions: table.regions_of(member.id).count(),
            })
            .collect();
        nodes.sort_by_key(|n| n.id);
        ClusterView {
            node: me.0,
            region_chunks,
            nodes,
            regions,
            players,
        }
    }

    /// The picture of any region of the cluster, from the node that runs it.
    async fn tile(self: &Arc<Self>, region: RegionPos) -> Option<Bytes> {
        let me = self.node.world.node();
        let owner = match &self.node.cluster {
            Some(cluster) => cluster
                .placement
                .table()
                .owner(tessera_cluster::placement::RegionKey {
                    x: region.x,
                    z: region.z,
                })
                .map_or(me, |o| o.node),
            None => me,
        };
        if owner == me {
            return self.tiles.png(region).await.map(|(png, _)| png);
        }
        let cluster = self.node.cluster.as_ref()?;
        match remote::ask_tile(&cluster.transport, owner, region).await {
            Some(reply) => {
                let mut kept = lock(&self.remote_tiles);
                if kept.len() >= KEPT_REGIONS && !kept.contains_key(&region) {
                    if let Some(any) = kept.keys().next().copied() {
                        kept.remove(&any);
                    }
                }
                kept.insert(region, (reply.version, reply.png.clone()));
                Some(reply.png)
            }
            // The owner did not answer (it may be dying): what it showed last.
            None => lock(&self.remote_tiles)
                .get(&region)
                .map(|(_, png)| png.clone()),
        }
    }
}

fn players_of(node: NodeId, view: &NodeView) -> Vec<PlayerJson> {
    view.players
        .iter()
        .map(|p| PlayerJson {
            name: p.name.clone(),
            node: node.0,
            x: p.x,
            y: p.y,
            z: p.z,
        })
        .collect()
}
