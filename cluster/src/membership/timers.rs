//! Foca's timer events, kept in a heap by due instant and fired by the
//! actor's own loop: no task per timer, nothing left running when the actor
//! ends, and events come back in the order they fall due.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

use tokio::time::Instant;

pub(crate) struct Timers<T> {
    heap: BinaryHeap<Reverse<Due<T>>>,
    /// Keeps events due at the same instant in the order they were set.
    next_seq: u64,
}

struct Due<T> {
    at: Instant,
    seq: u64,
    event: T,
}

impl<T> Timers<T> {
    pub(crate) fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn schedule(&mut self, event: T, after: Duration) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Due {
            at: Instant::now() + after,
            seq,
            event,
        }));
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(due)| due.at)
    }

    /// The earliest event due at `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.next_deadline()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(due)| due.event)
    }
}

impl<T> PartialEq for Due<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Due<T> {}

impl<T> PartialOrd for Due<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Due<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fire_in_due_order_and_not_before() {
        let start = Instant::now();
        let mut timers = Timers::new();
        timers.schedule("late", Duration::from_millis(30));
        timers.schedule("early", Duration::from_millis(10));
        timers.schedule("early too", Duration::from_millis(10));
        assert_eq!(timers.pop_due(start), None);
        assert!(timers.next_deadline().unwrap() >= start + Duration::from_millis(10));

        let later = start + Duration::from_secs(1);
        assert_eq!(timers.pop_due(later), Some("early"));
        assert_eq!(timers.pop_due(later), Some("early too"));
        assert_eq!(timers.pop_due(later), Some("late"));
        assert_eq!(timers.pop_due(later), None);
        assert_eq!(timers.next_deadline(), None);
    }
}
