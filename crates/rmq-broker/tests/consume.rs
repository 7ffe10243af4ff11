//! The broker side of the consume path over real sockets: an in-process broker on port 0 in a
//! temp dir, raw requests through `RemotingClient`.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_broker::processor::pull_sys_flag as flag;
use rmq_broker::{Broker, BrokerConfig};
use rmq_protocol::body::{self, ConsumerData, HeartbeatData, MessageQueue, SubscriptionData};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{PullMessageRequestHeader, SendMessageRequestHeader};
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RemotingClient, RequestHandler};
use tokio::sync::mpsc;

/// Generous bound for anything that should happen "promptly".
const DEADLINE: Duration = Duration::from_secs(20);

fn config(dir: &Path) -> BrokerConfig {
    let mut c = BrokerConfig {
        broker_name: "broker-a".into(),
        broker_ip1: "127.0.0.1".into(),
        listen_port: 0,
        namesrv_addr: Vec::new(),
        ..Default::default()
    };
    c.store.store_path_root_dir = dir.to_path_buf();
    c.store.mapped_file_size_commit_log = 1024 * 1024;
    c.store.mapped_file_size_consume_queue = 1000 * 20;
    c.store.max_hash_slot_num = 1000;
    c.store.max_index_num = 4000;
    c
}

async fn start(dir: &Path) -> (Broker, String) {
    start_with(config(dir)).await
}

async fn start_with(config: BrokerConfig) -> (Broker, String) {
    let broker = Broker::start(config).await.expect("broker start");
    let addr = format!("127.0.0.1:{}", broker.local_addr().port());
    (broker, addr)
}

async fn invoke(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    client
        .invoke(addr, req, Duration::from_secs(30))
        .await
        .expect("request failed")
}

/// Sends one message; returns its queue offset.
async fn send(client: &RemotingClient, addr: &str, topic: &str, queue_id: i32, body: &str, tag: &str) -> i64 {
    let header = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        born_timestamp: 1_700_000_000_000,
        properties: Some(format!("TAGS\u{1}{tag}\u{2}WAIT\u{1}true")),
        ..Default::default()
    };
    let req = RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&header)
        .with_body(body.as_bytes().to_vec());
    let resp = invoke(client, addr, req).await;
    assert_eq!(resp.code, code::SUCCESS, "send: {:?}", resp.remark);
    resp.ext("queueOffset").unwrap().parse().unwrap()
}

struct Pull<'a> {
    group: &'a str,
    topic: &'a str,
    queue_id: i32,
    offset: i64,
    sys_flag: i32,
    subscription: Option<&'a str>,
    sub_version: i64,
    commit_offset: i64,
    suspend_ms: i64,
}

impl<'a> Pull<'a> {
    fn new(group: &'a str, topic: &'a str, queue_id: i32, offset: i64) -> Self {
        Pull {
            group,
            topic,
            queue_id,
            offset,
            sys_flag: flag::SUBSCRIPTION,
            subscription: Some("*"),
            sub_version: 0,
            commit_offset: 0,
            suspend_ms: 15_000,
        }
    }

    fn request(&self) -> RemotingCommand {
        RemotingCommand::request(rc::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
            consumer_group: self.group.into(),
            topic: self.topic.into(),
            queue_id: self.queue_id,
            queue_offset: self.offset,
            max_msg_nums: 32,
            sys_flag: self.sys_flag,
            commit_offset: self.commit_offset,
            suspend_timeout_millis: self.suspend_ms,
            subscription: self.subscription.map(String::from),
            sub_version: self.sub_version,
            expression_type: Some("TAG".into()),
            bname: None,
        })
    }
}

/// A pull response, with the four header fields that must always be there.
#[derive(Debug)]
struct Pulled {
    code: i32,
    remark: String,
    next: i64,
    min: i64,
    max: i64,
    bodies: Vec<String>,
    tags: Vec<String>,
}

fn pulled(resp: RemotingCommand) -> Pulled {
    let field = |k: &str| -> i64 {
        resp.ext(k)
            .unwrap_or_else(|| panic!("pull response without {k}: {resp:?}"))
            .parse()
            .unwrap()
    };
    assert_eq!(field("suggestWhichBrokerId"), 0);
    let msgs = if resp.code == code::SUCCESS {
        message::decode_messages(&resp.body).expect("pull body")
    } else {
        assert!(resp.body.is_empty());
        Vec::new()
    };
    Pulled {
        code: resp.code,
        remark: resp.remark.clone().unwrap_or_default(),
        next: field("nextBeginOffset"),
        min: field("minOffset"),
        max: field("maxOffset"),
        bodies: msgs
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect(),
        tags: msgs.iter().map(|m| m.tags().unwrap_or("").to_string()).collect(),
    }
}

async fn pull(client: &RemotingClient, addr: &str, p: &Pull<'_>) -> Pulled {
    pulled(invoke(client, addr, p.request()).await)
}

fn heartbeat_request(
    client_id: &str,
    group: &str,
    topic: &str,
    expression: &str,
    sub_version: i64,
) -> RemotingCommand {
    let hb = HeartbeatData {
        client_id: client_id.into(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: "CONSUME_FROM_LAST_OFFSET".into(),
            consume_type: "CONSUME_PASSIVELY".into(),
            group_name: group.into(),
            message_model: "CLUSTERING".into(),
            subscription_data_set: vec![SubscriptionData::from_tag_expression(
                topic,
                expression,
                sub_version,
            )],
            unit_mode: false,
        }],
        producer_data_set: Vec::new(),
        ..Default::default()
    };
    RemotingCommand::request(rc::HEART_BEAT).with_body(body::to_json(&hb))
}

fn offset_request(c: i32, group: &str, topic: &str, queue_id: i32) -> RemotingCommand {
    RemotingCommand::request(c)
        .with_ext("consumerGroup", group)
        .with_ext("topic", topic)
        .with_ext("queueId", queue_id.to_string())
}

async fn query_offset(
    client: &RemotingClient,
    addr: &str,
    group: &str,
    topic: &str,
    queue_id: i32,
) -> Option<i64> {
    let resp = invoke(
        client,
        addr,
        offset_request(rc::QUERY_CONSUMER_OFFSET, group, topic, queue_id),
    )
    .await;
    match resp.code {
        code::SUCCESS => Some(resp.ext("offset").unwrap().parse().unwrap()),
        code::QUERY_NOT_FOUND => None,
        other => panic!("query offset: {other} {:?}", resp.remark),
    }
}

async fn update_offset(
    client: &RemotingClient,
    addr: &str,
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
) {
    let req = offset_request(rc::UPDATE_CONSUMER_OFFSET, group, topic, queue_id)
        .with_ext("commitOffset", offset.to_string());
    let resp = invoke(client, addr, req).await;
    assert_eq!(resp.code, code::SUCCESS);
}

/// Records the requests the broker sends to a client connection.
struct Recorder(mpsc::Sender<RemotingCommand>);

impl RequestHandler for Recorder {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let _ = self.0.try_send(request);
        Box::pin(async { None })
    }
}

fn recording_client() -> (RemotingClient, mpsc::Receiver<RemotingCommand>) {
    let (tx, rx) = mpsc::channel(64);
    (RemotingClient::new().with_handler(Arc::new(Recorder(tx))), rx)
}

async fn next_request(rx: &mut mpsc::Receiver<RemotingCommand>, c: i32) -> RemotingCommand {
    let wait = async {
        loop {
            let req = rx.recv().await.expect("client closed");
            if req.code == c {
                return req;
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("no request {c} from the broker within {DEADLINE:?}"))
}

/// Waits until `cond` holds, failing after [`DEADLINE`].
async fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    common::wait::wait_until(what, DEADLINE, cond).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_statuses_filters_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let client = RemotingClient::new();
    let t = "PullTopic";
    for (i, tag) in ["TagA", "TagB", "TagA"].iter().enumerate() {
        assert_eq!(send(&client, &addr, t, 0, &format!("m{i}"), tag).await, i as i64);
    }

    let all = pull(&client, &addr, &Pull::new("G1", t, 0, 0)).await;
    assert_eq!((all.code, all.remark.as_str()), (code::SUCCESS, "FOUND"));
    assert_eq!(all.bodies, ["m0", "m1", "m2"]);
    assert_eq!((all.next, all.min, all.max), (3, 0, 3));

    let tag_a = pull(
        &client,
        &addr,
        &Pull {
            subscription: Some("TagA || TagX"),
            ..Pull::new("G1", t, 0, 0)
        },
    )
    .await;
    assert_eq!(tag_a.bodies, ["m0", "m2"]);
    assert_eq!(tag_a.next, 3);
    let none = pull(
        &client,
        &addr,
        &Pull {
            subscription: Some("TagC"),
            ..Pull::new("G1", t, 0, 0)
        },
    )
    .await;
    assert_eq!(
        (none.code, none.remark.as_str(), none.next),
        (code::PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MESSAGE", 3)
    );

    let caught_up = pull(&client, &addr, &Pull::new("G1", t, 0, 3)).await;
    assert_eq!(
        (caught_up.code, caught_up.remark.as_str(), caught_up.next),
        (code::PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE", 3)
    );
    let badly = pull(&client, &addr, &Pull::new("G1", t, 0, 10)).await;
    assert_eq!(
        (badly.code, badly.remark.as_str(), badly.next),
        (code::PULL_OFFSET_MOVED, "OFFSET_OVERFLOW_BADLY", 3),
        "4.9.7 corrects an overflow to the max offset (conformance PullConsumerTest)"
    );
    let empty = pull(&client, &addr, &Pull::new("G1", t, 1, 0)).await;
    assert_eq!(
        (empty.code, empty.remark.as_str(), empty.next, empty.max),
        (code::PULL_NOT_FOUND, "NO_MESSAGE_IN_QUEUE", 0, 0)
    );
    let empty_moved = pull(&client, &addr, &Pull::new("G1", t, 1, 5)).await;
    assert_eq!((empty_moved.code, empty_moved.next), (code::PULL_OFFSET_MOVED, 0));
    // Each OFFSET_MOVED wrote an OffsetMovedEvent.
    assert_eq!(
        broker.state().store.max_offset_in_queue("OFFSET_MOVED_EVENT", 0),
        2
    );

    let bad_queue = invoke(&client, &addr, Pull::new("G1", t, 9, 0).request()).await;
    assert_eq!(bad_queue.code, code::SYSTEM_ERROR);
    assert!(bad_queue.remark.unwrap().contains("queueId[9] is illegal"));
    let no_topic = invoke(&client, &addr, Pull::new("G1", "NoSuchTopic", 0, 0).request()).await;
    assert_eq!(no_topic.code, code::TOPIC_NOT_EXIST);

    // No SQL92 filter on this broker: refused at CHECK_CLIENT_CONFIG and on pulls.
    let sql = SubscriptionData {
        expression_type: "SQL92".into(),
        sub_string: "a > 1".into(),
        ..SubscriptionData::from_tag_expression(t, "*", 1)
    };
    let check = body::CheckClientRequestBody {
        client_id: "c1".into(),
        group: "G1".into(),
        subscription_data: sql,
    };
    let check = invoke(
        &client,
        &addr,
        RemotingCommand::request(rc::CHECK_CLIENT_CONFIG).with_body(body::to_json(&check)),
    )
    .await;
    assert_eq!(check.code, code::SYSTEM_ERROR);
    let mut sql_pull = Pull::new("G1", t, 0, 0).request();
    sql_pull
        .ext_fields
        .insert("expressionType".into(), "SQL92".into());
    assert_eq!(invoke(&client, &addr, sql_pull).await.code, code::SYSTEM_ERROR);

    // Without the SUBSCRIPTION flag the heartbeat's subscription is used.
    let hb_pull = Pull {
        sys_flag: 0,
        subscription: None,
        sub_version: 100,
        ..Pull::new("G2", t, 0, 0)
    };
    assert_eq!(
        invoke(&client, &addr, hb_pull.request()).await.code,
        code::SUBSCRIPTION_NOT_EXIST
    );
    let hb = invoke(&client, &addr, heartbeat_request("c1", "G2", t, "TagB", 100)).await;
    assert_eq!(hb.code, code::SUCCESS);
    let by_hb = pull(&client, &addr, &hb_pull).await;
    assert_eq!(by_hb.bodies, ["m1"]);
    assert_eq!(by_hb.tags, ["TagB"]);
    let newer = Pull {
        sub_version: 101,
        ..hb_pull
    };
    assert_eq!(
        invoke(&client, &addr, newer.request()).await.code,
        code::SUBSCRIPTION_NOT_LATEST
    );
    let other_topic = Pull {
        topic: "%RETRY%G1",
        ..newer
    };
    assert_eq!(
        invoke(&client, &addr, other_topic.request()).await.code,
        code::TOPIC_NOT_EXIST
    );
    // The heartbeat auto-created the group and its retry topic.
    assert!(broker.state().groups.get("G2").is_some());
    assert!(broker.state().topics.get("%RETRY%G2").is_some());

    // Offsets: young queue → 0; commit on pull; UPDATE_CONSUMER_OFFSET.
    assert_eq!(query_offset(&client, &addr, "G3", t, 0).await, Some(0));
    let commit = Pull {
        sys_flag: flag::SUBSCRIPTION | flag::COMMIT_OFFSET,
        commit_offset: 2,
        ..Pull::new("G3", t, 0, 3)
    };
    assert_eq!(pull(&client, &addr, &commit).await.code, code::PULL_NOT_FOUND);
    assert_eq!(query_offset(&client, &addr, "G3", t, 0).await, Some(2));
    update_offset(&client, &addr, "G3", t, 0, 1).await;
    assert_eq!(query_offset(&client, &addr, "G3", t, 0).await, Some(1));
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_on_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let client = Arc::new(RemotingClient::new());
    let t = "LongPollTopic";
    send(&client, &addr, t, 0, "first", "TagA").await;
    let waiters = broker.state().clone();

    // Held on an empty queue; woken by the message.
    let suspend_ms = 10_000;
    let held = {
        let (client, addr) = (client.clone(), addr.clone());
        tokio::spawn(async move {
            let p = Pull {
                sys_flag: flag::SUBSCRIPTION | flag::SUSPEND,
                suspend_ms,
                ..Pull::new("LP", t, 1, 0)
            };
            let started = Instant::now();
            let resp = invoke(&client, &addr, p.request()).await;
            (pulled(resp), started.elapsed(), Instant::now())
        })
    };
    wait_until("the pull to be held", || waiters.pull_waiters.held() == 1).await;
    let send_started = Instant::now();
    send(&client, &addr, t, 1, "wake", "TagA").await;
    let send_rtt = send_started.elapsed();
    let (resp, held_for, answered) = held.await.unwrap();
    // From the moment the send left: includes the send's own trip to the broker.
    let latency = answered.saturating_duration_since(send_started);
    println!(
        "long-poll wake-up latency: {:.3} ms after the send started (send round trip {:.3} ms, pull held {} ms)",
        latency.as_secs_f64() * 1e3,
        send_rtt.as_secs_f64() * 1e3,
        held_for.as_millis()
    );
    assert_eq!(resp.code, code::SUCCESS);
    assert_eq!(resp.bodies, ["wake"]);
    assert_eq!((resp.next, resp.max), (1, 1));
    assert!(held_for < Duration::from_millis(suspend_ms as u64));
    assert_eq!(waiters.pull_waiters.held(), 0);

    // A held TagB pull is not answered by a TagA message, only by the TagB one after it.
    let held = {
        let (client, addr) = (client.clone(), addr.clone());
        tokio::spawn(async move {
            let p = Pull {
                sys_flag: flag::SUBSCRIPTION | flag::SUSPEND,
                subscription: Some("TagB"),
                suspend_ms,
                ..Pull::new("LP", t, 1, 1)
            };
            pulled(invoke(&client, &addr, p.request()).await)
        })
    };
    wait_until("the tag pull to be held", || waiters.pull_waiters.held() == 1).await;
    send(&client, &addr, t, 1, "not-for-me", "TagA").await;
    send(&client, &addr, t, 1, "for-me", "TagB").await;
    let resp = held.await.unwrap();
    assert_eq!(
        (resp.code, resp.bodies.as_slice(), resp.next),
        (code::SUCCESS, &["for-me".to_string()][..], 3)
    );

    // Only non-matching messages arrive: like Java's 5 s hold re-check, the held pull is answered
    // within ~5 s (not at its 15 s timeout) with PULL_RETRY_IMMEDIATELY and the offset moved past
    // them, so the consumer's committed offset catches up (found by conformance Sql92FilterTest).
    let held = {
        let (client, addr) = (client.clone(), addr.clone());
        tokio::spawn(async move {
            let p = Pull {
                sys_flag: flag::SUBSCRIPTION | flag::SUSPEND,
                subscription: Some("TagB"),
                suspend_ms: 15_000,
                ..Pull::new("LP", t, 1, 3)
            };
            let started = Instant::now();
            let resp = pulled(invoke(&client, &addr, p.request()).await);
            (resp, started.elapsed())
        })
    };
    wait_until("the tag pull to be held", || waiters.pull_waiters.held() == 1).await;
    send(&client, &addr, t, 1, "not-for-me-either", "TagA").await;
    let (resp, held_for) = held.await.unwrap();
    assert_eq!((resp.code, resp.next), (code::PULL_RETRY_IMMEDIATELY, 4));
    assert!(resp.bodies.is_empty());
    assert!(held_for < Duration::from_secs(10), "answered after {held_for:?}");

    // Nothing arrives: PULL_NOT_FOUND with the full header after the (short) hold.
    let p = Pull {
        sys_flag: flag::SUBSCRIPTION | flag::SUSPEND,
        suspend_ms: 300,
        ..Pull::new("LP", t, 1, 4)
    };
    let started = Instant::now();
    let resp = pull(&client, &addr, &p).await;
    let waited = started.elapsed();
    assert_eq!(
        (resp.code, resp.remark.as_str(), resp.next, resp.max),
        (code::PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE", 4, 4)
    );
    assert!(waited >= Duration::from_millis(300), "answered after {waited:?}");
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_and_groups_persist_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let client = RemotingClient::new();
    send(&client, &addr, "PersistTopic", 0, "x", "A").await;
    update_offset(&client, &addr, "PG1", "PersistTopic", 0, 1).await;
    update_offset(&client, &addr, "PG1", "PersistTopic", 3, 42).await;
    let group = body::SubscriptionGroupConfig {
        retry_max_times: 3,
        ..body::SubscriptionGroupConfig::new("PG1")
    };
    let resp = invoke(
        &client,
        &addr,
        RemotingCommand::request(rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(body::to_json(&group)),
    )
    .await;
    assert_eq!(resp.code, code::SUCCESS);
    client.close_all();
    broker.shutdown().await.unwrap();

    let file = std::fs::read_to_string(dir.path().join("config").join("consumerOffset.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(json["offsetTable"]["PersistTopic@PG1"]["3"], 42);

    let (broker, addr) = start(dir.path()).await;
    let client = RemotingClient::new();
    assert_eq!(
        query_offset(&client, &addr, "PG1", "PersistTopic", 0).await,
        Some(1)
    );
    assert_eq!(
        query_offset(&client, &addr, "PG1", "PersistTopic", 3).await,
        Some(42)
    );
    let all = invoke(
        &client,
        &addr,
        RemotingCommand::request(rc::GET_ALL_CONSUMER_OFFSET),
    )
    .await;
    let all: body::ConsumerOffsetSerializeWrapper = body::from_fastjson(&all.body).unwrap();
    assert_eq!(all.offset_table["PersistTopic@PG1"][&0], 1);
    let groups = invoke(
        &client,
        &addr,
        RemotingCommand::request(rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG),
    )
    .await;
    let groups: body::SubscriptionGroupWrapper = body::from_fastjson(&groups.body).unwrap();
    assert_eq!(groups.subscription_group_table["PG1"].retry_max_times, 3);
    assert!(groups.subscription_group_table.contains_key("TOOLS_CONSUMER"));
    let del = RemotingCommand::request(rc::DELETE_SUBSCRIPTIONGROUP)
        .with_ext("groupName", "PG1")
        .with_ext("removeOffset", "true");
    assert_eq!(invoke(&client, &addr, del).await.code, code::SUCCESS);
    assert!(broker.state().groups.get("PG1").is_none());
    assert_eq!(broker.state().offsets.query("PG1", "PersistTopic", 3), None);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_notify_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let t = "NotifyTopic";
    let (a, mut a_rx) = recording_client();
    let (b, _b_rx) = recording_client();
    let hb = invoke(&a, &addr, heartbeat_request("client-a", "NG", t, "*", 1)).await;
    assert_eq!(hb.code, code::SUCCESS);
    let first = next_request(&mut a_rx, rc::NOTIFY_CONSUMER_IDS_CHANGED).await;
    assert_eq!(first.ext("consumerGroup"), Some("NG"));

    // A second member: the first one hears about it.
    invoke(&b, &addr, heartbeat_request("client-b", "NG", t, "*", 1)).await;
    let notice = next_request(&mut a_rx, rc::NOTIFY_CONSUMER_IDS_CHANGED).await;
    assert_eq!(notice.ext("consumerGroup"), Some("NG"));
    let list = invoke(
        &a,
        &addr,
        RemotingCommand::request(rc::GET_CONSUMER_LIST_BY_GROUP).with_ext("consumerGroup", "NG"),
    )
    .await;
    let list: body::GetConsumerListByGroupResponseBody = body::from_fastjson(&list.body).unwrap();
    assert_eq!(list.consumer_id_list, ["client-a", "client-b"]);
    let conns = invoke(
        &a,
        &addr,
        RemotingCommand::request(rc::GET_CONSUMER_CONNECTION_LIST).with_ext("consumerGroup", "NG"),
    )
    .await;
    assert_eq!(conns.code, code::SUCCESS);
    let conns: body::ConsumerConnection = body::from_fastjson(&conns.body).unwrap();
    assert_eq!(conns.connection_set.len(), 2);
    assert_eq!(conns.message_model, "CLUSTERING");
    assert_eq!(conns.subscription_table[t].sub_string, "*");
    let who = invoke(
        &a,
        &addr,
        RemotingCommand::request(rc::QUERY_TOPIC_CONSUME_BY_WHO).with_ext("topic", t),
    )
    .await;
    let who: body::GroupList = body::from_fastjson(&who.body).unwrap();
    assert_eq!(who.group_list, ["NG"]);
    // A repeated heartbeat changes nothing and notifies nobody; the disconnect of b does.
    invoke(&b, &addr, heartbeat_request("client-b", "NG", t, "*", 1)).await;
    b.close_all();
    next_request(&mut a_rx, rc::NOTIFY_CONSUMER_IDS_CHANGED).await;
    wait_until("b to leave the group", || {
        broker.state().clients.consumer_ids("NG") == ["client-a"]
    })
    .await;
    let offline = invoke(
        &a,
        &addr,
        RemotingCommand::request(rc::GET_CONSUMER_CONNECTION_LIST).with_ext("consumerGroup", "nobody"),
    )
    .await;
    assert_eq!(offline.code, code::CONSUMER_NOT_ONLINE);
    broker.shutdown().await.unwrap();
}

/// 5.x `DefaultLitePullConsumer` pulls with LITE_PULL_MESSAGE (361, sysFlag bit 0x10): served
/// as PULL_MESSAGE, held and woken the same way; `litePullMessageEnable=false` forbids it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lite_pull_message_is_a_pull() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let client = Arc::new(RemotingClient::new());
    let t = "LitePullTopic";
    send(&client, &addr, t, 0, "first", "TagA").await;
    let lite = |p: Pull<'_>| {
        let mut req = p.request();
        req.code = rc::LITE_PULL_MESSAGE;
        req
    };
    let found = pulled(
        invoke(
            &client,
            &addr,
            lite(Pull {
                sys_flag: flag::SUBSCRIPTION | flag::LITE_PULL_MESSAGE,
                ..Pull::new("LG", t, 0, 0)
            }),
        )
        .await,
    );
    assert_eq!(found.code, code::SUCCESS);
    assert_eq!(found.bodies, ["first"]);

    let waiters = broker.state().clone();
    let held = {
        let (client, addr) = (client.clone(), addr.clone());
        tokio::spawn(async move {
            let p = Pull {
                sys_flag: flag::SUBSCRIPTION | flag::SUSPEND | flag::LITE_PULL_MESSAGE,
                suspend_ms: 10_000,
                ..Pull::new("LG", t, 0, 1)
            };
            pulled(invoke(&client, &addr, lite(p)).await)
        })
    };
    wait_until("the lite pull to be held", || waiters.pull_waiters.held() == 1).await;
    send(&client, &addr, t, 0, "second", "TagA").await;
    let resp = held.await.unwrap();
    assert_eq!(resp.code, code::SUCCESS);
    assert_eq!(resp.bodies, ["second"]);
    broker.shutdown().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.lite_pull_message_enable = false;
    let (broker, addr) = start_with(c).await;
    let resp = invoke(&client, &addr, lite(Pull::new("LG", t, 0, 0))).await;
    assert_eq!(resp.code, code::NO_PERMISSION);
    assert!(resp
        .remark
        .unwrap()
        .ends_with("for lite pull consumer is forbidden"));
    broker.shutdown().await.unwrap();
}

/// Answers GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY like a consumer would,
/// echoing what it was asked.
struct Answerer;

impl RequestHandler for Answerer {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let body = format!(
            r#"{{"code":{},"clientId":"{}","bodyLen":{},"brokerName":"{}"}}"#,
            request.code,
            request.ext("clientId").unwrap_or(""),
            request.body.len(),
            request.ext("brokerName").unwrap_or("")
        );
        let resp = RemotingCommand::response_to(&request, code::SUCCESS).with_body(body.into_bytes());
        Box::pin(async move { Some(resp) })
    }
}

/// GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309) go to the consumer over
/// its own connection and its answer comes back to the admin; an unknown client is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_are_forwarded_to_the_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let consumer = RemotingClient::new().with_handler(Arc::new(Answerer));
    let admin = RemotingClient::new();
    let t = "ForwardTopic";
    let hb = invoke(&consumer, &addr, heartbeat_request("client-f", "FG", t, "*", 1)).await;
    assert_eq!(hb.code, code::SUCCESS);
    let info = invoke(
        &admin,
        &addr,
        RemotingCommand::request(rc::GET_CONSUMER_RUNNING_INFO)
            .with_ext("consumerGroup", "FG")
            .with_ext("clientId", "client-f")
            .with_ext("jstackEnable", "false"),
    )
    .await;
    assert_eq!(info.code, code::SUCCESS);
    assert_eq!(
        String::from_utf8_lossy(&info.body),
        r#"{"code":307,"clientId":"client-f","bodyLen":0,"brokerName":""}"#
    );

    send(&admin, &addr, t, 0, "direct", "TagA").await;
    let stored = pulled(invoke(&admin, &addr, Pull::new("FG", t, 0, 0).request()).await);
    assert_eq!(stored.bodies, ["direct"]);
    let msg_id = message::offset_msg_id(addr.parse().unwrap(), 0);
    let direct = invoke(
        &admin,
        &addr,
        RemotingCommand::request(rc::CONSUME_MESSAGE_DIRECTLY)
            .with_ext("consumerGroup", "FG")
            .with_ext("clientId", "client-f")
            .with_ext("msgId", msg_id)
            .with_ext("topic", t),
    )
    .await;
    assert_eq!(direct.code, code::SUCCESS);
    let answer = String::from_utf8_lossy(&direct.body).to_string();
    assert!(
        answer.contains(r#""code":309"#) && answer.contains(r#""brokerName":"broker-a""#),
        "{answer}"
    );
    assert!(
        !answer.contains(r#""bodyLen":0"#),
        "the stored record is sent along: {answer}"
    );

    let offline = invoke(
        &admin,
        &addr,
        RemotingCommand::request(rc::GET_CONSUMER_RUNNING_INFO)
            .with_ext("consumerGroup", "FG")
            .with_ext("clientId", "nobody"),
    )
    .await;
    assert_eq!(offline.code, code::SYSTEM_ERROR);
    assert_eq!(
        offline.remark.as_deref(),
        Some("The Consumer <FG> <nobody> not online")
    );

    // 5.x QUERY_SUBSCRIPTION_BY_CONSUMER / QUERY_TOPICS_BY_CONSUMER.
    let sub = invoke(
        &admin,
        &addr,
        RemotingCommand::request(rc::QUERY_SUBSCRIPTION_BY_CONSUMER)
            .with_ext("group", "FG")
            .with_ext("topic", t),
    )
    .await;
    let sub: body::QuerySubscriptionResponseBody = body::from_fastjson(&sub.body).unwrap();
    assert_eq!(sub.subscription_data.unwrap().sub_string, "*");
    update_offset(&admin, &addr, "FG", t, 0, 1).await;
    let topics = invoke(
        &admin,
        &addr,
        RemotingCommand::request(rc::QUERY_TOPICS_BY_CONSUMER).with_ext("group", "FG"),
    )
    .await;
    let topics: body::TopicList = body::from_fastjson(&topics.body).unwrap();
    assert_eq!(topics.topic_list, [t]);
    assert_eq!(topics.broker_addr.as_deref(), Some(addr.as_str()));
    broker.shutdown().await.unwrap();
}

/// 5.x heartbeat v2 (`ClientManageProcessor.heartBeatV2`): the answer says the broker supports
/// it; a changed fingerprint is a subscription change; a heartbeat without subscriptions keeps
/// the stored ones, unless the broker has none (then the client must send them again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_v2_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let client = RemotingClient::new();
    let t = "HbV2Topic";
    let v2 = |fingerprint: i32, without_sub: bool| {
        let mut hb: HeartbeatData =
            body::from_fastjson(&heartbeat_request("c1", "HG", t, "TagA", 1).body).unwrap();
        hb.heartbeat_fingerprint = fingerprint;
        hb.without_sub = without_sub;
        if without_sub {
            hb.consumer_data_set[0].subscription_data_set.clear();
        }
        RemotingCommand::request(rc::HEART_BEAT).with_body(body::to_json(&hb))
    };
    let sub_change = |r: &RemotingCommand| {
        assert_eq!(r.code, code::SUCCESS);
        assert_eq!(r.ext("IS_SUPPORT_HEART_BEAT_V2"), Some("true"));
        r.ext("IS_SUB_CHANGE").map(str::to_owned)
    };
    // A v1 heartbeat always reports a change.
    let r = invoke(&client, &addr, heartbeat_request("c1", "HG", t, "TagA", 1)).await;
    assert_eq!(sub_change(&r).as_deref(), Some("true"));
    // First v2 heartbeat after a v1 one (fingerprint 0 -> 77): a change.
    let r = invoke(&client, &addr, v2(77, false)).await;
    assert_eq!(sub_change(&r).as_deref(), Some("true"));
    // Same fingerprint, without subscriptions: no change, subscriptions kept.
    let r = invoke(&client, &addr, v2(77, true)).await;
    assert_eq!(sub_change(&r).as_deref(), Some("false"));
    let group = broker.state().clients.consumer_group("HG").unwrap();
    assert_eq!(group.subscriptions[t].sub_string, "TagA");
    // A new fingerprint is a change.
    let r = invoke(&client, &addr, v2(78, false)).await;
    assert_eq!(sub_change(&r).as_deref(), Some("true"));
    // The JSON key Java writes for `isWithoutSub` is `withoutSub`; "isWithoutSub" is accepted too.
    let raw = r#"{"clientID":"c2","consumerDataSet":[{"groupName":"HG2","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[],"unitMode":false}],"producerDataSet":[],"heartbeatFingerprint":5,"isWithoutSub":true}"#;
    let r = invoke(
        &client,
        &addr,
        RemotingCommand::request(rc::HEART_BEAT).with_body(raw.as_bytes().to_vec()),
    )
    .await;
    // An unknown group without subscriptions: the broker asks for them.
    assert_eq!(sub_change(&r).as_deref(), Some("true"));
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_consumers_expire() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start_with(BrokerConfig {
        channel_expired_timeout_ms: 1_500,
        ..config(dir.path())
    })
    .await;
    let t = "ExpiryTopic";
    let (a, mut a_rx) = recording_client();
    let (b, _b_rx) = recording_client();
    invoke(&a, &addr, heartbeat_request("client-a", "EG", t, "*", 1)).await;
    invoke(&b, &addr, heartbeat_request("client-b", "EG", t, "*", 1)).await;
    // a keeps heartbeating, far more often than the timeout; b goes silent.
    let a = Arc::new(a);
    let beating = {
        let (a, addr) = (a.clone(), addr.clone());
        tokio::spawn(async move {
            loop {
                invoke(&a, &addr, heartbeat_request("client-a", "EG", t, "*", 1)).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    wait_until("b to expire", || {
        broker.state().clients.consumer_ids("EG") == ["client-a"]
    })
    .await;
    // Notified when a joined, when b joined, and when b expired.
    for _ in 0..3 {
        next_request(&mut a_rx, rc::NOTIFY_CONSUMER_IDS_CHANGED).await;
    }
    beating.abort();
    broker.shutdown().await.unwrap();
}

/// Sends messages whose store timestamps are all different (waits for the clock to tick).
async fn send_distinct_times(client: &RemotingClient, addr: &str, topic: &str, n: usize) -> Vec<i64> {
    let now_ms = rmq_protocol::time::now_ms;
    let mut last = 0;
    for i in 0..n {
        while now_ms() <= last {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        send(client, addr, topic, 0, &format!("r{i}"), "A").await;
        last = now_ms();
    }
    let full = invoke(client, addr, Pull::new("reader", topic, 0, 0).request()).await;
    let times: Vec<i64> = message::decode_messages(&full.body)
        .unwrap()
        .iter()
        .map(|m| m.store_timestamp)
        .collect();
    assert_eq!(times.len(), n);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "store times {times:?}");
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_offset_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let t = "ResetTopic";
    let (consumer, mut rx) = recording_client();
    let times = send_distinct_times(&consumer, &addr, t, 5).await;
    for q in 0..4 {
        update_offset(&consumer, &addr, "RG", t, q, if q == 0 { 5 } else { 0 }).await;
    }
    let reset = |ts: i64, force: bool| {
        RemotingCommand::request(rc::INVOKE_BROKER_TO_RESET_OFFSET)
            .with_ext("topic", t)
            .with_ext("group", "RG")
            .with_ext("timestamp", ts.to_string())
            .with_ext("isForce", force.to_string())
    };
    let offline = invoke(&consumer, &addr, reset(times[2], true)).await;
    assert_eq!(offline.code, code::CONSUMER_NOT_ONLINE);

    invoke(&consumer, &addr, heartbeat_request("client-r", "RG", t, "*", 1)).await;
    let mq0 = MessageQueue::new(t, "broker-a", 0);
    for (i, ts) in times.iter().enumerate() {
        let resp = invoke(&consumer, &addr, reset(*ts, true)).await;
        assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
        let table: body::ResetOffsetBody = body::from_fastjson(&resp.body).unwrap();
        assert_eq!(
            table.offset_table[&mq0], i as i64,
            "reset to the message stored at {ts}"
        );
        let notice = next_request(&mut rx, rc::RESET_CONSUMER_CLIENT_OFFSET).await;
        assert_eq!(
            (notice.ext("group"), notice.ext("timestamp")),
            (Some("RG"), Some(ts.to_string().as_str()))
        );
        let sent: body::ResetOffsetBody = body::from_fastjson(&notice.body).unwrap();
        assert_eq!(sent.offset_table, table.offset_table);
    }
    // Not forced: only moves backwards. −1 = the max offset.
    update_offset(&consumer, &addr, "RG", t, 0, 1).await;
    let resp = invoke(&consumer, &addr, reset(times[3], false)).await;
    let table: body::ResetOffsetBody = body::from_fastjson(&resp.body).unwrap();
    assert_eq!(table.offset_table[&mq0], 1);
    let resp = invoke(&consumer, &addr, reset(-1, true)).await;
    let table: body::ResetOffsetBody = body::from_fastjson(&resp.body).unwrap();
    assert_eq!(table.offset_table[&mq0], 5);
    // Like Java 4.9.8, the broker leaves committing to the consumers.
    assert_eq!(query_offset(&consumer, &addr, "RG", t, 0).await, Some(1));

    let stats = invoke(
        &consumer,
        &addr,
        RemotingCommand::request(rc::GET_CONSUME_STATS).with_ext("consumerGroup", "RG"),
    )
    .await;
    let stats: body::ConsumeStats = body::from_fastjson(&stats.body).unwrap();
    let q0 = stats.offset_table[&mq0];
    assert_eq!(
        (q0.broker_offset, q0.consumer_offset, q0.last_timestamp),
        (5, 1, times[0])
    );
    assert_eq!(stats.offset_table.len(), 4);
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_locks_are_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let client = RemotingClient::new();
    let mq = |q| MessageQueue::new("LockTopic", "broker-a", q);
    let lock = |c: i32, client_id: &str, qs: &[i32]| {
        let b = body::LockBatchRequestBody {
            client_id: client_id.into(),
            consumer_group: "OG".into(),
            mq_set: qs.iter().map(|q| mq(*q)).collect(),
        };
        RemotingCommand::request(c).with_body(body::to_json(&b))
    };
    let locked = |resp: RemotingCommand| {
        assert_eq!(resp.code, code::SUCCESS);
        let mut set = body::from_fastjson::<body::LockBatchResponseBody>(&resp.body)
            .unwrap()
            .lock_ok_mq_set;
        set.sort();
        set
    };
    assert_eq!(
        locked(invoke(&client, &addr, lock(rc::LOCK_BATCH_MQ, "a", &[0, 1])).await),
        [mq(0), mq(1)]
    );
    assert_eq!(
        locked(invoke(&client, &addr, lock(rc::LOCK_BATCH_MQ, "b", &[1, 2])).await),
        [mq(2)]
    );
    assert_eq!(
        locked(invoke(&client, &addr, lock(rc::LOCK_BATCH_MQ, "a", &[0, 1])).await),
        [mq(0), mq(1)]
    );
    assert_eq!(
        invoke(&client, &addr, lock(rc::UNLOCK_BATCH_MQ, "a", &[1]))
            .await
            .code,
        code::SUCCESS
    );
    assert_eq!(
        locked(invoke(&client, &addr, lock(rc::LOCK_BATCH_MQ, "b", &[1, 2])).await),
        [mq(1), mq(2)]
    );
    broker.shutdown().await.unwrap();
}

/// The heartbeats rocketmq-client-cpp (1.x/2.x: `subVersion` as a string, enums as ordinals, a
/// trailing newline) and rocketmq-client-go v2 (`codeSet` entries as strings) send, byte for
/// byte as captured through a logging proxy: both register their consumer, as on Apache
/// RocketMQ. They were answered SYSTEM_ERROR, so the group had no member and never pulled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_of_the_cpp_and_go_clients_register_their_consumers() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = start(dir.path()).await;
    let client = RemotingClient::new();
    let cpp = "{\"clientID\":\"8506-127.0.0.1@DEFAULT\",\"consumerDataSet\":[{\"consumeFromWhere\":0,\"consumeType\":1,\"groupName\":\"CppGroup\",\"messageModel\":1,\"subscriptionDataSet\":[{\"subString\":\"*\",\"subVersion\":\"1796224873882\",\"topic\":\"%RETRY%CppGroup\"},{\"subString\":\"*\",\"subVersion\":\"1796224873882\",\"topic\":\"CppTopic\"}]}]}\n";
    let go = r#"{"clientID":"192.0.2.2@26069","producerDataSet":[{"groupName":"GoProducer"}],"consumerDataSet":[{"groupName":"GoGroup","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"GoTopic","subString":"TagA","tagsSet":["TagA"],"codeSet":["2598919"],"subVersion":1796225666221960896,"expressionType":"TAG"},{"classFilterMode":false,"topic":"%RETRY%GoGroup","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1796225666221977944,"expressionType":"TAG"}],"unitMode":false}]}"#;
    for (group, member, hb) in [
        ("CppGroup", "8506-127.0.0.1@DEFAULT", cpp),
        ("GoGroup", "192.0.2.2@26069", go),
    ] {
        let req = RemotingCommand::request(rc::HEART_BEAT).with_body(hb.as_bytes().to_vec());
        let resp = invoke(&client, &addr, req).await;
        assert_eq!(resp.code, code::SUCCESS, "{group}: {:?}", resp.remark);
        let list = invoke(
            &client,
            &addr,
            RemotingCommand::request(rc::GET_CONSUMER_LIST_BY_GROUP).with_ext("consumerGroup", group),
        )
        .await;
        assert_eq!(list.code, code::SUCCESS, "{group}: {:?}", list.remark);
        let list: body::GetConsumerListByGroupResponseBody = body::from_fastjson(&list.body).unwrap();
        assert_eq!(list.consumer_id_list, [member]);
    }
    let conns = invoke(
        &client,
        &addr,
        RemotingCommand::request(rc::GET_CONSUMER_CONNECTION_LIST).with_ext("consumerGroup", "GoGroup"),
    )
    .await;
    let conns: body::ConsumerConnection = body::from_fastjson(&conns.body).unwrap();
    assert_eq!(
        conns.subscription_table["GoTopic"].code_set,
        [message::java_hash("TagA")]
    );
    broker.shutdown().await.unwrap();
}
