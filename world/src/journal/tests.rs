use super::*;

fn temp_journals(name: &str) -> (Journals, PathBuf) {
    let dir = std::env::temp_dir().join(format!("tessera-journal-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    (Journals::new(&dir, 2), dir)
}

fn change(x: i32, state: u16) -> JournalChange {
    JournalChange {
        x,
        y: 64,
        z: 0,
        state,
    }
}

fn batch(writer: &mut JournalWriter, changes: Vec<JournalChange>) -> BatchRecord {
    BatchRecord {
        seq: writer.next_seq(),
        changes,
        players: Vec::new(),
    }
}

const REGION: RegionPos = RegionPos { x: 1, z: -1 };

#[test]
fn appended_batches_come_back_in_order_after_a_crash() {
    let (journals, _) = temp_journals("replay");
    let (replay, mut writer) = journals.take_over(REGION, 1).unwrap();
    assert!(replay.changes.is_empty());
    for i in 0..3 {
        let b = batch(&mut writer, vec![change(i, 1), change(i, 2)]);
        writer.append(&b).unwrap();
    }
    drop(writer);
    let (replay, _) = journals.take_over(REGION, 1).unwrap();
    let xs: Vec<(i32, u16)> = replay.changes.iter().map(|c| (c.x, c.state)).collect();
    assert_eq!(xs, vec![(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]);
    assert_eq!(replay.batches, 3);
}

#[test]
fn a_checkpoint_removes_what_the_region_file_now_holds() {
    let (journals, _) = temp_journals("checkpoint");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    let b = batch(&mut writer, vec![change(0, 1)]);
    writer.append(&b).unwrap();
    let checkpoint = writer.checkpoint();
    let b = batch(&mut writer, vec![change(1, 1)]);
    writer.append(&b).unwrap();
    assert_eq!(checkpoint.finish().unwrap(), 1);
    drop(writer);
    let (replay, _) = journals.take_over(REGION, 1).unwrap();
    assert_eq!(replay.changes, vec![change(1, 1)]);
}

#[test]
fn a_failed_checkpoint_keeps_its_segments_for_the_next_one() {
    let (journals, _) = temp_journals("failed-checkpoint");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    let b = batch(&mut writer, vec![change(0, 1)]);
    writer.append(&b).unwrap();
    let failed = writer.checkpoint();
    writer.checkpoint_failed(failed);
    let b = batch(&mut writer, vec![change(1, 1)]);
    writer.append(&b).unwrap();
    assert_eq!(writer.checkpoint().finish().unwrap(), 2);
}

#[test]
fn an_outdated_owner_s_later_appends_are_never_replayed() {
    let (journals, _) = temp_journals("fence");
    let (_, mut old) = journals.take_over(REGION, 3).unwrap();
    let b = batch(&mut old, vec![change(0, 1)]);
    old.append(&b).unwrap();
    // The new owner fences the old segment, then the old owner, still
    // running, appends once more.
    let (replay, new) = journals.take_over(REGION, 4).unwrap();
    assert_eq!(replay.changes, vec![change(0, 1)]);
    let b = batch(&mut old, vec![change(9, 9)]);
    old.append(&b).unwrap();
    assert!(old.fence().newer_owner());
    assert!(!new.fence().newer_owner());
    drop(new);
    // Nor by any later owner, which reads the old segment only as far as
    // the first successor did.
    let (replay, _) = journals.take_over(REGION, 5).unwrap();
    assert_eq!(replay.changes, vec![change(0, 1)]);
    // And the outdated owner cannot take the region back.
    assert!(matches!(
        journals.take_over(REGION, 3),
        Err(JournalError::Fenced {
            newer: 5,
            ours: 3,
            ..
        })
    ));
}

#[test]
fn a_torn_last_write_ends_the_replay_before_it() {
    let (journals, dir) = temp_journals("torn");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    let b = batch(&mut writer, vec![change(0, 1)]);
    writer.append(&b).unwrap();
    let b = batch(&mut writer, vec![change(1, 1), change(2, 2)]);
    writer.append(&b).unwrap();
    drop(writer);
    let path = dir
        .join("journal/r.1.-1")
        .join(SegmentId { epoch: 1, gen: 0 }.file_name());
    let len = fs::metadata(&path).unwrap().len();
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len - 3).unwrap();
    let (replay, _) = journals.take_over(REGION, 1).unwrap();
    assert_eq!(replay.changes, vec![change(0, 1)]);
}

#[test]
fn a_journal_cut_into_other_regions_is_refused() {
    let (journals, dir) = temp_journals("grid");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    let b = batch(&mut writer, vec![change(0, 1)]);
    writer.append(&b).unwrap();
    assert!(journals.check_grid().is_ok());
    assert!(matches!(
        Journals::new(&dir, 32).check_grid(),
        Err(JournalError::OtherGrid {
            found: 2,
            configured: 32,
            ..
        })
    ));
}

fn survivor(revision: u64, stone: u8) -> JournalPlayer {
    let mut state = crate::player::PlayerState::new(
        uuid::Uuid::from_u128(42),
        "Builder".into(),
        1,
        valence_protocol::math::DVec3::new(0.5, 65.0, 0.5),
    );
    state.inventory[36] = Some(valence_protocol::ItemStack::new(
        valence_protocol::ItemKind::Stone,
        stone,
        None,
    ));
    state.revision = revision;
    JournalPlayer::of(&state)
}

fn stone_of(player: &JournalPlayer) -> u8 {
    player.inventory[36].as_ref().map_or(0, |s| s.count())
}

#[test]
fn a_player_s_state_comes_back_with_the_blocks_of_its_batch() {
    let (journals, _) = temp_journals("player-replay");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    for revision in 1..=3 {
        let mut b = batch(&mut writer, vec![change(revision as i32, 1)]);
        b.players.push(survivor(revision, 64 - revision as u8));
        writer.append(&b).unwrap();
    }
    drop(writer);
    let (replay, _) = journals.take_over(REGION, 2).unwrap();
    let player = &replay.players[&uuid::Uuid::from_u128(42)];
    assert_eq!((player.revision, stone_of(player)), (3, 61));
    assert_eq!(replay.changes.len(), 3);
}

#[test]
fn a_checkpoint_carries_the_players_states_past_the_segments_it_removes() {
    let (journals, _) = temp_journals("player-carry");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    let mut b = batch(&mut writer, vec![change(0, 1)]);
    b.players.push(survivor(4, 60));
    writer.append(&b).unwrap();
    let mut checkpoint = writer.checkpoint();
    checkpoint.carry(vec![survivor(4, 60)]);
    assert_eq!(checkpoint.finish().unwrap(), 1);
    drop(writer);
    let (replay, mut writer) = journals.take_over(REGION, 1).unwrap();
    assert!(replay.changes.is_empty());
    assert_eq!(stone_of(&replay.players[&uuid::Uuid::from_u128(42)]), 60);
    let (scanned, failed) = journals.scan_players();
    assert!(failed.is_empty());
    assert_eq!(scanned[&uuid::Uuid::from_u128(42)].revision, 4);
    // A later state in a segment wins over the carried one.
    let mut b = batch(&mut writer, vec![change(1, 1)]);
    b.players.push(survivor(5, 59));
    writer.append(&b).unwrap();
    drop(writer);
    let (replay, _) = journals.take_over(REGION, 1).unwrap();
    assert_eq!(stone_of(&replay.players[&uuid::Uuid::from_u128(42)]), 59);
}

#[test]
fn a_damaged_carried_file_is_kept_aside_and_the_blocks_still_load() {
    let (journals, dir) = temp_journals("player-damaged");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    let b = batch(&mut writer, vec![change(0, 1)]);
    writer.append(&b).unwrap();
    drop(writer);
    let folder = dir.join("journal/r.1.-1");
    fs::write(folder.join(player::CARRIED_FILE), b"not a record").unwrap();
    let (replay, _) = journals.take_over(REGION, 1).unwrap();
    assert_eq!(replay.changes, vec![change(0, 1)]);
    assert!(replay.players.is_empty());
    let kept = fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(kept, "no copy of the damaged file");
    let (_, failed) = journals.scan_players();
    assert_eq!(failed.len(), 1, "a scan reports the damaged file");
}

#[test]
fn a_segment_of_the_format_before_players_still_replays() {
    #[derive(serde::Serialize)]
    struct WithoutPlayers {
        seq: u64,
        changes: Vec<JournalChange>,
    }
    let (journals, dir) = temp_journals("format-1");
    let folder = dir.join("journal/r.1.-1");
    fs::create_dir_all(&folder).unwrap();
    let id = SegmentId { epoch: 1, gen: 0 };
    let mut header = Header::new(REGION, 2, id, Vec::new());
    header.format = 1;
    let mut bytes = Vec::new();
    segment::encode_header(&header, &mut bytes);
    let old = WithoutPlayers {
        seq: 0,
        changes: vec![change(5, 9)],
    };
    frame::encode(&postcard::to_allocvec(&old).unwrap(), &mut bytes);
    fs::write(folder.join(id.file_name()), bytes).unwrap();
    let (replay, _) = journals.take_over(REGION, 2).unwrap();
    assert_eq!(replay.changes, vec![change(5, 9)]);
}

#[test]
fn a_segment_whose_header_hit_a_full_disk_leaves_no_file() {
    let (journals, dir) = temp_journals("full-disk");
    let (_, mut writer) = journals.take_over(REGION, 1).unwrap();
    let b = batch(&mut writer, vec![change(0, 1)]);
    writer.append(&b).unwrap();
    // The next segment's writes go to /dev/full: ENOSPC, as on a full disk.
    let next = SegmentId { epoch: 1, gen: 1 };
    let full = journals.dir(REGION).join(next.file_name());
    std::os::unix::fs::symlink("/dev/full", &full).unwrap();
    let checkpoint = writer.checkpoint();
    writer.checkpoint_failed(checkpoint);
    let b = batch(&mut writer, vec![change(1, 1)]);
    let error = writer.append(&b).unwrap_err();
    assert!(
        matches!(&error, JournalError::Io { source, .. } if source.raw_os_error() == Some(28)),
        "{error}"
    );
    assert!(
        fs::symlink_metadata(&full).is_err(),
        "the failed segment's file is gone"
    );
    // The next try starts another segment, and the change is kept.
    writer.append(&b).unwrap();
    drop(writer);
    let (replay, _) = journals.take_over(REGION, 1).unwrap();
    assert_eq!(replay.changes, vec![change(0, 1), change(1, 1)]);
    let _ = fs::remove_dir_all(dir);
}
