//! The player's record in the register: read when the player comes, so it
//! starts where it left with what it carried; written every `SAVE_EVERY`
//! while it plays, so a node crash loses at most that much; and written
//! when it leaves, from the state the region held at that moment.
//!
//! Writes run in tasks of their own or in the session's leave, never on a
//! region's tick. The register keeps the last write and has no
//! compare-and-set, so the order of one player's writes is kept here:
//! - a session has at most one write in flight, and its final save waits
//!   for a periodic one still running, so an older snapshot never lands
//!   after the final state;
//! - a session saves before it frees the player's name, and a second login
//!   of the name waits for the name to be free (up to `DISPLACE_WAIT`, on
//!   this node or another) before it reads the record; the final save gives
//!   up within `FINAL_SAVE_WITHIN`, below that wait, so the old session's
//!   state is read by the new one rather than written over the new one's.
//!   What remains: a write that timed out on an unreachable quorum may
//!   still be applied later by the register; nothing short of a
//!   compare-and-set closes that window.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use tessera_auth::accounts::{PlayerRecords, RegisterUnavailable, StoredPlayer};
use tessera_world::messages::{RegionMsg, ToSession};
use tessera_world::player::PlayerState;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::auth::AuthEvent;
use super::view::View;
use super::{End, Session};
use crate::player_record::{restore, to_record};

/// How often the state of a playing player is written.
const SAVE_EVERY: Duration = Duration::from_secs(30);
/// Longest the session waits for its region's final state after Leave
/// before it saves the last snapshot (at most a second old) instead.
const LEFT_WAIT: Duration = Duration::from_secs(1);
/// Everything the session does to save on leave (a periodic save still
/// running, the final state, the write and its retries) ends within this;
/// below a second login's wait for the name (`DISPLACE_WAIT`, five seconds).
const FINAL_SAVE_WITHIN: Duration = Duration::from_millis(4_000);
const FIRST_RETRY_AFTER: Duration = Duration::from_millis(200);
const UNAVAILABLE: &str = "The login service is unavailable; try again shortly";

/// The session's side of the record.
pub(super) struct Saving {
    records: PlayerRecords,
    /// Whether this session may write the record: only once the record was
    /// read (so a failed read never becomes a fresh record written over the
    /// real one) and the player proved who it is.
    enabled: bool,
    last_save: Instant,
    in_flight: Option<JoinHandle<()>>,
}

impl Saving {
    pub fn new(records: PlayerRecords) -> Self {
        Self {
            records,
            enabled: false,
            last_save: Instant::now(),
            in_flight: None,
        }
    }
}

impl Session {
    /// The state the player enters the world with: its record's when the
    /// login gate is open, else a new player at spawn.
    ///
    /// Behind the login gate (offline mode with `auth.require_login`) the
    /// player is not yet known to be who its name says; like AuthMe, it
    /// waits at spawn with an empty inventory, so an impostor learns
    /// neither where the real player was nor what it carries, and the
    /// record is read and applied only after /login or /register.
    pub(super) async fn starting_state(&mut self) -> Result<PlayerState, End> {
        let mut state = PlayerState::new(
            self.me.uuid,
            self.me.name.clone(),
            self.me.entity,
            self.frontend.world.spawn_point(),
        );
        if !self.gate.open {
            return Ok(state);
        }
        let records = self.saving.records.clone();
        let stored = records.load(&self.me.uuid.to_string()).await;
        self.apply_stored(stored, &mut state)?;
        Ok(state)
    }

    /// Makes the session follow a player placed at `state`'s position.
    pub(super) fn place(&mut self, state: &PlayerState) {
        let world = self.frontend.world.clone();
        let position = state.position;
        self.position = position;
        self.owner.region = world.region_of_point(position.x, position.z);
        self.view = View::new(
            tessera_world::coords::chunk_of_point(position.x, position.z),
            i32::from(self.frontend.config.view_distance),
        );
        let me = &self.me;
        *me.position.lock().unwrap_or_else(PoisonError::into_inner) = position;
        *me.owner.lock().unwrap_or_else(PoisonError::into_inner) = self.owner.region;
        *me.game_mode.lock().unwrap_or_else(PoisonError::into_inner) = state.game_mode;
    }

    /// The gate opened: reads the record, which `record_loaded` applies.
    pub(super) fn load_after_login(&mut self) {
        let records = self.saving.records.clone();
        let (uuid, tx) = (self.me.uuid.to_string(), self.gate.sender());
        tokio::spawn(async move {
            let _ = tx.send(AuthEvent::Record(records.load(&uuid).await));
        });
    }

    /// Gives the player, already in the world at spawn, what its record holds.
    pub(super) fn record_loaded(
        &mut self,
        stored: Result<StoredPlayer, RegisterUnavailable>,
    ) -> Result<(), End> {
        let mut saved = self.owner.last_state.clone().unwrap_or_else(|| {
            PlayerState::new(
                self.me.uuid,
                self.me.name.clone(),
                self.me.entity,
                self.position,
            )
        });
        let found = matches!(stored, Ok(StoredPlayer::Found(_)));
        self.apply_stored(stored, &mut saved)?;
        if found {
            self.to_owner(RegionMsg::Restore {
                entity: self.me.entity,
                saved: Box::new(saved),
            });
        }
        Ok(())
    }

    fn apply_stored(
        &mut self,
        stored: Result<StoredPlayer, RegisterUnavailable>,
        state: &mut PlayerState,
    ) -> Result<(), End> {
        let uuid = self.me.uuid;
        match stored {
            Ok(StoredPlayer::Found(record)) => {
                for what in restore(&record, state) {
                    warn!(%uuid, "player record: {what} left out");
                }
            }
            Ok(StoredPlayer::Missing) => {}
            Ok(StoredPlayer::Damaged { error, kept }) => {
                warn!(%uuid, kept_as_damaged = kept, "player record unreadable, starting afresh: {error}");
            }
            Err(e) => {
                // Playing on would save a fresh record over the real one.
                warn!(%uuid, "player record not read: {e}");
                return Err(End::Kick(UNAVAILABLE.into()));
            }
        }
        self.saving.enabled = true;
        Ok(())
    }

    /// Once a second: writes the last snapshot when a save is due and the
    /// previous one has finished.
    pub(super) fn save_if_due(&mut self) {
        let saving = &mut self.saving;
        if !saving.enabled
            || saving.last_save.elapsed() < SAVE_EVERY
            || saving.in_flight.as_ref().is_some_and(|h| !h.is_finished())
        {
            return;
        }
        let Some(state) = self.owner.last_state.as_ref() else {
            return;
        };
        let records = saving.records.clone();
        saving.last_save = Instant::now();
        let (uuid, record) = (
            self.me.uuid,
            to_record(state, tessera_auth::accounts::now()),
        );
        saving.in_flight = Some(tokio::spawn(async move {
            if let Err(e) = records.save(&uuid.to_string(), &record).await {
                warn!(%uuid, "player record not saved; trying again in {SAVE_EVERY:?}: {e}");
            }
        }));
    }

    /// Called after Leave was sent: saves the state the region let the
    /// player go with, or the last snapshot if the region does not answer.
    pub(super) async fn save_on_leave(&mut self) {
        if !self.saving.enabled {
            return;
        }
        let records = self.saving.records.clone();
        let uuid = self.me.uuid;
        let deadline = tokio::time::Instant::now() + FINAL_SAVE_WITHIN;
        if let Some(running) = self.saving.in_flight.take() {
            if tokio::time::timeout_at(deadline, running).await.is_err() {
                // The register is not answering; a second write could only
                // race the one still running.
                warn!(%uuid, "periodic save still running at leave; the final state is not saved");
                return;
            }
        }
        let Some(state) = self.final_state(deadline).await else {
            return;
        };
        let record = to_record(&state, tessera_auth::accounts::now());
        let mut pause = FIRST_RETRY_AFTER;
        for attempt in 1.. {
            let outcome =
                tokio::time::timeout_at(deadline, records.save(&uuid.to_string(), &record)).await;
            match outcome {
                Ok(Ok(())) => return,
                Ok(Err(e)) => warn!(%uuid, attempt, "player record not saved: {e}"),
                Err(_) => break,
            }
            if tokio::time::Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        warn!(%uuid, "player record not saved within {FINAL_SAVE_WITHIN:?}; the last periodic save stands");
    }

    async fn final_state(&mut self, save_by: tokio::time::Instant) -> Option<PlayerState> {
        let deadline = save_by.min(tokio::time::Instant::now() + LEFT_WAIT);
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some(ToSession::Left(state))) if state.entity == self.me.entity => {
                    return Some(*state);
                }
                Ok(Some(ToSession::Snapshot(state))) => self.owner.last_state = Some(*state),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    info!(uuid = %self.me.uuid, "no final state from the region; saving the last snapshot");
                    return self.owner.last_state.take();
                }
            }
        }
    }
}
