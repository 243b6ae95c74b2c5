//! The pictures of the regions this node runs: each drawn from the copies of
//! its changed chunks, on a blocking thread, one region at a time, at most
//! once per `LOOK_EVERY` however many pages ask.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tessera_world::coords::{ChunkPos, RegionPos};
use tessera_world::map::{region_png, ChunkPicture, MapPlayer, MapSince};
use tessera_world::World;
use tokio::sync::Semaphore;

use super::view::RegionSummary;

/// How often a region is looked at again, at most.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How long a region has to answer a look: a region busy ticking answers
/// late, and the map shows what it had.
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// Regions whose pictures are kept; past it those looked at longest ago go.
pub const KEPT_REGIONS: usize = 1024;

#[derive(Default)]
struct Entry {
    since: Option<MapSince>,
    pictures: HashMap<ChunkPos, ChunkPicture>,
    /// The encoded picture, until the next change.
    png: Option<Bytes>,
    players: Vec<MapPlayer>,
    looked: Option<Instant>,
}

type Shared = Arc<tokio::sync::Mutex<Entry>>;

pub struct LocalTiles {
    world: Arc<World>,
    entries: Mutex<HashMap<RegionPos, Shared>>,
    /// One blocking thread draws at a time, so the map takes at most one
    /// core from the regions.
    drawing: Semaphore,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn version(node: u64, since: MapSince) -> String {
    format!("{node}.{}.{}", since.incarnation, since.stamp)
}

impl LocalTiles {
    pub fn new(world: Arc<World>) -> Self {
        Self {
            world,
            entries: Mutex::new(HashMap::new()),
            drawing: Semaphore::new(1),
        }
    }

    fn entry(&self, region: RegionPos) -> Shared {
        let mut entries = lock(&self.entries);
        if entries.len() >= KEPT_REGIONS && !entries.contains_key(&region) {
            let running = self.world.local_regions();
            let oldest = entries
                .iter()
                .filter(|(pos, _)| !running.contains(pos))
                .min_by_key(|(_, e)| e.try_lock().ok().and_then(|e| e.looked))
                .map(|(pos, _)| *pos);
            if let Some(pos) = oldest {
                entries.remove(&pos);
            }
        }
        entries.entry(region).or_default().clone()
    }

    /// The region as the map shows it and its players, looked at again if
    /// the last look is old; `None` when it does not run here.
    pub async fn look(&self, region: RegionPos) -> Option<(RegionSummary, Vec<MapPlayer>)> {
        let shared = self.entry(region);
        let mut entry = shared.lock().await;
        let fresh = entry.looked.is_some_and(|at| at.elapsed() < LOOK_EVERY);
        if !fresh {
            let look = self.world.look_at_region(region, entry.since);
            let map = tokio::time::timeout(LOOK_TIMEOUT, look).await.ok()??;
            entry.looked = Some(Instant::now());
            entry.players = map.players;
            if map.whole {
                entry.pictures.clear();
            }
            if map.whole || !map.chunks.is_empty() {
                let _drawing = self.drawing.acquire().await.ok()?;
                let drawn = tokio::task::spawn_blocking(move || {
                    map.chunks
                        .iter()
                        .map(|(pos, chunk)| (*pos, ChunkPicture::of(chunk)))
                        .collect::<Vec<_>>()
                })
                .await
                .ok()?;
                entry.pictures.extend(drawn);
                entry.png = None;
            }
            entry.since = Some(map.since);
        }
        let ticks = self.world.metrics().regions.ticks_of(region);
        let ms = |q: f64| {
            ticks
                .as_ref()
                .and_then(|t| t.quantile(q))
                .map(|s| s * 1000.0)
        };
        let summary = RegionSummary {
            x: region.x,
            z: region.z,
            players: entry.players.len(),
            tick_p50_ms: ms(0.5),
            tick_p99_ms: ms(0.99),
            version: (!entry.pictures.is_empty())
                .then(|| entry.since.map(|s| version(self.world.node().0, s)))
                .flatten(),
        };
        Some((summary, entry.players.clone()))
    }

    /// The region's picture as a PNG and its version; `None` when nothing
    /// of it was drawn here.
    pub async fn png(&self, region: RegionPos) -> Option<(Bytes, String)> {
        let shared = lock(&self.entries).get(&region)?.clone();
        let mut entry = shared.lock().await;
        let version = version(self.world.node().0, entry.since?);
        if entry.pictures.is_empty() {
            return None;
        }
        if let Some(png) = &entry.png {
            return Some((png.clone(), version));
        }
        let _drawing = self.drawing.acquire().await.ok()?;
        let pictures = std::mem::take(&mut entry.pictures);
        let size = self.world.region_size();
        let (png, pictures) = tokio::task::spawn_blocking(move || {
            let png = region_png(region, size, &pictures);
            (Bytes::from(png), pictures)
        })
        .await
        .ok()?;
        entry.pictures = pictures;
        entry.png = Some(png.clone());
        Some((png, version))
    }
}
