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
