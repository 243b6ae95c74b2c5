//! Region placement: which node owns which region.

mod table;

pub use table::{Applied, Command, Ownership, PlacementTable, RegionKey};
