//! Every command the server knows, once: its name, who may run it, where
//! it runs and how it is used. The console, RCON and the game read their
//! help, usage errors, permission checks and completion from here, so a
//! command cannot be known in one and forgotten in another.

/// Vanilla's permission levels: 0 for everyone, 2 for cheats (tp,
/// gamemode, time...), 3 for managing players (kick, bans, ops), 4 for
/// running the server (stop, saving), which the console always has.
pub const EVERYONE: u8 = 0;
pub const CHEAT_LEVEL: u8 = 2;
pub const MODERATOR_LEVEL: u8 = 3;
pub const OWNER_LEVEL: u8 = 4;

/// Where a command can be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In game (given the level) and on the console and RCON.
    Anywhere,
    /// Only in game: it acts on the player who types it.
    InGame,
    /// Only on the console and RCON: it acts on the node or the cluster.
    Console,
}

#[derive(Debug)]
pub struct CommandInfo {
    pub name: &'static str,
    /// Other names it answers to, as vanilla's and the login plugins' are.
    pub aliases: &'static [&'static str],
    /// The level a player needs in game; the console has them all.
    pub level: u8,
    pub place: Place,
    /// The arguments after the name, as vanilla's help writes them.
    pub arguments: &'static str,
}

impl CommandInfo {
    /// `/name arguments` in game, `name arguments` on the console.
    pub fn usage(&self, slash: bool) -> String {
        let slash = if slash { "/" } else { "" };
        if self.arguments.is_empty() {
            format!("{slash}{}", self.name)
        } else {
            format!("{slash}{} {}", self.name, self.arguments)
        }
    }

    fn offered_in_game(&self, level: u8) -> bool {
        self.place != Place::Console && level >= self.level
    }

    fn offered_on_console(&self) -> bool {
        self.place != Place::InGame
    }
}

const fn command(
    name: &'static str,
    level: u8,
    place: Place,
    arguments: &'static str,
) -> CommandInfo {
    CommandInfo {
        name,
        aliases: &[],
        level,
        place,
        arguments,
    }
}

impl CommandInfo {
    const fn or(self, aliases: &'static [&'static str]) -> Self {
        Self { aliases, ..self }
    }
}

use Place::{Anywhere, Console, InGame};

pub const COMMANDS: &[CommandInfo] = &[
    command("help", EVERYONE, Anywhere, "").or(&["?"]),
    command("list", EVERYONE, Anywhere, ""),
    command("msg", EVERYONE, Anywhere, "<player> <message>").or(&["tell", "w"]),
    command("spawn", EVERYONE, InGame, ""),
    command("register", EVERYONE, InGame, "<password> <password>").or(&["reg"]),
    command("login", EVERYONE, InGame, "<password>").or(&["l"]),
    command("changepassword", EVERYONE, InGame, "<old> <new>"),
    command(
        "tp",
        CHEAT_LEVEL,
        Anywhere,
        "[<player>] <x> <y> <z> | [<player>] <target>",
    )
    .or(&["teleport"]),
    command(
        "gamemode",
        CHEAT_LEVEL,
        Anywhere,
        "<survival|creative|adventure|spectator> [<player>]",
    ),
    command("say", CHEAT_LEVEL, Anywhere, "<message>"),
    command(
        "time",
        CHEAT_LEVEL,
        Anywhere,
        "set <day|noon|night|midnight|<ticks>> | add <ticks> | query <daytime|gametime|day>",
    ),
    command(
        "weather",
        CHEAT_LEVEL,
        Anywhere,
        "<clear|rain|thunder> [<seconds>]",
    ),
    command(
        "difficulty",
        CHEAT_LEVEL,
        Anywhere,
        "[<peaceful|easy|normal|hard>]",
    ),
    command("kick", MODERATOR_LEVEL, Anywhere, "<player> [<reason>]"),
    command("ban", MODERATOR_LEVEL, Anywhere, "<player> [<reason>]"),
    command("pardon", MODERATOR_LEVEL, Anywhere, "<player>"),
    command("ban-ip", MODERATOR_LEVEL, Anywhere, "<address> [<reason>]"),
    command("pardon-ip", MODERATOR_LEVEL, Anywhere, "<address>"),
    command(
        "whitelist",
        MODERATOR_LEVEL,
        Anywhere,
        "on | off | list | add <player> | remove <player>",
    ),
    command("op", MODERATOR_LEVEL, Anywhere, "<player>"),
    command("deop", MODERATOR_LEVEL, Anywhere, "<player>"),
    command("users", MODERATOR_LEVEL, Anywhere, "[<player>]"),
    command("save-all", OWNER_LEVEL, Console, ""),
    command("save-off", OWNER_LEVEL, Console, ""),
    command("save-on", OWNER_LEVEL, Console, ""),
    command("import", OWNER_LEVEL, Console, "<folder>"),
    command("export", OWNER_LEVEL, Console, "<folder>"),
    command("nodes", OWNER_LEVEL, Console, ""),
    command("regions", OWNER_LEVEL, Console, "[<node id>]"),
    command("handoff", OWNER_LEVEL, Console, "<r.x.z> <node id>"),
    command("drain", OWNER_LEVEL, Console, "<node id>"),
    command("undrain", OWNER_LEVEL, Console, "<node id>"),
    command("stop", OWNER_LEVEL, Console, ""),
];

/// The command a name or an alias names.
pub fn find(name: &str) -> Option<&'static CommandInfo> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// A command line's words, its first one the command's own name if it is
/// an alias: every place that runs commands takes lines apart here, so
/// an alias runs, is checked and is kept out of the log as its command.
pub fn words(line: &str) -> Vec<&str> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    if let Some(first) = words.first_mut() {
        if let Some(command) = find(first) {
            *first = command.name;
        }
    }
    words
}

/// The level a command needs in game, if it needs one; `None` for commands
/// anyone may run and for unknown ones (which fail as unknown).
pub fn required_level(name: &str) -> Option<u8> {
    find(name)
        .filter(|c| c.place != Place::Console && c.level > EVERYONE)
        .map(|c| c.level)
}

/// The commands a player of `level` may type, in table order.
pub fn in_game(level: u8) -> impl Iterator<Item = &'static CommandInfo> {
    COMMANDS.iter().filter(move |c| c.offered_in_game(level))
}

/// The commands the console and RCON run, in table order.
pub fn on_console() -> impl Iterator<Item = &'static CommandInfo> {
    COMMANDS.iter().filter(|c| c.offered_on_console())
}

/// What `help` prints: one usage line per command.
pub fn help(commands: impl Iterator<Item = &'static CommandInfo>, slash: bool) -> String {
    let lines: Vec<String> = commands.map(|c| c.usage(slash)).collect();
    lines.join("\n")
}

/// The answer to a known command typed with the wrong arguments.
pub fn usage_error(name: &str, slash: bool) -> Option<String> {
    find(name).map(|c| format!("Usage: {}", c.usage(slash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn cheats_need_level_two_and_moderation_level_three() {
        for name in ["tp", "gamemode", "say", "time", "weather", "difficulty"] {
            assert_eq!(required_level(name), Some(CHEAT_LEVEL), "{name}");
        }
        for name in [
            "kick",
            "ban",
            "ban-ip",
            "pardon",
            "pardon-ip",
            "whitelist",
            "op",
            "deop",
            "users",
        ] {
            assert_eq!(required_level(name), Some(MODERATOR_LEVEL), "{name}");
        }
        for name in [
            "help", "list", "msg", "spawn", "register", "login", "stop", "drain", "nope",
        ] {
            assert_eq!(required_level(name), None, "{name}");
        }
    }

    #[test]
    fn players_are_offered_their_level_and_the_console_the_rest() {
        let names = |level| -> Vec<&str> { in_game(level).map(|c| c.name).collect() };
        assert_eq!(
            names(0),
            [
                "help",
                "list",
                "msg",
                "spawn",
                "register",
                "login",
                "changepassword"
            ]
        );
        assert_eq!(names(1), names(0));
        assert!(names(2).contains(&"time") && !names(2).contains(&"kick"));
        assert_eq!(names(4), names(3));
        assert!(!names(4).contains(&"stop"), "stop is the console's");
        let console: Vec<&str> = on_console().map(|c| c.name).collect();
        assert!(console.contains(&"stop") && console.contains(&"time"));
        assert!(!console.contains(&"spawn") && !console.contains(&"login"));
    }

    #[test]
    fn an_alias_is_its_command_wherever_it_is_typed() {
        assert_eq!(words("teleport Alex 1 2 3"), ["tp", "Alex", "1", "2", "3"]);
        assert_eq!(words("  tell Alex hi "), ["msg", "Alex", "hi"]);
        assert_eq!(words("l secret"), ["login", "secret"]);
        assert_eq!(words("nope x"), ["nope", "x"]);
        assert_eq!(required_level("teleport"), Some(CHEAT_LEVEL));
        assert_eq!(
            words("msg l"),
            ["msg", "l"],
            "only the first word is a command"
        );
        let mut every: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .collect();
        let count = every.len();
        every.sort_unstable();
        every.dedup();
        assert_eq!(every.len(), count, "no name or alias is two commands");
    }

    #[test]
    fn usage_is_written_as_vanilla_help_does() {
        assert_eq!(
            usage_error("weather", true).as_deref(),
            Some("Usage: /weather <clear|rain|thunder> [<seconds>]")
        );
        assert_eq!(
            usage_error("drain", false).as_deref(),
            Some("Usage: drain <node id>")
        );
        assert_eq!(usage_error("nope", false), None);
        assert!(help(in_game(0), true).starts_with("/help\n/list\n/msg <player> <message>"));
    }
}
