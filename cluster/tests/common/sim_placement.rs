//! Placement timings for the simulations: elections, leases and retries
//! scaled down so that many rounds of chaos fit in a test's simulated time.

use std::time::Duration;

use tessera_cluster::placement::PlacementConfig;

pub fn placement_config() -> PlacementConfig {
    PlacementConfig {
        heartbeat_interval: Duration::from_millis(100),
        election_timeout_min: Duration::from_millis(500),
        election_timeout_max: Duration::from_millis(1000),
        request_timeout: Duration::from_millis(500),
        propose_timeout: Duration::from_secs(4),
        retry_interval: Duration::from_millis(50),
        snapshot_every: 5000,
        lease: Duration::from_secs(1),
        lease_renew_interval: Duration::from_millis(200),
        clock_drift_margin: Duration::from_millis(100),
    }
}
