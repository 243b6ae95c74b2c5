//! Handing a player to the neighbouring region it walked into: the adopter
//! acknowledges each handoff id once, the sender retries until it does, and
//! input that still arrives here for the player is forwarded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tracing::debug;

use super::Region;
use crate::messages::{EntityId, FeedEvent, RegionMsg, RegionRef, SessionHandle, ToSession};
use crate::player::PlayerState;

const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long input for a departed player is still forwarded to its new region;
/// far longer than a session takes to learn of its new owner.
const FORWARD_FOR: Duration = Duration::from_secs(60);

struct Pending {
    to: RegionRef,
    adopt: (RegionRef, Box<PlayerState>, SessionHandle),
    sent: Instant,
}

#[derive(Default)]
pub(super) struct Handoffs {
    pending: HashMap<u64, Pending>,
    forwards: HashMap<EntityId, (RegionRef, Instant)>,
    /// Handoffs this region has adopted, so a retried Adopt is only re-acknowledged.
    adopted: HashMap<u64, Instant>,
}

impl Handoffs {
    pub fn acknowledged(&mut self, handoff: u64) {
        self.pending.remove(&handoff);
    }

    pub fn forward(&mut self, entity: EntityId, msg: RegionMsg) {
        self.forwards
            .retain(|_, (_, since)| since.elapsed() < FORWARD_FOR);
        if let Some((to, _)) = self.forwards.get(&entity) {
            let _ = to.actor.try_send(msg);
        }
    }

    pub fn due_for_retry(&mut self) -> Vec<(u64, RegionRef, RegionMsg)> {
        let now = Instant::now();
        self.adopted
            .retain(|_, at| now.duration_since(*at) < FORWARD_FOR);
        self.pending
            .iter_mut()
            .filter(|(_, p)| now.duration_since(p.sent) >= RETRY_AFTER)
            .map(|(&handoff, p)| {
                p.sent = now;
                let (from, player, session) = p.adopt.clone();
                (
                    handoff,
                    p.to.clone(),
                    RegionMsg::Adopt {
                        handoff,
                        from,
                        player,
                        session,
                    },
                )
            })
            .collect()
    }
}

impl Region {
    /// Gives a player whose entity left this region to the region it is in now.
    pub(super) fn hand_off(&mut self, entity: EntityId) {
        let Some(player) = self.players.remove(&entity) else {
            return;
        };
        let target = self
            .world
            .region_at(player.state.position.x, player.state.position.z);
        let handoff = self.world.next_handoff_id();
        debug!(region = %self.pos(), to = %target.pos, player = %player.state.name, handoff, "handing off");
        // Viewers must see the player leave this region's chunk before the
        // adopter shows it in the next one.
        self.flush();
        let state = Box::new(player.state);
        let adopt = (self.me.clone(), state.clone(), player.session.clone());
        let _ = target.actor.try_send(RegionMsg::Adopt {
            handoff,
            from: self.me.clone(),
            player: state,
            session: player.session,
        });
        self.handoffs
            .forwards
            .insert(entity, (target.clone(), Instant::now()));
        self.handoffs.pending.insert(
            handoff,
            Pending {
                to: target,
                adopt,
                sent: Instant::now(),
            },
        );
    }

    pub(super) fn adopt(
        &mut self,
        handoff: u64,
        from: RegionRef,
        state: PlayerState,
        session: SessionHandle,
    ) {
        let _ = from.actor.try_send(RegionMsg::AdoptAck { handoff });
        if self.handoffs.adopted.contains_key(&handoff) {
            return;
        }
        self.handoffs.adopted.insert(handoff, Instant::now());
        self.handoffs.forwards.remove(&state.entity);
        debug!(region = %self.pos(), player = %state.name, handoff, "adopted");
        let _ = session
            .actor
            .try_send(ToSession::OwnerChanged(self.me.clone()));
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
