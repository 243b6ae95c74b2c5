//! The frontends of the other nodes as this node follows them: joining them
//! over the cluster transport, and doing what they say (a player joined or
//! left there, a message for everyone, a kick), and telling a node that came
//! up who is here.

use std::sync::Arc;

use tessera_cluster::{NodeId, Topic, Transport};
use tracing::warn;
use uuid::Uuid;
use valence_protocol::Text;

use crate::directory::{FrontendMsg, RemotePlayer};
use crate::frontend::Frontend;

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
                    Ok(msg) => frontend.handle_peer_message(envelope.from, msg),
                    Err(e) => warn!(from = %envelope.from, "undecodable frontend message: {e}"),
                }
            }
        });
        Ok(())
    }

    fn handle_peer_message(&self, node: NodeId, msg: FrontendMsg) {
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
                Err(e) => warn!(%node, "bad message text: {e}"),
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
    pub fn node_up(&self, node: NodeId) {
        self.tell_who_is_here(node);
        self.directory.send_to(node, &FrontendMsg::WhoIsThere);
    }

    fn tell_who_is_here(&self, node: NodeId) {
        for player in self.players.all() {
            self.directory.send_to(
                node,
                &FrontendMsg::Joined(player.as_remote(self.world.node())),
            );
        }
    }

    /// A node is gone: its players are gone with it.
    pub fn node_down(&self, node: NodeId) {
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
