//! Delay levels, consumer retry / DLQ and QUERY_MESSAGE against an in-process broker, over the
//! remoting protocol. Small delay tables ("1s 2s 3s") keep it fast; every wait is on a condition
//! with a generous deadline.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::wait::{wait_for, wait_until_async};

use rmq_broker::{Broker, BrokerConfig};
use rmq_protocol::body::SubscriptionGroupConfig;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::message::{self, encode_properties, property, MessageExt};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const RPC: Duration = Duration::from_secs(5);
const SCHEDULE: &str = "SCHEDULE_TOPIC_XXXX";

fn config(dir: &Path, levels: &str) -> BrokerConfig {
    let mut c = BrokerConfig {
        broker_cluster_name: "TestCluster".into(),
        broker_name: "broker-t".into(),
        namesrv_addr: Vec::new(),
        listen_port: 0,
        broker_ip1: "127.0.0.1".into(),
        ..BrokerConfig::default()
    };
    c.store.store_path_root_dir = dir.to_path_buf();
    c.store.message_delay_level = levels.into();
    c.store.mapped_file_size_commit_log = 8 << 20;
    c.store.mapped_file_size_consume_queue = 10_000 * 20;
    c.store.max_hash_slot_num = 1024;
    c.store.max_index_num = 4096;
    c
}

/// Starts a broker; retries while a crashed predecessor still holds the store lock.
async fn start(c: &BrokerConfig) -> Broker {
    wait_for("the broker to start", Duration::from_secs(20), || async {
        Broker::start(c.clone()).await.map_err(|e| e.to_string())
    })
    .await
}

use rmq_protocol::time::now_ms;

struct Msg<'a> {
    topic: &'a str,
    queue_id: i32,
    props: Vec<(&'a str, String)>,
    body: &'a [u8],
    reconsume_times: Option<i32>,
    max_reconsume_times: Option<i32>,
}

impl<'a> Msg<'a> {
    fn new(topic: &'a str, body: &'a [u8]) -> Self {
        Msg {
            topic,
            queue_id: 0,
            props: Vec::new(),
            body,
            reconsume_times: None,
            max_reconsume_times: None,
        }
    }
    fn prop(mut self, k: &'a str, v: impl Into<String>) -> Self {
        self.props.push((k, v.into()));
        self
    }
}

async fn send_raw(client: &RemotingClient, addr: &str, m: Msg<'_>) -> RemotingCommand {
    let h = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: m.topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: m.queue_id,
        sys_flag: 0,
        born_timestamp: now_ms(),
        flag: 0,
        properties: Some(encode_properties(&m.props)),
        reconsume_times: m.reconsume_times,
        unit_mode: false,
        max_reconsume_times: m.max_reconsume_times,
        batch: false,
        bname: None,
    };
    let req = RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&h)
        .with_body(m.body.to_vec());
    client.invoke(addr, req, RPC).await.expect("send rpc")
}

/// Sends and returns (response header, commitlog offset).
async fn send(client: &RemotingClient, addr: &str, m: Msg<'_>) -> (SendMessageResponseHeader, i64) {
    let resp = send_raw(client, addr, m).await;
    assert_eq!(resp.code, code::SUCCESS, "send: {:?}", resp.remark);
    let h: SendMessageResponseHeader = resp.header().unwrap();
    let (_, offset) = message::decode_offset_msg_id(&h.msg_id).unwrap();
    (h, offset)
}

async fn max_offset(client: &RemotingClient, addr: &str, topic: &str, queue_id: i32) -> i64 {
    let req = RemotingCommand::request(rc::GET_MAX_OFFSET).with_header(&GetMaxOffsetRequestHeader {
        topic: topic.into(),
        queue_id,
        bname: None,
    });
    let resp = client.invoke(addr, req, RPC).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS);
    resp.ext("offset").unwrap().parse().unwrap()
}

/// Every message of a queue, read straight from the store.
fn read_queue(b: &Broker, topic: &str, queue_id: i32) -> Vec<MessageExt> {
    let r = b
        .state()
        .store
        .get_message(topic, queue_id, 0, 1000, 64 << 20, &|_| true);
    r.messages
        .iter()
        .map(|rec| message::decode_message(rec).unwrap().0)
        .collect()
}

async fn send_back(
    client: &RemotingClient,
    addr: &str,
    offset: i64,
    group: &str,
    delay_level: i32,
    max: Option<i32>,
) -> RemotingCommand {
    let h = ConsumerSendMsgBackRequestHeader {
        offset,
        group: group.into(),
        delay_level,
        origin_msg_id: None,
        origin_topic: None,
        unit_mode: false,
        max_reconsume_times: max,
        bname: None,
    };
    let req = RemotingCommand::request(rc::CONSUMER_SEND_MSG_BACK).with_header(&h);
    client.invoke(addr, req, RPC).await.unwrap()
}

async fn query(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    key: &str,
    unique: bool,
) -> (i32, Vec<MessageExt>) {
    let h = QueryMessageRequestHeader {
        topic: topic.into(),
        key: key.into(),
        max_num: 64,
        begin_timestamp: 0,
        end_timestamp: i64::MAX,
    };
    let req = RemotingCommand::request(rc::QUERY_MESSAGE)
        .with_header(&h)
        .with_ext(UNIQUE_KEY_QUERY, unique.to_string());
    let resp = client.invoke(addr, req, RPC).await.unwrap();
    let h: QueryMessageResponseHeader = resp.header().unwrap();
    assert!(h.index_last_update_phyoffset >= 0);
    let msgs = if resp.code == code::SUCCESS {
        message::decode_messages_raw(&resp.body).unwrap()
    } else {
        assert_eq!(resp.code, code::QUERY_NOT_FOUND);
        assert_eq!(
            resp.remark.as_deref(),
            Some("can not find message, maybe time range not correct")
        );
        Vec::new()
    };
    (resp.code, msgs)
}

fn prop<'m>(m: &'m MessageExt, k: &str) -> Option<&'m str> {
    m.properties.get(k).map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_message_is_invisible_until_due_then_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(&config(dir.path(), "1s 2s 3s")).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let client = RemotingClient::new();

    let m = Msg::new("DelayT", b"delayed body")
        .prop(property::KEYS, "dk1 dk2")
        .prop(property::TAGS, "TagA")
        .prop(property::UNIQ_KEY, "UNIQ-DELAY-1")
        .prop(property::DELAY, "1");
    let sent_at = Instant::now();
    let (h, _) = send(&client, &addr, Msg { queue_id: 2, ..m }).await;
    assert_eq!(h.queue_id, 2, "the response names the original queue");
    // A level above the max is clamped to the last level.
    let clamped = Msg::new("DelayT", b"clamped")
        .prop(property::UNIQ_KEY, "UNIQ-DELAY-2")
        .prop(property::DELAY, "99");
    send(&client, &addr, clamped).await;

    let invisible = max_offset(&client, &addr, "DelayT", 2).await == 0;
    // Only meaningful while the delay cannot have expired yet (a stalled machine skips it; the
    // store-time check below holds regardless).
    assert!(invisible || sent_at.elapsed() >= Duration::from_millis(900));
    assert_eq!(max_offset(&client, &addr, SCHEDULE, 0).await, 1);
    assert_eq!(max_offset(&client, &addr, SCHEDULE, 2).await, 1);
    let parked = &read_queue(&b, SCHEDULE, 0)[0];
    assert_eq!(prop(parked, property::REAL_TOPIC), Some("DelayT"));
    assert_eq!(prop(parked, property::REAL_QID), Some("2"));
    assert_eq!(prop(parked, property::DELAY), Some("1"));
    let parked_max = &read_queue(&b, SCHEDULE, 2)[0];
    assert_eq!(prop(parked_max, property::DELAY), Some("3"));
    assert_eq!(parked_max.queue_id, 2);

    wait_until_async("level-1 delivery", Duration::from_secs(20), || async {
        max_offset(&client, &addr, "DelayT", 2).await == 1
    })
    .await;
    let got = read_queue(&b, "DelayT", 2);
    assert_eq!(got.len(), 1);
    let d = &got[0];
    assert!(
        d.store_timestamp >= parked.store_timestamp + 1000,
        "delivered {} ms after parking",
        d.store_timestamp - parked.store_timestamp
    );
    assert_eq!(&d.body[..], b"delayed body");
    assert_eq!(d.topic, "DelayT");
    assert_eq!(d.queue_id, 2);
    // Java 4.9.7 delivers the DELAY property with the message (observed on the oracle).
    assert_eq!(prop(d, property::DELAY), Some("1"));
    assert_eq!(prop(d, property::KEYS), Some("dk1 dk2"));
    assert_eq!(prop(d, property::UNIQ_KEY), Some("UNIQ-DELAY-1"));
    assert_eq!(prop(d, property::REAL_TOPIC), Some("DelayT"));
    assert_eq!(d.tags(), Some("TagA"));

    // The level-3 message lands in its own real queue (0); nothing is delivered twice.
    wait_until_async("level-3 delivery", Duration::from_secs(20), || async {
        max_offset(&client, &addr, "DelayT", 0).await == 1
    })
    .await;
    wait_until_async("delay offsets persisted", Duration::from_secs(10), || async {
        let text = std::fs::read_to_string(dir.path().join("config/delayOffset.json")).unwrap_or_default();
        text.contains(r#""1":1"#) && text.contains(r#""3":1"#)
    })
    .await;
    let req = RemotingCommand::request(rc::GET_ALL_DELAY_OFFSET);
    let resp = client.invoke(&addr, req, RPC).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS);
    assert!(std::str::from_utf8(&resp.body)
        .unwrap()
        .contains(r#""offsetTable""#));
    // Nothing is delivered twice. One task walks every level once per pass, each from its
    // offset; a marker parked at level 1 now is re-put only by a pass a second from now, so once
    // it has arrived, the passes that could have repeated a delivery are over.
    delay_marker_delivered(&client, &addr, "DelayT", "UNIQ-DELAY-MARKER").await;
    assert_eq!(read_queue(&b, "DelayT", 1).len(), 1, "the marker alone");
    assert_eq!(read_queue(&b, "DelayT", 2).len(), 1);
    assert_eq!(read_queue(&b, "DelayT", 0).len(), 1);

    // The delivered message is queryable under its real topic by key and unique key.
    assert_eq!(query(&client, &addr, "DelayT", "dk2", false).await.1.len(), 1);
    assert_eq!(
        query(&client, &addr, "DelayT", "UNIQ-DELAY-2", true)
            .await
            .1
            .len(),
        1
    );
    b.shutdown().await.unwrap();
}

async fn park_and_restart(crash: bool) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "1s 2s 3s");
    let client = RemotingClient::new();
    let b = start(&cfg).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let mut expected = HashSet::new();
    for i in 0..3 {
        let uniq = format!("FAST-{i}");
        send(
            &client,
            &addr,
            Msg::new("RestartT", b"f")
                .prop(property::UNIQ_KEY, &uniq)
                .prop(property::DELAY, "1"),
        )
        .await;
        expected.insert(uniq);
    }
    for i in 0..4 {
        let uniq = format!("SLOW-{i}");
        send(
            &client,
            &addr,
            Msg::new("RestartT", b"s")
                .prop(property::UNIQ_KEY, &uniq)
                .prop(property::DELAY, "3"),
        )
        .await;
        expected.insert(uniq);
    }
    if crash {
        // Let level 1 deliver first, so the crash happens with progress to lose or repeat.
        wait_until_async("level-1 delivery", Duration::from_secs(20), || async {
            max_offset(&client, &addr, "RestartT", 0).await >= 3
        })
        .await;
        b.crash().await;
    } else {
        b.shutdown().await.unwrap();
    }
    client.close_all();

    let b = start(&cfg).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let client = RemotingClient::new();
    wait_until_async("all delayed messages", Duration::from_secs(30), || async {
        max_offset(&client, &addr, "RestartT", 0).await >= 7
    })
    .await;
    // A duplicate would come from a pass walking a level from a stale offset. A marker parked
    // at level 1 now (on another queue) is re-put by a pass a second later; once it has arrived,
    // every pass of every level in between is over, and whatever they repeated is in the queue.
    delay_marker_delivered(&client, &addr, "RestartT", "MARKER").await;
    let got = read_queue(&b, "RestartT", 0);
    let uniqs: Vec<String> = got
        .iter()
        .map(|m| prop(m, property::UNIQ_KEY).unwrap().to_string())
        .collect();
    assert_eq!(uniqs.len(), 7, "delivered: {uniqs:?}");
    assert_eq!(uniqs.into_iter().collect::<HashSet<_>>(), expected);
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_neither_loses_nor_duplicates_parked_messages() {
    park_and_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_restart_neither_loses_nor_duplicates_parked_messages() {
    park_and_restart(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_goes_to_retry_with_delay_and_reconsume_times() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(&config(dir.path(), "1s 2s 3s 4s 5s 6s")).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let client = RemotingClient::new();
    let m = Msg::new("RetryT", b"retry body")
        .prop(property::KEYS, "rk")
        .prop(property::UNIQ_KEY, "UNIQ-RETRY-1");
    let (orig_h, orig_offset) = send(&client, &addr, m).await;

    // Explicit level 1: parked at level 1, then in %RETRY%G1 after ~1 s.
    let resp = send_back(&client, &addr, orig_offset, "G1", 1, Some(16)).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let tc = b.state().topics.get("%RETRY%G1").expect("retry topic created");
    assert_eq!((tc.read_queue_nums, tc.write_queue_nums, tc.perm), (1, 1, 6));
    let parked = &read_queue(&b, SCHEDULE, 0)[0];
    assert_eq!(prop(parked, property::REAL_TOPIC), Some("%RETRY%G1"));
    wait_until_async("retry delivery", Duration::from_secs(20), || async {
        max_offset(&client, &addr, "%RETRY%G1", 0).await == 1
    })
    .await;
    let r = &read_queue(&b, "%RETRY%G1", 0)[0];
    assert_eq!(r.reconsume_times, 1);
    assert_eq!(&r.body[..], b"retry body");
    assert_eq!(prop(r, property::RETRY_TOPIC), Some("RetryT"));
    assert_eq!(prop(r, property::ORIGIN_MESSAGE_ID), Some(orig_h.msg_id.as_str()));
    assert_eq!(prop(r, property::UNIQ_KEY), Some("UNIQ-RETRY-1"));
    assert_eq!(prop(r, property::KEYS), Some("rk"));
    assert_eq!(prop(r, property::DELAY), Some("1"));

    // Default level for the second retry: 3 + reconsumeTimes(1) = 4 → queue 3.
    let resp = send_back(&client, &addr, r.commit_log_offset, "G1", 0, Some(16)).await;
    assert_eq!(resp.code, code::SUCCESS);
    let p = &read_queue(&b, SCHEDULE, 3)[0];
    assert_eq!(prop(p, property::DELAY), Some("4"));
    assert_eq!(prop(p, property::REAL_TOPIC), Some("%RETRY%G1"));
    assert_eq!(p.reconsume_times, 2);
    assert_eq!(prop(p, property::RETRY_TOPIC), Some("RetryT"));
    assert_eq!(prop(p, property::ORIGIN_MESSAGE_ID), Some(orig_h.msg_id.as_str()));
    // ... and for a first retry: 3 + 0 → queue 2.
    let resp = send_back(&client, &addr, orig_offset, "G1", 0, None).await;
    assert_eq!(resp.code, code::SUCCESS);
    assert_eq!(prop(&read_queue(&b, SCHEDULE, 2)[0], property::DELAY), Some("3"));

    let resp = send_back(&client, &addr, orig_offset, "../evil", 0, None).await;
    assert_eq!(resp.code, code::SYSTEM_ERROR);
    assert!(b.state().topics.get("%RETRY%../evil").is_none());

    let resp = send_back(&client, &addr, 1 << 40, "G1", 0, None).await;
    assert_eq!(resp.code, code::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("look message by offset failed, {}", 1i64 << 40).as_str())
    );
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_land_in_dlq_with_retry_topic() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(&config(dir.path(), "1s 2s 3s")).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let client = RemotingClient::new();
    let dlq = "%DLQ%G2";

    // reconsumeTimes (2) >= maxReconsumeTimes (2): straight to the DLQ, no delay.
    let m = Msg {
        reconsume_times: Some(2),
        ..Msg::new("DlqT", b"dead").prop(property::UNIQ_KEY, "UNIQ-DLQ-1")
    };
    let (orig_h, off) = send(&client, &addr, m).await;
    let resp = send_back(&client, &addr, off, "G2", 0, Some(2)).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    assert_eq!(max_offset(&client, &addr, dlq, 0).await, 1);
    let tc = b.state().topics.get(dlq).expect("DLQ topic created");
    assert_eq!((tc.read_queue_nums, tc.write_queue_nums, tc.perm), (1, 1, 6));
    let d = &read_queue(&b, dlq, 0)[0];
    assert_eq!(d.reconsume_times, 3);
    assert_eq!(prop(d, property::RETRY_TOPIC), Some("DlqT"));
    assert_eq!(prop(d, property::DELAY), Some("0"));
    assert_eq!(prop(d, property::UNIQ_KEY), Some("UNIQ-DLQ-1"));
    assert_eq!(prop(d, property::ORIGIN_MESSAGE_ID), Some(orig_h.msg_id.as_str()));
    assert_eq!(&d.body[..], b"dead");

    // A negative delay level means "DLQ now", whatever the count.
    let (_, off) = send(&client, &addr, Msg::new("DlqT", b"now")).await;
    assert_eq!(
        send_back(&client, &addr, off, "G2", -1, None).await.code,
        code::SUCCESS
    );
    assert_eq!(max_offset(&client, &addr, dlq, 0).await, 2);

    // The default maximum is 16 when the header has none.
    let m = Msg {
        reconsume_times: Some(16),
        ..Msg::new("DlqT", b"sixteen")
    };
    let (_, off) = send(&client, &addr, m).await;
    assert_eq!(
        send_back(&client, &addr, off, "G2", 0, None).await.code,
        code::SUCCESS
    );
    assert_eq!(max_offset(&client, &addr, dlq, 0).await, 3);

    // handleRetryAndDLQ: a direct send to %RETRY%G2 with exhausted reconsume times.
    let m = Msg {
        reconsume_times: Some(3),
        max_reconsume_times: Some(3),
        ..Msg::new("%RETRY%G2", b"fallback")
            .prop(property::RETRY_TOPIC, "DlqT")
            .prop(property::DELAY, "1")
    };
    let (h, _) = send(&client, &addr, m).await;
    assert_eq!(h.queue_id, 0);
    assert_eq!(max_offset(&client, &addr, dlq, 0).await, 4);
    let f = &read_queue(&b, dlq, 0)[3];
    assert_eq!(prop(f, property::DELAY), Some("0"));
    assert_eq!(prop(f, property::RETRY_TOPIC), Some("DlqT"));
    assert_eq!(max_offset(&client, &addr, "%RETRY%G2", 0).await, 0);

    // Not yet exhausted: a delayed retry send is parked, then lands in %RETRY%G2.
    let m = Msg {
        reconsume_times: Some(1),
        max_reconsume_times: Some(3),
        ..Msg::new("%RETRY%G2", b"later").prop(property::DELAY, "1")
    };
    send(&client, &addr, m).await;
    wait_until_async("retry topic delivery", Duration::from_secs(20), || async {
        max_offset(&client, &addr, "%RETRY%G2", 0).await == 1
    })
    .await;
    assert_eq!(read_queue(&b, "%RETRY%G2", 0)[0].reconsume_times, 1);
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_follows_the_subscription_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "1s 2s 3s");
    cfg.auto_create_subscription_group = false;
    let b = start(&cfg).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let client = RemotingClient::new();
    let m = Msg {
        reconsume_times: Some(1),
        ..Msg::new("GroupT", b"g")
    };
    let (_, off) = send(&client, &addr, m).await;

    // No group and no auto-creation: refused, for send-back and for a retry-topic send.
    let resp = send_back(&client, &addr, off, "NoGroup", 0, None).await;
    assert_eq!(resp.code, code::SUBSCRIPTION_GROUP_NOT_EXIST);
    let m = Msg {
        reconsume_times: Some(1),
        ..Msg::new("%RETRY%NoGroup", b"g")
    };
    assert_eq!(
        send_raw(&client, &addr, m).await.code,
        code::SUBSCRIPTION_GROUP_NOT_EXIST
    );

    // retryMaxTimes of the group (1) decides when the header has no maximum.
    let mut g = SubscriptionGroupConfig::new("G9");
    g.retry_max_times = 1;
    b.state().groups.upsert(g).unwrap();
    assert_eq!(
        send_back(&client, &addr, off, "G9", 0, None).await.code,
        code::SUCCESS
    );
    assert_eq!(max_offset(&client, &addr, "%DLQ%G9", 0).await, 1);
    // ... and the header's maximum wins over it.
    assert_eq!(
        send_back(&client, &addr, off, "G9", 1, Some(5)).await.code,
        code::SUCCESS
    );
    assert_eq!(max_offset(&client, &addr, "%DLQ%G9", 0).await, 1);
    assert_eq!(max_offset(&client, &addr, SCHEDULE, 0).await, 1);

    // retryQueueNums 0: acknowledged and dropped.
    let mut g = SubscriptionGroupConfig::new("G0");
    g.retry_queue_nums = 0;
    b.state().groups.upsert(g).unwrap();
    assert_eq!(
        send_back(&client, &addr, off, "G0", 0, None).await.code,
        code::SUCCESS
    );
    assert!(b.state().topics.get("%RETRY%G0").is_none());
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_message_by_key_and_unique_key_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "1s 2s 3s");
    let b = start(&cfg).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let client = RemotingClient::new();
    send(
        &client,
        &addr,
        Msg::new("QT", b"one")
            .prop(property::KEYS, "qk shared")
            .prop(property::UNIQ_KEY, "UQ-1"),
    )
    .await;
    send(
        &client,
        &addr,
        Msg::new("QT", b"two")
            .prop(property::KEYS, "shared")
            .prop(property::UNIQ_KEY, "UQ-2"),
    )
    .await;
    send(
        &client,
        &addr,
        Msg::new("OtherT", b"other").prop(property::KEYS, "shared"),
    )
    .await;

    async fn check(client: &RemotingClient, addr: &str) {
        let (c, m) = query(client, addr, "QT", "qk", false).await;
        assert_eq!(c, code::SUCCESS);
        assert_eq!(m.len(), 1);
        assert_eq!(&m[0].body[..], b"one");
        let (_, m) = query(client, addr, "QT", "shared", false).await;
        let mut bodies: Vec<&[u8]> = m.iter().map(|m| &m.body[..]).collect();
        bodies.sort();
        assert_eq!(bodies, vec![&b"one"[..], &b"two"[..]]);
        let (c, m) = query(client, addr, "QT", "UQ-2", true).await;
        assert_eq!(c, code::SUCCESS);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].client_msg_id(), "UQ-2");
        assert_eq!(m[0].topic, "QT");
        let (c, _) = query(client, addr, "QT", "nope", false).await;
        assert_eq!(c, code::QUERY_NOT_FOUND);
        let (c, _) = query(client, addr, "NoSuchTopic", "shared", false).await;
        assert_eq!(c, code::QUERY_NOT_FOUND);
    }
    check(&client, &addr).await;
    b.shutdown().await.unwrap();
    client.close_all();

    let b = start(&cfg).await;
    let addr = format!("127.0.0.1:{}", b.local_addr().port());
    let client = RemotingClient::new();
    check(&client, &addr).await;
    b.shutdown().await.unwrap();
}

/// Parks a level-1 delayed marker for queue 1 of `topic` (otherwise empty) and waits until it is
/// delivered there: the schedule task walks every level once per pass, so once the marker is in,
/// every pass that could have repeated an earlier delivery is over.
async fn delay_marker_delivered(client: &RemotingClient, addr: &str, topic: &str, uniq_key: &str) {
    let marker = Msg::new(topic, b"marker")
        .prop(property::UNIQ_KEY, uniq_key)
        .prop(property::DELAY, "1");
    send(
        client,
        addr,
        Msg {
            queue_id: 1,
            ..marker
        },
    )
    .await;
    wait_until_async("the marker's delivery", Duration::from_secs(20), || async {
        max_offset(client, addr, topic, 1).await == 1
    })
    .await;
}
