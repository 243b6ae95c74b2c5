//! The handoff counters on `/metrics`: a region counts out when its actor
//! here stops for another owner, in when ownership arrives from another
//! node, and neither for a first placement or a repeated one.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::coords::RegionPos;
use crate::gen::Flat;
use crate::messages::{NodeId, RegionMsg};
use crate::routing::{Ownership, Placement};
use crate::{World, WorldSettings};

/// Placement whose owner the test sets.
struct Owner(Mutex<NodeId>);

impl Placement for Owner {
    fn owner(&self, _: RegionPos) -> Option<Ownership> {
        let node = *self.0.lock().unwrap();
        Some(Ownership { node, epoch: 1 })
    }

    fn tick_epoch(&self, _: RegionPos) -> Option<u64> {
        (*self.0.lock().unwrap() == NodeId(1)).then_some(1)
    }
}

fn counts(world: &World) -> (u64, u64) {
    let m = &world.metrics();
    (
        m.handoffs_out.load(Ordering::Relaxed),
        m.handoffs_in.load(Ordering::Relaxed),
    )
}

#[tokio::test]
async fn handoffs_count_regions_that_leave_and_arrive() {
    let placement = Arc::new(Owner(Mutex::new(NodeId(1))));
    let world = World::new(WorldSettings {
        placement: placement.clone(),
        ..WorldSettings::for_test(Arc::new(Flat))
    });
    let pos = RegionPos { x: 0, z: 0 };
    world.placement_changed(pos, None).await;
    world.placement_changed(pos, Some(NodeId(1))).await;
    assert_eq!(counts(&world), (0, 0), "placed here first, then again");

    world
        .to_region(pos, RegionMsg::NodeGone { node: NodeId(9) })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while world.metrics().regions.snapshot().is_empty() {
        assert!(Instant::now() < deadline, "the region never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    *placement.0.lock().unwrap() = NodeId(2);
    world.release_region(pos).await;
    world.placement_changed(pos, Some(NodeId(1))).await;
    assert_eq!(counts(&world), (1, 0), "released once, however it is told");
    assert!(
        world.metrics().regions.snapshot().is_empty(),
        "its series went with it"
    );

    *placement.0.lock().unwrap() = NodeId(1);
    world.placement_changed(pos, Some(NodeId(2))).await;
    assert_eq!(counts(&world), (1, 1));
}
