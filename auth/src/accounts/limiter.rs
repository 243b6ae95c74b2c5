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
    /// Counts an attempt for `key` before it is checked, so a burst of
    /// attempts sent at once gets no further than one sent at a time: true
    /// if it may go ahead. One that did not fail is given back with
    /// [`FailureLimiter::cancel`] or [`FailureLimiter::succeeded`].
    pub fn begin(&self, key: &str) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        let entry = failures
            .entry(key.to_owned())
            .or_insert((0, Instant::now()));
        if entry.0 >= MAX_FAILURES {
            return false;
        }
        entry.0 += 1;
        true
    }

    /// An attempt counted by `begin` that did not fail.
    pub fn cancel(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((count, _)) = failures.get_mut(key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                failures.remove(key);
            }
        }
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
    fn attempts_count_before_they_are_checked() {
        let limiter = FailureLimiter::default();
        let started = (0..100).filter(|_| limiter.begin("name:alice")).count();
        assert_eq!(started as u32, MAX_FAILURES);
        limiter.cancel("name:alice");
        assert!(
            limiter.begin("name:alice"),
            "a cancelled attempt is given back"
        );
        assert!(!limiter.begin("name:alice"));
        limiter.succeeded("name:alice");
        assert!(limiter.begin("name:alice"));
    }

    #[test]
    fn five_failures_lock_a_key_and_a_success_unlocks_it() {
        let limiter = FailureLimiter::default();
        for _ in 0..MAX_FAILURES {
            assert!(limiter.begin("name:alice"));
        }
        assert!(!limiter.begin("name:alice"));
        assert!(limiter.begin("name:bob"));
        limiter.succeeded("name:alice");
        assert!(limiter.begin("name:alice"));
    }
}
