//! Timing of the placement group.

use std::time::Duration;

use openraft::SnapshotPolicy;

use super::lease::LeaseTerms;
use super::PlacementError;

/// How the placement group keeps time. The defaults suit a cloud network
/// with durable (fsynced) logs; tests shorten them.
#[derive(Debug, Clone)]
pub struct PlacementConfig {
    /// The leader's heartbeat period. It is also the time a follower has to
    /// persist and acknowledge a batch of entries (openraft times an
    /// append-entries call out after one heartbeat interval), so it must
    /// cover a round trip plus an fsync.
    pub heartbeat_interval: Duration,
    /// A follower that hears no leader for a random time in this range
    /// starts an election. Well above the heartbeat, so one late heartbeat
    /// does not depose a healthy leader. openraft first honours the old
    /// leader for `election_timeout_max` more, so a successor is elected
    /// from `min + max` to `2 × max` after the last heartbeat. That must
    /// end before the leases run out (`lease` minus up to one renewal
    /// interval after the leader died), or every region pauses meanwhile.
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// How long one request to another node (a forwarded proposal, a join
    /// request, a snapshot chunk) may take before it is retried elsewhere.
    pub request_timeout: Duration,
    /// How long `propose` keeps trying (through leader changes) before it
    /// gives up.
    pub propose_timeout: Duration,
    /// Pause between retries while no leader is known.
    pub retry_interval: Duration,
    /// Compact the log into a snapshot after this many applied entries.
    pub snapshot_every: u64,
    /// How long a node may tick its regions after asking the leader to
    /// renew its lease. It is also the least time from a node's last
    /// renewal to its regions ticking elsewhere, so it should not exceed the
    /// failure detector's time to declare a node down; and it is how long a
    /// new leader waits before it reassigns anything.
    pub lease: Duration,
    /// How often a node renews its lease: several times per lease, so one
    /// lost renewal does not stop its regions.
    pub lease_renew_interval: Duration,
    /// How much longer than `lease` the leader waits, for clocks that run
    /// at slightly different rates.
    pub clock_drift_margin: Duration,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(250),
            election_timeout_min: Duration::from_millis(500),
            election_timeout_max: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(2),
            propose_timeout: Duration::from_secs(15),
            retry_interval: Duration::from_millis(100),
            snapshot_every: 5000,
            lease: Duration::from_secs(2),
            lease_renew_interval: Duration::from_millis(400),
            clock_drift_margin: Duration::from_millis(200),
        }
    }
}

impl PlacementConfig {
    pub(crate) fn lease_terms(&self) -> LeaseTerms {
        LeaseTerms {
            lease: self.lease,
            drift_margin: self.clock_drift_margin,
        }
    }

    /// The openraft configuration these timings amount to.
    pub(crate) fn raft_config(&self) -> Result<openraft::Config, PlacementError> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if self.request_timeout.is_zero()
            || self.propose_timeout.is_zero()
            || self.retry_interval.is_zero()
        {
            return Err(PlacementError::Config(
                "request_timeout, propose_timeout and retry_interval must be positive".into(),
            ));
        }
        if self.lease_renew_interval.is_zero() || self.lease_renew_interval >= self.lease {
            return Err(PlacementError::Config(
                "lease_renew_interval must be positive and shorter than lease".into(),
            ));
        }
        let config = openraft::Config {
            cluster_name: "tessera-placement".into(),
            heartbeat_interval: millis(self.heartbeat_interval),
            election_timeout_min: millis(self.election_timeout_min),
            election_timeout_max: millis(self.election_timeout_max),
            install_snapshot_timeout: millis(self.request_timeout),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every.max(1)),
            // Keep some log behind the snapshot so a briefly lagging follower
            // catches up from entries rather than a whole snapshot.
            max_in_snapshot_log_to_keep: self.snapshot_every.max(1),
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| PlacementError::Config(e.to_string()))
    }
}
