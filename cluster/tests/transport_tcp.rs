//! The transport over real TCP on 127.0.0.1, several nodes in one process.
//! Every wait is bounded: a broken transport fails a test, it never hangs it.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tessera_cluster::transport::{
    ClusterSecret, Envelope, NodeId, RpcError, TokioNet, Topic, Transport, TransportConfig,
    TransportError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const SECRET: &str = "tessera test cluster secret";
const OTHER_SECRET: &str = "not the cluster's secret at all";
const WAIT: Duration = Duration::from_secs(5);

/// Short heartbeats and backoff so failures are noticed and repaired quickly.
fn config(id: u64, secret: &str) -> TransportConfig {
    let listen = "127.0.0.1:0".parse().unwrap();
    let mut config = TransportConfig::new(NodeId(id), listen, ClusterSecret::new(secret).unwrap());
    config.handshake_timeout = Duration::from_secs(2);
    config.heartbeat_interval = Duration::from_millis(100);
    config.idle_timeout = Duration::from_millis(600);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config
}

async fn start(id: u64) -> Transport {
    common::show_logs_of_failures();
    Transport::start(TokioNet, config(id, SECRET))
        .await
        .unwrap()
}

/// Tells every node about every other (each ignores its own entry).
fn introduce(nodes: &[&Transport]) {
    for a in nodes {
        for b in nodes {
            a.add_peer(b.node_id(), b.local_addr());
        }
    }
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn recv(inbox: &mut mpsc::Receiver<Envelope>) -> Envelope {
    tokio::time::timeout(WAIT, inbox.recv())
        .await
        .expect("timed out waiting for a message")
        .expect("inbox closed")
}

fn text(envelope: &Envelope) -> String {
    String::from_utf8(envelope.body.to_vec()).unwrap()
}

/// Answers requests on `topic` with "echo: <body>", or fails those whose body
/// is "fail".
fn serve_echo(node: &Transport, topic: Topic) {
    let mut requests = node.subscribe(topic).unwrap();
    let node = node.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            if &request.body[..] == b"fail" {
                node.reply_error(&request, "refused by the handler")
                    .unwrap();
            } else {
                let answer = format!("echo: {}", text(&request));
                node.reply(&request, answer).unwrap();
            }
        }
    });
}

#[tokio::test]
async fn every_pair_exchanges_messages_and_requests() {
    let nodes = [start(1).await, start(2).await, start(3).await];
    let mut inboxes: Vec<_> = nodes
        .iter()
        .map(|n| n.subscribe(Topic::Region).unwrap())
        .collect();
    introduce(&nodes.iter().collect::<Vec<_>>());

    // Sent before any connection is up: they wait in the peers' queues.
    for a in &nodes {
        for b in &nodes {
            let body = format!("{}->{}", a.node_id(), b.node_id());
            a.send(b.node_id(), Topic::Region, body).unwrap();
        }
    }
    for (b, inbox) in nodes.iter().zip(&mut inboxes) {
        let mut got = Vec::new();
        for _ in 0..3 {
            let envelope = recv(inbox).await;
            assert_eq!(
                text(&envelope),
                format!("{}->{}", envelope.from, b.node_id())
            );
            got.push(envelope.from.0);
        }
        got.sort();
        assert_eq!(got, [1, 2, 3]);
    }
    for node in &nodes {
        let others: Vec<NodeId> = (1..=3)
            .map(NodeId)
            .filter(|&id| id != node.node_id())
            .collect();
        eventually("all pairs are connected", || {
            node.peers_connected() == others
        })
        .await;
    }

    // Small messages queued together go out in one write.
    let before = nodes[0].stats();
    for i in 0..100 {
        nodes[0]
            .send(NodeId(2), Topic::Region, format!("burst {i}"))
            .unwrap();
    }
    for i in 0..100 {
        assert_eq!(text(&recv(&mut inboxes[1]).await), format!("burst {i}"));
    }
    let after = nodes[0].stats();
    assert_eq!(after.frames_sent - before.frames_sent, 100);
    assert!(after.writes - before.writes <= 2, "{before:?} {after:?}");

    // Requests between every pair, including a node to itself.
    for node in &nodes {
        serve_echo(node, Topic::Register);
    }
    for a in &nodes {
        for b in &nodes {
            let question = format!("ping from {}", a.node_id());
            let answer = a
                .request(b.node_id(), Topic::Register, question.clone(), WAIT)
                .await
                .unwrap();
            assert_eq!(answer, Bytes::from(format!("echo: {question}")));
        }
    }
    match nodes[0]
        .request(NodeId(2), Topic::Register, "fail", WAIT)
        .await
    {
        Err(RpcError::Remote { from, message }) => {
            assert_eq!(from, NodeId(2));
            assert_eq!(message, "refused by the handler");
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    // Nobody handles Auth: the request fails at once instead of timing out.
    match nodes[0].request(NodeId(3), Topic::Auth, "who", WAIT).await {
        Err(RpcError::Remote { message, .. }) => {
            assert!(message.contains("no handler"), "{message}")
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
}

/// Collects everything the tracing macros print on this thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_node_with_the_wrong_secret_is_refused_while_the_others_work() {
    // The runtime of `tokio::test` is single-threaded, so every node's tasks
    // log through this thread's subscriber.
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let a = start(1).await;
    let b = start(2).await;
    let intruder = Transport::start(TokioNet, config(9, OTHER_SECRET))
        .await
        .unwrap();
    let mut inbox_a = a.subscribe(Topic::Region).unwrap();
    let mut inbox_b = b.subscribe(Topic::Region).unwrap();
    let mut inbox_intruder = intruder.subscribe(Topic::Region).unwrap();
    introduce(&[&a, &b, &intruder]);

    intruder
        .send(NodeId(1), Topic::Region, "let me in")
        .unwrap();
    intruder
        .send(NodeId(2), Topic::Region, "let me in")
        .unwrap();
    a.send(NodeId(2), Topic::Region, "hello b").unwrap();
    b.send(NodeId(1), Topic::Region, "hello a").unwrap();
    a.send(NodeId(9), Topic::Region, "for your eyes").unwrap();
    assert_eq!(text(&recv(&mut inbox_b).await), "hello b");
    assert_eq!(text(&recv(&mut inbox_a).await), "hello a");

    // Both honest nodes refuse the intruder, dialling and being dialled.
    eventually("the intruder is refused both ways", || {
        let refused = |n: &Transport| n.stats().handshakes_failed >= 2;
        refused(&a) && refused(&b)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        inbox_a.try_recv().is_err(),
        "the intruder's message got through"
    );
    assert!(
        inbox_b.try_recv().is_err(),
        "the intruder's message got through"
    );
    assert!(
        inbox_intruder.try_recv().is_err(),
        "a message reached the intruder"
    );
    assert_eq!(a.peers_connected(), [NodeId(2)]);
    assert_eq!(b.peers_connected(), [NodeId(1)]);
    assert!(intruder.peers_connected().is_empty());

    let logs = logs.text();
    let config_debug = format!("{:?}", config(1, SECRET));
    assert!(config_debug.contains("<redacted>") && !config_debug.contains(SECRET));
    let refused_inbound = logs.lines().any(|l| {
        l.contains("WARN")
            && l.contains("failed to prove the cluster secret")
            && l.contains("claimed_node=9")
    });
    let intruder_addr = format!("addr={}", intruder.local_addr());
    let refused_outbound = logs
        .lines()
        .any(|l| l.contains("WARN") && l.contains(&intruder_addr) && l.contains("claimed_node=9"));
    assert!(refused_inbound && refused_outbound, "{logs}");
    assert!(
        !logs.contains(SECRET) && !logs.contains(OTHER_SECRET),
        "{logs}"
    );
}

#[tokio::test]
async fn a_connection_that_does_not_authenticate_is_dropped() {
    let mut config = config(1, SECRET);
    config.handshake_timeout = Duration::from_secs(1);
    let a = Transport::start(TokioNet, config).await.unwrap();
    let mut buf = [0u8; 64];

    // Announcing a frame far bigger than any handshake message: dropped at
    // once, before anything is allocated for it.
    let mut greedy = TcpStream::connect(a.local_addr()).await.unwrap();
    greedy.write_all(&(1u32 << 24).to_be_bytes()).await.unwrap();
    let read = tokio::time::timeout(Duration::from_millis(500), greedy.read(&mut buf)).await;
    assert_eq!(read.expect("not dropped at once").unwrap_or(0), 0);

    // Saying nothing: dropped when the handshake deadline passes.
    let started = Instant::now();
    let mut silent = TcpStream::connect(a.local_addr()).await.unwrap();
    let read = tokio::time::timeout(WAIT, silent.read(&mut buf)).await;
    assert_eq!(read.expect("never dropped").unwrap_or(0), 0);
    assert!(started.elapsed() >= Duration::from_millis(900));

    eventually("both attempts are counted", || {
        a.stats().handshakes_failed == 2
    })
    .await;
    assert!(a.peers_connected().is_empty());
}

#[tokio::test]
async fn a_restarted_peer_is_reconnected_and_gets_what_was_queued() {
    let a = start(1).await;
    let b = start(2).await;
    let b_addr = b.local_addr();
    let mut inbox_a = a.subscribe(Topic::Region).unwrap();
    let mut inbox_b = b.subscribe(Topic::Region).unwrap();
    introduce(&[&a, &b]);
    a.send(NodeId(2), Topic::Region, "before").unwrap();
    assert_eq!(text(&recv(&mut inbox_b).await), "before");

    b.shutdown().await;
    drop((b, inbox_b));
    eventually("a notices b is gone", || a.peers_connected().is_empty()).await;
    a.send(NodeId(2), Topic::Region, "while away").unwrap();

    let mut config = config(2, SECRET);
    config.listen = b_addr;
    config.peers.insert(NodeId(1), a.local_addr());
    let b = Transport::start(TokioNet, config).await.unwrap();
    let mut inbox_b = b.subscribe(Topic::Region).unwrap();
    assert_eq!(text(&recv(&mut inbox_b).await), "while away");
    b.send(NodeId(1), Topic::Region, "back").unwrap();
    assert_eq!(text(&recv(&mut inbox_a).await), "back");
    eventually("both see the link", || {
        a.peers_connected() == [NodeId(2)] && b.peers_connected() == [NodeId(1)]
    })
    .await;
}

#[tokio::test]
async fn simultaneous_dials_leave_one_connection() {
    let mut both_dials_completed = false;
    for _ in 0..5 {
        let a = start(1).await;
        let b = start(2).await;
        let mut inbox_a = a.subscribe(Topic::Region).unwrap();
        let mut inbox_b = b.subscribe(Topic::Region).unwrap();
        // No await in between: both dial loops start together.
        a.add_peer(NodeId(2), b.local_addr());
        b.add_peer(NodeId(1), a.local_addr());
        eventually("the pair is connected", || {
            !a.peers_connected().is_empty() && !b.peers_connected().is_empty()
        })
        .await;
        // Several reconnect delays: time for a duplicate to show up or flap.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!(
            (sa.connections_open, sb.connections_open),
            (1, 1),
            "{sa:?} {sb:?}"
        );
        both_dials_completed |= sa.connections_established + sa.duplicate_connections >= 2;

        a.send(NodeId(2), Topic::Region, "to b").unwrap();
        b.send(NodeId(1), Topic::Region, "to a").unwrap();
        assert_eq!(text(&recv(&mut inbox_b).await), "to b");
        assert_eq!(text(&recv(&mut inbox_a).await), "to a");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (later_a, later_b) = (a.stats(), b.stats());
        assert_eq!(
            later_a.connections_established, sa.connections_established,
            "flapping"
        );
        assert_eq!(
            later_b.connections_established, sb.connections_established,
            "flapping"
        );
        a.shutdown().await;
        b.shutdown().await;
    }
    assert!(
        both_dials_completed,
        "no round had two connections to pick from"
    );
}

#[tokio::test]
async fn removed_peers_are_disconnected_and_forgotten() {
    let a = start(1).await;
    let b = start(2).await;
    // Takes requests and never answers them.
    let _silent = b.subscribe(Topic::Register).unwrap();
    let mut inbox_a = a.subscribe(Topic::Region).unwrap();
    introduce(&[&a, &b]);
    eventually("the pair is connected", || {
        a.peers_connected() == [NodeId(2)]
    })
    .await;

    let pending = a.request(NodeId(2), Topic::Register, "never answered", WAIT);
    let remove = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        a.remove_peer(NodeId(2));
        b.remove_peer(NodeId(1));
    };
    let (outcome, ()) = tokio::join!(pending, remove);
    assert!(matches!(outcome, Err(RpcError::PeerUnreachable(NodeId(2)))));
    eventually("both sides let go", || {
        a.peers_connected().is_empty() && b.peers_connected().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        a.peers_connected().is_empty(),
        "a removed peer was redialled"
    );
    assert!(matches!(
        a.send(NodeId(2), Topic::Region, "gone"),
        Err(TransportError::UnknownPeer(NodeId(2)))
    ));

    // Only a dials again; b accepts a node it was not told about and can
    // answer it over the same connection.
    a.set_peers(HashMap::from([(NodeId(2), b.local_addr())]));
    eventually("a is back", || b.peers_connected() == [NodeId(1)]).await;
    b.send(NodeId(1), Topic::Region, "welcome back").unwrap();
    assert_eq!(text(&recv(&mut inbox_a).await), "welcome back");
}

#[tokio::test]
async fn full_queues_report_backpressure_and_bad_sends_are_refused() {
    let unreachable = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = config(1, SECRET);
    config.queue_capacity = 4;
    config.inbox_capacity = 2;
    let a = Transport::start(TokioNet, config).await.unwrap();
    a.add_peer(NodeId(2), unreachable);

    for _ in 0..4 {
        a.send(NodeId(2), Topic::Region, "queued").unwrap();
    }
    assert!(matches!(
        a.send(NodeId(2), Topic::Region, "one too many"),
        Err(TransportError::Backpressure(NodeId(2)))
    ));
    assert_eq!(a.stats().backpressure, 1);
    let wait = a.send_wait(NodeId(2), Topic::Region, "waits for room");
    assert!(tokio::time::timeout(Duration::from_millis(100), wait)
        .await
        .is_err());
    assert!(matches!(
        a.request(
            NodeId(2),
            Topic::Register,
            "anyone?",
            Duration::from_millis(100)
        )
        .await,
        Err(RpcError::Timeout { to: NodeId(2), .. })
    ));

    // The local inbox has its own bound.
    let _inbox = a.subscribe(Topic::Session).unwrap();
    a.send(NodeId(1), Topic::Session, "1").unwrap();
    a.send(NodeId(1), Topic::Session, "2").unwrap();
    assert!(matches!(
        a.send(NodeId(1), Topic::Session, "3"),
        Err(TransportError::Backpressure(NodeId(1)))
    ));
    assert!(matches!(
        a.subscribe(Topic::Session),
        Err(TransportError::AlreadySubscribed(Topic::Session))
    ));

    assert!(matches!(
        a.send(NodeId(7), Topic::Region, "who?"),
        Err(TransportError::UnknownPeer(NodeId(7)))
    ));
    assert!(matches!(
        a.request(NodeId(7), Topic::Region, "who?", WAIT).await,
        Err(RpcError::PeerUnreachable(NodeId(7)))
    ));
    assert!(matches!(
        a.send(NodeId(2), Topic::Region, vec![0u8; 16 * 1024 * 1024]),
        Err(TransportError::TooLarge { .. })
    ));
}

#[tokio::test]
async fn an_oversized_frame_drops_only_that_connection() {
    let mut small = config(1, SECRET);
    small.max_frame_len = 4096;
    let a = Transport::start(TokioNet, small).await.unwrap();
    let b = start(2).await;
    let c = start(3).await;
    let mut inbox_a = a.subscribe(Topic::Region).unwrap();
    introduce(&[&a, &b, &c]);
    eventually("a is connected to b and c", || {
        a.peers_connected() == [NodeId(2), NodeId(3)]
    })
    .await;
    // Let the duplicate connections of the start settle before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let established_a = a.stats().connections_established;
    let established_c = c.stats().connections_established;

    // Within b's limit, beyond a's: a drops the connection to b (and b or a
    // dials again at once).
    b.send(NodeId(1), Topic::Region, vec![0u8; 10_000]).unwrap();
    eventually("a drops and re-establishes the link to b", || {
        a.stats().connections_established > established_a
    })
    .await;
    c.send(NodeId(1), Topic::Region, "c is unaffected").unwrap();
    assert_eq!(text(&recv(&mut inbox_a).await), "c is unaffected");

    // A message sent while the link was failing may be lost, so keep sending
    // until one arrives.
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "b never got through again");
        let _ = b.send(NodeId(1), Topic::Region, "b again");
        match tokio::time::timeout(Duration::from_millis(100), inbox_a.recv()).await {
            Ok(Some(envelope)) => {
                assert_eq!(
                    text(&envelope),
                    "b again",
                    "the oversized frame got through"
                );
                break;
            }
            _ => continue,
        }
    }
    assert_eq!(
        c.stats().connections_established,
        established_c,
        "c's connections were disturbed"
    );
}

#[tokio::test]
async fn strangers_beyond_the_handshake_cap_are_closed_and_a_real_peer_still_gets_in() {
    let mut guarded = config(1, SECRET);
    guarded.max_pending_handshakes = 4;
    guarded.handshake_timeout = Duration::from_secs(1);
    let a = Transport::start(TokioNet, guarded).await.unwrap();
    let mut inbox_a = a.subscribe(Topic::Region).unwrap();
    let mut buf = [0u8; 16];

    // Four idle connections take every handshake slot...
    let mut holders = Vec::new();
    for _ in 0..4 {
        holders.push(TcpStream::connect(a.local_addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so more are closed as soon as they are accepted.
    let started = Instant::now();
    for _ in 0..8 {
        let mut extra = TcpStream::connect(a.local_addr()).await.unwrap();
        let read = tokio::time::timeout(Duration::from_millis(500), extra.read(&mut buf)).await;
        assert_eq!(read.expect("not closed at once").unwrap_or(0), 0);
    }
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "waited for the deadline"
    );
    assert_eq!(a.stats().handshakes_refused, 8);

    // A real peer dialling now is refused too, but gets in once the idle
    // connections reach their deadline and are closed.
    let mut config_b = config(2, SECRET);
    config_b.peers.insert(NodeId(1), a.local_addr());
    let b = Transport::start(TokioNet, config_b).await.unwrap();
    for mut holder in holders {
        let read = tokio::time::timeout(WAIT, holder.read(&mut buf)).await;
        assert_eq!(
            read.expect("an idle connection was never closed")
                .unwrap_or(0),
            0
        );
    }
    eventually("b gets through", || a.peers_connected() == [NodeId(2)]).await;
    b.send(NodeId(1), Topic::Region, "made it").unwrap();
    assert_eq!(text(&recv(&mut inbox_a).await), "made it");
    assert!(a.stats().handshakes_failed >= 4, "{:?}", a.stats());
}

#[tokio::test]
async fn control_topics_get_through_a_full_game_queue_and_go_out_first() {
    // b is not up yet, so everything a sends waits in a's queues.
    let b_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config_a = config(1, SECRET);
    config_a.queue_capacity = 8;
    config_a.control_queue_capacity = 4;
    let a = Transport::start(TokioNet, config_a).await.unwrap();
    a.add_peer(NodeId(2), b_addr);

    for i in 0..8 {
        a.send(NodeId(2), Topic::Region, format!("bulk {i}"))
            .unwrap();
    }
    assert!(matches!(
        a.send(NodeId(2), Topic::Session, "one too many"),
        Err(TransportError::Backpressure(NodeId(2)))
    ));
    // The game queue is full; a membership probe is not refused...
    a.send(NodeId(2), Topic::Membership, "probe").unwrap();
    a.send(NodeId(2), Topic::Placement, "vote").unwrap();
    // ...and the control queue has its own bound.
    a.send(NodeId(2), Topic::Membership, "probe 2").unwrap();
    a.send(NodeId(2), Topic::Register, "write").unwrap();
    assert!(matches!(
        a.send(NodeId(2), Topic::Membership, "probe 3"),
        Err(TransportError::Backpressure(NodeId(2)))
    ));

    // b's Region inbox holds one message and nobody reads it: once it is full
    // b's reader stalls, so whatever b gets on the control topics must have
    // come before the second game message.
    let mut config_b = config(2, SECRET);
    config_b.listen = b_addr;
    config_b.inbox_capacity = 1;
    let b = Transport::start(TokioNet, config_b).await.unwrap();
    let mut membership = b.subscribe(Topic::Membership).unwrap();
    let mut placement = b.subscribe(Topic::Placement).unwrap();
    let mut register = b.subscribe(Topic::Register).unwrap();
    let mut region = b.subscribe(Topic::Region).unwrap();
    assert_eq!(text(&recv(&mut membership).await), "probe");
    assert_eq!(text(&recv(&mut placement).await), "vote");
    assert_eq!(text(&recv(&mut membership).await), "probe 2");
    assert_eq!(text(&recv(&mut register).await), "write");
    // The game messages follow, all of them, in order.
    for i in 0..8 {
        assert_eq!(text(&recv(&mut region).await), format!("bulk {i}"));
    }
}

/// What the man in the middle does to the first frame the dialer sends after
/// the handshake.
#[derive(Clone, Copy)]
enum Attack {
    /// Flips a bit of its tag.
    Tamper,
    /// Sends it twice.
    Replay,
    /// Leaves it out; what follows is genuine.
    Drop,
    /// Puts a bare zero-length frame (a version 1 heartbeat) before it, as
    /// one would to keep a dead link looking alive.
    InjectHeartbeat,
}

/// A TCP relay to `target` that understands the framing (a u32 length, then
/// the body) and attacks the first connection only; it records what it sees
/// from the dialer.
async fn man_in_the_middle(
    target: std::net::SocketAddr,
    attack: Attack,
) -> (std::net::SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((dialer, _)) = listener.accept().await {
            let acceptor = TcpStream::connect(target).await.unwrap();
            let (mut from_dialer, mut to_dialer) = dialer.into_split();
            let (mut from_acceptor, mut to_acceptor) = acceptor.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_acceptor, &mut to_dialer).await;
            });
            let attack = first.then_some(attack);
            first = false;
            let record = record.clone();
            tokio::spawn(async move {
                // Hello and Proof, then the sealed frames.
                let mut frames = 0;
                loop {
                    let mut header = [0u8; 4];
                    if from_dialer.read_exact(&mut header).await.is_err() {
                        break;
                    }
                    let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
                    if from_dialer.read_exact(&mut body).await.is_err() {
                        break;
                    }
                    record.lock().unwrap().extend_from_slice(&body);
                    frames += 1;
                    let mut frame = header.to_vec();
                    frame.extend_from_slice(&body);
                    match attack {
                        Some(Attack::Tamper) if frames == 3 => *frame.last_mut().unwrap() ^= 1,
                        Some(Attack::Replay) if frames == 3 => frame.extend_from_within(..),
                        Some(Attack::Drop) if frames == 3 => frame.clear(),
                        Some(Attack::InjectHeartbeat) if frames == 3 => {
                            frame.splice(0..0, [0u8; 4]);
                        }
                        _ => {}
                    }
                    if to_acceptor.write_all(&frame).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// Runs `attack` on a's first connection to b and checks that b drops it
/// with a warning naming a, and that a's next connection works.
async fn an_attacked_connection_is_dropped(attack: Attack) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let a = Transport::start(TokioNet, config(1, SECRET)).await.unwrap();
    let b = Transport::start(TokioNet, config(2, SECRET)).await.unwrap();
    let mut inbox_b = b.subscribe(Topic::Region).unwrap();
    let (relay, seen) = man_in_the_middle(b.local_addr(), attack).await;
    // Queued before the dial loop first runs (the test's runtime has one
    // thread), so it is the first frame after the handshake.
    a.add_peer(NodeId(2), relay);
    a.send(NodeId(2), Topic::Region, "top secret plans")
        .unwrap();

    eventually("b drops the attacked connection", || {
        logs.text().lines().any(|l| {
            l.contains("WARN") && l.contains("failed authentication") && l.contains("peer=1")
        })
    })
    .await;
    // A replayed frame's original is genuine: it arrives, but only once.
    if let Attack::Replay = attack {
        assert_eq!(text(&recv(&mut inbox_b).await), "top secret plans");
    }
    assert!(
        inbox_b.try_recv().is_err(),
        "the attacked frame was delivered"
    );

    // a redials through the relay, which leaves the next connection alone.
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "a never got through again");
        let _ = a.send(NodeId(2), Topic::Region, "again");
        match tokio::time::timeout(Duration::from_millis(100), inbox_b.recv()).await {
            Ok(Some(envelope)) => {
                assert_eq!(text(&envelope), "again", "the attacked frame got through");
                break;
            }
            _ => continue,
        }
    }
    let seen = seen.lock().unwrap().clone();
    let on_wire = |text: &[u8]| seen.windows(text.len()).any(|w| w == text);
    assert!(!seen.is_empty());
    assert!(
        !on_wire(b"secret") && !on_wire(b"again"),
        "plaintext on the wire"
    );
}

#[tokio::test]
async fn a_tampered_frame_drops_the_connection() {
    an_attacked_connection_is_dropped(Attack::Tamper).await;
}

#[tokio::test]
async fn a_replayed_frame_drops_the_connection() {
    an_attacked_connection_is_dropped(Attack::Replay).await;
}

#[tokio::test]
async fn the_largest_body_that_send_accepts_is_delivered_under_the_same_cap() {
    common::show_logs_of_failures();
    let small = |id| {
        let mut config = config(id, SECRET);
        config.max_frame_len = 4096;
        config
    };
    let a = Transport::start(TokioNet, small(1)).await.unwrap();
    let b = Transport::start(TokioNet, small(2)).await.unwrap();
    let mut inbox_b = b.subscribe(Topic::Region).unwrap();
    introduce(&[&a, &b]);
    // The cap less the envelope's header (32) and the seal's tag (16).
    let largest = 4096 - 48;
    assert!(matches!(
        a.send(NodeId(2), Topic::Region, vec![1u8; largest + 1]),
        Err(TransportError::TooLarge { len, max }) if len == largest + 1 && max == largest
    ));
    a.send(NodeId(2), Topic::Region, vec![1u8; largest])
        .unwrap();
    assert_eq!(recv(&mut inbox_b).await.body.len(), largest);
}

#[tokio::test]
async fn a_dropped_frame_drops_the_connection() {
    an_attacked_connection_is_dropped(Attack::Drop).await;
}

#[tokio::test]
async fn an_injected_heartbeat_drops_the_connection() {
    an_attacked_connection_is_dropped(Attack::InjectHeartbeat).await;
}
