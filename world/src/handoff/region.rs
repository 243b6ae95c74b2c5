//! One region's side of handoffs: players it sends away and players it adopts.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::{HandoffId, FORWARD_FOR, GIVE_UP_AFTER, REMEMBER_FOR, RETRY_AFTER};
use crate::coords::RegionPos;
use crate::messages::{EntityId, RegionMsg, SessionAddr, ToSession};
use crate::player::PlayerState;

/// What the region must do after an input.
#[derive(Debug)]
pub enum Output {
    ToRegion(RegionPos, RegionMsg),
    ToSession(SessionAddr, ToSession),
    /// Put this player into the region, replacing any copy it holds.
    Insert {
        state: PlayerState,
        session: SessionAddr,
    },
    /// Take this player out of the region: its copy is stale.
    Remove(EntityId),
}

/// What a `Leave` for a player means here.
#[derive(Debug, PartialEq, Eq)]
pub enum LeaveOutcome {
    /// The player is here: remove it.
    Here,
    /// It left for this region recently: forward the `Leave` there.
    Forward(RegionPos),
    /// Not here and not recently: nothing to do.
    Unknown,
}

/// A player that left this region recently.
#[derive(Debug)]
struct Departure {
    handoff: HandoffId,
    to: RegionPos,
    state: PlayerState,
    session: SessionAddr,
    /// The placement epoch of `to` when the player was sent, once known.
    epoch: Option<u64>,
    first_sent: Instant,
    /// When the `Adopt`, or once abandoned the copy to the session, last went.
    last_sent: Instant,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Sent, not acknowledged yet: sent again every [`RETRY_AFTER`].
    Sent,
    Acknowledged,
    /// Given to the session, again every [`RETRY_AFTER`] until
    /// [`FORWARD_FOR`] ends, since that message may be lost too.
    Abandoned,
}

/// The hop a player had when it was last here, or that it left the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    At(u64),
    LeftWorld,
}

#[derive(Debug)]
pub struct RegionHandoffs {
    region: RegionPos,
    /// The players this region holds, with their hop.
    held: HashMap<EntityId, u64>,
    /// Ordered, so the outputs of a tick come in the same order every run.
    departures: BTreeMap<EntityId, Departure>,
    gone: HashMap<EntityId, (Gone, Instant)>,
}

impl RegionHandoffs {
    pub fn new(region: RegionPos) -> Self {
        Self {
            region,
            held: HashMap::new(),
            departures: BTreeMap::new(),
            gone: HashMap::new(),
        }
    }

    /// Whether no player is here or on its way out.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.departures.is_empty()
    }

    pub fn holds(&self, entity: EntityId) -> bool {
        self.held.contains_key(&entity)
    }

    /// A session brings its player in: a first join or a re-join.
    pub fn join(&mut self, mut state: PlayerState, session: SessionAddr) -> Vec<Output> {
        let entity = state.entity;
        if let Some(&hop) = self.held.get(&entity).filter(|&&held| held >= state.hop) {
            let owner = ToSession::OwnerChanged {
                region: self.region,
                hop,
            };
            return vec![Output::ToSession(session, owner)];
        }
        match self.gone.get(&entity) {
            Some((Gone::LeftWorld, _)) => return Vec::new(),
            Some(&(Gone::At(hop), _)) if state.hop <= hop => {
                // The player left here after what the session knew: a late
                // or crossing re-join follows it instead of reviving it. A
                // newer copy exists (or its loss reaches the session, which
                // joins again with a newer hop). It takes the hop of the
                // handoff it follows, so each step raises it and a trail
                // that loops back (adoptions lost or refused) ends.
                return match self.departures.get(&entity) {
                    Some(d) if d.stage != Stage::Abandoned && d.state.hop > state.hop => {
                        state.hop = d.state.hop;
                        let join = RegionMsg::Join {
                            player: Box::new(state),
                            session,
                        };
                        vec![Output::ToRegion(d.to, join)]
                    }
                    _ => Vec::new(),
                };
            }
            _ => {}
        }
        self.arrive(&state);
        let joined = ToSession::Joined(Box::new(state.clone()));
        // A re-join can race a newer copy elsewhere: the hop lets the
        // session tell (invariant 6).
        let owner = ToSession::OwnerChanged {
            region: self.region,
            hop: state.hop,
        };
        vec![
            Output::ToSession(session, joined),
            Output::ToSession(session, owner),
            Output::Insert { state, session },
        ]
    }

    /// Another region hands a player over. Always acknowledged (the copy is
    /// held, or a newer one was), adopted only if newer than any seen here.
    /// `epochs` are the placement epoch the sender addressed and this
    /// region's own: an `Adopt` meant for another owner of this region is
    /// ignored, unacknowledged (invariant 4; the sender hands its copy to
    /// the session when it sees the owner change).
    pub fn adopt(
        &mut self,
        handoff: HandoffId,
        epochs: (Option<u64>, Option<u64>),
        from: RegionPos,
        state: PlayerState,
        session: SessionAddr,
    ) -> Vec<Output> {
        if let (Some(addressed), Some(mine)) = epochs {
            if addressed != mine {
                return Vec::new();
            }
        }
        let mut out = vec![Output::ToRegion(from, RegionMsg::AdoptAck { handoff })];
        let entity = state.entity;
        let known = match self.gone.get(&entity) {
            Some((Gone::LeftWorld, _)) => return out,
            Some(&(Gone::At(hop), _)) => Some(hop),
            None => None,
        };
        let known = known.max(self.held.get(&entity).copied());
        if known.is_some_and(|hop| hop >= state.hop) {
            return out;
        }
        self.arrive(&state);
        let owner = ToSession::OwnerChanged {
            region: self.region,
            hop: state.hop,
        };
        out.push(Output::ToSession(session, owner));
        out.push(Output::Insert { state, session });
        out
    }

    fn arrive(&mut self, state: &PlayerState) {
        self.held.insert(state.entity, state.hop);
        self.gone.remove(&state.entity);
        self.departures.remove(&state.entity);
    }

    /// A player this region held walked into `to`: the region already took
    /// it out and sends the returned `Adopt`. `epoch` is the placement epoch
    /// of `to` now, if it has an owner.
    pub fn depart(
        &mut self,
        now: Instant,
        handoff: HandoffId,
        to: RegionPos,
        epoch: Option<u64>,
        mut state: PlayerState,
        session: SessionAddr,
    ) -> Output {
        let entity = state.entity;
        state.hop = self
            .held
            .remove(&entity)
            .unwrap_or(state.hop)
            .max(state.hop)
            + 1;
        self.gone.insert(entity, (Gone::At(state.hop), now));
        let msg = adopt_msg(self.region, handoff, epoch, &state, session);
        self.departures.insert(
            entity,
            Departure {
                handoff,
                to,
                state,
                session,
                epoch,
                first_sent: now,
                last_sent: now,
                stage: Stage::Sent,
            },
        );
        Output::ToRegion(to, msg)
    }

    pub fn acknowledged(&mut self, handoff: HandoffId) {
        if let Some(departure) = self
            .departures
            .values_mut()
            .find(|d| d.handoff == handoff && d.stage == Stage::Sent)
        {
            departure.stage = Stage::Acknowledged;
        }
    }

    /// Where input for a player that is not here goes, if it left recently.
    pub fn forward_to(&self, now: Instant, entity: EntityId) -> Option<RegionPos> {
        self.departures
            .get(&entity)
            .filter(|d| now.duration_since(d.first_sent) < FORWARD_FOR)
            .map(|d| d.to)
    }

    /// The player's session left. A pending handoff of it is cancelled; it is
    /// never adopted or joined here again.
    pub fn leave(&mut self, now: Instant, entity: EntityId) -> LeaveOutcome {
        let outcome = if self.held.remove(&entity).is_some() {
            LeaveOutcome::Here
        } else {
            match self.departures.get(&entity) {
                Some(d) if now.duration_since(d.first_sent) < FORWARD_FOR => {
                    LeaveOutcome::Forward(d.to)
                }
                _ => LeaveOutcome::Unknown,
            }
        };
        self.departures.remove(&entity);
        self.gone.insert(entity, (Gone::LeftWorld, now));
        outcome
    }

    /// A session says this region's copy at `hop` or older is stale.
    pub fn release(&mut self, now: Instant, entity: EntityId, hop: u64) -> Option<Output> {
        let held = *self.held.get(&entity)?;
        if held > hop {
            return None;
        }
        self.held.remove(&entity);
        self.gone.insert(entity, (Gone::At(held), now));
        Some(Output::Remove(entity))
    }

    /// Regions that players were sent to recently, whose owner the driver
    /// reports back through [`RegionHandoffs::target_owner`].
    pub fn targets(&self) -> Vec<RegionPos> {
        let mut targets: Vec<RegionPos> = self
            .departures
            .values()
            .filter(|d| d.stage != Stage::Abandoned)
            .map(|d| d.to)
            .collect();
        targets.sort_by_key(|r| (r.x, r.z));
        targets.dedup();
        targets
    }

    /// The placement epoch of `region` now (`None`: no owner). A recent
    /// departure to it sent under another epoch may be lost with the old
    /// owner, and a resend to the new one could duplicate the player, so
    /// the copy goes to the session, which decides (invariant 4).
    pub fn target_owner(
        &mut self,
        now: Instant,
        region: RegionPos,
        epoch: Option<u64>,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        let live = self
            .departures
            .values_mut()
            .filter(|d| d.to == region && d.stage != Stage::Abandoned);
        for d in live {
            match (d.epoch, epoch) {
                (None, current) => d.epoch = current,
                (Some(sent), Some(current)) if sent == current => {}
                _ => out.push(abandon(now, d)),
            }
        }
        out
    }

    /// Time passes: unacknowledged handoffs are sent again, or given to the
    /// session after [`GIVE_UP_AFTER`]; old records are forgotten.
    pub fn tick(&mut self, now: Instant) -> Vec<Output> {
        self.gone
            .retain(|_, (_, since)| now.duration_since(*since) < REMEMBER_FOR);
        let mut out = Vec::new();
        let mut expired = Vec::new();
        for (&entity, d) in &mut self.departures {
            let age = now.duration_since(d.first_sent);
            let due = now.duration_since(d.last_sent) >= RETRY_AFTER;
            match d.stage {
                _ if age >= FORWARD_FOR => expired.push(entity),
                Stage::Acknowledged => {}
                Stage::Sent if age >= GIVE_UP_AFTER => out.push(abandon(now, d)),
                Stage::Sent if due => {
                    d.last_sent = now;
                    let msg = adopt_msg(self.region, d.handoff, d.epoch, &d.state, d.session);
                    out.push(Output::ToRegion(d.to, msg));
                }
                Stage::Abandoned if due => {
                    d.last_sent = now;
                    out.push(abandoned_msg(d));
                }
                Stage::Sent | Stage::Abandoned => {}
            }
        }
        for entity in expired {
            self.departures.remove(&entity);
        }
        out
    }
}

fn abandon(now: Instant, d: &mut Departure) -> Output {
    d.stage = Stage::Abandoned;
    d.last_sent = now;
    abandoned_msg(d)
}

fn abandoned_msg(d: &Departure) -> Output {
    let msg = ToSession::HandoffAbandoned(Box::new(d.state.clone()));
    Output::ToSession(d.session, msg)
}

fn adopt_msg(
    from: RegionPos,
    handoff: HandoffId,
    epoch: Option<u64>,
    state: &PlayerState,
    session: SessionAddr,
) -> RegionMsg {
    RegionMsg::Adopt {
        handoff,
        epoch,
        from,
        player: Box::new(state.clone()),
        session,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use valence_protocol::math::DVec3;

    use super::*;
    use crate::messages::NodeId;

    const A: RegionPos = RegionPos { x: 0, z: 0 };
    const B: RegionPos = RegionPos { x: 1, z: 0 };
    const C: RegionPos = RegionPos { x: 2, z: 0 };
    const SESSION: SessionAddr = SessionAddr {
        node: NodeId(1),
        id: 1,
    };
    const NO_EPOCH: (Option<u64>, Option<u64>) = (None, None);

    fn player() -> PlayerState {
        PlayerState::new(uuid::Uuid::nil(), "Alex".into(), 7, DVec3::ZERO)
    }

    fn joined(region: RegionPos) -> RegionHandoffs {
        let mut handoffs = RegionHandoffs::new(region);
        handoffs.join(player(), SESSION);
        handoffs
    }

    /// The `Adopt` of an output, as the adopter's inputs.
    fn adopt_of(out: &Output) -> (HandoffId, RegionPos, PlayerState) {
        match out {
            Output::ToRegion(
                _,
                RegionMsg::Adopt {
                    handoff,
                    from,
                    player,
                    ..
                },
            ) => (*handoff, *from, (**player).clone()),
            other => panic!("not an adopt: {other:?}"),
        }
    }

    fn inserted(out: &[Output]) -> Option<u64> {
        out.iter().find_map(|o| match o {
            Output::Insert { state, .. } => Some(state.hop),
            _ => None,
        })
    }

    fn abandoned(out: &[Output]) -> bool {
        out.iter()
            .any(|o| matches!(o, Output::ToSession(_, ToSession::HandoffAbandoned(_))))
    }

    #[test]
    fn a_handoff_is_adopted_once_and_retried_until_acknowledged() {
        let t0 = Instant::now();
        let mut a = joined(A);
        let mut b = RegionHandoffs::new(B);
        let sent = a.depart(t0, 1, B, Some(5), player(), SESSION);
        let (handoff, from, state) = adopt_of(&sent);
        assert_eq!(state.hop, 1);
        assert!(!a.holds(7));

        let out = b.adopt(handoff, NO_EPOCH, from, state.clone(), SESSION);
        assert!(matches!(
            out[0],
            Output::ToRegion(A, RegionMsg::AdoptAck { handoff: 1 })
        ));
        assert_eq!(inserted(&out), Some(1));
        let again = b.adopt(handoff, NO_EPOCH, from, state, SESSION);
        assert_eq!(
            again.len(),
            1,
            "a duplicate is only acknowledged: {again:?}"
        );

        let retry = a.tick(t0 + RETRY_AFTER);
        assert_eq!(adopt_of(&retry[0]).0, 1, "no ack yet: sent again");
        a.acknowledged(1);
        assert!(a.tick(t0 + RETRY_AFTER * 3).is_empty());
        assert_eq!(a.forward_to(t0 + RETRY_AFTER * 3, 7), Some(B));
        assert_eq!(a.forward_to(t0 + FORWARD_FOR, 7), None);
    }

    #[test]
    fn a_late_retry_is_not_adopted_after_the_player_moved_on() {
        let t0 = Instant::now();
        let mut a = joined(A);
        let mut b = RegionHandoffs::new(B);
        let mut c = RegionHandoffs::new(C);
        let (handoff, from, state) = adopt_of(&a.depart(t0, 1, B, Some(5), player(), SESSION));
        b.adopt(handoff, NO_EPOCH, from, state.clone(), SESSION);
        let onward = b.depart(t0, 2, C, Some(6), state.clone(), SESSION);
        let (h2, from2, state2) = adopt_of(&onward);
        assert_eq!(state2.hop, 2);
        assert_eq!(
            inserted(&c.adopt(h2, NO_EPOCH, from2, state2, SESSION)),
            Some(2)
        );
        // The ack to A was lost; its retry reaches B long after.
        let late = b.adopt(handoff, NO_EPOCH, from, state, SESSION);
        assert_eq!(inserted(&late), None, "{late:?}");
        assert!(!b.holds(7));
    }

    #[test]
    fn a_player_that_left_is_never_adopted_again() {
        let t0 = Instant::now();
        let mut a = joined(A);
        let mut b = RegionHandoffs::new(B);
        let (handoff, from, state) = adopt_of(&a.depart(t0, 1, B, Some(5), player(), SESSION));
        assert_eq!(a.leave(t0, 7), LeaveOutcome::Forward(B));
        assert!(
            a.tick(t0 + RETRY_AFTER).is_empty(),
            "the handoff is cancelled"
        );
        assert_eq!(b.leave(t0, 7), LeaveOutcome::Unknown);
        assert_eq!(
            inserted(&b.adopt(handoff, NO_EPOCH, from, state.clone(), SESSION)),
            None
        );
        assert!(b.join(state, SESSION).is_empty());
    }

    #[test]
    fn a_target_that_changed_owner_gets_no_retry_and_the_session_gets_the_copy() {
        let t0 = Instant::now();
        let mut a = joined(A);
        a.depart(t0, 1, B, None, player(), SESSION);
        assert!(
            a.target_owner(t0, B, Some(5)).is_empty(),
            "first owner: kept"
        );
        assert!(a.target_owner(t0, B, Some(5)).is_empty());
        assert_eq!(a.targets(), vec![B]);
        assert!(abandoned(&a.target_owner(t0, B, Some(6))));
        assert!(a.targets().is_empty());
        let again = a.tick(t0 + RETRY_AFTER);
        assert!(
            abandoned(&again) && again.len() == 1,
            "no adopt; the session is told again: {again:?}"
        );
        assert!(a.tick(t0 + FORWARD_FOR).is_empty());

        let mut acked = joined(A);
        acked.depart(t0, 2, B, Some(5), player(), SESSION);
        acked.acknowledged(2);
        assert!(
            abandoned(&acked.target_owner(t0, B, None)),
            "the adopter may have died with it"
        );
    }

    #[test]
    fn an_unanswered_handoff_is_given_to_the_session() {
        let t0 = Instant::now();
        let mut a = joined(A);
        a.depart(t0, 1, B, Some(5), player(), SESSION);
        let mut now = t0;
        while now < t0 + GIVE_UP_AFTER - RETRY_AFTER {
            now += RETRY_AFTER;
            assert!(!abandoned(&a.tick(now)));
        }
        assert!(abandoned(&a.tick(t0 + GIVE_UP_AFTER)));
        let after = a.tick(t0 + GIVE_UP_AFTER + RETRY_AFTER);
        assert!(abandoned(&after) && after.len() == 1, "{after:?}");
        assert!(a.tick(t0 + FORWARD_FOR).is_empty());
    }

    #[test]
    fn a_rejoin_does_not_duplicate_a_held_player_and_takes_the_newer_hop() {
        let t0 = Instant::now();
        let mut b = RegionHandoffs::new(B);
        let mut state = player();
        state.hop = 3;
        b.adopt(1, NO_EPOCH, A, state.clone(), SESSION);
        let out = b.join(player(), SESSION);
        assert!(inserted(&out).is_none());
        let mut newer = player();
        newer.hop = 4;
        assert_eq!(
            inserted(&b.join(newer, SESSION)),
            Some(4),
            "the session's newer decision wins"
        );
        let mut state = player();
        state.hop = 4;
        assert!(matches!(
            out[0],
            Output::ToSession(_, ToSession::OwnerChanged { region: B, hop: 3 })
        ));

        b.depart(t0, 2, C, Some(1), state, SESSION);
        let follows = b.join(player(), SESSION);
        assert!(
            matches!(follows[..], [Output::ToRegion(C, RegionMsg::Join { .. })]),
            "a stale re-join follows the player: {follows:?}"
        );
        b.acknowledged(2);
        assert!(b.tick(t0 + FORWARD_FOR).is_empty());
        assert!(
            b.join(player(), SESSION).is_empty(),
            "a stale re-join revives nothing"
        );
        let mut rejoin = player();
        rejoin.hop = 6;
        assert_eq!(inserted(&b.join(rejoin, SESSION)), Some(6));
        // A stale adopt of an older hop replaces nothing.
        let mut old = player();
        old.hop = 2;
        assert_eq!(inserted(&b.adopt(9, NO_EPOCH, A, old, SESSION)), None);
    }

    #[test]
    fn a_stale_rejoin_following_a_looping_trail_ends() {
        let t0 = Instant::now();
        let mut a = joined(A);
        let mut b = RegionHandoffs::new(B);
        // A sends at hop 1, B never gets it but holds an older departure to A.
        let mut old = player();
        old.hop = 0;
        b.adopt(1, NO_EPOCH, C, old.clone(), SESSION);
        a.depart(t0, 2, B, Some(1), player(), SESSION);
        let mut stale = player();
        stale.hop = 0;
        let to_b = a.join(stale, SESSION);
        let forwarded = match &to_b[..] {
            [Output::ToRegion(B, RegionMsg::Join { player, .. })] => (**player).clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(forwarded.hop, 1);
        assert_eq!(
            inserted(&b.join(forwarded, SESSION)),
            Some(1),
            "B is where the trail ends"
        );
    }

    #[test]
    fn an_adopt_addressed_to_another_owner_is_ignored() {
        let mut b = RegionHandoffs::new(B);
        let mut state = player();
        state.hop = 1;
        assert!(b
            .adopt(1, (Some(4), Some(5)), A, state.clone(), SESSION)
            .is_empty());
        assert!(!b.holds(7));
        assert_eq!(
            inserted(&b.adopt(1, (Some(5), Some(5)), A, state, SESSION)),
            Some(1)
        );
    }

    #[test]
    fn release_drops_only_copies_at_or_below_the_hop() {
        let t0 = Instant::now();
        let mut b = RegionHandoffs::new(B);
        let mut state = player();
        state.hop = 3;
        b.adopt(1, NO_EPOCH, A, state, SESSION);
        assert!(b.release(t0, 7, 2).is_none());
        assert!(matches!(b.release(t0, 7, 3), Some(Output::Remove(7))));
        assert!(!b.holds(7));
        let mut again = player();
        again.hop = 3;
        assert_eq!(inserted(&b.adopt(1, NO_EPOCH, A, again, SESSION)), None);
        assert!(b
            .tick(t0 + REMEMBER_FOR + Duration::from_secs(1))
            .is_empty());
    }
}
