use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of a transport, for metrics, the `nodes` command and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Authenticated connections currently up.
    pub connections_open: u64,
    /// Authenticated connections kept since start.
    pub connections_established: u64,
    /// Authenticated connections closed at once because the pair already had
    /// one (both nodes dialled at the same time).
    pub duplicate_connections: u64,
    /// Handshakes refused or abandoned (wrong secret, timeout, bad messages).
    pub handshakes_failed: u64,
    /// Inbound connections closed as soon as they were accepted because
    /// `max_pending_handshakes` were already in handshake.
    pub handshakes_refused: u64,
    pub frames_sent: u64,
    pub bytes_sent: u64,
    /// Socket writes; fewer than frames when a tick's messages are batched.
    pub writes: u64,
    pub frames_received: u64,
    pub bytes_received: u64,
    /// Sends refused because the peer's queue was full.
    pub backpressure: u64,
    /// Messages dropped on receipt: no subscriber for the topic, or a body
    /// that does not decode as an envelope.
    pub undeliverable: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_established: AtomicU64,
    pub(crate) duplicate_connections: AtomicU64,
    pub(crate) handshakes_failed: AtomicU64,
    pub(crate) handshakes_refused: AtomicU64,
    pub(crate) frames_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) frames_received: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) backpressure: AtomicU64,
    pub(crate) undeliverable: AtomicU64,
}

/// Adds to a counter; relaxed, as counters order nothing.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Stats {
    pub(crate) fn snapshot(&self) -> TransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TransportStats {
            connections_open: get(&self.connections_open),
            connections_established: get(&self.connections_established),
            duplicate_connections: get(&self.duplicate_connections),
            handshakes_failed: get(&self.handshakes_failed),
            handshakes_refused: get(&self.handshakes_refused),
            frames_sent: get(&self.frames_sent),
            bytes_sent: get(&self.bytes_sent),
            writes: get(&self.writes),
            frames_received: get(&self.frames_received),
            bytes_received: get(&self.bytes_received),
            backpressure: get(&self.backpressure),
            undeliverable: get(&self.undeliverable),
        }
    }
}
