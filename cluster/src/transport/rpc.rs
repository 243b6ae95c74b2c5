//! Correlation of requests with their replies. A reply completes the request
//! it names only if it comes from the node the request went to; duplicate and
//! late replies find no entry and are ignored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{lock, NodeId, RequestId, RpcError};

type Outcome = Result<Bytes, RpcError>;

struct Pending {
    to: NodeId,
    done: oneshot::Sender<Outcome>,
}

#[derive(Default)]
pub(crate) struct Rpc {
    next_id: AtomicU64,
    pending: Mutex<HashMap<RequestId, Pending>>,
}

impl Rpc {
    /// Registers a request to `to`; the entry is removed when the returned
    /// guard drops, so a timed-out or abandoned request leaves nothing behind.
    pub(crate) fn register(&self, to: NodeId) -> (PendingGuard<'_>, oneshot::Receiver<Outcome>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, reply) = oneshot::channel();
        lock(&self.pending).insert(id, Pending { to, done });
        (PendingGuard { rpc: self, id }, reply)
    }

    /// Completes request `id` with a reply from `from`.
    pub(crate) fn complete(&self, from: NodeId, id: RequestId, outcome: Outcome) {
        let mut pending = lock(&self.pending);
        if pending.get(&id).is_some_and(|p| p.to == from) {
            if let Some(p) = pending.remove(&id) {
                // The requester may have stopped waiting; nothing to do then.
                let _ = p.done.send(outcome);
            }
        }
    }

    /// Fails every request to `peer`: it was removed, so no reply will come.
    pub(crate) fn fail_peer(&self, peer: NodeId) {
        self.fail_where(|to| to == peer, RpcError::PeerUnreachable);
    }

    /// Fails every request: the transport is shutting down.
    pub(crate) fn fail_all(&self) {
        self.fail_where(
            |_| true,
            |_| RpcError::Send(super::TransportError::Shutdown),
        );
    }

    fn fail_where(&self, matches: impl Fn(NodeId) -> bool, error: impl Fn(NodeId) -> RpcError) {
        let failed: Vec<Pending> = {
            let mut pending = lock(&self.pending);
            let ids: Vec<RequestId> = pending
                .iter()
                .filter(|(_, p)| matches(p.to))
                .map(|(&id, _)| id)
                .collect();
            ids.iter().filter_map(|id| pending.remove(id)).collect()
        };
        for p in failed {
            let _ = p.done.send(Err(error(p.to)));
        }
    }

    #[cfg(test)]
    fn outstanding(&self) -> usize {
        lock(&self.pending).len()
    }
}

/// Removes its request's entry when dropped.
pub(crate) struct PendingGuard<'a> {
    rpc: &'a Rpc,
    pub(crate) id: RequestId,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.rpc.pending).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_first_reply_from_the_right_node_counts() {
        let rpc = Rpc::default();
        let (guard, reply) = rpc.register(NodeId(2));
        rpc.complete(NodeId(3), guard.id, Ok(Bytes::from_static(b"impostor")));
        rpc.complete(NodeId(2), guard.id, Ok(Bytes::from_static(b"first")));
        rpc.complete(NodeId(2), guard.id, Ok(Bytes::from_static(b"duplicate")));
        assert_eq!(reply.await.unwrap().unwrap(), Bytes::from_static(b"first"));
        drop(guard);
        assert_eq!(rpc.outstanding(), 0);
    }

    #[test]
    fn an_abandoned_request_leaves_nothing_and_a_late_reply_is_ignored() {
        let rpc = Rpc::default();
        let (guard, reply) = rpc.register(NodeId(2));
        let id = guard.id;
        drop(guard);
        drop(reply);
        assert_eq!(rpc.outstanding(), 0);
        rpc.complete(NodeId(2), id, Ok(Bytes::new()));
        assert_eq!(rpc.outstanding(), 0);
    }

    #[tokio::test]
    async fn removing_a_peer_fails_only_its_requests() {
        let rpc = Rpc::default();
        let (_g2, to_two) = rpc.register(NodeId(2));
        let (_g3, mut to_three) = rpc.register(NodeId(3));
        rpc.fail_peer(NodeId(2));
        assert!(matches!(
            to_two.await.unwrap(),
            Err(RpcError::PeerUnreachable(NodeId(2)))
        ));
        assert!(to_three.try_recv().is_err());
        assert_eq!(rpc.outstanding(), 1);
    }
}
