//! Commands players type: the tree the client completes from, and running
//! them. Operator commands need vanilla's permission level (see
//! `admin_commands::required_level`); the tree offers only what the player
//! may run, and a player below the level is told the command is unknown,
//! as vanilla does.

use tessera_world::messages::RegionMsg;
use valence_protocol::packets::play::command_tree_s2c::{Node, NodeData, Parser, StringArg};
use valence_protocol::packets::play::CommandTreeS2c;
use valence_protocol::text::{Color, IntoText};
use valence_protocol::{Text, VarInt};

use super::Session;
use crate::admin::{game_mode_name, parse_coordinates, parse_game_mode, AdminError};
use crate::admin_commands::{required_level, CHEAT_LEVEL, MODERATOR_LEVEL};

const HELP: &str = "Commands: /help, /list, /msg <player> <message>, /spawn, \
                    /changepassword <old> <new>";
const CHEAT_HELP: &str = "Operator commands: /tp <x> <y> <z> | <player> | <player> <target>, \
                          /gamemode <survival|creative|adventure|spectator> [player], /say <message>";
const MODERATOR_HELP: &str = "/kick <player> [reason], /ban <player> [reason], /pardon <player>, \
                              /ban-ip <address> [reason], /pardon-ip <address>, \
                              /whitelist on|off|add|remove|list, /op <player>, /deop <player>, \
                              /users [player]";

/// What `/help` says to a player of this level.
fn help(level: u8) -> String {
    let mut help = HELP.to_owned();
    if level >= CHEAT_LEVEL {
        help = format!("{help}\n{CHEAT_HELP}");
    }
    if level >= MODERATOR_LEVEL {
        help = format!("{help}, {MODERATOR_HELP}");
    }
    help
}

pub(super) fn unknown_command(line: &str) -> String {
    format!("Unknown or incomplete command: /{line}. Type /help for help")
}

/// A literal or argument node and what may follow it.
struct Spec {
    data: NodeData<'static>,
    executable: bool,
    children: Vec<Spec>,
}

fn literal(name: &'static str, executable: bool, children: Vec<Spec>) -> Spec {
    Spec {
        data: NodeData::Literal { name },
        executable,
        children,
    }
}

fn argument(
    name: &'static str,
    parser: Parser<'static>,
    executable: bool,
    children: Vec<Spec>,
) -> Spec {
    Spec {
        data: NodeData::Argument {
            name,
            parser,
            suggestion: None,
        },
        executable,
        children,
    }
}

fn flatten(spec: Spec, nodes: &mut Vec<Node<'static>>) -> i32 {
    let index = nodes.len();
    nodes.push(Node {
        children: Vec::new(),
        data: spec.data,
        executable: spec.executable,
        redirect_node: None,
    });
    let children = spec
        .children
        .into_iter()
        .map(|c| VarInt(flatten(c, nodes)))
        .collect();
    nodes[index].children = children;
    index as i32
}

/// The command tree for a player of `level`: sent at join and again when
/// the player's op level changes.
pub fn command_tree(level: u8) -> CommandTreeS2c<'static> {
    let player = || Parser::Entity {
        single: true,
        only_players: true,
    };
    let players = || Parser::Entity {
        single: false,
        only_players: true,
    };
    let profile = || argument("targets", Parser::GameProfile, true, vec![]);
    let greedy = |name| argument(name, Parser::String(StringArg::GreedyPhrase), true, vec![]);
    let word = || Parser::String(StringArg::SingleWord);
    let everyone = vec![
        literal("help", true, vec![]),
        literal("list", true, vec![]),
        literal("spawn", true, vec![]),
        literal(
            "msg",
            false,
            vec![argument(
                "targets",
                player(),
                false,
                vec![greedy("message")],
            )],
        ),
    ];
    let cheats = vec![
        literal(
            "tp",
            false,
            vec![
                argument("location", Parser::Vec3, true, vec![]),
                argument(
                    "destination",
                    player(),
                    true,
                    vec![
                        argument("location", Parser::Vec3, true, vec![]),
                        argument("destination", player(), true, vec![]),
                    ],
                ),
            ],
        ),
        literal(
            "gamemode",
            false,
            vec![argument(
                "gamemode",
                Parser::GameMode,
                true,
                vec![argument("target", player(), true, vec![])],
            )],
        ),
        literal("say", false, vec![greedy("message")]),
    ];
    let moderation = vec![
        literal(
            "kick",
            false,
            vec![argument("targets", players(), true, vec![greedy("reason")])],
        ),
        literal(
            "ban",
            false,
            vec![argument(
                "targets",
                Parser::GameProfile,
                true,
                vec![greedy("reason")],
            )],
        ),
        literal(
            "ban-ip",
            false,
            vec![argument("target", word(), true, vec![greedy("reason")])],
        ),
        literal("pardon", false, vec![profile()]),
        literal(
            "pardon-ip",
            false,
            vec![argument("target", word(), true, vec![])],
        ),
        literal("op", false, vec![profile()]),
        literal("deop", false, vec![profile()]),
        literal(
            "whitelist",
            false,
            vec![
                literal("on", true, vec![]),
                literal("off", true, vec![]),
                literal("list", true, vec![]),
                literal("add", false, vec![profile()]),
                literal("remove", false, vec![profile()]),
            ],
        ),
        literal("users", true, vec![argument("name", word(), true, vec![])]),
    ];
    let mut children = everyone;
    if level >= CHEAT_LEVEL {
        children.extend(cheats);
    }
    if level >= MODERATOR_LEVEL {
        children.extend(moderation);
    }
    let root = Spec {
        data: NodeData::Root,
        executable: false,
        children,
    };
    let mut nodes = Vec::new();
    let root_index = flatten(root, &mut nodes);
    CommandTreeS2c {
        commands: nodes,
        root_index: VarInt(root_index),
    }
}

impl Session {
    pub(super) fn tell(&mut self, text: Text) {
        self.conn
            .queue(&valence_protocol::packets::play::GameMessageS2c {
                chat: std::borrow::Cow::Owned(text),
                overlay: false,
            });
    }

    pub(super) fn run_command(&mut self, line: &str) {
        // Account commands carry passwords: only their name is logged.
        let shown = match line.split_whitespace().next() {
            Some(cmd @ ("register" | "login" | "changepassword")) => cmd,
            _ => line,
        };
        tracing::info!(target: "commands", player = %self.me.name, "/{shown}");
        if let Err(why) = self.command(line) {
            self.tell(why.color(Color::RED));
        }
    }

    fn command(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        if self.account_command(&words) {
            return Ok(());
        }
        if !self.gate.open {
            return Err("Please log in first".into());
        }
        if words.first().is_some_and(|w| required_level(w).is_some()) {
            self.check_permission(line);
            return Ok(());
        }
        let frontend = self.frontend.clone();
        let name = self.me.name.clone();
        match words.as_slice() {
            ["help"] => self.tell(help(self.permissions.level()).into_text()),
            ["list"] => self.tell(frontend.list_line().into_text()),
            ["spawn"] => frontend
                .teleport(&name, frontend.world.spawn_point())
                .map_err(text)?,
            ["msg", target, message @ ..] if !message.is_empty() => {
                let target = frontend.find_player(target).map_err(text)?;
                let message = message.join(" ");
                let whisper = format!("{name} whispers to you: {message}")
                    .color(Color::GRAY)
                    .italic();
                frontend.players.tell(&target, whisper);
                self.tell(
                    format!("You whisper to {}: {message}", target.name)
                        .color(Color::GRAY)
                        .italic(),
                );
            }
            _ => return Err(unknown_command(line)),
        }
        Ok(())
    }

    /// Runs the operator commands that act on the player itself, once its
    /// level is checked; `Ok(false)` if `words` is none of them.
    pub(super) fn own_command(&mut self, words: &[&str]) -> Result<bool, String> {
        let frontend = self.frontend.clone();
        let name = self.me.name.clone();
        match words {
            ["tp", target] => {
                let to = frontend.find_player(target).map_err(text)?.position();
                frontend.teleport(&name, to).map_err(text)?;
                self.tell(format!("Teleported {name} to {target}").into_text());
            }
            ["tp", coordinates @ ..] if coordinates.len() == 3 => {
                let to = parse_coordinates(coordinates, self.position).map_err(text)?;
                frontend.teleport(&name, to).map_err(text)?;
                self.tell(
                    format!("Teleported {name} to {:.1}, {:.1}, {:.1}", to.x, to.y, to.z)
                        .into_text(),
                );
            }
            ["gamemode", mode] => {
                let mode = parse_game_mode(mode).map_err(text)?;
                self.to_owner(RegionMsg::SetGameMode {
                    entity: self.me.entity,
                    mode,
                });
                self.tell(
                    format!("Set own game mode to {} Mode", game_mode_name(mode)).into_text(),
                );
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn text(e: AdminError) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_names_every_command_under_the_root() {
        let tree = command_tree(0);
        let root = &tree.commands[tree.root_index.0 as usize];
        let names: Vec<&str> = root
            .children
            .iter()
            .filter_map(|c| match tree.commands[c.0 as usize].data {
                NodeData::Literal { name } => Some(name),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["help", "list", "spawn", "msg"]);
    }

    #[test]
    fn operators_are_offered_the_commands_of_their_level() {
        let names = |level| -> Vec<&'static str> {
            let tree = command_tree(level);
            let root = &tree.commands[tree.root_index.0 as usize];
            root.children
                .iter()
                .filter_map(|c| match tree.commands[c.0 as usize].data {
                    NodeData::Literal { name } => Some(name),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(names(1), names(0));
        assert_eq!(
            names(2),
            ["help", "list", "spawn", "msg", "tp", "gamemode", "say"]
        );
        let all = names(4);
        assert_eq!(names(3), all);
        for command in all {
            let needed = required_level(command).unwrap_or(0);
            assert!(needed <= 3, "{command}");
        }
        for command in [
            "kick",
            "ban",
            "ban-ip",
            "pardon",
            "pardon-ip",
            "op",
            "deop",
            "whitelist",
            "users",
        ] {
            assert!(
                names(3).contains(&command) && !names(2).contains(&command),
                "{command}"
            );
        }
    }
}
