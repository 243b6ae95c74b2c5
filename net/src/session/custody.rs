//! Following the player through handoffs (`tessera_world::handoff::Custody`
//! decides; this carries it out): where input goes, and joining the player
//! again when the region holding it may have lost it.

use std::time::{Duration, Instant};

use tessera_world::coords::RegionPos;
use tessera_world::handoff::{Custody, Rejoin};
use tessera_world::messages::RegionMsg;
use tessera_world::player::PlayerState;

use super::Session;

/// Far longer than a region's silence while placement elects a new leader
/// (its lease lapses, about three seconds): the owner says it holds the
/// player every second.
const OWNER_SILENCE: Duration = Duration::from_secs(10);

/// The region that holds the player, as far as the session knows.
pub(super) struct Owner {
    /// Where input goes.
    pub region: RegionPos,
    /// How new the owner's copy of the player is, and when to join it again.
    pub custody: Custody,
    /// When the owner last said it holds the player (it does every second).
    pub heard: Instant,
    /// The player as its region last reported it.
    pub last_state: Option<PlayerState>,
}

impl Owner {
    pub(super) fn new(region: RegionPos, entity: tessera_world::messages::EntityId) -> Self {
        Self {
            region,
            custody: Custody::new(entity),
            heard: Instant::now(),
            last_state: None,
        }
    }
}

impl Session {
    /// `region` says it holds the player at `hop`.
    pub(super) fn owner_changed(&mut self, region: RegionPos, hop: u64) {
        let heard = self.owner.custody.owner_changed(region, hop);
        if heard.owner {
            self.owner.heard = Instant::now();
            self.set_owner(region);
        }
        if let Some((stale, release)) = heard.release {
            tracing::info!(region = %stale, "a region holds a stale copy of the player; releasing it");
            if let Err(e) = self.frontend.world.to_region(stale, release) {
                tracing::warn!(region = %stale, "release not sent: {e}");
            }
        }
    }

    /// A region gave up handing the player over.
    pub(super) fn handoff_abandoned(&mut self, state: PlayerState) {
        let here = self.here();
        let now = Instant::now();
        if let Some(rejoin) = self
            .owner
            .custody
            .abandoned(now, state, here, self.position)
        {
            tracing::info!(region = %rejoin.region, "a handoff was abandoned; joining the player again");
            self.rejoin(rejoin);
        }
    }

    /// `region` changed owner; if it held the player, the player joins again.
    pub(super) fn region_moved(&mut self, region: RegionPos) {
        let here = self.here();
        let fresh = || {
            PlayerState::new(
                self.me.uuid,
                self.me.name.clone(),
                self.me.entity,
                self.position,
            )
        };
        let now = Instant::now();
        let owner = self.owner.region;
        let rejoin =
            self.owner
                .custody
                .region_moved(now, region, owner, here, self.position, fresh);
        if let Some(rejoin) = rejoin {
            tracing::info!(%region, to = %rejoin.region, "re-attaching the player to the region's new owner");
            self.rejoin(rejoin);
        }
    }

    /// Sends a re-join again that no region confirmed yet, and joins the
    /// player again if its owner fell silent: a region drops the players of
    /// a node it believes dead, and a node wrongly believed dead comes back
    /// to find its players gone.
    pub(super) fn custody_tick(&mut self) {
        if let Some(rejoin) = self.owner.custody.tick(Instant::now()) {
            tracing::info!(region = %rejoin.region, "re-join not confirmed yet; sending it again");
            self.rejoin(rejoin);
        }
        if self.owner.heard.elapsed() > OWNER_SILENCE {
            tracing::info!(region = %self.owner.region, "the player's region fell silent; joining the player again");
            self.owner.heard = Instant::now();
            self.region_moved(self.owner.region);
        }
    }

    fn rejoin(
        &mut self,
        Rejoin {
            region,
            state,
            release,
        }: Rejoin,
    ) {
        if let Some((earlier, release)) = release {
            if let Err(e) = self.frontend.world.to_region(earlier, release) {
                tracing::warn!(region = %earlier, "release not sent: {e}");
            }
        }
        self.set_owner(region);
        self.owner.heard = Instant::now();
        let msg = RegionMsg::Join {
            player: Box::new(state),
            session: self.me.session,
        };
        if let Err(e) = self.frontend.world.to_region(region, msg) {
            tracing::warn!(%region, "re-join not sent: {e}");
        }
    }

    /// The region of the position the client last reported.
    fn here(&self) -> RegionPos {
        self.frontend
            .world
            .region_of_point(self.position.x, self.position.z)
    }

    /// Input goes to `region` now; admin commands find the player there too.
    fn set_owner(&mut self, region: RegionPos) {
        self.owner.region = region;
        *self
            .me
            .owner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = region;
    }
}
