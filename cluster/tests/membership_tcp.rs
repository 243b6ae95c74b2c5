//! Membership over real transports on 127.0.0.1, several nodes in one
//! process, with the default (LAN) failure-detection timings. Every wait is
//! bounded; the measured detection times are printed (`--nocapture`).

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use tessera_cluster::membership::{
    Member, MemberEvent, MemberInfo, MemberState, Membership, MembershipConfig, MembershipError,
    Seed,
};
use tessera_cluster::transport::{
    ClusterSecret, NodeId, TokioNet, Transport, TransportConfig, TransportError,
};
use tokio::sync::broadcast::{self, error::RecvError};

const SECRET: &str = "tessera membership test secret";
/// Forming a cluster or noticing a join takes a few gossip rounds.
const CONVERGE: Duration = Duration::from_secs(10);
/// A crashed member must be declared Down within this: one probe period to
/// be picked and probed, the probe itself, then `suspect_to_down_after`, with
/// the defaults about 2–2.5 s; the rest is slack for a loaded machine.
const DETECTION_BOUND: Duration = Duration::from_secs(5);
/// A member that leaves tells the others directly.
const LEAVE_BOUND: Duration = Duration::from_secs(1);

struct Node {
    id: NodeId,
    transport: Transport,
    membership: Membership,
}

impl Node {
    async fn start(id: u64, seeds: Vec<Seed>) -> Node {
        common::show_logs_of_failures();
        let id = NodeId(id);
        let transport = Transport::start(TokioNet, transport_config(id))
            .await
            .unwrap();
        let me = MemberInfo {
            id,
            addr: transport.local_addr(),
        };
        let membership =
            Membership::start(transport.clone(), me, seeds, MembershipConfig::default()).unwrap();
        Node {
            id,
            transport,
            membership,
        }
    }

    fn seed(&self) -> Seed {
        Seed::new(self.id, self.transport.local_addr())
    }

    /// Dies without a word: membership and transport stop at once.
    async fn crash(self) {
        self.membership.shutdown().await;
        self.transport.shutdown().await;
    }

    fn state_of(&self, id: NodeId) -> Option<MemberState> {
        let members = self.membership.members();
        members.iter().find(|m| m.id == id).map(|m| m.state)
    }

    fn sees_all_alive(&self, ids: &[NodeId]) -> bool {
        let members: Vec<Member> = self.membership.members();
        members.len() == ids.len()
            && ids.iter().all(|id| {
                members
                    .iter()
                    .any(|m| m.id == *id && m.state == MemberState::Alive)
            })
    }
}

/// Short heartbeats and backoff, as in the transport's own tests, so that
/// a restarted peer is redialled promptly.
fn transport_config(id: NodeId) -> TransportConfig {
    let listen = "127.0.0.1:0".parse().unwrap();
    let mut config = TransportConfig::new(id, listen, ClusterSecret::new(SECRET).unwrap());
    config.heartbeat_interval = Duration::from_millis(100);
    config.idle_timeout = Duration::from_millis(600);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config
}

async fn cluster_of_three() -> [Node; 3] {
    let n1 = Node::start(1, vec![]).await;
    let n2 = Node::start(2, vec![n1.seed()]).await;
    let n3 = Node::start(3, vec![n1.seed()]).await;
    let nodes = [n1, n2, n3];
    let ids: Vec<NodeId> = nodes.iter().map(|n| n.id).collect();
    eventually("all three see each other alive", CONVERGE, || {
        nodes.iter().all(|n| n.sees_all_alive(&ids))
    })
    .await;
    nodes
}

async fn eventually(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for `want` (skipping other events) and returns how long after
/// `since` it came.
async fn event(
    events: &mut broadcast::Receiver<MemberEvent>,
    want: MemberEvent,
    since: Instant,
    within: Duration,
) -> Duration {
    let seen = tokio::time::timeout(within, async {
        loop {
            match events.recv().await {
                Ok(event) if event == want => return,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("membership stopped"),
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "no {want:?} within {within:?}");
    since.elapsed()
}

#[tokio::test]
async fn a_crashed_member_is_declared_down_and_its_restart_comes_back_up() {
    let [n1, n2, n3] = cluster_of_three().await;
    let mut events1 = n1.membership.subscribe();
    let mut events2 = n2.membership.subscribe();

    let crashed = Instant::now();
    n3.crash().await;
    let down = MemberEvent::Down(NodeId(3));
    let (at1, at2) = tokio::join!(
        event(&mut events1, down, crashed, DETECTION_BOUND),
        event(&mut events2, down, crashed, DETECTION_BOUND),
    );
    println!("crash of node 3 declared Down after {at1:?} on node 1, {at2:?} on node 2");
    assert_eq!(n1.state_of(NodeId(3)), Some(MemberState::Down));
    assert_eq!(n2.state_of(NodeId(3)), Some(MemberState::Down));

    // Same node id, new process (and port): a new identity, welcomed at once.
    let restarted = Instant::now();
    let n3 = Node::start(3, vec![n1.seed()]).await;
    let up = MemberEvent::Up(NodeId(3), n3.transport.local_addr());
    let (at1, at2) = tokio::join!(
        event(&mut events1, up, restarted, CONVERGE),
        event(&mut events2, up, restarted, CONVERGE),
    );
    println!("restarted node 3 seen Up after {at1:?} on node 1, {at2:?} on node 2");
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    eventually(
        "the restarted node and the others see all alive",
        CONVERGE,
        || [&n1, &n2, &n3].iter().all(|n| n.sees_all_alive(&ids)),
    )
    .await;
    let listed = n1.membership.members();
    assert_eq!(listed[2].addr, n3.transport.local_addr(), "{listed:?}");
}

#[tokio::test]
async fn a_restart_before_detection_reads_down_then_up() {
    let [n1, _n2, n3] = cluster_of_three().await;
    let mut events = n1.membership.subscribe();
    let restarted = Instant::now();
    n3.crash().await;
    let n3 = Node::start(3, vec![n1.seed()]).await;
    // The new run replaces the old one as soon as it is heard of, long
    // before the old one could have been detected as failed.
    let down = event(
        &mut events,
        MemberEvent::Down(NodeId(3)),
        restarted,
        CONVERGE,
    )
    .await;
    let up = MemberEvent::Up(NodeId(3), n3.transport.local_addr());
    let up = event(&mut events, up, restarted, CONVERGE).await;
    println!("quick restart of node 3: Down after {down:?}, Up after {up:?}");
    assert!(up < DETECTION_BOUND, "{up:?}");
}

#[tokio::test]
async fn a_member_that_leaves_is_down_at_once() {
    let [n1, n2, n3] = cluster_of_three().await;
    let mut events1 = n1.membership.subscribe();
    let mut events2 = n2.membership.subscribe();

    let left = Instant::now();
    n3.membership.leave().await.unwrap();
    let acknowledged = left.elapsed();
    let down = MemberEvent::Down(NodeId(3));
    let (at1, at2) = tokio::join!(
        event(&mut events1, down, left, LEAVE_BOUND),
        event(&mut events2, down, left, LEAVE_BOUND),
    );
    println!("node 3 left: acknowledged after {acknowledged:?}; Down after {at1:?} on node 1, {at2:?} on node 2");
    assert_eq!(n3.state_of(NodeId(3)), Some(MemberState::Down));
    assert!(matches!(
        n3.membership.leave().await,
        Err(MembershipError::Stopped)
    ));
    n3.transport.shutdown().await;
}

#[tokio::test]
async fn a_node_joining_through_one_seed_learns_every_member() {
    let [n1, n2, n3] = cluster_of_three().await;
    // Through a DNS name, as a Kubernetes headless Service would give it.
    let seed: Seed = format!("2@localhost:{}", n2.transport.local_addr().port())
        .parse()
        .unwrap();
    let n4 = Node::start(4, vec![seed]).await;
    let ids = [NodeId(1), NodeId(2), NodeId(3), NodeId(4)];
    eventually("every node sees all four alive", CONVERGE, || {
        [&n1, &n2, &n3, &n4].iter().all(|n| n.sees_all_alive(&ids))
    })
    .await;
}

#[tokio::test]
async fn membership_refuses_another_nodes_transport_and_a_second_start() {
    let node = Node::start(1, vec![]).await;
    let me = MemberInfo {
        id: NodeId(9),
        addr: node.transport.local_addr(),
    };
    let wrong = Membership::start(
        node.transport.clone(),
        me,
        vec![],
        MembershipConfig::default(),
    );
    assert!(matches!(
        wrong,
        Err(MembershipError::WrongNode {
            given: NodeId(9),
            transport: NodeId(1)
        })
    ));
    let me = MemberInfo {
        id: NodeId(1),
        ..me
    };
    let again = Membership::start(
        node.transport.clone(),
        me,
        vec![],
        MembershipConfig::default(),
    );
    assert!(matches!(
        again,
        Err(MembershipError::Transport(
            TransportError::AlreadySubscribed(_)
        ))
    ));
}
