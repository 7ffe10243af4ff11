//! Controller-mode replication without sockets or clocks: role changes on the store, the epoch
//! file, and the truncation a returning old master does before it replicates from the new one
//! (docs/controller/broker.md#truncation). Deterministic: every step is a direct call.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use common::{config, decode, msg};
use rmq_store::ha::auto::slave::{consistent_point, truncate_to_master};
use rmq_store::ha::epoch::EpochCache;
use rmq_store::{BrokerRole, MessageStore, PutStatus, StoreConfig};

const TOPIC: &str = "FailoverTopic";

fn controller_config(root: &std::path::Path) -> StoreConfig {
    StoreConfig {
        controller_mode: true,
        broker_role: BrokerRole::Slave,
        ..config(root)
    }
}

async fn put(store: &MessageStore, tag: &str, n: usize) {
    for i in 0..n {
        let r = store
            .put_message(msg(TOPIC, 0, &format!("{tag}-{i}"), None))
            .await;
        assert_eq!(r.status, PutStatus::PutOk, "{tag}-{i}");
    }
}

/// The controller confirmed the store's master role just now (the broker does this).
fn grant_lease(store: &MessageStore) {
    store
        .ha()
        .replicas
        .renew_lease(rmq_store::ha::auto::monotonic_ms(), 600_000);
}

/// The epoch file as (epoch, start offset) pairs.
fn epochs_of(store: &MessageStore) -> Vec<(i32, i64)> {
    store
        .ha()
        .replicas
        .epochs()
        .entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

/// Bodies of queue 0, as served.
fn bodies(store: &MessageStore) -> Vec<String> {
    let mut out = Vec::new();
    let mut off = store.min_offset_in_queue(TOPIC, 0);
    while off < store.max_offset_in_queue(TOPIC, 0) {
        let r = store.get_message(TOPIC, 0, off, 32, usize::MAX, &|_| true);
        assert!(!r.messages.is_empty(), "queue 0 at {off}: {:?}", r.status);
        out.extend(r.messages.iter().map(|m| decode(m).4));
        off = r.next_begin_offset;
    }
    out
}

/// Copies `from`'s commitlog bytes `[start, end)` into `to` as the HA client would; the
/// master's confirm offset (`confirm`) comes with them.
fn replicate(from: &MessageStore, to: &MessageStore, start: i64, end: i64, confirm: i64) {
    let mut off = start;
    while off < end {
        let chunk = from.read_replication_chunk(off, (end - off) as usize).unwrap();
        to.append_replicated(off, &chunk).unwrap();
        off += chunk.len() as i64;
    }
    to.master_confirmed(confirm);
}

#[tokio::test]
async fn a_store_starts_fenced_and_takes_puts_only_as_master() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(controller_config(dir.path())).unwrap();
    assert!(store.is_fenced());
    let r = store.put_message(msg(TOPIC, 0, "early", None)).await;
    assert_eq!(r.status, PutStatus::ServiceNotAvailable, "fenced and a slave");
    store.set_fenced(false);
    let r = store.put_message(msg(TOPIC, 0, "slave", None)).await;
    assert_eq!(r.status, PutStatus::ServiceNotAvailable, "a slave refuses puts");
    assert!(store.change_to_master(1).unwrap());
    let r = store.put_message(msg(TOPIC, 0, "no lease", None)).await;
    assert_eq!(
        r.status,
        PutStatus::ServiceNotAvailable,
        "a master without a lease refuses puts"
    );
    grant_lease(&store);
    put(&store, "m", 3).await;
    assert_eq!(store.ha().replicas.epochs().entries().len(), 1);
    assert!(!store.change_to_master(0).unwrap(), "an older epoch is refused");
    assert!(store.change_to_slave(2));
    let r = store.put_message(msg(TOPIC, 0, "demoted", None)).await;
    assert_eq!(r.status, PutStatus::ServiceNotAvailable);
    assert!(
        !store.change_to_slave(0),
        "an epoch below the epoch file's last is refused"
    );
}

/// A (master of epoch 1) writes 10 messages that B replicates, then 5 that B never gets; B
/// becomes master of epoch 2 and writes 3. A comes back: it cuts its 5, takes B's 3, and its
/// queue, commitlog and epoch file equal B's — also after a restart from disk.
#[tokio::test]
async fn a_returning_master_cuts_its_unconfirmed_tail_and_follows_the_new_master() {
    let dir = tempfile::tempdir().unwrap();
    let a = MessageStore::open(controller_config(&dir.path().join("a"))).unwrap();
    let b = MessageStore::open(controller_config(&dir.path().join("b"))).unwrap();
    for s in [&a, &b] {
        s.set_fenced(false);
    }
    assert!(a.change_to_master(1).unwrap());
    grant_lease(&a);
    put(&a, "confirmed", 10).await;
    let confirmed = a.max_phy_offset();
    replicate(&a, &b, 0, confirmed, 0);
    assert!(b.ha().replicas.record_epoch(1, 0).unwrap());
    assert_eq!(
        b.max_offset_in_queue(TOPIC, 0),
        0,
        "a slave shows nothing its master did not confirm"
    );
    put(&a, "unconfirmed", 5).await;
    let a_max = a.max_phy_offset();
    assert!(a_max > confirmed);

    assert!(b.change_to_master(2).unwrap());
    assert_eq!(
        b.max_offset_in_queue(TOPIC, 0),
        10,
        "a new master serves every complete record it has"
    );
    grant_lease(&b);
    put(&b, "new-master", 3).await;
    let b_epochs = epochs_of(&b);
    assert_eq!(b_epochs, vec![(1, 0), (2, confirmed)]);

    // A's view: its epochs [(1, 0)] ending at a_max; B's [(1, 0), (2, confirmed)] ending at
    // B's max: they agree up to `confirmed`.
    assert_eq!(
        consistent_point(&a.ha().replicas.epochs(), a_max, &b_epochs, b.max_phy_offset()),
        confirmed
    );
    assert!(a.change_to_slave(2));
    let start = truncate_to_master(&a, &b_epochs, b.max_phy_offset()).unwrap();
    assert_eq!(start, confirmed);
    assert_eq!(a.max_phy_offset(), confirmed);
    assert_eq!(
        a.max_offset_in_queue(TOPIC, 0),
        10,
        "the queue lost the 5 unconfirmed"
    );
    replicate(&b, &a, confirmed, b.max_phy_offset(), b.confirm_offset());
    assert!(a.ha().replicas.record_epoch(2, confirmed).unwrap());

    let expected: Vec<String> = (0..10)
        .map(|i| format!("confirmed-{i}"))
        .chain((0..3).map(|i| format!("new-master-{i}")))
        .collect();
    assert_eq!(bodies(&a), expected);
    assert_eq!(bodies(&b), expected);
    assert_eq!(a.max_phy_offset(), b.max_phy_offset());

    // The cut is on disk: a restart of A sees B's history, not its own tail.
    a.shutdown().unwrap();
    drop(a);
    let a = MessageStore::open(controller_config(&dir.path().join("a"))).unwrap();
    assert_eq!(a.max_phy_offset(), b.max_phy_offset());
    assert_eq!(bodies(&a), expected);
    let epochs = epochs_of(&a);
    assert_eq!(epochs, b_epochs);
}

/// With `allAckInSyncStateSet`, a record enters the consume queue (and wakes held pulls) only
/// once every member of the SyncStateSet has it — before the put returns — so no consumer ever
/// reads what a newly elected master might lack. The slave shows what its master confirmed.
#[tokio::test]
async fn consume_queues_hold_only_what_the_sync_state_set_has() {
    let dir = tempfile::tempdir().unwrap();
    let master = MessageStore::open(StoreConfig {
        all_ack_in_sync_state_set: true,
        slave_timeout_ms: 60_000,
        ..controller_config(&dir.path().join("m"))
    })
    .unwrap();
    master.set_fenced(false);
    master.ha().replicas.set_local_id(1);
    assert!(master.change_to_master(1).unwrap());
    grant_lease(&master);
    put(&master, "alone", 2).await;
    assert_eq!(
        master.max_offset_in_queue(TOPIC, 0),
        2,
        "alone, a master confirms at once"
    );
    let ha = rmq_store::ha::HaService::start_auto_master(master.clone(), 0)
        .await
        .unwrap();
    let addr = format!("127.0.0.1:{}", ha.local_addr().unwrap().port());
    master.set_sync_state_set([1, 2].into());

    let mut arrivals = master.subscribe_arrivals();
    let before = master.max_phy_offset();
    let pending = tokio::spawn({
        let master = master.clone();
        async move { master.put_message(msg(TOPIC, 0, "replicated", None)).await }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while master.max_phy_offset() == before {
        assert!(std::time::Instant::now() < deadline, "the put never appended");
        tokio::task::yield_now().await;
    }
    assert_eq!(
        master.max_offset_in_queue(TOPIC, 0),
        2,
        "appended, but member 2 does not have it yet"
    );
    assert!(arrivals.try_recv().is_err(), "no held pull is woken for it");
    assert!(!pending.is_finished());

    let slave = MessageStore::open(controller_config(&dir.path().join("s"))).unwrap();
    slave.set_fenced(false);
    slave.ha().replicas.set_local_id(2);
    let (_tx, rx) = tokio::sync::watch::channel(Some(addr));
    let _client = rmq_store::ha::HaService::start_auto_slave(slave.clone(), rx);
    let r = pending.await.unwrap();
    assert_eq!(r.status, PutStatus::PutOk);
    assert_eq!(
        master.max_offset_in_queue(TOPIC, 0),
        3,
        "readable when the put returns"
    );
    assert_eq!(arrivals.try_recv().unwrap().queue_offset, 2);

    // The slave serves what the master confirmed: all of it, after the next push.
    while slave.max_offset_in_queue(TOPIC, 0) != 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slave never showed the confirmed records"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(bodies(&slave), bodies(&master));
    ha.shutdown().await;
}

/// Java's EpochFileCacheTest samples, through the slave's comparison.
#[test]
fn consistent_points_follow_java() {
    let local = EpochCache::from_entries([(1, 100), (2, 300), (3, 500)]);
    assert_eq!(
        consistent_point(&local, 700, &[(1, 100), (2, 300), (3, 450)], 600),
        450
    );
    assert_eq!(
        consistent_point(&local, 700, &[(1, 100), (2, 300), (3, 500)], 600),
        600
    );
    assert_eq!(consistent_point(&local, 700, &[(1, 200), (2, 500)], 600), -1);
    let longer = EpochCache::from_entries([(1, 100), (2, 300), (3, 500), (4, 800)]);
    assert_eq!(
        consistent_point(&longer, 900, &[(1, 100), (2, 300), (3, 500)], 700),
        700
    );
}

/// Bad input on the HA port: a frame with an unknown state, and a report past the master's end,
/// close that connection only; the master keeps its data and serves the next slave.
#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let master = MessageStore::open(controller_config(&dir.path().join("m"))).unwrap();
    master.set_fenced(false);
    assert!(master.change_to_master(1).unwrap());
    grant_lease(&master);
    put(&master, "m", 3).await;
    let max = master.max_phy_offset();
    let ha = rmq_store::ha::HaService::start_auto_master(master.clone(), 0)
        .await
        .unwrap();
    let addr = format!("127.0.0.1:{}", ha.local_addr().unwrap().port());

    let closed = |mut s: tokio::net::TcpStream| async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    };
    let mut bad = tokio::net::TcpStream::connect(&addr).await.unwrap();
    bad.write_all(&[0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8])
        .await
        .unwrap();
    assert!(closed(bad).await, "an unknown state closes the connection");

    let mut past = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut frame = Vec::new();
    frame.extend_from_slice(&1i32.to_be_bytes());
    frame.extend_from_slice(&0i16.to_be_bytes());
    frame.extend_from_slice(&0i16.to_be_bytes());
    frame.extend_from_slice(&7i64.to_be_bytes());
    frame.extend_from_slice(&2i32.to_be_bytes());
    frame.extend_from_slice(&(max + 1_000_000).to_be_bytes());
    past.write_all(&frame).await.unwrap();
    assert!(
        closed(past).await,
        "a report past the master's end closes the connection"
    );

    // A real slave still replicates everything.
    let slave = MessageStore::open(controller_config(&dir.path().join("s"))).unwrap();
    slave.set_fenced(false);
    slave.ha().replicas.set_local_id(2);
    let (_tx, rx) = tokio::sync::watch::channel(Some(addr.clone()));
    let _client = rmq_store::ha::HaService::start_auto_slave(slave.clone(), rx);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while slave.max_phy_offset() != max {
        assert!(std::time::Instant::now() < deadline, "the slave did not catch up");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(master.max_phy_offset(), max, "nothing lost on the master");
    assert_eq!(bodies(&slave), bodies(&master));
    ha.shutdown().await;
}

/// `minInSyncReplicas`: while the SyncStateSet is smaller, a put that waits for the store is
/// refused before anything is written; one that does not wait (`WAIT=false`) is taken.
#[tokio::test]
async fn a_small_sync_state_set_refuses_waiting_puts() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(StoreConfig {
        min_in_sync_replicas: 2,
        ..controller_config(dir.path())
    })
    .unwrap();
    store.set_fenced(false);
    store.ha().replicas.set_local_id(1);
    assert!(store.change_to_master(1).unwrap());
    grant_lease(&store);
    store.set_sync_state_set([1].into());
    let r = store.put_message(msg(TOPIC, 0, "refused", None)).await;
    assert_eq!(r.status, PutStatus::InSyncReplicasNotEnough);
    assert_eq!(store.max_phy_offset(), 0, "nothing written");
    let mut no_wait = msg(TOPIC, 0, "no wait", None);
    no_wait.properties = "WAIT\u{1}false".into();
    assert_eq!(store.put_message(no_wait).await.status, PutStatus::PutOk);
    assert_eq!(store.max_offset_in_queue(TOPIC, 0), 1);
}
