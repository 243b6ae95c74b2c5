//! Operations on players shared by the console and in-game commands.

use std::sync::Arc;

use tessera_world::messages::RegionMsg;
use valence_protocol::math::DVec3;
use valence_protocol::text::{Color, IntoText};
use valence_protocol::GameMode;

use crate::frontend::Frontend;
use crate::players::OnlinePlayer;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminError {
    #[error("No player was found named {0}")]
    NoSuchPlayer(String),
    #[error("Unknown game mode: {0}")]
    UnknownGameMode(String),
    #[error("Invalid coordinates: {0}")]
    BadCoordinates(String),
}

pub fn parse_game_mode(name: &str) -> Result<GameMode, AdminError> {
    match name.to_ascii_lowercase().as_str() {
        "survival" | "s" | "0" => Ok(GameMode::Survival),
        "creative" | "c" | "1" => Ok(GameMode::Creative),
        "adventure" | "a" | "2" => Ok(GameMode::Adventure),
        "spectator" | "sp" | "3" => Ok(GameMode::Spectator),
        _ => Err(AdminError::UnknownGameMode(name.to_owned())),
    }
}

pub fn game_mode_name(mode: GameMode) -> &'static str {
    match mode {
        GameMode::Survival => "Survival",
        GameMode::Creative => "Creative",
        GameMode::Adventure => "Adventure",
        GameMode::Spectator => "Spectator",
    }
}

/// Parses `x y z`, where `~` and `~n` are relative to `origin`.
pub fn parse_coordinates(args: &[&str], origin: DVec3) -> Result<DVec3, AdminError> {
    let bad = || AdminError::BadCoordinates(args.join(" "));
    let [x, y, z] = args else { return Err(bad()) };
    let axis = |text: &str, base: f64| -> Result<f64, AdminError> {
        let value = match text.strip_prefix('~') {
            Some("") => base,
            Some(offset) => base + offset.parse::<f64>().map_err(|_| bad())?,
            None => text.parse::<f64>().map_err(|_| bad())?,
        };
        value.is_finite().then_some(value).ok_or_else(bad)
    };
    let centre = |text: &str, v: f64| {
        if text.contains('.') || text.starts_with('~') {
            v
        } else {
            v + 0.5
        }
    };
    Ok(DVec3::new(
        centre(x, axis(x, origin.x)?),
        axis(y, origin.y)?,
        centre(z, axis(z, origin.z)?),
    ))
}

impl Frontend {
    pub fn find_player(&self, name: &str) -> Result<Arc<OnlinePlayer>, AdminError> {
        self.players
            .get(name)
            .ok_or_else(|| AdminError::NoSuchPlayer(name.to_owned()))
    }

    /// `There are N of a max of M players online: a, b`, as vanilla prints it.
    pub fn list_line(&self) -> String {
        let names: Vec<String> = self.all_names().into_iter().map(|(n, _)| n).collect();
        format!(
            "There are {} of a max of {} players online: {}",
            names.len(),
            self.players.max(),
            names.join(", ")
        )
    }

    pub fn say(&self, from: &str, text: &str) {
        self.broadcast_message(format!("[{from}] {text}").color(Color::LIGHT_PURPLE));
    }

    /// Disconnects a player, on this node or whichever node it is on.
    pub fn kick(&self, name: &str, reason: &str) -> Result<(), AdminError> {
        if let Some(remote) = self.directory.find(name) {
            self.directory.kick_remote(&remote, reason);
            return Ok(());
        }
        self.find_player(name)?.kick(&self.world, reason);
        Ok(())
    }

    /// Everyone online in the cluster, by name.
    pub fn all_names(&self) -> Vec<(String, uuid::Uuid)> {
        let mut names = self.players.names();
        names.extend(
            self.directory
                .remote_players()
                .into_iter()
                .map(|p| (p.name, p.uuid)),
        );
        names.sort();
        names
    }

    pub fn teleport(&self, name: &str, to: DVec3) -> Result<(), AdminError> {
        let player = self.find_player(name)?;
        let msg = RegionMsg::Teleport {
            entity: player.entity,
            to,
        };
        self.to_player_region(&player, msg);
        Ok(())
    }

    pub fn set_game_mode(&self, name: &str, mode: GameMode) -> Result<(), AdminError> {
        let player = self.find_player(name)?;
        let msg = RegionMsg::SetGameMode {
            entity: player.entity,
            mode,
        };
        self.to_player_region(&player, msg);
        Ok(())
    }

    fn to_player_region(&self, player: &OnlinePlayer, msg: RegionMsg) {
        if let Err(e) = self.world.to_region(player.owner(), msg) {
            tracing::warn!(player = %player.name, "command not delivered: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_may_be_relative_and_whole_blocks_are_centred() {
        let here = DVec3::new(10.0, 64.0, -3.0);
        assert_eq!(
            parse_coordinates(&["1", "70", "2"], here),
            Ok(DVec3::new(1.5, 70.0, 2.5))
        );
        assert_eq!(
            parse_coordinates(&["~", "~2", "~-1.5"], here),
            Ok(DVec3::new(10.0, 66.0, -4.5))
        );
        assert!(parse_coordinates(&["1", "2"], here).is_err());
        assert!(parse_coordinates(&["a", "2", "3"], here).is_err());
        assert!(parse_coordinates(&["NaN", "2", "3"], here).is_err());
    }

    #[test]
    fn game_modes_by_name_or_number() {
        assert_eq!(parse_game_mode("Creative"), Ok(GameMode::Creative));
        assert_eq!(parse_game_mode("3"), Ok(GameMode::Spectator));
        assert!(parse_game_mode("god").is_err());
    }
}
