//! The node-to-node transport of the cluster.
//!
//! Every pair of nodes keeps one persistent TCP connection. A new connection
//! carries nothing until both ends have proved they hold the cluster secret
//! (`handshake`); at most `max_pending_handshakes` inbound connections may be
//! at that stage at once, each for `handshake_timeout` at most. Both ends then
//! derive per-direction session keys from the secret and the handshake's
//! nonces, and every frame (`frame`) after that, heartbeats included, is
//! encrypted and authenticated with ChaCha20-Poly1305 under a per-direction
//! counter (`cipher`): a frame that was forged, altered, replayed, reordered
//! or dropped does not open, and the connection ends. Inside, a frame is a
//! postcard `Envelope` whose body is the postcard of a message type defined by
//! the crate that owns the topic. Sends go to one of two bounded queues per
//! peer, control (membership, placement, register) or bulk (everything else),
//! drained by the connection's writer in batches, control first, so game
//! traffic never delays or crowds out failure detection; inbound envelopes
//! are dispatched to one subscriber per `Topic`. Requests with correlation ids give request/response
//! on top. The network is a trait (`Network`), so the same code runs over
//! tokio's TCP and over turmoil's simulated network (feature `simulation`).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tessera_cluster::transport::{
//!     ClusterSecret, Envelope, NodeId, TokioNet, Topic, Transport, TransportConfig,
//! };
//!
//! let secret = ClusterSecret::new("from the cluster section of config.toml")?;
//! let mut config = TransportConfig::new(NodeId(1), "0.0.0.0:7600".parse()?, secret);
//! config.peers.insert(NodeId(2), "10.0.0.2:7600".parse()?);
//! let transport = Transport::start(TokioNet, config).await?;
//!
//! // Handle requests on a topic...
//! let mut inbox = transport.subscribe(Topic::Register)?;
//! let handler = transport.clone();
//! tokio::spawn(async move {
//!     while let Some(request) = inbox.recv().await {
//!         let key: String = match request.decode_body() {
//!             Ok(key) => key,
//!             Err(e) => { let _ = handler.reply_error(&request, e.to_string()); continue; }
//!         };
//!         let _ = handler.reply(&request, Envelope::encode_body(&key.len())?);
//!     }
//!     Ok::<_, tessera_cluster::transport::BodyError>(())
//! });
//!
//! // ...and send to other nodes.
//! transport.send(NodeId(2), Topic::Region, Envelope::encode_body(&"hello")?)?;
//! let reply = transport
//!     .request(NodeId(2), Topic::Register, Envelope::encode_body(&"user:alex")?, Duration::from_secs(1))
//!     .await?;
//! let len: usize = postcard::from_bytes(&reply)?;
//! # let _ = len;
//! # Ok(())
//! # }
//! ```

mod cipher;
mod config;
mod connection;
mod dialer;
mod envelope;
mod error;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod handshake;
mod id;
mod net;
mod peer;
mod rpc;
mod secret;
mod shared;
mod stats;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub use config::TransportConfig;
pub use envelope::{BodyError, Envelope, Kind, RequestId, Topic};
pub use error::{RpcError, TransportError};
pub use frame::DEFAULT_MAX_FRAME_LEN;
pub use handle::Transport;
pub use id::NodeId;
#[cfg(feature = "simulation")]
pub use net::TurmoilNet;
pub use net::{Listener, Network, TokioNet};
pub use secret::{ClusterSecret, SecretError, MIN_SECRET_LEN};
pub use stats::TransportStats;

/// Locks a mutex, ignoring poisoning: the maps it guards are updated in single
/// steps, so a panic elsewhere cannot leave them half-changed.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
