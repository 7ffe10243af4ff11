//! Send flow control (docs/broker/flow-control.md) against a real broker on a real socket: a put stuck in the
//! store's put lock (`stall_puts_for`) makes queued sends answer SYSTEM_BUSY — `[OVERLOAD]` past
//! the queue capacity, `[TIMEOUT_CLEAN_QUEUE]` after waitTimeMillsInSendQueue,
//! `[PCBUSY_CLEAN_QUEUE]` when the page cache turned busy meanwhile, `[REJECTREQUEST]` for a send
//! arriving while it is busy — and every SUCCESS is stored.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::wait::wait_until;
use common::{addr, config};
use rmq_broker::{Broker, BrokerConfig};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::SendMessageRequestHeader;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "FlowTopic";

fn send_request(body: &str) -> RemotingCommand {
    let h = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: TOPIC.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 1,
        queue_id: 0,
        born_timestamp: 1_700_000_000_000,
        properties: Some("WAIT\u{1}true".into()),
        ..Default::default()
    };
    RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&h)
        .with_body(body.as_bytes().to_vec())
}

/// Starts a stall of the put lock on a blocking thread and returns once the lock is held.
async fn stall(broker: &Broker, d: Duration) -> tokio::task::JoinHandle<()> {
    let store = broker.state().store.clone();
    let (tx, rx) = mpsc::channel();
    let h = tokio::task::spawn_blocking(move || store.stall_puts_for(d, move || tx.send(()).unwrap()));
    tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)).unwrap())
        .await
        .unwrap();
    h
}

/// Sends `n` messages at once; (body, response) per send.
async fn burst(
    client: &Arc<RemotingClient>,
    addr: &str,
    tag: &str,
    n: usize,
) -> Vec<(String, RemotingCommand)> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, addr) = (client.clone(), addr.to_string());
        let body = format!("{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let resp = client
                .invoke(&addr, send_request(&body), Duration::from_secs(15))
                .await
                .unwrap();
            (body, resp)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Every SUCCESS is in the queue at its reported offset with its body; returns how many.
fn check_stored(broker: &Broker, results: &[(String, RemotingCommand)]) -> usize {
    let store = &broker.state().store;
    let mut ok = 0;
    for (body, resp) in results {
        if resp.code != code::SUCCESS {
            continue;
        }
        ok += 1;
        let qo: i64 = resp.ext("queueOffset").unwrap().parse().unwrap();
        let r = store.get_message(TOPIC, 0, qo, 1, usize::MAX, &|_| true);
        let msgs = rmq_protocol::message::decode_messages(&r.messages[0]).unwrap();
        assert_eq!(msgs[0].body.as_ref(), body.as_bytes(), "offset {qo}");
    }
    ok
}

fn remark(resp: &RemotingCommand) -> &str {
    resp.remark.as_deref().unwrap_or("")
}

async fn start(cfg: BrokerConfig) -> (Broker, Arc<RemotingClient>, String) {
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let client = Arc::new(RemotingClient::new());
    // Creates the topic (auto-create from TBW102) before any stall.
    let r = client
        .invoke(&a, send_request("warm-up"), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    (broker, client, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overload_timeout_and_reject_while_the_store_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.send_message_thread_pool_nums = 1;
    cfg.send_thread_pool_queue_capacity = 4;
    // Generous: the whole burst must arrive before the first queued send times out.
    cfg.wait_time_mills_in_send_queue = 1000;
    cfg.store.os_page_cache_busy_timeout_ms = 1500;
    let (broker, client, a) = start(cfg).await;

    let stalled = stall(&broker, Duration::from_millis(4000)).await;
    // One send holds the permit (stuck behind the lock), 4 wait, the rest overflow.
    let results = burst(&client, &a, "b", 12).await;
    let count = |p: &str| {
        results
            .iter()
            .filter(|(_, r)| r.code == code::SYSTEM_BUSY && remark(r).starts_with(p))
            .count()
    };
    for (_, r) in &results {
        assert!(
            r.code == code::SUCCESS || r.code == code::SYSTEM_BUSY,
            "{} {:?}",
            r.code,
            r.remark
        );
    }
    assert_eq!(
        count("[OVERLOAD]system busy, start flow control for a while"),
        7,
        "{results:?}"
    );
    // Queued ones time out after 1 s (before the page cache counts as busy at 1.5 s).
    assert_eq!(
        count("[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: "),
        4,
        "{results:?}"
    );
    assert_eq!(results.iter().filter(|(_, r)| r.code == code::SUCCESS).count(), 1);

    // Still stuck, now for more than osPageCacheBusyTimeOutMills: refused up front.
    if !stalled.is_finished() {
        wait_until("the page cache to count as busy", Duration::from_secs(20), || {
            broker.state().store.is_os_page_cache_busy() || stalled.is_finished()
        })
        .await;
        let r = client
            .invoke(&a, send_request("late"), Duration::from_secs(15))
            .await
            .unwrap();
        if !stalled.is_finished() {
            assert_eq!(r.code, code::SYSTEM_BUSY);
            assert_eq!(
                remark(&r),
                "[REJECTREQUEST]system busy, start flow control for a while"
            );
        }
    }
    stalled.await.unwrap();
    assert_eq!(check_stored(&broker, &results), 1);

    // Unstuck: sends flow again (one at a time: a burst could still overflow the 4 places),
    // and every SUCCESS is stored.
    let mut results = Vec::new();
    for i in 0..20 {
        results.extend(burst(&client, &a, &format!("after{i}"), 1).await);
    }
    assert!(
        results.iter().all(|(_, r)| r.code == code::SUCCESS),
        "{results:?}"
    );
    assert_eq!(check_stored(&broker, &results), 20);
    assert_eq!(broker.state().send_queue.len(), 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_send_sees_the_page_cache_turn_busy() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.send_message_thread_pool_nums = 1;
    // Waiting longer than it takes the page cache to count as busy.
    cfg.wait_time_mills_in_send_queue = 3000;
    cfg.store.os_page_cache_busy_timeout_ms = 1000;
    let (broker, client, a) = start(cfg).await;

    let stalled = stall(&broker, Duration::from_millis(4500)).await;
    // One send holds the permit; the other two wait 3 s, by then the lock has been held > 1 s.
    let results = burst(&client, &a, "q", 3).await;
    let busy: Vec<_> = results
        .iter()
        .filter(|(_, r)| r.code == code::SYSTEM_BUSY)
        .collect();
    assert_eq!(busy.len(), 2, "{results:?}");
    for (_, r) in busy {
        assert!(
            remark(r).starts_with(
                "[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: "
            ),
            "{:?}",
            r.remark
        );
    }
    stalled.await.unwrap();
    assert_eq!(check_stored(&broker, &results), 1);
    broker.shutdown().await.unwrap();
}

/// CONSUMER_SEND_MSG_BACK waits in the same send queue as sends (Java runs both on the send
/// executor): refused up front while the page cache is busy, served once the store moves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn send_back_is_flow_controlled_like_a_send() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.send_message_thread_pool_nums = 1;
    cfg.store.os_page_cache_busy_timeout_ms = 300;
    let (broker, client, a) = start(cfg).await;
    let warm_up = broker
        .state()
        .store
        .get_message(TOPIC, 0, 0, 1, usize::MAX, &|_| true);
    let phy = rmq_protocol::message::decode_messages(&warm_up.messages[0]).unwrap()[0].commit_log_offset;
    let send_back = || {
        let h = rmq_protocol::header::ConsumerSendMsgBackRequestHeader {
            offset: phy,
            group: "CG".into(),
            delay_level: 0,
            ..Default::default()
        };
        RemotingCommand::request(rc::CONSUMER_SEND_MSG_BACK).with_header(&h)
    };

    // Busy after 300 ms; the send-back goes out right then, well before the 8 s stall ends.
    let stalled = stall(&broker, Duration::from_millis(8000)).await;
    wait_until("the page cache to count as busy", Duration::from_secs(20), || {
        broker.state().store.is_os_page_cache_busy() || stalled.is_finished()
    })
    .await;
    let sent_while_stuck = !stalled.is_finished();
    let r = client
        .invoke(&a, send_back(), Duration::from_secs(15))
        .await
        .unwrap();
    if sent_while_stuck {
        assert_eq!(r.code, code::SYSTEM_BUSY, "{:?}", r.remark);
        assert_eq!(
            remark(&r),
            "[REJECTREQUEST]system busy, start flow control for a while"
        );
    }
    stalled.await.unwrap();
    let r = client
        .invoke(&a, send_back(), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    broker.shutdown().await.unwrap();
}
