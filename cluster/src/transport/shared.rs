//! The state a transport's handle and its tasks share: the peer table, the
//! topic inboxes, the requests awaiting replies, and the routing of envelopes
//! between them. It sits below both the `Transport` handle and the tasks that
//! dial, accept and carry connections, so each of those reaches it without
//! reaching the other.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::debug;

use super::net::Connector;
use super::peer::{Link, Peer};
use super::rpc::Rpc;
use super::stats::{add, Stats};
use super::{lock, Envelope, Kind, NodeId, RpcError, Topic, TransportConfig, TransportError};

/// Held by the `Transport` handle and by every task the transport starts.
pub(crate) struct Inner {
    pub(crate) id: NodeId,
    pub(crate) config: TransportConfig,
    pub(crate) stats: Stats,
    pub(crate) connector: Connector,
    pub(crate) local_addr: SocketAddr,
    pub(crate) peers: Mutex<HashMap<NodeId, Arc<Peer>>>,
    pub(crate) topics: Mutex<HashMap<Topic, mpsc::Sender<Envelope>>>,
    pub(crate) rpc: Rpc,
    next_link: AtomicU64,
    pub(crate) closed: watch::Sender<bool>,
    pub(crate) acceptor: Mutex<Option<JoinHandle<()>>>,
}

/// What became of a newly authenticated connection.
pub(crate) enum Install {
    Live(Arc<Peer>),
    /// The pair already has a connection that is preferred to this one.
    Duplicate,
    Closed,
}

/// A message ready to go: checked, and encoded if it leaves the process.
pub(crate) enum Outgoing {
    Local(Envelope),
    Remote {
        to: NodeId,
        queue: mpsc::Sender<Bytes>,
        frame: Bytes,
    },
}

impl Inner {
    pub(crate) fn new(
        config: TransportConfig,
        connector: Connector,
        local_addr: SocketAddr,
    ) -> Self {
        Inner {
            id: config.node_id,
            stats: Stats::default(),
            connector,
            local_addr,
            peers: Mutex::new(HashMap::new()),
            topics: Mutex::new(HashMap::new()),
            rpc: Rpc::default(),
            next_link: AtomicU64::new(0),
            closed: watch::Sender::new(false),
            acceptor: Mutex::new(None),
            config,
        }
    }

    pub(crate) fn next_link_id(&self) -> u64 {
        self.next_link.fetch_add(1, Ordering::Relaxed)
    }

    /// Becomes true when the transport shuts down.
    pub(crate) fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
        let peers = std::mem::take(&mut *lock(&self.peers));
        for peer in peers.values() {
            peer.remove();
        }
        self.rpc.fail_all();
    }

    /// Makes an authenticated connection the live one for its peer, creating
    /// the peer slot for a node that dialled us unannounced.
    pub(crate) fn install(&self, peer_id: NodeId, link: Link) -> Install {
        let mut peers = lock(&self.peers);
        if *self.closed.borrow() {
            return Install::Closed;
        }
        let peer = peers
            .entry(peer_id)
            .or_insert_with(|| {
                Peer::new(
                    peer_id,
                    None,
                    self.config.control_queue_capacity,
                    self.config.queue_capacity,
                )
            })
            .clone();
        if peer.install(link, self.id) {
            Install::Live(peer)
        } else {
            Install::Duplicate
        }
    }

    /// Called when a connection ends. Outstanding requests to the peer are
    /// left to their timeouts: a connection also ends when a duplicate is
    /// retired, and what was sent on it is still answered.
    pub(crate) fn release(&self, peer: &Arc<Peer>, link: u64) {
        let mut peers = lock(&self.peers);
        let was_live = peer.release(link);
        // A node we know only because it dialled us is forgotten with its
        // connection; it will dial again if it wants us.
        let ours = peers.get(&peer.id).is_some_and(|p| Arc::ptr_eq(p, peer));
        if was_live && ours && peer.addr().is_none() && !peer.is_connected() {
            peers.remove(&peer.id);
            peer.remove();
        }
    }

    pub(crate) fn prepare(
        &self,
        to: NodeId,
        topic: Topic,
        kind: Kind,
        body: Bytes,
    ) -> Result<Outgoing, TransportError> {
        if *self.closed.borrow() {
            return Err(TransportError::Shutdown);
        }
        // Checked on the body for local sends too, so a message that works in
        // a single-node test cannot fail once its target moves to another node.
        let (len, max) = (body.len(), self.config.max_body_len());
        if len > max {
            return Err(TransportError::TooLarge { len, max });
        }
        let envelope = Envelope {
            from: self.id,
            topic,
            kind,
            body,
        };
        if to == self.id {
            return Ok(Outgoing::Local(envelope));
        }
        let queue = lock(&self.peers)
            .get(&to)
            .map(|peer| peer.queue(topic.lane()).clone())
            .ok_or(TransportError::UnknownPeer(to))?;
        // Encoded here, by the sender; sealed by the connection that writes it.
        let frame = postcard::to_allocvec(&envelope)
            .map(Bytes::from)
            .map_err(TransportError::Encode)?;
        Ok(Outgoing::Remote { to, queue, frame })
    }

    pub(crate) fn send_now(&self, out: Outgoing) -> Result<(), TransportError> {
        match out {
            Outgoing::Local(envelope) => self.deliver_local(envelope),
            Outgoing::Remote { to, queue, frame } => match queue.try_send(frame) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => Err(self.backpressure(to)),
                Err(TrySendError::Closed(_)) => Err(TransportError::UnknownPeer(to)),
            },
        }
    }

    fn deliver_local(&self, envelope: Envelope) -> Result<(), TransportError> {
        let Some(envelope) = self.take_reply(envelope) else {
            return Ok(());
        };
        let Some(inbox) = self.inbox(envelope.topic) else {
            self.undeliverable(envelope);
            return Ok(());
        };
        match inbox.try_send(envelope) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(self.backpressure(self.id)),
            Err(TrySendError::Closed(envelope)) => {
                self.undeliverable(envelope);
                Ok(())
            }
        }
    }

    fn backpressure(&self, to: NodeId) -> TransportError {
        add(&self.stats.backpressure, 1);
        TransportError::Backpressure(to)
    }

    pub(crate) async fn send_wait(&self, out: Outgoing) -> Result<(), TransportError> {
        match out {
            Outgoing::Local(envelope) => {
                self.dispatch(envelope).await;
                Ok(())
            }
            Outgoing::Remote { to, queue, frame } => queue
                .send(frame)
                .await
                .map_err(|_| TransportError::UnknownPeer(to)),
        }
    }

    /// Hands an inbound envelope to its reply slot or its topic's subscriber,
    /// waiting for room in the subscriber's inbox.
    pub(crate) async fn dispatch(&self, envelope: Envelope) {
        let Some(envelope) = self.take_reply(envelope) else {
            return;
        };
        match self.inbox(envelope.topic) {
            Some(inbox) => {
                if let Err(SendError(envelope)) = inbox.send(envelope).await {
                    self.undeliverable(envelope);
                }
            }
            None => self.undeliverable(envelope),
        }
    }

    /// Completes the request a reply answers; gives back anything else.
    fn take_reply(&self, envelope: Envelope) -> Option<Envelope> {
        let from = envelope.from;
        match envelope.kind {
            Kind::Reply(id) => self.rpc.complete(from, id, Ok(envelope.body)),
            Kind::Failure(id) => {
                let message = String::from_utf8_lossy(&envelope.body).into_owned();
                self.rpc
                    .complete(from, id, Err(RpcError::Remote { from, message }));
            }
            Kind::Message | Kind::Request(_) => return Some(envelope),
        }
        None
    }

    fn inbox(&self, topic: Topic) -> Option<mpsc::Sender<Envelope>> {
        lock(&self.topics).get(&topic).cloned()
    }

    fn undeliverable(&self, envelope: Envelope) {
        add(&self.stats.undeliverable, 1);
        debug!(from = %envelope.from, topic = ?envelope.topic, "no subscriber for the topic; message dropped");
        if let Kind::Request(id) = envelope.kind {
            // Fail the request now rather than let the requester time out;
            // best effort, as timing out is the fallback anyway.
            let message = format!("node {} has no handler for {:?}", self.id, envelope.topic);
            let _ = self
                .prepare(
                    envelope.from,
                    envelope.topic,
                    Kind::Failure(id),
                    message.into(),
                )
                .and_then(|out| self.send_now(out));
        }
    }
}
