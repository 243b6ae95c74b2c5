use std::fmt;

use tokio::sync::mpsc;

/// The receiving half of an actor's mailbox; owned by the actor's task.
pub type Mailbox<M> = mpsc::Receiver<M>;

/// Why a message could not be delivered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("the actor has stopped")]
    Stopped,
    #[error("the actor's mailbox is full")]
    Full,
}

/// A handle to an actor's mailbox. Cloning it is cheap; the actor stops
/// receiving when every reference is dropped.
pub struct ActorRef<M> {
    tx: mpsc::Sender<M>,
}

impl<M> Clone for ActorRef<M> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<M> fmt::Debug for ActorRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorRef")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

/// Creates a bounded mailbox and the first reference to it.
pub fn mailbox<M>(capacity: usize) -> (ActorRef<M>, Mailbox<M>) {
    let (tx, rx) = mpsc::channel(capacity);
    (ActorRef { tx }, rx)
}

impl<M> ActorRef<M> {
    /// Delivers a message, waiting while the mailbox is full (backpressure).
    pub async fn send(&self, msg: M) -> Result<(), SendError> {
        self.tx.send(msg).await.map_err(|_| SendError::Stopped)
    }

    /// Delivers a message without waiting; a full mailbox is reported rather
    /// than waited on, so a tick never blocks on a slow receiver.
    pub fn try_send(&self, msg: M) -> Result<(), SendError> {
        self.tx.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Stopped,
        })
    }

    /// Delivers a message from outside the async runtime (a blocking worker),
    /// waiting while the mailbox is full.
    pub fn blocking_send(&self, msg: M) -> Result<(), SendError> {
        self.tx.blocking_send(msg).map_err(|_| SendError::Stopped)
    }

    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// True when both references point at the same mailbox.
    pub fn same_actor(&self, other: &Self) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_mailbox_is_reported_not_waited_on() {
        let (actor, mut inbox) = mailbox::<u32>(1);
        actor.try_send(1).unwrap();
        assert_eq!(actor.try_send(2), Err(SendError::Full));
        assert_eq!(inbox.recv().await, Some(1));
        actor.try_send(3).unwrap();
        drop(inbox);
        assert_eq!(actor.send(4).await, Err(SendError::Stopped));
        assert!(actor.is_stopped());
    }
}
