//! The world's messages between nodes: region commands and session batches
//! go out through the transport, and what arrives is handed to the local
//! regions and sessions.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tessera_cluster::{Envelope, NodeId, Topic, Transport, TransportError};
use tessera_world::coords::RegionPos;
use tessera_world::messages::{NodeBatch, RegionMsg, SessionAddr, SessionId, ToSession};
use tessera_world::routing::{RemoteLinks, Undelivered};
use tessera_world::World;
use tracing::{debug, warn};

#[derive(Serialize, Deserialize)]
struct ToRegion {
    region: RegionPos,
    msg: RegionMsg,
}

#[derive(Serialize, Deserialize)]
enum ToSessions {
    One { session: SessionId, msg: ToSession },
    Batch(NodeBatch),
}

pub struct ClusterLinks {
    transport: Transport,
}

impl ClusterLinks {
    pub fn new(transport: Transport) -> Self {
        Self { transport }
    }

    fn send<T: Serialize>(&self, node: NodeId, topic: Topic, body: &T) -> Result<(), Undelivered> {
        let body = Envelope::encode_body(body).map_err(|e| {
            warn!("message to node {node} does not encode: {e}");
            Undelivered::NoRoute(node)
        })?;
        self.transport.send(node, topic, body).map_err(|e| match e {
            TransportError::Backpressure(_) => Undelivered::Congested(node),
            _ => Undelivered::NoRoute(node),
        })
    }
}

impl RemoteLinks for ClusterLinks {
    fn to_region(
        &self,
        node: NodeId,
        region: RegionPos,
        msg: RegionMsg,
    ) -> Result<(), Undelivered> {
        self.send(node, Topic::Region, &ToRegion { region, msg })
    }

    fn to_session(&self, addr: SessionAddr, msg: ToSession) -> Result<(), Undelivered> {
        self.send(
            addr.node,
            Topic::Session,
            &ToSessions::One {
                session: addr.id,
                msg,
            },
        )
    }

    fn batch(&self, node: NodeId, batch: NodeBatch) -> Result<(), Undelivered> {
        self.send(node, Topic::Session, &ToSessions::Batch(batch))
    }
}

/// Hands what other nodes send to this node's regions and sessions, until
/// the transport shuts down.
pub fn serve_inbound(transport: &Transport, world: Arc<World>) -> Result<(), TransportError> {
    let mut regions = transport.subscribe(Topic::Region)?;
    let mut sessions = transport.subscribe(Topic::Session)?;
    let to_regions = world.clone();
    tokio::spawn(async move {
        while let Some(envelope) = regions.recv().await {
            match envelope.decode_body::<ToRegion>() {
                // A region that moved on is found again through placement.
                Ok(ToRegion { region, msg }) => {
                    if let Err(e) = to_regions.to_region(region, msg) {
                        debug!(%region, from = %envelope.from, "region message not delivered: {e}");
                    }
                }
                Err(e) => warn!(from = %envelope.from, "undecodable region message: {e}"),
            }
        }
    });
    tokio::spawn(async move {
        while let Some(envelope) = sessions.recv().await {
            match envelope.decode_body::<ToSessions>() {
                Ok(ToSessions::One { session, msg }) => {
                    let addr = SessionAddr {
                        node: world.node(),
                        id: session,
                    };
                    if let Err(e) = world.to_session(addr, msg) {
                        debug!(session, "session message not delivered: {e}");
                    }
                }
                Ok(ToSessions::Batch(batch)) => world.deliver_batch(batch),
                Err(e) => warn!(from = %envelope.from, "undecodable session message: {e}"),
            }
        }
    });
    Ok(())
}
