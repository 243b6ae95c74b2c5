//! Seeds: the configured nodes a starting node contacts to join the cluster.
//!
//! The transport only talks to a node whose id it knows (its handshake checks
//! that the dialled node is the expected one), so a seed names the node id as
//! well as where to reach it: `id@host:port`. The host is an IP address or a
//! DNS name, such as a pod's stable name under a Kubernetes headless Service
//! (`2@tessera-2.tessera.game.svc:7600`); names are resolved again on every
//! attempt, because such a name only resolves once its pod runs and follows
//! the pod to a new address when it is rescheduled.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::debug;

use crate::transport::NodeId;

/// A node to contact when joining, written `id@host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Seed {
    pub id: NodeId,
    /// An IP address or a DNS name.
    pub host: String,
    pub port: u16,
}

/// Why a seed could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("seed {0:?} must be written id@host:port (the node id is needed to reach it)")]
    MissingId(String),
    #[error("seed {0:?} has no valid node id before '@'")]
    BadId(String),
    #[error("seed {0:?} needs a host and a port, as host:port or [ipv6]:port")]
    BadAddress(String),
}

impl FromStr for Seed {
    type Err = SeedError;

    fn from_str(text: &str) -> Result<Self, SeedError> {
        let text = text.trim();
        let (id, address) = text
            .split_once('@')
            .ok_or_else(|| SeedError::MissingId(text.to_owned()))?;
        let id = id
            .parse::<u64>()
            .map_err(|_| SeedError::BadId(text.to_owned()))?;
        let bad_address = || SeedError::BadAddress(text.to_owned());
        let (host, port) = address.rsplit_once(':').ok_or_else(bad_address)?;
        let port = port.parse::<u16>().map_err(|_| bad_address())?;
        let host = match host.strip_prefix('[') {
            Some(v6) => v6
                .strip_suffix(']')
                .filter(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
                .ok_or_else(bad_address)?,
            // An IPv6 address needs its brackets: its colons would be
            // ambiguous with the port's.
            None if host.is_empty() || host.contains(':') => return Err(bad_address()),
            None => host,
        };
        Ok(Self {
            id: NodeId(id),
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}@[{}]:{}", self.id, self.host, self.port)
        } else {
            write!(f, "{}@{}:{}", self.id, self.host, self.port)
        }
    }
}

impl Seed {
    /// A seed at a known address.
    pub fn new(id: NodeId, addr: SocketAddr) -> Self {
        Self {
            id,
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }

    /// The seed's current address. An IP address is used as it is, without
    /// a lookup (which also keeps simulated networks free of real DNS).
    async fn resolve(&self) -> io::Result<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name has no address"))
    }
}

/// While the node knows no live member (`joined` is false), resolves the
/// seeds every `interval` and hands those that resolve to the membership
/// actor, which announces itself to them. Ends with the actor.
pub(crate) async fn contact_seeds(
    seeds: Vec<Seed>,
    interval: Duration,
    mut joined: watch::Receiver<bool>,
    found: mpsc::Sender<Vec<(NodeId, SocketAddr)>>,
) {
    loop {
        if joined.wait_for(|joined| !joined).await.is_err() {
            return;
        }
        let mut reachable = Vec::with_capacity(seeds.len());
        for seed in &seeds {
            // A lookup can hang on an unreachable DNS server; the next round
            // tries again.
            match tokio::time::timeout(interval, seed.resolve()).await {
                Ok(Ok(addr)) => reachable.push((seed.id, addr)),
                Ok(Err(error)) => debug!(%seed, %error, "seed does not resolve"),
                Err(_) => debug!(%seed, "seed lookup timed out"),
            }
        }
        if found.send(reachable).await.is_err() {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(text: &str) -> Result<Seed, SeedError> {
        text.parse()
    }

    #[test]
    fn seeds_name_an_id_and_an_ip_or_a_dns_name() {
        let dns = seed("2@tessera-2.tessera.game.svc:7600").unwrap();
        assert_eq!(dns.id, NodeId(2));
        assert_eq!(dns.host, "tessera-2.tessera.game.svc");
        assert_eq!(dns.port, 7600);
        let v6 = seed(" 7@[::1]:7600 ").unwrap();
        assert_eq!(v6.host, "::1");
        for text in [
            "2@tessera-2.tessera.game.svc:7600",
            "7@[::1]:7600",
            "1@10.0.0.1:1",
        ] {
            assert_eq!(seed(text).unwrap().to_string(), text);
        }
        let addr: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(Seed::new(NodeId(4), addr).to_string(), "4@[::1]:9");
    }

    #[test]
    fn malformed_seeds_say_what_is_missing() {
        assert!(matches!(
            seed("10.0.0.1:7600"),
            Err(SeedError::MissingId(_))
        ));
        assert!(matches!(seed("x@10.0.0.1:7600"), Err(SeedError::BadId(_))));
        for bad in [
            "1@10.0.0.1",
            "1@:7600",
            "1@host:port",
            "1@::1:7600",
            "1@[::1:7600",
        ] {
            assert!(matches!(seed(bad), Err(SeedError::BadAddress(_))), "{bad}");
        }
    }

    #[tokio::test]
    async fn ip_seeds_resolve_without_a_lookup_and_names_through_dns() {
        let ip = seed("1@127.0.0.1:7600").unwrap();
        assert_eq!(
            ip.resolve().await.unwrap(),
            "127.0.0.1:7600".parse().unwrap()
        );
        let name = seed("1@localhost:7600").unwrap();
        let addr = name.resolve().await.unwrap();
        assert!(addr.ip().is_loopback() && addr.port() == 7600);
    }
}
