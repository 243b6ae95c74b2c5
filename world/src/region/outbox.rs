//! What a region has to say this tick, gathered per chunk and per session
//! and sent at the end of the tick: one message per local session, one batch
//! per other node.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use valence_protocol::ChunkPos;

use crate::messages::{
    BatchItem, ChunkFeed, Delivery, FeedEvent, NodeBatch, NodeId, SessionAddr, SessionId,
};

#[derive(Default)]
pub struct Outbox {
    feeds: HashMap<ChunkPos, Vec<FeedEvent>>,
    unicast: Vec<(SessionAddr, FeedEvent)>,
}

/// A tick's output, addressed.
#[derive(Default)]
pub struct Sorted {
    pub local: HashMap<SessionId, Vec<Delivery>>,
    pub remote: HashMap<NodeId, NodeBatch>,
}

impl Outbox {
    pub fn feed(&mut self, chunk: ChunkPos, event: FeedEvent) {
        self.feeds.entry(chunk).or_default().push(event);
    }

    pub fn unicast(&mut self, session: SessionAddr, event: FeedEvent) {
        self.unicast.push((session, event));
    }

    /// Takes everything gathered: each chunk's events go to its viewers
    /// (encoded once, shared), then each session's own items.
    pub fn sort<'a>(
        &mut self,
        local_node: NodeId,
        viewers_of: impl Fn(ChunkPos) -> Option<&'a HashSet<SessionAddr>>,
    ) -> Sorted {
        let mut sorted = Sorted::default();
        let mut remote_feed_index: HashMap<(NodeId, ChunkPos), u32> = HashMap::new();
        let mut remote_sessions: HashMap<NodeId, HashMap<SessionId, Vec<BatchItem>>> =
            HashMap::new();
        for (chunk, events) in self.feeds.drain() {
            let Some(viewers) = viewers_of(chunk).filter(|v| !v.is_empty()) else {
                continue;
            };
            let feed = Arc::new(ChunkFeed::sealed(chunk, events));
            for addr in viewers {
                if addr.node == local_node {
                    sorted
                        .local
                        .entry(addr.id)
                        .or_default()
                        .push(Delivery::Chunk(feed.clone()));
                    continue;
                }
                let batch = sorted.remote.entry(addr.node).or_default();
                let index = *remote_feed_index
                    .entry((addr.node, chunk))
                    .or_insert_with(|| {
                        batch.feeds.push(feed.clone());
                        (batch.feeds.len() - 1) as u32
                    });
                remote_sessions
                    .entry(addr.node)
                    .or_default()
                    .entry(addr.id)
                    .or_default()
                    .push(BatchItem::Feed(index));
            }
        }
        for (addr, event) in self.unicast.drain(..) {
            if addr.node == local_node {
                sorted
                    .local
                    .entry(addr.id)
                    .or_default()
                    .push(Delivery::Unicast(event));
            } else {
                sorted.remote.entry(addr.node).or_default();
                remote_sessions
                    .entry(addr.node)
                    .or_default()
                    .entry(addr.id)
                    .or_default()
                    .push(BatchItem::Unicast(event));
            }
        }
        for (node, sessions) in remote_sessions {
            if let Some(batch) = sorted.remote.get_mut(&node) {
                batch.sessions = sessions.into_iter().collect();
            }
        }
        sorted
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn a_feed_travels_once_per_node_and_is_shared_by_its_sessions() {
        let chunk = ChunkPos::new(0, 0);
        let viewers: HashSet<SessionAddr> = [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3)]
            .into_iter()
            .map(|(node, id)| SessionAddr {
                node: NodeId(node),
                id,
            })
            .collect();
        let mut outbox = Outbox::default();
        outbox.feed(chunk, FeedEvent::Packets(Bytes::from_static(b"move")));
        outbox.unicast(
            SessionAddr {
                node: NodeId(2),
                id: 3,
            },
            FeedEvent::Packets(Bytes::from_static(b"ack")),
        );
        let sorted = outbox.sort(NodeId(1), |c| (c == chunk).then_some(&viewers));
        assert_eq!(sorted.local.len(), 2);
        let batch = &sorted.remote[&NodeId(2)];
        assert_eq!(batch.feeds.len(), 1);
        assert_eq!(batch.sessions.len(), 3);
        let batch = sorted.remote.into_values().next().unwrap();
        let deliveries: HashMap<_, _> = batch.into_deliveries().collect();
        assert_eq!(deliveries[&3].len(), 2);
        assert_eq!(deliveries[&1].len(), 1);
    }
}
