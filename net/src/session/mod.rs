//! A player's session: owns the client's socket for the whole stay, turns
//! its packets into messages for the region that owns the player, and
//! writes what regions send back, at most once per tick.

mod auth;
mod commands;
mod custody;
mod feed;
mod input;
mod join;
mod keep_alive;
mod packet_check;
pub use join::ban_message;
#[doc(hidden)]
pub(crate) mod fuzzing;
mod permissions;
mod record;
mod spam;
mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tessera_cluster::Mailbox;
use tessera_world::entity_ids::EntityLease;
use tessera_world::messages::{EntityId, RegionMsg, ToSession};
use tessera_world::routing::OwnerChange;
use tracing::{info, warn};
use valence_protocol::math::DVec3;
use valence_protocol::packets::play::{DisconnectS2c, KeepAliveS2c};
use valence_protocol::{ChunkPos, GameMode, Text};

use crate::connection::{Arrived, Connection};
use crate::error::ClientError;
use crate::frontend::Frontend;
use crate::limits::TokenBucket;
use crate::players::OnlinePlayer;
use crate::profile::Profile;
use view::View;

/// Most queued messages handled before a write, so a flood cannot delay
/// the bytes already gathered for long.
const DRAIN_AT_ONCE: usize = 256;
/// Regions tick out of phase, so a player near a region corner gets several
/// batches a tick; they are gathered and written together at most this often.
const WRITE_EVERY: Duration = tessera_world::TICK;
/// While something else wakes the session at least this often (a region's
/// batch each tick), input is read at those wakes and the socket does not
/// wake it on its own: one wake a tick for a busy player instead of one per
/// packet as well. Longer than a tick, so a tick's batch comes first.
const READ_PAUSE: Duration = Duration::from_millis(75);
/// Reads of the socket in one pass, so a fast sender cannot hold the
/// session in it.
const READS_AT_ONCE: u32 = 16;

enum Event {
    /// The socket has bytes: the read after the event takes them.
    Readable(Result<(), ClientError>),
    /// A while passed with no wake that read the socket: wait on it again.
    ReadPause,
    Auth(auth::AuthEvent),
    Owner(OwnerChange),
    Message(Option<ToSession>),
    Timer,
    WriteDue,
    Permission(permissions::PermissionEvent),
    Shutdown(String),
}

/// Why the session ends.
enum End {
    /// Tell the client this and close.
    Kick(String),
    /// The connection is already gone or unusable.
    Gone(ClientError),
}

pub struct Session {
    frontend: Arc<Frontend>,
    conn: Connection,
    me: Arc<OnlinePlayer>,
    inbox: Mailbox<ToSession>,
    /// The region that holds the player, and what the session knows of it.
    owner: custody::Owner,
    view: View,
    /// Entities the client shows, and the chunk each is in.
    visible: HashMap<EntityId, ChunkPos>,
    position: DVec3,
    teleport_pending: bool,
    keep_alive: keep_alive::KeepAlive,
    /// Where the client connects from, for rate limits and IP bans.
    address: String,
    gate: auth::Gate,
    /// The player's record in the register: its saves and whether it may be saved.
    saving: record::Saving,
    /// What was queued must go out now, not at the next paced write:
    /// spawning, teleports and keep-alives.
    urgent: bool,
    /// The region took the player in: until then the mailbox stays open
    /// between writes, so the spawn goes out the moment it comes.
    spawned: bool,
    /// The player's op level, for commands and the command tree.
    permissions: permissions::Permissions,
    spam: spam::SpamScore,
    /// Packets of any kind, as Paper's packet limiter counts them.
    packet_rate: TokenBucket,
    /// Held until the session ends, so no other entity gets the player's id.
    _entity: EntityLease,
}

impl Session {
    pub async fn run(frontend: Arc<Frontend>, conn: Connection, profile: Profile, peer: String) {
        let world = frontend.world.clone();
        let Some(entity) = world.allocate_entity_id() else {
            warn!("no entity id is free: the node holds 2^24 entities");
            return;
        };
        let (address, inbox) = world.open_session();
        let position = world.spawn_point();
        let owner = world.region_of_point(position.x, position.z);
        // Online mode proves who the player is, and so does a Velocity proxy
        // that holds the forwarding secret (it checks accounts itself): the
        // gate is for offline mode.
        let gate_open = frontend.config.online_mode.is_some()
            || frontend.config.forwarding.is_some()
            || !frontend.auth.require_login;
        let me = Arc::new(OnlinePlayer {
            uuid: profile.uuid,
            name: profile.name,
            properties: profile.properties,
            entity: entity.id(),
            session: address,
            game_mode: Mutex::new(GameMode::Survival),
            position: Mutex::new(position),
            owner: Mutex::new(owner),
            heard: Mutex::new(Instant::now()),
            logged_in: std::sync::atomic::AtomicBool::new(gate_open),
        });
        let permissions = permissions::Permissions::new(&frontend, me.uuid.to_string());
        let records = frontend.auth.accounts.player_records();
        let radius = i32::from(frontend.config.view_distance);
        let mut session = Session {
            view: View::new(
                tessera_world::coords::chunk_of_point(position.x, position.z),
                radius,
            ),
            frontend,
            conn,
            owner: custody::Owner::new(owner, me.entity),
            me,
            inbox,
            visible: HashMap::new(),
            position,
            teleport_pending: false,
            keep_alive: keep_alive::KeepAlive::new(Instant::now()),
            address: peer,
            gate: auth::Gate::new(gate_open),
            saving: record::Saving::new(records),
            urgent: false,
            spawned: false,
            permissions,
            spam: spam::SpamScore::new(),
            _entity: entity,
            packet_rate: TokenBucket::new(
                input::PACKETS_PER_SECOND,
                input::PACKET_BURST,
                Instant::now(),
            ),
        };
        let end = match session.join().await {
            Ok(()) => session.play().await,
            Err(end) => end,
        };
        session.leave(end).await;
    }

    async fn play(&mut self) -> End {
        let mut shutdown = self.frontend.shutdown_signal();
        let mut timer = tokio::time::interval(Duration::from_secs(1));
        let mut owners = self.frontend.world.ownership_changes();
        let mut last_write = Instant::now();
        let write_timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(write_timer);
        let mut write_armed = false;
        let read_pause = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(read_pause);
        let mut wait_on_socket = true;
        // Closed from a write until the next is due: what regions send
        // meanwhile could only wait in the buffer, so it waits in the
        // mailbox and the session wakes once a tick for all of it, not once
        // per region's batch.
        let mut inbox_open = true;
        loop {
            let event = tokio::select! {
                ready = self.conn.readable(), if wait_on_socket => Event::Readable(ready),
                () = &mut read_pause, if !wait_on_socket => Event::ReadPause,
                msg = self.inbox.recv(), if inbox_open => Event::Message(msg),
                Ok(change) = owners.recv() => Event::Owner(change),
                Some(event) = self.gate.events.recv() => Event::Auth(event),
                _ = timer.tick() => Event::Timer,
                () = &mut write_timer, if write_armed => Event::WriteDue,
                event = self.permissions.next() => Event::Permission(event),
                Ok(()) = shutdown.changed() => {
                    Event::Shutdown(shutdown.borrow().clone().unwrap_or_default())
                }
            };
            let read_now = !matches!(event, Event::ReadPause);
            let outcome = match event {
                Event::Readable(ready) => ready.map_err(End::from),
                Event::ReadPause => {
                    wait_on_socket = true;
                    Ok(())
                }
                Event::Auth(event) => self.auth_event(event),
                Event::Owner(change) => {
                    self.reattach(change);
                    Ok(())
                }
                Event::Message(Some(msg)) => self.handle_message(msg),
                Event::Message(None) => Err(End::Kick("Server closed".into())),
                Event::Permission(event) => {
                    self.permission_event(event);
                    Ok(())
                }
                Event::Timer => {
                    self.save_if_due();
                    self.custody_tick();
                    self.keep_alive().and_then(|()| self.gate_timer())
                }
                Event::WriteDue => {
                    write_armed = false;
                    inbox_open = true;
                    Ok(())
                }
                Event::Shutdown(reason) => Err(End::Kick(reason)),
            };
            if let Err(end) = outcome {
                return end;
            }
            // Batches that arrived meanwhile go out in the same write.
            if inbox_open {
                if let Err(end) = self.drain_inbox() {
                    return end;
                }
            }
            if read_now {
                match self.read_arrived() {
                    Ok(more) => wait_on_socket = more,
                    Err(end) => return end,
                }
                if !wait_on_socket {
                    read_pause
                        .as_mut()
                        .reset((Instant::now() + READ_PAUSE).into());
                }
            }
            if !self.conn.has_pending() {
                continue;
            }
            let now = Instant::now();
            let due = last_write + WRITE_EVERY;
            if self.urgent || now >= due {
                self.urgent = false;
                last_write = now;
                if let Err(e) = self.conn.flush().await {
                    return End::Gone(e);
                }
                write_timer.as_mut().reset((now + WRITE_EVERY).into());
            } else if !write_armed {
                write_timer.as_mut().reset(due.into());
            }
            write_armed = true;
            inbox_open = !self.spawned;
        }
    }

    /// Handles the packets that have arrived, without waiting; whether the
    /// socket holds more than one pass read.
    fn read_arrived(&mut self) -> Result<bool, End> {
        let mut reads = READS_AT_ONCE;
        loop {
            match self.conn.try_next_frame(&mut reads)? {
                Arrived::Frame(frame) => self.handle_packet(frame)?,
                Arrived::Drained => return Ok(false),
                Arrived::MoreWaiting => return Ok(true),
            }
        }
    }

    /// Handles what is already waiting in the mailbox, without waiting.
    fn drain_inbox(&mut self) -> Result<(), End> {
        for _ in 0..DRAIN_AT_ONCE {
            match self.inbox.try_recv() {
                Ok(msg) => self.handle_message(msg)?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn handle_message(&mut self, msg: ToSession) -> Result<(), End> {
        match msg {
            ToSession::Deliver(items) => self.deliver(items),
            ToSession::Joined(state) => {
                self.urgent = true;
                self.joined(*state);
            }
            ToSession::OwnerChanged { region, hop } => self.owner_changed(region, hop),
            ToSession::HandoffAbandoned(state) => self.handoff_abandoned(*state),
            ToSession::Moved(to) => {
                self.urgent = true;
                self.teleport_pending = true;
                self.moved_to(to);
            }
            ToSession::GameModeChanged(mode) => {
                *self
                    .me
                    .game_mode
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = mode;
                let players = &self.frontend.players;
                players.broadcast(players.tab_game_mode(self.me.uuid, mode));
                self.frontend
                    .directory
                    .announce_game_mode(self.me.uuid, mode);
            }
            ToSession::Snapshot(state) => {
                self.owner.custody.snapshot((*state).clone());
                self.owner.last_state = Some(*state);
            }
            // Answers Leave; the session waits for it only while leaving.
            ToSession::Left(_) => {}
            ToSession::Disconnect(reason) => return Err(End::Kick(reason)),
        }
        Ok(())
    }

    fn keep_alive(&mut self) -> Result<(), End> {
        match self.keep_alive.due(Instant::now(), rand_id) {
            keep_alive::Due::Nothing => {}
            keep_alive::Due::Send(id) => {
                self.conn.queue(&KeepAliveS2c { id });
                self.urgent = true;
            }
            keep_alive::Due::TimedOut => return Err(End::Kick("Timed out".into())),
        }
        Ok(())
    }

    /// Sends a message to the region that owns the player.
    fn to_owner(&self, msg: RegionMsg) {
        if let Err(e) = self.frontend.world.to_region(self.owner.region, msg) {
            warn!(region = %self.owner.region, "input dropped: {e}");
        }
    }

    /// Follows the player's position with the chunk view.
    fn moved_to(&mut self, position: DVec3) {
        self.position = position;
        *self
            .me
            .position
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = position;
        let chunk = tessera_world::coords::chunk_of_point(position.x, position.z);
        if chunk != self.view.center() {
            self.recenter(chunk);
        }
    }

    async fn leave(mut self, end: End) {
        // A player on its way out no longer keeps a new login of its name
        // away: that login waits for this one to finish instead.
        self.me
            .logged_in
            .store(false, std::sync::atomic::Ordering::Relaxed);
        match &end {
            End::Kick(reason) => {
                info!(reason, "player disconnected");
                self.conn.queue(&DisconnectS2c {
                    reason: std::borrow::Cow::Owned(Text::from(reason.clone())),
                });
            }
            End::Gone(e) => info!("player left: {e}"),
        }
        // The entity goes first: a login waiting to replace this one
        // proceeds as soon as the name is free.
        self.to_owner(RegionMsg::Leave {
            entity: self.me.entity,
        });
        // Before the name is free, so a login replacing this one reads
        // what this one saved (see record.rs).
        self.save_on_leave().await;
        let players = &self.frontend.players;
        if players.remove(&self.me.name, self.me.session) {
            players.broadcast(players.tab_remove(self.me.uuid));
            self.frontend.directory.announce_left(self.me.uuid);
            self.frontend.broadcast_message(self.left_message());
        }
        let chunks: Vec<ChunkPos> = self.view.loaded().collect();
        self.unsubscribe(&chunks);
        self.frontend.world.close_session(self.me.session);
        self.conn.close().await;
    }
}

impl From<ClientError> for End {
    fn from(e: ClientError) -> Self {
        match e.reason() {
            Some(reason) => {
                warn!("kicking client: {reason}");
                End::Kick(reason)
            }
            None => End::Gone(e),
        }
    }
}

/// A keep-alive id the client cannot predict.
fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.finish()
}
