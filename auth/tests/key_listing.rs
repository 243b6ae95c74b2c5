//! Listing keys over a quorum: it sees every completed write and deletion,
//! whichever replicas missed them.

use tessera_auth::register::{LocalCluster, NodeId};

fn value(bytes: &[u8]) -> Option<Vec<u8>> {
    Some(bytes.to_vec())
}

#[test]
fn a_listing_sees_completed_writes_and_deletions_through_any_quorum() {
    let mut cluster = LocalCluster::new(3).unwrap();
    let (one, two, three) = (NodeId(1), NodeId(2), NodeId(3));

    cluster.write(one, "user:alex", value(b"a")).unwrap();
    cluster.write(one, "ban:x", value(b"b")).unwrap();
    // Node 3 misses the next write and the deletion.
    cluster.set_down(three, true);
    cluster.write(one, "user:bo", value(b"b")).unwrap();
    cluster.write(two, "user:alex", None).unwrap();
    cluster.set_down(three, false);
    // A quorum that includes the stale replica: it still holds alex.
    cluster.set_down(one, true);
    assert_eq!(
        cluster.keys(three, "user:").unwrap(),
        ["user:bo"],
        "the deletion's newer tag outranks the stale value"
    );
    cluster.set_down(one, false);
    assert_eq!(cluster.keys(one, "ban:").unwrap(), ["ban:x"]);
    assert!(cluster.keys(two, "nothing:").unwrap().is_empty());
}

#[test]
fn a_listing_needs_a_quorum() {
    let mut cluster = LocalCluster::new(3).unwrap();
    cluster.write(NodeId(1), "user:alex", value(b"a")).unwrap();
    cluster.set_down(NodeId(2), true);
    cluster.set_down(NodeId(3), true);
    assert!(cluster.keys(NodeId(1), "user:").is_err());
}
