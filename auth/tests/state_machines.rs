//! The replica and coordinator state machines, driven by hand message by
//! message, so each test decides exactly what is lost, duplicated or late.

// The helpers of a test may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use tessera_auth::register::{
    Completion, Coordinator, Envelope, GroupError, Incarnation, LocalCluster, MemoryStore, Message,
    NodeId, OpId, Outcome, RedbStore, Replica, ReplicaGroup, Tag, ToCoordinator, ToReplica,
    Versioned, WriterId,
};

const RETRANSMIT: Duration = Duration::from_millis(100);
const CLIENT: NodeId = NodeId(100);

fn group(n: u64) -> ReplicaGroup {
    ReplicaGroup::new((1..=n).map(NodeId)).unwrap()
}

fn writer(node: NodeId, incarnation: u64) -> WriterId {
    WriterId {
        node,
        incarnation: Incarnation(incarnation),
    }
}

fn value(bytes: &[u8]) -> Option<Vec<u8>> {
    Some(bytes.to_vec())
}

/// Replicas with their stores, and one coordinator on a node that is not a
/// replica; messages move only when a test says so.
struct Harness {
    replicas: BTreeMap<NodeId, (Replica, MemoryStore)>,
    coordinator: Coordinator,
}

impl Harness {
    fn new(n: u64) -> Self {
        Self::with_writer(n, writer(CLIENT, 1))
    }

    fn with_writer(n: u64, writer: WriterId) -> Self {
        let replicas = (1..=n)
            .map(|id| {
                let replica = Replica::new(NodeId(id), group(n), []).unwrap();
                (NodeId(id), (replica, MemoryStore::new()))
            })
            .collect();
        Self {
            replicas,
            coordinator: Coordinator::new(writer, group(n), RETRANSMIT),
        }
    }

    /// Delivers coordinator→replica envelopes addressed to `to`, returns the
    /// replicas' answers.
    fn deliver_to_replicas(
        &mut self,
        envelopes: &[Envelope],
        to: &[u64],
    ) -> Vec<(NodeId, ToCoordinator)> {
        let mut replies = Vec::new();
        for envelope in envelopes {
            if !to.contains(&envelope.to.0) {
                continue;
            }
            let Message::ToReplica(msg) = envelope.msg.clone() else {
                panic!("coordinators only talk to replicas: {envelope:?}");
            };
            let (replica, store) = self.replicas.get_mut(&envelope.to).unwrap();
            for reply in replica.handle(CLIENT, msg, store).unwrap() {
                assert_eq!(reply.to, CLIENT);
                let Message::ToCoordinator(reply_msg) = reply.msg else {
                    panic!("replicas answer coordinators: {reply:?}");
                };
                replies.push((envelope.to, reply_msg));
            }
        }
        replies
    }

    /// Hands replies to the coordinator; returns its next messages and
    /// completions.
    fn deliver_to_coordinator(
        &mut self,
        replies: Vec<(NodeId, ToCoordinator)>,
    ) -> (Vec<Envelope>, Vec<Completion>) {
        let mut send = Vec::new();
        let mut completed = Vec::new();
        for (from, reply) in replies {
            let outbox = self.coordinator.on_message(from, reply);
            send.extend(outbox.send);
            completed.extend(outbox.completed);
        }
        (send, completed)
    }

    /// Runs messages to completion, with only replicas `up` reachable.
    fn settle(&mut self, mut send: Vec<Envelope>, up: &[u64]) -> Vec<Completion> {
        let mut completed = Vec::new();
        while !send.is_empty() {
            let replies = self.deliver_to_replicas(&send, up);
            let (next, done) = self.deliver_to_coordinator(replies);
            send = next;
            completed.extend(done);
        }
        completed
    }

    fn write(&mut self, key: &str, bytes: &[u8], up: &[u64]) -> Tag {
        let (op, send) = self.coordinator.write(key, value(bytes));
        match self.settle(send, up).as_slice() {
            [Completion {
                op: done,
                outcome: Outcome::Written(tag),
            }] if *done == op => *tag,
            other => panic!("write did not complete: {other:?}"),
        }
    }

    fn read(&mut self, key: &str, up: &[u64]) -> Versioned {
        let (op, send) = self.coordinator.read(key);
        match self.settle(send, up).as_slice() {
            [Completion {
                op: done,
                outcome: Outcome::Read(versioned),
            }] if *done == op => versioned.clone(),
            other => panic!("read did not complete: {other:?}"),
        }
    }

    fn held(&self, replica: u64, key: &str) -> Versioned {
        self.replicas[&NodeId(replica)].0.get(key)
    }
}

fn targets(envelopes: &[Envelope]) -> Vec<u64> {
    envelopes.iter().map(|envelope| envelope.to.0).collect()
}

#[test]
fn operations_complete_with_one_replica_silent() {
    let mut h = Harness::new(3);
    let tag = h.write("user:alex", b"v1", &[1, 2]);
    assert_eq!(tag.timestamp, 1);
    assert_eq!(tag.writer, h.coordinator.writer());
    assert_eq!(h.held(3, "user:alex"), Versioned::ABSENT);
    let read = h.read("user:alex", &[2, 3]);
    assert_eq!(read.value, value(b"v1"));
    // The read imposed the value on the replica that had missed the write.
    assert_eq!(h.held(3, "user:alex").value, value(b"v1"));
}

#[test]
fn nothing_completes_without_a_quorum() {
    let mut h = Harness::new(3);
    let (_, send) = h.coordinator.write("k", value(b"v"));
    assert!(h.settle(send, &[1]).is_empty());
    assert_eq!(h.coordinator.in_flight(), 1);
}

#[test]
fn a_write_takes_the_next_timestamp_after_the_quorums_highest() {
    let mut h = Harness::new(3);
    h.write("k", b"a", &[1, 2]);
    h.write("k", b"b", &[1, 2]);
    // Replica 3 only knows nothing; 2 knows timestamp 2: the max wins.
    let tag = h.write("k", b"c", &[2, 3]);
    assert_eq!(tag.timestamp, 3);
}

#[test]
fn two_writes_of_one_key_in_flight_at_once_take_different_tags() {
    let mut h = Harness::new(3);
    let (first, first_query) = h.coordinator.write("k", value(b"first"));
    let (second, second_query) = h.coordinator.write("k", value(b"second"));
    // Both queries see the same highest tag.
    let replies = h.deliver_to_replicas(&[first_query, second_query].concat(), &[1, 2, 3]);
    let (updates, _) = h.deliver_to_coordinator(replies);
    let (first_update, second_update): (Vec<Envelope>, Vec<Envelope>) = updates
        .into_iter()
        .partition(|envelope| match &envelope.msg {
            Message::ToReplica(ToReplica::Update { op, .. }) => *op == first,
            other => panic!("expected updates: {other:?}"),
        });
    // Replica 2 takes both, 1 only the first, 3 only the second.
    let mut replies = h.deliver_to_replicas(&first_update, &[1, 2]);
    replies.extend(h.deliver_to_replicas(&second_update, &[2, 3]));
    let (_, completed) = h.deliver_to_coordinator(replies);
    let tag_of = |op: OpId| {
        completed.iter().find_map(|c| match c.outcome {
            Outcome::Written(tag) if c.op == op => Some(tag),
            _ => None,
        })
    };
    let (Some(first_tag), Some(second_tag)) = (tag_of(first), tag_of(second)) else {
        panic!("both writes complete: {completed:?}");
    };
    assert_ne!(first_tag, second_tag, "one tag names one write");
    // Every quorum now reads the same value.
    let read = |h: &mut Harness, up: &[u64]| h.read("k", up).value;
    let from_1_2 = read(&mut h, &[1, 2]);
    assert_eq!(read(&mut h, &[1, 3]), from_1_2);
    assert_eq!(read(&mut h, &[2, 3]), from_1_2);
}

#[test]
fn a_read_takes_one_round_trip_when_a_quorum_agrees() {
    let mut h = Harness::new(3);
    h.write("k", b"v", &[1, 2, 3]);
    let (op, send) = h.coordinator.read("k");
    let replies = h.deliver_to_replicas(&send, &[1, 3]);
    let (next, completed) = h.deliver_to_coordinator(replies);
    assert!(next.is_empty(), "no write-back needed: {next:?}");
    assert_eq!(
        completed,
        vec![Completion {
            op,
            outcome: Outcome::Read(h.held(1, "k")),
        }]
    );
}

#[test]
fn a_read_writes_back_when_the_quorum_disagrees() {
    let mut h = Harness::new(3);
    h.write("k", b"v", &[1, 2]);
    let (_, send) = h.coordinator.read("k");
    let replies = h.deliver_to_replicas(&send, &[2, 3]);
    let (write_back, completed) = h.deliver_to_coordinator(replies);
    assert!(completed.is_empty());
    // Only the replica that reported an older tag needs the value.
    assert_eq!(targets(&write_back), vec![1, 3]);
    let acks = h.deliver_to_replicas(&write_back, &[3]);
    let (_, completed) = h.deliver_to_coordinator(acks);
    assert!(matches!(
        completed.as_slice(),
        [Completion { outcome: Outcome::Read(v), .. }] if v.value == value(b"v")
    ));
}

#[test]
fn an_unwritten_key_reads_as_absent() {
    let mut h = Harness::new(3);
    assert_eq!(h.read("nobody", &[1, 2]), Versioned::ABSENT);
}

#[test]
fn replies_to_other_phases_operations_and_runs_are_ignored() {
    let mut h = Harness::new(3);
    let (first, send) = h.coordinator.write("k", value(b"a"));
    let tag_replies = h.deliver_to_replicas(&send, &[1, 2, 3]);
    let (updates, _) = h.deliver_to_coordinator(tag_replies[..2].to_vec());
    assert_eq!(targets(&updates), vec![1, 2, 3]);

    // The third tag reply arrives during phase 2: it must not count as an ack.
    let (more, completed) = h.deliver_to_coordinator(tag_replies[2..].to_vec());
    assert!(more.is_empty() && completed.is_empty());

    let acks = h.deliver_to_replicas(&updates, &[1, 2]);
    let (_, completed) = h.deliver_to_coordinator(acks.clone());
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].op, first);

    // A second write: acks of the first write (a finished operation) and
    // acks naming this coordinator's previous run do not complete it.
    let (second, send) = h.coordinator.write("k", value(b"b"));
    assert_ne!(second, first);
    let replies = h.deliver_to_replicas(&send, &[1, 2]);
    let (updates, _) = h.deliver_to_coordinator(replies);
    assert_eq!(targets(&updates), vec![1, 2, 3]);
    let (_, completed) = h.deliver_to_coordinator(acks);
    assert!(completed.is_empty());
    let previous_run = OpId {
        coordinator: writer(CLIENT, 0),
        seq: second.seq,
    };
    let forged: Vec<_> = [1, 2]
        .into_iter()
        .map(|id| (NodeId(id), ToCoordinator::UpdateAck { op: previous_run }))
        .collect();
    let (_, completed) = h.deliver_to_coordinator(forged);
    assert!(completed.is_empty());

    // Nor do answers from a node outside the replica group.
    let outsider = h
        .coordinator
        .on_message(NodeId(99), ToCoordinator::UpdateAck { op: second });
    assert!(outsider.completed.is_empty());

    let acks = h.deliver_to_replicas(&updates, &[2, 3]);
    let (_, completed) = h.deliver_to_coordinator(acks);
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].op, second);
}

#[test]
fn duplicated_messages_are_harmless() {
    let mut h = Harness::new(3);
    let (_, send) = h.coordinator.write("k", value(b"v"));
    // Every query twice: replica 1's two answers count once.
    let doubled: Vec<Envelope> = send.iter().chain(send.iter()).cloned().collect();
    let replies = h.deliver_to_replicas(&doubled, &[1]);
    assert_eq!(replies.len(), 2);
    let (updates, _) = h.deliver_to_coordinator(replies);
    assert!(updates.is_empty(), "one replica is not a quorum");

    let replies = h.deliver_to_replicas(&send, &[2]);
    let (updates, _) = h.deliver_to_coordinator(replies);
    // The update twice to replica 1: it is persisted once, acked twice, and
    // the two acks count once.
    let doubled: Vec<Envelope> = updates.iter().chain(updates.iter()).cloned().collect();
    let acks = h.deliver_to_replicas(&doubled, &[1]);
    assert_eq!(acks.len(), 2);
    let (_, completed) = h.deliver_to_coordinator(acks);
    assert!(completed.is_empty());
    let acks = h.deliver_to_replicas(&updates, &[2]);
    let (_, completed) = h.deliver_to_coordinator(acks);
    assert_eq!(completed.len(), 1);

    // A late duplicate after completion changes nothing.
    let acks = h.deliver_to_replicas(&updates, &[3]);
    let (send, completed) = h.deliver_to_coordinator(acks);
    assert!(send.is_empty() && completed.is_empty());
}

#[test]
fn a_replica_acks_a_duplicate_update_without_persisting_again() {
    let mut replica = Replica::new(NodeId(1), group(3), []).unwrap();
    let update = ToReplica::Update {
        op: OpId {
            coordinator: writer(CLIENT, 1),
            seq: 0,
        },
        key: "k".into(),
        versioned: Versioned {
            tag: Tag::ZERO.successor(writer(CLIENT, 1), 0),
            value: value(b"v"),
        },
    };
    let first = replica.on_message(CLIENT, update.clone());
    assert!(first.send.is_empty(), "no ack before the write is durable");
    let pending = first.persist.expect("a new tag must be persisted");

    // Until durable, queries still see the old value.
    let query = ToReplica::ReadQuery {
        op: OpId {
            coordinator: writer(CLIENT, 1),
            seq: 1,
        },
        key: "k".into(),
    };
    let before = replica.on_message(CLIENT, query.clone());
    assert!(matches!(
        before.send[0].msg,
        Message::ToCoordinator(ToCoordinator::ReadReply { ref versioned, .. })
            if *versioned == Versioned::ABSENT
    ));

    let mut store = MemoryStore::new();
    let durable = pending.commit(&mut store).unwrap();
    let acks = replica.on_durable(durable);
    assert_eq!(acks.len(), 1);
    assert_eq!(store.get("k").map(|v| &v.value), Some(&value(b"v")));

    let again = replica.on_message(CLIENT, update);
    assert!(again.persist.is_none());
    assert_eq!(again.send, acks);
}

#[test]
fn group_commit_releases_every_ack_after_one_commit() {
    let mut replica = Replica::new(NodeId(1), group(3), []).unwrap();
    let mut batch = None::<tessera_auth::register::PendingWrites>;
    for (seq, key) in ["a", "b", "c"].into_iter().enumerate() {
        let effects = replica.on_message(
            CLIENT,
            ToReplica::Update {
                op: OpId {
                    coordinator: writer(CLIENT, 1),
                    seq: seq as u64,
                },
                key: key.into(),
                versioned: Versioned {
                    tag: Tag::ZERO.successor(writer(CLIENT, 1), 0),
                    value: value(key.as_bytes()),
                },
            },
        );
        let pending = effects.persist.unwrap();
        match &mut batch {
            Some(batch) => batch.absorb(pending),
            None => batch = Some(pending),
        }
    }
    let batch = batch.unwrap();
    assert_eq!(batch.entries().len(), 3);
    let mut store = MemoryStore::new();
    let acks = replica.on_durable(batch.commit(&mut store).unwrap());
    assert_eq!(acks.len(), 3);
    assert_eq!(replica.get("c").value, value(b"c"));
}

#[test]
fn a_lost_phase_is_retransmitted_to_the_silent_replicas_only() {
    let mut h = Harness::new(3);
    let (_, send) = h.coordinator.write("k", value(b"v"));
    // All queries lost. The first tick starts the clock, and nothing is due
    // before `RETRANSMIT` has passed.
    let start = Duration::from_secs(10);
    assert!(h.coordinator.tick(start).is_empty());
    assert!(h.coordinator.tick(start + RETRANSMIT / 2).is_empty());
    let resent = h.coordinator.tick(start + RETRANSMIT);
    assert_eq!(resent, send);

    // Replica 2 answers, the others' answers are lost again: only 1 and 3
    // are asked once more.
    let replies = h.deliver_to_replicas(&resent, &[2]);
    let (next, _) = h.deliver_to_coordinator(replies);
    assert!(next.is_empty());
    let resent = h.coordinator.tick(start + RETRANSMIT * 2);
    assert_eq!(targets(&resent), vec![1, 3]);

    // Now the write gets through, even with replica 1 still cut off.
    assert_eq!(h.settle(resent, &[2, 3]).len(), 1);
    assert_eq!(h.coordinator.in_flight(), 0);
    assert!(h.coordinator.tick(start + RETRANSMIT * 10).is_empty());
}

#[test]
fn a_single_replica_is_its_own_quorum() {
    let mut h = Harness::new(1);
    h.write("k", b"v", &[1]);
    assert_eq!(h.read("k", &[1]).value, value(b"v"));

    let mut cluster = LocalCluster::new(1).unwrap();
    cluster.write(NodeId(1), "k", value(b"local")).unwrap();
    let read = cluster.read(NodeId(1), "k").unwrap();
    assert_eq!(read.value, value(b"local"));
    assert_eq!(
        Replica::recovering(NodeId(1), group(1), Incarnation(2), RETRANSMIT).err(),
        Some(GroupError::CannotRecoverAlone)
    );
}

#[test]
fn a_restarted_coordinator_never_reuses_a_tag() {
    let mut h = Harness::with_writer(3, writer(CLIENT, 1));
    h.write("k", b"old", &[1, 2]);
    // The first run sends an update that only replica 1 receives, then dies.
    let (_, send) = h.coordinator.write("k", value(b"lost"));
    let replies = h.deliver_to_replicas(&send, &[1, 2]);
    let (updates, _) = h.deliver_to_coordinator(replies);
    h.deliver_to_replicas(&updates, &[1]);
    let orphan = h.held(1, "k").tag;

    h.coordinator = Coordinator::new(writer(CLIENT, 2), group(3), RETRANSMIT);
    let tag = h.write("k", b"new", &[2, 3]);
    assert_eq!(tag.timestamp, orphan.timestamp);
    assert_ne!(tag, orphan, "same timestamp, but a different writer");
    assert!(tag > orphan);
}

#[test]
fn a_recovering_replica_serves_nothing_until_it_has_caught_up() {
    let mut h = Harness::new(3);
    h.write("user:alex", b"v1", &[1, 2]);
    h.write("user:bo", b"b1", &[2, 3]);

    let (mut fresh, requests) =
        Replica::recovering(NodeId(1), group(3), Incarnation(9), RETRANSMIT).unwrap();
    assert!(!fresh.is_ready());
    assert_eq!(targets(&requests), vec![2, 3]);
    let op = OpId {
        coordinator: writer(CLIENT, 1),
        seq: 50,
    };
    let queries = [
        ToReplica::ReadQuery {
            op,
            key: "user:alex".into(),
        },
        ToReplica::TagQuery {
            op,
            key: "user:alex".into(),
        },
        ToReplica::Update {
            op,
            key: "user:alex".into(),
            versioned: Versioned::ABSENT,
        },
    ];
    for query in &queries {
        assert_eq!(
            fresh.on_message(NodeId(2), query.clone()),
            Default::default(),
            "answered {query:?} while recovering"
        );
    }
    // Another replica's state request is told this one holds nothing to vouch for.
    let asked = fresh.on_message(
        NodeId(2),
        ToReplica::StateRequest {
            recovery: Incarnation(3),
        },
    );
    assert_eq!(
        asked.send,
        vec![Envelope::new(
            NodeId(2),
            ToReplica::AlsoRecovering {
                recovery: Incarnation(3)
            }
        )]
    );

    let mut store = MemoryStore::new();
    let answer = |h: &mut Harness, from: u64, recovery: Incarnation| {
        let (replica, store) = h.replicas.get_mut(&NodeId(from)).unwrap();
        let reply = replica
            .handle(NodeId(1), ToReplica::StateRequest { recovery }, store)
            .unwrap();
        let [Envelope {
            to: NodeId(1),
            msg: Message::ToReplica(reply),
        }] = <[Envelope; 1]>::try_from(reply).unwrap()
        else {
            panic!("a state reply to the recovering replica");
        };
        reply
    };

    // A reply to an earlier recovery does not count.
    let stale = answer(&mut h, 2, Incarnation(8));
    assert!(fresh
        .handle(NodeId(2), stale, &mut store)
        .unwrap()
        .is_empty());
    assert!(!fresh.is_ready());

    // Replica 2 alone is not enough: "user:alex" could be on {1, 3} only.
    let from_2 = answer(&mut h, 2, Incarnation(9));
    fresh.handle(NodeId(2), from_2.clone(), &mut store).unwrap();
    assert!(!fresh.is_ready());
    // A duplicate of the same answer does not make two.
    fresh.handle(NodeId(2), from_2, &mut store).unwrap();
    assert!(!fresh.is_ready());
    // Only replica 3 is asked again.
    assert!(fresh.tick(Duration::ZERO).is_empty());
    assert_eq!(targets(&fresh.tick(RETRANSMIT)), vec![3]);

    let from_3 = answer(&mut h, 3, Incarnation(9));
    let effects = fresh.on_message(NodeId(3), from_3);
    let pending = effects.persist.expect("the merged state must be persisted");
    assert!(!fresh.is_ready(), "not ready before the merge is durable");
    assert!(fresh
        .on_durable(pending.commit(&mut store).unwrap())
        .is_empty());
    assert!(fresh.is_ready());
    assert_eq!(fresh.get("user:alex"), h.held(2, "user:alex"));
    assert_eq!(fresh.get("user:bo"), h.held(3, "user:bo"));
    assert_eq!(store.get("user:bo"), Some(&h.held(3, "user:bo")));
    assert!(fresh.tick(RETRANSMIT * 5).is_empty());

    // And now it answers.
    let reply = fresh.on_message(NodeId(2), queries[0].clone());
    assert_eq!(reply.send.len(), 1);
}

/// Delivers every state request among `replicas` and their answers, until
/// none is left; returns how many messages went round.
fn exchange(
    replicas: &mut BTreeMap<u64, (Replica, MemoryStore)>,
    mut wire: Vec<(u64, Envelope)>,
) -> usize {
    let mut delivered = 0;
    while let Some((from, envelope)) = wire.pop() {
        let Message::ToReplica(msg) = envelope.msg else {
            continue;
        };
        let Some((replica, store)) = replicas.get_mut(&envelope.to.0) else {
            continue;
        };
        delivered += 1;
        let to = envelope.to.0;
        for reply in replica.handle(NodeId(from), msg, store).unwrap() {
            wire.push((to, reply));
        }
    }
    delivered
}

fn discovering(id: u64, n: u64) -> ((Replica, MemoryStore), Vec<(u64, Envelope)>) {
    let (replica, requests) =
        Replica::discovering(NodeId(id), group(n), Incarnation(100 + id), RETRANSMIT).unwrap();
    let requests = requests.into_iter().map(|e| (id, e)).collect();
    ((replica, MemoryStore::new()), requests)
}

#[test]
fn the_replicas_of_a_new_cluster_discover_one_another_and_start_empty() {
    let mut replicas = BTreeMap::new();
    let mut wire = Vec::new();
    for id in 1..=3 {
        let (replica, requests) = discovering(id, 3);
        replicas.insert(id, replica);
        wire.extend(requests);
    }
    assert!(exchange(&mut replicas, wire) > 0);
    for (id, (replica, _)) in &replicas {
        assert!(replica.is_ready(), "replica {id} did not start");
        assert_eq!(replica.stored_keys(), 0);
    }
}

#[test]
fn a_discovering_replica_waits_while_another_replica_is_silent() {
    let mut replicas = BTreeMap::new();
    let (one, requests) = discovering(1, 3);
    let (two, _) = discovering(2, 3);
    replicas.insert(1, one);
    replicas.insert(2, two);
    // Replica 3 never answers: it may hold what the others lost.
    exchange(&mut replicas, requests);
    assert!(!replicas[&1].0.is_ready());
    assert_eq!(
        targets(&replicas.get_mut(&1).unwrap().0.tick(Duration::ZERO)),
        Vec::<u64>::new()
    );
    assert_eq!(
        targets(&replicas.get_mut(&1).unwrap().0.tick(RETRANSMIT)),
        vec![2, 3]
    );
}

#[test]
fn a_discovering_replica_of_an_existing_cluster_takes_what_the_others_hold() {
    let mut h = Harness::new(3);
    h.write("user:alex", b"v1", &[1, 2]);
    h.write("user:bo", b"b1", &[1, 3]);
    // Replica 1's disk is gone; replica 2 lost its disk too and is recovering.
    let ((mut fresh, mut store), requests) = discovering(1, 3);
    let (mut also, _) =
        Replica::recovering(NodeId(2), group(3), Incarnation(7), RETRANSMIT).unwrap();
    let mut also_store = MemoryStore::new();
    for (_, Envelope { to, msg }) in requests {
        let Message::ToReplica(msg) = msg else {
            continue;
        };
        let replies = if to == NodeId(2) {
            also.handle(NodeId(1), msg, &mut also_store).unwrap()
        } else {
            let (replica, store) = h.replicas.get_mut(&to).unwrap();
            replica.handle(NodeId(1), msg, store).unwrap()
        };
        for reply in replies {
            let Message::ToReplica(reply) = reply.msg else {
                continue;
            };
            fresh.handle(to, reply, &mut store).unwrap();
        }
    }
    // Every other replica answered, so the one that holds anything sent it:
    // "user:bo" is on 3; "user:alex" was on 1 and 2 only and is lost with them.
    assert!(fresh.is_ready());
    assert_eq!(fresh.get("user:bo"), h.held(3, "user:bo"));
    assert!(
        !also.is_ready(),
        "a plain recovery still waits for a quorum's state"
    );
}

#[test]
fn replicas_reject_groups_they_are_not_in() {
    assert_eq!(
        Replica::new(NodeId(7), group(3), []).err(),
        Some(GroupError::NotAMember(NodeId(7)))
    );
}

#[test]
fn messages_survive_postcard() {
    let op = OpId {
        coordinator: writer(NodeId(3), 42),
        seq: 7,
    };
    let messages: Vec<Message> = vec![
        ToReplica::Update {
            op,
            key: "player:0d2c".into(),
            versioned: Versioned {
                tag: Tag::ZERO.successor(op.coordinator, 0),
                value: value(&[0, 1, 2, 255]),
            },
        }
        .into(),
        ToReplica::StateReply {
            recovery: Incarnation(5),
            entries: vec![("ban:x".into(), Versioned::ABSENT)],
        }
        .into(),
        ToReplica::AlsoRecovering {
            recovery: Incarnation(6),
        }
        .into(),
        ToCoordinator::TagReply { op, tag: Tag::ZERO }.into(),
    ];
    for message in messages {
        let bytes = postcard::to_stdvec(&message).unwrap();
        let decoded: Message = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, message);
    }
}

#[test]
fn a_local_cluster_tolerates_a_minority_down() {
    let mut cluster = LocalCluster::new(3).unwrap();
    cluster.set_down(NodeId(3), true);
    cluster.write(NodeId(1), "k", value(b"v")).unwrap();
    cluster.set_down(NodeId(3), false);
    cluster.set_down(NodeId(1), true);
    assert_eq!(cluster.read(NodeId(2), "k").unwrap().value, value(b"v"));
    cluster.set_down(NodeId(2), true);
    assert!(cluster.read(NodeId(3), "k").is_err());
}

#[test]
fn keys_are_independent_registers() {
    let mut cluster = LocalCluster::new(3).unwrap();
    let first = cluster.write(NodeId(1), "user:a", value(b"a")).unwrap();
    let other = cluster.write(NodeId(2), "user:b", value(b"b")).unwrap();
    // Each key counts its own timestamps.
    assert_eq!((first.timestamp, other.timestamp), (1, 1));
    cluster.write(NodeId(3), "user:a", None).unwrap();
    assert_eq!(cluster.read(NodeId(1), "user:a").unwrap().value, None);
    assert_eq!(
        cluster.read(NodeId(1), "user:b").unwrap().value,
        value(b"b")
    );
}

#[test]
fn a_cluster_on_redb_keeps_its_data_across_a_restart() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "tessera-auth-cluster-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let open = |dir: &std::path::Path| -> Vec<(NodeId, RedbStore)> {
        (1..=3)
            .map(|id| {
                let store = RedbStore::open(dir.join(format!("replica-{id}.redb"))).unwrap();
                (NodeId(id), store)
            })
            .collect()
    };
    {
        let mut cluster = LocalCluster::with_stores(open(&dir)).unwrap();
        cluster
            .write(NodeId(1), "user:alex", value(b"hash"))
            .unwrap();
    }
    let mut cluster = LocalCluster::with_stores(open(&dir)).unwrap();
    cluster.set_down(NodeId(1), true);
    let read = cluster.read(NodeId(2), "user:alex").unwrap();
    assert_eq!(read.value, value(b"hash"));
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
