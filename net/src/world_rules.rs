//! The world's rules every node follows: the time of day, weather,
//! difficulty and automatic saving as the cluster's `world` record has them
//! (see `register_watch`). The sky is sent to this node's players when it
//! changes and to each player at join.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tessera_auth::accounts::now_ms;
use tessera_auth::accounts::records::{DaySet, Weather, WorldRules};
use tessera_world::framing::Framing;
use tokio::sync::watch;
use tracing::info;
use valence_protocol::packets::play::game_state_change_s2c::GameEventKind;
use valence_protocol::packets::play::{DifficultyS2c, GameStateChangeS2c};
use valence_protocol::Difficulty;

use crate::frontend::Frontend;

/// Vanilla's difficulties by their level.dat number.
const DIFFICULTIES: [(&str, Difficulty); 4] = [
    ("peaceful", Difficulty::Peaceful),
    ("easy", Difficulty::Easy),
    ("normal", Difficulty::Normal),
    ("hard", Difficulty::Hard),
];

/// The level.dat number of a difficulty name (vanilla also takes the number).
pub fn parse_difficulty(name: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase();
    (0u8..)
        .zip(DIFFICULTIES)
        .find(|(n, (word, _))| *word == name || n.to_string() == name)
        .map(|(n, _)| n)
}

/// "Normal" for 2; out-of-range numbers read as hard, as vanilla clamps.
pub fn difficulty_name(number: u8) -> String {
    let (word, _) = DIFFICULTIES[usize::from(number.min(3))];
    let mut name = word.to_owned();
    name[..1].make_ascii_uppercase();
    name
}

fn difficulty_packet(framing: &Framing, number: u8) -> Bytes {
    let (_, difficulty) = DIFFICULTIES[usize::from(number.min(3))];
    framing.frame(&DifficultyS2c {
        difficulty,
        locked: false,
    })
}

/// What tells a client the weather changed to `weather`.
fn weather_packets(framing: &Framing, weather: Weather) -> Bytes {
    let event = |kind, value| framing.frame(&GameStateChangeS2c { kind, value });
    let (begin, rain, thunder) = match weather {
        Weather::Clear => (GameEventKind::EndRaining, 0.0, 0.0),
        Weather::Rain => (GameEventKind::BeginRaining, 1.0, 0.0),
        Weather::Thunder => (GameEventKind::BeginRaining, 1.0, 1.0),
    };
    [
        event(begin, 0.0),
        event(GameEventKind::RainLevelChange, rain),
        event(GameEventKind::ThunderLevelChange, thunder),
    ]
    .concat()
    .into()
}

/// The day an operator's `/time set` gives now: it ran on since.
pub fn day_time_now(set: DaySet, now_ms: u64) -> i64 {
    let ticks = now_ms.saturating_sub(set.at_ms) / 50;
    set.day_time
        .saturating_add(i64::try_from(ticks).unwrap_or(i64::MAX))
}

impl Frontend {
    /// The difficulty in force: the record's, else level.dat's.
    pub fn difficulty(&self) -> u8 {
        self.auth
            .rules
            .current()
            .difficulty
            .unwrap_or(self.config.difficulty)
    }

    pub fn weather(&self) -> Weather {
        self.auth.rules.current().weather_at(now_ms())
    }

    /// What a joining player is told of the sky, after the join packet.
    pub fn sky_packets(&self) -> Bytes {
        let difficulty = difficulty_packet(&self.framing, self.difficulty());
        match self.weather() {
            Weather::Clear => difficulty,
            weather => [difficulty, weather_packets(&self.framing, weather)]
                .concat()
                .into(),
        }
    }
}

/// What this node's players were last shown.
#[derive(Debug, Default, PartialEq)]
struct Shown {
    day_set: Option<DaySet>,
    weather: Weather,
    difficulty: Option<u8>,
    autosave_off: bool,
}

/// Follows the record for as long as the node runs: a new `/time set` moves
/// this node's clock (one set before `started_ms` is already in the
/// level.dat this node read), and new weather or difficulty is sent to its
/// players. Weather set for a while clears on every node at the same moment,
/// with no write.
pub async fn follow(
    frontend: Arc<Frontend>,
    mut rules: watch::Receiver<Arc<WorldRules>>,
    started_ms: u64,
) {
    let mut shown = Shown {
        difficulty: Some(frontend.config.difficulty),
        ..Shown::default()
    };
    loop {
        let current = rules.borrow_and_update().clone();
        let now = now_ms();
        show(&frontend, &mut shown, &current, now, started_ms);
        let clears_in = current
            .weather_until
            .filter(|until| *until > now && current.weather != Weather::Clear)
            .map(|until| Duration::from_millis(until - now));
        let wake = async {
            match clears_in {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = rules.changed() => if changed.is_err() { return },
            () = wake => {}
        }
    }
}

fn show(frontend: &Frontend, shown: &mut Shown, rules: &WorldRules, now: u64, started_ms: u64) {
    let framing = &frontend.framing;
    if let Some(set) = rules.day_set.filter(|s| Some(*s) != shown.day_set) {
        if set.at_ms >= started_ms {
            frontend.world.clock.set_day_time(day_time_now(set, now));
            frontend.players.broadcast(frontend.time_packet());
            info!(day_time = set.day_time, "the time of day was set");
        }
        shown.day_set = Some(set);
    }
    let weather = rules.weather_at(now);
    if weather != shown.weather {
        frontend
            .players
            .broadcast(weather_packets(framing, weather));
        info!(?weather, "the weather changed");
        shown.weather = weather;
    }
    let difficulty = rules.difficulty.unwrap_or(frontend.config.difficulty);
    if Some(difficulty) != shown.difficulty {
        frontend
            .players
            .broadcast(difficulty_packet(framing, difficulty));
        info!(difficulty = %difficulty_name(difficulty), "the difficulty changed");
        shown.difficulty = Some(difficulty);
    }
    if rules.autosave_off != shown.autosave_off {
        frontend.world.pause_autosave(rules.autosave_off);
        info!(off = rules.autosave_off, "automatic saving changed");
        shown.autosave_off = rules.autosave_off;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difficulties_read_by_name_or_number() {
        assert_eq!(parse_difficulty("hard"), Some(3));
        assert_eq!(parse_difficulty("Peaceful"), Some(0));
        assert_eq!(parse_difficulty("1"), Some(1));
        assert_eq!(parse_difficulty("4"), None);
        assert_eq!(parse_difficulty("insane"), None);
        assert_eq!(difficulty_name(2), "Normal");
        assert_eq!(difficulty_name(9), "Hard");
    }

    #[test]
    fn a_set_day_runs_on_from_when_it_was_set() {
        let set = DaySet {
            day_time: 6000,
            at_ms: 1_000_000,
        };
        assert_eq!(day_time_now(set, 1_000_000), 6000);
        assert_eq!(day_time_now(set, 1_010_000), 6200);
        assert_eq!(day_time_now(set, 0), 6000, "a clock behind the setter's");
    }

    #[test]
    fn weather_packets_begin_or_end_the_rain_and_set_its_levels() {
        let framing = Framing::default();
        let clear = weather_packets(&framing, Weather::Clear);
        let thunder = weather_packets(&framing, Weather::Thunder);
        assert_ne!(clear, thunder);
        assert_eq!(clear.len(), thunder.len(), "three events each");
    }
}
