//! The operator's console on standard input, with vanilla's command names.

use std::sync::Arc;

use std::fmt::Write;

use std::io::IsTerminal;

use tessera_cluster::placement::RegionKey;
use tessera_cluster::transport::NodeId;
use tessera_net::command_table;
use tokio::sync::mpsc;

use crate::console_terminal::LogOutput;
use crate::node::Node;

/// Regions `regions` lists one by one; beyond that it only counts.
const REGIONS_LISTED: usize = 64;

/// Lines typed on standard input, read on a thread of their own. tokio's
/// stdin reads on its blocking pool, and a runtime waits for that pool when
/// it shuts down: a SIGTERM while stdin was an open pipe or terminal logged
/// "stopping" and then hung until a line came. A plain thread is not waited
/// for; the process exits when `main` returns.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (lines, receiver) = mpsc::channel(16);
    let reader = std::thread::Builder::new()
        .name("console".into())
        .spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if lines.blocking_send(line).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = reader {
        tracing::warn!("no console: cannot start its thread: {e}");
    }
    receiver
}

/// What the console loop should do after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    Stop,
}

/// Runs one of the console's own commands and returns what to print and
/// whether to stop.
async fn execute(node: &Node, line: &str) -> (String, Next) {
    let frontend = &node.frontend;
    let words = command_table::words(line);
    let output = match words.as_slice() {
        ["nodes"] => nodes(node),
        ["regions"] => regions(node, None),
        ["regions", id] => match id.parse::<u64>() {
            Ok(id) => regions(node, Some(id)),
            Err(_) => format!("Not a node id: {id}"),
        },
        ["handoff", region, to] => match (parse_region(region), parse_node(to)) {
            (Some(region), Some(to)) => cluster_command(node, |c| c.hand_off(region, to)).await,
            (None, _) => format!(
                "Not a region: {region} (regions are written r.<x>.<z>, as `regions` lists them)"
            ),
            (_, None) => format!("Not a node id: {to}"),
        },
        ["drain", id] => match parse_node(id) {
            Some(id) => cluster_command(node, |c| c.drain(id)).await,
            None => format!("Not a node id: {id}"),
        },
        ["undrain", id] => match parse_node(id) {
            Some(id) => cluster_command(node, |c| c.undrain(id)).await,
            None => format!("Not a node id: {id}"),
        },
        [] => String::new(),
        ["help"] => command_table::help(command_table::on_console(), false),
        ["list"] => frontend.list_line(),
        ["stop"] => return ("Stopping the server".to_owned(), Next::Stop),
        [command, ..] => match command_table::find(command) {
            Some(known) if known.place != command_table::Place::InGame => {
                format!("Usage: {}", known.usage(false))
            }
            Some(_) => format!("{command} is typed in game: it acts on the player who types it"),
            None => format!("Unknown or incomplete command: {command}. Type help for help"),
        },
    };
    (output, Next::Continue)
}

/// `r.1.-2`, as `regions` lists regions and region files are named.
fn parse_region(text: &str) -> Option<RegionKey> {
    let rest = text.strip_prefix("r.")?;
    let (x, z) = rest.split_once('.')?;
    Some(RegionKey {
        x: x.parse().ok()?,
        z: z.parse().ok()?,
    })
}

fn parse_node(text: &str) -> Option<NodeId> {
    text.parse().ok().map(NodeId)
}

/// Runs a command on the cluster, or says there is none.
async fn cluster_command<'a, F, Fut>(node: &'a Node, command: F) -> String
where
    F: FnOnce(&'a crate::cluster::Cluster) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    match &node.cluster {
        Some(cluster) => command(cluster)
            .await
            .unwrap_or_else(|e| format!("Failed: {e}")),
        None => "This node is not in a cluster: its regions have nowhere to go".to_owned(),
    }
}

/// Every node: its state, the regions it owns and the players on it.
fn nodes(node: &Node) -> String {
    let local_players = node.frontend.players.count();
    let Some(cluster) = &node.cluster else {
        return format!(
            "1 node (no cluster): node {} alive, {} regions, {local_players} players",
            node.world.node(),
            node.world.region_count()
        );
    };
    let table = cluster.placement.table();
    let remote = node.frontend.directory.remote_players();
    let members = cluster.membership.members();
    let mut out = format!(
        "{} nodes; placement leader: {:?}",
        members.len(),
        cluster.placement.leader().map(|n| n.0)
    );
    for member in members {
        let id = member.id;
        let players = if id == node.world.node() {
            local_players
        } else {
            remote.iter().filter(|p| p.node == id).count()
        };
        let regions = table.regions_of(member.id).count();
        let _ = write!(
            out,
            "\nnode {id} at {}: {:?}, {regions} regions, {players} players",
            member.addr, member.state
        );
    }
    out
}

/// Which node owns which region, under which epoch; only `only`'s regions
/// when a node is named.
fn regions(node: &Node, only: Option<u64>) -> String {
    let Some(cluster) = &node.cluster else {
        let mut local = node.world.local_regions();
        local.sort();
        let listed: Vec<String> = local
            .iter()
            .take(REGIONS_LISTED)
            .map(|r| r.to_string())
            .collect();
        return format!(
            "{} regions, all on this node: {}",
            local.len(),
            listed.join(", ")
        );
    };
    let table = cluster.placement.table();
    let mut per_node: std::collections::BTreeMap<u64, usize> = Default::default();
    for (_, owner) in table.regions() {
        *per_node.entry(owner.node.0).or_default() += 1;
    }
    let all: Vec<_> = table
        .regions()
        .filter(|(_, owner)| only.is_none_or(|id| owner.node.0 == id))
        .collect();
    let counts: Vec<String> = per_node
        .iter()
        .map(|(n, c)| format!("node {n}: {c}"))
        .collect();
    let mut out = format!("{} regions placed ({})", all.len(), counts.join(", "));
    for (key, owner) in all.iter().take(REGIONS_LISTED) {
        let _ = write!(
            out,
            "\nr.{}.{} -> node {} (epoch {})",
            key.x, key.z, owner.node.0, owner.epoch
        );
    }
    if all.len() > REGIONS_LISTED {
        let _ = write!(out, "\n... and {} more", all.len() - REGIONS_LISTED);
    }
    out
}

/// Runs one line as the console does: the account and shared operator
/// commands first, then the console's own. RCON runs its commands through
/// here, so both offer the same commands with the same output.
pub async fn run_line(node: &Node, line: &str) -> (String, Next) {
    let words = command_table::words(line);
    match crate::console_accounts::execute(node, &words).await {
        Some(output) => (output, Next::Continue),
        None => execute(node, line).await,
    }
}

/// Reads commands until `stop`. End of input leaves the server running: a
/// server started without a terminal is stopped by a signal instead.
pub async fn run(node: Arc<Node>, log: LogOutput) {
    let terminal = std::io::stdin().is_terminal().then(|| {
        let frontend = node.frontend.clone();
        let players = Arc::new(move || {
            frontend
                .players
                .names()
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        });
        let names = command_table::on_console().map(|c| c.name).collect();
        crate::console_terminal::lines(&log, names, players)
    });
    let mut lines = terminal.flatten().unwrap_or_else(stdin_lines);
    while let Some(line) = lines.recv().await {
        let (output, next) = run_line(&node, &line).await;
        if !output.is_empty() {
            log.print(output);
        }
        if next == Next::Stop {
            return;
        }
    }
    std::future::pending::<()>().await;
}
