//! The square of chunks around a player that its client has loaded.

use valence_protocol::ChunkPos;

/// Once filled, the loaded chunks are exactly the square of `radius` around
/// `center`, so membership is arithmetic: no set of chunks per player.
pub struct View {
    center: ChunkPos,
    radius: i32,
    filled: bool,
}

fn in_square(center: ChunkPos, radius: i32, chunk: ChunkPos) -> bool {
    (chunk.x - center.x).abs() <= radius && (chunk.z - center.z).abs() <= radius
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
            filled: false,
        }
    }

    pub fn center(&self) -> ChunkPos {
        self.center
    }

    pub fn contains(&self, chunk: ChunkPos) -> bool {
        self.filled && in_square(self.center, self.radius, chunk)
    }

    pub fn loaded(&self) -> impl Iterator<Item = ChunkPos> + '_ {
        let chunks = if self.filled {
            square(self.center, self.radius)
        } else {
            Vec::new()
        };
        chunks.into_iter()
    }

    /// Loads everything around the current centre; returns what to load.
    fn fill(&mut self) -> Vec<ChunkPos> {
        if self.filled {
            return Vec::new();
        }
        self.filled = true;
        square(self.center, self.radius)
    }

    /// Moves the centre; returns the chunks to load (nearest first) and to unload.
    pub fn recenter(&mut self, center: ChunkPos) -> (Vec<ChunkPos>, Vec<ChunkPos>) {
        let (old, radius) = (self.center, self.radius);
        self.center = center;
        if !self.filled {
            return (self.fill(), Vec::new());
        }
        let added = square(center, radius)
            .into_iter()
            .filter(|c| !in_square(old, radius, *c))
            .collect();
        let removed = square(old, radius)
            .into_iter()
            .filter(|c| !in_square(center, radius, *c))
            .collect();
        (added, removed)
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
        assert_eq!(view.loaded().count(), 25);
    }

    #[test]
    fn nothing_is_loaded_before_the_first_fill_and_a_jump_swaps_everything() {
        let mut view = View::new(ChunkPos::new(0, 0), 1);
        assert!(!view.contains(ChunkPos::new(0, 0)));
        assert_eq!(view.loaded().count(), 0);
        let (added, removed) = view.recenter(ChunkPos::new(5, 5));
        assert_eq!((added.len(), removed.len()), (9, 0));
        assert_eq!(added[0], ChunkPos::new(5, 5));
        assert!(view.fill().is_empty());
        let (added, removed) = view.recenter(ChunkPos::new(100, 5));
        assert_eq!((added.len(), removed.len()), (9, 9));
        assert!(view.contains(ChunkPos::new(101, 6)));
        assert!(!view.contains(ChunkPos::new(5, 5)));
    }
}
