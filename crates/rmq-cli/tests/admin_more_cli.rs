//! The `rmq admin` verbs of `admin_more` (mqadmin's names and flags) against `rmq namesrv` /
//! `rmq broker` processes, with a live producer and push consumer: `consumerConnection`,
//! `producerConnection`, `consumerStatus -i`, `getConsumerConfig`, `addWritePerm`, `wipeWritePerm`,
//! `updateTopicPerm`, `topicClusterList`, `updateKvConfig`, `deleteKvConfig`, `updateOrderConf`,
//! `skipAccumulatedMessage`, `cloneGroupOffset`, `sendMessage`; and `admin_tools`'
//! `startMonitoring`, `checkRocksdbCqWriteProgress`, `addBroker` / `removeBroker` (refused: not a
//! container), `dumpCompactionLog`, `rocksDBConfigToJson` and `exportMetadataInRocksDB`.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::{Duration, Instant};

use rmq_client::{
    Admin, ClientConfig, ConsumeFromWhere, ConsumeStatus, ConsumerConfig, Message, Producer, PushConsumer,
};

const TOPIC: &str = "AdminMoreTopic";
const GROUP: &str = "AdminMoreGroup";
const PRODUCER_GROUP: &str = "AdminMoreProducer";
const DEADLINE: Duration = Duration::from_secs(60);

fn client_config(namesrv: &str, instance: &str) -> ClientConfig {
    ClientConfig {
        namesrv_addr: vec![namesrv.to_owned()],
        client_ip: "127.0.0.1".into(),
        instance_name: instance.into(),
        ..Default::default()
    }
}

/// `rmq <args>`, which must succeed; its stdout and stderr.
fn ok(args: &[&str]) -> String {
    tokio::task::block_in_place(|| common::ok(args))
}

/// Runs `rmq <args>` until its output satisfies `cond`; that output.
async fn until(what: &str, args: &[&str], cond: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let out = tokio::task::block_in_place(|| common::text(&common::rmq(args)));
        if cond(&out) {
            return out;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}: {out}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The perm of the topic's queue data in `rmq admin topicRoute` (pretty JSON).
fn route_perm(route: &str) -> Option<i32> {
    let v: serde_json::Value = serde_json::from_str(route.trim()).ok()?;
    v["queueDatas"][0]["perm"].as_i64().map(|p| p as i32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_admin_verbs() {
    let dir = common::temp_dir();
    let (_ns, ns) = common::namesrv(dir.path());
    let (_broker, broker) = common::broker(dir.path(), &ns, "");
    ok(&[
        "admin",
        "updateTopic",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        TOPIC,
        "-r",
        "4",
        "-w",
        "4",
    ]);

    // a live producer, known to the broker after its first send
    let producer = Producer::new(PRODUCER_GROUP, client_config(&ns, "p"));
    producer.start().await.unwrap();
    producer.send(Message::new(TOPIC, "hello")).await.unwrap();
    let out = until(
        "producerConnection to list the producer",
        &[
            "admin",
            "producerConnection",
            "-n",
            &ns,
            "-g",
            PRODUCER_GROUP,
            "-t",
            TOPIC,
        ],
        |o| o.contains(producer.client_id()),
    )
    .await;
    assert!(out.starts_with("0001  "), "{out}");
    assert!(out.contains("RUST") || out.contains("JAVA"), "{out}");

    // a live push consumer
    let consumer = PushConsumer::new(
        GROUP,
        client_config(&ns, "c"),
        ConsumerConfig {
            consume_from_where: ConsumeFromWhere::FirstOffset,
            rebalance_interval_ms: 1000,
            ..Default::default()
        },
    );
    consumer.subscribe(TOPIC, "TagA || TagB").unwrap();
    consumer.register_listener(|_| ConsumeStatus::ConsumeSuccess);
    consumer.start().await.unwrap();
    let out = until(
        "consumerConnection to list the consumer",
        &["admin", "consumerConnection", "-n", &ns, "-g", GROUP],
        |o| o.contains(consumer.client_id()),
    )
    .await;
    assert!(out.contains("#ClientId"), "{out}");
    assert!(out.contains("Below is subscription:"), "{out}");
    assert!(out.contains(TOPIC) && out.contains("TagA || TagB"), "{out}");
    assert!(out.contains("ConsumeType: CONSUME_PASSIVELY"), "{out}");
    assert!(out.contains("MessageModel: CLUSTERING"), "{out}");
    assert!(
        out.contains("ConsumeFromWhere: CONSUME_FROM_FIRST_OFFSET"),
        "{out}"
    );
    let at = ok(&[
        "admin",
        "consumerConnection",
        "-n",
        &ns,
        "-g",
        GROUP,
        "-b",
        &broker,
    ]);
    assert!(at.contains(consumer.client_id()), "{at}");

    let out = until(
        "consumerStatus -i to show the consumer's queues",
        &[
            "admin",
            "consumerStatus",
            "-n",
            &ns,
            "-g",
            GROUP,
            "-i",
            consumer.client_id(),
        ],
        |o| o.contains(&format!("{TOPIC:<32}  broker-a")),
    )
    .await;
    assert!(out.starts_with("#Consumer Properties#"), "{out}");
    assert!(out.contains("#Consumer Subscription#"), "{out}");
    assert!(
        out.contains(&format!(
            " Topic: {TOPIC:<40} ClassFilter: false    SubExpression: TagA || TagB"
        )),
        "{out}"
    );
    assert!(
        out.contains("#Consumer Offset#") && out.contains("#Consumer RT&TPS#"),
        "{out}"
    );

    // skipAccumulatedMessage: the online group's offsets move to each queue's end (1 message sent)
    // (the broker refuses until the consumer has committed an offset for every queue, as Java's)
    let out = until(
        "skipAccumulatedMessage to reset the group's offsets",
        &[
            "admin",
            "skipAccumulatedMessage",
            "-n",
            &ns,
            "-g",
            GROUP,
            "-t",
            TOPIC,
        ],
        |o| o.contains("#offset"),
    )
    .await;
    assert!(out.contains("#brokerName") && out.contains("#offset"), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("broker-a"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert_eq!(
        rows.iter().map(|r| r[2].parse::<i64>().unwrap()).sum::<i64>(),
        1,
        "{out}"
    );

    // cloneGroupOffset: the destination group gets the source group's offsets
    let out = ok(&[
        "admin",
        "cloneGroupOffset",
        "-n",
        &ns,
        "-s",
        GROUP,
        "-d",
        "AdminMoreClone",
        "-t",
        TOPIC,
    ]);
    assert!(
        out.contains(&format!(
            "clone group offset success. srcGroup[{GROUP}], destGroup=[AdminMoreClone], topic[{TOPIC}]"
        )),
        "{out}"
    );
    let stats_admin = Admin::new(client_config(&ns, "stats"));
    let offsets = |stats: rmq_protocol::body::ConsumeStats| {
        stats
            .offset_table
            .into_iter()
            .filter(|(mq, _)| mq.topic == TOPIC)
            .map(|(mq, w)| (mq.queue_id, w.consumer_offset))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let src = offsets(stats_admin.consume_stats(GROUP, Some(TOPIC)).await.unwrap());
    let dest = offsets(
        stats_admin
            .consume_stats("AdminMoreClone", Some(TOPIC))
            .await
            .unwrap(),
    );
    assert_eq!(src.len(), 4, "{src:?}");
    assert_eq!(src, dest);

    // the group was auto-created by the consumer's heartbeat
    let out = ok(&["admin", "getConsumerConfig", "-n", &ns, "-g", GROUP]);
    assert!(
        out.contains("=============================DefaultCluster:broker-a="),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("groupName") && l.ends_with(GROUP)),
        "{out}"
    );
    let none = ok(&["admin", "getConsumerConfig", "-n", &ns, "-g", "NoSuchGroup"]);
    assert!(none.trim().is_empty(), "{none}");

    let out = ok(&["admin", "topicClusterList", "-n", &ns, "-t", TOPIC]);
    assert_eq!(out.trim(), "DefaultCluster", "{out}");

    // updateTopicPerm: the broker registers the new perm with the name server
    let out = ok(&[
        "admin",
        "updateTopicPerm",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        TOPIC,
        "-p",
        "4",
    ]);
    assert!(
        out.contains(&format!("update topic perm from 6 to 4 in {broker} success.")),
        "{out}"
    );
    let route = ["admin", "topicRoute", "-n", &ns, "-t", TOPIC];
    until("perm 4 in the route", &route, |o| route_perm(o) == Some(4)).await;
    let same = ok(&[
        "admin",
        "updateTopicPerm",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        TOPIC,
        "-p",
        "4",
    ]);
    assert!(same.contains("new perm equals to the old one!"), "{same}");
    let out = ok(&[
        "admin",
        "updateTopicPerm",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-t",
        TOPIC,
        "-p",
        "6",
    ]);
    assert!(
        out.contains(&format!("update topic perm from 4 to 6 in {broker} success.")),
        "{out}"
    );
    until("perm 6 in the route", &route, |o| route_perm(o) == Some(6)).await;

    // wipeWritePerm / addWritePerm act on the name server's routes at once
    let out = ok(&["admin", "wipeWritePerm", "-n", &ns, "-b", "broker-a"]);
    assert!(
        out.contains(&format!(
            "wipe write perm of broker[broker-a] in name server[{ns}] OK, "
        )),
        "{out}"
    );
    let r = ok(&route);
    assert_eq!(route_perm(&r), Some(4), "{r}");
    let out = ok(&["admin", "addWritePerm", "-n", &ns, "-b", "broker-a"]);
    assert!(
        out.contains(&format!(
            "add write perm of broker[broker-a] in name server[{ns}] OK, "
        )),
        "{out}"
    );
    let r = ok(&route);
    assert_eq!(route_perm(&r), Some(6), "{r}");

    // KV config on the name server
    let admin = Admin::new(client_config(&ns, "admin"));
    let out = ok(&[
        "admin",
        "updateKvConfig",
        "-n",
        &ns,
        "-s",
        "ORDER_TOPIC_CONFIG",
        "-k",
        TOPIC,
        "-v",
        "broker-a:4",
    ]);
    assert!(
        out.contains("create or update kv config to namespace success."),
        "{out}"
    );
    assert_eq!(
        admin
            .kv_config("ORDER_TOPIC_CONFIG", TOPIC)
            .await
            .unwrap()
            .as_deref(),
        Some("broker-a:4")
    );
    let out = ok(&[
        "admin",
        "deleteKvConfig",
        "-n",
        &ns,
        "-s",
        "ORDER_TOPIC_CONFIG",
        "-k",
        TOPIC,
    ]);
    assert!(out.contains("delete kv config from namespace success."), "{out}");
    assert_eq!(admin.kv_config("ORDER_TOPIC_CONFIG", TOPIC).await.unwrap(), None);

    // updateOrderConf: the ORDER_TOPIC_CONFIG namespace
    let out = ok(&[
        "admin",
        "updateOrderConf",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-m",
        "put",
        "-v",
        "broker-a:2",
    ]);
    assert!(
        out.contains(&format!(
            "update orderConf success. topic=[{TOPIC}], orderConf=[broker-a:2]"
        )),
        "{out}"
    );
    let out = ok(&["admin", "updateOrderConf", "-n", &ns, "-t", TOPIC, "-m", "get"]);
    assert!(
        out.contains(&format!(
            "get orderConf success. topic=[{TOPIC}], orderConf=[broker-a:2]"
        )),
        "{out}"
    );
    let out = ok(&["admin", "updateOrderConf", "-n", &ns, "-t", TOPIC, "-m", "delete"]);
    assert!(
        out.contains(&format!("delete orderConf success. topic=[{TOPIC}]")),
        "{out}"
    );
    assert_eq!(admin.kv_config("ORDER_TOPIC_CONFIG", TOPIC).await.unwrap(), None);
    let bad = tokio::task::block_in_place(|| {
        common::rmq(&["admin", "updateOrderConf", "-n", &ns, "-t", TOPIC, "-m", "put"])
    });
    assert!(!bad.status.success(), "put without -v: {}", common::text(&bad));

    // sendMessage to queue 2 of broker-a, then the message is found by its id
    let out = ok(&[
        "admin",
        "sendMessage",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-p",
        "sent-by-admin",
        "-k",
        "K1",
        "-c",
        "TagA",
        "-b",
        "broker-a",
        "-i",
        "2",
    ]);
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("broker-a"))
        .unwrap_or_else(|| panic!("{out}"))
        .split_whitespace()
        .collect();
    assert!(out.contains("#Send Result"), "{out}");
    assert_eq!(&row[1..3], ["2", "SEND_OK"], "{out}");
    let found = ok(&[
        "admin",
        "queryMsgByUniqueKey",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-i",
        row[3],
    ]);
    assert!(found.contains("sent-by-admin"), "{found}");
    let bad = tokio::task::block_in_place(|| {
        common::rmq(&[
            "admin",
            "sendMessage",
            "-n",
            &ns,
            "-t",
            TOPIC,
            "-p",
            "x",
            "-i",
            "1",
        ])
    });
    assert!(common::text(&bad).contains("Broker name must be set if the queue is chosen!"));

    // startMonitoring: one round reports the live group's undone messages
    let out = until(
        "startMonitoring to report the group",
        &[
            "admin",
            "startMonitoring",
            "-n",
            &ns,
            "--rounds",
            "1",
            "--interval",
            "0",
        ],
        |o| {
            o.contains(&format!(
                "reportUndoneMsgs: UndoneMsgs [consumerGroup={GROUP}, topic={TOPIC}, undoneMsgsTotal="
            ))
        },
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "[MONITOR] =========================================beginRound",
        "{out}"
    );
    assert!(
        out.contains("[MONITOR] =========================================endRound"),
        "{out}"
    );
    assert!(
        out.contains("undoneMsgsSingleMQ=") && out.contains("undoneMsgsDelayTimeMills="),
        "{out}"
    );

    // the RocksDB CQ check answers as a broker without RocksDB consume queues
    let out = ok(&[
        "admin",
        "checkRocksdbCqWriteProgress",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
    ]);
    assert_eq!(
        out,
        format!("broker-a | {broker} | \nrocksdbCQWriteEnable is false, checkRocksdbCqWriteProgressCommand is invalid")
    );
    let out = ok(&[
        "admin",
        "checkRocksdbCqWriteProgress",
        "-n",
        &ns,
        "-c",
        "NoSuchCluster",
    ]);
    assert_eq!(out, "clusterAddrTable is empty");

    // a broker is no broker container: ADD_BROKER / REMOVE_BROKER refused as a Java broker does
    for args in [
        ["addBroker", "-c", broker.as_str(), "-b", "/tmp/broker-x.conf"],
        [
            "removeBroker",
            "-c",
            broker.as_str(),
            "-b",
            "DefaultCluster:broker-x:0",
        ],
    ] {
        let mut all = vec!["admin"];
        all.extend(args);
        let out = tokio::task::block_in_place(|| common::rmq(&all));
        assert!(!out.status.success());
        let text = common::text(&out);
        assert!(
            text.contains("command failed") && text.contains("not supported"),
            "{text}"
        );
    }

    // dumpCompactionLog reads stored records from a file: the broker's first commitlog segment
    let segment = dir.path().join("store/commitlog/00000000000000000000");
    let out = ok(&["admin", "dumpCompactionLog", "-f", segment.to_str().unwrap()]);
    assert!(out.lines().count() >= 2, "{out}");
    assert!(
        out.contains("body=hello") && out.contains("body=sent-by-admin"),
        "{out}"
    );
    assert!(out.lines().all(|l| l.starts_with("MessageExt [")), "{out}");
    assert!(out.contains(&format!("topic='{TOPIC}'")), "{out}");
    assert_eq!(ok(&["admin", "dumpCompactionLog"]), "miss dump log file name\n");

    // the metadata verbs read rmq's JSON config files (where Java reads its RocksDB store)
    let config = dir.path().join("store/config");
    let config = config.to_str().unwrap();
    let out = ok(&["admin", "rocksDBConfigToJson", "-p", config, "-t", "topics"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["topicConfigTable"][TOPIC].is_object() && v["dataVersion"].is_object(),
        "{out}"
    );
    let out = ok(&[
        "admin",
        "rocksDBConfigToJson",
        "-p",
        config,
        "-t",
        "consumerOffsets",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["offsetTable"].is_object(), "{out}");
    let out = ok(&[
        "admin",
        "exportMetadataInRocksDB",
        "-p",
        config,
        "-t",
        "subscriptionGroups",
    ]);
    assert!(out.contains(&format!(", Key: {GROUP}, Value: {{")), "{out}");
    let out = ok(&[
        "admin",
        "exportMetadataInRocksDB",
        "-p",
        config,
        "-t",
        "topics",
        "-j",
        "true",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["topicConfigTable"][TOPIC]["topicName"] == TOPIC, "{out}");
    let out = ok(&[
        "admin",
        "exportMetadataInRocksDB",
        "-p",
        config,
        "-t",
        "consumerOffsets",
    ]);
    assert_eq!(
        out,
        "Invalid config type=consumeroffsets, Options: topics,subscriptionGroups\n"
    );

    consumer.shutdown().await;
    producer.shutdown().await;
}
