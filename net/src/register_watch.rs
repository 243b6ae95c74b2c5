//! This node's view of a record the whole cluster shares (the operator
//! list, the world's rules), kept fresh for what players are shown.
//!
//! Whether a player may run a command is decided by reading its op level
//! from the register when the command runs, so an op or deop anywhere in the
//! cluster holds at once. What players are shown (the command tree, the
//! sky) may lag: every node reads each record once a [`POLL_EVERY`] (one
//! quorum read per node and record, however many players), and those who
//! follow it are told of a change. A change made on this node is read at
//! once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tessera_auth::accounts::records::{Ops, WorldRules};
use tessera_auth::accounts::{AccountError, Accounts};
use tokio::sync::{watch, Notify};
use tracing::debug;

pub const POLL_EVERY: Duration = Duration::from_secs(1);

pub struct RegisterWatch<T> {
    latest: watch::Receiver<Arc<T>>,
    nudge: Arc<Notify>,
}

pub type OpsWatch = RegisterWatch<Ops>;
pub type RulesWatch = RegisterWatch<WorldRules>;

impl OpsWatch {
    pub fn ops(accounts: Arc<Accounts>) -> Self {
        Self::start("the operator list", move || {
            let accounts = accounts.clone();
            async move { accounts.ops().await }
        })
    }
}

impl RulesWatch {
    pub fn world_rules(accounts: Arc<Accounts>) -> Self {
        Self::start("the world's rules", move || {
            let accounts = accounts.clone();
            async move { accounts.world_rules().await }
        })
    }
}

impl<T: PartialEq + Default + Send + Sync + 'static> RegisterWatch<T> {
    /// Starts reading with `read`; it stops when the last follower and this
    /// watch are gone.
    fn start<R, F>(what: &'static str, read: R) -> Self
    where
        R: Fn() -> F + Send + 'static,
        F: Future<Output = Result<T, AccountError>> + Send + 'static,
    {
        let (sender, latest) = watch::channel(Arc::new(T::default()));
        let nudge = Arc::new(Notify::new());
        tokio::spawn(poll(what, read, sender, nudge.clone()));
        Self { latest, nudge }
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<T>> {
        self.latest.clone()
    }

    /// The record as last read.
    pub fn current(&self) -> Arc<T> {
        self.latest.borrow().clone()
    }

    /// Reads the record now: it was just changed on this node.
    pub fn refresh(&self) {
        self.nudge.notify_one();
    }
}

async fn poll<T, R, F>(what: &str, read: R, sender: watch::Sender<Arc<T>>, nudge: Arc<Notify>)
where
    T: PartialEq,
    R: Fn() -> F,
    F: Future<Output = Result<T, AccountError>>,
{
    let mut every = tokio::time::interval(POLL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !sender.is_closed() {
        tokio::select! {
            _ = every.tick() => {}
            () = nudge.notified() => {}
        }
        match read().await {
            Ok(value) => {
                sender.send_if_modified(|held| {
                    let changed = **held != value;
                    if changed {
                        *held = Arc::new(value);
                    }
                    changed
                });
            }
            // The next poll tries again; commands read the register anyway.
            Err(error) => debug!(%error, "cannot read {what}"),
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
        let watch = OpsWatch::ops(accounts.clone());
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

    #[tokio::test]
    async fn the_world_rules_are_followed_too() {
        let accounts = Arc::new(Accounts::new(Arc::new(MemoryRegisters::default())));
        let watch = RulesWatch::world_rules(accounts.clone());
        let mut rules = watch.subscribe();
        accounts
            .edit_world_rules(|r| r.difficulty = Some(3))
            .await
            .unwrap();
        watch.refresh();
        tokio::time::timeout(POLL_EVERY / 2, rules.changed())
            .await
            .expect("the nudge reads the rules")
            .unwrap();
        assert_eq!(watch.current().difficulty, Some(3));
    }
}
