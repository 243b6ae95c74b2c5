use super::*;
use crate::anvil::level_dat::WorldGen;

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-level-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn level(day_time: i64) -> LevelDat {
    LevelDat {
        spawn: (3, 70, -4),
        time: 100,
        day_time,
        seed: 99,
        level_name: "world".into(),
        generator: WorldGen::Noise,
        ..LevelDat::default()
    }
}

fn aside_copies(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("level.dat.corrupt-"))
        .collect()
}

#[test]
fn a_new_world_gets_one_and_an_existing_one_is_kept() {
    let dir = folder("create");
    assert!(load(&dir).unwrap().is_none());
    let (made, wrote) = create_if_missing(&dir, level(1000)).unwrap();
    assert!(wrote);
    assert_eq!(made.day_time, 1000);
    let (found, wrote) = create_if_missing(&dir, level(5)).unwrap();
    assert!(!wrote, "an existing level.dat is not replaced");
    assert_eq!(found.day_time, 1000);
    assert_eq!(load(&dir).unwrap().map(|l| l.day_time), Some(1000));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_save_keeps_the_one_before_as_level_dat_old() {
    let dir = folder("save");
    save(&dir, &level(1)).unwrap();
    save(&dir, &level(2)).unwrap();
    assert_eq!(load(&dir).unwrap().map(|l| l.day_time), Some(2));
    let old = LevelDat::read(&dir.join(OLD)).unwrap().map(|l| l.day_time);
    assert_eq!(old, Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_level_dat_is_kept_aside_and_level_dat_old_used() {
    let dir = folder("fallback");
    save(&dir, &level(1)).unwrap();
    save(&dir, &level(2)).unwrap();
    std::fs::write(level_path(&dir), b"\x1f\x8b garbage").unwrap();
    let loaded = load(&dir).unwrap().map(|l| l.day_time);
    assert_eq!(loaded, Some(1), "the previous save");
    let copies = aside_copies(&dir);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(std::fs::read(&copies[0]).unwrap(), b"\x1f\x8b garbage");
    assert_eq!(
        LevelDat::read(&level_path(&dir))
            .unwrap()
            .map(|l| l.day_time),
        Some(1),
        "level.dat is good again"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_level_dat_without_a_good_old_one_refuses_and_changes_nothing() {
    let dir = folder("refuse");
    std::fs::write(level_path(&dir), b"truncated").unwrap();
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("level.dat is damaged: not gzip"), "{err}");
    assert!(
        err.contains(&dir.display().to_string()),
        "names the file: {err}"
    );
    assert!(
        create_if_missing(&dir, level(0)).is_err(),
        "never a silent reset"
    );
    assert_eq!(std::fs::read(level_path(&dir)).unwrap(), b"truncated");
    assert!(aside_copies(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
