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
use crate::admin_commands::whisper;
use crate::command_table::{self, required_level, usage_error};

/// What `/help` says to a player of this level.
fn help(level: u8) -> String {
    command_table::help(command_table::in_game(level), true)
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

/// What may follow a command's name in the client's tree.
fn arguments(name: &str) -> (bool, Vec<Spec>) {
    let player = || Parser::Entity {
        single: true,
        only_players: true,
    };
    let players = || Parser::Entity {
        single: false,
        only_players: true,
    };
    let profile = || vec![argument("targets", Parser::GameProfile, true, vec![])];
    let greedy = |name| argument(name, Parser::String(StringArg::GreedyPhrase), true, vec![]);
    let word = || Parser::String(StringArg::SingleWord);
    let ticks = || Parser::Integer {
        min: Some(0),
        max: None,
    };
    let words = |names: &[&'static str]| -> Vec<Spec> {
        names.iter().map(|n| literal(n, true, vec![])).collect()
    };
    match name {
        "msg" => (
            false,
            vec![argument(
                "targets",
                player(),
                false,
                vec![greedy("message")],
            )],
        ),
        "register" => (
            false,
            vec![argument(
                "password",
                word(),
                false,
                vec![argument("confirm", word(), true, vec![])],
            )],
        ),
        "login" => (false, vec![argument("password", word(), true, vec![])]),
        "changepassword" => (
            false,
            vec![argument(
                "old",
                word(),
                false,
                vec![argument("new", word(), true, vec![])],
            )],
        ),
        "tp" => (
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
        "gamemode" => (
            false,
            vec![argument(
                "gamemode",
                Parser::GameMode,
                true,
                vec![argument("target", player(), true, vec![])],
            )],
        ),
        "say" => (false, vec![greedy("message")]),
        "time" => {
            let mut set = words(&["day", "noon", "night", "midnight"]);
            set.push(argument("time", ticks(), true, vec![]));
            (
                false,
                vec![
                    literal("set", false, set),
                    literal("add", false, vec![argument("time", ticks(), true, vec![])]),
                    literal("query", false, words(&["daytime", "gametime", "day"])),
                ],
            )
        }
        "weather" => {
            let kind = |name| {
                literal(
                    name,
                    true,
                    vec![argument("duration", ticks(), true, vec![])],
                )
            };
            (false, vec![kind("clear"), kind("rain"), kind("thunder")])
        }
        "difficulty" => (true, words(&["peaceful", "easy", "normal", "hard"])),
        "kick" => (
            false,
            vec![argument("targets", players(), true, vec![greedy("reason")])],
        ),
        "ban" => (
            false,
            vec![argument(
                "targets",
                Parser::GameProfile,
                true,
                vec![greedy("reason")],
            )],
        ),
        "ban-ip" => (
            false,
            vec![argument("target", word(), true, vec![greedy("reason")])],
        ),
        "pardon-ip" => (false, vec![argument("target", word(), true, vec![])]),
        "pardon" | "op" | "deop" => (false, profile()),
        "whitelist" => {
            let mut choices = words(&["on", "off", "list"]);
            choices.push(literal("add", false, profile()));
            choices.push(literal("remove", false, profile()));
            (false, choices)
        }
        "users" => (true, vec![argument("name", word(), true, vec![])]),
        _ => (true, vec![]),
    }
}

/// The command tree for a player of `level`: sent at join and again when
/// the player's op level changes. It offers what the command table gives
/// that level, so the client completes nothing the server would refuse.
pub fn command_tree(level: u8) -> CommandTreeS2c<'static> {
    let mut nodes = vec![Node {
        children: Vec::new(),
        data: NodeData::Root,
        executable: false,
        redirect_node: None,
    }];
    let mut children = Vec::new();
    for command in command_table::in_game(level) {
        let (executable, arguments) = arguments(command.name);
        let index = flatten(literal(command.name, executable, arguments), &mut nodes);
        children.push(VarInt(index));
        // An alias is a node that redirects to its command, as vanilla's are.
        for alias in command.aliases {
            children.push(VarInt(nodes.len() as i32));
            nodes.push(Node {
                children: Vec::new(),
                data: NodeData::Literal { name: alias },
                executable,
                redirect_node: Some(VarInt(index)),
            });
        }
    }
    nodes[0].children = children;
    CommandTreeS2c {
        commands: nodes,
        root_index: VarInt(0),
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
        let shown = match command_table::words(line).first() {
            Some(cmd @ (&"register" | &"login" | &"changepassword")) => cmd,
            _ => line,
        };
        tracing::info!(target: "commands", player = %self.me.name, "/{shown}");
        if let Err(why) = self.command(line) {
            self.tell(why.color(Color::RED));
        }
    }

    fn command(&mut self, line: &str) -> Result<(), String> {
        let words = command_table::words(line);
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
                let shown = whisper(&frontend, &name, target, &message.join(" ")).map_err(text)?;
                self.tell(shown.color(Color::GRAY).italic());
            }
            [first, ..] => {
                return Err(usage_error(first, true)
                    .filter(|_| command_table::in_game(0).any(|c| c.name == *first))
                    .unwrap_or_else(|| unknown_command(line)))
            }
            [] => return Err(unknown_command(line)),
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

    fn names(level: u8) -> Vec<&'static str> {
        let tree = command_tree(level);
        let root = &tree.commands[tree.root_index.0 as usize];
        root.children
            .iter()
            .filter_map(|c| match tree.commands[c.0 as usize].data {
                NodeData::Literal { name } => Some(name),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_tree_offers_what_the_table_gives_each_level() {
        for level in 0..=4 {
            let table: Vec<&str> = command_table::in_game(level)
                .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
                .collect();
            assert_eq!(names(level), table, "level {level}");
        }
        assert!(names(0).contains(&"msg") && !names(0).contains(&"tp"));
        assert!(names(2).contains(&"time") && !names(2).contains(&"kick"));
        assert!(names(3).contains(&"whitelist"));
        assert!(names(0).contains(&"tell") && !names(0).contains(&"teleport"));
    }

    #[test]
    fn an_alias_redirects_to_its_command() {
        let tree = command_tree(2);
        let index_of = |wanted: &str| {
            tree.commands
                .iter()
                .position(|n| matches!(n.data, NodeData::Literal { name } if name == wanted))
                .unwrap()
        };
        let teleport = &tree.commands[index_of("teleport")];
        assert_eq!(teleport.redirect_node, Some(VarInt(index_of("tp") as i32)));
        assert!(teleport.children.is_empty());
    }

    #[test]
    fn every_command_in_the_tree_can_be_completed_to_an_executable_node() {
        let tree = command_tree(4);
        fn reaches_executable(tree: &CommandTreeS2c, index: usize) -> bool {
            let node = &tree.commands[index];
            node.executable
                || node
                    .children
                    .iter()
                    .chain(&node.redirect_node)
                    .any(|c| reaches_executable(tree, c.0 as usize))
        }
        let root = &tree.commands[tree.root_index.0 as usize];
        for child in &root.children {
            assert!(reaches_executable(&tree, child.0 as usize), "{child:?}");
        }
    }
}
