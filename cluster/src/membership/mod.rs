//! Cluster membership and failure detection: which nodes are in the cluster
//! and which of them are alive, by SWIM (the `foca` crate) over the cluster
//! transport.
//!
//! Every member pings one other member per probe period; one that does not
//! answer, directly or through others, is suspected and then declared Down,
//! and updates spread by piggybacking on probes and by periodic gossip. Foca
//! is sans-IO: one actor task owns it and moves its datagrams over the
//! transport on `Topic::Membership` (see `actor`).
//!
//! A node joins by announcing itself to its seeds (`id@host:port`, see
//! `Seed`); any one that answers is enough, and the member list then spreads
//! to it. Each run of a process is a new identity, so a restarted node
//! replaces its previous run at once; a node wrongly declared Down (cut off
//! by a partition) is told so when it is heard from again, and rejoins under
//! a renewed identity.
//!
//! Membership gives the transport the address of each member it learns about
//! (`Transport::add_peer`); it never removes peers, so the rest of the node
//! can keep talking to a node through a false suspicion.
//!
//! ```no_run
//! # async fn example(transport: tessera_cluster::Transport) -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_cluster::membership::{MemberEvent, MemberInfo, Membership, MembershipConfig, Seed};
//!
//! let me = MemberInfo { id: transport.node_id(), addr: "10.0.0.1:7600".parse()? };
//! let seeds: Vec<Seed> = ["1@tessera-0.tessera:7600", "2@tessera-1.tessera:7600"]
//!     .iter()
//!     .map(|seed| seed.parse())
//!     .collect::<Result<_, _>>()?;
//! let membership = Membership::start(transport, me, seeds, MembershipConfig::default())?;
//!
//! // Subscribe first, then read the list: no change falls in between.
//! let mut events = membership.subscribe();
//! let alive = membership.members();
//! # let _ = alive;
//! while let Ok(event) = events.recv().await {
//!     match event {
//!         MemberEvent::Up(node, addr) => println!("{node} is up at {addr}"),
//!         MemberEvent::Down(node) => println!("{node} is down"),
//!     }
//! }
//! membership.leave().await?;
//! # Ok(())
//! # }
//! ```

mod actor;
mod config;
mod events;
mod identity;
mod seeds;
mod timers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use foca::{Foca, PostcardCodec};
use rand_pcg::rand_core::SeedableRng;
use rand_pcg::Pcg64;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, info_span, Instrument};

use self::actor::{Actor, Command, Inputs};
use self::events::View;
use self::identity::NodeIdentity;
use self::seeds::contact_seeds;
use crate::transport::{NodeId, Topic, Transport, TransportError};

pub use self::config::MembershipConfig;
pub use self::events::{Member, MemberEvent, MemberState};
pub use self::seeds::{Seed, SeedError};

/// This node, as it introduces itself to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberInfo {
    /// Must be the transport's node id.
    pub id: NodeId,
    /// Where other nodes reach this node's transport: its advertised address,
    /// not a wildcard it may listen on.
    pub addr: SocketAddr,
}

/// Why membership could not start, or has stopped.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("membership was started as node {given} on the transport of node {transport}")]
    WrongNode { given: NodeId, transport: NodeId },
    #[error("invalid membership configuration: {0}")]
    InvalidConfig(&'static str),
    /// Typically: something else already subscribed to `Topic::Membership`.
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("membership has already stopped")]
    Stopped,
}

/// A handle on this node's membership. Clones share it; it stops when the
/// last clone is dropped, on `shutdown`, or after `leave`.
#[derive(Clone)]
pub struct Membership {
    inner: Arc<Shared>,
}

struct Shared {
    commands: mpsc::Sender<Command>,
    members: watch::Receiver<Vec<Member>>,
    events: broadcast::Sender<MemberEvent>,
    actor: Mutex<Option<JoinHandle<()>>>,
}

impl Membership {
    /// Starts membership on `transport` (taking its `Topic::Membership`
    /// subscription) and starts contacting `seeds`. Seeds naming this node
    /// are skipped, so every node can be given the same list; with none left
    /// this node waits for others to join it. Must be called within a tokio
    /// runtime.
    pub fn start(
        transport: Transport,
        me: MemberInfo,
        seeds: Vec<Seed>,
        config: MembershipConfig,
    ) -> Result<Self, MembershipError> {
        config.validate()?;
        if me.id != transport.node_id() {
            return Err(MembershipError::WrongNode {
                given: me.id,
                transport: transport.node_id(),
            });
        }
        let inbox = transport.subscribe(Topic::Membership)?;

        let identity = NodeIdentity::starting_now(me.id, me.addr);
        let rng = Pcg64::seed_from_u64(rand::random());
        let foca = Foca::new(identity, config.to_foca(), rng, PostcardCodec);
        let (events, _) = broadcast::channel(config.event_capacity);
        let (view, members) = View::new(identity, events.clone());
        let (joined, waiting) = watch::channel(false);
        let (commands, command_inbox) = mpsc::channel(1);
        let (found, seed_inbox) = mpsc::channel(1);

        let span = info_span!("membership", node = %me.id);
        let seeds: Vec<Seed> = seeds.into_iter().filter(|seed| seed.id != me.id).collect();
        if !seeds.is_empty() {
            let contact = contact_seeds(seeds, config.seed_interval, waiting, found);
            tokio::spawn(contact.instrument(span.clone()));
        }
        let actor = Actor::new(foca, transport, view, joined, config.leave_timeout);
        let inputs = Inputs {
            inbox,
            commands: command_inbox,
            seeds: seed_inbox,
        };
        let actor = tokio::spawn(actor.run(inputs).instrument(span));
        info!(node = %me.id, addr = %me.addr, generation = identity.generation, "membership started");

        Ok(Self {
            inner: Arc::new(Shared {
                commands,
                members,
                events,
                actor: Mutex::new(Some(actor)),
            }),
        })
    }

    /// Every node this node knows of, this node included, in id order. Down
    /// members stay listed until foca forgets them, after a day (a restarted
    /// node replaces its previous run at once).
    /// After `leave` or `shutdown` this is the last view, frozen.
    pub fn members(&self) -> Vec<Member> {
        self.inner.members.borrow().clone()
    }

    /// The changes from now on. Subscribe before reading `members` so that
    /// nothing falls in between.
    pub fn subscribe(&self) -> broadcast::Receiver<MemberEvent> {
        self.inner.events.subscribe()
    }

    /// Leaves the cluster: the other members are told at once and mark this
    /// node Down without waiting for failure detection. Returns once they
    /// acknowledged it (or after `MembershipConfig::leave_timeout`);
    /// membership has then stopped. Call it before shutting the transport.
    pub async fn leave(&self) -> Result<(), MembershipError> {
        let (done, acknowledged) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Leave(done))
            .await
            .map_err(|_| MembershipError::Stopped)?;
        acknowledged.await.map_err(|_| MembershipError::Stopped)?;
        self.shutdown().await;
        Ok(())
    }

    /// Stops without a word to the other members, who will detect this node
    /// as failed; `leave` is the graceful way.
    pub async fn shutdown(&self) {
        let actor = self
            .inner
            .actor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(actor) = actor {
            actor.abort();
            // Cancelled, or already finished after `leave`.
            let _ = actor.await;
        }
    }
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("members", &*self.inner.members.borrow())
            .finish()
    }
}
