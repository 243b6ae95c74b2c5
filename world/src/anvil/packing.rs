//! Packed arrays of small integers in longs, the way Anvil stores palette
//! indices and heightmaps since 1.16: entries never span two longs, so a
//! long holds `64 / bits` entries and its top bits may stay unused.

/// Longs needed for `count` entries of `bits` bits each.
pub fn longs_for(count: usize, bits: u32) -> usize {
    let per_long = (64 / bits) as usize;
    count.div_ceil(per_long)
}

/// Packs `values` (each below `1 << bits`) into longs.
pub fn pack(values: impl ExactSizeIterator<Item = u64>, bits: u32) -> Vec<i64> {
    let per_long = (64 / bits) as usize;
    let mut longs = vec![0u64; longs_for(values.len(), bits)];
    for (i, value) in values.enumerate() {
        longs[i / per_long] |= value << ((i % per_long) as u32 * bits);
    }
    // NBT has only signed longs; the bit pattern is what counts.
    longs.into_iter().map(|l| l as i64).collect()
}

/// Unpacks `count` entries of `bits` bits; `None` when there are not exactly
/// as many longs as that needs (a file that does not match its palette).
pub fn unpack(longs: &[i64], bits: u32, count: usize) -> Option<Vec<u64>> {
    if !(1..=32).contains(&bits) || longs.len() != longs_for(count, bits) {
        return None;
    }
    let per_long = (64 / bits) as usize;
    let mask = (1u64 << bits) - 1;
    Some(
        (0..count)
            .map(|i| ((longs[i / per_long] as u64) >> ((i % per_long) as u32 * bits)) & mask)
            .collect(),
    )
}

/// Bits per palette index of block states: at least 4, as vanilla writes
/// them (and as vanilla insists on reading them).
pub fn block_bits(palette_len: usize) -> u32 {
    bits_for(palette_len).max(4)
}

/// ceil(log2(n)): 0 for a single entry.
fn bits_for(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heightmaps_take_37_longs_of_seven_entries() {
        assert_eq!(longs_for(256, 9), 37);
        let values: Vec<u64> = (0..256).map(|i| (i * 7) % 385).collect();
        let packed = pack(values.iter().copied(), 9);
        assert_eq!(packed.len(), 37);
        assert_eq!(unpack(&packed, 9, 256).unwrap(), values);
    }

    #[test]
    fn bits_follow_the_palette_size() {
        assert_eq!(block_bits(1), 4);
        assert_eq!(block_bits(16), 4);
        assert_eq!(block_bits(17), 5);
        assert_eq!(block_bits(300), 9);
        assert_eq!(bits_for(2), 1);
        assert_eq!(bits_for(3), 2);
        let values: Vec<u64> = (0..4096).map(|i| i % 17).collect();
        let packed = pack(values.iter().copied(), 5);
        assert_eq!(packed.len(), 4096 / 12 + 1);
        assert_eq!(unpack(&packed, 5, 4096).unwrap(), values);
        assert!(unpack(&packed[1..], 5, 4096).is_none());
    }
}
