//! Everyone connected to this node: for the tab list, chat, the player
//! count, duplicate logins and console commands.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tessera_world::coords::RegionPos;
use tessera_world::framing::Framing;
use tessera_world::messages::{Delivery, EntityId, FeedEvent, NodeId, SessionAddr, ToSession};
use tessera_world::World;

use crate::directory::RemotePlayer;
use uuid::Uuid;
use valence_protocol::math::DVec3;
use valence_protocol::packets::play::player_list_s2c::{PlayerListActions, PlayerListEntry};
use valence_protocol::packets::play::{GameMessageS2c, PlayerListS2c, PlayerRemoveS2c};
use valence_protocol::{GameMode, Property, Text};

/// What the frontend knows of a connected player; the region owns the rest.
#[derive(Debug)]
pub struct OnlinePlayer {
    pub uuid: Uuid,
    pub name: String,
    /// The profile's properties (the signed skin in online mode), for tab lists.
    pub properties: Vec<Property>,
    pub entity: EntityId,
    pub session: SessionAddr,
    pub game_mode: Mutex<GameMode>,
    /// Last position the session saw, for commands that target a player.
    pub position: Mutex<DVec3>,
    /// The region that owns the player's entity now.
    pub owner: Mutex<RegionPos>,
    /// When its client last sent a packet: a client that went silent does
    /// not keep its name from a new login.
    pub heard: Mutex<std::time::Instant>,
    /// Whether the player passed the login gate (or there is none).
    pub logged_in: std::sync::atomic::AtomicBool,
}

impl OnlinePlayer {
    pub fn logged_in(&self) -> bool {
        self.logged_in.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn heard_now(&self) {
        *self.heard.lock().unwrap_or_else(PoisonError::into_inner) = std::time::Instant::now();
    }

    pub fn silent_for(&self) -> std::time::Duration {
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }

    pub fn position(&self) -> DVec3 {
        *self.position.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn owner(&self) -> RegionPos {
        *self.owner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How other nodes see this player.
    pub fn as_remote(&self, node: NodeId) -> RemotePlayer {
        RemotePlayer {
            uuid: self.uuid,
            name: self.name.clone(),
            properties: self.properties.clone(),
            node,
            game_mode: self.game_mode(),
        }
    }

    pub fn game_mode(&self) -> GameMode {
        *self
            .game_mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Disconnects the player with a reason, waiting a little for room in
    /// its mailbox if it is busy.
    pub fn kick(&self, world: &Arc<World>, reason: &str) {
        let (world, session, reason) = (world.clone(), self.session, reason.to_owned());
        tokio::spawn(async move {
            for _ in 0..50 {
                match world.to_session(session, ToSession::Disconnect(reason.clone())) {
                    Err(tessera_world::routing::Undelivered::Full) => {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await
                    }
                    _ => return,
                }
            }
        });
    }
}

/// Why a player could not be admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum AdmitError {
    Full,
}

pub struct Players {
    world: Arc<World>,
    max: usize,
    framing: Framing,
    /// Keyed by lower-case name: names are unique regardless of case.
    online: Mutex<BTreeMap<String, Arc<OnlinePlayer>>>,
}

impl Players {
    pub fn new(world: Arc<World>, max: usize, framing: Framing) -> Self {
        Self {
            world,
            max,
            framing,
            online: Mutex::new(BTreeMap::new()),
        }
    }

    fn online(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<OnlinePlayer>>> {
        self.online.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a player, displacing (and returning) an older session of the same name.
    pub fn admit(
        &self,
        player: Arc<OnlinePlayer>,
    ) -> Result<Option<Arc<OnlinePlayer>>, AdmitError> {
        let mut online = self.online();
        let key = player.name.to_lowercase();
        if !online.contains_key(&key) && online.len() >= self.max {
            return Err(AdmitError::Full);
        }
        Ok(online.insert(key, player))
    }

    /// Removes a session's player, unless a newer session of that name replaced it.
    pub fn remove(&self, name: &str, session: SessionAddr) -> bool {
        let mut online = self.online();
        let key = name.to_lowercase();
        if online.get(&key).is_some_and(|p| p.session == session) {
            online.remove(&key);
            return true;
        }
        false
    }

    pub fn get(&self, name: &str) -> Option<Arc<OnlinePlayer>> {
        self.online().get(&name.to_lowercase()).cloned()
    }

    pub fn all(&self) -> Vec<Arc<OnlinePlayer>> {
        self.online().values().cloned().collect()
    }

    pub fn count(&self) -> usize {
        self.online().len()
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn names(&self) -> Vec<(String, Uuid)> {
        self.online()
            .values()
            .map(|p| (p.name.clone(), p.uuid))
            .collect()
    }

    /// Sends framed packets to every session on this node.
    pub fn broadcast(&self, packets: Bytes) {
        for player in self.all() {
            let delivery = vec![Delivery::Unicast(FeedEvent::Packets(packets.clone()))];
            let _ = self
                .world
                .to_session(player.session, ToSession::Deliver(delivery));
        }
    }

    pub fn broadcast_message(&self, text: Text) {
        self.broadcast(self.framing.frame(&GameMessageS2c {
            chat: Cow::Owned(text),
            overlay: false,
        }));
    }

    /// The tab-list packet that adds these players, local and remote.
    pub fn tab_entries<'a>(
        &self,
        local: &'a [Arc<OnlinePlayer>],
        remote: &'a [RemotePlayer],
    ) -> Bytes {
        let entry = |uuid, username, properties: &'a [Property], game_mode| PlayerListEntry {
            player_uuid: uuid,
            username,
            properties: Cow::Borrowed(properties),
            chat_data: None,
            listed: true,
            ping: 0,
            game_mode,
            display_name: None,
        };
        let entries: Vec<PlayerListEntry> = local
            .iter()
            .map(|p| entry(p.uuid, p.name.as_str(), &p.properties, p.game_mode()))
            .chain(
                remote
                    .iter()
                    .map(|p| entry(p.uuid, p.name.as_str(), &p.properties, p.game_mode)),
            )
            .collect();
        self.framing.frame(&PlayerListS2c {
            actions: PlayerListActions::new()
                .with_add_player(true)
                .with_update_game_mode(true)
                .with_update_listed(true)
                .with_update_latency(true),
            entries: Cow::Owned(entries),
        })
    }

    pub fn tab_game_mode(&self, uuid: Uuid, game_mode: GameMode) -> Bytes {
        let entry = PlayerListEntry {
            player_uuid: uuid,
            game_mode,
            ..Default::default()
        };
        self.framing.frame(&PlayerListS2c {
            actions: PlayerListActions::new().with_update_game_mode(true),
            entries: Cow::Owned(vec![entry]),
        })
    }

    pub fn tab_remove(&self, uuid: Uuid) -> Bytes {
        self.framing.frame(&PlayerRemoveS2c {
            uuids: Cow::Owned(vec![uuid]),
        })
    }
}

impl Players {
    /// Sends one player a system message.
    pub fn tell(&self, player: &OnlinePlayer, text: Text) {
        let packet = self.framing.frame(&GameMessageS2c {
            chat: Cow::Owned(text),
            overlay: false,
        });
        let delivery = vec![Delivery::Unicast(FeedEvent::Packets(packet))];
        let _ = self
            .world
            .to_session(player.session, ToSession::Deliver(delivery));
    }
}
