//! The login gate of offline mode: until a player has registered or logged
//! in, it stays where it joined and may only run /register or /login.

use std::time::{Duration, Instant};

use tessera_auth::accounts::{AccountError, RegisterUnavailable, StoredPlayer};
use tokio::sync::mpsc;
use valence_protocol::packets::play::player_position_look_s2c::PlayerPositionLookFlags;
use valence_protocol::packets::play::PlayerPositionLookS2c;
use valence_protocol::text::{Color, IntoText};
use valence_protocol::VarInt;

use super::{End, Session};

/// How long a player may stay without logging in.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the player is reminded to log in.
const PROMPT_EVERY: Duration = Duration::from_secs(10);

/// What an account operation started by the session came to.
#[derive(Debug)]
pub(super) enum AuthEvent {
    /// Whether the name has an account, to tell the player what to type.
    Prompt {
        registered: bool,
    },
    /// Registered or logged in: the player may play.
    Admitted(&'static str),
    Refused(AccountError),
    PasswordChanged,
    /// The player's record, read once the player proved who it is.
    Record(Result<StoredPlayer, RegisterUnavailable>),
}

/// The gate's state for one session.
pub(super) struct Gate {
    pub open: bool,
    since: Instant,
    last_prompt: Option<Instant>,
    registered: Option<bool>,
    /// A /register, /login or /changepassword being checked: one at a time
    /// per connection, so a burst costs one password hash, not hundreds.
    checking: bool,
    pub events: mpsc::UnboundedReceiver<AuthEvent>,
    sender: mpsc::UnboundedSender<AuthEvent>,
}

impl Gate {
    pub fn new(open: bool) -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        Self {
            open,
            since: Instant::now(),
            last_prompt: None,
            registered: None,
            checking: false,
            events,
            sender,
        }
    }

    pub fn sender(&self) -> mpsc::UnboundedSender<AuthEvent> {
        self.sender.clone()
    }
}

impl Session {
    /// Starts the gate: asks the service whether the name is registered.
    pub(super) fn start_gate(&mut self) {
        if self.gate.open {
            return;
        }
        let (accounts, name, tx) = (
            self.frontend.auth.accounts.clone(),
            self.me.name.clone(),
            self.gate.sender.clone(),
        );
        tokio::spawn(async move {
            let event = match accounts.is_registered(&name).await {
                Ok(registered) => AuthEvent::Prompt { registered },
                Err(e) => AuthEvent::Refused(e),
            };
            let _ = tx.send(event);
        });
    }

    pub(super) fn auth_event(&mut self, event: AuthEvent) -> Result<(), End> {
        if matches!(
            event,
            AuthEvent::Admitted(_) | AuthEvent::Refused(_) | AuthEvent::PasswordChanged
        ) {
            self.gate.checking = false;
        }
        match event {
            AuthEvent::Prompt { registered } => {
                self.gate.registered = Some(registered);
                self.prompt();
            }
            AuthEvent::Admitted(what) => {
                self.gate.open = true;
                self.me
                    .logged_in
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                self.tell(what.color(Color::GREEN));
                tracing::info!(player = %self.me.name, "{what}");
                self.load_after_login();
            }
            AuthEvent::Refused(e) => self.tell(e.for_player().color(Color::RED)),
            AuthEvent::PasswordChanged => self.tell("Password changed".color(Color::GREEN)),
            AuthEvent::Record(stored) => return self.record_loaded(stored),
        }
        Ok(())
    }

    fn prompt(&mut self) {
        self.gate.last_prompt = Some(Instant::now());
        let text = match self.gate.registered {
            Some(true) => "Please log in: /login <password>",
            Some(false) => "Please register: /register <password> <password>",
            None => return,
        };
        self.tell(text.color(Color::GOLD));
    }

    /// Once a second: reminds, and ends sessions that never logged in.
    pub(super) fn gate_timer(&mut self) -> Result<(), End> {
        if self.gate.open {
            return Ok(());
        }
        if self.gate.since.elapsed() > LOGIN_TIMEOUT {
            return Err(End::Kick("Login timed out".into()));
        }
        if self
            .gate
            .last_prompt
            .is_some_and(|at| at.elapsed() >= PROMPT_EVERY)
        {
            self.prompt();
        }
        Ok(())
    }

    /// Puts a player who moved before logging in back where it stands.
    pub(super) fn hold_in_place(&mut self) {
        let teleport_id = self.frontend.world.next_teleport_id();
        self.teleport_pending = true;
        self.conn.queue(&PlayerPositionLookS2c {
            position: self.position,
            yaw: 0.0,
            pitch: 0.0,
            flags: PlayerPositionLookFlags::new()
                .with_y_rot(true)
                .with_x_rot(true),
            teleport_id: VarInt(teleport_id),
        });
    }

    /// `/register`, `/login` and `/changepassword`; `false` if `words` is none of them.
    pub(super) fn account_command(&mut self, words: &[&str]) -> bool {
        let auth = &self.frontend.auth;
        let Some(command) = parse_account_command(words, self.gate.open) else {
            return false;
        };
        if checked_by_service(words) && self.gate.checking {
            self.tell("Please wait: your last attempt is still being checked".color(Color::RED));
            return true;
        }
        let accounts = auth.accounts.clone();
        let (name, uuid) = (self.me.name.clone(), self.me.uuid.to_string());
        let address = self.address.clone();
        let tx = self.gate.sender.clone();
        match command {
            AccountCommand::Register { password, again } => {
                self.gate.checking = true;
                let (password, again) = (password.to_owned(), again.to_owned());
                tokio::spawn(async move {
                    let event = match accounts.register(&name, &uuid, &password, &again).await {
                        Ok(()) => AuthEvent::Admitted("Successfully registered"),
                        Err(e) => AuthEvent::Refused(e),
                    };
                    let _ = tx.send(event);
                });
            }
            AccountCommand::Login { password } => {
                self.gate.checking = true;
                let password = password.to_owned();
                tokio::spawn(async move {
                    let event = match accounts.login(&name, &password, &address).await {
                        Ok(()) => AuthEvent::Admitted("Successfully logged in"),
                        Err(e) => AuthEvent::Refused(e),
                    };
                    let _ = tx.send(event);
                });
            }
            AccountCommand::ChangePassword { old, new } => {
                self.gate.checking = true;
                let (old, new) = (old.to_owned(), new.to_owned());
                tokio::spawn(async move {
                    let event = match accounts.change_password(&name, &old, &new, &address).await {
                        Ok(()) => AuthEvent::PasswordChanged,
                        Err(e) => AuthEvent::Refused(e),
                    };
                    let _ = tx.send(event);
                });
            }
            AccountCommand::Usage(usage) => self.tell(usage.color(Color::RED)),
        }
        true
    }
}

/// What a `/register`, `/login` or `/changepassword` line asks of the gate.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AccountCommand<'a> {
    Register {
        password: &'a str,
        again: &'a str,
    },
    Login {
        password: &'a str,
    },
    ChangePassword {
        old: &'a str,
        new: &'a str,
    },
    /// Not one the player can run now, or with the wrong arguments: told this.
    Usage(&'static str),
}

/// The account command in `words`, for a player who has logged in (`open`)
/// or not; `None` if it is none of them.
pub(super) fn parse_account_command<'a>(
    words: &[&'a str],
    open: bool,
) -> Option<AccountCommand<'a>> {
    Some(match *words {
        ["register", password, again] if !open => AccountCommand::Register { password, again },
        ["login", password] if !open => AccountCommand::Login { password },
        ["changepassword", old, new] if open => AccountCommand::ChangePassword { old, new },
        [cmd @ ("register" | "login"), ..] => AccountCommand::Usage(if open {
            "You are already logged in"
        } else if cmd == "register" {
            "Usage: /register <password> <password>"
        } else {
            "Usage: /login <password>"
        }),
        ["changepassword", ..] => {
            AccountCommand::Usage("Usage: /changepassword <old password> <new password>")
        }
        _ => return None,
    })
}

/// Whether `words` has the shape of an attempt the service checks (a
/// password hash each): one at a time per connection.
fn checked_by_service(words: &[&str]) -> bool {
    matches!(words, ["register" | "changepassword", _, _] | ["login", _])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_commands_are_told_apart_by_gate_and_arguments() {
        use AccountCommand::*;
        assert_eq!(
            parse_account_command(&["register", "a", "a"], false),
            Some(Register {
                password: "a",
                again: "a"
            })
        );
        assert_eq!(
            parse_account_command(&["login", "pw"], false),
            Some(Login { password: "pw" })
        );
        assert_eq!(
            parse_account_command(&["login", "pw"], true),
            Some(Usage("You are already logged in"))
        );
        assert_eq!(
            parse_account_command(&["changepassword", "a", "b"], true),
            Some(ChangePassword { old: "a", new: "b" })
        );
        assert!(matches!(
            parse_account_command(&["register", "a"], false),
            Some(Usage(_))
        ));
        assert_eq!(parse_account_command(&["help"], false), None);
        assert_eq!(parse_account_command(&[], false), None);
        assert!(checked_by_service(&["login", "pw"]));
        assert!(!checked_by_service(&["login"]));
    }
}
