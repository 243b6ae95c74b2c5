//! Seeded 2D gradient (Perlin) noise and the hash behind it.
//!
//! Gradients come from hashing the lattice point with the seed rather than
//! from a shuffled permutation table, so a noise source is just its seed:
//! nothing to build or cache, and every node derives the same values.

use std::f64::consts::{FRAC_1_SQRT_2, SQRT_2};

/// Eight unit directions, 45° apart; a lattice point's hash picks one.
const GRADIENTS: [(f64, f64); 8] = [
    (1.0, 0.0),
    (FRAC_1_SQRT_2, FRAC_1_SQRT_2),
    (0.0, 1.0),
    (-FRAC_1_SQRT_2, FRAC_1_SQRT_2),
    (-1.0, 0.0),
    (-FRAC_1_SQRT_2, -FRAC_1_SQRT_2),
    (0.0, -1.0),
    (FRAC_1_SQRT_2, -FRAC_1_SQRT_2),
];

/// The splitmix64 finaliser: every input bit flips about half the output bits,
/// so neighbouring lattice points get unrelated gradients.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// 64 well-spread bits for a seed and an integer point. The coordinates are
/// mixed in one at a time so that no two points can cancel each other out.
pub fn hash2(seed: u64, x: i32, z: i32) -> u64 {
    let h = mix(seed ^ u64::from(x as u32));
    mix(h.wrapping_add(0x9E37_79B9_7F4A_7C15) ^ u64::from(z as u32))
}

/// Quintic ease curve: its first and second derivatives vanish at 0 and 1,
/// which hides the lattice grid in the result.
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

fn lerp(t: f64, a: f64, b: f64) -> f64 {
    a + t * (b - a)
}

#[derive(Debug, Clone, Copy)]
pub struct Perlin {
    seed: u64,
}

impl Perlin {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// Smooth noise in about -1..1, zero at every integer point.
    pub fn sample(self, x: f64, z: f64) -> f64 {
        let (x0, z0) = (x.floor(), z.floor());
        let (fx, fz) = (x - x0, z - z0);
        let (ix, iz) = (x0 as i32, z0 as i32);
        let corner = |dx: i32, dz: i32| {
            let (gx, gz) = GRADIENTS[(hash2(self.seed, ix + dx, iz + dz) & 7) as usize];
            gx * (fx - f64::from(dx)) + gz * (fz - f64::from(dz))
        };
        let (u, v) = (fade(fx), fade(fz));
        let near = lerp(u, corner(0, 0), corner(1, 0));
        let far = lerp(u, corner(0, 1), corner(1, 1));
        // With unit gradients the raw range is ±√2/2; scale it to about ±1.
        lerp(v, near, far) * SQRT_2
    }

    /// `octaves` layers, each at twice the frequency and half the amplitude of
    /// the one before, normalised back to about -1..1. Each octave gets its own
    /// seed so their zeros at the origin's lattice points do not line up.
    pub fn fractal(self, x: f64, z: f64, octaves: u32) -> f64 {
        let (mut sum, mut total, mut amplitude, mut frequency) = (0.0, 0.0, 1.0, 1.0);
        for octave in 0..octaves {
            let layer = Perlin::new(hash2(self.seed, octave as i32, 0));
            sum += layer.sample(x * frequency, z * frequency) * amplitude;
            total += amplitude;
            amplitude *= 0.5;
            frequency *= 2.0;
        }
        sum / total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_values_other_seed_other_values() {
        let (a, b) = (Perlin::new(1), Perlin::new(2));
        let points = (0..100).map(|i| (f64::from(i) * 0.37 - 10.0, f64::from(i) * 0.11));
        let mut differ = false;
        for (x, z) in points {
            assert_eq!(a.sample(x, z), Perlin::new(1).sample(x, z));
            differ |= a.sample(x, z) != b.sample(x, z);
        }
        assert!(differ);
    }

    #[test]
    fn stays_in_range_and_is_continuous() {
        let noise = Perlin::new(42);
        let mut previous = noise.fractal(-50.0, 3.3, 3);
        for i in 1..20_000 {
            let x = -50.0 + f64::from(i) * 0.005;
            let value = noise.fractal(x, 3.3, 3);
            assert!((-1.0..=1.0).contains(&value), "{value} at {x}");
            assert!((value - previous).abs() < 0.05, "jump at {x}");
            previous = value;
        }
    }

    #[test]
    fn zero_on_the_lattice_but_not_between() {
        let noise = Perlin::new(7);
        assert_eq!(noise.sample(-3.0, 5.0), 0.0);
        let off_lattice = (0..50).any(|i| noise.sample(f64::from(i) + 0.5, 0.5).abs() > 0.1);
        assert!(off_lattice);
    }
}
