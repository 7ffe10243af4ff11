//! MessageStore behaviour: round trips across segments, statuses, filters, batches, sync flush,
//! clean shutdown, crash recovery with a torn tail, lookup by time.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

use common::{body_of_size, config, decode, msg, sync_config};
use rmq_store::consume_queue::CqEntry;
use rmq_store::mapped_file::file_name;
use rmq_store::record::{self, RecordCheck};
use rmq_store::{GetStatus, MessageStore, PutStatus, StoreError};

const ALL: &dyn Fn(i64) -> bool = &|_| true;

/// (queue offset, physical offset, body) per message.
type Stored = Vec<(i64, i64, String)>;

/// Read every message of a queue with repeated pulls.
fn read_all(store: &MessageStore, topic: &str, q: i32) -> Stored {
    let mut out = Vec::new();
    let mut off = store.min_offset_in_queue(topic, q);
    loop {
        let r = store.get_message(topic, q, off, 32, usize::MAX, ALL);
        match r.status {
            GetStatus::Found => {
                for m in &r.messages {
                    let (t, qid, qo, phy, body) = decode(m);
                    assert_eq!((t.as_str(), qid), (topic, q));
                    out.push((qo, phy, body));
                }
                assert!(r.next_begin_offset > off);
                off = r.next_begin_offset;
            }
            GetStatus::OffsetOverflowOne => return out,
            s => panic!("unexpected status {s:?} at {off}"),
        }
    }
}

#[tokio::test]
async fn round_trip_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let mut expected: HashMap<(String, i32), Stored> = HashMap::new();
    for i in 0..600 {
        let topic = if i % 2 == 0 { "TopicA" } else { "TopicB" };
        let q = (i % 3) as i32;
        let body = body_of_size(i, 100 + (i * 37) % 700);
        let r = store.put_message(msg(topic, q, &body, Some("TagA"))).await;
        assert_eq!(r.status, PutStatus::PutOk);
        assert_eq!(r.msg_num, 1);
        assert_eq!(r.msg_ids.len(), 1);
        assert_eq!(r.msg_ids[0].len(), 32);
        let e = expected.entry((topic.into(), q)).or_default();
        assert_eq!(r.queue_offset, e.len() as i64, "queue offsets consecutive");
        e.push((r.queue_offset, r.wrote_offset, body));
        // visible immediately
        assert_eq!(store.max_offset_in_queue(topic, q), r.queue_offset + 1);
        assert_eq!(store.dispatched_offset(), store.max_phy_offset());
        let rec = store.read_record(r.wrote_offset).unwrap();
        assert_eq!(rec.len(), r.wrote_bytes as usize);
    }
    let segments = fs::read_dir(dir.path().join("commitlog")).unwrap().count();
    assert!(
        segments >= 5,
        "expected several commitlog segments, got {segments}"
    );
    for ((topic, q), e) in &expected {
        assert_eq!(&read_all(&store, topic, *q), e);
    }
    // Every full segment ends with a blank record right after its last message.
    let seg = 64 * 1024u64;
    for s in 0..segments as u64 - 1 {
        let path = dir.path().join("commitlog").join(file_name(s * seg));
        let data = fs::read(path).unwrap();
        let mut pos = 0;
        loop {
            match record::check(&data[pos..], true) {
                RecordCheck::Message(i) => pos += i.total_size,
                RecordCheck::Blank => {
                    let size = i32::from_be_bytes(data[pos..pos + 4].try_into().unwrap());
                    assert_eq!(pos + size as usize, data.len());
                    break;
                }
                RecordCheck::Invalid => panic!("segment {s} has no blank"),
            }
        }
    }
    store.shutdown().unwrap();
}

#[tokio::test]
async fn get_message_statuses_and_tag_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let r = store.get_message("T", 0, 0, 32, usize::MAX, ALL);
    assert_eq!(r.status, GetStatus::NoMessageInQueue);
    assert_eq!(r.next_begin_offset, 0);
    for i in 0..10 {
        let tag = if i % 2 == 0 { "TagA" } else { "TagB" };
        let r = store.put_message(msg("T", 0, &format!("b{i}"), Some(tag))).await;
        assert_eq!(r.queue_offset, i);
    }
    let r = store.get_message("T", 0, 10, 32, usize::MAX, ALL);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetOverflowOne, 10)
    );
    let r = store.get_message("T", 0, 15, 32, usize::MAX, ALL);
    assert_eq!(r.status, GetStatus::OffsetOverflowBadly);
    assert_eq!(
        r.next_begin_offset, 10,
        "4.9.7: overflow -> max offset, even with min offset 0"
    );
    let r = store.get_message("T", 0, 100, 32, usize::MAX, ALL);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetStatus::OffsetOverflowBadly, 10)
    );
    let r = store.get_message("T", 0, -1, 32, usize::MAX, ALL);
    assert_eq!((r.status, r.next_begin_offset), (GetStatus::OffsetTooSmall, 0));
    assert_eq!((r.min_offset, r.max_offset), (0, 10));
    // max_msg_nums
    let r = store.get_message("T", 0, 2, 3, usize::MAX, ALL);
    assert_eq!(
        (r.status, r.messages.len(), r.next_begin_offset),
        (GetStatus::Found, 3, 5)
    );
    // byte cap: first message always fits, then stop
    let r = store.get_message("T", 0, 0, 32, 1, ALL);
    assert_eq!((r.messages.len(), r.next_begin_offset), (1, 1));
    // tag filter
    let code_a = record::java_hash("TagA") as i64;
    let only_a = move |c: i64| c == code_a;
    let r = store.get_message("T", 0, 0, 32, usize::MAX, &only_a);
    assert_eq!(r.status, GetStatus::Found);
    let bodies: Vec<_> = r.messages.iter().map(|m| decode(m).4).collect();
    assert_eq!(bodies, ["b0", "b2", "b4", "b6", "b8"]);
    assert_eq!(r.next_begin_offset, 10);
    let none = |_: i64| false;
    let r = store.get_message("T", 0, 3, 32, usize::MAX, &none);
    assert_eq!((r.status, r.next_begin_offset), (GetStatus::NoMatchedMessage, 10));
    // unknown queue of a known topic
    assert_eq!(store.max_offset_in_queue("T", 5), 0);
    assert_eq!(
        store.get_message("T", 5, 0, 32, usize::MAX, ALL).status,
        GetStatus::NoMessageInQueue
    );
    store.shutdown().unwrap();
}

#[tokio::test]
async fn batch_put_and_illegal_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    store.put_message(msg("B", 1, "first", None)).await;
    let batch: Vec<_> = (0..5).map(|i| msg("B", 1, &format!("batch{i}"), None)).collect();
    let r = store.put_messages(batch).await;
    assert_eq!(r.status, PutStatus::PutOk);
    assert_eq!((r.queue_offset, r.msg_num, r.msg_ids.len()), (1, 5, 5));
    let all = read_all(&store, "B", 1);
    assert_eq!(all.len(), 6);
    let sizes: i64 = all[1..].iter().map(|(_, phy, _)| *phy).max().unwrap() - all[1].1
        + store.read_record(all[5].1).unwrap().len() as i64;
    assert_eq!(sizes, r.wrote_bytes as i64);
    assert_eq!(all[1].1, r.wrote_offset);
    // mixed queues in one batch
    let r = store
        .put_messages(vec![msg("B", 1, "x", None), msg("B", 2, "y", None)])
        .await;
    assert_eq!(r.status, PutStatus::MessageIllegal);
    // too long topic / properties / body
    let r = store.put_message(msg(&"t".repeat(128), 0, "x", None)).await;
    assert_eq!(r.status, PutStatus::MessageIllegal);
    let mut m = msg("B", 0, "x", None);
    m.properties = "p".repeat(40_000);
    assert_eq!(
        store.put_message(m).await.status,
        PutStatus::PropertiesSizeExceeded
    );
    let mut m = msg("B", 0, "x", None);
    m.body = vec![0u8; 70 * 1024].into(); // larger than a 64 KiB segment
    assert_eq!(store.put_message(m).await.status, PutStatus::MessageIllegal);
    assert_eq!(store.max_offset_in_queue("B", 0), 0);
    store.shutdown().unwrap();
    // After shutdown puts are refused.
    let r = store.put_message(msg("B", 0, "late", None)).await;
    assert_eq!(r.status, PutStatus::ServiceNotAvailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flush_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(sync_config(dir.path())).unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut ends = Vec::new();
            for i in 0..40 {
                let r = s.put_message(msg("S", t, &body_of_size(i, 300), None)).await;
                assert_eq!(r.status, PutStatus::PutOk);
                let end = r.wrote_offset + r.wrote_bytes as i64;
                assert!(s.flushed_phy_offset() >= end, "acked before fsync");
                ends.push(end);
            }
            ends
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for q in 0..8 {
        assert_eq!(store.max_offset_in_queue("S", q), 40);
    }
    store.shutdown().unwrap();
}

#[tokio::test]
async fn clean_shutdown_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let store = MessageStore::open(cfg.clone()).unwrap();
    assert!(dir.path().join("abort").exists());
    assert!(matches!(
        MessageStore::open(cfg.clone()),
        Err(StoreError::Locked(_))
    ));
    let mut last = None;
    for i in 0..300 {
        last = Some(
            store
                .put_message(msg("C", i % 2, &body_of_size(i as usize, 400), None))
                .await,
        );
    }
    let max_phy = store.max_phy_offset();
    store.shutdown().unwrap();
    assert!(!dir.path().join("abort").exists());
    drop(store);
    let ckpt = fs::read(dir.path().join("checkpoint")).unwrap();
    assert_eq!(ckpt.len(), 4096);
    let physic = i64::from_be_bytes(ckpt[..8].try_into().unwrap());
    assert_eq!(physic, last.unwrap().store_timestamp);

    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.max_phy_offset(), max_phy);
    assert_eq!(store.dispatched_offset(), max_phy);
    assert_eq!(store.max_offset_in_queue("C", 0), 150);
    assert_eq!(read_all(&store, "C", 1).len(), 150);
    let r = store.put_message(msg("C", 0, "after", None)).await;
    assert_eq!((r.queue_offset, r.wrote_offset), (150, max_phy));
    store.shutdown().unwrap();
}

/// Append `bytes` right at the commitlog's write position, like a torn write would leave them.
fn scribble_at(dir: &std::path::Path, phy: i64, bytes: &[u8]) {
    let seg = 64 * 1024;
    let path = dir.join("commitlog").join(file_name((phy as u64 / seg) * seg));
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, phy as u64 % seg).unwrap();
}

#[tokio::test]
async fn crash_recovery_truncates_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let n = 250;
    let store = MessageStore::open(cfg.clone()).unwrap();
    let mut acked = Vec::new();
    for i in 0..n {
        let r = store
            .put_message(msg("R", i % 4, &body_of_size(i as usize, 500), Some("T")))
            .await;
        acked.push(r);
    }
    let max_phy = store.max_phy_offset();
    let template = store.read_record(acked[10].wrote_offset).unwrap();
    drop(store); // no shutdown: abort file stays, nothing flushed explicitly
    assert!(dir.path().join("abort").exists());

    // A torn record: the first 300 bytes of a valid-looking record, then garbage, at the tail.
    let mut torn = template[..300].to_vec();
    torn[28..36].copy_from_slice(&max_phy.to_be_bytes());
    scribble_at(dir.path(), max_phy, &torn);
    scribble_at(dir.path(), max_phy + 300, &[0xEE; 200]);
    // A consume-queue entry pointing at the torn record (CQ ahead of the commitlog).
    let cq_path = dir.path().join("consumequeue/R/0");
    let last_cq = fs::read_dir(&cq_path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let data = fs::read(&last_cq).unwrap();
    let used = data
        .chunks(20)
        .take_while(|c| CqEntry::decode(c).is_valid())
        .count();
    let entry = CqEntry {
        phy_offset: max_phy,
        size: template.len() as i32,
        tags_code: 0,
    };
    let f = OpenOptions::new().write(true).open(&last_cq).unwrap();
    if used * 20 < data.len() {
        f.write_all_at(&entry.encode(), used as u64 * 20).unwrap();
    }

    let store = MessageStore::open(cfg.clone()).unwrap();
    assert_eq!(store.max_phy_offset(), max_phy);
    for q in 0..4 {
        let expected: Vec<_> = acked
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as i32 % 4 == q)
            .map(|(i, r)| (r.queue_offset, r.wrote_offset, body_of_size(i, 500)))
            .collect();
        assert_eq!(store.max_offset_in_queue("R", q), expected.len() as i64);
        assert_eq!(read_all(&store, "R", q), expected);
    }
    // New appends continue exactly where the valid data ended.
    let r = store.put_message(msg("R", 0, "next", None)).await;
    assert_eq!(r.status, PutStatus::PutOk);
    assert_eq!(r.wrote_offset, max_phy);
    assert_eq!(r.queue_offset, ((n + 3) / 4) as i64);
    drop(store);

    // Crash again after losing every consume queue: abnormal recovery rebuilds them.
    fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.max_offset_in_queue("R", 0), ((n + 3) / 4) as i64 + 1);
    assert_eq!(store.max_offset_in_queue("R", 3), n as i64 / 4);
    let all0 = read_all(&store, "R", 0);
    assert_eq!(all0.last().unwrap().2, "next");
    store.shutdown().unwrap();
}

#[tokio::test]
async fn offset_by_timestamp_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.mapped_file_size_consume_queue = 1000 * 20;
    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.offset_by_timestamp("TT", 0, 0), 0);
    let mut stamps = Vec::new();
    for i in 0..6 {
        // Three messages per millisecond bucket; buckets at least 3 ms apart.
        for j in 0..3 {
            let r = store.put_message(msg("TT", 0, &format!("{i}-{j}"), None)).await;
            stamps.push((r.queue_offset, r.store_timestamp));
        }
        // The next bucket starts once the store's clock has moved 3 ms past this one.
        common::wait::wait_for_wall_ms(stamps.last().unwrap().1 + 3);
    }
    let first_ts = stamps[0].1;
    let last_ts = stamps.last().unwrap().1;
    assert_eq!(store.offset_by_timestamp("TT", 0, first_ts - 10_000), 0);
    assert_eq!(
        store.offset_by_timestamp("TT", 0, last_ts + 10_000),
        17,
        "last message"
    );
    for &(_, ts) in &stamps {
        let off = store.offset_by_timestamp("TT", 0, ts);
        assert_eq!(store.message_store_timestamp("TT", 0, off), Some(ts));
    }
    assert_eq!(store.earliest_message_time("TT", 0), Some(first_ts));
    // Between two distinct timestamps: the nearer one wins.
    let distinct: Vec<(i64, i64)> = stamps
        .windows(2)
        .filter(|w| w[1].1 - w[0].1 >= 3)
        .map(|w| (w[0].1, w[1].1))
        .collect();
    let (a, b) = distinct[0];
    let near_b = store.offset_by_timestamp("TT", 0, b - 1);
    assert_eq!(store.message_store_timestamp("TT", 0, near_b), Some(b));
    let near_a = store.offset_by_timestamp("TT", 0, a + 1);
    assert_eq!(store.message_store_timestamp("TT", 0, near_a), Some(a));
    store.shutdown().unwrap();
}

#[tokio::test]
async fn delete_topics_and_arrivals() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let mut rx = store.subscribe_arrivals();
    store.put_message(msg("D", 0, "a", Some("X"))).await;
    let a = rx.try_recv().unwrap();
    assert_eq!((&*a.topic, a.queue_id, a.queue_offset), ("D", 0, 0));
    assert_eq!(a.tags_code, record::java_hash("X") as i64);
    store.put_message(msg("D", 0, "b", None)).await;
    store.delete_topics(&["D".to_string()]);
    assert_eq!(store.max_offset_in_queue("D", 0), 0);
    assert!(!dir.path().join("consumequeue/D").exists());
    let r = store.put_message(msg("D", 0, "c", None)).await;
    assert_eq!(r.queue_offset, 0);
    store.shutdown().unwrap();
}

#[tokio::test]
async fn schedule_topic_tag_code_is_deliver_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let mut m = msg("SCHEDULE_TOPIC_XXXX", 2, "delayed", None);
    m.properties = "DELAY\u{1}3\u{2}REAL_TOPIC\u{1}X".into();
    let r = store.put_message(m).await;
    let want = r.store_timestamp + 10_000;
    let got = std::cell::Cell::new(0);
    let res = store.get_message("SCHEDULE_TOPIC_XXXX", 2, 0, 1, usize::MAX, &|c| {
        got.set(c);
        true
    });
    assert_eq!(res.status, GetStatus::Found);
    assert_eq!(got.get(), want);
    store.shutdown().unwrap();
}

#[tokio::test]
async fn query_by_key_survives_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let store = MessageStore::open(cfg.clone()).unwrap();
    let mut want = Vec::new();
    for i in 0..900 {
        let mut m = msg("Q", i % 2, &format!("q{i}"), None);
        m.properties = format!("KEYS\u{1}order-{} all\u{2}UNIQ_KEY\u{1}U{i}", i % 7);
        let r = store.put_message(m).await;
        if i % 7 == 3 {
            want.push(r.wrote_offset);
        }
    }
    // 900 messages × 2 keys roll over several 400-entry index files.
    assert!(fs::read_dir(dir.path().join("index")).unwrap().count() >= 4);
    let check = |store: &MessageStore| {
        let r = store.query_message("Q", "order-3", 64, 0, i64::MAX);
        let got: Vec<i64> = r.messages.iter().map(|m| decode(m).3).collect();
        let newest: Vec<i64> = want.iter().rev().take(64).rev().copied().collect();
        assert_eq!(got, newest);
        let r = store.query_message("Q", "U17", 64, 0, i64::MAX);
        assert_eq!(r.messages.len(), 1);
        assert_eq!(decode(&r.messages[0]).4, "q17");
        assert!(store
            .query_message("Q", "nope", 64, 0, i64::MAX)
            .messages
            .is_empty());
        assert!(store
            .query_message("Other", "U17", 64, 0, i64::MAX)
            .messages
            .is_empty());
    };
    check(&store);
    drop(store); // crash: newest index files get dropped and rebuilt from the commitlog
    let store = MessageStore::open(cfg).unwrap();
    check(&store);
    store.shutdown().unwrap();
}
