//! Entering the world: the packets a client needs before it can play.

use std::borrow::Cow;
use std::time::Duration;

use tessera_world::messages::RegionMsg;
use tessera_world::player::{abilities_packet, PlayerState};
use tessera_world::registry::{DIMENSION_NAME, DIMENSION_TYPE};
use valence_protocol::packets::play::player_position_look_s2c::PlayerPositionLookFlags;
use valence_protocol::packets::play::{
    ChunkRenderDistanceCenterS2c, GameJoinS2c, HealthUpdateS2c, InventoryS2c,
    PlayerPositionLookS2c, PlayerSpawnPositionS2c, UpdateSelectedSlotS2c,
};
use valence_protocol::text::{Color, IntoText};
use valence_protocol::{ident, BlockPos, Ident, Text, VarInt};

use tessera_auth::accounts::records::BanRecord;
use tessera_auth::accounts::Admission;

use super::{End, Session};
use crate::players::AdmitError;

/// What a banned player is told, as vanilla words it.
pub fn ban_message(ban: &BanRecord) -> String {
    let mut text = format!("You are banned from this server.\nReason: {}", ban.reason);
    if let Some(expires) = ban.expires {
        let left = expires.saturating_sub(tessera_auth::accounts::now());
        text.push_str(&format!(
            "\nYour ban expires in {} minutes.",
            left.div_ceil(60)
        ));
    }
    text
}

const DISPLACED: &str = "You logged in from another location";
/// A client heard from this recently is playing: behind the login gate, a
/// newcomer with its name is refused rather than let to kick it.
const PLAYING_WITHIN: Duration = Duration::from_secs(10);
/// How long a newcomer behind the gate waits for a session of its name
/// whose client has just left to notice: a busy session reads its socket
/// only when it wakes (`READ_PAUSE` at the longest), so a client that quits
/// and comes straight back can find its old session still there.
const DEPARTURE_WAIT: Duration = Duration::from_millis(500);
/// Longest a new login waits for the session it replaces to end.
const DISPLACE_WAIT: Duration = Duration::from_secs(5);

impl Session {
    /// Admits the player, sends the client into the world and hands the
    /// player to the region where its record says it was (in a cluster,
    /// possibly another node's), or to the one at the spawn point.
    pub(super) async fn join(&mut self) -> Result<(), End> {
        let frontend = self.frontend.clone();
        let players = &frontend.players;
        self.check_admission().await?;
        self.refuse_impostor().await?;
        self.displace_older_login().await;
        match players.admit(self.me.clone()) {
            Err(AdmitError::Full) => return Err(End::Kick("The server is full!".into())),
            Ok(Some(older)) => older.kick(&frontend.world, DISPLACED),
            Ok(None) => {}
        }
        let mut state = self.starting_state().await?;
        self.place(&state);
        self.send_game_join();
        let directory = &frontend.directory;
        directory.announce_joined(self.me.as_remote(frontend.world.node()));
        players.broadcast(players.tab_entries(std::slice::from_ref(&self.me), &[]));
        self.conn
            .queue_framed(&players.tab_entries(&players.all(), &directory.remote_players()));
        frontend
            .broadcast_message(format!("{} joined the game", self.me.name).color(Color::YELLOW));
        state.awaiting_teleport = Some(self.frontend.world.next_teleport_id());
        self.to_owner(RegionMsg::Join {
            player: Box::new(state),
            session: self.me.session,
        });
        self.conn.flush().await.map_err(End::Gone)
    }

    /// Bans and the whitelist, as the authentication service has them.
    async fn check_admission(&self) -> Result<(), End> {
        match self
            .frontend
            .auth
            .accounts
            .admission(&self.me.uuid.to_string(), &self.address)
            .await
        {
            Ok(Admission::Allowed) => Ok(()),
            Ok(Admission::Banned(ban)) => Err(End::Kick(ban_message(&ban))),
            Ok(Admission::NotWhitelisted) => {
                Err(End::Kick("You are not white-listed on this server!".into()))
            }
            Err(e) => {
                tracing::warn!("admission not checked: {e}");
                Err(End::Kick(
                    "The login service is unavailable; try again shortly".into(),
                ))
            }
        }
    }

    /// Behind the login gate nothing proves a newcomer is who its name
    /// says, so it may not end the session of a player who is playing
    /// (AuthMe does the same). A session whose client went silent, or one
    /// never logged in, is still replaced, so a player whose client hung
    /// can come back at once.
    async fn refuse_impostor(&self) -> Result<(), End> {
        if self.gate.open {
            return Ok(());
        }
        let since = tokio::time::Instant::now();
        while self.name_plays() {
            if since.elapsed() >= DEPARTURE_WAIT {
                let name = self.me.name.as_str();
                tracing::info!(player = %name, address = %self.address, "refused: the name is already playing");
                return Err(End::Kick(format!(
                    "{name} is already playing on this server"
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(())
    }

    /// Whether a player of this name is playing, here or on another node.
    fn name_plays(&self) -> bool {
        let frontend = &self.frontend;
        let name = self.me.name.as_str();
        let playing_here = frontend
            .players
            .get(name)
            .is_some_and(|older| older.logged_in() && older.silent_for() < PLAYING_WITHIN);
        playing_here || frontend.directory.find(name).is_some()
    }

    /// A second login of a name ends the first one, as in vanilla: the old
    /// player leaves completely (entity, tab entry, "left the game") before
    /// the new one appears, so viewers never confuse the two.
    async fn displace_older_login(&self) {
        let frontend = &self.frontend;
        let name = self.me.name.as_str();
        let mut displaced = false;
        if let Some(older) = frontend.players.get(name) {
            older.kick(&frontend.world, DISPLACED);
            displaced = true;
        }
        if let Some(elsewhere) = frontend.directory.find(name) {
            frontend.directory.kick_remote(&elsewhere, DISPLACED);
            displaced = true;
        }
        if !displaced {
            return;
        }
        let deadline = tokio::time::Instant::now() + DISPLACE_WAIT;
        while (frontend.players.get(name).is_some() || frontend.directory.find(name).is_some())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The old entity's removal reaches viewers with its region's next tick.
        tokio::time::sleep(tessera_world::TICK * 2).await;
    }

    fn send_game_join(&mut self) {
        let frontend = self.frontend.clone();
        let config = &frontend.config;
        let game_mode = self.me.game_mode();
        let dimension: Ident<Cow<str>> = ident!("overworld").into();
        let dimension_type: Ident<Cow<str>> = ident!("overworld").into();
        debug_assert_eq!(dimension.as_str(), DIMENSION_NAME);
        debug_assert_eq!(dimension_type.as_str(), DIMENSION_TYPE);
        self.conn.queue(&GameJoinS2c {
            entity_id: self.me.entity,
            is_hardcore: false,
            game_mode,
            previous_game_mode: -1,
            dimension_names: vec![dimension.clone()],
            registry_codec: Cow::Borrowed(&frontend.registries.codec),
            dimension_type_name: dimension_type,
            dimension_name: dimension,
            hashed_seed: 0,
            max_players: VarInt(config.max_players as i32),
            view_distance: VarInt(i32::from(config.view_distance)),
            simulation_distance: VarInt(i32::from(config.view_distance)),
            reduced_debug_info: false,
            enable_respawn_screen: true,
            is_debug: false,
            is_flat: false,
            last_death_location: None,
            portal_cooldown: VarInt(0),
        });
        self.conn.queue_framed(&frontend.sky_packets());
        let mut abilities = Vec::new();
        abilities_packet(&frontend.framing, game_mode, &mut abilities);
        self.conn.queue_framed(&abilities);
        self.send_permissions();
        let spawn = frontend.world.spawn_point();
        self.conn.queue(&PlayerSpawnPositionS2c {
            position: BlockPos::from_pos(spawn),
            angle: 0.0,
        });
        self.conn.queue_framed(&frontend.time_packet());
    }

    /// The region has the player: put the client where the region says, with
    /// its inventory, and start streaming chunks.
    pub(super) fn joined(&mut self, state: PlayerState) {
        let center = tessera_world::coords::chunk_of_point(state.position.x, state.position.z);
        self.conn.queue(&ChunkRenderDistanceCenterS2c {
            chunk_x: VarInt(center.x),
            chunk_z: VarInt(center.z),
        });
        self.teleport_pending = true;
        self.conn.queue(&PlayerPositionLookS2c {
            position: state.position,
            yaw: state.yaw,
            pitch: state.pitch,
            flags: PlayerPositionLookFlags::new(),
            teleport_id: VarInt(state.awaiting_teleport.unwrap_or_default()),
        });
        self.conn.queue(&InventoryS2c {
            window_id: 0,
            state_id: VarInt(0),
            slots: Cow::Borrowed(&state.inventory),
            carried_item: Cow::Owned(None),
        });
        self.conn.queue(&UpdateSelectedSlotS2c {
            slot: state.held_slot,
        });
        self.conn.queue(&HealthUpdateS2c {
            health: 20.0,
            food: VarInt(20),
            food_saturation: 5.0,
        });
        self.position = state.position;
        self.spawned = true;
        self.recenter(center);
        self.start_gate();
    }

    pub(super) fn left_message(&self) -> Text {
        format!("{} left the game", self.me.name).color(Color::YELLOW)
    }
}
