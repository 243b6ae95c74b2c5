//! Whether a replica's store can persist, for metrics and readiness.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Shared view of a store's health. The store updates it; the admin
/// interface reads it. Cloning shares the same counters.
#[derive(Clone, Debug, Default)]
pub struct StoreHealth(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    errors: AtomicU64,
    failing: AtomicBool,
}

impl StoreHealth {
    pub fn new() -> Self {
        Self::default()
    }

    /// I/O errors the store has met since it was opened (failed commits and
    /// failed reopens).
    pub fn errors(&self) -> u64 {
        self.0.errors.load(Ordering::Relaxed)
    }

    /// True from a failed commit or reopen until the next commit succeeds:
    /// meanwhile nothing new is persisted, so nothing new is acknowledged.
    pub fn is_failing(&self) -> bool {
        self.0.failing.load(Ordering::Relaxed)
    }

    pub(crate) fn record_error(&self) {
        self.0.errors.fetch_add(1, Ordering::Relaxed);
        self.0.failing.store(true, Ordering::Relaxed);
    }

    pub(crate) fn record_success(&self) {
        self.0.failing.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_lasts_from_an_error_to_the_next_success() {
        let health = StoreHealth::new();
        let seen = health.clone();
        assert!(!seen.is_failing());
        health.record_error();
        health.record_error();
        assert!(seen.is_failing());
        assert_eq!(seen.errors(), 2);
        health.record_success();
        assert!(!seen.is_failing());
        assert_eq!(seen.errors(), 2, "the counter only grows");
    }
}
