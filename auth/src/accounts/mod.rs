//! The authentication service: accounts (offline-mode passwords), bans,
//! the whitelist and operators, over the replicated register.

mod limiter;
mod password;
pub mod player_record;
mod players;
pub mod records;
mod registers;
mod service;
mod store_probe;
mod transfer;
pub mod vanilla;

pub use players::{PlayerRecords, StoredPlayer};
pub use registers::{
    LocalRegisters, MemoryRegisters, RegisterFuture, RegisterUnavailable, Registers,
};
pub use service::{now, now_ms, AccountError, Accounts, Admission, MIN_PASSWORD_LEN};
pub use transfer::{Counts, TransferError};
