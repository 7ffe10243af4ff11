//! File cleanup (docs/store/cleanup.md): expired commitlog segments go oldest first and stop at the first
//! one that stays; consume-queue and index files below the new min offset follow; pulls below a
//! queue's new min get OFFSET_TOO_SMALL; readers holding a deleted segment keep reading it; a
//! reopened store agrees on the min offsets. Plus DISK_FULL from the used ratio.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::fs::{self, File};
use std::time::{Duration, SystemTime};

use common::{body_of_size, config, decode, msg};
use rmq_store::{GetStatus, MessageStore, PutStatus, StoreConfig};

const ALL: &dyn Fn(i64) -> bool = &|_| true;

fn cleanup_config(root: &std::path::Path) -> StoreConfig {
    StoreConfig {
        file_reserved_time_hours: 1,
        // Never "time to delete" by the clock in these tests; runs are asked for explicitly.
        delete_when: "99".into(),
        clean_first_delay_ms: 3_600_000,
        disk_check_interval_ms: 3_600_000,
        delete_commit_log_files_interval_ms: 0,
        disk_space_warning_level_ratio: 1.0,
        disk_space_clean_forcibly_ratio: 1.0,
        disk_max_used_space_ratio: 95,
        ..config(root)
    }
}

fn segments(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(root.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn age(path: &std::path::Path, hours: u64) {
    let f = File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(hours * 3600))
        .unwrap();
}

#[tokio::test]
async fn expired_segments_queues_and_index_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = MessageStore::open(cleanup_config(root)).unwrap();
    // ~700-byte records (the UNIQ_KEY repeats the body), 64 KiB segments: 8 segments; two
    // queues; 50-entry CQ files.
    for i in 0..700usize {
        let body = body_of_size(i, 300);
        let r = store
            .put_message(msg("T", (i % 2) as i32, &body, Some("a")))
            .await;
        assert_eq!(r.status, PutStatus::PutOk);
    }
    let segs = segments(root);
    assert!(segs.len() >= 7, "{} segments", segs.len());
    let first_record = store.get_message("T", 0, 0, 1, usize::MAX, ALL).messages[0].clone();

    // Nothing is expired yet: a manual run deletes nothing.
    store.delete_expired_files_manually();
    assert_eq!(store.run_cleanup_once().commit_log_files, 0);

    // Segments 0..3 and 4 expired, but 3 is not: deletion stops at 3 (no holes).
    for (i, s) in segs.iter().enumerate() {
        if i != 3 && i + 1 < segs.len() {
            age(s, 2);
        }
    }
    let report = store.run_cleanup_once();
    assert_eq!(report.commit_log_files, 3, "{report:?}");
    assert!(report.consume_queue_files > 0, "{report:?}");
    let min_phy = store.min_phy_offset();
    assert_eq!(min_phy, 3 * 64 * 1024);
    assert_eq!(segments(root).len(), segs.len() - 3);

    for q in 0..2 {
        let min = store.min_offset_in_queue("T", q);
        assert!(min > 0);
        // Below the min: OFFSET_TOO_SMALL, pointing at the min.
        let r = store.get_message("T", q, 0, 32, usize::MAX, ALL);
        assert_eq!(r.status, GetStatus::OffsetTooSmall);
        assert_eq!((r.next_begin_offset, r.min_offset), (min, min));
        // At the min: the first message still on disk.
        let r = store.get_message("T", q, min, 1, usize::MAX, ALL);
        assert_eq!(r.status, GetStatus::Found);
        let (_, _, qo, phy, _) = decode(&r.messages[0]);
        assert_eq!(qo, min);
        assert!(phy >= min_phy);
        // The message before it is gone from the commitlog.
        let e = store.consume_queue_entry("T", q, min - 1);
        assert!(!matches!(e, Some(e) if e.phy_offset >= min_phy), "{e:?}");
    }
    // A reader that got a record before the deletion still reads it (the mapping stays).
    assert_eq!(decode(&first_record).2, 0);
    assert!(store.read_record(0).is_none());

    // Everything but the current segment expired: at most 10 per run, never the last one.
    for s in segments(root) {
        age(&s, 2);
    }
    store.delete_expired_files_manually();
    let report = store.run_cleanup_once();
    assert_eq!(report.commit_log_files, segs.len() - 4);
    assert_eq!(segments(root).len(), 1);
    let min_phy = store.min_phy_offset();
    let max_before: Vec<i64> = (0..2).map(|q| store.max_offset_in_queue("T", q)).collect();
    for q in 0..2 {
        let min = store.min_offset_in_queue("T", q);
        let r = store.get_message("T", q, min, 1, usize::MAX, ALL);
        assert_eq!(r.status, GetStatus::Found);
        assert!(decode(&r.messages[0]).3 >= min_phy);
    }

    // Reopen: the same min offsets, and writes continue.
    let mins: Vec<i64> = (0..2).map(|q| store.min_offset_in_queue("T", q)).collect();
    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(cleanup_config(root)).unwrap();
    assert_eq!(store.min_phy_offset(), min_phy);
    for q in 0..2 {
        assert_eq!(store.min_offset_in_queue("T", q), mins[q as usize]);
        assert_eq!(store.max_offset_in_queue("T", q), max_before[q as usize]);
    }
    let r = store.put_message(msg("T", 0, "after", None)).await;
    assert_eq!(r.status, PutStatus::PutOk);
    assert_eq!(r.queue_offset, max_before[0]);
    store.shutdown().unwrap();
}

#[tokio::test]
async fn queue_whose_messages_are_all_deleted_reports_min_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = MessageStore::open(cleanup_config(root)).unwrap();
    // "Old" gets 5 messages in the first segment; "New" fills the next ones.
    for i in 0..5 {
        store.put_message(msg("Old", 0, &format!("o{i}"), None)).await;
    }
    for i in 0..200usize {
        let r = store
            .put_message(msg("New", 0, &body_of_size(i, 1000), None))
            .await;
        assert_eq!(r.status, PutStatus::PutOk);
    }
    let segs = segments(root);
    age(&segs[0], 2);
    let report = store.run_cleanup_once();
    // Not "time" and not manual: nothing happens.
    assert_eq!(report.commit_log_files, 0);
    store.delete_expired_files_manually();
    assert_eq!(store.run_cleanup_once().commit_log_files, 1);
    assert_eq!(store.min_offset_in_queue("Old", 0), 5);
    assert_eq!(store.max_offset_in_queue("Old", 0), 5);
    let r = store.get_message("Old", 0, 2, 32, usize::MAX, ALL);
    assert_eq!(r.status, GetStatus::OffsetTooSmall);
    assert_eq!(r.next_begin_offset, 5);
    let r = store.put_message(msg("Old", 0, "o5", None)).await;
    assert_eq!(r.queue_offset, 5);
    let r = store.get_message("Old", 0, 5, 32, usize::MAX, ALL);
    assert_eq!(r.status, GetStatus::Found);
    store.shutdown().unwrap();
}

#[tokio::test]
async fn disk_full_refuses_puts_and_keeps_serving_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cfg = StoreConfig {
        // Any used space counts as "full".
        disk_space_warning_level_ratio: 0.0,
        ..cleanup_config(root)
    };
    let store = MessageStore::open(cfg).unwrap();
    let r = store.put_message(msg("T", 0, "before", None)).await;
    assert_eq!(r.status, PutStatus::PutOk);
    store.run_cleanup_once();
    assert!(store.is_disk_full());
    assert!(!store.is_writeable());
    let r = store.put_message(msg("T", 0, "refused", None)).await;
    assert_eq!(r.status, PutStatus::ServiceNotAvailable);
    let r = store.get_message("T", 0, 0, 32, usize::MAX, ALL);
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(r.messages.len(), 1);
    // DISK_FULL is not a failure: the store still shuts down cleanly.
    store.shutdown().unwrap();
    assert!(!root.join("abort").exists());
}

#[tokio::test]
async fn background_thread_marks_disk_full() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        disk_space_warning_level_ratio: 0.0,
        disk_check_interval_ms: 50,
        ..cleanup_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    common::wait::wait_until("the disk check to run", Duration::from_secs(20), || {
        store.is_disk_full()
    })
    .await;
    store.shutdown().unwrap();
}
