//! The leader's side of region leases (see `lease`) on a live Raft group:
//! granting renewals after a quorum round, and holding every command that
//! takes regions away from a node until that node's leases are surely over.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::ServerState;
use tokio::time::Instant;
use tracing::debug;

use super::lease::{LeaseKeeper, LeaseTerms};
use super::messages::{LeaseReply, ProposeReply};
use super::state_machine::Replica;
use super::types::{Raft, RaftId};
use super::Command;
use crate::transport::NodeId;

/// The lease record of this node for the terms it leads.
pub(crate) struct Fencing {
    keeper: Mutex<LeaseKeeper>,
    replica: Arc<Replica>,
}

/// A node's regions are being reassigned while this lives.
pub(crate) struct Fence<'a> {
    fencing: &'a Fencing,
    node: NodeId,
}

impl Drop for Fence<'_> {
    fn drop(&mut self) {
        self.fencing.keeper().unfence(self.node);
    }
}

/// This node does not lead (any more): ask `leader`, if known.
pub(crate) struct NotLeader(pub(crate) Option<RaftId>);

impl Fencing {
    pub(crate) fn new(terms: LeaseTerms, replica: Arc<Replica>) -> Self {
        Self {
            keeper: Mutex::new(LeaseKeeper::new(terms)),
            replica,
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
    /// follows the reassignment's commit (and `as_of` includes it).
    pub(crate) async fn grant(&self, raft: &Raft, node: NodeId, within: Duration) -> LeaseReply {
        let now = Instant::now();
        if let Err(NotLeader(leader)) = self.note_leadership(raft, now) {
            return LeaseReply::Retry { leader };
        }
        {
            let mut keeper = self.keeper();
            keeper.expire(now);
            if keeper.grant(node, now).is_err() {
                return LeaseReply::Fenced;
            }
        }
        match tokio::time::timeout(within, raft.ensure_linearizable()).await {
            Ok(Ok(read_log_id)) => LeaseReply::Granted {
                as_of: read_log_id.map(|id| id.index),
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

    /// The node whose regions `command` would give to others, if any.
    fn displaced(&self, command: &Command) -> Option<NodeId> {
        match *command {
            Command::NodeDown(node) => Some(node),
            Command::Move { region, epoch, to } => self
                .replica
                .table()
                .owner(region)
                .filter(|o| o.epoch == epoch && o.node != to)
                .map(|o| o.node),
            Command::NodeUp(_) | Command::Place(_) => None,
        }
    }

    /// Fences the node `command` displaces and waits until its leases and
    /// this leader's takeover wait are surely over. The returned fence must
    /// live until the command is committed (or given up).
    pub(crate) async fn hold_back(
        &self,
        raft: &Raft,
        command: &Command,
    ) -> Result<Option<Fence<'_>>, NotLeader> {
        let Some(node) = self.displaced(command) else {
            return Ok(None);
        };
        let fence = Fence {
            fencing: self,
            node,
        };
        self.keeper().fence(node);
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
