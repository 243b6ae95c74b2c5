//! Handing a player to the neighbouring region it walked into: the adopter
//! acknowledges each handoff id once, the sender retries until it does, and
//! input that still arrives here for the player is forwarded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::Region;
use crate::coords::RegionPos;
use crate::messages::{EntityId, FeedEvent, RegionMsg, SessionAddr, ToSession};
use crate::player::PlayerState;

const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long input for a departed player is still forwarded to its new region;
/// far longer than a session takes to learn of its new owner.
const FORWARD_FOR: Duration = Duration::from_secs(60);

struct Pending {
    to: RegionPos,
    player: Box<PlayerState>,
    session: SessionAddr,
    sent: Instant,
}

#[derive(Default)]
pub(super) struct Handoffs {
    pending: HashMap<u64, Pending>,
    forwards: HashMap<EntityId, (RegionPos, Instant)>,
    /// Handoffs this region has adopted, so a retried Adopt is only re-acknowledged.
    adopted: HashMap<u64, Instant>,
}

impl Handoffs {
    pub fn acknowledged(&mut self, handoff: u64) {
        self.pending.remove(&handoff);
    }

    /// Where input for a player that left this region goes now, if it left recently.
    pub fn forward_to(&mut self, entity: EntityId) -> Option<RegionPos> {
        self.forwards
            .retain(|_, (_, since)| since.elapsed() < FORWARD_FOR);
        self.forwards.get(&entity).map(|(to, _)| *to)
    }

    /// Adopt messages to send again, to regions that did not acknowledge them.
    pub fn due_for_retry(&mut self, from: RegionPos) -> Vec<(u64, RegionPos, RegionMsg)> {
        let now = Instant::now();
        self.adopted
            .retain(|_, at| now.duration_since(*at) < FORWARD_FOR);
        self.pending
            .iter_mut()
            .filter(|(_, p)| now.duration_since(p.sent) >= RETRY_AFTER)
            .map(|(&handoff, p)| {
                p.sent = now;
                let msg = RegionMsg::Adopt {
                    handoff,
                    from,
                    player: p.player.clone(),
                    session: p.session,
                };
                (handoff, p.to, msg)
            })
            .collect()
    }
}

impl Region {
    /// Sends a message for a player that already left to the region it went to.
    pub(super) fn forward(&mut self, entity: EntityId, msg: RegionMsg) {
        if let Some(to) = self.handoffs.forward_to(entity) {
            if let Err(e) = self.world.to_region(to, msg) {
                debug!(region = %self.pos(), %to, "forward failed: {e}");
            }
        }
    }

    /// Gives a player whose entity left this region to the region it is in now.
    pub(super) fn hand_off(&mut self, entity: EntityId) {
        let Some(player) = self.players.remove(&entity) else {
            return;
        };
        let target = self
            .world
            .region_of_point(player.state.position.x, player.state.position.z);
        let handoff = self.world.next_handoff_id();
        debug!(region = %self.pos(), to = %target, player = %player.state.name, handoff, "handing off");
        // Viewers must see the player leave this region's chunk before the
        // adopter shows it in the next one.
        self.flush();
        let state = Box::new(player.state);
        let msg = RegionMsg::Adopt {
            handoff,
            from: self.pos(),
            player: state.clone(),
            session: player.session,
        };
        if let Err(e) = self.world.to_region(target, msg) {
            warn!(region = %self.pos(), to = %target, "handoff not sent, will retry: {e}");
        }
        self.handoffs
            .forwards
            .insert(entity, (target, Instant::now()));
        let pending = Pending {
            to: target,
            player: state,
            session: player.session,
            sent: Instant::now(),
        };
        self.handoffs.pending.insert(handoff, pending);
    }

    pub(super) fn adopt(
        &mut self,
        handoff: u64,
        from: RegionPos,
        state: PlayerState,
        session: SessionAddr,
    ) {
        if let Err(e) = self.world.to_region(from, RegionMsg::AdoptAck { handoff }) {
            debug!(region = %self.pos(), %from, "ack not sent; the sender will retry: {e}");
        }
        if self.handoffs.adopted.contains_key(&handoff) {
            return;
        }
        self.handoffs.adopted.insert(handoff, Instant::now());
        self.handoffs.forwards.remove(&state.entity);
        debug!(region = %self.pos(), player = %state.name, handoff, "adopted");
        self.tell(session, ToSession::OwnerChanged(self.pos()));
        self.insert_player(state, session);
    }

    /// Shows a player leaving `from` for `to` to the viewers of `from`.
    pub(super) fn left_chunk(
        &mut self,
        entity: EntityId,
        from: valence_protocol::ChunkPos,
        to: valence_protocol::ChunkPos,
    ) {
        self.outbox.feed(
            from,
            FeedEvent::EntityLeft {
                entity,
                to: Some(to),
            },
        );
    }
}
