//! The leader's side of region leases (see `lease`) on a live Raft group:
//! granting renewals after a quorum round, and holding every command that
//! takes regions away from a node until that node's leases are surely over,
//! or, for a single region, until the node confirms it released it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::ServerState;
use tokio::time::Instant;
use tracing::debug;

use super::lease::{LeaseKeeper, LeaseTerms};
use super::messages::{LeaseReply, PlacementRequest, ProposeReply};
use super::release::Releases;
use super::state_machine::Replica;
use super::types::{Raft, RaftId};
use super::{Command, RegionKey};
use crate::transport::{Envelope, NodeId, Topic, Transport};

/// The lease record of this node for the terms it leads.
pub(crate) struct Fencing {
    keeper: Mutex<LeaseKeeper>,
    replica: Arc<Replica>,
    releases: Arc<Releases>,
    transport: Transport,
}

/// A node's regions (all, or one) are being reassigned while this lives.
pub(crate) struct Fence<'a> {
    fencing: &'a Fencing,
    node: NodeId,
    region: Option<RegionKey>,
}

impl Drop for Fence<'_> {
    fn drop(&mut self) {
        self.fencing.keeper().unfence(self.node, self.region);
    }
}

/// What a command takes from whom.
struct Displaced {
    node: NodeId,
    /// One region under this epoch, going to the node given; or (`None`)
    /// all of the node's regions.
    region: Option<(RegionKey, u64, NodeId)>,
}

/// This node does not lead (any more): ask `leader`, if known.
pub(crate) struct NotLeader(pub(crate) Option<RaftId>);

impl Fencing {
    pub(crate) fn new(
        terms: LeaseTerms,
        replica: Arc<Replica>,
        releases: Arc<Releases>,
        transport: Transport,
    ) -> Self {
        Self {
            keeper: Mutex::new(LeaseKeeper::new(terms)),
            replica,
            releases,
            transport,
        }
    }

    // Every change to the keeper is a single call, so a panic elsewhere
    // cannot leave it half-changed: poisoning is ignored.
    fn keeper(&self) -> MutexGuard<'_, LeaseKeeper> {
        self.keeper.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes the term this node leads, if it leads; else says who does.
    fn note_leadership(&self, raft: &Raft, now: Instant) -> Result<u64, NotLeader> {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        if metrics.state != ServerState::Leader {
            return Err(NotLeader(metrics.current_leader));
        }
        self.keeper().leading(metrics.current_term, now);
        Ok(metrics.current_term)
    }

    /// Renews `node`'s lease, if this node leads. The grant is recorded
    /// before the quorum round, and `as_of` is read after it, so a grant
    /// either precedes a fence (and the reassignment waits for it) or
    /// follows the reassignment's append (and `as_of` includes it). `as_of`
    /// is the leader's last log entry, not just the committed one: a
    /// reassignment whose proposal was given up (its fence lifted) can stay
    /// in the log and commit later, and a lease that did not wait for it
    /// would let its old owner tick on beside the new one.
    pub(crate) async fn grant(&self, raft: &Raft, node: NodeId, within: Duration) -> LeaseReply {
        let now = Instant::now();
        if let Err(NotLeader(leader)) = self.note_leadership(raft, now) {
            return LeaseReply::Retry { leader };
        }
        let except = {
            let mut keeper = self.keeper();
            keeper.expire(now);
            match keeper.grant(node, now) {
                Ok(except) => except,
                Err(_fenced) => return LeaseReply::Fenced,
            }
        };
        match tokio::time::timeout(within, raft.ensure_linearizable()).await {
            Ok(Ok(read_log_id)) => LeaseReply::Granted {
                as_of: read_log_id
                    .map(|id| id.index)
                    .max(raft.metrics().borrow().last_log_index),
                except,
            },
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)))) => {
                LeaseReply::Retry {
                    leader: forward.leader_id,
                }
            }
            Ok(Err(e)) => {
                debug!(%node, "leadership not confirmed for a lease: {e}");
                LeaseReply::Retry { leader: None }
            }
            Err(_elapsed) => LeaseReply::Retry { leader: None },
        }
    }

    /// What `command` would take from whom, if anything.
    fn displaced(&self, command: &Command) -> Option<Displaced> {
        match *command {
            Command::NodeDown(node) => Some(Displaced { node, region: None }),
            Command::Move { region, epoch, to } => self
                .replica
                .table()
                .owner(region)
                .filter(|o| o.epoch == epoch && o.node != to)
                .map(|o| Displaced {
                    node: o.node,
                    region: Some((region, epoch, to)),
                }),
            Command::NodeUp(_) | Command::Place(_) => None,
        }
    }

    /// Fences what `command` displaces and waits until the node released
    /// the region, or its leases and this leader's takeover wait are surely
    /// over. The returned fence must live until the command is committed
    /// (or given up). `within` bounds the release request.
    pub(crate) async fn hold_back(
        &self,
        raft: &Raft,
        command: &Command,
        within: Duration,
    ) -> Result<Option<Fence<'_>>, NotLeader> {
        let Some(Displaced { node, region }) = self.displaced(command) else {
            return Ok(None);
        };
        let fence = Fence {
            fencing: self,
            node,
            region: region.map(|(region, _, _)| region),
        };
        self.keeper().fence(node, fence.region);
        if let Some((region, epoch, to)) = region {
            self.note_leadership(raft, Instant::now())?;
            if self.released(node, region, epoch, to, within).await {
                self.note_leadership(raft, Instant::now())?;
                return Ok(Some(fence));
            }
        }
        loop {
            let term = self.note_leadership(raft, Instant::now())?;
            let Some(at) = self.keeper().reassignable_at(node) else {
                return Err(NotLeader(None));
            };
            if at <= Instant::now() {
                return Ok(Some(fence));
            }
            debug!(%node, wait = ?at.saturating_duration_since(Instant::now()), "waiting for leases to run out before reassigning");
            tokio::time::sleep_until(at).await;
            // A term that changed while waiting starts a wait of its own.
            if self.note_leadership(raft, Instant::now())? == term {
                return Ok(Some(fence));
            }
        }
    }
}

/// A reply for a proposal this node cannot take.
impl From<NotLeader> for ProposeReply {
    fn from(NotLeader(leader): NotLeader) -> Self {
        ProposeReply::Retry { leader }
    }
}

impl Fencing {
    /// Asks `node` to release `region`; whether it confirmed.
    async fn released(
        &self,
        node: NodeId,
        region: RegionKey,
        epoch: u64,
        to: NodeId,
        within: Duration,
    ) -> bool {
        if node == self.transport.node_id() {
            return self.releases.release(region, epoch, to, within).await;
        }
        let request = PlacementRequest::Release { region, epoch, to };
        let Ok(body) = Envelope::encode_body(&request) else {
            return false;
        };
        let reply = self
            .transport
            .request(node, Topic::Placement, body, within)
            .await;
        match reply.map(|bytes| postcard::from_bytes::<bool>(&bytes)) {
            Ok(Ok(released)) => released,
            Ok(Err(e)) => {
                debug!(%node, "bad reply to a release: {e}");
                false
            }
            Err(e) => {
                debug!(%node, "release not confirmed: {e}");
                false
            }
        }
    }
}
