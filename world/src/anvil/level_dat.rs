//! `level.dat`, the world's own record (gzip NBT, everything under "Data"):
//! vanilla and the tools need it to open the folder as a 1.20.1 world.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use valence_protocol::nbt::{Compound, List, Value};

use super::chunk_nbt::DATA_VERSION;
use super::durable::{io, lock_file, replace};
use crate::store::StoreError;

/// The level format version vanilla has written since 1.9 (Anvil).
const ANVIL_VERSION: i32 = 19133;

/// How the world's missing terrain is made, as vanilla names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorldGen {
    /// Vanilla's default superflat (bedrock, two dirt, grass).
    Flat,
    #[default]
    Noise,
}

/// What Tessera keeps of level.dat.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelDat {
    pub spawn: (i32, i32, i32),
    pub time: i64,
    pub day_time: i64,
    pub seed: i64,
    pub level_name: String,
    pub game_rules: BTreeMap<String, String>,
    pub generator: WorldGen,
}

fn bad(path: &Path, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn compound(entries: Vec<(&str, Value)>) -> Compound {
    let mut c = Compound::new();
    for (k, v) in entries {
        c.insert(k, v);
    }
    c
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

impl LevelDat {
    /// The level.dat at `path`; `None` if there is none.
    pub fn read(path: &Path) -> Result<Option<LevelDat>, StoreError> {
        let gz = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(path)(e)),
        };
        let mut binary = Vec::new();
        GzDecoder::new(gz.as_slice())
            .read_to_end(&mut binary)
            .map_err(|e| bad(path, format!("not gzip: {e}")))?;
        let (root, _) = Compound::from_binary(&mut binary.as_slice()).map_err(|e| bad(path, e))?;
        let Some(Value::Compound(data)) = root.get("Data") else {
            return Err(bad(path, "no Data compound"));
        };
        match data.get("DataVersion") {
            Some(Value::Int(DATA_VERSION)) => {}
            Some(Value::Int(v)) => {
                return Err(bad(
                    path,
                    format!(
                        "DataVersion {v}, this server reads only 3465 (Minecraft 1.20.1); \
                         upgrade the world with a vanilla 1.20.1 server first"
                    ),
                ))
            }
            _ => return Err(bad(path, "no DataVersion")),
        }
        let int = |k: &str| match data.get(k) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        };
        let long = |k: &str| match data.get(k) {
            Some(Value::Long(v)) => Some(*v),
            _ => None,
        };
        let gen = match data.get("WorldGenSettings") {
            Some(Value::Compound(c)) => c,
            _ => return Err(bad(path, "no WorldGenSettings")),
        };
        let seed = match gen.get("seed") {
            Some(Value::Long(v)) => *v,
            _ => return Err(bad(path, "no WorldGenSettings.seed")),
        };
        let game_rules = match data.get("GameRules") {
            Some(Value::Compound(rules)) => rules
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    _ => None,
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let level_name = match data.get("LevelName") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        Ok(Some(LevelDat {
            spawn: (
                int("SpawnX").unwrap_or(0),
                int("SpawnY").unwrap_or(64),
                int("SpawnZ").unwrap_or(0),
            ),
            time: long("Time").unwrap_or(0),
            day_time: long("DayTime").unwrap_or(0),
            seed,
            level_name,
            game_rules,
            generator: overworld_generator(gen),
        }))
    }

    /// Writes this as `path`, replacing what was there (temp, fsync, rename).
    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        let mut binary = Vec::new();
        compound(vec![("Data", Value::Compound(self.data()))])
            .to_binary(&mut binary, "")
            .map_err(|e| bad(path, format!("cannot encode: {e}")))?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&binary).map_err(io(path))?;
        let bytes = gz.finish().map_err(io(path))?;
        replace(path, &bytes, &|| true)
    }

    /// Writes this as `path` unless a level.dat is there already (one
    /// vanilla wrote is kept as it is); true if it wrote. Nodes starting
    /// together on one folder take turns, so only one writes.
    pub fn create_if_missing(&self, path: &Path) -> Result<bool, StoreError> {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let _lock = lock_file(Path::new(&lock))?;
        if path.exists() {
            return Ok(false);
        }
        self.write(path)?;
        Ok(true)
    }

    fn data(&self) -> Compound {
        let last_played = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let rules = self
            .game_rules
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Compound>();
        compound(vec![
            ("DataVersion", DATA_VERSION.into()),
            ("version", ANVIL_VERSION.into()),
            ("LevelName", string(&self.level_name)),
            ("SpawnX", self.spawn.0.into()),
            ("SpawnY", self.spawn.1.into()),
            ("SpawnZ", self.spawn.2.into()),
            ("SpawnAngle", 0f32.into()),
            ("Time", self.time.into()),
            ("DayTime", self.day_time.into()),
            ("LastPlayed", last_played.into()),
            ("initialized", 1i8.into()),
            ("allowCommands", 0i8.into()),
            ("hardcore", 0i8.into()),
            ("Difficulty", 2i8.into()),
            ("DifficultyLocked", 0i8.into()),
            ("GameType", 0i32.into()),
            ("raining", 0i8.into()),
            ("thundering", 0i8.into()),
            ("rainTime", 0i32.into()),
            ("thunderTime", 0i32.into()),
            ("clearWeatherTime", 0i32.into()),
            ("WasModded", 0i8.into()),
            ("ServerBrands", List::String(vec!["tessera".into()]).into()),
            (
                "DataPacks",
                compound(vec![
                    ("Enabled", List::String(vec!["vanilla".into()]).into()),
                    ("Disabled", List::End.into()),
                ])
                .into(),
            ),
            ("GameRules", rules.into()),
            ("WorldGenSettings", self.world_gen().into()),
            (
                "Version",
                compound(vec![
                    ("Id", DATA_VERSION.into()),
                    ("Name", string("1.20.1")),
                    ("Series", string("main")),
                    ("Snapshot", 0i8.into()),
                ])
                .into(),
            ),
        ])
    }

    /// The three vanilla dimensions, as a new vanilla world writes them.
    fn world_gen(&self) -> Compound {
        let noise = |settings: &str, source: Compound| {
            compound(vec![
                ("type", string("minecraft:noise")),
                ("settings", string(settings)),
                ("biome_source", source.into()),
            ])
        };
        let multi_noise = |preset: &str| {
            compound(vec![
                ("type", string("minecraft:multi_noise")),
                ("preset", string(preset)),
            ])
        };
        let overworld = match self.generator {
            WorldGen::Noise => noise("minecraft:overworld", multi_noise("minecraft:overworld")),
            WorldGen::Flat => flat(),
        };
        let dimension = |kind: &str, generator: Compound| {
            Value::Compound(compound(vec![
                ("type", string(kind)),
                ("generator", generator.into()),
            ]))
        };
        let the_end = compound(vec![("type", string("minecraft:the_end"))]);
        compound(vec![
            ("seed", self.seed.into()),
            ("generate_features", 1i8.into()),
            ("bonus_chest", 0i8.into()),
            (
                "dimensions",
                compound(vec![
                    (
                        "minecraft:overworld",
                        dimension("minecraft:overworld", overworld),
                    ),
                    (
                        "minecraft:the_nether",
                        dimension(
                            "minecraft:the_nether",
                            noise("minecraft:nether", multi_noise("minecraft:nether")),
                        ),
                    ),
                    (
                        "minecraft:the_end",
                        dimension("minecraft:the_end", noise("minecraft:end", the_end)),
                    ),
                ])
                .into(),
            ),
        ])
    }
}

/// Vanilla's default superflat preset, which Tessera's flat generator makes.
fn flat() -> Compound {
    let layer = |block: &str, height: i32| {
        compound(vec![("block", string(block)), ("height", height.into())])
    };
    let settings = compound(vec![
        ("biome", string("minecraft:plains")),
        ("features", 0i8.into()),
        ("lakes", 0i8.into()),
        (
            "layers",
            List::Compound(vec![
                layer("minecraft:bedrock", 1),
                layer("minecraft:dirt", 2),
                layer("minecraft:grass_block", 1),
            ])
            .into(),
        ),
        (
            "structure_overrides",
            List::String(vec!["minecraft:villages".into()]).into(),
        ),
    ]);
    compound(vec![
        ("type", string("minecraft:flat")),
        ("settings", settings.into()),
    ])
}

fn overworld_generator(gen: &Compound) -> WorldGen {
    let kind = match gen.get("dimensions") {
        Some(Value::Compound(dims)) => match dims.get("minecraft:overworld") {
            Some(Value::Compound(dim)) => match dim.get("generator") {
                Some(Value::Compound(g)) => g.get("type").cloned(),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    match kind {
        Some(Value::String(s)) if s == "minecraft:flat" => WorldGen::Flat,
        _ => WorldGen::Noise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_dat_round_trips_and_is_gzip_nbt_under_data() {
        let dir = std::env::temp_dir().join(format!("tessera-level-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("level.dat");
        assert_eq!(LevelDat::read(&path).unwrap(), None);
        let level = LevelDat {
            spawn: (10, -60, -20),
            time: 12345,
            day_time: 6000,
            seed: -42,
            level_name: "tessera".into(),
            game_rules: [("doDaylightCycle".to_owned(), "false".to_owned())].into(),
            generator: WorldGen::Flat,
        };
        level.write(&path).unwrap();
        assert_eq!(LevelDat::read(&path).unwrap(), Some(level.clone()));
        let noise = LevelDat {
            generator: WorldGen::Noise,
            ..level
        };
        std::fs::remove_file(&path).unwrap();
        assert!(noise.create_if_missing(&path).unwrap());
        assert_eq!(LevelDat::read(&path).unwrap(), Some(noise.clone()));

        let mut binary = Vec::new();
        GzDecoder::new(std::fs::read(&path).unwrap().as_slice())
            .read_to_end(&mut binary)
            .unwrap();
        let (root, _) = Compound::from_binary(&mut binary.as_slice()).unwrap();
        let Some(Value::Compound(data)) = root.get("Data") else {
            panic!("no Data");
        };
        assert_eq!(data.get("version"), Some(&Value::Int(19133)));
        let Some(Value::Compound(version)) = data.get("Version") else {
            panic!("no Version");
        };
        assert_eq!(version.get("Name"), Some(&string("1.20.1")));

        assert!(!noise.create_if_missing(&path).unwrap(), "kept as it was");
        std::fs::write(&path, b"not gzip").unwrap();
        assert!(matches!(
            LevelDat::read(&path),
            Err(StoreError::Corrupt { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
