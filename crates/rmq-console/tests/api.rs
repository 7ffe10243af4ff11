//! The console's HTTP API against a real name server and broker (in-process, ephemeral ports,
//! a temp store): cluster, topic creation and paging, a test message, a group's lag and an
//! offset reset, dead letters listed and resent, and bad input answered with a 400.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ok, Cluster};
use rmq_client::{ConsumeStatus, ConsumerConfig, PullConsumer, PushConsumer};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::ConsumerSendMsgBackRequestHeader;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;
use serde_json::{json, Value};

const TOPIC: &str = "ConsoleTopic";
const GROUP: &str = "ConsoleGroup";

/// One HTTP/1.1 request; the status and the JSON body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let (status, v, _) = common::http(addr, method, path, body.as_deref()).await;
    (status, v)
}

/// Messages stored in `topic`, over its queues (GET /api/topics/<topic>).
async fn stored(addr: SocketAddr, topic: &str) -> i64 {
    let detail = ok(addr, "GET", &format!("/api/topics/{topic}"), None).await;
    detail["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["maxOffset"].as_i64().unwrap())
        .sum()
}

/// A GET answered with any body: the status and the text.
async fn raw(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, text) = common::http(addr, "GET", path, None).await;
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_api_end_to_end() {
    let cluster = Cluster::start("broker-c", None, |_, _| {}).await;
    let c = cluster.console.local_addr();
    let broker_addr = cluster.broker_addr.clone();
    let client_config = cluster.client_config.clone();

    // the pages themselves
    let (status, page) = raw(c, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "{page}");

    let info = ok(c, "GET", "/api/cluster", None).await;
    let brokers = info["brokers"].as_array().unwrap();
    assert_eq!(brokers.len(), 1, "{info}");
    assert_eq!(brokers[0]["brokerName"], "broker-c");
    assert_eq!(brokers[0]["role"], "MASTER");
    assert_eq!(brokers[0]["addr"], broker_addr.as_str());
    assert!(brokers[0]["diskRatio"].as_f64().unwrap() > 0.0, "{info}");

    // create a topic, find it by search (the list cache is dropped on create)
    let created = ok(
        c,
        "POST",
        "/api/topics",
        Some(json!({"topic": TOPIC, "readQueueNums": 4, "writeQueueNums": 4})),
    )
    .await;
    assert_eq!(created["cluster"], "DefaultCluster");
    let found = ok(c, "GET", "/api/topics?q=consoletopic", None).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["name"], TOPIC);
    assert_eq!(found["items"][0]["kind"], "normal");
    // paging: 2 per page over everything, the second page holds the 3rd and 4th
    let all = ok(c, "GET", "/api/topics?size=500", None).await;
    let total = all["total"].as_u64().unwrap();
    assert!(total > 4, "{all}");
    let page2 = ok(c, "GET", "/api/topics?size=2&page=2", None).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["items"][0], all["items"][2]);
    let system = ok(c, "GET", "/api/topics?kind=system&q=TBW102", None).await;
    assert_eq!(system["total"], 1, "{system}");

    // bad input: a 400 with the reason, nothing created
    let (status, err) = http(c, "POST", "/api/topics", Some(json!({"topic": "bad topic!"}))).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"].as_str().unwrap().contains("topic"), "{err}");
    let (status, _) = http(c, "POST", "/api/topics", Some(json!({"nope": 1}))).await;
    assert!((400..500).contains(&status), "{status}");

    // a test message, visible in the topic's queues
    let sent = ok(
        c,
        "POST",
        &format!("/api/topics/{TOPIC}/messages"),
        Some(json!({"body": "hello from the console", "tag": "T1", "keys": "k1"})),
    )
    .await;
    assert!(!sent["msgId"].as_str().unwrap().is_empty(), "{sent}");
    assert_eq!(stored(c, TOPIC).await, 1);

    // a group that consumed everything (lag 0); reset back in time to before the message (no
    // consumer online: the offsets are written directly): lag 1 again
    let remoting = RemotingClient::new();
    let group_body = format!("{{\"groupName\":\"{GROUP}\"}}");
    let r = remoting
        .invoke(
            &broker_addr,
            RemotingCommand::request(rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(group_body.into_bytes()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.code, code::SUCCESS);
    let sent_queue = sent["queueId"].as_i64().unwrap();
    for q in 0..4 {
        let consumed = if q == sent_queue { "1" } else { "0" };
        let commit = RemotingCommand::request(rc::UPDATE_CONSUMER_OFFSET)
            .with_ext("consumerGroup", GROUP)
            .with_ext("topic", TOPIC)
            .with_ext("queueId", q.to_string())
            .with_ext("commitOffset", consumed);
        let r = remoting
            .invoke(&broker_addr, commit, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.code, code::SUCCESS);
    }
    let groups = ok(c, "GET", "/api/groups?q=consolegroup", None).await;
    assert_eq!(groups["total"], 1, "{groups}");
    let g = ok(c, "GET", &format!("/api/groups/{GROUP}"), None).await;
    assert_eq!(g["lag"], 0, "{g}");
    assert_eq!(g["queues"].as_array().unwrap().len(), 4);
    let an_hour_ago = rmq_protocol::time::now_ms() - 3_600_000;
    let reset = ok(
        c,
        "POST",
        &format!("/api/groups/{GROUP}/reset"),
        Some(json!({"topic": TOPIC, "timestamp": an_hour_ago})),
    )
    .await;
    assert_eq!(reset["queues"].as_array().unwrap().len(), 4, "{reset}");
    let g = ok(c, "GET", &format!("/api/groups/{GROUP}"), None).await;
    assert_eq!(g["lag"], 1, "the message is to be consumed again: {g}");

    // a dead letter: the message sent back for the group with delay level -1 (straight to the
    // DLQ), listed with its original topic, then resent to it
    let puller = PullConsumer::new("ConsoleTestPuller", client_config.clone());
    let q = sent_queue as i32;
    let mq = rmq_client::MessageQueue {
        topic: TOPIC.into(),
        broker_name: "broker-c".into(),
        queue_id: q,
    };
    let pulled = puller.pull(&mq, "*", 0, 1).await.unwrap();
    let m = &pulled.messages[0];
    let back = ConsumerSendMsgBackRequestHeader {
        offset: m.commit_log_offset,
        group: GROUP.into(),
        delay_level: -1,
        origin_msg_id: Some(m.msg_id.clone()),
        origin_topic: Some(TOPIC.into()),
        unit_mode: false,
        max_reconsume_times: Some(16),
        bname: None,
    };
    let r = remoting
        .invoke(
            &broker_addr,
            RemotingCommand::request(rc::CONSUMER_SEND_MSG_BACK).with_header(&back),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let dlq = ok(c, "GET", &format!("/api/dlq/{GROUP}"), None).await;
    assert_eq!(dlq["total"], 1, "{dlq}");
    assert_eq!(dlq["items"][0]["topic"], TOPIC);
    assert_eq!(dlq["items"][0]["body"], "hello from the console");
    // the export: one JSON line per dead letter, the body whole
    let (status, export) = raw(c, &format!("/api/dlq/{GROUP}/export")).await;
    assert_eq!(status, 200);
    let lines: Vec<Value> = export.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{export}");
    assert_eq!(lines[0]["topic"], TOPIC);
    assert_eq!(lines[0]["bodyBase64"], "aGVsbG8gZnJvbSB0aGUgY29uc29sZQ==");
    // "resend all" is a job: 202 at once, then its progress to the end
    let (status, started) = http(
        c,
        "POST",
        &format!("/api/dlq/{GROUP}/resend"),
        Some(json!({"all": true})),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let job = started["job"].as_str().unwrap().to_string();
    let mut progress = Value::Null;
    for _ in 0..200 {
        progress = ok(c, "GET", &format!("/api/jobs/{job}"), None).await;
        if progress["finished"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(progress["finished"], true, "{progress}");
    assert_eq!(progress["total"], 1, "{progress}");
    assert_eq!(progress["done"], 1, "{progress}");
    assert_eq!(progress["failed"], json!([]), "{progress}");
    assert_eq!(stored(c, TOPIC).await, 2, "the resent copy is back in the topic");
    let (status, _) = http(c, "GET", "/api/jobs/999999", None).await;
    assert_eq!(status, 404);
    let (status, err) = http(
        c,
        "POST",
        "/api/dlq/NoSuchGroup/resend",
        Some(json!({"all": true})),
    )
    .await;
    assert_eq!(status, 400, "{err}");

    cluster.stop().await;
}

/// The message pages: by key, by time range, by id (client id and offsetMsgId), handed to a live
/// consumer of a group; the producers; a topic's route; deleting a group and a topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_message_pages() {
    let cluster = Cluster::start("broker-c", None, |_, _| {}).await;
    let c = cluster.console.local_addr();
    ok(
        c,
        "POST",
        "/api/topics",
        Some(json!({"topic": TOPIC, "readQueueNums": 2, "writeQueueNums": 2})),
    )
    .await;
    let before = rmq_protocol::time::now_ms();
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(
            ok(
                c,
                "POST",
                &format!("/api/topics/{TOPIC}/messages"),
                Some(json!({"body": format!("body-{i}"), "tag": "T", "keys": format!("key-{i}")})),
            )
            .await,
        );
    }
    let after = rmq_protocol::time::now_ms();

    // by key (the index is written as the message is dispatched: wait for it)
    let mut by_key = Value::Null;
    for _ in 0..100 {
        by_key = ok(c, "GET", &format!("/api/messages?topic={TOPIC}&key=key-1"), None).await;
        if by_key["total"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(by_key["total"], 1, "{by_key}");
    assert_eq!(by_key["items"][0]["msgId"], sent[1]["msgId"]);
    assert_eq!(by_key["items"][0]["keys"], "key-1");
    // by time range: all three, newest first; an empty range finds none
    let range = ok(
        c,
        "GET",
        &format!("/api/messages?topic={TOPIC}&begin={before}&end={after}"),
        None,
    )
    .await;
    assert_eq!(range["total"], 3, "{range}");
    assert_eq!(range["truncated"], false);
    let times: Vec<i64> = range["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["storeTimestamp"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{range}");
    let none = ok(
        c,
        "GET",
        &format!(
            "/api/messages?topic={TOPIC}&begin={}&end={}",
            before - 10_000,
            before - 5_000
        ),
        None,
    )
    .await;
    assert_eq!(none["total"], 0, "{none}");
    let (status, _) = http(c, "GET", &format!("/api/messages?topic={TOPIC}"), None).await;
    assert_eq!(status, 400);
    // by id: the client id needs the topic; the offsetMsgId alone is enough
    let id = sent[2]["msgId"].as_str().unwrap();
    let m = ok(c, "GET", &format!("/api/messages/{id}?topic={TOPIC}"), None).await;
    assert_eq!(m["body"], "body-2", "{m}");
    assert_eq!(m["properties"]["KEYS"], "key-2");
    assert_eq!(m["broker"], "broker-c");
    let offset_id = m["offsetMsgId"].as_str().unwrap();
    let m2 = ok(c, "GET", &format!("/api/messages/{offset_id}"), None).await;
    assert_eq!(m2["msgId"], id);
    assert_eq!(m2["bodyBase64"], "Ym9keS0y");
    let (status, _) = http(c, "GET", &format!("/api/messages/{id}"), None).await;
    assert_eq!(status, 400, "a client id without its topic");

    // handed again to a live consumer of the group (CONSUME_MESSAGE_DIRECTLY through the broker)
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let consumer = PushConsumer::new(GROUP, cluster.client_config.clone(), ConsumerConfig::default());
    consumer.subscribe(TOPIC, "*").unwrap();
    consumer.register_listener(move |msgs| {
        sink.lock()
            .unwrap()
            .extend(msgs.iter().map(|m| String::from_utf8_lossy(&m.body).into_owned()));
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await.unwrap();
    let (status, err) = http(
        c,
        "POST",
        &format!("/api/messages/{id}/resend"),
        Some(json!({"topic": TOPIC, "group": "NoSuchGroup"})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    let mut resent = Value::Null;
    for _ in 0..100 {
        let (status, v) = http(
            c,
            "POST",
            &format!("/api/messages/{id}/resend"),
            Some(json!({"topic": TOPIC, "group": GROUP})),
        )
        .await;
        resent = v;
        if status == 200 {
            break;
        }
        // the consumer's first heartbeat is not in yet
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(resent["result"], "CR_SUCCESS", "{resent}");
    assert!(seen.lock().unwrap().iter().any(|b| b == "body-2"));
    consumer.shutdown().await;

    // the console's own producer is connected (once its first heartbeat, a second after its
    // start, is in)
    let mut producers = Value::Null;
    for _ in 0..200 {
        producers = ok(c, "GET", "/api/producers?q=rmq_console", None).await;
        if producers["producers"].as_array().is_some_and(|p| !p.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = producers["producers"].as_array().unwrap();
    assert!(!rows.is_empty(), "{producers}");
    assert_eq!(rows[0]["group"], "rmq_console");
    assert_eq!(rows[0]["broker"], "broker-c");

    // route, then delete the group and the topic
    let route = ok(c, "GET", &format!("/api/topics/{TOPIC}/route"), None).await;
    assert_eq!(route["brokers"][0]["brokerName"], "broker-c", "{route}");
    assert_eq!(route["brokers"][0]["addrs"]["0"], cluster.broker_addr.as_str());
    assert_eq!(route["queues"][0]["writeQueueNums"], 2);
    let deleted = ok(c, "DELETE", &format!("/api/groups/{GROUP}"), None).await;
    assert_eq!(deleted["brokers"], json!(["broker-c"]));
    let groups = ok(c, "GET", &format!("/api/groups?q={GROUP}"), None).await;
    assert_eq!(groups["total"], 0, "{groups}");
    ok(c, "DELETE", &format!("/api/topics/{TOPIC}"), None).await;
    let (status, _) = http(c, "GET", &format!("/api/topics/{TOPIC}/route"), None).await;
    assert_eq!(status, 404, "the topic is gone from the name server");
    let topics = ok(c, "GET", &format!("/api/topics?q={TOPIC}"), None).await;
    assert_eq!(topics["total"], 0, "{topics}");

    cluster.stop().await;
}
