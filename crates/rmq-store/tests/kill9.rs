//! A real kill -9: a child process (this test binary re-executed) writes in SYNC_FLUSH mode and
//! prints every acknowledged message; the parent SIGKILLs it mid-stream, reopens the store and
//! checks that every acknowledged message is there.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{body_of_size, decode, msg, sync_config};
use rmq_store::{GetStatus, MessageStore, PutStatus};

const CHILD_ENV: &str = "RMQ_STORE_KILL9_CHILD_DIR";
const WRITERS: i32 = 3;
const MIN_ACKED: usize = 300;

/// Child entry point; a no-op unless the parent set `CHILD_ENV`.
#[test]
fn kill9_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = MessageStore::open(sync_config(dir.as_ref())).unwrap();
        let mut tasks = Vec::new();
        for q in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0usize.. {
                    let body = body_of_size(i, 200 + (i * 53) % 900);
                    let r = store.put_message(msg("K", q, &body, Some("k"))).await;
                    assert_eq!(r.status, PutStatus::PutOk);
                    // stdout is line-buffered: the line is out before the next put starts. A
                    // long line may leave in more than one write(2), so a kill can cut the
                    // last one short: the trailing "END" marks a complete line.
                    println!("ACK {q} {} {} {body} END", r.queue_offset, r.wrote_offset);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn kill9_sync_flush_acknowledged_messages_survive() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill9_child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    // A line cut short by the kill (no "END") was not fully printed, but its put may still have
    // been acknowledged; it is simply not counted.
    let parse = |line: &str| -> Option<(i32, i64, i64, String)> {
        let mut it = line.strip_prefix("ACK ")?.strip_suffix(" END")?.split(' ');
        Some((
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
            it.next()?.to_string(),
        ))
    };
    while acked.len() < MIN_ACKED {
        let Some(line) = lines.next() else {
            panic!("child exited after {} acks", acked.len())
        };
        if let Some(a) = parse(&line.unwrap()) {
            acked.push(a);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Lines already in the pipe were acknowledged before the kill too.
    for line in lines {
        if let Some(a) = line.ok().as_deref().and_then(parse) {
            acked.push(a);
        }
    }
    assert!(acked.len() >= MIN_ACKED);
    assert!(dir.path().join("abort").exists(), "child must not have shut down");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = MessageStore::open(sync_config(dir.path())).unwrap();
        for (q, qo, phy, body) in &acked {
            let r = store.get_message("K", *q, *qo, 1, usize::MAX, &|_| true);
            assert_eq!(r.status, GetStatus::Found, "queue {q} offset {qo} lost");
            let (topic, qid, got_qo, got_phy, got_body) = decode(&r.messages[0]);
            assert_eq!((topic.as_str(), qid, got_qo, got_phy), ("K", *q, *qo, *phy));
            assert_eq!(&got_body, body);
            assert_eq!(&decode(&store.read_record(*phy).unwrap()).4, body);
        }
        // Queues are dense and appends continue after the recovered tail.
        for q in 0..WRITERS {
            let max = store.max_offset_in_queue("K", q);
            let acked_max = acked.iter().filter(|a| a.0 == q).map(|a| a.1).max();
            assert!(max > acked_max.unwrap_or(-1));
            let r = store.put_message(msg("K", q, "after-restart", None)).await;
            assert_eq!((r.status, r.queue_offset), (PutStatus::PutOk, max));
            assert_eq!(r.wrote_offset + r.wrote_bytes as i64, store.max_phy_offset());
        }
        store.shutdown().unwrap();
    });
}
