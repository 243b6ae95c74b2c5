//! This node's view of the operator list, kept fresh for the command trees
//! players are sent.
//!
//! Whether a player may run a command is decided by reading its op level
//! from the register when the command runs, so an op or deop anywhere in the
//! cluster holds at once. The command tree is only what the client offers
//! to complete, so it may lag: every node reads the list once a
//! [`POLL_EVERY`] (one quorum read per node, however many players) and
//! sessions whose level changed are sent a new tree, as vanilla does on
//! /op. A change made on this node is read at once.

use std::sync::Arc;
use std::time::Duration;

use tessera_auth::accounts::records::Ops;
use tessera_auth::accounts::Accounts;
use tokio::sync::{watch, Notify};
use tracing::debug;

pub const POLL_EVERY: Duration = Duration::from_secs(1);

pub struct OpsWatch {
    latest: watch::Receiver<Arc<Ops>>,
    nudge: Arc<Notify>,
}

impl OpsWatch {
    /// Starts reading the list; it stops when the last session and this
    /// watch are gone.
    pub fn start(accounts: Arc<Accounts>) -> Self {
        let (sender, latest) = watch::channel(Arc::new(Ops::default()));
        let nudge = Arc::new(Notify::new());
        tokio::spawn(poll(accounts, sender, nudge.clone()));
        Self { latest, nudge }
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Ops>> {
        self.latest.clone()
    }

    /// Reads the list now: it was just changed on this node.
    pub fn refresh(&self) {
        self.nudge.notify_one();
    }
}

async fn poll(accounts: Arc<Accounts>, sender: watch::Sender<Arc<Ops>>, nudge: Arc<Notify>) {
    let mut every = tokio::time::interval(POLL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !sender.is_closed() {
        tokio::select! {
            _ = every.tick() => {}
            () = nudge.notified() => {}
        }
        match accounts.ops().await {
            Ok(ops) => {
                sender.send_if_modified(|held| {
                    let changed = **held != ops;
                    if changed {
                        *held = Arc::new(ops);
                    }
                    changed
                });
            }
            // The next poll tries again; commands read the register anyway.
            Err(error) => debug!(%error, "cannot read the operator list"),
        }
    }
}

#[cfg(test)]
mod tests {
    use tessera_auth::accounts::MemoryRegisters;

    use super::*;

    #[tokio::test]
    async fn an_op_made_here_is_seen_at_once() {
        let accounts = Arc::new(Accounts::new(Arc::new(MemoryRegisters::default())));
        let watch = OpsWatch::start(accounts.clone());
        let mut ops = watch.subscribe();
        accounts
            .edit_ops(|o| o.entries.push(("u1".into(), "Alex".into(), 4)))
            .await
            .unwrap();
        watch.refresh();
        tokio::time::timeout(POLL_EVERY / 2, ops.changed())
            .await
            .expect("the nudge reads the list before the next poll")
            .unwrap();
        assert_eq!(ops.borrow_and_update().level("u1"), 4);
        accounts.edit_ops(|o| o.entries.clear()).await.unwrap();
        tokio::time::timeout(POLL_EVERY * 3, ops.changed())
            .await
            .expect("a change made elsewhere is read within a poll")
            .unwrap();
        assert_eq!(ops.borrow().level("u1"), 0);
    }
}
