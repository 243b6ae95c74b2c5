//! The `Transport` handle and the state its tasks share.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, info_span, Instrument};

use super::connection::AnyStream;
use super::dialer::{accept_loop, spawn_dialer};
use super::net::{Listener, Network};
use super::peer::{Link, Peer};
use super::rpc::Rpc;
use super::stats::{add, Stats};
use super::{
    lock, Envelope, Kind, NodeId, RpcError, Topic, TransportConfig, TransportError, TransportStats,
};

/// Opens a connection on whatever `Network` the transport was started with;
/// boxed so the handle itself is not generic over the network.
pub(crate) type Connector = Box<
    dyn Fn(SocketAddr) -> Pin<Box<dyn Future<Output = io::Result<Box<dyn AnyStream>>> + Send>>
        + Send
        + Sync,
>;

/// A node's end of the cluster transport: one authenticated, encrypted,
/// persistent connection per peer, two send queues per peer (control topics
/// ahead of bulk ones), per-topic inboxes and request/response. Cloning is
/// cheap; the transport shuts down when the last clone is dropped (or on
/// `shutdown`).
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
    _owner: Arc<Owner>,
}

/// Shuts the transport down when the last handle goes; the transport's own
/// tasks hold `Inner`, not this, so they do not keep it alive.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.close();
    }
}

pub(crate) struct Inner {
    pub(crate) id: NodeId,
    pub(crate) config: TransportConfig,
    pub(crate) stats: Stats,
    pub(crate) connector: Connector,
    local_addr: SocketAddr,
    peers: Mutex<HashMap<NodeId, Arc<Peer>>>,
    topics: Mutex<HashMap<Topic, mpsc::Sender<Envelope>>>,
    rpc: Rpc,
    next_link: AtomicU64,
    closed: watch::Sender<bool>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

/// What became of a newly authenticated connection.
pub(crate) enum Install {
    Live(Arc<Peer>),
    /// The pair already has a connection that is preferred to this one.
    Duplicate,
    Closed,
}

/// A message ready to go: checked, and encoded if it leaves the process.
enum Outgoing {
    Local(Envelope),
    Remote {
        to: NodeId,
        queue: mpsc::Sender<Bytes>,
        frame: Bytes,
    },
}

impl Transport {
    /// Binds `config.listen` on `net`, then starts dialling `config.peers`.
    /// Subscribe to topics right after this returns: an inbound message whose
    /// topic has no subscriber is dropped.
    pub async fn start<N: Network>(
        net: N,
        config: TransportConfig,
    ) -> Result<Self, TransportError> {
        config.validate()?;
        let bind_error = |source| TransportError::Bind {
            addr: config.listen,
            source,
        };
        let listener = net.bind(config.listen).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let net = Arc::new(net);
        let connector: Connector = Box::new(move |addr| {
            let net = net.clone();
            Box::pin(async move {
                let stream = net.connect(addr).await?;
                Ok(Box::new(stream) as Box<dyn AnyStream>)
            })
        });
        let inner = Arc::new(Inner {
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
        });
        let span = info_span!("transport", node = %inner.id);
        let acceptor = tokio::spawn(accept_loop(inner.clone(), listener).instrument(span));
        *lock(&inner.acceptor) = Some(acceptor);
        info!(node = %inner.id, %local_addr, "cluster transport listening");

        let transport = Transport {
            _owner: Arc::new(Owner(inner.clone())),
            inner,
        };
        transport.set_peers(transport.inner.config.peers.clone());
        Ok(transport)
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.id
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Queues a one-way message without waiting. A full queue is reported as
    /// `Backpressure` (and counted) rather than waited on, so a tick never
    /// blocks on a slow or unreachable peer. Membership, placement and register
    /// topics have a queue of their own per peer, written before the others,
    /// so game traffic never fills it; order is kept per topic, not across the
    /// two queues. Messages to our own id are delivered to the local
    /// subscriber directly.
    pub fn send(
        &self,
        to: NodeId,
        topic: Topic,
        body: impl Into<Bytes>,
    ) -> Result<(), TransportError> {
        let out = self.inner.prepare(to, topic, Kind::Message, body.into())?;
        self.inner.send_now(out)
    }

    /// Like `send`, but waits for room in the queue. It waits as long as the
    /// peer stays unreachable: wrap it in a timeout where that matters.
    pub async fn send_wait(
        &self,
        to: NodeId,
        topic: Topic,
        body: impl Into<Bytes>,
    ) -> Result<(), TransportError> {
        let out = self.inner.prepare(to, topic, Kind::Message, body.into())?;
        self.inner.send_wait(out).await
    }

    /// Receives every message and request on `topic`, from all peers and from
    /// this node. One subscriber per topic; once its receiver is dropped the
    /// topic can be subscribed again. A full inbox makes the connections that
    /// feed it wait, which pushes back on the senders' queues.
    pub fn subscribe(&self, topic: Topic) -> Result<mpsc::Receiver<Envelope>, TransportError> {
        let mut topics = lock(&self.inner.topics);
        if topics.get(&topic).is_some_and(|inbox| !inbox.is_closed()) {
            return Err(TransportError::AlreadySubscribed(topic));
        }
        let (inbox, receiver) = mpsc::channel(self.inner.config.inbox_capacity);
        topics.insert(topic, inbox);
        Ok(receiver)
    }

    /// Sends a request to the subscriber of `topic` on `to` and waits for its
    /// reply. Delivery is at most once: on `Timeout` or `PeerUnreachable` the
    /// request may or may not have been handled, and the caller retries.
    pub async fn request(
        &self,
        to: NodeId,
        topic: Topic,
        body: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<Bytes, RpcError> {
        let (pending, reply) = self.inner.rpc.register(to);
        let out = self
            .inner
            .prepare(to, topic, Kind::Request(pending.id), body.into())?;
        let exchange = async {
            self.inner.send_wait(out).await?;
            match reply.await {
                Ok(outcome) => outcome,
                Err(_) => Err(RpcError::PeerUnreachable(to)),
            }
        };
        let outcome = tokio::time::timeout(timeout, exchange).await;
        drop(pending);
        outcome.map_err(|_| RpcError::Timeout { to, after: timeout })?
    }

    /// Answers `request` (an envelope of kind `Request`). Like `send`, it does
    /// not wait; a reply that cannot be queued makes the requester time out.
    pub fn reply(&self, request: &Envelope, body: impl Into<Bytes>) -> Result<(), TransportError> {
        let Kind::Request(id) = request.kind else {
            return Err(TransportError::NotARequest);
        };
        let out = self
            .inner
            .prepare(request.from, request.topic, Kind::Reply(id), body.into())?;
        self.inner.send_now(out)
    }

    /// Fails `request`; the requester gets `RpcError::Remote` with `message`.
    pub fn reply_error(
        &self,
        request: &Envelope,
        message: impl Into<String>,
    ) -> Result<(), TransportError> {
        let Kind::Request(id) = request.kind else {
            return Err(TransportError::NotARequest);
        };
        let body = Bytes::from(message.into());
        let out = self
            .inner
            .prepare(request.from, request.topic, Kind::Failure(id), body)?;
        self.inner.send_now(out)
    }

    /// The peers with an authenticated connection up, in id order.
    pub fn peers_connected(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = lock(&self.inner.peers)
            .values()
            .filter(|peer| peer.is_connected())
            .map(|peer| peer.id)
            .collect();
        ids.sort();
        ids
    }

    /// Dials `id` at `addr` and keeps a connection to it (or moves it to a new
    /// address). Our own id is ignored.
    pub fn add_peer(&self, id: NodeId, addr: SocketAddr) {
        if id == self.inner.id {
            return;
        }
        let mut peers = lock(&self.inner.peers);
        if *self.inner.closed.borrow() {
            return;
        }
        match peers.get(&id) {
            Some(peer) => {
                if peer.set_addr(addr) {
                    spawn_dialer(&self.inner, peer.clone());
                }
            }
            None => {
                let peer = Peer::new(
                    id,
                    Some(addr),
                    self.inner.config.control_queue_capacity,
                    self.inner.config.queue_capacity,
                );
                peers.insert(id, peer.clone());
                spawn_dialer(&self.inner, peer);
            }
        }
    }

    /// Stops dialling `id`, closes its connection and drops its queue. If the
    /// peer still knows us it may dial back; that connection is accepted.
    pub fn remove_peer(&self, id: NodeId) {
        let removed = lock(&self.inner.peers).remove(&id);
        if let Some(peer) = removed {
            peer.remove();
            self.inner.rpc.fail_peer(id);
        }
    }

    /// Makes `peers` the set of nodes to dial: new ones are added, moved ones
    /// redialled at their new address, and dialled ones not listed removed.
    pub fn set_peers(&self, peers: HashMap<NodeId, SocketAddr>) {
        let gone: Vec<NodeId> = lock(&self.inner.peers)
            .values()
            .filter(|peer| peer.addr().is_some() && !peers.contains_key(&peer.id))
            .map(|peer| peer.id)
            .collect();
        for id in gone {
            self.remove_peer(id);
        }
        for (id, addr) in peers {
            self.add_peer(id, addr);
        }
    }

    pub fn stats(&self) -> TransportStats {
        self.inner.stats.snapshot()
    }

    /// Stops listening, closes every connection and fails outstanding
    /// requests; returns once the listening socket is closed.
    pub async fn shutdown(&self) {
        self.inner.close();
        let acceptor = lock(&self.inner.acceptor).take();
        if let Some(acceptor) = acceptor {
            // It only ends by returning; a join error would be a panic, which
            // has already been reported.
            let _ = acceptor.await;
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("node", &self.inner.id)
            .field("local_addr", &self.inner.local_addr)
            .field("peers_connected", &self.peers_connected())
            .finish()
    }
}

impl Inner {
    pub(crate) fn next_link_id(&self) -> u64 {
        self.next_link.fetch_add(1, Ordering::Relaxed)
    }

    /// Becomes true when the transport shuts down.
    pub(crate) fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    fn close(&self) {
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

    fn prepare(
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

    fn send_now(&self, out: Outgoing) -> Result<(), TransportError> {
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

    async fn send_wait(&self, out: Outgoing) -> Result<(), TransportError> {
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
