//! The players of the other nodes, and the messages frontends exchange so
//! that chat, the tab list, the player count, kicks and duplicate logins are
//! cluster-wide.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};
use tessera_cluster::{Envelope, NodeId, Topic, Transport};
use tracing::{debug, warn};
use uuid::Uuid;
use valence_protocol::{GameMode, Property, Text};

use crate::frontend::Frontend;

/// A player connected to another node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemotePlayer {
    pub uuid: Uuid,
    pub name: String,
    /// The profile's properties (the signed skin in online mode), for tab lists.
    pub properties: Vec<Property>,
    pub node: u64,
    #[serde(with = "tessera_world::wire::protocol")]
    pub game_mode: GameMode,
}

#[derive(Debug, Serialize, Deserialize)]
enum FrontendMsg {
    Joined(RemotePlayer),
    Left {
        uuid: Uuid,
    },
    GameMode {
        uuid: Uuid,
        #[serde(with = "tessera_world::wire::protocol")]
        mode: GameMode,
    },
    /// A system message for every player, as JSON text.
    Message(String),
    Kick {
        name: String,
        reason: String,
    },
    /// Asks for the sender to be told who is on this node: a node that was
    /// taken for dead and is back has not seen us come up again.
    WhoIsThere,
}

#[derive(Default)]
pub struct Directory {
    remote: Mutex<BTreeMap<Uuid, RemotePlayer>>,
    transport: OnceLock<Transport>,
}

impl Directory {
    fn remote(&self) -> MutexGuard<'_, BTreeMap<Uuid, RemotePlayer>> {
        self.remote.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn remote_players(&self) -> Vec<RemotePlayer> {
        self.remote().values().cloned().collect()
    }

    pub fn remote_count(&self) -> usize {
        self.remote().len()
    }

    pub fn find(&self, name: &str) -> Option<RemotePlayer> {
        self.remote()
            .values()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .cloned()
    }

    fn send_all(&self, msg: &FrontendMsg) {
        let Some(transport) = self.transport.get() else {
            return;
        };
        let body = match Envelope::encode_body(msg) {
            Ok(body) => body,
            Err(e) => return warn!("frontend message does not encode: {e}"),
        };
        for peer in transport.peers_connected() {
            if let Err(e) = transport.send(peer, Topic::Frontend, body.clone()) {
                debug!(%peer, "frontend message not sent: {e}");
            }
        }
    }

    fn send_to(&self, node: u64, msg: &FrontendMsg) {
        let Some(transport) = self.transport.get() else {
            return;
        };
        match Envelope::encode_body(msg) {
            Ok(body) => {
                if let Err(e) = transport.send(NodeId(node), Topic::Frontend, body) {
                    debug!(node, "frontend message not sent: {e}");
                }
            }
            Err(e) => warn!("frontend message does not encode: {e}"),
        }
    }

    pub fn announce_joined(&self, player: RemotePlayer) {
        self.send_all(&FrontendMsg::Joined(player));
    }

    pub fn announce_left(&self, uuid: Uuid) {
        self.send_all(&FrontendMsg::Left { uuid });
    }

    pub fn announce_game_mode(&self, uuid: Uuid, mode: GameMode) {
        self.send_all(&FrontendMsg::GameMode { uuid, mode });
    }

    pub fn announce_message(&self, text: &Text) {
        match serde_json::to_string(text) {
            Ok(json) => self.send_all(&FrontendMsg::Message(json)),
            Err(e) => warn!("message does not encode: {e}"),
        }
    }

    /// Asks the node a player is on to disconnect it.
    pub fn kick_remote(&self, player: &RemotePlayer, reason: &str) {
        let msg = FrontendMsg::Kick {
            name: player.name.clone(),
            reason: reason.to_owned(),
        };
        self.send_to(player.node, &msg);
    }
}

impl Frontend {
    /// Joins the frontends of the other nodes over `transport`.
    pub fn attach_cluster(
        self: &Arc<Self>,
        transport: Transport,
    ) -> Result<(), tessera_cluster::TransportError> {
        let mut inbox = transport.subscribe(Topic::Frontend)?;
        if self.directory.transport.set(transport).is_err() {
            warn!("frontend already attached to a cluster");
        }
        let frontend = self.clone();
        tokio::spawn(async move {
            while let Some(envelope) = inbox.recv().await {
                match envelope.decode_body::<FrontendMsg>() {
                    Ok(msg) => frontend.handle_peer_message(envelope.from.0, msg),
                    Err(e) => warn!(from = %envelope.from, "undecodable frontend message: {e}"),
                }
            }
        });
        Ok(())
    }

    fn handle_peer_message(&self, node: u64, msg: FrontendMsg) {
        let players = &self.players;
        match msg {
            FrontendMsg::Joined(player) => {
                if let Some(local) = players.get(&player.name) {
                    // The same name joined elsewhere: the newer login wins, as in vanilla.
                    local.kick(&self.world, "You logged in from another location");
                }
                let known = self
                    .directory
                    .remote()
                    .get(&player.uuid)
                    .is_some_and(|p| p.node == node);
                if !known {
                    players.broadcast(players.tab_entries(&[], std::slice::from_ref(&player)));
                }
                self.directory
                    .remote()
                    .insert(player.uuid, RemotePlayer { node, ..player });
            }
            FrontendMsg::Left { uuid } => {
                if self.directory.remote().remove(&uuid).is_some() {
                    players.broadcast(players.tab_remove(uuid));
                }
            }
            FrontendMsg::GameMode { uuid, mode } => {
                if let Some(player) = self.directory.remote().get_mut(&uuid) {
                    player.game_mode = mode;
                }
                players.broadcast(players.tab_game_mode(uuid, mode));
            }
            FrontendMsg::Message(json) => match serde_json::from_str::<Text>(&json) {
                Ok(text) => players.broadcast_message(text),
                Err(e) => warn!(node, "bad message text: {e}"),
            },
            FrontendMsg::Kick { name, reason } => {
                if let Some(player) = players.get(&name) {
                    player.kick(&self.world, &reason);
                }
            }
            FrontendMsg::WhoIsThere => self.tell_who_is_here(node),
        }
    }

    /// A node joined, or came back: tell it who is here, and ask it who is
    /// there (it may not see us as new).
    pub fn node_up(&self, node: u64) {
        self.tell_who_is_here(node);
        self.directory.send_to(node, &FrontendMsg::WhoIsThere);
    }

    fn tell_who_is_here(&self, node: u64) {
        for player in self.players.all() {
            self.directory.send_to(
                node,
                &FrontendMsg::Joined(player.as_remote(self.world.node)),
            );
        }
    }

    /// A node is gone: its players are gone with it.
    pub fn node_down(&self, node: u64) {
        let gone: Vec<Uuid> = {
            let mut remote = self.directory.remote();
            let gone = remote
                .values()
                .filter(|p| p.node == node)
                .map(|p| p.uuid)
                .collect::<Vec<_>>();
            for uuid in &gone {
                remote.remove(uuid);
            }
            gone
        };
        for uuid in gone {
            self.players.broadcast(self.players.tab_remove(uuid));
        }
    }

    /// A message for every player of the cluster.
    pub fn broadcast_message(&self, text: Text) {
        self.directory.announce_message(&text);
        self.players.broadcast_message(text);
    }
}
