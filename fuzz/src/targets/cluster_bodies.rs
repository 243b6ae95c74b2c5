//! The bodies of the envelopes other nodes send to this node's regions and
//! sessions (`Topic::Region` and `Topic::Session`), decoded as the server's
//! links decode them: postcard, with protocol values (items, block
//! positions, game modes) inside in their wire encoding.

use tessera_world::coords::RegionPos;
use tessera_world::messages::{NodeBatch, RegionMsg, SessionId, ToSession};

/// The server's `ToRegion { region, msg }`, field for field: postcard
/// encodes a struct as its fields in order.
type ToRegion = (RegionPos, RegionMsg);

/// The server's `ToSessions`: postcard writes the variant's index, then its
/// fields, `One { session, msg }` (0) or `Batch(NodeBatch)` (1).
pub fn cluster_bodies(data: &[u8]) {
    let _ = postcard::from_bytes::<ToRegion>(data);
    match postcard::take_from_bytes::<u32>(data) {
        Ok((0, one)) => {
            let _ = postcard::from_bytes::<(SessionId, ToSession)>(one);
        }
        Ok((1, batch)) => {
            let _ = postcard::from_bytes::<NodeBatch>(batch);
        }
        _ => {}
    }
}
