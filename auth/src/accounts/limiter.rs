//! Slowing down password guessing: after a few failures for one name or
//! from one address, further attempts are refused for a while.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct FailureLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailureLimiter {
    /// True when `key` may try again.
    pub fn allowed(&self, key: &str) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        match failures.get(key) {
            Some((_, since)) if since.elapsed() >= WINDOW => {
                failures.remove(key);
                true
            }
            Some((count, _)) => *count < MAX_FAILURES,
            None => true,
        }
    }

    pub fn failed(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        let entry = failures
            .entry(key.to_owned())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_a_key_and_a_success_unlocks_it() {
        let limiter = FailureLimiter::default();
        for _ in 0..MAX_FAILURES {
            assert!(limiter.allowed("name:alice"));
            limiter.failed("name:alice");
        }
        assert!(!limiter.allowed("name:alice"));
        assert!(limiter.allowed("name:bob"));
        limiter.succeeded("name:alice");
        assert!(limiter.allowed("name:alice"));
    }
}
