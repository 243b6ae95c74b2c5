//! Giving a live region away (rebalancing) without a pause of a whole
//! lease: the leader fences the region (see `lease`) and asks its owner to
//! release it; the owner stops ticking it at once, lets the world stop and
//! save it, and confirms. The leader then commits the `Move` at once
//! instead of waiting for the owner's lease on it to run out.
//!
//! A released region stays stopped on this node until its ownership moves
//! on (a new epoch). If the move is lost (the leader died before committing
//! it), this node proposes it again until the epoch changes; a `Move` whose
//! target is gone picks another live node, possibly this one under a new
//! epoch, which lets the region run here again.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::RegionKey;
use crate::transport::NodeId;

/// The world's part of a release: stop the region and save it, then call
/// `done`.
#[derive(Debug)]
pub struct ReleaseRequest {
    pub region: RegionKey,
    pub epoch: u64,
    done: oneshot::Sender<()>,
}

impl ReleaseRequest {
    /// The region is stopped and saved.
    pub fn done(self) {
        // The leader may have stopped waiting; the release holds anyway.
        let _ = self.done.send(());
    }
}

/// A region this node released: under which epoch, and to whom it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    pub(crate) epoch: u64,
    pub(crate) to: NodeId,
}

/// This node's released regions and the world's hook for releasing them.
#[derive(Default)]
pub(crate) struct Releases {
    released: Mutex<BTreeMap<RegionKey, Released>>,
    world: Mutex<Option<mpsc::UnboundedSender<ReleaseRequest>>>,
}

// Both maps change in single calls, so a panic elsewhere cannot leave them
// half-changed: poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Releases {
    /// Where the world gets its release requests from now on.
    pub(crate) fn hook(&self) -> mpsc::UnboundedReceiver<ReleaseRequest> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.world) = Some(tx);
        rx
    }

    pub(crate) fn is_released(&self, region: RegionKey, epoch: u64) -> bool {
        lock(&self.released)
            .get(&region)
            .is_some_and(|r| r.epoch == epoch)
    }

    /// Released regions whose ownership has not moved on yet, by `owner`:
    /// the epoch this node still owns each region under, if any.
    pub(crate) fn pending(
        &self,
        owner: impl Fn(RegionKey) -> Option<u64>,
    ) -> Vec<(RegionKey, Released)> {
        let mut released = lock(&self.released);
        released.retain(|region, r| owner(*region) == Some(r.epoch));
        released.iter().map(|(k, r)| (*k, *r)).collect()
    }

    /// Stops `region` under `epoch` here for good, for `to`, and waits up
    /// to `within` for the world to stop and save it. Whether it did.
    pub(crate) async fn release(
        &self,
        region: RegionKey,
        epoch: u64,
        to: NodeId,
        within: Duration,
    ) -> bool {
        lock(&self.released).insert(region, Released { epoch, to });
        let (done, stopped) = oneshot::channel();
        let request = ReleaseRequest {
            region,
            epoch,
            done,
        };
        let sent = lock(&self.world)
            .as_ref()
            .is_some_and(|world| world.send(request).is_ok());
        if !sent {
            // No world (or it is gone): nothing runs the region to stop.
            return true;
        }
        match tokio::time::timeout(within, stopped).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) | Err(_) => {
                debug!(?region, "the world did not confirm the release in time");
                false
            }
        }
    }
}
