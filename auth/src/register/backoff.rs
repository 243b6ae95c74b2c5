//! Exponential backoff between attempts at something that keeps failing,
//! such as reopening a store on a full disk.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    /// The wait after the next failure.
    next: Duration,
    /// No attempt before this instant; `None` after a success.
    not_before: Option<Instant>,
}

impl Backoff {
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
            not_before: None,
        }
    }

    /// How long to wait before the next attempt; zero if it may run now.
    pub(crate) fn wait(&self, now: Instant) -> Duration {
        self.not_before
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now))
    }

    /// Notes a failure at `now`: the next attempt waits longer than the last.
    pub(crate) fn failed(&mut self, now: Instant) -> Duration {
        let wait = self.next;
        self.not_before = Some(now + wait);
        self.next = (wait * 2).min(self.max);
        wait
    }

    /// Notes a success: the next failure waits the shortest time again.
    pub(crate) fn succeeded(&mut self) {
        self.next = self.first;
        self.not_before = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_reset_on_success() {
        let ms = Duration::from_millis;
        let now = Instant::now();
        let mut backoff = Backoff::new(ms(100), ms(350));
        assert_eq!(backoff.wait(now), Duration::ZERO);
        assert_eq!(backoff.failed(now), ms(100));
        assert_eq!(backoff.wait(now), ms(100));
        assert_eq!(backoff.wait(now + ms(100)), Duration::ZERO);
        assert_eq!(backoff.failed(now), ms(200));
        assert_eq!(backoff.failed(now), ms(350));
        assert_eq!(backoff.failed(now), ms(350));
        backoff.succeeded();
        assert_eq!(backoff.wait(now), Duration::ZERO);
        assert_eq!(backoff.failed(now), ms(100));
    }
}
