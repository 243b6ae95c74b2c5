//! Serde for protocol types that only know the Minecraft wire format:
//! they travel between nodes as their protocol encoding.

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use valence_protocol::{Decode, Encode};

/// `#[serde(with = "crate::wire::protocol")]` for any type with the
/// protocol's `Encode` and owned `Decode`.
pub mod protocol {
    use super::*;

    pub fn serialize<T: Encode, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = Vec::new();
        value.encode(&mut buf).map_err(S::Error::custom)?;
        s.serialize_bytes(&buf)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: for<'a> Decode<'a>,
        D: Deserializer<'de>,
    {
        let bytes: Vec<u8> = serde_bytes_vec(d)?;
        let mut r = bytes.as_slice();
        let value = T::decode(&mut r).map_err(D::Error::custom)?;
        if !r.is_empty() {
            return Err(D::Error::custom("trailing bytes after a protocol value"));
        }
        Ok(value)
    }

    fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("protocol bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

/// Block states as their raw state id.
pub mod block_state {
    use valence_protocol::BlockState;

    use super::*;

    pub fn serialize<S: Serializer>(state: &BlockState, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(state.to_raw())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BlockState, D::Error> {
        let raw = u16::deserialize(d)?;
        BlockState::from_raw(raw).ok_or_else(|| D::Error::custom(format!("no block state {raw}")))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use valence_protocol::{BlockPos, BlockState, GameMode, ItemKind, ItemStack};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "super::protocol")]
        pos: BlockPos,
        #[serde(with = "super::protocol")]
        mode: GameMode,
        #[serde(with = "super::protocol")]
        items: Vec<Option<ItemStack>>,
        #[serde(with = "super::block_state")]
        state: BlockState,
    }

    #[test]
    fn protocol_types_round_trip_through_postcard() {
        let sample = Sample {
            pos: BlockPos::new(-5, 70, 1 << 20),
            mode: GameMode::Creative,
            items: vec![None, Some(ItemStack::new(ItemKind::Stone, 12, None))],
            state: BlockState::OAK_LOG,
        };
        let bytes = postcard::to_allocvec(&sample).unwrap();
        assert_eq!(postcard::from_bytes::<Sample>(&bytes).unwrap(), sample);
    }
}
