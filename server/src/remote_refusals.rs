//! What RCON and Query refused, counted for `/metrics`. Kept apart from the
//! game listener's refusals: these are other ports with other limits.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteRefusal {
    /// RCON: every connection slot was taken.
    RconConnections,
    /// RCON: a length prefix negative, too short or over the request limit.
    RconPacket,
    /// RCON: no login in time, or nothing sent for the idle timeout.
    RconIdle,
    /// RCON: a wrong password.
    RconLoginFailed,
    /// RCON: a connection from an address locked out after failed logins.
    RconLockedOut,
    /// RCON: a command or another request before login.
    RconBeforeLogin,
    /// Query: packets from one address came too fast.
    QueryRate,
    /// Query: a stat request without a valid, current challenge token.
    QueryToken,
    /// Query: a datagram that is no Query request.
    QueryMalformed,
}

impl RemoteRefusal {
    pub const ALL: [RemoteRefusal; 9] = [
        RemoteRefusal::RconConnections,
        RemoteRefusal::RconPacket,
        RemoteRefusal::RconIdle,
        RemoteRefusal::RconLoginFailed,
        RemoteRefusal::RconLockedOut,
        RemoteRefusal::RconBeforeLogin,
        RemoteRefusal::QueryRate,
        RemoteRefusal::QueryToken,
        RemoteRefusal::QueryMalformed,
    ];

    /// The `service` and `reason` labels of `tessera_remote_refused_total`.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            RemoteRefusal::RconConnections => ("rcon", "connections"),
            RemoteRefusal::RconPacket => ("rcon", "packet_length"),
            RemoteRefusal::RconIdle => ("rcon", "idle"),
            RemoteRefusal::RconLoginFailed => ("rcon", "wrong_password"),
            RemoteRefusal::RconLockedOut => ("rcon", "locked_out"),
            RemoteRefusal::RconBeforeLogin => ("rcon", "before_login"),
            RemoteRefusal::QueryRate => ("query", "rate"),
            RemoteRefusal::QueryToken => ("query", "challenge_token"),
            RemoteRefusal::QueryMalformed => ("query", "malformed"),
        }
    }

    fn index(self) -> usize {
        RemoteRefusal::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or_default()
    }
}

#[derive(Debug, Default)]
pub struct RemoteRefusals {
    counts: [AtomicU64; RemoteRefusal::ALL.len()],
}

impl RemoteRefusals {
    pub fn record(&self, refusal: RemoteRefusal) {
        self.counts[refusal.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self, refusal: RemoteRefusal) -> u64 {
        self.counts[refusal.index()].load(Ordering::Relaxed)
    }
}
