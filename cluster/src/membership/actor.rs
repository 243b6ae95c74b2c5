//! The task that owns foca. Foca is sans-IO: the actor feeds it what arrives
//! on the membership topic, its timer events when they fall due and seed
//! addresses to announce to; after each step it carries out what foca asked
//! for (datagrams to send, timers to set) and publishes the member table.

use std::collections::HashMap;
use std::future::pending;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use foca::{
    AccumulatingRuntime, Codec, Foca, NoCustomBroadcast, OwnedNotification, PostcardCodec, Timer,
};
use rand_pcg::Pcg64;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, warn, Instrument, Span};

use super::events::View;
use super::identity::NodeIdentity;
use super::timers::Timers;
use crate::transport::{Envelope, Kind, NodeId, Topic, Transport};

pub(crate) type Swim = Foca<NodeIdentity, PostcardCodec, Pcg64, NoCustomBroadcast>;

pub(crate) enum Command {
    /// Tell the cluster we are leaving, wait for acknowledgements, stop.
    Leave(oneshot::Sender<()>),
}

/// What the actor listens to.
pub(crate) struct Inputs {
    /// Datagrams from other members (`Topic::Membership`).
    pub(crate) inbox: mpsc::Receiver<Envelope>,
    /// From the `Membership` handles; closed when the last one is dropped.
    pub(crate) commands: mpsc::Receiver<Command>,
    /// Seed addresses to announce to, from the seed task.
    pub(crate) seeds: mpsc::Receiver<Vec<(NodeId, SocketAddr)>>,
}

pub(crate) struct Actor {
    foca: Swim,
    transport: Transport,
    view: View,
    /// True while foca knows a live member; the seed task waits on it.
    joined: watch::Sender<bool>,
    leave_timeout: Duration,
    effects: AccumulatingRuntime<NodeIdentity>,
    timers: Timers<Timer<NodeIdentity>>,
    /// The address last given to the transport for each node, so it is only
    /// told again when a node comes back somewhere else.
    dialled: HashMap<NodeId, SocketAddr>,
}

impl Actor {
    pub(crate) fn new(
        foca: Swim,
        transport: Transport,
        view: View,
        joined: watch::Sender<bool>,
        leave_timeout: Duration,
    ) -> Self {
        Self {
            foca,
            transport,
            view,
            joined,
            leave_timeout,
            effects: AccumulatingRuntime::new(),
            timers: Timers::new(),
            dialled: HashMap::new(),
        }
    }

    pub(crate) async fn run(mut self, mut inputs: Inputs) {
        loop {
            let deadline = self.timers.next_deadline();
            tokio::select! {
                Some(envelope) = inputs.inbox.recv() => self.receive(envelope),
                Some(seeds) = inputs.seeds.recv() => self.announce(seeds),
                () = until(deadline) => self.fire_due_timers(),
                command = inputs.commands.recv() => {
                    if let Some(Command::Leave(done)) = command {
                        self.leave().await;
                        let _ = done.send(());
                    }
                    // Left, or every handle is gone.
                    return;
                }
            }
            self.apply_effects();
        }
    }

    fn receive(&mut self, envelope: Envelope) {
        // The transport has authenticated the sending node; a datagram that
        // claims to come from another one is a bug or a forgery either way.
        let header = Codec::<NodeIdentity>::decode_header(&mut PostcardCodec, &envelope.body[..]);
        match header {
            Ok(header) if header.src.node == envelope.from => {}
            Ok(header) => {
                warn!(from = %envelope.from, claimed = %header.src.node,
                    "membership message speaks for another node; dropped");
                return;
            }
            Err(error) => {
                debug!(from = %envelope.from, %error, "undecodable membership message dropped");
                return;
            }
        }
        if let Err(error) = self.foca.handle_data(&envelope.body, &mut self.effects) {
            // Stale or duplicated datagrams are routine (e.g. one addressed to
            // an identity we have since renewed).
            debug!(from = %envelope.from, %error, "membership message not applied");
        }
        if let Kind::Request(_) = envelope.kind {
            // A departure that wants to know it was heard (see `leave`).
            let _ = self.transport.reply(&envelope, Bytes::new());
        }
    }

    fn announce(&mut self, seeds: Vec<(NodeId, SocketAddr)>) {
        for (node, addr) in seeds {
            debug!(seed = %node, %addr, "announcing to seed");
            let seed = NodeIdentity::seed(node, addr);
            if let Err(error) = self.foca.announce(seed, &mut self.effects) {
                warn!(seed = %node, %error, "cannot announce to seed");
            }
        }
    }

    fn fire_due_timers(&mut self) {
        let now = Instant::now();
        while let Some(event) = self.timers.pop_due(now) {
            if let Err(error) = self.foca.handle_timer(event, &mut self.effects) {
                warn!(%error, "membership timer failed");
            }
        }
    }

    /// Carries out what foca asked for during the last step and publishes
    /// the member table.
    fn apply_effects(&mut self) {
        while let Some((to, data)) = self.effects.to_send() {
            self.send(to, data);
        }
        while let Some((after, event)) = self.effects.to_schedule() {
            self.timers.schedule(event, after);
        }
        while let Some(notification) = self.effects.to_notify() {
            self.note(notification);
        }
        self.view.update(self.foca.iter_membership_state());
        let joined = self.foca.num_members() > 0;
        self.joined
            .send_if_modified(|was| std::mem::replace(was, joined) != joined);
    }

    fn send(&mut self, to: NodeIdentity, data: Bytes) {
        self.dial(to);
        if let Err(error) = self.transport.send(to.node, Topic::Membership, data) {
            // A lost datagram is what SWIM is built to survive. Membership
            // has a control queue of its own per peer, which game traffic
            // never fills, so a full one means the peer is unreachable or
            // stuck and will soon be suspected anyway.
            debug!(peer = %to.node, %error, "membership message not sent");
        }
    }

    /// Makes sure the transport can reach `to` where it now lives.
    fn dial(&mut self, to: NodeIdentity) {
        if self.dialled.insert(to.node, to.addr) != Some(to.addr) {
            self.transport.add_peer(to.node, to.addr);
        }
    }

    fn note(&mut self, notification: OwnedNotification<NodeIdentity>) {
        match notification {
            OwnedNotification::Active => info!("joined the cluster"),
            OwnedNotification::Idle => {
                warn!("no live member left: cut off from the cluster, or the last to remain");
            }
            OwnedNotification::Rejoin(identity) => {
                // Also happens to the healthy side of a healed partition: the
                // cut-off node had declared it Down.
                info!(
                    rejoins = identity.rejoins,
                    "a member had declared this node Down; rejoined under a renewed identity"
                );
                self.view.set_local(identity);
            }
            OwnedNotification::Defunct => {
                warn!("the cluster declared this node Down and it cannot rejoin");
            }
            // Member changes are read from foca's table instead (`View`).
            other => debug!(notification = ?other, "membership change"),
        }
    }

    /// Declares this node Down to a few live members (who spread it) and
    /// waits, up to `leave_timeout`, until they have taken it in. The
    /// datagrams go as requests so that the wait ends as soon as they did.
    async fn leave(&mut self) {
        if let Err(error) = self.foca.leave_cluster(&mut self.effects) {
            warn!(%error, "cannot announce the departure");
        }
        self.view.mark_left();
        self.view.update(self.foca.iter_membership_state());
        let mut acks = JoinSet::new();
        while let Some((to, data)) = self.effects.to_send() {
            self.dial(to);
            let transport = self.transport.clone();
            let timeout = self.leave_timeout;
            let told = async move {
                transport
                    .request(to.node, Topic::Membership, data, timeout)
                    .await
            };
            acks.spawn(told.instrument(Span::current()));
        }
        let told = acks.len();
        let mut acknowledged = 0;
        while let Some(outcome) = acks.join_next().await {
            if matches!(outcome, Ok(Ok(_))) {
                acknowledged += 1;
            }
        }
        info!(told, acknowledged, "left the cluster");
    }
}

/// Resolves at `deadline`; never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => pending().await,
    }
}
