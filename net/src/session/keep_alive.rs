//! Keep-alives: one outstanding at a time, sent every ten seconds; a client
//! that leaves one unanswered for thirty is timed out, as vanilla does.

use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct KeepAlive {
    /// The id sent and when, until the client answers it.
    waiting: Option<(u64, Instant)>,
    last_sent: Instant,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Due {
    Nothing,
    /// Send a keep-alive with this id now.
    Send(u64),
    /// The client left the last one unanswered too long.
    TimedOut,
}

impl KeepAlive {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            waiting: None,
            last_sent: now,
        }
    }

    /// What is due at `now`; a keep-alive to send takes the id `fresh` makes.
    pub(super) fn due(&mut self, now: Instant, fresh: impl FnOnce() -> u64) -> Due {
        match self.waiting {
            Some((_, sent)) if now.saturating_duration_since(sent) > TIMEOUT => Due::TimedOut,
            Some(_) => Due::Nothing,
            None if now.saturating_duration_since(self.last_sent) >= EVERY => {
                let id = fresh();
                self.waiting = Some((id, now));
                self.last_sent = now;
                Due::Send(id)
            }
            None => Due::Nothing,
        }
    }

    /// The client answered `id`; an answer to anything else changes nothing.
    pub(super) fn answered(&mut self, id: u64) {
        if self.waiting.is_some_and(|(expected, _)| expected == id) {
            self.waiting = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_sent_every_ten_seconds_while_the_client_answers() {
        let start = Instant::now();
        let mut keep_alive = KeepAlive::new(start);
        assert_eq!(
            keep_alive.due(start + Duration::from_secs(9), || 1),
            Due::Nothing
        );
        assert_eq!(keep_alive.due(start + EVERY, || 1), Due::Send(1));
        assert_eq!(
            keep_alive.due(start + EVERY * 2, || 2),
            Due::Nothing,
            "one at a time"
        );
        keep_alive.answered(1);
        assert_eq!(keep_alive.due(start + EVERY * 2, || 2), Due::Send(2));
    }

    #[test]
    fn a_client_that_does_not_answer_times_out_and_a_wrong_answer_does_not_count() {
        let start = Instant::now();
        let mut keep_alive = KeepAlive::new(start);
        assert_eq!(keep_alive.due(start + EVERY, || 7), Due::Send(7));
        keep_alive.answered(8);
        let sent = start + EVERY;
        assert_eq!(keep_alive.due(sent + TIMEOUT, || 9), Due::Nothing);
        assert_eq!(
            keep_alive.due(sent + TIMEOUT + Duration::from_millis(1), || 9),
            Due::TimedOut
        );
    }
}
