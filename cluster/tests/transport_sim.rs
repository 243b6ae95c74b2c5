//! The transport over turmoil's simulated network: three hosts, a partition
//! between two of them, and its repair. Time is virtual, so the seconds of
//! heartbeats and timeouts below cost little real time.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tessera_cluster::transport::{
    ClusterSecret, Envelope, NodeId, RpcError, Topic, Transport, TransportConfig, TurmoilNet,
};
use tokio::sync::mpsc;

const SECRET: &str = "tessera simulated cluster secret";
const PORT: u16 = 7600;
const HOSTS: [(&str, u64); 3] = [("n1", 1), ("n2", 2), ("n3", 3)];
const WAIT: Duration = Duration::from_secs(10);
const RPC_TIMEOUT: Duration = Duration::from_millis(500);

fn config(id: u64) -> TransportConfig {
    let mut config =
        TransportConfig::simulated(NodeId(id), PORT, ClusterSecret::new(SECRET).unwrap());
    for (name, peer) in HOSTS {
        config
            .peers
            .insert(NodeId(peer), SocketAddr::new(turmoil::lookup(name), PORT));
    }
    config
}

/// n2 and n3: echo requests on Register, relay a request to the node named in
/// a Placement request, and bounce Region messages back to their sender.
async fn serve(id: u64) -> turmoil::Result {
    let transport = Transport::start(TurmoilNet, config(id)).await?;
    let mut echo = transport.subscribe(Topic::Register)?;
    let mut relay = transport.subscribe(Topic::Placement)?;
    let mut bounce = transport.subscribe(Topic::Region)?;
    loop {
        tokio::select! {
            Some(request) = echo.recv() => {
                let _ = transport.reply(&request, request.body.clone());
            }
            Some(request) = relay.recv() => {
                let transport = transport.clone();
                tokio::spawn(async move {
                    let outcome = match request.decode_body::<NodeId>() {
                        Ok(target) => transport
                            .request(target, Topic::Register, "relayed", RPC_TIMEOUT)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = match outcome {
                        Ok(answer) => transport.reply(&request, answer),
                        Err(e) => transport.reply_error(&request, e),
                    };
                });
            }
            Some(message) = bounce.recv() => {
                let _ = transport.send(message.from, Topic::Region, message.body.clone());
            }
        }
    }
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(WAIT, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting until {what}");
}

async fn echo(node: &Transport, to: u64) -> Result<Bytes, RpcError> {
    node.request(NodeId(to), Topic::Register, "ping", RPC_TIMEOUT)
        .await
}

async fn relay(node: &Transport, via: u64, to: u64) -> Result<Bytes, RpcError> {
    let body = Envelope::encode_body(&NodeId(to)).unwrap();
    node.request(NodeId(via), Topic::Placement, body, Duration::from_secs(2))
        .await
}

/// Sends `body` to `to` to be bounced back; waits for it, skipping older
/// bounces, for at most `within`.
async fn round_trip(
    node: &Transport,
    bounced: &mut mpsc::Receiver<Envelope>,
    to: u64,
    body: &'static str,
    within: Duration,
) -> bool {
    node.send(NodeId(to), Topic::Region, body).unwrap();
    let back = async {
        while let Some(envelope) = bounced.recv().await {
            if envelope.from == NodeId(to) && &envelope.body[..] == body.as_bytes() {
                return;
            }
        }
    };
    tokio::time::timeout(within, back).await.is_ok()
}

#[test]
fn a_partition_stops_delivery_and_its_repair_restores_it() -> turmoil::Result {
    common::show_logs_of_failures();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .build();
    sim.host("n2", || serve(2));
    sim.host("n3", || serve(3));
    sim.client("n1", async {
        let node = Transport::start(TurmoilNet, config(1)).await?;
        let mut bounced = node.subscribe(Topic::Region)?;
        wait_until("n1 is connected to both", || {
            node.peers_connected() == [NodeId(2), NodeId(3)]
        })
        .await;

        // Messages flow between every pair.
        assert_eq!(echo(&node, 2).await?, "ping");
        assert_eq!(echo(&node, 3).await?, "ping");
        assert_eq!(relay(&node, 2, 3).await?, "relayed");
        assert_eq!(relay(&node, 3, 2).await?, "relayed");
        assert!(round_trip(&node, &mut bounced, 2, "first", WAIT).await);

        turmoil::partition("n1", "n2");
        // The link still looks up, but nothing crosses it.
        assert!(matches!(
            echo(&node, 2).await,
            Err(RpcError::Timeout { to: NodeId(2), .. })
        ));
        let cut_off = round_trip(
            &node,
            &mut bounced,
            2,
            "partitioned",
            Duration::from_millis(1500),
        );
        assert!(!cut_off.await, "a message crossed the partition");
        // The rest of the cluster carries on, n2 included.
        assert_eq!(echo(&node, 3).await?, "ping");
        assert_eq!(relay(&node, 3, 2).await?, "relayed");
        // Heartbeats stop, so the dead link is dropped; redials fail.
        wait_until("n1 drops the link to n2", || {
            node.peers_connected() == [NodeId(3)]
        })
        .await;
        assert!(echo(&node, 2).await.is_err());

        turmoil::repair("n1", "n2");
        wait_until("n1 reconnects to n2", || {
            node.peers_connected() == [NodeId(2), NodeId(3)]
        })
        .await;
        assert_eq!(echo(&node, 2).await?, "ping");
        assert!(round_trip(&node, &mut bounced, 2, "after repair", WAIT).await);
        assert_eq!(relay(&node, 2, 3).await?, "relayed");
        Ok(())
    });
    sim.run()
}
