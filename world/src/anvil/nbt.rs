//! Binary NBT from files, parsed within a budget of values. An empty
//! compound takes one byte of NBT and dozens of bytes once parsed, so a list
//! of millions of them (a region chunk of a few kilobytes, zlib-compressed)
//! would otherwise become gigabytes in memory; the values are counted in a
//! pass over the bytes first, without allocating.

use valence_protocol::nbt::Compound;

/// Values (compound entries, and elements of lists of strings, arrays,
/// lists or compounds) one file may hold. A vanilla chunk holds thousands,
/// a level.dat or player file hundreds; this many take a few hundred MiB.
pub const MAX_VALUES: usize = 1 << 21;
/// As deep as valence_nbt nests before it refuses.
const MAX_DEPTH: usize = 512;

/// The root compound of `binary`, refused if it holds more than
/// `MAX_VALUES` values.
pub fn parse(binary: &[u8]) -> Result<Compound, String> {
    let mut scan = Scan {
        rest: binary,
        values: 0,
    };
    scan.root()?;
    let (nbt, _) = Compound::from_binary(&mut &binary[..]).map_err(|e| e.to_string())?;
    Ok(nbt)
}

struct Scan<'a> {
    rest: &'a [u8],
    values: usize,
}

const TRUNCATED: &str = "the NBT ends early";

impl Scan<'_> {
    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.rest = self.rest.get(n..).ok_or(TRUNCATED)?;
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, String> {
        let (&byte, rest) = self.rest.split_first().ok_or(TRUNCATED)?;
        self.rest = rest;
        Ok(byte)
    }

    fn u16(&mut self) -> Result<usize, String> {
        Ok(usize::from(u16::from_be_bytes([self.u8()?, self.u8()?])))
    }

    /// A length; a negative one fails here as it does in the parser.
    fn len(&mut self) -> Result<usize, String> {
        let len = i32::from_be_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]);
        usize::try_from(len).map_err(|_| format!("a negative NBT length {len}"))
    }

    /// `n` elements of `size` bytes each.
    fn skip_elements(&mut self, n: usize, size: usize) -> Result<(), String> {
        self.skip(n.checked_mul(size).ok_or(TRUNCATED)?)
    }

    fn value(&mut self) -> Result<(), String> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(format!("its NBT holds more than {MAX_VALUES} values"));
        }
        Ok(())
    }

    fn root(&mut self) -> Result<(), String> {
        if self.u8()? != 10 {
            return Err("the NBT's root is not a compound".into());
        }
        let name = self.u16()?;
        self.skip(name)?;
        self.payload(10, 0)
    }

    fn payload(&mut self, tag: u8, depth: usize) -> Result<(), String> {
        match tag {
            0 => Ok(()),
            1 => self.skip(1),
            2 => self.skip(2),
            3 | 5 => self.skip(4),
            4 | 6 => self.skip(8),
            7 => {
                let n = self.len()?;
                self.skip(n)
            }
            8 => {
                let n = self.u16()?;
                self.skip(n)
            }
            9 => {
                if depth >= MAX_DEPTH {
                    return Err("the NBT nests too deep".into());
                }
                let element = self.u8()?;
                let n = self.len()?;
                match element {
                    1 => self.skip_elements(n, 1),
                    2 => self.skip_elements(n, 2),
                    3 | 5 => self.skip_elements(n, 4),
                    4 | 6 => self.skip_elements(n, 8),
                    _ => {
                        for _ in 0..n {
                            self.value()?;
                            self.payload(element, depth + 1)?;
                        }
                        Ok(())
                    }
                }
            }
            10 => {
                if depth >= MAX_DEPTH {
                    return Err("the NBT nests too deep".into());
                }
                loop {
                    let tag = self.u8()?;
                    if tag == 0 {
                        return Ok(());
                    }
                    self.value()?;
                    let name = self.u16()?;
                    self.skip(name)?;
                    self.payload(tag, depth + 1)?;
                }
            }
            11 => {
                let n = self.len()?;
                self.skip_elements(n, 4)
            }
            12 => {
                let n = self.len()?;
                self.skip_elements(n, 8)
            }
            other => Err(format!("an unknown NBT tag {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use valence_protocol::nbt::{List, Value};

    use super::*;

    fn binary(nbt: &Compound) -> Vec<u8> {
        let mut out = Vec::new();
        nbt.to_binary(&mut out, "").unwrap();
        out
    }

    #[test]
    fn what_the_encoder_writes_parses_back() {
        let mut inner = Compound::new();
        inner.insert("name", "minecraft:stone".to_owned());
        let mut nbt = Compound::new();
        nbt.insert("DataVersion", 3465);
        nbt.insert("longs", Value::LongArray(vec![1, 2, 3]));
        nbt.insert("doubles", List::Double(vec![0.5; 1000]));
        nbt.insert("palette", List::Compound(vec![inner.clone(), inner]));
        nbt.insert("names", List::String(vec!["a".into(), "b".into()]));
        nbt.insert("bytes", Value::ByteArray(vec![1; 10]));
        assert_eq!(parse(&binary(&nbt)).unwrap(), nbt);
        assert!(parse(&binary(&nbt)[..20]).is_err());
    }

    #[test]
    fn a_list_of_millions_of_empty_compounds_is_refused_before_it_is_built() {
        let n = MAX_VALUES + 1;
        let mut bomb = vec![10, 0, 0, 9, 0, 1, b'x', 10];
        bomb.extend((n as i32).to_be_bytes());
        bomb.resize(bomb.len() + n, 0);
        bomb.push(0);
        let refused = parse(&bomb).unwrap_err();
        assert!(refused.contains("more than"), "{refused}");
        // Scalars are as compact parsed as in the file: not counted.
        let mut doubles = vec![10, 0, 0, 9, 0, 1, b'x', 6];
        doubles.extend((n as i32).to_be_bytes());
        doubles.resize(doubles.len() + n * 8, 0);
        doubles.push(0);
        assert!(parse(&doubles).is_ok());
    }
}
