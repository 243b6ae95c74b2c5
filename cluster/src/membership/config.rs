use std::num::{NonZeroU8, NonZeroUsize};
use std::time::Duration;

use super::MembershipError;

/// How fast members are probed, suspected and declared Down, and how a node
/// finds its way (back) into the cluster.
///
/// The defaults suit a LAN (or loopback) where a round trip takes well under
/// a millisecond. Each member probes one other per `probe_period`, going
/// round them all in shuffled order, so a member that stops answering is
/// soon probed by someone (within one or two periods in a small cluster); it
/// is suspected at the end of that period and declared Down
/// `suspect_to_down_after` later unless it refutes the suspicion: 2.0–3.0 s
/// after a crash with the defaults in a cluster of a few nodes. Measured
/// with three members: 2.3–2.8 s over loopback TCP, 2.4–2.9 s in the turmoil
/// simulation (the `membership_*` tests print the figure). A member that
/// `leave`s is Down everywhere within a millisecond or so. The cost is one
/// small ping per member per period, a member-list exchange per
/// `announce_interval`, and gossip only while there is news.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// Each member pings one other member this often.
    pub probe_period: Duration,
    /// How long a ping waits for its ack before other members are asked to
    /// ping on our behalf. Must be below `probe_period`; it is the budget for
    /// a round trip through both transports, scheduler delays included.
    pub probe_rtt: Duration,
    /// How many members are asked to ping indirectly.
    pub indirect_probes: usize,
    /// How long a suspected member has to prove it is alive before it is
    /// declared Down. Shorter detects faster; longer forgives longer pauses
    /// (a stalled process, a slow machine).
    pub suspect_to_down_after: Duration,
    /// Pending membership updates are also pushed to a few members this
    /// often, rather than only riding on probes.
    pub gossip_interval: Duration,
    /// A member asks a random other member for its member list this often,
    /// so one that joined through a single seed soon knows everyone.
    pub announce_interval: Duration,
    /// Members declared Down are contacted this often: when a partition
    /// heals, this is how both sides find each other again.
    pub rejoin_interval: Duration,
    /// While a node knows no live member (at start, or cut off from all of
    /// them), its seeds are resolved again and contacted this often.
    pub seed_interval: Duration,
    /// `Membership::leave` waits at most this long for members to
    /// acknowledge the departure.
    pub leave_timeout: Duration,
    /// Events buffered per subscriber; one that falls further behind gets
    /// `RecvError::Lagged` and should read `Membership::members` again.
    pub event_capacity: usize,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            probe_period: Duration::from_millis(500),
            probe_rtt: Duration::from_millis(200),
            indirect_probes: 3,
            suspect_to_down_after: Duration::from_millis(1500),
            gossip_interval: Duration::from_millis(200),
            announce_interval: Duration::from_secs(5),
            rejoin_interval: Duration::from_secs(2),
            seed_interval: Duration::from_secs(1),
            leave_timeout: Duration::from_secs(1),
            event_capacity: 1024,
        }
    }
}

/// A foca datagram is one transport frame, so it need not fit a UDP packet;
/// this leaves room for the whole member list of a cluster of ~100 nodes in
/// one `Feed`.
const MAX_PACKET_SIZE: usize = 4096;

/// How many times each update is piggybacked; plenty for clusters of tens of
/// nodes (foca's LAN preset computes 4 at 10 nodes, 8 at 100).
const MAX_TRANSMISSIONS: u8 = 8;

/// Members contacted per periodic gossip, announce and rejoin round.
const FANOUT: usize = 2;

impl MembershipConfig {
    pub(crate) fn validate(&self) -> Result<(), MembershipError> {
        let invalid = MembershipError::InvalidConfig;
        let periods = [
            self.probe_period,
            self.probe_rtt,
            self.suspect_to_down_after,
            self.gossip_interval,
            self.announce_interval,
            self.rejoin_interval,
            self.seed_interval,
        ];
        if periods.iter().any(Duration::is_zero) {
            return Err(invalid("membership periods and timeouts must be positive"));
        }
        if self.probe_rtt >= self.probe_period {
            return Err(invalid("probe_rtt must be below probe_period"));
        }
        if self.indirect_probes == 0 || self.event_capacity == 0 {
            return Err(invalid(
                "indirect_probes and event_capacity must be at least 1",
            ));
        }
        Ok(())
    }

    /// Foca's configuration; call `validate` first.
    pub(crate) fn to_foca(&self) -> foca::Config {
        let every = |frequency| {
            Some(foca::PeriodicParams {
                frequency,
                num_members: NonZeroUsize::new(FANOUT).unwrap_or(NonZeroUsize::MIN),
            })
        };
        foca::Config {
            probe_period: self.probe_period,
            probe_rtt: self.probe_rtt,
            num_indirect_probes: NonZeroUsize::new(self.indirect_probes)
                .unwrap_or(NonZeroUsize::MIN),
            max_transmissions: NonZeroU8::new(MAX_TRANSMISSIONS).unwrap_or(NonZeroU8::MIN),
            suspect_to_down_after: self.suspect_to_down_after,
            max_packet_size: NonZeroUsize::new(MAX_PACKET_SIZE).unwrap_or(NonZeroUsize::MIN),
            // A member declared Down is told so, renews its identity and
            // rejoins at once instead of staying out of the cluster unaware.
            notify_down_members: true,
            periodic_announce: every(self.announce_interval),
            periodic_announce_to_down_members: every(self.rejoin_interval),
            periodic_gossip: every(self.gossip_interval),
            // How long a Down node id is remembered: `simple`'s 24 hours.
            // Identities renew, so this never keeps a node out.
            ..foca::Config::simple()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_reach_foca_unchanged() {
        let config = MembershipConfig::default();
        config.validate().unwrap();
        let foca = config.to_foca();
        assert_eq!(foca.probe_period, config.probe_period);
        assert_eq!(foca.suspect_to_down_after, config.suspect_to_down_after);
        assert!(foca.notify_down_members);
    }

    #[test]
    fn a_probe_rtt_at_or_over_the_period_is_refused() {
        let config = MembershipConfig {
            probe_rtt: Duration::from_millis(500),
            ..MembershipConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(MembershipError::InvalidConfig(_))
        ));
        let config = MembershipConfig {
            seed_interval: Duration::ZERO,
            ..MembershipConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
