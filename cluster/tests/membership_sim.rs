//! Membership over turmoil's simulated network: a partition isolates one of
//! three nodes, both sides declare the other Down, and after the repair the
//! isolated node rejoins. Time is virtual, so the seconds of failure
//! detection cost little real time.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/wait.rs"]
mod wait;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wait::wait_until;

use tessera_cluster::membership::{
    MemberEvent, MemberInfo, MemberState, Membership, MembershipConfig, Seed,
};
use tessera_cluster::transport::{ClusterSecret, NodeId, Transport, TransportConfig, TurmoilNet};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::time::Instant;

const SECRET: &str = "tessera simulated membership secret";
const PORT: u16 = 7600;
const HOSTS: [(&str, u64); 3] = [("n1", 1), ("n2", 2), ("n3", 3)];
const CONVERGE: Duration = Duration::from_secs(15);
/// As in `membership_tcp`: about 2–2.5 s with the defaults, plus slack.
const DETECTION_BOUND: Duration = Duration::from_secs(5);

/// Each host's membership, for the checking client to look at.
type Registry = Arc<Mutex<HashMap<u64, Membership>>>;

fn config(id: u64) -> TransportConfig {
    TransportConfig::simulated(NodeId(id), PORT, ClusterSecret::new(SECRET).unwrap())
}

/// Every node gets the same seed list: all three (each skips itself).
fn seeds() -> Vec<Seed> {
    HOSTS
        .iter()
        .map(|(name, id)| Seed::new(NodeId(*id), SocketAddr::new(turmoil::lookup(*name), PORT)))
        .collect()
}

async fn node(name: &'static str, id: u64, registry: Registry) -> turmoil::Result {
    let transport = Transport::start(TurmoilNet, config(id)).await?;
    let me = MemberInfo {
        id: NodeId(id),
        addr: SocketAddr::new(turmoil::lookup(name), PORT),
    };
    let membership = Membership::start(transport, me, seeds(), MembershipConfig::default())?;
    registry.lock().unwrap().insert(id, membership);
    std::future::pending().await
}

fn state(registry: &Registry, viewer: u64, of: u64) -> Option<MemberState> {
    let members = registry.lock().unwrap().get(&viewer)?.members();
    members.iter().find(|m| m.id == NodeId(of)).map(|m| m.state)
}

fn all_alive(registry: &Registry) -> bool {
    HOSTS.iter().all(|(_, viewer)| {
        HOSTS
            .iter()
            .all(|(_, of)| state(registry, *viewer, *of) == Some(MemberState::Alive))
    })
}

#[test]
fn a_partitioned_node_is_declared_down_and_rejoins_after_the_repair() -> turmoil::Result {
    common::show_logs_of_failures();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .build();
    let registry = Registry::default();
    for (name, id) in HOSTS {
        let registry = registry.clone();
        sim.host(name, move || node(name, id, registry.clone()));
    }
    sim.client("checker", async move {
        wait_until("the three nodes see each other alive", CONVERGE, || {
            all_alive(&registry)
        })
        .await;
        let membership = |id: u64| registry.lock().unwrap()[&id].clone();
        let mut events = membership(2).subscribe();

        let cut = Instant::now();
        turmoil::partition("n1", "n2");
        turmoil::partition("n1", "n3");
        wait_until("n2 and n3 declare n1 down", DETECTION_BOUND, || {
            [2, 3]
                .iter()
                .all(|viewer| state(&registry, *viewer, 1) == Some(MemberState::Down))
        })
        .await;
        println!(
            "partitioned n1 declared Down after {:?} (virtual)",
            cut.elapsed()
        );
        wait_until("n1 declares both others down", DETECTION_BOUND, || {
            [2, 3]
                .iter()
                .all(|of| state(&registry, 1, *of) == Some(MemberState::Down))
        })
        .await;
        // The majority side still sees itself whole.
        assert_eq!(state(&registry, 2, 3), Some(MemberState::Alive));
        assert_eq!(state(&registry, 3, 2), Some(MemberState::Alive));

        let repaired = Instant::now();
        turmoil::repair("n1", "n2");
        turmoil::repair("n1", "n3");
        wait_until("all three see each other alive again", CONVERGE, || {
            all_alive(&registry)
        })
        .await;
        println!("n1 rejoined after {:?} (virtual)", repaired.elapsed());

        // n2 saw n1 go and come back, in that order.
        let n1 = SocketAddr::new(turmoil::lookup("n1"), PORT);
        let mut seen = Vec::new();
        loop {
            match events.try_recv() {
                Ok(event) => seen.push(event),
                Err(TryRecvError::Empty) => break,
                Err(error) => panic!("{error}"),
            }
        }
        let about_n1: Vec<_> = seen
            .into_iter()
            .filter(|event| match event {
                MemberEvent::Up(id, _) | MemberEvent::Down(id) => *id == NodeId(1),
            })
            .collect();
        assert_eq!(
            about_n1,
            [MemberEvent::Down(NodeId(1)), MemberEvent::Up(NodeId(1), n1)]
        );
        Ok(())
    });
    sim.run()
}
