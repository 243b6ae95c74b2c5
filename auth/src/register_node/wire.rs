//! Register messages on the cluster transport. A frame on
//! `Topic::Register` carries a batch: postcard-encoded [`Message`]s back to
//! back, all of one node's messages to one peer from one turn of its loop,
//! so a burst of operations costs few frames and socket writes.

use std::sync::Arc;

use tessera_cluster::transport::{Topic, Transport, TransportError};
use tracing::{debug, warn};

use super::stats::{add, Counters};
use crate::register::{Message, NodeId};

/// A batch is sent once it reaches this size, even mid-turn, so one frame
/// never holds up the peer's reader for long.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Messages to peers, gathered per peer until [`Outbound::flush`].
pub(super) struct Outbound {
    transport: Transport,
    /// One buffer per peer written to; the group is small, so a list.
    batches: Vec<(NodeId, Vec<u8>)>,
    counters: Arc<Counters>,
}

impl Outbound {
    pub(super) fn new(transport: Transport, counters: Arc<Counters>) -> Self {
        Self {
            transport,
            batches: Vec::new(),
            counters,
        }
    }

    pub(super) fn push(&mut self, to: NodeId, msg: &Message) {
        let index = match self.batches.iter().position(|(peer, _)| *peer == to) {
            Some(index) => index,
            None => {
                self.batches.push((to, Vec::new()));
                self.batches.len() - 1
            }
        };
        let batch = &mut self.batches[index].1;
        let start = batch.len();
        if let Err(error) = postcard::to_io(msg, &mut *batch) {
            // Register messages are plain data; this would be a bug, and
            // dropping the message leaves it to retransmission.
            warn!(%to, %error, "cannot encode a register message");
            batch.truncate(start);
            return;
        }
        if batch.len() >= MAX_BATCH_BYTES {
            let body = std::mem::take(batch);
            self.send(to, body);
        }
    }

    /// Sends every batch gathered since the last flush.
    pub(super) fn flush(&mut self) {
        for index in 0..self.batches.len() {
            let (to, batch) = &mut self.batches[index];
            if batch.is_empty() {
                continue;
            }
            let (to, body) = (*to, std::mem::take(batch));
            self.send(to, body);
        }
    }

    fn send(&self, to: NodeId, body: Vec<u8>) {
        let error = match self.transport.send(to, Topic::Register, body) {
            Ok(()) => return,
            Err(error) => error,
        };
        add(&self.counters.sends_dropped, 1);
        match error {
            // The peer is slow, unreachable or not configured yet: the
            // coordinators' retransmissions make up for the loss.
            TransportError::Backpressure(_) | TransportError::UnknownPeer(_) => {
                debug!(%to, %error, "register batch dropped")
            }
            TransportError::Shutdown => {}
            error => warn!(%to, %error, "register batch dropped"),
        }
    }
}

/// The messages of one frame; decoding stops at the first bad one.
pub(super) fn decode(body: &[u8]) -> Batch<'_> {
    Batch { rest: body }
}

pub(super) struct Batch<'a> {
    rest: &'a [u8],
}

impl Iterator for Batch<'_> {
    type Item = Result<Message, postcard::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match postcard::take_from_bytes(self.rest) {
            Ok((msg, rest)) => {
                self.rest = rest;
                Some(Ok(msg))
            }
            Err(error) => {
                // Without a length prefix per message the rest cannot be
                // resynchronised.
                self.rest = &[];
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{Incarnation, OpId, ToCoordinator, ToReplica, WriterId};

    fn op(seq: u64) -> OpId {
        OpId {
            coordinator: WriterId {
                node: NodeId(1),
                incarnation: Incarnation(9),
            },
            seq,
        }
    }

    #[test]
    fn a_batch_decodes_to_its_messages_and_stops_at_garbage() {
        let messages: Vec<Message> = vec![
            ToReplica::ReadQuery {
                op: op(1),
                key: "user:alex".into(),
            }
            .into(),
            ToCoordinator::UpdateAck { op: op(2) }.into(),
        ];
        let mut body = Vec::new();
        for msg in &messages {
            postcard::to_io(msg, &mut body).unwrap();
        }
        let decoded: Vec<Message> = decode(&body).map(Result::unwrap).collect();
        assert_eq!(decoded, messages);

        body.extend_from_slice(&[0xff, 0xff, 0xff]);
        let results: Vec<_> = decode(&body).collect();
        assert_eq!(results.len(), 3);
        assert!(results[2].is_err());
    }
}
