//! Caps on what clients can make the frontend hold or do before anyone is
//! known: frame sizes, the bytes of incomplete frames before play, and
//! connections and status requests per address. Each refusal is counted
//! for `/metrics` and logged at most once an interval per address.

mod address;
mod admission;
mod bucket;
mod budget;
mod frame;
mod refusals;

use std::sync::Arc;

pub use address::AddressKey;
pub use admission::{AddressLimits, Admission, Admitted};
pub use bucket::TokenBucket;
pub use budget::{BudgetSpent, PrePlayBudget, Share};
pub use frame::{FrameError, FrameScanner, PROTOCOL_MAX_FRAME};
pub use refusals::{Refusal, Refusals};

/// The largest frame accepted before play. The largest legitimate ones are
/// the Velocity forwarding answer (a skin's signed properties, a few KiB)
/// and the handshake (a server address of up to 255 characters, about
/// 1 KiB); status, login start and the encryption answer are smaller.
pub const PRE_PLAY_MAX_FRAME: usize = 32 * 1024;

/// The bytes of incomplete frames all connections not yet in play may hold
/// together beyond the `budget::UNCHARGED` each holds on its own.
pub const PRE_PLAY_BUDGET: usize = 16 * 1024 * 1024;

#[derive(Debug)]
pub struct Limits {
    pub admission: Arc<Admission>,
    pub budget: Arc<PrePlayBudget>,
    pub refusals: Refusals,
}

impl Limits {
    pub fn new(per_address: AddressLimits) -> Arc<Self> {
        Arc::new(Self {
            admission: Admission::new(per_address),
            budget: PrePlayBudget::new(PRE_PLAY_BUDGET),
            refusals: Refusals::default(),
        })
    }
}
