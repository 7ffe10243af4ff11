//! Master/slave replication with real processes: a SYNC_MASTER acknowledges only replicated
//! messages, the slave copies topics and consumer offsets from the master, and after the master
//! is killed (`kill -9`, store deleted) a push consumer reads every acknowledged message from
//! the slave. A SYNC_MASTER without a slave answers SLAVE_NOT_AVAILABLE (and stores the message).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rmq_client::{
    ClientConfig, ConsumeFromWhere, ConsumeStatus, ConsumerConfig, Message, Producer, PushConsumer,
    SendStatus,
};
use rmq_protocol::body::{self, HaRuntimeInfo, TopicConfigSerializeWrapper};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "HaTopic";
const QUEUES: i32 = 4;
const MESSAGES: usize = 200;
const DEADLINE: Duration = Duration::from_secs(40);

async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn client_config(namesrv: &str, instance: &str) -> ClientConfig {
    ClientConfig {
        namesrv_addr: vec![namesrv.to_owned()],
        client_ip: "127.0.0.1".into(),
        instance_name: instance.into(),
        ..Default::default()
    }
}

fn subdir(root: &Path, name: &str) -> std::path::PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn max_offset(client: &RemotingClient, addr: &str, queue_id: i32) -> Option<i64> {
    let req = RemotingCommand::request(request_code::GET_MAX_OFFSET)
        .with_ext("topic", TOPIC)
        .with_ext("queueId", queue_id.to_string());
    let resp = client.invoke(addr, req, Duration::from_secs(3)).await.ok()?;
    resp.ext("offset")?.parse().ok()
}

async fn query_offset(client: &RemotingClient, addr: &str, group: &str) -> Option<i64> {
    let req = RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET)
        .with_ext("consumerGroup", group)
        .with_ext("topic", TOPIC)
        .with_ext("queueId", "0");
    let resp = client.invoke(addr, req, Duration::from_secs(3)).await.ok()?;
    (resp.code == response_code::SUCCESS).then(|| resp.ext("offset")?.parse().ok())?
}

async fn has_topic(client: &RemotingClient, addr: &str) -> bool {
    let req = RemotingCommand::request(request_code::GET_ALL_TOPIC_CONFIG);
    let Ok(resp) = client.invoke(addr, req, Duration::from_secs(3)).await else {
        return false;
    };
    body::from_fastjson::<TopicConfigSerializeWrapper>(&resp.body)
        .is_ok_and(|w| w.topic_config_table.contains_key(TOPIC))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_replicates_and_the_slave_serves_after_the_master_dies() {
    let dir = temp_dir();
    let (_ns, ns_addr) = namesrv(dir.path());
    let mdir = subdir(dir.path(), "master");
    let (master, master_addr) = broker(&mdir, &ns_addr, "brokerRole=SYNC_MASTER");
    let admin = RemotingClient::new();

    // Metadata the slave must copy: the topic and a committed offset, there before it starts.
    let create = RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC)
        .with_ext("topic", TOPIC)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", QUEUES.to_string())
        .with_ext("writeQueueNums", QUEUES.to_string())
        .with_ext("perm", "6")
        .with_ext("topicFilterType", "SINGLE_TAG")
        .with_ext("order", "false");
    assert_eq!(
        invoke(&admin, &master_addr, create).await.code,
        response_code::SUCCESS
    );
    let commit = RemotingCommand::request(request_code::UPDATE_CONSUMER_OFFSET)
        .with_ext("consumerGroup", "SyncedGroup")
        .with_ext("topic", TOPIC)
        .with_ext("queueId", "0")
        .with_ext("commitOffset", "7");
    assert_eq!(
        invoke(&admin, &master_addr, commit).await.code,
        response_code::SUCCESS
    );

    let sdir = subdir(dir.path(), "slave");
    let (_slave, slave_addr) = broker(&sdir, &ns_addr, "brokerRole=SLAVE\nbrokerId=1");

    // A slave refuses sends with Java's remark.
    let refused = invoke(&admin, &slave_addr, send_request(TOPIC, 0, b"x", "WAIT\u{1}true")).await;
    assert_eq!(refused.code, response_code::SERVICE_NOT_AVAILABLE);
    assert!(refused
        .remark
        .unwrap_or_default()
        .contains("messages are put to the slave"));

    let producer = Producer::new("HaProducer", client_config(&ns_addr, "p"));
    producer.start().await.expect("producer start");
    // Until the slave has connected and caught up, sends answer SLAVE_NOT_AVAILABLE or
    // FLUSH_SLAVE_TIMEOUT (stored anyway); wait for the first SEND_OK.
    let mut acked = BTreeSet::new();
    let mut probe = 0;
    eventually("a first SEND_OK (slave connected)", || {
        probe += 1;
        let msg = Message::new(TOPIC, format!("probe-{probe}"));
        let producer = &producer;
        async move { matches!(producer.send(msg).await, Ok(r) if r.send_status == SendStatus::SendOk) }
    })
    .await;
    acked.insert(format!("probe-{probe}"));
    // Only SEND_OK is an acknowledgement; a FLUSH_SLAVE_TIMEOUT (a very loaded machine) is not.
    let start = Instant::now();
    let mut i = 0;
    while acked.len() <= MESSAGES {
        assert!(start.elapsed() < DEADLINE, "too few SEND_OK");
        let body = format!("ha-{i}");
        i += 1;
        let r = producer
            .send(Message::new(TOPIC, body.clone()))
            .await
            .expect("send");
        match r.send_status {
            SendStatus::SendOk => {
                acked.insert(body);
            }
            SendStatus::FlushSlaveTimeout => {}
            other => panic!("message {body}: {other:?}"),
        }
    }
    producer.shutdown().await;

    // Metadata sync (first after 3 s, then every 10 s).
    eventually("topic config on the slave", || has_topic(&admin, &slave_addr)).await;
    eventually("consumer offset on the slave", || async {
        query_offset(&admin, &slave_addr, "SyncedGroup").await == Some(7)
    })
    .await;
    for q in 0..QUEUES {
        let on_master = max_offset(&admin, &master_addr, q).await.unwrap();
        assert_eq!(
            max_offset(&admin, &slave_addr, q).await,
            Some(on_master),
            "queue {q}"
        );
    }

    // haStatus (GET_BROKER_HA_STATUS): the master lists its one slave, in sync, its ack at the
    // master's max offset once the slave's next report is in; the slave names its master
    let ha_status = |addr: String| {
        let admin = &admin;
        async move {
            let resp = invoke(
                admin,
                &addr,
                RemotingCommand::request(request_code::GET_BROKER_HA_STATUS),
            )
            .await;
            assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
            body::from_fastjson::<HaRuntimeInfo>(&resp.body).unwrap()
        }
    };
    eventually("the master's haStatus shows the slave caught up", || async {
        let info = ha_status(master_addr.clone()).await;
        info.master
            && info.ha_connection_info.len() == 1
            && info.ha_connection_info[0].diff == 0
            && info.ha_connection_info[0].slave_ack_offset == info.master_commit_log_max_offset
    })
    .await;
    let on_master = ha_status(master_addr.clone()).await;
    assert_eq!(on_master.in_sync_slave_nums, 1, "{on_master:?}");
    assert!(on_master.ha_connection_info[0].in_sync);
    assert!(on_master.ha_connection_info[0].transfer_from_where >= 0);
    let on_slave = ha_status(slave_addr.clone()).await;
    assert!(!on_slave.master, "{on_slave:?}");
    let client = &on_slave.ha_client_runtime_info;
    assert!(client.activated, "{on_slave:?}");
    // the master's HA address (haServerAddr: brokerIP2 and the HA port), from the name server
    assert!(
        client
            .master_addr
            .as_deref()
            .is_some_and(|a| a.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok())),
        "{on_slave:?}"
    );
    assert_eq!(client.max_offset, on_master.master_commit_log_max_offset);
    assert!(client.last_read_timestamp > 0 && client.last_write_timestamp > 0);
    // `rmq admin haStatus` prints them as mqadmin does
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rmq"))
        .args(["admin", "haStatus", "-n", &ns_addr, "-b", &master_addr])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains(&format!("#MasterAddr\t{master_addr}")), "{out}");
    assert!(out.contains("#InSyncSlaveNum\t1"), "{out}");

    master.kill9();
    std::fs::remove_dir_all(mdir.join("store")).unwrap();

    let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let sink = seen.clone();
    let consumer = PushConsumer::new(
        "HaConsumer",
        client_config(&ns_addr, "c"),
        ConsumerConfig {
            consume_from_where: ConsumeFromWhere::FirstOffset,
            rebalance_interval_ms: 1000,
            ..Default::default()
        },
    );
    consumer.subscribe(TOPIC, "*").unwrap();
    consumer.register_listener(move |msgs| {
        let mut sink = sink.lock().unwrap();
        for m in msgs {
            sink.insert(String::from_utf8_lossy(&m.body).into_owned());
        }
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await.expect("consumer start");
    eventually("every acknowledged message consumed from the slave", || {
        let done = acked.is_subset(&seen.lock().unwrap());
        async move { done }
    })
    .await;
    // Offsets go to the slave while the master is gone.
    eventually("consumer offsets committed on the slave", || async {
        let mut total = 0;
        for q in 0..QUEUES {
            let req = RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET)
                .with_ext("consumerGroup", "HaConsumer")
                .with_ext("topic", TOPIC)
                .with_ext("queueId", q.to_string());
            if let Ok(resp) = admin.invoke(&slave_addr, req, Duration::from_secs(3)).await {
                total += resp
                    .ext("offset")
                    .and_then(|o| o.parse::<i64>().ok())
                    .unwrap_or(0);
            }
        }
        total >= acked.len() as i64
    })
    .await;
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_master_without_slave_answers_slave_not_available() {
    let dir = temp_dir();
    let (_ns, ns_addr) = namesrv(dir.path());
    let (_master, master_addr) = broker(dir.path(), &ns_addr, "brokerRole=SYNC_MASTER");
    let client = RemotingClient::new();
    let resp = invoke(
        &client,
        &master_addr,
        send_request("LonelyTopic", 0, b"m", "WAIT\u{1}true"),
    )
    .await;
    assert_eq!(resp.code, response_code::SLAVE_NOT_AVAILABLE);
    assert!(resp.ext("msgId").is_some() && resp.ext("queueOffset") == Some("0"));
    // Stored anyway.
    let req = RemotingCommand::request(request_code::GET_MAX_OFFSET)
        .with_ext("topic", "LonelyTopic")
        .with_ext("queueId", "0");
    assert_eq!(invoke(&client, &master_addr, req).await.ext("offset"), Some("1"));
    // WAIT=false does not wait for a slave.
    let resp = invoke(
        &client,
        &master_addr,
        send_request("LonelyTopic", 0, b"n", "WAIT\u{1}false"),
    )
    .await;
    assert_eq!(resp.code, response_code::SUCCESS);
}
