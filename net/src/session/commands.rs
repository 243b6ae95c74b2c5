//! Commands players type: the tree the client completes from, and running them.

use tessera_world::messages::RegionMsg;
use valence_protocol::packets::play::command_tree_s2c::{Node, NodeData, Parser, StringArg};
use valence_protocol::packets::play::CommandTreeS2c;
use valence_protocol::text::{Color, IntoText};
use valence_protocol::{Text, VarInt};

use super::Session;
use crate::admin::{game_mode_name, parse_coordinates, parse_game_mode, AdminError};

const HELP: &str = "Commands: /help, /list, /tp <x> <y> <z> | <player>, \
                    /gamemode <survival|creative|adventure|spectator>, /msg <player> <message>, /spawn";

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

/// The command tree sent at join, so the client completes and checks commands.
pub fn command_tree() -> CommandTreeS2c<'static> {
    let player = || Parser::Entity {
        single: true,
        only_players: true,
    };
    let root = Spec {
        data: NodeData::Root,
        executable: false,
        children: vec![
            literal("help", true, vec![]),
            literal("list", true, vec![]),
            literal("spawn", true, vec![]),
            literal(
                "tp",
                false,
                vec![
                    argument("location", Parser::Vec3, true, vec![]),
                    argument("destination", player(), true, vec![]),
                ],
            ),
            literal(
                "gamemode",
                false,
                vec![argument("gamemode", Parser::GameMode, true, vec![])],
            ),
            literal(
                "msg",
                false,
                vec![argument(
                    "targets",
                    player(),
                    false,
                    vec![argument(
                        "message",
                        Parser::String(StringArg::GreedyPhrase),
                        true,
                        vec![],
                    )],
                )],
            ),
        ],
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
        let frontend = self.frontend.clone();
        let name = self.me.name.clone();
        match words.as_slice() {
            ["help"] => self.tell(HELP.into_text()),
            ["list"] => self.tell(frontend.list_line().into_text()),
            ["spawn"] => frontend
                .teleport(&name, frontend.world.spawn_point())
                .map_err(text)?,
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
            _ => {
                return Err(format!(
                    "Unknown or incomplete command: /{line}. Type /help for help"
                ))
            }
        }
        Ok(())
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
        let tree = command_tree();
        let root = &tree.commands[tree.root_index.0 as usize];
        let names: Vec<&str> = root
            .children
            .iter()
            .filter_map(|c| match tree.commands[c.0 as usize].data {
                NodeData::Literal { name } => Some(name),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["help", "list", "spawn", "tp", "gamemode", "msg"]);
    }
}
