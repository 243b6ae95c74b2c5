//! Vanilla's Query (GameSpy4 over UDP): what server browsers and status
//! bots read, players' names included.
//!
//! UDP senders can be forged, so a stat, the only answer much larger than
//! its request, goes only to an address that proved it receives: it must
//! carry the challenge token a handshake sent there. Tokens are keyed
//! hashes of the address and the 30-second period (vanilla renews its
//! tokens every 30 s), so none is stored and a flood of handshakes fills
//! no table; a token works until the end of the period after the one it
//! was issued in. Every address may send `RATE` requests a second (and
//! `BURST` at once); over that, requests are dropped unanswered.

mod codec;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_net::limits::{AddressKey, TokenBucket};
use tokio::net::UdpSocket;
use tracing::{info, warn};

use crate::config::QueryConfig;
use crate::node::Node;
use crate::remote_refusals::RemoteRefusal;
use codec::{Request, Stats};

/// How long a challenge period lasts.
const PERIOD: Duration = Duration::from_secs(30);
/// Requests one address may send a second; a query is two (a handshake
/// and a stat).
pub const RATE: u32 = 10;
pub const BURST: u32 = 20;
/// Addresses whose rate is tracked at once; past it, those with a full
/// bucket (quiet lately) are forgotten, and while none is, requests from
/// new addresses are dropped.
const MAX_ADDRESSES: usize = 4096;

/// Query's state, without the socket.
struct Responder {
    keys: RandomState,
    start: Instant,
    rates: HashMap<AddressKey, TokenBucket>,
}

impl Responder {
    fn new(start: Instant) -> Self {
        Self {
            keys: RandomState::new(),
            start,
            rates: HashMap::new(),
        }
    }

    fn period(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs() / PERIOD.as_secs()
    }

    fn token(&self, peer: SocketAddr, period: u64) -> i32 {
        // The low 32 bits of a SipHash keyed at random at start.
        self.keys.hash_one((peer, period)) as i32
    }

    fn token_valid(&self, peer: SocketAddr, token: i32, now: Instant) -> bool {
        let period = self.period(now);
        token == self.token(peer, period)
            || period
                .checked_sub(1)
                .is_some_and(|before| token == self.token(peer, before))
    }

    fn admit(&mut self, address: AddressKey, now: Instant) -> bool {
        if !self.rates.contains_key(&address) && self.rates.len() >= MAX_ADDRESSES {
            self.rates.retain(|_, bucket| !bucket.is_full(now));
            if self.rates.len() >= MAX_ADDRESSES {
                return false;
            }
        }
        self.rates
            .entry(address)
            .or_insert_with(|| TokenBucket::new(RATE, BURST, now))
            .try_take(now)
    }

    /// The answer to `datagram` from `peer`, or why there is none.
    fn handle(
        &mut self,
        datagram: &[u8],
        peer: SocketAddr,
        now: Instant,
        stats: impl FnOnce() -> Stats,
    ) -> Result<Vec<u8>, RemoteRefusal> {
        if !self.admit(AddressKey::from(peer.ip()), now) {
            return Err(RemoteRefusal::QueryRate);
        }
        match codec::decode(datagram).ok_or(RemoteRefusal::QueryMalformed)? {
            Request::Handshake { session } => {
                let token = self.token(peer, self.period(now));
                Ok(codec::handshake_answer(session, token))
            }
            Request::BasicStat { session, token } if self.token_valid(peer, token, now) => {
                Ok(codec::basic_answer(session, &stats()))
            }
            Request::FullStat { session, token } if self.token_valid(peer, token, now) => {
                Ok(codec::full_answer(session, &stats()))
            }
            Request::BasicStat { .. } | Request::FullStat { .. } => Err(RemoteRefusal::QueryToken),
        }
    }
}

/// What the stats say now.
fn stats(node: &Node, game: SocketAddr) -> Stats {
    let frontend = &node.frontend;
    Stats {
        motd: frontend.config.motd.clone(),
        map: node.level_name().to_owned(),
        max_players: frontend.config.max_players,
        host_port: game.port(),
        host_ip: game.ip().to_string(),
        players: frontend
            .all_names()
            .into_iter()
            .map(|(name, _)| name)
            .collect(),
    }
}

/// Binds `config.bind` (UDP) and answers Query there until the node stops;
/// `game` is the Minecraft listener's address the stats report.
pub async fn start(config: &QueryConfig, game: SocketAddr, node: Arc<Node>) -> anyhow::Result<()> {
    let socket = UdpSocket::bind(config.bind).await.with_context(|| {
        format!(
            "cannot listen on UDP {} (query.host, query.port)",
            config.bind
        )
    })?;
    let addr = socket.local_addr().context("query socket has no address")?;
    info!("query on udp {addr}");
    node.vitals
        .spawn("answering query", serve(socket, game, node.clone()));
    Ok(())
}

async fn serve(socket: UdpSocket, game: SocketAddr, node: Arc<Node>) {
    let mut responder = Responder::new(Instant::now());
    // One byte more than the longest request, so a longer datagram shows
    // as too long instead of being cut down to a valid-looking one.
    let mut buf = [0_u8; codec::MAX_REQUEST + 1];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // An ICMP error for an earlier answer shows here on some
                // systems; it says nothing about the socket.
                warn!("query receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let datagram = &buf[..len];
        match responder.handle(datagram, peer, Instant::now(), || stats(&node, game)) {
            Ok(answer) => {
                if let Err(e) = socket.send_to(&answer, peer).await {
                    warn!(%peer, "query answer not sent: {e}");
                }
            }
            Err(refusal) => node.remote_refusals.record(refusal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> Stats {
        Stats {
            motd: "m".into(),
            map: "world".into(),
            max_players: 5,
            host_port: 25565,
            host_ip: "0.0.0.0".into(),
            players: vec!["Alice".into()],
        }
    }

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn handshake(responder: &mut Responder, from: SocketAddr, now: Instant) -> i32 {
        let answer = responder
            .handle(&[0xFE, 0xFD, 9, 0, 0, 0, 1], from, now, stats)
            .expect("handshake answered");
        let text = std::str::from_utf8(&answer[5..answer.len() - 1]).expect("ascii");
        text.parse().expect("a decimal token")
    }

    fn stat(token: i32, full: bool) -> Vec<u8> {
        let mut request = vec![0xFE, 0xFD, 0, 0, 0, 0, 1];
        request.extend_from_slice(&token.to_be_bytes());
        if full {
            request.extend_from_slice(&[0; 4]);
        }
        request
    }

    #[test]
    fn a_stat_needs_the_token_the_handshake_sent_to_that_address() {
        let start = Instant::now();
        let mut responder = Responder::new(start);
        let token = handshake(&mut responder, peer(1), start);
        let basic = responder.handle(&stat(token, false), peer(1), start, stats);
        assert!(basic
            .expect("basic stat")
            .starts_with(b"\x00\x00\x00\x00\x01m\0SMP\0"));
        let full = responder.handle(&stat(token, true), peer(1), start, stats);
        assert!(full.expect("full stat").ends_with(b"Alice\0\0"));
        // Another address (here another port) cannot use it.
        assert_eq!(
            responder.handle(&stat(token, true), peer(2), start, stats),
            Err(RemoteRefusal::QueryToken)
        );
        assert_eq!(
            responder.handle(&stat(token.wrapping_add(1), true), peer(1), start, stats),
            Err(RemoteRefusal::QueryToken)
        );
    }

    #[test]
    fn a_token_expires_after_the_next_period() {
        let start = Instant::now();
        let mut responder = Responder::new(start);
        let token = handshake(&mut responder, peer(1), start + Duration::from_secs(29));
        let next = start + Duration::from_secs(59);
        assert!(responder
            .handle(&stat(token, false), peer(1), next, stats)
            .is_ok());
        let later = start + Duration::from_secs(60);
        assert_eq!(
            responder.handle(&stat(token, false), peer(1), later, stats),
            Err(RemoteRefusal::QueryToken)
        );
    }

    #[test]
    fn each_address_is_held_to_its_rate() {
        let start = Instant::now();
        let mut responder = Responder::new(start);
        let answered = (0..100)
            .filter(|_| handshake_ok(&mut responder, peer(1), start))
            .count();
        assert_eq!(answered, BURST as usize);
        assert!(handshake_ok(
            &mut responder,
            SocketAddr::from(([10, 0, 0, 2], 1)),
            start
        ));
        assert!(handshake_ok(
            &mut responder,
            peer(1),
            start + Duration::from_secs(1)
        ));
    }

    fn handshake_ok(responder: &mut Responder, from: SocketAddr, now: Instant) -> bool {
        responder
            .handle(&[0xFE, 0xFD, 9, 0, 0, 0, 1], from, now, stats)
            .is_ok()
    }

    #[test]
    fn garbage_is_not_answered() {
        let mut responder = Responder::new(Instant::now());
        assert_eq!(
            responder.handle(b"\xFE\xFD\x09", peer(1), Instant::now(), stats),
            Err(RemoteRefusal::QueryMalformed)
        );
    }

    #[test]
    fn the_rate_table_stays_bounded() {
        let start = Instant::now();
        let mut responder = Responder::new(start);
        for i in 0..(MAX_ADDRESSES as u32 + 5) {
            let from = SocketAddr::from((i.to_be_bytes(), 1));
            responder.admit(AddressKey::from(from.ip()), start);
        }
        assert_eq!(responder.rates.len(), MAX_ADDRESSES);
        let later = start + Duration::from_secs(10);
        assert!(responder.admit(AddressKey::from(peer(1).ip()), later));
        assert_eq!(responder.rates.len(), 1);
    }
}
