//! A single node's register store that failed is probed until it persists
//! again, so its health (metrics, `/readyz`) recovers when the disk does,
//! not only at the next write a player happens to make.

use std::sync::{Mutex, PoisonError, Weak};
use std::time::Duration;

use tracing::debug;

use crate::register::{LocalCluster, NodeId, RedbStore, StoreHealth};

/// How often a failing store is probed; the store's own reopen backoff
/// decides how often a probe really touches the disk.
const EVERY: Duration = Duration::from_millis(500);

/// Probes `node`'s store with an empty commit whenever `health` says it
/// fails; ends once the register it belongs to is dropped.
pub(super) async fn probe_while_failing(
    cluster: Weak<Mutex<LocalCluster<RedbStore>>>,
    node: NodeId,
    health: StoreHealth,
) {
    let mut ticker = tokio::time::interval(EVERY);
    loop {
        ticker.tick().await;
        if !health.is_failing() {
            if cluster.strong_count() == 0 {
                return;
            }
            continue;
        }
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        let probed = tokio::task::spawn_blocking(move || {
            cluster
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .probe_store(node)
        })
        .await;
        // The store logs and counts its own failures; a panic in the probe
        // is tokio's to report.
        if let Ok(Err(error)) = probed {
            debug!(%error, "register store still cannot persist");
        }
    }
}
