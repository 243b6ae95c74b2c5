//! The actor runtime Tessera's services are built from: location-transparent
//! references to bounded mailboxes, and supervision of actor tasks.

mod actor_ref;
mod supervisor;

pub use actor_ref::{mailbox, ActorRef, Mailbox, SendError};
pub use supervisor::{supervise, Restart};
