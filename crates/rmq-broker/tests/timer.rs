//! Timer messages (5.x `TIMER_DELIVER_MS` / `TIMER_DELAY_SEC` / `TIMER_DELAY_MS`) against an
//! in-process broker over the remoting protocol: parked until due, delivered once with the 5.x
//! properties, cancelled by a marker, refused beyond the maximum delay, and none lost across a
//! clean restart or a crash. Every wait is on a condition with a generous deadline.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::wait::{wait_for, wait_until};

use rmq_broker::{Broker, BrokerConfig};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::message::{self, encode_properties, property, MessageExt};
use rmq_protocol::time::now_ms;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const RPC: Duration = Duration::from_secs(5);
const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
const TOPIC: &str = "TimerTopic";
/// Generous: a loaded CI machine.
const DEADLINE: Duration = Duration::from_secs(30);

fn config(dir: &Path) -> BrokerConfig {
    let mut c = BrokerConfig {
        broker_cluster_name: "TestCluster".into(),
        broker_name: "broker-t".into(),
        namesrv_addr: Vec::new(),
        listen_port: 0,
        broker_ip1: "127.0.0.1".into(),
        ..BrokerConfig::default()
    };
    c.store.store_path_root_dir = dir.to_path_buf();
    c.store.mapped_file_size_commit_log = 8 << 20;
    c.store.mapped_file_size_consume_queue = 10_000 * 20;
    c.store.max_hash_slot_num = 1024;
    c.store.max_index_num = 4096;
    // Progress written often, so the crash test has something to resume from.
    c.timer.flush_interval_ms = 50;
    c
}

/// Starts a broker; retries while a crashed predecessor still holds the store lock.
async fn start(c: &BrokerConfig) -> Broker {
    wait_for("the broker to start", Duration::from_secs(20), || async {
        Broker::start(c.clone()).await.map_err(|e| e.to_string())
    })
    .await
}

fn addr(b: &Broker) -> String {
    format!("127.0.0.1:{}", b.local_addr().port())
}

async fn send_raw(
    client: &RemotingClient,
    addr: &str,
    queue_id: i32,
    props: &[(&str, String)],
) -> RemotingCommand {
    let h = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: TOPIC.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: now_ms(),
        flag: 0,
        properties: Some(encode_properties(props)),
        reconsume_times: None,
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        bname: None,
    };
    let req = RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&h)
        .with_body(b"timer".to_vec());
    client.invoke(addr, req, RPC).await.expect("send rpc")
}

async fn send(
    client: &RemotingClient,
    addr: &str,
    queue_id: i32,
    props: &[(&str, String)],
) -> SendMessageResponseHeader {
    let resp = send_raw(client, addr, queue_id, props).await;
    assert_eq!(resp.code, code::SUCCESS, "send: {:?}", resp.remark);
    resp.header().unwrap()
}

/// Every message of the test topic's queues, read straight from the store.
fn delivered(b: &Broker) -> Vec<MessageExt> {
    (0..4)
        .flat_map(|q| {
            let r = b
                .state()
                .store
                .get_message(TOPIC, q, 0, 10_000, 64 << 20, &|_| true);
            r.messages
                .iter()
                .map(|rec| message::decode_message(rec).unwrap().0)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn prop<'m>(m: &'m MessageExt, k: &str) -> Option<&'m str> {
    m.properties.get(k).map(String::as_str)
}

/// Delivered messages per UNIQ_KEY.
fn by_key(b: &Broker) -> HashMap<String, Vec<MessageExt>> {
    let mut out: HashMap<String, Vec<MessageExt>> = HashMap::new();
    for m in delivered(b) {
        out.entry(prop(&m, property::UNIQ_KEY).unwrap().to_string())
            .or_default()
            .push(m);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_wait_for_their_time_and_arrive_once_with_the_5x_properties() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(&config(dir.path())).await;
    let addr = addr(&b);
    let client = RemotingClient::new();

    let t0 = now_ms();
    let at = t0 + 700;
    let h = send(
        &client,
        &addr,
        2,
        &[
            (property::UNIQ_KEY, "K-AT".into()),
            (property::TIMER_DELIVER_MS, at.to_string()),
            (property::TAGS, "tg".into()),
        ],
    )
    .await;
    // The response names the queue asked for; the offset is the timer queue's.
    assert_eq!(h.queue_id, 2);
    assert_eq!(h.queue_offset, 0);
    send(
        &client,
        &addr,
        1,
        &[
            (property::UNIQ_KEY, "K-MS".into()),
            (property::TIMER_DELAY_MS, "300".into()),
        ],
    )
    .await;
    send(
        &client,
        &addr,
        1,
        &[
            (property::UNIQ_KEY, "K-SEC".into()),
            (property::TIMER_DELAY_SEC, "1".into()),
        ],
    )
    .await;
    // A time already past goes straight to its topic, untouched.
    send(
        &client,
        &addr,
        0,
        &[
            (property::UNIQ_KEY, "K-PAST".into()),
            (property::TIMER_DELIVER_MS, (t0 - 5).to_string()),
        ],
    )
    .await;
    let now = delivered(&b);
    assert_eq!(now.len(), 1, "only the past one is visible at once");
    assert_eq!(prop(&now[0], property::UNIQ_KEY), Some("K-PAST"));
    assert_eq!(prop(&now[0], property::TIMER_OUT_MS), None);
    assert_eq!(b.state().store.max_offset_in_queue(TIMER_TOPIC, 0), 3);

    wait_until("all four delivered", DEADLINE, || delivered(&b).len() == 4).await;
    let got = by_key(&b);
    for (key, asked) in [("K-AT", at), ("K-MS", t0 + 300), ("K-SEC", t0 + 1000)] {
        let ms = &got[key];
        assert_eq!(ms.len(), 1, "{key} delivered once");
        let m = &ms[0];
        // No earlier than asked (the broker's receipt, which the delays count from, is after t0).
        assert!(
            m.store_timestamp >= asked,
            "{key} early: stored {} asked {asked}",
            m.store_timestamp
        );
        let out: i64 = prop(m, property::TIMER_OUT_MS).unwrap().parse().unwrap();
        assert!(m.store_timestamp > out, "{key}: stored after TIMER_OUT_MS");
        assert!(prop(m, property::TIMER_ENQUEUE_MS).is_some());
        assert!(
            prop(m, property::TIMER_DEQUEUE_MS)
                .unwrap()
                .parse::<i64>()
                .unwrap()
                > out
        );
        // As the 5.3.1 broker delivers them: REAL_TOPIC / REAL_QID kept.
        assert_eq!(prop(m, property::REAL_TOPIC), Some(TOPIC));
        assert_eq!(prop(m, property::REAL_QID), Some(m.queue_id.to_string().as_str()));
    }
    let at_msg = &got["K-AT"][0];
    assert_eq!(at_msg.queue_id, 2);
    assert!(at_msg.store_timestamp >= at);
    assert_eq!(
        prop(at_msg, property::TIMER_DELIVER_MS),
        Some(at.to_string().as_str())
    );
    assert_eq!(at_msg.tags_code(), message::tag_hash("tg"));
    let stats = &b.state().timer.stats;
    wait_until("the delivery counted", DEADLINE, || {
        stats.delivered.load(Ordering::Relaxed) == 3
    })
    .await;
    assert_eq!(stats.pending.load(Ordering::Relaxed), 0);
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_cancels_the_timer_of_its_slot_and_the_limit_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(&config(dir.path())).await;
    let addr = addr(&b);
    let client = RemotingClient::new();

    let at = (now_ms() + 600).to_string();
    send(
        &client,
        &addr,
        0,
        &[
            (property::UNIQ_KEY, "VICTIM".into()),
            (property::TIMER_DELIVER_MS, at.clone()),
        ],
    )
    .await;
    send(
        &client,
        &addr,
        0,
        &[
            (property::UNIQ_KEY, "MARKER".into()),
            (property::TIMER_DELIVER_MS, at.clone()),
            (property::TIMER_DEL_UNIQKEY, "VICTIM".into()),
        ],
    )
    .await;
    send(
        &client,
        &addr,
        0,
        &[
            (property::UNIQ_KEY, "WITNESS".into()),
            (property::TIMER_DELIVER_MS, at),
        ],
    )
    .await;
    // The three share a slot: they fire in one pass, so once the witness is there, the victim
    // has been dropped (and the marker is never delivered).
    wait_until("the witness", DEADLINE, || by_key(&b).contains_key("WITNESS")).await;
    let got = by_key(&b);
    assert_eq!(got.len(), 1, "only the witness: {:?}", got.keys());
    assert_eq!(b.state().timer.stats.cancelled.load(Ordering::Relaxed), 1);

    let too_far = (now_ms() + 3 * 86_400_000 + 60_000).to_string();
    let resp = send_raw(&client, &addr, 0, &[(property::TIMER_DELIVER_MS, too_far)]).await;
    assert_eq!(resp.code, code::MESSAGE_ILLEGAL);
    assert_eq!(
        resp.remark.as_deref(),
        Some("timer message illegal, the delay time should not be bigger than the max delay 259200000ms; or if set del msg, the delay time should be bigger than the current time")
    );
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_with_the_wheel_off_refuses_timers() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.timer.enable = false;
    let b = start(&c).await;
    let client = RemotingClient::new();
    let resp = send_raw(&client, &addr(&b), 0, &[(property::TIMER_DELAY_SEC, "5".into())]).await;
    assert_eq!(resp.code, code::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some("accurate timer message is not enabled, timerWheelEnable is false")
    );
    b.shutdown().await.unwrap();
}

/// Sends `n` timers spread over the next ~1.5 s, stops the broker (cleanly or not) while some
/// are still pending, starts it again and waits for every one of them.
async fn pending_across_a_restart(crash: bool) {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let b = start(&c).await;
    let addr = addr(&b);
    let client = RemotingClient::new();
    let n = 60;
    let t0 = now_ms();
    for i in 0..n {
        let at = t0 + 200 + i * 25;
        send(
            &client,
            &addr,
            (i % 4) as i32,
            &[
                (property::UNIQ_KEY, format!("R-{i}")),
                (property::TIMER_DELIVER_MS, at.to_string()),
            ],
        )
        .await;
    }
    // Some delivered, some not.
    wait_until("a first delivery", DEADLINE, || !delivered(&b).is_empty()).await;
    let before = delivered(&b).len();
    assert!(
        before < n as usize,
        "stopped while timers are pending ({before} of {n} delivered)"
    );
    if crash {
        b.crash().await;
    } else {
        b.shutdown().await.unwrap();
    }
    let b = start(&c).await;
    wait_until("every timer after the restart", DEADLINE, || {
        by_key(&b).len() == n as usize
    })
    .await;
    let got = by_key(&b);
    for i in 0..n {
        let ms = &got[&format!("R-{i}")];
        if !crash {
            assert_eq!(ms.len(), 1, "R-{i} delivered once across a clean restart");
        }
        let asked = t0 + 200 + i * 25;
        assert!(ms.iter().all(|m| m.store_timestamp >= asked), "R-{i} early");
    }
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_timers_survive_a_clean_restart_exactly_once() {
    pending_across_a_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_timers_survive_a_crash() {
    pending_across_a_restart(true).await;
}
