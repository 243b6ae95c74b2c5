//! `PlacementService`: this node's member of the placement Raft group and
//! its replica of the placement table.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use openraft::error::{InitializeError, RaftError};
use openraft::{EmptyNode, RaftMetrics, ServerState};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, info_span, instrument, warn, Instrument, Span};

use super::db::{Closing, Db};
use super::fencing::Fencing;
use super::lease::LeaseHolder;
use super::log_store::LogStore;
use super::messages::{JoinReply, LeaseReply, PlacementRequest, ProposeReply};
use super::network::Network;
use super::release::{ReleaseRequest, Releases};
use super::server;
use super::state_machine::{Replica, StateMachine, TableEvent};
use super::types::{Raft, RaftId};
use super::{
    Applied, Command, Ownership, PlacementConfig, PlacementError, PlacementTable, RegionKey,
};
use crate::transport::{Envelope, NodeId, Topic, Transport};

/// This node's part in region placement. Voters (the first three nodes of
/// the cluster, or the only one) run the Raft group that orders changes to
/// the placement table; every other node follows it as a learner. Either
/// way the node holds a full replica of the table, read locally.
///
/// Cloning is cheap; clones share the service. Dropping the last clone
/// stops it, but `shutdown` is the orderly way.
#[derive(Clone)]
pub struct PlacementService {
    inner: Arc<Inner>,
}

struct Inner {
    node: NodeId,
    voters: Vec<NodeId>,
    config: PlacementConfig,
    raft: Raft,
    transport: Transport,
    replica: Arc<Replica>,
    fencing: Arc<Fencing>,
    lease: Arc<Mutex<LeaseHolder>>,
    releases: Arc<Releases>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    store: Closing,
    span: Span,
}

/// How long `shutdown` waits for Raft's tasks to let go of the store.
const STORE_CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// The task list is only pushed to and drained, and the lease changes in
/// single calls, so a panic elsewhere cannot leave either half-changed:
/// poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The server task holds a Raft handle; once it is gone, so is the
        // last one, and Raft stops.
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl PlacementService {
    /// Starts this node's placement replica on `transport`, which it takes
    /// the Placement topic of.
    ///
    /// `voters` are the nodes of the Raft group, the same list on every
    /// node. If this node is one of them it votes, and the lowest-id voter
    /// forms the group (which is harmless when it already exists); otherwise
    /// it keeps asking the voters to add it as a learner until it is one.
    /// With `store_dir` the log, vote and snapshots are kept durably in a
    /// file there and survive a restart; without, they are kept in memory.
    ///
    /// The table starts with no live node: whoever decides liveness (the
    /// membership layer, or the server in single-node mode) calls
    /// `on_node_up` for each node, this one included.
    pub async fn start(
        transport: Transport,
        voters: Vec<NodeId>,
        store_dir: Option<PathBuf>,
        config: PlacementConfig,
    ) -> Result<Self, PlacementError> {
        let node = transport.node_id();
        let mut voters = voters;
        voters.sort();
        voters.dedup();
        let Some(&founder) = voters.first() else {
            return Err(PlacementError::NoVoters);
        };
        let raft_config = Arc::new(config.raft_config()?);
        let span = info_span!("placement", node = %node);
        let db = Db::open(store_dir.as_deref())?;
        let store = db.closing();
        let replica = Arc::new(Replica::new());
        let state_machine = StateMachine::open(db.clone(), replica.clone()).await?;
        let inbox = transport.subscribe(Topic::Placement)?;
        let network = Network {
            transport: transport.clone(),
        };
        let raft = Raft::new(
            node.0,
            raft_config,
            network,
            LogStore::new(db),
            state_machine,
        )
        .instrument(span.clone())
        .await
        .map_err(|e| PlacementError::Raft(e.to_string()))?;
        let releases = Arc::new(Releases::default());
        let fencing = Arc::new(Fencing::new(
            config.lease_terms(),
            replica.clone(),
            releases.clone(),
            transport.clone(),
        ));
        let lease = Arc::new(Mutex::new(LeaseHolder::new(config.lease)));
        let server = tokio::spawn(
            server::serve(
                raft.clone(),
                fencing.clone(),
                releases.clone(),
                transport.clone(),
                inbox,
                config.request_timeout,
            )
            .instrument(span.clone()),
        );
        let renewing = Renewing {
            raft: raft.clone(),
            fencing: fencing.clone(),
            transport: transport.clone(),
            lease: lease.clone(),
            config: config.clone(),
        };
        let renewer = tokio::spawn(renewing.run().instrument(span.clone()));
        let service = PlacementService {
            inner: Arc::new(Inner {
                node,
                voters,
                config,
                raft,
                transport,
                replica,
                fencing,
                lease,
                releases,
                tasks: Mutex::new(vec![server, renewer]),
                store,
                span,
            }),
        };
        let settling = tokio::spawn(
            settle_releases(Arc::downgrade(&service.inner)).instrument(service.inner.span.clone()),
        );
        lock(&service.inner.tasks).push(settling);
        if node == founder {
            if let Err(e) = service.form_group().await {
                service.shutdown().await;
                return Err(e);
            }
        } else if !service.is_voter() {
            // The task gets its own handles, not the service, so that
            // dropping the service still stops everything.
            let inner = &service.inner;
            let joining = Joining {
                raft: inner.raft.clone(),
                transport: inner.transport.clone(),
                voters: inner.voters.clone(),
                config: inner.config.clone(),
            };
            let task = tokio::spawn(joining.run().instrument(inner.span.clone()));
            lock(&inner.tasks).push(task);
        }
        info!(parent: &service.inner.span, voters = ?service.inner.voters, "placement started");
        Ok(service)
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.node
    }

    /// The voters of the Raft group, in id order.
    pub fn voters(&self) -> &[NodeId] {
        &self.inner.voters
    }

    pub fn is_voter(&self) -> bool {
        self.inner.voters.contains(&self.inner.node)
    }

    /// Who owns `region` according to this node's replica. Local and
    /// immediate; the replica may trail the leader by a moment, which is
    /// safe because a node only ticks regions its own table gives it and
    /// region writes are fenced by the ownership epoch.
    pub fn owner(&self, region: RegionKey) -> Option<Ownership> {
        self.inner.replica.table().owner(region)
    }

    /// The ownership under which this node may tick `region` at `now`: its
    /// replica names it owner and it holds a lease covering `now` as of what
    /// the replica has applied. `None` means the region must not tick here;
    /// at no time does this return `Some` on two nodes for one region.
    pub fn tick_permit(&self, region: RegionKey, now: Instant) -> Option<Ownership> {
        let owner = self
            .owner(region)
            .filter(|owner| owner.node == self.inner.node)?;
        if self.inner.releases.is_released(region, owner.epoch) {
            return None;
        }
        let applied = self.inner.replica.applied_index();
        lock(&self.inner.lease)
            .holds(region, now, applied)
            .then_some(owner)
    }

    /// Requests to stop and save a region this node gives away
    /// (rebalancing); the world takes them and calls `done` on each. Without
    /// a taker, a released region simply stops ticking (`tick_permit`). A
    /// later call replaces the taker.
    pub fn release_requests(&self) -> mpsc::UnboundedReceiver<ReleaseRequest> {
        self.inner.releases.hook()
    }

    /// A copy of this node's replica of the table.
    pub fn table(&self) -> PlacementTable {
        self.inner.replica.table().clone()
    }

    /// Every change this node's replica applies from now on, in log order.
    /// A receiver that lags (or sees `TableEvent::Replaced`) should re-read
    /// `table()`.
    pub fn subscribe(&self) -> broadcast::Receiver<TableEvent> {
        self.inner.replica.subscribe()
    }

    /// The leader this node last heard of.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader_id().map(NodeId)
    }

    pub fn is_leader(&self) -> bool {
        self.inner.raft.metrics().borrow().state == ServerState::Leader
    }

    /// Commits `command` through the leader, wherever it is, and waits until
    /// this node's replica has applied it, so `owner` reflects it on return.
    ///
    /// Leader changes and timeouts are retried for up to
    /// `PlacementConfig::propose_timeout`. A retried command may be
    /// committed twice; commands are idempotent, so the table is the same,
    /// but the second `Applied` lists nothing: read the outcome from the
    /// table rather than from the returned changes.
    #[instrument(level = "debug", skip(self), fields(node = %self.inner.node))]
    pub async fn propose(&self, command: Command) -> Result<Applied, PlacementError> {
        let config = &self.inner.config;
        let deadline = Instant::now() + config.propose_timeout;
        let mut hint: Option<RaftId> = None;
        let mut failed: Option<RaftId> = None;
        let mut rotation = 0;
        loop {
            if self.inner.raft.metrics().borrow().running_state.is_err() {
                return Err(PlacementError::Stopped);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PlacementError::Timeout(config.propose_timeout));
            }
            let attempt = deadline
                .saturating_duration_since(now)
                .min(config.request_timeout);
            let target = hint
                .take()
                .or_else(|| self.leader_id().filter(|&l| Some(l) != failed))
                .unwrap_or_else(|| next_voter(&self.inner.voters, &mut rotation, failed));
            let reply = if target == self.inner.node.0 {
                server::commit_here(
                    &self.inner.raft,
                    &self.inner.fencing,
                    command.clone(),
                    attempt,
                )
                .await
                .map_err(|_| PlacementError::Stopped)?
            } else {
                self.forward(target, &command, attempt).await
            };
            match reply {
                ProposeReply::Committed { index, applied } => {
                    self.await_applied(index, deadline).await?;
                    return Ok(applied);
                }
                ProposeReply::Retry {
                    leader: Some(leader),
                } if leader != target => {
                    failed = None;
                    hint = Some(leader);
                }
                ProposeReply::Retry { .. } => {
                    failed = Some(target);
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(config.retry_interval.min(left)).await;
                }
            }
        }
    }

    /// Declares `node` dead: its regions go to live nodes under new epochs.
    /// Call it from whichever node's failure detector decided (any node
    /// works; the command is forwarded to the leader).
    pub async fn on_node_down(&self, node: NodeId) -> Result<Applied, PlacementError> {
        self.propose(Command::NodeDown(node)).await
    }

    /// Declares `node` live, so new regions can be placed on it, and returns
    /// the moves that would even out the load, to be proposed. A
    /// `Command::Move` of a live region waits, at the leader, until the
    /// region's owner released it (stopped and saved it), or, if the owner
    /// does not answer, until its lease on the region has run out.
    pub async fn on_node_up(&self, node: NodeId) -> Result<Vec<Command>, PlacementError> {
        self.propose(Command::NodeUp(node)).await?;
        Ok(self.inner.replica.table().rebalance_toward(node))
    }

    /// Stops Raft and stops serving the Placement topic (which can then be
    /// subscribed again); leaves the transport running.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = lock(&self.inner.tasks).drain(..).collect();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            // Aborted on purpose; a panic has already been reported.
            let _ = task.await;
        }
        if let Err(e) = self.inner.raft.shutdown().await {
            warn!(parent: &self.inner.span, "placement raft did not stop cleanly: {e}");
        }
        // A restart in the same process must be able to open the file again.
        if !self.inner.store.wait(STORE_CLOSE_LIMIT).await {
            warn!(parent: &self.inner.span, "the placement store is still open after shutdown");
        }
        info!(parent: &self.inner.span, "placement stopped");
    }

    fn leader_id(&self) -> Option<RaftId> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// Asks `target` to commit `command`; any failure is "try elsewhere".
    async fn forward(&self, target: RaftId, command: &Command, within: Duration) -> ProposeReply {
        let retry = ProposeReply::Retry { leader: None };
        let body = match Envelope::encode_body(&PlacementRequest::Propose(command.clone())) {
            Ok(body) => body,
            Err(e) => {
                warn!("cannot encode a proposal: {e}");
                return retry;
            }
        };
        let reply = self
            .inner
            .transport
            .request(NodeId(target), Topic::Placement, body, within)
            .await;
        match reply.map(|bytes| postcard::from_bytes::<ProposeReply>(&bytes)) {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                debug!(to = target, "bad reply to a proposal: {e}");
                retry
            }
            Err(e) => {
                debug!(to = target, "proposal not delivered: {e}");
                retry
            }
        }
    }

    /// Waits until this replica has applied log entry `index`.
    async fn await_applied(&self, index: u64, deadline: Instant) -> Result<(), PlacementError> {
        let mut applied = self.inner.replica.applied();
        let caught_up = applied.wait_for(|last| last.is_some_and(|last| last >= index));
        let outcome = tokio::time::timeout_at(deadline, caught_up)
            .await
            .map(|reached| reached.is_ok());
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => Err(PlacementError::Stopped),
            Err(_elapsed) => Err(PlacementError::Timeout(self.inner.config.propose_timeout)),
        }
    }

    /// Forms the group from the voters. A group that already exists (this
    /// node restarted with its log) refuses, which is the goal anyway.
    async fn form_group(&self) -> Result<(), PlacementError> {
        let members: BTreeMap<RaftId, EmptyNode> = self
            .inner
            .voters
            .iter()
            .map(|voter| (voter.0, EmptyNode {}))
            .collect();
        match self.inner.raft.initialize(members).await {
            Ok(()) => {
                info!(parent: &self.inner.span, "formed the placement group");
                Ok(())
            }
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                debug!(parent: &self.inner.span, "the placement group already exists");
                Ok(())
            }
            Err(e) => Err(PlacementError::Raft(e.to_string())),
        }
    }
}

impl fmt::Debug for PlacementService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlacementService")
            .field("node", &self.inner.node)
            .field("voters", &self.inner.voters)
            .field("leader", &self.leader())
            .finish()
    }
}

/// The voters in turn (never empty: `start` checks), skipping one that just
/// failed.
fn next_voter(voters: &[NodeId], rotation: &mut usize, failed: Option<RaftId>) -> RaftId {
    for _ in 0..voters.len() {
        *rotation = rotation.wrapping_add(1);
        let voter = voters[*rotation % voters.len()].0;
        if Some(voter) != failed || voters.len() == 1 {
            return voter;
        }
    }
    voters[0].0
}

fn is_member(metrics: &RaftMetrics<RaftId, EmptyNode>, node: RaftId) -> bool {
    metrics
        .membership_config
        .membership()
        .get_node(&node)
        .is_some()
}

/// A learner's task of getting itself into the group.
struct Joining {
    raft: Raft,
    transport: Transport,
    voters: Vec<NodeId>,
    config: PlacementConfig,
}

impl Joining {
    /// Asks the leader (or, not knowing it, each voter in turn) to add this
    /// node as a learner, until the membership it replicates names it.
    async fn run(self) {
        let node = self.transport.node_id().0;
        let mut metrics = self.raft.metrics();
        let mut hint: Option<RaftId> = None;
        let mut rotation = 0;
        while !is_member(&metrics.borrow(), node) {
            let target = hint
                .take()
                .or_else(|| metrics.borrow().current_leader)
                .unwrap_or_else(|| next_voter(&self.voters, &mut rotation, None));
            if let Some(JoinReply::Retry { leader }) = self.ask(target).await {
                hint = leader.filter(|&l| l != target);
            }
            let joined = metrics.wait_for(|m| is_member(m, node));
            if let Ok(Err(_stopped)) =
                tokio::time::timeout(self.config.retry_interval, joined).await
            {
                return;
            }
        }
        info!("following the placement group as a learner");
    }

    async fn ask(&self, target: RaftId) -> Option<JoinReply> {
        let body = Envelope::encode_body(&PlacementRequest::AddLearner).ok()?;
        let reply = self
            .transport
            .request(
                NodeId(target),
                Topic::Placement,
                body,
                self.config.request_timeout,
            )
            .await;
        match reply {
            Ok(bytes) => postcard::from_bytes(&bytes).ok(),
            Err(e) => {
                debug!(to = target, "join request not delivered: {e}");
                None
            }
        }
    }
}

/// This node's task of keeping its lease: a renewal with the leader every
/// `lease_renew_interval`, counted from when it was sent, and one at once
/// when a new leader becomes known (the old one's death may have left
/// little of the lease). Renewals run side by side, so one stuck with a
/// leader that just died does not hold up the next one, to the new leader.
#[derive(Clone)]
struct Renewing {
    raft: Raft,
    fencing: Arc<Fencing>,
    transport: Transport,
    lease: Arc<Mutex<LeaseHolder>>,
    config: PlacementConfig,
}

impl Renewing {
    async fn run(self) {
        let mut ticker = tokio::time::interval(self.config.lease_renew_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut metrics = self.raft.metrics();
        let mut known = None;
        loop {
            let leader = tokio::select! {
                _ = ticker.tick() => metrics.borrow_and_update().current_leader,
                changed = metrics.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let leader = metrics.borrow_and_update().current_leader;
                    if leader == known {
                        continue;
                    }
                    leader
                }
            };
            known = leader;
            let Some(leader) = leader else {
                continue;
            };
            let renewal = self.clone();
            tokio::spawn(renewal.renew(leader).in_current_span());
        }
    }

    async fn renew(self, leader: RaftId) {
        let sent = Instant::now();
        lock(&self.lease).expire(sent);
        // A grant that arrives after the lease it would give is over is
        // worthless, so there is no point waiting longer.
        let within = self.config.request_timeout.min(self.config.lease);
        let me = self.transport.node_id();
        let reply = if leader == me.0 {
            Some(self.fencing.grant(&self.raft, me, within).await)
        } else {
            self.ask(leader, within).await
        };
        match reply {
            Some(LeaseReply::Granted { as_of, except }) => {
                lock(&self.lease).granted(sent, as_of, except)
            }
            Some(LeaseReply::Fenced) => debug!("lease refused: this node's regions are moving"),
            Some(LeaseReply::Retry { .. }) | None => debug!(leader, "lease not renewed"),
        }
    }

    async fn ask(&self, leader: RaftId, within: Duration) -> Option<LeaseReply> {
        let body = Envelope::encode_body(&PlacementRequest::RenewLease).ok()?;
        let reply = self
            .transport
            .request(NodeId(leader), Topic::Placement, body, within)
            .await;
        match reply {
            Ok(bytes) => postcard::from_bytes(&bytes).ok(),
            Err(e) => {
                debug!(to = leader, "lease renewal not delivered: {e}");
                None
            }
        }
    }
}

/// Proposes again the moves of regions this node released whose ownership
/// has not moved on (the leader that asked for the release died before
/// committing the move), every lease period until it does. Ends with the
/// service.
async fn settle_releases(service: Weak<Inner>) {
    let period = match service.upgrade() {
        Some(inner) => inner.config.lease,
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = service.upgrade() else {
            return;
        };
        let service = PlacementService { inner };
        let me = service.node_id();
        let pending = service.inner.releases.pending(|region| {
            service
                .owner(region)
                .filter(|o| o.node == me)
                .map(|o| o.epoch)
        });
        for (region, released) in pending {
            let command = Command::Move {
                region,
                epoch: released.epoch,
                to: released.to,
            };
            if let Err(e) = service.propose(command).await {
                debug!(
                    ?region,
                    "the move of a released region is not through yet: {e}"
                );
            }
        }
    }
}
