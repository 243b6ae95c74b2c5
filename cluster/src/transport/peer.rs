//! The state kept per remote node: its send queues, which outlive
//! connections (messages queued while it is away go out once it is back),
//! and which connection is the live one.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Mutex, MutexGuard};

use super::envelope::Lane;
use super::NodeId;

/// An authenticated connection, as the peer slot knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) id: u64,
    pub(crate) dialer: NodeId,
}

#[derive(Debug, Clone)]
pub(crate) struct PeerState {
    /// Where we dial the peer; `None` for a node that dialled us and that we
    /// were not told about.
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) active: Option<Link>,
    /// Set when the peer is removed or the transport shuts down: its dial
    /// loop and connection end.
    pub(crate) removed: bool,
}

pub(crate) struct Peer {
    pub(crate) id: NodeId,
    control: mpsc::Sender<Bytes>,
    bulk: mpsc::Sender<Bytes>,
    /// Owned by the writer of the live connection for as long as it lives.
    outbox: Mutex<Outbox>,
    state: watch::Sender<PeerState>,
}

/// The receiving ends of a peer's two queues: encoded envelopes, not yet
/// sealed (a connection seals them with its own keys as it writes them).
pub(crate) struct Outbox {
    pub(crate) control: mpsc::Receiver<Bytes>,
    pub(crate) bulk: mpsc::Receiver<Bytes>,
}

impl Outbox {
    /// The next queued frame, the control lane's first.
    pub(crate) fn try_next(&mut self) -> Option<Bytes> {
        self.control
            .try_recv()
            .or_else(|_| self.bulk.try_recv())
            .ok()
    }

    /// Waits for the next frame, the control lane's first; `None` once the
    /// peer slot is gone (it holds both senders for as long as it exists).
    pub(crate) async fn next(&mut self) -> Option<Bytes> {
        tokio::select! {
            biased;
            Some(frame) = self.control.recv() => Some(frame),
            Some(frame) = self.bulk.recv() => Some(frame),
            else => None,
        }
    }
}

impl Peer {
    pub(crate) fn new(
        id: NodeId,
        addr: Option<SocketAddr>,
        control_capacity: usize,
        bulk_capacity: usize,
    ) -> Arc<Self> {
        let (control, control_outbox) = mpsc::channel(control_capacity);
        let (bulk, bulk_outbox) = mpsc::channel(bulk_capacity);
        let state = PeerState {
            addr,
            active: None,
            removed: false,
        };
        Arc::new(Self {
            id,
            control,
            bulk,
            outbox: Mutex::new(Outbox {
                control: control_outbox,
                bulk: bulk_outbox,
            }),
            state: watch::Sender::new(state),
        })
    }

    pub(crate) fn queue(&self, lane: Lane) -> &mpsc::Sender<Bytes> {
        match lane {
            Lane::Control => &self.control,
            Lane::Bulk => &self.bulk,
        }
    }

    pub(crate) fn watch(&self) -> watch::Receiver<PeerState> {
        self.state.subscribe()
    }

    pub(crate) fn addr(&self) -> Option<SocketAddr> {
        self.state.borrow().addr
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.state.borrow().active.is_some()
    }

    /// Sets where to dial the peer; true if it had no address before, i.e.
    /// a dial loop must be started for it.
    pub(crate) fn set_addr(&self, addr: SocketAddr) -> bool {
        let mut first = false;
        self.state.send_modify(|s| {
            first = s.addr.is_none();
            s.addr = Some(addr);
        });
        first
    }

    /// Makes `link` the live connection unless the one already live is
    /// preferred; false means `link` must be closed.
    pub(crate) fn install(&self, link: Link, local: NodeId) -> bool {
        let preferred = local.min(self.id);
        self.state.send_if_modified(|s| {
            if s.removed {
                return false;
            }
            if let Some(current) = s.active {
                if !replaces(link, current, preferred) {
                    return false;
                }
            }
            s.active = Some(link);
            true
        })
    }

    /// Forgets `link`; true if it was the live connection (and none is now).
    pub(crate) fn release(&self, link: u64) -> bool {
        self.state.send_if_modified(|s| {
            if s.active.is_some_and(|a| a.id == link) {
                s.active = None;
                return true;
            }
            false
        })
    }

    pub(crate) fn remove(&self) {
        self.state.send_modify(|s| {
            s.removed = true;
            s.active = None;
        });
    }

    pub(crate) async fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().await
    }
}

/// Whether a new connection replaces the live one. When both nodes dial at
/// once each ends up with two; both apply this same rule, so both keep the one
/// dialled by the lower id. Between two equally preferred connections the newer
/// wins: the dialer only redials when it believes the old one dead.
fn replaces(new: Link, current: Link, preferred_dialer: NodeId) -> bool {
    current.dialer != preferred_dialer || new.dialer == preferred_dialer
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: NodeId = NodeId(1);
    const HIGH: NodeId = NodeId(2);

    fn link(id: u64, dialer: NodeId) -> Link {
        Link { id, dialer }
    }

    #[test]
    fn both_sides_keep_the_connection_dialled_by_the_lower_id() {
        // Whichever order the two connections complete in, on either node,
        // the one dialled by LOW is what remains.
        for (local, remote) in [(LOW, HIGH), (HIGH, LOW)] {
            for order in [[LOW, HIGH], [HIGH, LOW]] {
                let peer = Peer::new(remote, None, 1, 1);
                let outcomes: Vec<bool> = order
                    .iter()
                    .enumerate()
                    .map(|(i, &dialer)| peer.install(link(i as u64, dialer), local))
                    .collect();
                let active = peer.state.borrow().active.unwrap();
                assert_eq!(active.dialer, LOW, "local {local}, order {order:?}");
                // The first always goes in; the second only if it is LOW's.
                assert_eq!(outcomes, vec![true, order[1] == LOW]);
            }
        }
    }

    #[test]
    fn a_redial_by_the_same_node_replaces_a_stale_connection() {
        let peer = Peer::new(HIGH, None, 1, 1);
        assert!(peer.install(link(1, LOW), LOW));
        assert!(peer.install(link(2, LOW), LOW));
        assert!(!peer.release(1), "the replaced link is no longer live");
        assert!(peer.release(2));
        assert!(!peer.is_connected());
    }

    #[tokio::test]
    async fn the_control_lane_is_drained_first_and_each_lane_has_its_own_bound() {
        let peer = Peer::new(HIGH, None, 2, 2);
        for body in ["bulk 1", "bulk 2"] {
            peer.queue(Lane::Bulk).try_send(Bytes::from(body)).unwrap();
        }
        assert!(peer
            .queue(Lane::Bulk)
            .try_send(Bytes::from("bulk 3"))
            .is_err());
        for body in ["control 1", "control 2"] {
            peer.queue(Lane::Control)
                .try_send(Bytes::from(body))
                .unwrap();
        }
        let mut outbox = peer.outbox().await;
        assert_eq!(outbox.next().await.unwrap(), "control 1");
        assert_eq!(outbox.try_next().unwrap(), "control 2");
        assert_eq!(outbox.try_next().unwrap(), "bulk 1");
        assert_eq!(outbox.next().await.unwrap(), "bulk 2");
        assert!(outbox.try_next().is_none());
    }

    #[test]
    fn a_removed_peer_takes_no_connection() {
        let peer = Peer::new(HIGH, None, 1, 1);
        peer.remove();
        assert!(!peer.install(link(1, LOW), LOW));
    }
}
