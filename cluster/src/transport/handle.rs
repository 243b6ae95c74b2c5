//! The `Transport` handle: the public face of the transport, which starts
//! its tasks and works on the state they share.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{info, info_span, Instrument};

use super::dialer::{accept_loop, spawn_dialer};
use super::net::{AnyStream, Connector, Listener, Network};
use super::peer::Peer;
use super::shared::Inner;
use super::{
    lock, Envelope, Kind, NodeId, RpcError, Topic, TransportConfig, TransportError, TransportStats,
};

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
        let inner = Arc::new(Inner::new(config, connector, local_addr));
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
