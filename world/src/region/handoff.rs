//! Drives this region's handoff core (`crate::handoff`): feeds it joins,
//! adoptions, acknowledgements, leaves and the clock, and carries out what it
//! says — messages to regions and sessions, players in and out.

use std::collections::HashSet;
use std::time::Instant;

use tracing::{debug, warn};

use super::Region;
use crate::coords::RegionPos;
use crate::handoff::Output;
use crate::messages::{EntityId, FeedEvent, RegionMsg, SessionAddr, ToSession};
use crate::player::PlayerState;
use crate::routing::Undelivered;

impl Region {
    /// Sends a message for a player that already left to the region it went to.
    pub(super) fn forward(&mut self, entity: EntityId, msg: RegionMsg) {
        if let Some(to) = self.handoffs.forward_to(Instant::now(), entity) {
            if let Err(e) = self.host.to_region(to, msg) {
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
            .ctx
            .grid
            .region_of_point(player.state.position.x, player.state.position.z);
        let handoff = self.host.next_handoff_id();
        debug!(region = %self.pos(), to = %target, player = %player.state.name, handoff, "handing off");
        // Viewers must see the player leave this region's chunk before the
        // adopter shows it in the next one.
        self.flush();
        let epoch = self.host.owner_of(target).map(|o| o.epoch);
        let adopt = self.handoffs.depart(
            Instant::now(),
            handoff,
            target,
            epoch,
            player.state,
            player.session,
        );
        self.carry_out(vec![adopt]);
    }

    pub(super) fn join(&mut self, state: PlayerState, session: SessionAddr) {
        debug!(region = %self.pos(), player = %state.name, hop = state.hop, "player joins");
        let out = self.handoffs.join(state, session);
        self.carry_out(out);
    }

    pub(super) fn adopt(
        &mut self,
        handoff: u64,
        epoch: Option<u64>,
        from: RegionPos,
        state: PlayerState,
        session: SessionAddr,
    ) {
        debug!(region = %self.pos(), player = %state.name, handoff, hop = state.hop, "adoption offered");
        let mine = self.host.epoch_of(self.pos());
        let out = self
            .handoffs
            .adopt(handoff, (epoch, mine), from, state, session);
        self.carry_out(out);
    }

    pub(super) fn release(&mut self, entity: EntityId, hop: u64) {
        if let Some(remove) = self.handoffs.release(Instant::now(), entity, hop) {
            debug!(region = %self.pos(), entity, hop, "stale copy released");
            self.carry_out(vec![remove]);
        }
    }

    /// Retries, give-ups, and departures whose target changed owner.
    pub(super) fn handoff_tick(&mut self) {
        let now = Instant::now();
        let mut out = Vec::new();
        for target in self.handoffs.targets() {
            let epoch = self.host.owner_of(target).map(|o| o.epoch);
            out.extend(self.handoffs.target_owner(now, target, epoch));
        }
        out.extend(self.handoffs.tick(now));
        self.carry_out(out);
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        let mut sessions_gone = HashSet::new();
        for output in outputs {
            match output {
                Output::ToRegion(to, msg) => {
                    // An adopt is sent again until acknowledged, and each
                    // retry is acknowledged again.
                    if let Err(e) = self.host.to_region(to, msg) {
                        warn!(region = %self.pos(), %to, "handoff message not sent: {e}");
                    }
                }
                Output::ToSession(session, msg) => {
                    if let ToSession::HandoffAbandoned(state) = &msg {
                        warn!(region = %self.pos(), player = %state.name, "handoff abandoned; the session decides");
                    }
                    if let Err(e) = self.host.to_session(session, msg) {
                        debug!(region = %self.pos(), ?session, "session not told: {e}");
                        if e == Undelivered::Gone {
                            sessions_gone.insert(session);
                        }
                    }
                }
                Output::Insert { state, session } => self.insert_player(state, session),
                Output::Remove(entity) => {
                    if let Some(player) = self.players.remove(&entity) {
                        let chunk = player.state.chunk();
                        self.outbox
                            .feed(chunk, FeedEvent::EntityLeft { entity, to: None });
                    }
                }
            }
        }
        // A player adopted for a session that closed meanwhile has nobody
        // to play it: it leaves as the session would have made it.
        let orphans: Vec<EntityId> = self
            .players
            .iter()
            .filter(|(_, p)| sessions_gone.contains(&p.session))
            .map(|(&e, _)| e)
            .collect();
        for entity in orphans {
            self.leave(entity);
        }
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
