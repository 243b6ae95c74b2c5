//! The players of the other nodes, and the messages frontends exchange so
//! that chat, the tab list, the player count, kicks and duplicate logins are
//! cluster-wide. What this node does with the messages it gets is
//! `peer_frontends`.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};
use tessera_cluster::{Envelope, NodeId, Topic, Transport};
use tracing::{debug, warn};
use uuid::Uuid;
use valence_protocol::{GameMode, Property, Text};

/// A player connected to another node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemotePlayer {
    pub uuid: Uuid,
    pub name: String,
    /// The profile's properties (the signed skin in online mode), for tab lists.
    pub properties: Vec<Property>,
    pub node: NodeId,
    #[serde(with = "tessera_world::wire::protocol")]
    pub game_mode: GameMode,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FrontendMsg {
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
    pub(crate) transport: OnceLock<Transport>,
}

impl Directory {
    pub(crate) fn remote(&self) -> MutexGuard<'_, BTreeMap<Uuid, RemotePlayer>> {
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

    pub(crate) fn send_to(&self, node: NodeId, msg: &FrontendMsg) {
        let Some(transport) = self.transport.get() else {
            return;
        };
        match Envelope::encode_body(msg) {
            Ok(body) => {
                if let Err(e) = transport.send(node, Topic::Frontend, body) {
                    debug!(%node, "frontend message not sent: {e}");
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
