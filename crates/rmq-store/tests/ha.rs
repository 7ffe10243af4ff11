//! HA replication in one process over loopback: a master store with its HA listener, a slave
//! store with its HA client. Commitlogs must end up byte-identical and the slave's consume
//! queues must serve the same records; the slave reconnects after a master restart; SYNC_MASTER
//! puts wait for the slave's ack.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::{Duration, Instant};

use common::{body_of_size, config, msg};
use rmq_store::ha::HaService;
use rmq_store::{BrokerRole, MessageStore, PutStatus, StoreConfig};
use tokio::sync::watch;

const ALL: &dyn Fn(i64) -> bool = &|_| true;
const DEADLINE: Duration = Duration::from_secs(25);

fn role_config(root: &std::path::Path, role: BrokerRole) -> StoreConfig {
    StoreConfig {
        broker_role: role,
        ..config(root)
    }
}

async fn until(what: &str, cond: impl FnMut() -> bool) {
    common::wait::wait_until(what, DEADLINE, cond).await;
}

/// Every commitlog byte in [min, max) of both stores, compared chunk by chunk.
fn assert_commitlogs_identical(master: &MessageStore, slave: &MessageStore) {
    let max = master.max_phy_offset();
    assert_eq!(slave.max_phy_offset(), max);
    let mut off = slave.min_phy_offset().max(0);
    assert!(off >= master.min_phy_offset());
    while off < max {
        let a = master.read_replication_chunk(off, 1 << 20).expect("master bytes");
        let b = slave.read_replication_chunk(off, 1 << 20).expect("slave bytes");
        assert_eq!(a.len(), b.len(), "chunk length at {off}");
        assert!(a == b, "commitlog bytes differ at {off}");
        off += a.len() as i64;
    }
}

/// Every queue's records, as the store serves them.
fn read_queue(store: &MessageStore, topic: &str, q: i32) -> Vec<bytes::Bytes> {
    let mut out = Vec::new();
    let mut off = store.min_offset_in_queue(topic, q);
    while off < store.max_offset_in_queue(topic, q) {
        let r = store.get_message(topic, q, off, 32, usize::MAX, ALL);
        assert!(!r.messages.is_empty(), "{topic}/{q} at {off}: {:?}", r.status);
        out.extend(r.messages);
        off = r.next_begin_offset;
    }
    out
}

async fn put_many(store: &MessageStore, from: usize, n: usize) {
    for i in from..from + n {
        let topic = if i % 3 == 0 { "TopicB" } else { "TopicA" };
        // Sizes up to ~5 KiB so records straddle 32 KiB frames and 64 KiB segments roll.
        let body = body_of_size(i, 40 + (i * 397) % 5000);
        let r = store
            .put_message(msg(topic, (i % 4) as i32, &body, Some("TagA")))
            .await;
        assert!(r.is_stored(), "put {i}: {:?}", r.status);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_replicates_byte_identically_and_reconnects_after_master_restart() {
    let mdir = tempfile::tempdir().unwrap();
    let sdir = tempfile::tempdir().unwrap();
    let master = MessageStore::open(role_config(mdir.path(), BrokerRole::AsyncMaster)).unwrap();
    // Written before the slave exists: the slave (reporting 0) starts at the master's last
    // segment, so compare from the slave's min offset.
    put_many(&master, 0, 20).await;
    let ha = HaService::start_master(master.clone(), 0).await.unwrap();
    let port = ha.local_addr().unwrap().port();
    let slave = MessageStore::open(role_config(sdir.path(), BrokerRole::Slave)).unwrap();
    let (_master_addr, rx) = watch::channel(Some(format!("127.0.0.1:{port}")));
    let client = HaService::start_slave(slave.clone(), rx);

    put_many(&master, 20, 300).await;
    until("slave catch-up", || {
        slave.max_phy_offset() == master.max_phy_offset()
    })
    .await;
    until("master sees the ack", || {
        master.ha().push2slave_max_offset() == master.max_phy_offset()
    })
    .await;
    assert_commitlogs_identical(&master, &slave);
    assert_eq!(slave.dispatched_offset(), master.max_phy_offset());
    // Queues that started on the slave's first segment carry the same entries from there on.
    for topic in ["TopicA", "TopicB"] {
        for q in 0..4 {
            assert_eq!(
                slave.max_offset_in_queue(topic, q),
                master.max_offset_in_queue(topic, q)
            );
            let s = read_queue(&slave, topic, q);
            let m = read_queue(&master, topic, q);
            assert!(!s.is_empty());
            assert!(
                m.ends_with(&s),
                "{topic}/{q}: slave records are not the master's tail"
            );
        }
    }
    // A slave refuses puts.
    let refused = slave.put_message(msg("TopicA", 0, "x", None)).await;
    assert_eq!(refused.status, PutStatus::ServiceNotAvailable);

    // Master restart on the same port: the slave reconnects (every 5 s) and resumes.
    ha.shutdown().await;
    master.shutdown().unwrap();
    drop(master);
    let master = MessageStore::open(role_config(mdir.path(), BrokerRole::AsyncMaster)).unwrap();
    let _ha = HaService::start_master(master.clone(), port).await.unwrap();
    put_many(&master, 320, 50).await;
    until("slave catch-up after restart", || {
        slave.max_phy_offset() == master.max_phy_offset()
    })
    .await;
    assert_commitlogs_identical(&master, &slave);
    until("slave dispatch", || {
        slave.dispatched_offset() == master.max_phy_offset()
    })
    .await;
    assert_eq!(
        slave.max_offset_in_queue("TopicA", 1),
        master.max_offset_in_queue("TopicA", 1)
    );

    // The slave's store reopens (clean shutdown) with the same content.
    client.shutdown().await;
    slave.shutdown().unwrap();
    drop(slave);
    let slave = MessageStore::open(role_config(sdir.path(), BrokerRole::Slave)).unwrap();
    assert_commitlogs_identical(&master, &slave);
    let (s, m) = (read_queue(&slave, "TopicB", 2), read_queue(&master, "TopicB", 2));
    assert!(!s.is_empty() && m.ends_with(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_waits_for_the_slave_ack() {
    let mdir = tempfile::tempdir().unwrap();
    let sdir = tempfile::tempdir().unwrap();
    let master = MessageStore::open(StoreConfig {
        slave_timeout_ms: 1000,
        ..role_config(mdir.path(), BrokerRole::SyncMaster)
    })
    .unwrap();
    // No slave: stored, but SLAVE_NOT_AVAILABLE at once.
    let started = Instant::now();
    let r = master.put_message(msg("T", 0, "first", None)).await;
    assert_eq!(r.status, PutStatus::SlaveNotAvailable);
    assert!(r.is_stored());
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(master.max_offset_in_queue("T", 0), 1);
    // WAIT=false does not wait for anything.
    let mut no_wait = msg("T", 0, "nowait", None);
    no_wait.properties.push_str("\u{2}WAIT\u{1}false");
    assert_eq!(master.put_message(no_wait).await.status, PutStatus::PutOk);

    let ha = HaService::start_master(master.clone(), 0).await.unwrap();
    let port = ha.local_addr().unwrap().port();
    let slave = MessageStore::open(role_config(sdir.path(), BrokerRole::Slave)).unwrap();
    let (_tx, rx) = watch::channel(Some(format!("127.0.0.1:{port}")));
    let _client = HaService::start_slave(slave.clone(), rx);
    until("slave connected", || master.ha().connection_count() == 1).await;
    until("slave caught up", || {
        master.ha().push2slave_max_offset() == master.max_phy_offset()
    })
    .await;
    for i in 0..20 {
        let r = master.put_message(msg("T", 0, &format!("sync-{i}"), None)).await;
        assert_eq!(r.status, PutStatus::PutOk, "put {i}");
        // Acknowledged means the slave has it.
        assert!(slave.max_phy_offset() >= r.wrote_offset + r.wrote_bytes as i64);
    }
    assert_eq!(slave.max_offset_in_queue("T", 0), 22);
}
