//! The callers waiting on this node's operations, with their deadlines.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::error::RegisterError;
use super::stats::{add, Counters};
use crate::register::{Completion, Key, OpId, Outcome, Value};

/// Where an operation's result goes.
pub(super) enum Reply {
    Read(oneshot::Sender<Result<Value, RegisterError>>),
    Write(oneshot::Sender<Result<(), RegisterError>>),
    Keys(oneshot::Sender<Result<Vec<Key>, RegisterError>>),
}

impl Reply {
    fn fail(self, error: RegisterError) {
        // A caller that stopped waiting has nothing to be told.
        match self {
            Reply::Read(tx) => {
                let _ = tx.send(Err(error));
            }
            Reply::Write(tx) => {
                let _ = tx.send(Err(error));
            }
            Reply::Keys(tx) => {
                let _ = tx.send(Err(error));
            }
        }
    }
}

struct Waiter {
    reply: Reply,
    deadline: Instant,
    /// Whether this read has begun writing its value back.
    writing_back: bool,
}

pub(super) struct PendingOps {
    /// In start order, which is deadline order: every operation gets the
    /// same timeout, and op sequence numbers grow with time.
    waiters: BTreeMap<OpId, Waiter>,
    timeout: Duration,
    counters: Arc<Counters>,
}

impl PendingOps {
    pub(super) fn new(timeout: Duration, counters: Arc<Counters>) -> Self {
        Self {
            waiters: BTreeMap::new(),
            timeout,
            counters,
        }
    }

    pub(super) fn insert(&mut self, op: OpId, reply: Reply, now: Instant) {
        let waiter = Waiter {
            reply,
            deadline: now + self.timeout,
            writing_back: false,
        };
        self.waiters.insert(op, waiter);
    }

    pub(super) fn complete(&mut self, completion: Completion) {
        // Gone if it expired while the last replies were on their way.
        let Some(waiter) = self.waiters.remove(&completion.op) else {
            return;
        };
        match (waiter.reply, completion.outcome) {
            (Reply::Read(tx), Outcome::Read(versioned)) => {
                add(&self.counters.reads, 1);
                let _ = tx.send(Ok(versioned.value));
            }
            (Reply::Write(tx), Outcome::Written(_)) => {
                add(&self.counters.writes, 1);
                let _ = tx.send(Ok(()));
            }
            (Reply::Keys(tx), Outcome::Keys(keys)) => {
                let _ = tx.send(Ok(keys));
            }
            (Reply::Read(_), _) | (Reply::Write(_), _) | (Reply::Keys(_), _) => {
                unreachable!("the coordinator completes each operation with its kind of outcome")
            }
        }
    }

    /// Notes that `op` sent an update: for a read, the second round trip.
    pub(super) fn sent_update(&mut self, op: OpId) {
        if let Some(waiter) = self.waiters.get_mut(&op) {
            if matches!(waiter.reply, Reply::Read(_)) && !waiter.writing_back {
                waiter.writing_back = true;
                add(&self.counters.read_write_backs, 1);
            }
        }
    }

    /// Fails the operations whose deadline has passed; `cancel` makes the
    /// coordinator forget each.
    pub(super) fn expire(&mut self, now: Instant, mut cancel: impl FnMut(OpId)) {
        while let Some(entry) = self.waiters.first_entry() {
            if entry.get().deadline > now {
                break;
            }
            let (op, waiter) = entry.remove_entry();
            cancel(op);
            waiter.reply.fail(RegisterError::NoQuorum(self.timeout));
        }
    }
}
