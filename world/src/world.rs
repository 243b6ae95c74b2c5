//! The world of one node: where each region's actor is, started on first
//! use, and what every region shares (generator, framing, id counters).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tessera_cluster::{mailbox, supervise, ActorRef};
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinHandle;
use valence_protocol::math::DVec3;
use valence_protocol::ChunkPos;

use crate::chunk_packet::encode_chunk_packet;
use crate::coords::{chunk_of_point, RegionGrid, RegionPos};
use crate::framing::Framing;
use crate::gen::Generator;
use crate::messages::{EntityId, RegionMsg, RegionRef};
use crate::metrics::WorldMetrics;
use crate::region::{LoadedChunk, Region};

const REGION_MAILBOX: usize = 4096;

pub struct WorldSettings {
    pub generator: Arc<dyn Generator>,
    pub grid: RegionGrid,
    pub framing: Framing,
    pub biome: u32,
    /// Block column players spawn on.
    pub spawn: (i32, i32),
}

pub struct World {
    pub generator: Arc<dyn Generator>,
    pub grid: RegionGrid,
    pub framing: Framing,
    pub biome: u32,
    pub metrics: WorldMetrics,
    spawn: (i32, i32),
    regions: Mutex<HashMap<RegionPos, (RegionRef, JoinHandle<()>)>>,
    next_entity: AtomicI32,
    next_handoff: AtomicU64,
    next_teleport: AtomicI32,
}

impl World {
    pub fn new(settings: WorldSettings) -> Arc<Self> {
        Arc::new(Self {
            generator: settings.generator,
            grid: settings.grid,
            framing: settings.framing,
            biome: settings.biome,
            metrics: WorldMetrics::default(),
            spawn: settings.spawn,
            regions: Mutex::new(HashMap::new()),
            next_entity: AtomicI32::new(1),
            next_handoff: AtomicU64::new(1),
            next_teleport: AtomicI32::new(1),
        })
    }

    /// Where a new player appears: on the surface of the spawn column.
    pub fn spawn_point(&self) -> DVec3 {
        let (x, z) = self.spawn;
        let y = self.generator.surface_y(x, z);
        DVec3::new(f64::from(x) + 0.5, f64::from(y), f64::from(z) + 0.5)
    }

    pub fn allocate_entity_id(&self) -> EntityId {
        self.next_entity.fetch_add(1, Ordering::Relaxed)
    }

    pub fn next_handoff_id(&self) -> u64 {
        self.next_handoff.fetch_add(1, Ordering::Relaxed)
    }

    pub fn next_teleport_id(&self) -> i32 {
        self.next_teleport.fetch_add(1, Ordering::Relaxed)
    }

    pub fn region_at(self: &Arc<Self>, x: f64, z: f64) -> RegionRef {
        self.region_of_chunk(chunk_of_point(x, z))
    }

    pub fn region_of_chunk(self: &Arc<Self>, chunk: ChunkPos) -> RegionRef {
        self.region(self.grid.region_of_chunk(chunk))
    }

    /// The actor of a region, started if it is not running yet.
    pub fn region(self: &Arc<Self>, pos: RegionPos) -> RegionRef {
        let mut regions = self.regions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((region, _)) = regions.get(&pos) {
            return region.clone();
        }
        let (actor, inbox) = mailbox(REGION_MAILBOX);
        let me = RegionRef { pos, actor };
        let inbox = Arc::new(AsyncMutex::new(inbox));
        let world = self.clone();
        let region = me.clone();
        // The mailbox outlives a panicked run, so a restarted region keeps its address.
        let task = supervise(format!("region {pos}"), move |_restarts| {
            let (world, region, inbox) = (world.clone(), region.clone(), inbox.clone());
            async move {
                let mut inbox = inbox.lock().await;
                Region::new(region, world).run(&mut inbox).await
            }
        });
        regions.insert(pos, (me.clone(), task));
        me
    }

    pub fn region_count(&self) -> usize {
        self.regions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Generates and encodes a chunk on the blocking pool, then hands it to its region.
    pub fn load_chunk(&self, chunk: ChunkPos, region: ActorRef<RegionMsg>) {
        let generator = self.generator.clone();
        let framing = self.framing;
        let biome = self.biome;
        tokio::task::spawn_blocking(move || {
            let generated = generator.generate(chunk);
            let packet = encode_chunk_packet(chunk, &generated, biome, &framing);
            let data = Box::new(LoadedChunk {
                chunk: generated,
                packet,
            });
            // Waits for room: a dropped chunk would leave its region waiting forever.
            let _ = region.blocking_send(RegionMsg::ChunkReady { chunk, data });
        });
    }

    /// Stops every region after it sends what it still holds.
    pub async fn stop(&self) {
        let regions: Vec<_> = self
            .regions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, r)| r)
            .collect();
        for (region, task) in regions {
            let _ = region.actor.send(RegionMsg::Stop).await;
            let _ = task.await;
        }
    }
}
