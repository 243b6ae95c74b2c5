//! `level.dat`, the world's own record (gzip NBT, everything under "Data"):
//! vanilla and the tools need it to open the folder as a 1.20.1 world.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;
use valence_protocol::nbt::{Compound, List, Value};

use super::chunk_nbt::DATA_VERSION;
use super::error::{io, StoreError};
use super::gzip::gunzip;

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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LevelDat {
    /// The block players spawn in (their feet), as vanilla's SpawnX/Y/Z.
    pub spawn: (i32, i32, i32),
    /// Ticks the world has run (`Time`).
    pub time: i64,
    /// Ticks of the day cycle (`DayTime`; 0 is sunrise, 24000 a day).
    pub day_time: i64,
    pub seed: i64,
    pub level_name: String,
    /// Vanilla keeps every rule as a string (`"true"`, `"3"`).
    pub game_rules: BTreeMap<String, String>,
    pub generator: WorldGen,
    /// Everything else the file's `Data` held (vanilla's weather, the
    /// dragon fight, its own dimension settings...), written back as read
    /// so a vanilla world loses nothing by passing through Tessera.
    pub kept: Compound,
}

fn bad(path: &Path, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Why a world of DataVersion `found` is refused, and what to do about it.
pub fn other_version(found: i32) -> String {
    let advice = if found < DATA_VERSION {
        "an older Minecraft wrote it: open it once with a vanilla 1.20.1 server \
         (`java -jar server.jar --forceUpgrade` upgrades every chunk) first"
    } else {
        "a newer Minecraft wrote it, and worlds cannot be taken back to 1.20.1"
    };
    format!(
        "DataVersion {found}, this server reads only {DATA_VERSION} (Minecraft 1.20.1); {advice}"
    )
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
        match std::fs::read(path) {
            Ok(bytes) => Self::parse(path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path)(e)),
        }
    }

    /// The level.dat in `gz`, the bytes of the file `path` (named in errors).
    pub fn parse(path: &Path, gz: &[u8]) -> Result<LevelDat, StoreError> {
        let binary = gunzip(gz).map_err(|e| bad(path, e))?;
        let mut root = super::nbt::parse(&binary).map_err(|e| bad(path, e))?;
        let Some(Value::Compound(data)) = root.remove("Data") else {
            return Err(bad(path, "no Data compound"));
        };
        match data.get("DataVersion") {
            Some(Value::Int(DATA_VERSION)) => {}
            Some(Value::Int(v)) => {
                return Err(StoreError::OtherVersion {
                    path: path.to_owned(),
                    reason: other_version(*v),
                })
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
        let generator = overworld_generator(gen);
        let spawn = (
            int("SpawnX").unwrap_or(0),
            int("SpawnY").unwrap_or(64),
            int("SpawnZ").unwrap_or(0),
        );
        let (time, day_time) = (long("Time").unwrap_or(0), long("DayTime").unwrap_or(0));
        Ok(LevelDat {
            spawn,
            time,
            day_time,
            seed,
            level_name,
            game_rules,
            generator,
            kept: data,
        })
    }

    /// The gzip NBT of this, as vanilla writes level.dat.
    pub fn encode(&self, path: &Path) -> Result<Vec<u8>, StoreError> {
        let mut binary = Vec::new();
        compound(vec![("Data", Value::Compound(self.data()))])
            .to_binary(&mut binary, "")
            .map_err(|e| bad(path, format!("cannot encode: {e}")))?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&binary).map_err(io(path))?;
        gz.finish().map_err(io(path))
    }

    /// The `Data` compound: a new world's defaults, overlaid by what the
    /// file held, overlaid by what Tessera keeps.
    fn data(&self) -> Compound {
        let mut data = self.defaults();
        data.merge(self.kept.clone());
        data.merge(self.ours());
        data
    }

    /// What Tessera decides: always written.
    fn ours(&self) -> Compound {
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
            ("Time", self.time.into()),
            ("DayTime", self.day_time.into()),
            ("LastPlayed", last_played.into()),
            ("GameRules", rules.into()),
            (
                "WorldGenSettings",
                compound(vec![("seed", self.seed.into())]).into(),
            ),
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

    /// The difficulty by vanilla's number (0 peaceful to 3 hard); normal
    /// when the file has none.
    pub fn difficulty(&self) -> u8 {
        match self.kept.get("Difficulty") {
            Some(Value::Byte(d)) => u8::try_from(*d).unwrap_or(2).min(3),
            _ => 2,
        }
    }

    /// Keeps the difficulty and weather players see, under vanilla's keys,
    /// so a vanilla server or tool opening the world sees the same.
    pub fn set_sky(&mut self, difficulty: u8, raining: bool, thundering: bool) {
        let flag = |on: bool| Value::Byte(i8::from(on));
        let difficulty = i8::try_from(difficulty.min(3)).unwrap_or(2);
        self.kept.insert("Difficulty", Value::Byte(difficulty));
        self.kept.insert("raining", flag(raining));
        self.kept.insert("thundering", flag(thundering));
    }

    /// What a new vanilla world writes, for the keys the file lacks.
    fn defaults(&self) -> Compound {
        let mut defaults = compound(vec![
            ("SpawnAngle", 0f32.into()),
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
        ]);
        // A file's own dimensions replace ours whole rather than mix with them.
        if !self.kept.contains_key("WorldGenSettings") {
            defaults.insert("WorldGenSettings", self.world_gen());
        }
        defaults
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
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::*;

    fn sample() -> LevelDat {
        LevelDat {
            spawn: (10, -60, -20),
            time: 12345,
            day_time: 6000,
            seed: -42,
            level_name: "tessera".into(),
            game_rules: [("doDaylightCycle".to_owned(), "false".to_owned())].into(),
            generator: WorldGen::Flat,
            kept: Compound::new(),
        }
    }

    fn data_of(gz: &[u8]) -> Compound {
        let mut binary = Vec::new();
        GzDecoder::new(gz).read_to_end(&mut binary).unwrap();
        let (root, _) = Compound::from_binary(&mut binary.as_slice()).unwrap();
        match root.get("Data") {
            Some(Value::Compound(data)) => data.clone(),
            other => panic!("no Data compound: {other:?}"),
        }
    }

    fn without_kept(level: LevelDat) -> LevelDat {
        LevelDat {
            kept: Compound::new(),
            ..level
        }
    }

    #[test]
    fn what_tessera_keeps_round_trips_as_gzip_nbt_under_data() {
        let path = Path::new("level.dat");
        for generator in [WorldGen::Flat, WorldGen::Noise] {
            let level = LevelDat {
                generator,
                ..sample()
            };
            let bytes = level.encode(path).unwrap();
            let read = LevelDat::parse(path, &bytes).unwrap();
            assert_eq!(without_kept(read), level);
            let data = data_of(&bytes);
            assert_eq!(data.get("version"), Some(&Value::Int(19133)));
            assert_eq!(data.get("SpawnY"), Some(&Value::Int(-60)));
            assert_eq!(data.get("DayTime"), Some(&Value::Long(6000)));
            let Some(Value::Compound(version)) = data.get("Version") else {
                panic!("no Version");
            };
            assert_eq!(version.get("Name"), Some(&string("1.20.1")));
        }
    }

    #[test]
    fn the_sky_is_kept_under_vanillas_keys() {
        let path = Path::new("level.dat");
        let mut level = sample();
        assert_eq!(level.difficulty(), 2, "normal when the file has none");
        level.set_sky(3, true, true);
        let read = LevelDat::parse(path, &level.encode(path).unwrap()).unwrap();
        assert_eq!(read.difficulty(), 3);
        let data = data_of(&level.encode(path).unwrap());
        assert_eq!(data.get("raining"), Some(&Value::Byte(1)));
        assert_eq!(data.get("thundering"), Some(&Value::Byte(1)));
        level.set_sky(0, false, false);
        assert_eq!(level.difficulty(), 0);
    }

    #[test]
    fn a_vanilla_file_keeps_what_tessera_does_not_know() {
        let path = Path::new("level.dat");
        let mut vanilla = LevelDat::parse(path, &sample().encode(path).unwrap()).unwrap();
        // Vanilla's own keys, and its own (here: amplified) overworld.
        vanilla.kept.insert("WanderingTraderSpawnDelay", 24000i32);
        let Some(Value::Compound(gen)) = vanilla.kept.get_mut("WorldGenSettings") else {
            panic!("no WorldGenSettings");
        };
        gen.insert("generate_features", 0i8);
        let Some(Value::Compound(rules)) = vanilla.kept.get_mut("GameRules") else {
            panic!("no GameRules");
        };
        rules.insert("keepInventory", "true".to_owned());
        let vanilla_bytes = vanilla.encode(path).unwrap();

        let mut level = LevelDat::parse(path, &vanilla_bytes).unwrap();
        assert_eq!(
            level.game_rules.get("keepInventory").map(String::as_str),
            Some("true")
        );
        level.day_time = 18000;
        level.seed = 7;
        level
            .game_rules
            .insert("doDaylightCycle".into(), "true".into());
        let data = data_of(&level.encode(path).unwrap());
        assert_eq!(
            data.get("WanderingTraderSpawnDelay"),
            Some(&Value::Int(24000))
        );
        assert_eq!(data.get("DayTime"), Some(&Value::Long(18000)));
        let Some(Value::Compound(gen)) = data.get("WorldGenSettings") else {
            panic!("no WorldGenSettings");
        };
        assert_eq!(gen.get("generate_features"), Some(&Value::Byte(0)));
        assert_eq!(gen.get("seed"), Some(&Value::Long(7)));
        let Some(Value::Compound(rules)) = data.get("GameRules") else {
            panic!("no GameRules");
        };
        assert_eq!(rules.get("keepInventory"), Some(&string("true")));
        assert_eq!(rules.get("doDaylightCycle"), Some(&string("true")));
    }

    #[test]
    fn damage_is_named_and_other_versions_are_told_apart() {
        let path = Path::new("/w/level.dat");
        let refused = |bytes: &[u8]| match LevelDat::parse(path, bytes) {
            Err(e) => e.to_string(),
            Ok(level) => panic!("read {level:?}"),
        };
        let reason = refused(b"not gzip");
        assert!(
            reason.contains("/w/level.dat is damaged: not gzip"),
            "{reason}"
        );
        let good = sample().encode(path).unwrap();
        let reason = refused(&good[..good.len() / 2]);
        assert!(reason.starts_with("/w/level.dat is damaged"), "{reason}");

        let mut no_data = Vec::new();
        compound(vec![("Other", 1i32.into())])
            .to_binary(&mut no_data, "")
            .unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&no_data).unwrap();
        let reason = refused(&gz.finish().unwrap());
        assert!(reason.ends_with("no Data compound"), "{reason}");

        let newer = LevelDat::parse(path, &good).unwrap();
        let mut data = newer.data();
        data.insert("DataVersion", 3700i32);
        let mut binary = Vec::new();
        compound(vec![("Data", data.into())])
            .to_binary(&mut binary, "")
            .unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&binary).unwrap();
        let gz = gz.finish().unwrap();
        assert!(matches!(
            LevelDat::parse(path, &gz),
            Err(StoreError::OtherVersion { .. })
        ));
        assert!(refused(&gz).contains("DataVersion 3700"));
    }
}
