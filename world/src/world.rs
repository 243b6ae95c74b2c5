//! The world as one node sees it: the regions it runs, started on first use,
//! the sessions it hosts, and the routes to regions and sessions elsewhere.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use tessera_cluster::{
    mailbox, supervise, ActorRef, Mailbox, RestartBudget, SendError, Supervised,
};
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinHandle;
use tracing::{error, warn};
use valence_protocol::math::DVec3;
use valence_protocol::ChunkPos;

use crate::chunk_packet::encode_chunk_packet;
use crate::clock::WorldClock;
use crate::coords::{RegionGrid, RegionPos};
use crate::entity_ids::{EntityIds, EntityLease};
use crate::framing::Framing;
use crate::gen::Generator;
use crate::journal::{JournalPlayer, Journals};
use crate::messages::{NodeBatch, NodeId, RegionMsg, SessionAddr, SessionId, ToSession};
use crate::metrics::WorldMetrics;
use crate::region::{LoadedChunk, Region, RegionContext, RegionHost, RegionMail};
use crate::routing::{OwnerChange, Ownership, Placement, RemoteLinks, Undelivered};
use crate::store::RegionStore;

/// Room for joins at spawn: each join subscribes hundreds of chunks at once.
/// The channel allocates as it fills, so an idle region pays nothing for it.
const REGION_MAILBOX: usize = 65_536;
const SESSION_MAILBOX: usize = 1024;

pub struct WorldSettings {
    pub node: NodeId,
    pub generator: Arc<dyn Generator>,
    pub grid: RegionGrid,
    pub framing: Framing,
    pub biome: u32,
    /// The block players spawn in (their feet), level.dat's SpawnX/Y/Z.
    pub spawn: (i32, i32, i32),
    /// The world's time, from level.dat.
    pub clock: WorldClock,
    pub placement: Arc<dyn Placement>,
    /// Where regions are saved; `None` keeps the world in memory only.
    pub store: Option<RegionStore>,
    /// Where regions journal their changes; with `store`, or not at all.
    pub journals: Option<Journals>,
    /// How often a region saves its changed chunks into the region files.
    pub autosave: Duration,
    pub region_idle: Duration,
}

#[cfg(test)]
impl WorldSettings {
    /// One node, a grid of 32, no store or journal: what the region's unit
    /// tests start from.
    pub(crate) fn for_test(generator: Arc<dyn Generator>) -> Self {
        Self {
            node: NodeId(1),
            generator,
            grid: RegionGrid { size: 32 },
            framing: Framing::default(),
            biome: 0,
            spawn: (0, -60, 0),
            clock: WorldClock::new(0, 0, true),
            placement: Arc::new(crate::routing::SingleNode(NodeId(1))),
            store: None,
            journals: None,
            autosave: Duration::from_secs(5),
            region_idle: Duration::from_secs(60),
        }
    }
}

struct LocalRegion {
    actor: ActorRef<RegionMail>,
    task: JoinHandle<Supervised>,
}

pub struct World {
    context: Arc<RegionContext>,
    /// This world, for the regions it starts to hold.
    me: Weak<World>,
    spawn: (i32, i32, i32),
    pub clock: WorldClock,
    placement: Arc<dyn Placement>,
    /// `/save-off`: autosaves wait; saves at a handoff, a stop or
    /// `/save-all` still run, as they must for nothing to be lost.
    autosave_paused: std::sync::atomic::AtomicBool,
    remote: OnceLock<Arc<dyn RemoteLinks>>,
    /// Where the players' states a region replayed go, to be written into
    /// their records.
    recovered: OnceLock<tokio::sync::mpsc::Sender<JournalPlayer>>,
    regions: Mutex<HashMap<RegionPos, LocalRegion>>,
    /// Messages for regions that have no owner yet, sent once they do.
    unplaced: Mutex<HashMap<RegionPos, Vec<RegionMsg>>>,
    ownership: tokio::sync::broadcast::Sender<OwnerChange>,
    sessions: Mutex<HashMap<SessionId, ActorRef<ToSession>>>,
    entity_ids: EntityIds,
    next_handoff: AtomicU64,
    next_teleport: AtomicI32,
    next_session: AtomicU64,
    /// Permits of the chunk generation pool.
    workers: Arc<tokio::sync::Semaphore>,
}

const HANDOFF_ID_MASK: u64 = (1 << 48) - 1;

/// Handoff ids count up from the microseconds since the epoch at start-up:
/// a restarted node hands off fewer than one player per microsecond, so its
/// ids stay above those of its previous run (the 48 bits wrap every nine
/// years), and an acknowledgement still in flight from then cannot
/// acknowledge a handoff of this run.
fn handoff_ids_start() -> u64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_micros());
    u64::try_from(micros).unwrap_or(1) & HANDOFF_ID_MASK
}

fn undelivered(e: SendError) -> Undelivered {
    match e {
        SendError::Full => Undelivered::Full,
        SendError::Stopped => Undelivered::Gone,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl World {
    pub fn new(settings: WorldSettings) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            context: Arc::new(RegionContext {
                node: settings.node,
                grid: settings.grid,
                framing: settings.framing,
                generator: settings.generator,
                biome: settings.biome,
                store: settings.store,
                journals: settings.journals,
                autosave: settings.autosave,
                region_idle: settings.region_idle,
                metrics: Arc::new(WorldMetrics::default()),
            }),
            me: me.clone(),
            spawn: settings.spawn,
            clock: settings.clock,
            placement: settings.placement,
            autosave_paused: std::sync::atomic::AtomicBool::new(false),
            remote: OnceLock::new(),
            recovered: OnceLock::new(),
            regions: Mutex::new(HashMap::new()),
            unplaced: Mutex::new(HashMap::new()),
            ownership: tokio::sync::broadcast::channel(1024).0,
            sessions: Mutex::new(HashMap::new()),
            entity_ids: EntityIds::new(settings.node.0),
            next_handoff: AtomicU64::new(handoff_ids_start()),
            next_teleport: AtomicI32::new(1),
            next_session: AtomicU64::new(1),
            workers: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
        })
    }

    pub fn node(&self) -> NodeId {
        self.context.node
    }

    pub fn framing(&self) -> Framing {
        self.context.framing
    }

    pub fn metrics(&self) -> &Arc<WorldMetrics> {
        &self.context.metrics
    }

    pub fn journals(&self) -> Option<&Journals> {
        self.context.journals.as_ref()
    }

    /// Connects this world to the other nodes; set once, at start-up.
    pub fn set_remote(&self, links: Arc<dyn RemoteLinks>) {
        if self.remote.set(links).is_err() {
            warn!("remote links were already set");
        }
    }

    /// Sends the players' states regions replay from their journals to
    /// `sink`, which writes each into the player's record if it is later.
    pub fn set_player_recovery(&self, sink: tokio::sync::mpsc::Sender<JournalPlayer>) {
        if self.recovered.set(sink).is_err() {
            warn!("player recovery was already set");
        }
    }

    /// Where a new player appears: in the middle of the spawn block.
    pub fn spawn_point(&self) -> DVec3 {
        let (x, y, z) = self.spawn;
        DVec3::new(f64::from(x) + 0.5, f64::from(y), f64::from(z) + 0.5)
    }

    /// An entity id unique in the cluster while the lease is held.
    pub fn allocate_entity_id(&self) -> Option<EntityLease> {
        self.entity_ids.allocate()
    }

    pub fn next_teleport_id(&self) -> i32 {
        self.next_teleport.fetch_add(1, Ordering::Relaxed)
    }

    pub fn region_of_point(&self, x: f64, z: f64) -> RegionPos {
        self.context.grid.region_of_point(x, z)
    }

    pub fn region_of_chunk(&self, chunk: ChunkPos) -> RegionPos {
        self.context.grid.region_of_chunk(chunk)
    }

    /// Sends a message to a region, on this node or the one that owns it.
    pub fn to_region(&self, region: RegionPos, msg: RegionMsg) -> Result<(), Undelivered> {
        let Some(owner) = self.placement.owner(region) else {
            let mut unplaced = lock(&self.unplaced);
            let waiting = unplaced.entry(region).or_default();
            if waiting.is_empty() {
                self.placement.request(region);
            }
            waiting.push(msg);
            return Ok(());
        };
        if owner.node == self.context.node {
            return self
                .local_region(region)?
                .try_send(RegionMail::Msg(msg))
                .map_err(undelivered);
        }
        match self.remote.get() {
            Some(remote) => remote.to_region(owner.node, region, msg),
            None => Err(Undelivered::NoRoute(owner.node)),
        }
    }

    /// Placement gave `region` a new owner: sends what waited for one, stops
    /// the local actor if this node no longer owns it (it saves first), and
    /// tells sessions so they can re-attach.
    pub async fn placement_changed(self: &Arc<Self>, region: RegionPos, from: Option<NodeId>) {
        let owner = self.placement.owner(region);
        if owner.is_some_and(|o| o.node != self.context.node) {
            self.stop_released(region).await;
        }
        if owner.is_some_and(|o| o.node == self.context.node)
            && from.is_some_and(|f| f != self.context.node)
        {
            self.context
                .metrics
                .handoffs_in
                .fetch_add(1, Ordering::Relaxed);
        }
        let waiting = lock(&self.unplaced).remove(&region).unwrap_or_default();
        for msg in waiting {
            if let Err(e) = self.to_region(region, msg) {
                warn!(%region, "message for a newly placed region not delivered: {e}");
            }
        }
        let to = owner.map(|o| o.node);
        // A region placed for the first time has nothing stale to replace.
        if from.is_some() && from != to {
            let _ = self.ownership.send(OwnerChange { region, from, to });
        }
    }

    /// Stops `region` here and saves it: placement is moving it to another
    /// node and no longer permits it here (mail that starts it again waits,
    /// and is dropped when the move commits).
    pub async fn release_region(&self, region: RegionPos) {
        self.stop_released(region).await;
    }

    /// Stops the actor of a region another node takes over, if one runs
    /// here; counted once, whichever of placement's two paths came first.
    async fn stop_released(&self, region: RegionPos) {
        let local = lock(&self.regions).remove(&region);
        if let Some(local) = local {
            self.context
                .metrics
                .handoffs_out
                .fetch_add(1, Ordering::Relaxed);
            let _ = local.actor.send(RegionMail::Stop).await;
            let _ = local.task.await;
        }
    }

    /// Tells every region here that `node` died, so they drop its players
    /// and subscriptions.
    pub fn node_gone(&self, node: NodeId) {
        let regions: Vec<ActorRef<RegionMail>> = lock(&self.regions)
            .values()
            .map(|local| local.actor.clone())
            .collect();
        for region in regions {
            if let Err(e) = region.try_send(RegionMail::Msg(RegionMsg::NodeGone { node })) {
                warn!(%node, "a region was not told of a dead node: {e}");
            }
        }
    }

    /// Regions whose owner changed, for sessions to re-attach to.
    pub fn ownership_changes(&self) -> tokio::sync::broadcast::Receiver<OwnerChange> {
        self.ownership.subscribe()
    }

    /// The regions this node runs now.
    pub fn local_regions(&self) -> Vec<RegionPos> {
        lock(&self.regions).keys().copied().collect()
    }

    /// A look at a region running here, for the map; `None` when it does
    /// not run here, is busy (its mailbox full: the map waits, not the
    /// region) or stopped before it answered. Never starts a region.
    pub async fn look_at_region(
        &self,
        region: RegionPos,
        since: Option<crate::map::MapSince>,
    ) -> Option<crate::map::RegionMap> {
        let actor = lock(&self.regions).get(&region)?.actor.clone();
        let (reply, answer) = tokio::sync::oneshot::channel();
        actor.try_send(RegionMail::Map { since, reply }).ok()?;
        answer.await.ok()
    }

    /// The side of a region, in chunks.
    pub fn region_size(&self) -> i32 {
        self.context.grid.size
    }

    /// Sends a message to a session, on this node or another.
    pub fn to_session(&self, addr: SessionAddr, msg: ToSession) -> Result<(), Undelivered> {
        if addr.node == self.context.node {
            let actor = lock(&self.sessions).get(&addr.id).cloned();
            return actor
                .ok_or(Undelivered::Gone)?
                .try_send(msg)
                .map_err(undelivered);
        }
        match self.remote.get() {
            Some(remote) => remote.to_session(addr, msg),
            None => Err(Undelivered::NoRoute(addr.node)),
        }
    }

    /// Hands a batch that came from another node to this node's sessions.
    pub fn deliver_batch(&self, batch: NodeBatch) {
        for (session, deliveries) in batch.into_deliveries() {
            let addr = SessionAddr {
                node: self.context.node,
                id: session,
            };
            if self
                .to_session(addr, ToSession::Deliver(deliveries))
                .is_err()
            {
                warn!(
                    session,
                    "batch for a session that is gone or not keeping up"
                );
            }
        }
    }

    /// A new session's address and mailbox.
    pub fn open_session(&self) -> (SessionAddr, Mailbox<ToSession>) {
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let (actor, inbox) = mailbox(SESSION_MAILBOX);
        lock(&self.sessions).insert(id, actor);
        (
            SessionAddr {
                node: self.context.node,
                id,
            },
            inbox,
        )
    }

    pub fn close_session(&self, addr: SessionAddr) {
        lock(&self.sessions).remove(&addr.id);
    }

    /// The actor of a region this node owns, started if it is not running yet.
    /// Fails only while the world is being dropped.
    fn local_region(&self, pos: RegionPos) -> Result<ActorRef<RegionMail>, Undelivered> {
        let mut regions = lock(&self.regions);
        if let Some(region) = regions.get(&pos) {
            return Ok(region.actor.clone());
        }
        let host: Arc<dyn RegionHost> = self.me.upgrade().ok_or(Undelivered::Gone)?;
        let (actor, inbox) = mailbox(REGION_MAILBOX);
        // The mailbox outlives a panicked run, so a restarted region keeps its address.
        let inbox = Arc::new(AsyncMutex::new(inbox));
        let me = actor.clone();
        let task = supervise(
            format!("region {pos}"),
            RestartBudget::default(),
            move |_restarts| {
                let (host, me, inbox) = (host.clone(), me.clone(), inbox.clone());
                async move {
                    let mut inbox = inbox.lock().await;
                    Region::new(pos, me, host).run(&mut inbox).await
                }
            },
        );
        regions.insert(
            pos,
            LocalRegion {
                actor: actor.clone(),
                task,
            },
        );
        Ok(actor)
    }

    pub fn region_count(&self) -> usize {
        lock(&self.regions).len()
    }

    /// Regions whose actor failed more often than its restart budget allows
    /// and no longer runs: their players and chunks are stuck until the
    /// node restarts (and, in a cluster, another node takes them over).
    pub fn failed_regions(&self) -> Vec<RegionPos> {
        lock(&self.regions)
            .iter()
            .filter(|(_, local)| local.task.is_finished())
            .map(|(pos, _)| *pos)
            .collect()
    }

    pub fn pause_autosave(&self, paused: bool) {
        self.autosave_paused
            .store(paused, std::sync::atomic::Ordering::Relaxed);
    }

    /// Saves every region of this node into the region files and waits
    /// until they are on disk: how many regions were saved, and how many
    /// could not be (their changes stay in the journal).
    pub async fn save_all(&self) -> (usize, usize) {
        let regions: Vec<ActorRef<RegionMail>> = lock(&self.regions)
            .values()
            .map(|local| local.actor.clone())
            .collect();
        let mut replies = Vec::new();
        for region in regions {
            let (reply, answer) = tokio::sync::oneshot::channel();
            if region.send(RegionMail::Save(reply)).await.is_ok() {
                replies.push(answer);
            }
        }
        let (mut saved, mut failed) = (0, 0);
        for answer in replies {
            match answer.await {
                Ok(true) => saved += 1,
                _ => failed += 1,
            }
        }
        (saved, failed)
    }

    /// Stops every region after it sends what it still holds.
    pub async fn stop(&self) {
        let regions: Vec<LocalRegion> = lock(&self.regions).drain().map(|(_, r)| r).collect();
        for region in regions {
            let _ = region.actor.send(RegionMail::Stop).await;
            let _ = region.task.await;
        }
    }
}

impl RegionHost for World {
    fn context(&self) -> &Arc<RegionContext> {
        &self.context
    }

    fn to_region(&self, region: RegionPos, msg: RegionMsg) -> Result<(), Undelivered> {
        World::to_region(self, region, msg)
    }

    fn to_session(&self, addr: SessionAddr, msg: ToSession) -> Result<(), Undelivered> {
        World::to_session(self, addr, msg)
    }

    fn to_node(&self, node: NodeId, batch: NodeBatch) -> Result<(), Undelivered> {
        match self.remote.get() {
            Some(remote) => remote.batch(node, batch),
            None => Err(Undelivered::NoRoute(node)),
        }
    }

    fn may_tick(&self, region: RegionPos) -> bool {
        self.placement.tick_epoch(region).is_some()
    }

    fn epoch_of(&self, region: RegionPos) -> Option<u64> {
        self.placement
            .owner(region)
            .filter(|owner| owner.node == self.context.node)
            .map(|owner| owner.epoch)
    }

    fn owner_of(&self, region: RegionPos) -> Option<Ownership> {
        self.placement.owner(region)
    }

    fn next_handoff_id(&self) -> u64 {
        let local = self.next_handoff.fetch_add(1, Ordering::Relaxed) & HANDOFF_ID_MASK;
        self.context.node.0 << 48 | local
    }

    fn next_teleport_id(&self) -> i32 {
        World::next_teleport_id(self)
    }

    fn retire_region(
        &self,
        pos: RegionPos,
        me: &ActorRef<RegionMail>,
        nothing_waiting: &dyn Fn() -> bool,
    ) -> bool {
        let mut regions = lock(&self.regions);
        let mine = regions.get(&pos).is_some_and(|r| r.actor.same_actor(me));
        if !mine || !nothing_waiting() {
            return false;
        }
        regions.remove(&pos);
        true
    }

    fn load_chunk(&self, chunk: ChunkPos, region: ActorRef<RegionMail>) {
        let generator = self.context.generator.clone();
        let framing = self.context.framing;
        let biome = self.context.biome;
        let workers = self.workers.clone();
        let metrics = self.context.metrics.clone();
        tokio::spawn(async move {
            let Ok(permit) = workers.acquire_owned().await else {
                return;
            };
            tokio::task::spawn_blocking(move || {
                let generate = || {
                    catch_unwind(AssertUnwindSafe(|| {
                        let generated = generator.generate(chunk);
                        let packet = encode_chunk_packet(chunk, &generated, biome, &framing);
                        LoadedChunk {
                            chunk: generated,
                            packet,
                        }
                    }))
                };
                let generated = generate().or_else(|_| {
                    warn!(chunk = ?chunk, "chunk generation panicked; trying once more");
                    generate()
                });
                drop(permit);
                // Waits for room: a dropped answer would leave its region waiting forever.
                let _ = region.blocking_send(match generated {
                    Ok(data) => RegionMail::ChunkReady {
                        chunk,
                        data: Box::new(data),
                    },
                    Err(_) => {
                        metrics.chunk_generation_failed();
                        error!(chunk = ?chunk, "chunk generation panicked twice; the chunk stays empty for now");
                        RegionMail::ChunkFailed { chunk }
                    }
                });
            });
        });
    }

    fn recovered_player(&self, state: JournalPlayer) {
        let Some(sink) = self.recovered.get() else {
            return;
        };
        if let Err(e) = sink.try_send(state) {
            warn!("a replayed player state is not written to its record: {e}");
        }
    }

    fn autosave_paused(&self) -> bool {
        self.autosave_paused
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
