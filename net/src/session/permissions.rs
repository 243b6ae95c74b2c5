//! A player's permission level: checked in the register each time it runs
//! an operator command, so an op or deop on any node holds at once, and
//! followed through the node's operator list (see `register_watch`) so the
//! client's command tree offers what it may run, as vanilla re-sends it
//! after /op and /deop.

use std::sync::Arc;

use tessera_auth::accounts::records::Ops;
use tessera_auth::accounts::AccountError;
use tokio::sync::{mpsc, watch};
use valence_protocol::packets::play::EntityStatusS2c;
use valence_protocol::text::{Color, IntoText};

use super::commands::{command_tree, unknown_command};
use super::Session;
use crate::admin_commands::{self, Issuer};
use crate::command_table::{self, required_level, usage_error};
use crate::frontend::Frontend;

/// The entity status that gives the client op level 0; levels 1 to 4 follow.
const OP_LEVEL_0_STATUS: u8 = 24;

#[derive(Debug)]
pub(super) enum PermissionEvent {
    /// The node read a new operator list.
    OpsChanged,
    /// The level read for a command the player typed.
    Checked {
        line: String,
        level: Result<u8, AccountError>,
    },
    /// What an operator command answered.
    Answer(String),
}

pub(super) struct Permissions {
    uuid: String,
    /// The level the client's command tree was built for.
    level: u8,
    ops: watch::Receiver<Arc<Ops>>,
    events: mpsc::UnboundedReceiver<PermissionEvent>,
    sender: mpsc::UnboundedSender<PermissionEvent>,
}

impl Permissions {
    pub fn new(frontend: &Frontend, uuid: String) -> Self {
        let mut ops = frontend.auth.ops.subscribe();
        let level = ops.borrow_and_update().level(&uuid);
        let (sender, events) = mpsc::unbounded_channel();
        Self {
            uuid,
            level,
            ops,
            events,
            sender,
        }
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    /// The next event; cancel-safe, for the session's `select!`.
    pub async fn next(&mut self) -> PermissionEvent {
        let (ops, events) = (&mut self.ops, &mut self.events);
        tokio::select! {
            Some(event) = events.recv() => event,
            Ok(()) = ops.changed() => PermissionEvent::OpsChanged,
            else => std::future::pending().await,
        }
    }
}

impl Session {
    /// Reads the player's level, then runs `line` if it is enough.
    pub(super) fn check_permission(&mut self, line: &str) {
        let sender = self.permissions.sender.clone();
        let line = line.to_owned();
        let accounts = self.frontend.auth.accounts.clone();
        let uuid = self.permissions.uuid.clone();
        tokio::spawn(async move {
            let level = accounts.op_level(&uuid).await;
            let _ = sender.send(PermissionEvent::Checked { line, level });
        });
    }

    pub(super) fn permission_event(&mut self, event: PermissionEvent) {
        match event {
            PermissionEvent::OpsChanged => {
                let level = self
                    .permissions
                    .ops
                    .borrow_and_update()
                    .level(&self.permissions.uuid);
                self.level_is(level);
            }
            PermissionEvent::Checked {
                line,
                level: Ok(level),
            } => {
                self.level_is(level);
                self.run_permitted(&line, level);
            }
            PermissionEvent::Checked {
                level: Err(error), ..
            } => self.tell(format!("Failed: {error}").color(Color::RED)),
            PermissionEvent::Answer(text) => self.tell(text.into_text()),
        }
    }

    /// Tells the client its op level, as vanilla does at join and on each
    /// change: the entity status that sets what the client allows itself
    /// (24 for level 0 up to 28 for level 4), and the command tree.
    pub(super) fn send_permissions(&mut self) {
        let level = self.permissions.level;
        self.conn.queue(&EntityStatusS2c {
            entity_id: self.me.entity,
            entity_status: OP_LEVEL_0_STATUS + level.min(4),
        });
        self.conn.queue(&command_tree(level));
    }

    fn level_is(&mut self, level: u8) {
        if level != self.permissions.level {
            self.permissions.level = level;
            self.send_permissions();
            tracing::info!(player = %self.me.name, level, "permission level changed");
        }
    }

    fn run_permitted(&mut self, line: &str, level: u8) {
        let words = command_table::words(line);
        let needed = words.first().and_then(|w| required_level(w));
        if needed.is_none_or(|needed| level < needed) {
            self.tell(unknown_command(line).color(Color::RED));
            return;
        }
        match self.own_command(&words) {
            Ok(true) => return,
            Ok(false) => {}
            Err(why) => return self.tell(why.color(Color::RED)),
        }
        let (frontend, sender) = (self.frontend.clone(), self.permissions.sender.clone());
        let (name, line) = (self.me.name.clone(), line.to_owned());
        tokio::spawn(async move {
            let words = command_table::words(&line);
            let answer = admin_commands::execute(&frontend, Issuer::Player(&name), &words)
                .await
                .or_else(|| words.first().and_then(|w| usage_error(w, true)))
                .unwrap_or_else(|| unknown_command(&line));
            let _ = sender.send(PermissionEvent::Answer(answer));
        });
    }
}
