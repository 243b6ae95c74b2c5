//! How a register node times its operations and starts its replica.

use std::time::Duration;

use crate::register::Incarnation;

/// Settings of a [`RegisterNode`](super::RegisterNode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterNodeConfig {
    /// How long a read or write may take before it fails with
    /// [`RegisterError::NoQuorum`](super::RegisterError::NoQuorum). A write
    /// that timed out may still take effect later.
    pub op_timeout: Duration,
    /// How long a phase of an operation (or a recovery's state request) waits
    /// for silent replicas before asking them again.
    pub retransmit_after: Duration,
    /// How often retransmissions and timeouts are checked.
    pub tick_interval: Duration,
    /// Whether the cluster existed before this node started. When it did and
    /// this node's replica store is not known to be complete (the file was
    /// just created, on a new or a replacement disk, or a recovery into it
    /// was cut short), the replica rebuilds its state from the other
    /// replicas before it answers anything: a replica that forgot what it
    /// acknowledged must not count toward a quorum. Leave it off when the
    /// whole cluster starts for the first time: every replica would wait for
    /// the others and none would ever serve. A group of one has nobody to
    /// recover from and always serves what its store holds.
    pub recover_if_empty: bool,
    /// Whether a store not known to be complete is discovered rather than
    /// trusted: the replica recovers as with `recover_if_empty`, and also
    /// starts once every other replica has answered, each with its state or
    /// as recovering too (`Replica::discovering`). So the replicas of a new
    /// cluster start together and a replacement disk is rebuilt, without an
    /// operator saying which it is. `recover_if_empty` wins when both are set:
    /// an operator who knows the disk was lost wants a quorum's state.
    pub discover_if_empty: bool,
    /// How long a recovering replica waits before asking the others for their
    /// state. An acknowledgement its previous run sent just before the disk
    /// was lost may still be in flight; once every connection of that run has
    /// been dropped (the transport drops a silent connection after its idle
    /// timeout), none can arrive after the recovery. Keep it above the
    /// transport's `idle_timeout`.
    pub recovery_delay: Duration,
    /// Tells this run of the node from every other one in operation ids and
    /// write tags. `None` takes the wall clock at start in microseconds,
    /// which differs between runs unless the clock steps back.
    pub incarnation: Option<Incarnation>,
    /// Reads and writes queued for the node's task before callers wait.
    pub queue_capacity: usize,
}

impl Default for RegisterNodeConfig {
    fn default() -> Self {
        Self {
            op_timeout: Duration::from_secs(5),
            retransmit_after: Duration::from_millis(250),
            tick_interval: Duration::from_millis(25),
            recover_if_empty: false,
            discover_if_empty: false,
            recovery_delay: Duration::from_secs(6),
            incarnation: None,
            queue_capacity: 4096,
        }
    }
}
