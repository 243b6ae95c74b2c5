//! What the rest of the node sees of membership: the member list and the
//! Up/Down events, both derived from foca's member table after every step
//! rather than from its notifications one by one, so that renames, rejoins
//! and restarts all come out as the same simple story per node.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::{broadcast, watch};
use tracing::info;

use super::identity::NodeIdentity;
use crate::transport::NodeId;

/// How a member is seen from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    Alive,
    /// Missed a probe; it is declared Down unless it answers in time. Still
    /// counts as up: no `Down` event has been sent.
    Suspect,
    /// Declared dead, or left.
    Down,
}

/// A node of the cluster as this node knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Member {
    pub id: NodeId,
    /// Where its transport accepts connections.
    pub addr: SocketAddr,
    pub state: MemberState,
}

/// A change in the set of live nodes. For each node, events alternate: `Up`,
/// `Down`, `Up`... A node that restarted is reported `Down` then `Up`, even
/// when its previous run was never detected as failed, since whatever it held
/// in memory is gone. A node declared Down and then found alive (a partition
/// that healed) is also `Down` then `Up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberEvent {
    Up(NodeId, SocketAddr),
    /// Declared dead, or left the cluster.
    Down(NodeId),
}

/// The member list and the events, as published to `Membership` handles.
pub(crate) struct View {
    local: NodeIdentity,
    left: bool,
    /// The nodes reported `Up` (and not `Down` since), with the identity that
    /// was reported.
    up: HashMap<NodeId, NodeIdentity>,
    members: watch::Sender<Vec<Member>>,
    events: broadcast::Sender<MemberEvent>,
}

impl View {
    pub(crate) fn new(
        local: NodeIdentity,
        events: broadcast::Sender<MemberEvent>,
    ) -> (Self, watch::Receiver<Vec<Member>>) {
        let (members, list) = watch::channel(Vec::new());
        let mut view = Self {
            local,
            left: false,
            up: HashMap::new(),
            members,
            events,
        };
        view.update(std::iter::empty());
        (view, list)
    }

    /// Our identity changed (we rejoined after being declared Down).
    pub(crate) fn set_local(&mut self, local: NodeIdentity) {
        self.local = local;
    }

    /// We left: the list shows this node Down from now on.
    pub(crate) fn mark_left(&mut self) {
        self.left = true;
    }

    /// Brings the list and the `up` set in line with foca's member table
    /// (every identity it knows, Down ones included), sending the events
    /// that the differences imply.
    pub(crate) fn update<'a>(
        &mut self,
        table: impl Iterator<Item = &'a foca::Member<NodeIdentity>>,
    ) {
        let local_state = if self.left {
            MemberState::Down
        } else {
            MemberState::Alive
        };
        let mut list = vec![Member {
            id: self.local.node,
            addr: self.local.addr,
            state: local_state,
        }];
        let mut live = HashMap::new();
        for member in table {
            let identity = *member.id();
            let state = match member.state() {
                foca::State::Alive => MemberState::Alive,
                foca::State::Suspect => MemberState::Suspect,
                foca::State::Down => MemberState::Down,
            };
            if state != MemberState::Down {
                live.insert(identity.node, identity);
            }
            list.push(Member {
                id: identity.node,
                addr: identity.addr,
                state,
            });
        }
        list.sort_by_key(|member| member.id);
        self.members.send_if_modified(|current| {
            let changed = *current != list;
            *current = list;
            changed
        });

        // Downs first, so that a restarted node reads Down then Up.
        let mut gone: Vec<NodeId> = self
            .up
            .iter()
            .filter(|(node, was)| {
                !matches!(live.get(*node), Some(now) if now.generation == was.generation)
            })
            .map(|(node, _)| *node)
            .collect();
        gone.sort();
        for node in gone {
            self.up.remove(&node);
            info!(peer = %node, "member down");
            self.publish(MemberEvent::Down(node));
        }
        let mut came = Vec::new();
        for identity in live.into_values() {
            // A rejoin of the same run only updates what is remembered.
            if self.up.insert(identity.node, identity).is_none() {
                came.push(identity);
            }
        }
        came.sort_by_key(|identity| identity.node);
        for identity in came {
            info!(peer = %identity.node, addr = %identity.addr, "member up");
            self.publish(MemberEvent::Up(identity.node, identity.addr));
        }
    }

    fn publish(&self, event: MemberEvent) {
        // No subscriber is not an error: the list still has it.
        let _ = self.events.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(node: u64, port: u16, generation: u64) -> NodeIdentity {
        NodeIdentity {
            generation,
            ..NodeIdentity::seed(NodeId(node), SocketAddr::from(([127, 0, 0, 1], port)))
        }
    }

    fn member(identity: NodeIdentity, state: foca::State) -> foca::Member<NodeIdentity> {
        foca::Member::new(identity, 0, state)
    }

    fn drain(events: &mut broadcast::Receiver<MemberEvent>) -> Vec<MemberEvent> {
        std::iter::from_fn(|| events.try_recv().ok()).collect()
    }

    #[test]
    fn events_follow_the_table_and_a_restart_reads_down_then_up() {
        let (sender, mut events) = broadcast::channel(16);
        let (mut view, list) = View::new(identity(1, 1, 1), sender);
        assert_eq!(list.borrow().len(), 1, "the local node is listed");

        let two = identity(2, 2, 5);
        view.update([member(two, foca::State::Alive)].iter());
        assert_eq!(drain(&mut events), [MemberEvent::Up(NodeId(2), two.addr)]);

        // Suspicion is not an event, and a rejoin of the same run is none.
        view.update([member(two, foca::State::Suspect)].iter());
        let rejoined = NodeIdentity { rejoins: 1, ..two };
        view.update([member(rejoined, foca::State::Alive)].iter());
        assert_eq!(drain(&mut events), []);
        assert_eq!(list.borrow()[1].state, MemberState::Alive);

        // A new run replaces the old one at once: Down, then Up.
        let restarted = identity(2, 3, 6);
        view.update([member(restarted, foca::State::Alive)].iter());
        assert_eq!(
            drain(&mut events),
            [
                MemberEvent::Down(NodeId(2)),
                MemberEvent::Up(NodeId(2), restarted.addr)
            ]
        );

        view.update([member(restarted, foca::State::Down)].iter());
        assert_eq!(drain(&mut events), [MemberEvent::Down(NodeId(2))]);
        let listed: Vec<_> = list.borrow().iter().map(|m| (m.id, m.state)).collect();
        assert_eq!(
            listed,
            [
                (NodeId(1), MemberState::Alive),
                (NodeId(2), MemberState::Down)
            ]
        );
    }
}
