//! Polling a condition in (simulated) time, for the simulation tests.

use std::time::Duration;

/// Waits until `condition` holds, failing the test after `within`.
pub async fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(within, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting until {what}");
}
