//! The world's level.dat as the node uses it: read at start (a new world
//! gets one from the configuration), reconciled with the configuration,
//! and written back with the world's time at every save.
//!
//! An existing world keeps its own seed, generator, spawn and game rules:
//! level.dat wins over `world.seed`, `world.generator` and `world.spawn`,
//! as vanilla's level.dat wins over server.properties. Each disagreement
//! is logged once, at start.

use std::path::Path;

use anyhow::Context;
use tessera_auth::accounts::records::Weather;
use tessera_world::anvil::level_dat::{LevelDat, WorldGen};
use tessera_world::anvil::level_file;
use tessera_world::clock::WorldClock;
use tessera_world::gen::{Flat, Generator, Terrain};
use tessera_world::World;
use tracing::info;

use crate::config::{GeneratorKind, WorldConfig};

/// A new world starts in the morning rather than at sunrise.
const FIRST_MORNING: i64 = 1_000;

pub fn generator_of(level: &LevelDat) -> std::sync::Arc<dyn Generator> {
    match level.generator {
        WorldGen::Flat => std::sync::Arc::new(Flat),
        WorldGen::Noise => std::sync::Arc::new(Terrain { seed: level.seed }),
    }
}

fn configured_generator(kind: GeneratorKind) -> WorldGen {
    match kind {
        GeneratorKind::Flat => WorldGen::Flat,
        GeneratorKind::Terrain => WorldGen::Noise,
    }
}

/// The level.dat a new world gets from the configuration.
fn new_world(config: &WorldConfig) -> LevelDat {
    let mut level = LevelDat {
        spawn: (config.spawn_x, 0, config.spawn_z),
        day_time: FIRST_MORNING,
        seed: config.seed,
        level_name: "world".to_owned(),
        generator: configured_generator(config.generator),
        ..LevelDat::default()
    };
    level.spawn.1 = generator_of(&level).surface_y(config.spawn_x, config.spawn_z);
    level
}

/// The world's level.dat, made from the configuration if there is none.
/// A damaged one with no good `level.dat_old` stops the start here.
pub fn open(config: &WorldConfig) -> anyhow::Result<LevelDat> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let not_started = || {
        format!(
            "the world in {} is not started; restore its level.dat from a backup",
            dir.display()
        )
    };
    let level = match level_file::load(dir).with_context(not_started)? {
        Some(level) => level,
        None => {
            let (level, wrote) =
                level_file::create_if_missing(dir, new_world(config)).with_context(not_started)?;
            if wrote {
                info!("wrote {}", level_file::level_path(dir).display());
                return Ok(level);
            }
            level
        }
    };
    tell_disagreements(config, &level);
    Ok(level)
}

fn tell_disagreements(config: &WorldConfig, level: &LevelDat) {
    let path = level_file::level_path(&config.data_dir);
    let path = path.display();
    if level.seed != config.seed {
        info!(
            "the world's seed is {} from {path}, not world.seed = {}: an existing world keeps its own",
            level.seed, config.seed
        );
    }
    if level.generator != configured_generator(config.generator) {
        info!(
            "the world's generator is {:?} from {path}, not world.generator = {:?}: an existing world keeps its own",
            level.generator, config.generator
        );
    }
    let (x, _, z) = level.spawn;
    if (x, z) != (config.spawn_x, config.spawn_z) {
        info!(
            "the world's spawn is {:?} from {path}, not world.spawn = ({}, {}): an existing world keeps its own",
            level.spawn, config.spawn_x, config.spawn_z
        );
    }
}

/// The clock the world runs on, from where level.dat left it.
pub fn clock(level: &LevelDat) -> WorldClock {
    let daylight = level
        .game_rules
        .get("doDaylightCycle")
        .is_none_or(|rule| rule != "false");
    WorldClock::new(level.time, level.day_time, daylight)
}

/// What level.dat says of the sky now: its vanilla keys, so a vanilla
/// server or tool opening the world sees what players saw.
pub struct Sky {
    pub difficulty: u8,
    pub weather: Weather,
}

/// Writes level.dat with the world's time and sky now.
pub async fn save(
    data_dir: &Path,
    level: &LevelDat,
    world: &World,
    sky: Sky,
) -> anyhow::Result<()> {
    let mut level = level.clone();
    (level.time, level.day_time) = world.clock.now();
    level.set_sky(
        sky.difficulty,
        sky.weather != Weather::Clear,
        sky.weather == Weather::Thunder,
    );
    let dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || level_file::save(&dir, &level))
        .await
        .context("the level.dat save stopped")?
        .context("cannot save level.dat")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, seed: i64, generator: GeneratorKind) -> WorldConfig {
        let data_dir = std::env::temp_dir().join(format!(
            "tessera-server-level-{name}-{}",
            std::process::id()
        ));
        WorldConfig {
            generator,
            seed,
            spawn_x: 5,
            spawn_z: -3,
            region_size: 32,
            data_dir,
            autosave_seconds: 60,
            region_idle_seconds: 60,
        }
    }

    #[test]
    fn a_new_world_gets_the_config_and_an_existing_one_keeps_its_own() {
        let first = config("keep", 11, GeneratorKind::Flat);
        let _ = std::fs::remove_dir_all(&first.data_dir);
        let made = open(&first).unwrap();
        assert_eq!((made.seed, made.generator), (11, WorldGen::Flat));
        assert_eq!(made.spawn, (5, -60, -3), "on the flat world's grass");
        assert_eq!(made.day_time, FIRST_MORNING);

        let changed = WorldConfig {
            spawn_x: 100,
            ..config("keep", 99, GeneratorKind::Terrain)
        };
        let kept = open(&changed).unwrap();
        assert_eq!(
            (kept.seed, kept.generator, kept.spawn),
            (11, WorldGen::Flat, (5, -60, -3))
        );
        let _ = std::fs::remove_dir_all(&first.data_dir);
    }

    #[test]
    fn a_damaged_level_dat_stops_the_start_naming_the_file() {
        let world = config("damaged", 0, GeneratorKind::Flat);
        let _ = std::fs::remove_dir_all(&world.data_dir);
        std::fs::create_dir_all(&world.data_dir).unwrap();
        std::fs::write(world.data_dir.join("level.dat"), b"").unwrap();
        let err = format!("{:#}", open(&world).unwrap_err());
        assert!(err.contains("is not started"), "{err}");
        assert!(err.contains("level.dat is damaged"), "{err}");
        assert_eq!(
            std::fs::read(world.data_dir.join("level.dat")).unwrap(),
            b""
        );
        let _ = std::fs::remove_dir_all(&world.data_dir);
    }

    #[test]
    fn do_daylight_cycle_false_stops_the_clock() {
        let mut level = LevelDat {
            day_time: 6000,
            ..LevelDat::default()
        };
        assert!(clock(&level).packet_time_of_day() >= 0);
        level
            .game_rules
            .insert("doDaylightCycle".into(), "false".into());
        assert_eq!(clock(&level).packet_time_of_day(), -6000);
    }
}
