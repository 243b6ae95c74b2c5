//! The actor runtime Tessera's services are built from: location-transparent
//! references to bounded mailboxes, and supervision of actor tasks; and the
//! authenticated, encrypted node-to-node transport that carries messages
//! between the nodes of a cluster.

mod actor_ref;
pub mod membership;
pub mod placement;
mod supervisor;
pub mod transport;
mod vitals;

pub use actor_ref::{mailbox, ActorRef, Mailbox, SendError};
pub use supervisor::{supervise, Restart, RestartBudget, Supervised};
pub use transport::{
    ClusterSecret, Envelope, NodeId, RpcError, TokioNet, Topic, Transport, TransportConfig,
    TransportError,
};
pub use vitals::{StoppedLoop, Vitals};
