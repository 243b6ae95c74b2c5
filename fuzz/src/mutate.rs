//! Mutations of an input, drawn from a seeded generator so a run can be
//! repeated: bit flips, byte changes, inserts and deletes, copies within the
//! input and splices from others, interesting integers, and length prefixes
//! fixed to what follows them (so a mutated body still gets past the framing
//! that counts its bytes).

/// SplitMix64: small, fast and good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Inputs grow up to this; decoders' own limits are far below it.
pub const MAX_LEN: usize = 1 << 20;

const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x1f_ffff,
    0x20_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    u64::MAX,
    i64::MAX as u64,
];

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Applies 1 to 16 mutations to `input`; `others` are the pool to splice from.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    let count = 1 << rng.below(5);
    for _ in 0..count {
        one(rng, input, others);
    }
    input.truncate(MAX_LEN);
}

fn one(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    let len = input.len();
    match rng.below(12) {
        0 | 1 if len > 0 => {
            let at = rng.below(len);
            input[at] ^= 1 << rng.below(8);
        }
        2 if len > 0 => {
            let at = rng.below(len);
            input[at] = rng.next_u64() as u8;
        }
        3 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            input.splice(at..at, bytes);
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(64));
            input.drain(at..at + n);
        }
        5 if len > 0 => {
            // A copy of a range of the input, somewhere in it.
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(256));
            let to = rng.below(len + 1);
            let bytes = input[from..from + n].to_vec();
            input.splice(to..to, bytes);
        }
        6 if !others.is_empty() => {
            // A range of another input, over or into this one.
            let other = &others[rng.below(others.len())];
            if other.is_empty() {
                return;
            }
            let from = rng.below(other.len());
            let n = 1 + rng.below((other.len() - from).min(1024));
            let to = rng.below(len + 1);
            let end = if rng.below(2) == 0 {
                to
            } else {
                (to + n).min(len)
            };
            input.splice(to..end, other[from..from + n].iter().copied());
        }
        7 if len > 0 => {
            // An interesting number, as a byte, a 16, 32 or 64-bit integer
            // of either byte order, or a VarInt.
            let value = INTERESTING[rng.below(INTERESTING.len())];
            let at = rng.below(len);
            let bytes = match rng.below(8) {
                0 => vec![value as u8],
                1 => (value as u16).to_be_bytes().to_vec(),
                2 => (value as u16).to_le_bytes().to_vec(),
                3 => (value as u32).to_be_bytes().to_vec(),
                4 => (value as u32).to_le_bytes().to_vec(),
                5 => value.to_be_bytes().to_vec(),
                6 => value.to_le_bytes().to_vec(),
                _ => {
                    let mut out = Vec::new();
                    varint(value, &mut out);
                    out
                }
            };
            let end = (at + bytes.len()).min(len);
            input.splice(at..end, bytes);
        }
        8 if len > 0 => {
            // A length prefix saying how many bytes follow it (all, or
            // some), as a VarInt or a 32-bit integer.
            let at = rng.below(len);
            let width = 1 + rng.below(4);
            let end = (at + width).min(len);
            let rest = (len - end) as u64;
            let n = if rng.below(2) == 0 {
                rest
            } else {
                rng.next_u64() % (rest + 1)
            };
            let bytes = match rng.below(3) {
                0 => {
                    let mut out = Vec::new();
                    varint(n, &mut out);
                    out
                }
                1 => (n as u32).to_be_bytes().to_vec(),
                _ => (n as u32).to_le_bytes().to_vec(),
            };
            input.splice(at..end, bytes);
        }
        9 if len > 0 => input.truncate(rng.below(len)),
        10 if len > 0 => {
            // A run of one byte: long strings, many elements, deep nesting.
            let at = rng.below(len + 1);
            let byte = if rng.below(2) == 0 {
                input[rng.below(len)]
            } else {
                rng.next_u64() as u8
            };
            let n = 1 << rng.below(12);
            input.splice(at..at, std::iter::repeat_n(byte, n));
        }
        11 if len > 1 => {
            // Two ranges swapped (reordered frames, records or fields).
            let a = rng.below(len);
            let b = rng.below(len);
            let (a, b) = (a.min(b), a.max(b));
            let n = 1 + rng.below((b - a).clamp(1, 64));
            if b + n <= len && a + n <= b {
                for i in 0..n {
                    input.swap(a + i, b + i);
                }
            }
        }
        _ => {
            let at = rng.below(len + 1);
            input.insert(at, rng.next_u64() as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_bounds_from_any_start() {
        let mut rng = Rng::new(7);
        let others = vec![vec![], vec![1, 2, 3], vec![0; 5000]];
        for start in [vec![], vec![9], vec![0x80; 300]] {
            let mut input = start.clone();
            for _ in 0..2000 {
                mutate(&mut rng, &mut input, &others);
                assert!(input.len() <= MAX_LEN);
                if input.len() > 100_000 {
                    input = start.clone();
                }
            }
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_mutations() {
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut input = b"hello, world".to_vec();
            mutate(&mut rng, &mut input, &[]);
            input
        };
        assert_eq!(run(1), run(1));
    }
}
