//! The task that owns one node's coordinator and replica. Each turn of its
//! loop takes in whatever is waiting (callers' operations, peers' frames, a
//! finished commit, the ticker), runs it through the state machines, handles
//! the node's messages to itself at once, and sends the rest in one batch
//! per peer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tessera_cluster::transport;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

use super::commit::CommitError;
use super::error::RegisterError;
use super::local_replica::LocalReplica;
use super::pending::{PendingOps, Reply};
use super::wire::{self, Outbound};
use crate::register::{
    Coordinator, Durable, Envelope, Key, Message, NodeId, Store, ToReplica, Value,
};

/// What a [`RegisterNode`](super::RegisterNode) handle asks of the task.
pub(super) enum Command {
    Read {
        key: Key,
        reply: oneshot::Sender<Result<Value, RegisterError>>,
    },
    Write {
        key: Key,
        value: Value,
        reply: oneshot::Sender<Result<(), RegisterError>>,
    },
    Keys {
        prefix: Key,
        reply: oneshot::Sender<Result<Vec<Key>, RegisterError>>,
    },
    Stop,
}

/// The most commands, or frames, one turn takes: enough to batch a burst,
/// few enough that neither source starves the other.
const TURN: usize = 256;

pub(super) struct NodeTask<S: Store> {
    pub(super) id: NodeId,
    pub(super) coordinator: Coordinator,
    /// `None` on a node outside the replica group.
    pub(super) replica: Option<LocalReplica<S>>,
    pub(super) pending: PendingOps,
    pub(super) outbound: Outbound,
    pub(super) tick_interval: Duration,
    /// The clock the state machines' `tick` takes.
    pub(super) started: Instant,
    pub(super) ready: Arc<AtomicBool>,
}

/// The turn's work in progress: what the state machines want sent, and the
/// node's messages to itself.
#[derive(Default)]
struct Turn {
    send: Vec<Envelope>,
    local: VecDeque<Message>,
}

impl<S: Store + Send + 'static> NodeTask<S> {
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut inbox: mpsc::Receiver<transport::Envelope>,
    ) {
        let mut ticker = tokio::time::interval(self.tick_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut taken_commands = Vec::with_capacity(TURN);
        let mut frames = Vec::with_capacity(TURN);
        let mut turn = Turn::default();
        loop {
            tokio::select! {
                n = commands.recv_many(&mut taken_commands, TURN) => {
                    // Zero: every handle is gone.
                    let stop = n == 0 || self.on_commands(&mut taken_commands, &mut turn);
                    if stop {
                        break;
                    }
                }
                n = inbox.recv_many(&mut frames, TURN) => {
                    if n == 0 {
                        warn!("the transport closed; the register node stops");
                        break;
                    }
                    for frame in frames.drain(..) {
                        self.on_frame(&frame, &mut turn);
                    }
                }
                result = commit_finished(&mut self.replica) => {
                    if let Some(replica) = &mut self.replica {
                        replica.on_commit(result, &mut turn.send);
                    }
                }
                _ = ticker.tick() => self.on_tick(&mut turn),
            }
            self.finish_turn(&mut turn);
        }
        // Dropping the pending operations tells their callers the node stopped.
        if let Some(replica) = self.replica.take() {
            replica.close().await;
        }
        debug!("register node stopped");
    }

    /// Starts the operations; true if told to stop.
    fn on_commands(&mut self, commands: &mut Vec<Command>, turn: &mut Turn) -> bool {
        let now = Instant::now();
        for command in commands.drain(..) {
            let (op, send, reply) = match command {
                Command::Read { key, reply } => {
                    let (op, send) = self.coordinator.read(key);
                    (op, send, Reply::Read(reply))
                }
                Command::Write { key, value, reply } => {
                    let (op, send) = self.coordinator.write(key, value);
                    (op, send, Reply::Write(reply))
                }
                Command::Keys { prefix, reply } => {
                    let (op, send) = self.coordinator.keys(prefix);
                    (op, send, Reply::Keys(reply))
                }
                Command::Stop => return true,
            };
            self.pending.insert(op, reply, now);
            turn.send.extend(send);
        }
        false
    }

    fn on_frame(&mut self, frame: &transport::Envelope, turn: &mut Turn) {
        let from = frame.from;
        for msg in wire::decode(&frame.body) {
            match msg {
                Ok(msg) => self.deliver(from, msg, turn),
                Err(error) => warn!(%from, %error, "dropping an undecodable register message"),
            }
        }
    }

    fn deliver(&mut self, from: NodeId, msg: Message, turn: &mut Turn) {
        match msg {
            Message::ToReplica(msg) => {
                if let Some(replica) = &mut self.replica {
                    replica.on_message(from, msg, &mut turn.send);
                }
            }
            Message::ToCoordinator(msg) => {
                let outbox = self.coordinator.on_message(from, msg);
                turn.send.extend(outbox.send);
                for completion in outbox.completed {
                    self.pending.complete(completion);
                }
            }
        }
    }

    fn on_tick(&mut self, turn: &mut Turn) {
        let now = self.started.elapsed();
        turn.send.extend(self.coordinator.tick(now));
        if let Some(replica) = &mut self.replica {
            replica.tick(now, &mut turn.send);
        }
        let coordinator = &mut self.coordinator;
        self.pending.expire(Instant::now(), |op| {
            coordinator.cancel(op);
        });
    }

    /// Routes what the turn produced until nothing local is left, then sends
    /// one batch per peer.
    fn finish_turn(&mut self, turn: &mut Turn) {
        loop {
            let writer = self.coordinator.writer();
            for Envelope { to, msg } in turn.send.drain(..) {
                if let Message::ToReplica(ToReplica::Update { op, .. }) = &msg {
                    if op.coordinator == writer {
                        self.pending.sent_update(*op);
                    }
                }
                if to == self.id {
                    turn.local.push_back(msg);
                } else {
                    self.outbound.push(to, &msg);
                }
            }
            let Some(msg) = turn.local.pop_front() else {
                break;
            };
            self.deliver(self.id, msg, turn);
        }
        self.outbound.flush();
        let ready = self.replica.as_ref().is_none_or(LocalReplica::is_ready);
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// Resolves when the replica's running commit finishes; never without one.
async fn commit_finished<S: Store + Send + 'static>(
    replica: &mut Option<LocalReplica<S>>,
) -> Result<Durable, CommitError<S::Error>> {
    match replica {
        Some(replica) => replica.commit_finished().await,
        None => std::future::pending().await,
    }
}
