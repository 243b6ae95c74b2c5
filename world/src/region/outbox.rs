//! What a region has to say this tick, gathered per chunk and per session
//! and sent as one batch per session at the end of the tick.

use std::collections::HashMap;
use std::sync::Arc;

use valence_protocol::ChunkPos;

use crate::messages::{ChunkFeed, Delivery, FeedEvent, SessionHandle, SessionId, ToSession};

#[derive(Default)]
pub struct Outbox {
    feeds: HashMap<ChunkPos, Vec<FeedEvent>>,
    unicast: Vec<(SessionHandle, FeedEvent)>,
}

/// A session whose mailbox could not take its batch.
pub struct Overflowed(pub SessionHandle);

impl Outbox {
    pub fn feed(&mut self, chunk: ChunkPos, event: FeedEvent) {
        self.feeds.entry(chunk).or_default().push(event);
    }

    pub fn unicast(&mut self, session: &SessionHandle, event: FeedEvent) {
        self.unicast.push((session.clone(), event));
    }

    /// Sends everything gathered: each chunk's events to its viewers (encoded
    /// once, shared), then each session's own items, as one message per session.
    pub fn flush<'a>(
        &mut self,
        viewers_of: impl Fn(ChunkPos) -> Option<&'a HashMap<SessionId, SessionHandle>>,
    ) -> Vec<Overflowed> {
        let mut batches: HashMap<SessionId, (SessionHandle, Vec<Delivery>)> = HashMap::new();
        for (chunk, events) in self.feeds.drain() {
            let Some(viewers) = viewers_of(chunk) else {
                continue;
            };
            if viewers.is_empty() {
                continue;
            }
            let feed = Arc::new(ChunkFeed { chunk, events });
            for (id, handle) in viewers {
                batches
                    .entry(*id)
                    .or_insert_with(|| (handle.clone(), Vec::new()))
                    .1
                    .push(Delivery::Chunk(feed.clone()));
            }
        }
        for (handle, event) in self.unicast.drain(..) {
            batches
                .entry(handle.id)
                .or_insert_with(|| (handle.clone(), Vec::new()))
                .1
                .push(Delivery::Unicast(event));
        }
        let mut overflowed = Vec::new();
        for (_, (handle, deliveries)) in batches {
            if handle
                .actor
                .try_send(ToSession::Deliver(deliveries))
                .is_err()
            {
                overflowed.push(Overflowed(handle));
            }
        }
        overflowed
    }
}
