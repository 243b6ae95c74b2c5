//! Serves the Placement topic: Raft RPCs from peers, proposals forwarded to
//! this node, and learners asking to join.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openraft::error::{ClientWriteError, Fatal, RaftError};
use openraft::EmptyNode;
use tokio::sync::mpsc;
use tracing::{debug, warn, Instrument};

use super::fencing::Fencing;
use super::messages::{JoinReply, PlacementRequest, ProposeReply};
use super::release::Releases;
use super::types::{Raft, RaftId};
use super::Command;
use crate::transport::{BodyError, Envelope, Kind, NodeId, Transport};

/// Answers every request on the Placement topic until the inbox closes.
pub(crate) async fn serve(
    raft: Raft,
    fencing: Arc<Fencing>,
    releases: Arc<Releases>,
    transport: Transport,
    mut inbox: mpsc::Receiver<Envelope>,
    request_timeout: Duration,
) {
    while let Some(envelope) = inbox.recv().await {
        if !matches!(envelope.kind, Kind::Request(_)) {
            debug!(from = %envelope.from, "ignoring a placement message that is not a request");
            continue;
        }
        let request: PlacementRequest = match envelope.decode_body() {
            Ok(request) => request,
            Err(e) => {
                warn!(from = %envelope.from, "bad placement request: {e}");
                let _ = transport.reply_error(&envelope, e.to_string());
                continue;
            }
        };
        // One task per request: a proposal waits for a commit and must not
        // hold up the heartbeats queued behind it.
        let raft = raft.clone();
        let fencing = fencing.clone();
        let releases = releases.clone();
        let transport = transport.clone();
        let work = async move {
            let from = envelope.from.0;
            let answered = answer(&raft, &fencing, &releases, from, request, request_timeout);
            let sent = match answered.await {
                Ok(body) => transport.reply(&envelope, body),
                Err(e) => transport.reply_error(&envelope, e.to_string()),
            };
            if let Err(e) = sent {
                // The requester times out and retries.
                debug!(to = from, "cannot reply to a placement request: {e}");
            }
        };
        tokio::spawn(work.in_current_span());
    }
}

async fn answer(
    raft: &Raft,
    fencing: &Fencing,
    releases: &Releases,
    from: RaftId,
    request: PlacementRequest,
    request_timeout: Duration,
) -> Result<Bytes, BodyError> {
    match request {
        PlacementRequest::AppendEntries(rpc) => {
            Envelope::encode_body(&raft.append_entries(rpc).await.map_err(fatal))
        }
        PlacementRequest::Vote(rpc) => Envelope::encode_body(&raft.vote(rpc).await.map_err(fatal)),
        PlacementRequest::InstallSnapshot(rpc) => {
            Envelope::encode_body(&raft.install_snapshot(rpc).await)
        }
        PlacementRequest::Propose(command) => {
            // A stopped Raft here is just "not here" to the proposer.
            let reply = commit_here(raft, fencing, command, request_timeout)
                .await
                .unwrap_or(ProposeReply::Retry { leader: None });
            Envelope::encode_body(&reply)
        }
        PlacementRequest::AddLearner => {
            Envelope::encode_body(&add_learner(raft, from, request_timeout).await)
        }
        // Only for the sender itself: the envelope's `from` is authenticated.
        PlacementRequest::RenewLease => {
            Envelope::encode_body(&fencing.grant(raft, NodeId(from), request_timeout).await)
        }
        PlacementRequest::Release { region, epoch, to } => {
            let released = releases.release(region, epoch, to, request_timeout).await;
            Envelope::encode_body(&released)
        }
    }
}

/// The only error of a Raft RPC handler.
fn fatal(e: RaftError<RaftId>) -> Fatal<RaftId> {
    match e {
        RaftError::Fatal(fatal) => fatal,
        RaftError::APIError(never) => match never {},
    }
}

/// Commits `command` through this node's Raft if it leads; otherwise says
/// whom to ask. `Err` only if Raft has stopped.
///
/// A command that takes regions from a node waits first, fenced, until
/// that node's leases have surely run out (see `lease`); `within` bounds
/// the commit after that wait, which is at most a lease and its margin.
pub(crate) async fn commit_here(
    raft: &Raft,
    fencing: &Fencing,
    command: Command,
    within: Duration,
) -> Result<ProposeReply, Fatal<RaftId>> {
    let _fence = match fencing.hold_back(raft, &command, within).await {
        Ok(fence) => fence,
        Err(not_leader) => return Ok(not_leader.into()),
    };
    match tokio::time::timeout(within, raft.client_write(command)).await {
        Ok(Ok(response)) => Ok(ProposeReply::Committed {
            index: response.log_id.index,
            applied: response.data,
        }),
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
            Ok(ProposeReply::Retry {
                leader: forward.leader_id,
            })
        }
        // Only membership changes fail this way; a command never does.
        Ok(Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(_)))) => {
            Ok(ProposeReply::Retry { leader: None })
        }
        Ok(Err(RaftError::Fatal(fatal))) => Err(fatal),
        // A leader cut off from its majority cannot commit; the proposer
        // looks for another.
        Err(_elapsed) => Ok(ProposeReply::Retry { leader: None }),
    }
}

/// Adds `node` to the group as a learner, so it receives the table.
async fn add_learner(raft: &Raft, node: RaftId, within: Duration) -> JoinReply {
    let known = raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .get_node(&node)
        .is_some();
    if known {
        return JoinReply::Added;
    }
    let added = tokio::time::timeout(within, raft.add_learner(node, EmptyNode {}, false)).await;
    match added {
        Ok(Ok(_)) => JoinReply::Added,
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
            JoinReply::Retry {
                leader: forward.leader_id,
            }
        }
        // Another membership change in progress, Raft stopping, or no commit
        // in time: the learner asks again.
        Ok(Err(e)) => {
            debug!(learner = node, "cannot add a learner yet: {e}");
            JoinReply::Retry { leader: None }
        }
        Err(_elapsed) => JoinReply::Retry { leader: None },
    }
}
