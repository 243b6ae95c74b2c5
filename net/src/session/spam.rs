//! Chat and command flood control, as vanilla counts it: each message adds
//! to a score that drains by one every tick; past the threshold the client
//! is kicked. A player may send a burst of ten and one a second after that.

use std::time::Instant;

/// What one chat message or command adds.
const PER_MESSAGE: f64 = 20.0;
/// What the score loses per second (one per tick).
const DRAIN_PER_SECOND: f64 = 20.0;
/// Past this score the client is kicked.
const THRESHOLD: f64 = 200.0;

pub const SPAM_KICK: &str = "Kicked for spamming";

pub(super) struct SpamScore {
    score: f64,
    at: Instant,
}

impl SpamScore {
    pub fn new() -> Self {
        Self {
            score: 0.0,
            at: Instant::now(),
        }
    }

    /// Counts one message sent at `now`; false once the player is over the limit.
    pub fn message(&mut self, now: Instant) -> bool {
        let drained = now.saturating_duration_since(self.at).as_secs_f64() * DRAIN_PER_SECOND;
        self.score = (self.score - drained).max(0.0) + PER_MESSAGE;
        self.at = now;
        self.score <= THRESHOLD
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_of_ten_passes_and_the_eleventh_does_not() {
        let now = Instant::now();
        let mut spam = SpamScore::new();
        assert!((0..10).all(|_| spam.message(now)));
        assert!(!spam.message(now));
    }

    #[test]
    fn one_message_a_second_goes_on_for_ever() {
        let start = Instant::now();
        let mut spam = SpamScore::new();
        assert!((0..1000).all(|i| spam.message(start + Duration::from_secs(i))));
    }
}
