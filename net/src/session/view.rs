//! The square of chunks around a player that its client has loaded.

use std::collections::HashSet;

use valence_protocol::ChunkPos;

pub struct View {
    center: ChunkPos,
    radius: i32,
    loaded: HashSet<ChunkPos>,
}

/// Chunks within `radius` of `center`, nearest first, so the ground under
/// the player arrives before the horizon.
fn square(center: ChunkPos, radius: i32) -> Vec<ChunkPos> {
    let mut chunks: Vec<ChunkPos> = (-radius..=radius)
        .flat_map(|dz| {
            (-radius..=radius).map(move |dx| ChunkPos::new(center.x + dx, center.z + dz))
        })
        .collect();
    chunks.sort_by_key(|c| c.distance_squared(center));
    chunks
}

impl View {
    pub fn new(center: ChunkPos, radius: i32) -> Self {
        Self {
            center,
            radius,
            loaded: HashSet::new(),
        }
    }

    pub fn center(&self) -> ChunkPos {
        self.center
    }

    pub fn contains(&self, chunk: ChunkPos) -> bool {
        self.loaded.contains(&chunk)
    }

    pub fn loaded(&self) -> impl Iterator<Item = ChunkPos> + '_ {
        self.loaded.iter().copied()
    }

    /// Loads everything around the current centre; returns what to load.
    pub fn fill(&mut self) -> Vec<ChunkPos> {
        let wanted = square(self.center, self.radius);
        let added: Vec<ChunkPos> = wanted
            .into_iter()
            .filter(|c| !self.loaded.contains(c))
            .collect();
        self.loaded.extend(added.iter().copied());
        added
    }

    /// Moves the centre; returns the chunks to load (nearest first) and to unload.
    pub fn recenter(&mut self, center: ChunkPos) -> (Vec<ChunkPos>, Vec<ChunkPos>) {
        self.center = center;
        let radius = self.radius;
        let out_of_range =
            |c: &ChunkPos| (c.x - center.x).abs() > radius || (c.z - center.z).abs() > radius;
        let removed: Vec<ChunkPos> = self.loaded.iter().copied().filter(out_of_range).collect();
        for chunk in &removed {
            self.loaded.remove(chunk);
        }
        (self.fill(), removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_one_chunk_loads_and_unloads_one_row() {
        let mut view = View::new(ChunkPos::new(0, 0), 2);
        let first = view.fill();
        assert_eq!(first.len(), 25);
        assert_eq!(first[0], ChunkPos::new(0, 0));
        let (added, removed) = view.recenter(ChunkPos::new(1, 0));
        assert_eq!(added.len(), 5);
        assert!(added.iter().all(|c| c.x == 3));
        assert_eq!(removed.len(), 5);
        assert!(removed.iter().all(|c| c.x == -2));
        assert!(view.contains(ChunkPos::new(3, 2)));
        assert!(!view.contains(ChunkPos::new(-2, 0)));
    }
}
