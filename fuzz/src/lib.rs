//! Fuzzing Tessera on the stable toolchain: the targets (one decoder of
//! untrusted bytes each), the committed corpus they start from, and a
//! mutation driver that runs them for a bounded time. See `README.md`.

pub mod alloc;
pub mod corpus;
pub mod coverage;
pub mod driver;
pub mod mutate;
pub mod targets;
