//! A session's side of handoffs: how new the copy of its player is that the
//! region it sends input to (its owner, which the session keeps) holds, the
//! newest copy it has seen, and when to bring the player back.

use std::time::Instant;

use valence_protocol::math::DVec3;

use super::RETRY_AFTER;

use crate::coords::RegionPos;
use crate::messages::{EntityId, RegionMsg};
use crate::player::PlayerState;

/// Join the player again at `region` with `state`; `region` is the owner now.
/// `release`: the copy of an earlier re-join that this one supersedes.
#[derive(Debug)]
pub struct Rejoin {
    pub region: RegionPos,
    pub state: PlayerState,
    pub release: Option<(RegionPos, RegionMsg)>,
}

/// Hops of one generation: a re-join starts the next one, so no copy that
/// descends from an earlier re-join or handoff (by any number of handoffs
/// below this) ever has the hop of one that descends from a later re-join.
const GENERATION: u64 = 1 << 32;

/// What a session does about a region saying it holds the player.
#[derive(Debug)]
pub struct Heard {
    /// The region holds the newest copy: input goes there now.
    pub owner: bool,
    /// A stale copy to drop: the region, and the `Release` for it.
    pub release: Option<(RegionPos, RegionMsg)>,
}

#[derive(Debug)]
pub struct Custody {
    entity: EntityId,
    /// The highest hop any region said it holds the player at.
    hop: u64,
    /// The newest copy of the player seen, by hop.
    newest: Option<PlayerState>,
    /// Where and at which hop the session last joined the player again,
    /// until a newer copy elsewhere supersedes it.
    rejoined: Option<(RegionPos, u64)>,
    /// A re-join no region confirmed yet, and when it was last sent: it is
    /// sent again every [`RETRY_AFTER`], since it may be lost.
    unconfirmed: Option<(Rejoin, Instant)>,
}

impl Custody {
    pub fn new(entity: EntityId) -> Self {
        Self {
            entity,
            hop: 0,
            newest: None,
            rejoined: None,
            unconfirmed: None,
        }
    }

    pub fn hop(&self) -> u64 {
        self.hop
    }

    /// The newest copy of the player this session has seen.
    pub fn newest(&self) -> Option<&PlayerState> {
        self.newest.as_ref()
    }

    /// `region` says it holds the player at `hop`. If that is the newest
    /// copy heard of, the region is the owner now, and a copy this session
    /// joined elsewhere before is stale; a copy older than one already heard
    /// of is stale itself (invariant 6).
    pub fn owner_changed(&mut self, region: RegionPos, hop: u64) -> Heard {
        if hop < self.hop {
            return Heard {
                owner: false,
                release: Some((region, self.release(hop))),
            };
        }
        self.hop = hop;
        self.unconfirmed = None;
        let release = match self.rejoined {
            Some((rejoined, at)) if rejoined != region && hop > at => {
                self.rejoined = None;
                Some((rejoined, self.release(at)))
            }
            _ => None,
        };
        Heard {
            owner: true,
            release,
        }
    }

    /// A re-join to send again, if none was confirmed for a while.
    pub fn tick(&mut self, now: Instant) -> Option<Rejoin> {
        let (rejoin, sent) = self.unconfirmed.as_mut()?;
        if now.duration_since(*sent) < RETRY_AFTER {
            return None;
        }
        *sent = now;
        Some(Rejoin {
            region: rejoin.region,
            state: rejoin.state.clone(),
            release: None,
        })
    }

    fn release(&self, hop: u64) -> RegionMsg {
        RegionMsg::Release {
            entity: self.entity,
            hop,
        }
    }

    /// The region's periodic copy of the player.
    pub fn snapshot(&mut self, state: PlayerState) {
        self.keep_newest(state);
    }

    fn keep_newest(&mut self, state: PlayerState) {
        if self.newest.as_ref().is_none_or(|n| n.hop <= state.hop) {
            self.newest = Some(state);
        }
    }

    /// `region` changed owner. If it is `owner`, the one holding the player, the
    /// player may be lost with its old node: join it again where the client
    /// stands (`here`, at `position`). `fresh` is the player as it joined,
    /// for a session that has no copy yet.
    pub fn region_moved(
        &mut self,
        now: Instant,
        region: RegionPos,
        owner: RegionPos,
        here: RegionPos,
        position: DVec3,
        fresh: impl FnOnce() -> PlayerState,
    ) -> Option<Rejoin> {
        if region != owner {
            return None;
        }
        let state = self.newest.clone().unwrap_or_else(fresh);
        Some(self.rejoin(now, state, here, position))
    }

    /// A sender gave up on handing the player over (its target changed owner
    /// or never answered). If the session heard of no newer copy, the player
    /// may be nowhere: join it again where the client stands.
    pub fn abandoned(
        &mut self,
        now: Instant,
        state: PlayerState,
        here: RegionPos,
        position: DVec3,
    ) -> Option<Rejoin> {
        if state.hop < self.hop {
            return None;
        }
        self.keep_newest(state);
        let state = self.newest.clone()?;
        Some(self.rejoin(now, state, here, position))
    }

    /// The re-joined copy starts a new generation of hops, above every copy
    /// heard of and every copy descending from those, so a copy still in
    /// flight from before is told apart as older.
    fn rejoin(
        &mut self,
        now: Instant,
        mut state: PlayerState,
        here: RegionPos,
        position: DVec3,
    ) -> Rejoin {
        state.hop = (state.hop.max(self.hop) / GENERATION + 1) * GENERATION;
        state.position = position;
        self.hop = state.hop;
        let release = match self.rejoined.replace((here, state.hop)) {
            Some((earlier, at)) if earlier != here => Some((earlier, self.release(at))),
            _ => None,
        };
        let again = Rejoin {
            region: here,
            state: state.clone(),
            release: None,
        };
        self.unconfirmed = Some((again, now));
        Rejoin {
            region: here,
            state,
            release,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: RegionPos = RegionPos { x: 0, z: 0 };
    const B: RegionPos = RegionPos { x: 1, z: 0 };

    fn at_hop(hop: u64) -> PlayerState {
        let mut state = PlayerState::new(uuid::Uuid::nil(), "Alex".into(), 7, DVec3::ZERO);
        state.hop = hop;
        state
    }

    #[test]
    fn an_older_owner_is_told_to_release_its_copy() {
        let mut custody = Custody::new(7);
        assert!(custody.owner_changed(A, 2).owner);
        assert!(custody.owner_changed(A, 2).release.is_none());
        match custody.owner_changed(B, 1) {
            Heard {
                owner: false,
                release: Some((B, RegionMsg::Release { entity: 7, hop: 1 })),
            } => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(custody.hop(), 2);
    }

    #[test]
    fn a_rejoined_copy_superseded_by_a_newer_one_elsewhere_is_released() {
        let mut custody = Custody::new(7);
        custody.owner_changed(A, 2);
        let rejoin = custody
            .abandoned(Instant::now(), at_hop(3), B, DVec3::ZERO)
            .unwrap();
        assert_eq!(rejoin.state.hop, GENERATION);
        assert!(custody.owner_changed(B, GENERATION).release.is_none());
        let newer = custody.owner_changed(A, GENERATION + 1);
        assert!(newer.owner);
        assert!(matches!(
            newer.release,
            Some((
                B,
                RegionMsg::Release {
                    entity: 7,
                    hop: GENERATION
                }
            ))
        ));
        let again = custody
            .abandoned(Instant::now(), at_hop(GENERATION + 1), A, DVec3::ZERO)
            .unwrap();
        assert_eq!(again.state.hop, 2 * GENERATION);
        assert!(
            again.release.is_none(),
            "the earlier re-join was already released"
        );
    }

    #[test]
    fn only_the_owners_move_rejoins_with_the_newest_copy_where_the_client_is() {
        let mut custody = Custody::new(7);
        custody.owner_changed(A, 2);
        custody.snapshot(at_hop(2));
        custody.snapshot(at_hop(1));
        let position = DVec3::new(600.0, 70.0, 3.0);
        assert!(custody
            .region_moved(Instant::now(), B, A, B, position, || at_hop(0))
            .is_none());
        let rejoin = custody
            .region_moved(Instant::now(), A, A, B, position, || at_hop(0))
            .unwrap();
        assert_eq!(rejoin.region, B);
        assert_eq!(rejoin.state.hop, GENERATION);
        assert_eq!(rejoin.state.position, position);
    }

    #[test]
    fn a_rejoin_is_sent_again_until_a_region_confirms_it() {
        let t0 = Instant::now();
        let mut custody = Custody::new(7);
        let rejoin = custody.abandoned(t0, at_hop(1), B, DVec3::ZERO).unwrap();
        assert!(custody.tick(t0).is_none());
        let again = custody.tick(t0 + RETRY_AFTER).unwrap();
        assert_eq!((again.region, again.state.hop), (B, rejoin.state.hop));
        assert!(custody.owner_changed(B, rejoin.state.hop).owner);
        assert!(custody.tick(t0 + RETRY_AFTER * 3).is_none());
    }

    #[test]
    fn an_abandoned_handoff_rejoins_unless_a_newer_copy_was_heard_of() {
        let mut custody = Custody::new(7);
        custody.owner_changed(A, 3);
        assert!(custody
            .abandoned(Instant::now(), at_hop(2), B, DVec3::ZERO)
            .is_none());
        let rejoin = custody
            .abandoned(Instant::now(), at_hop(4), B, DVec3::ZERO)
            .unwrap();
        assert_eq!((rejoin.region, rejoin.state.hop), (B, GENERATION));
        assert_eq!(custody.newest().map(|s| s.hop), Some(4));
    }
}
