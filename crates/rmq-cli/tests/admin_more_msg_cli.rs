//! The message-reading verbs of `admin_more` (mqadmin's names and flags) against `rmq namesrv` /
//! `rmq broker` processes: `printMsg`, `printMsgByQueue`, `queryMsgByOffset`, `consumeMessage`,
//! `statsAll`, `exportConfigs`, `exportMetadata`, `exportMetrics`, `deleteExpiredCommitLog`,
//! `resetMasterFlushOffset`, `updateTopicList`, `updateSubGroupList`, `getColdDataFlowCtrInfo`,
//! `updateColdDataFlowCtrGroupConfig`, `removeColdDataFlowCtrGroupConfig`, `allocateMQ`,
//! `checkMsgSendRT`, `sendMsgStatus`, `clusterRT`, `queryMsgTraceById`.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::{Duration, Instant};

use rmq_client::{ClientConfig, Message, MessageQueue, Producer};

const TOPIC: &str = "AdminMsgTopic";
const DEADLINE: Duration = Duration::from_secs(60);

fn client_config(namesrv: &str, instance: &str) -> ClientConfig {
    ClientConfig {
        namesrv_addr: vec![namesrv.to_owned()],
        client_ip: "127.0.0.1".into(),
        instance_name: instance.into(),
        ..Default::default()
    }
}

/// Runs `rmq <args>` until it succeeds with output satisfying `cond`; that output.
async fn until(what: &str, args: &[&str], cond: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let out = tokio::task::block_in_place(|| common::rmq(args));
        let text = common::text(&out);
        if out.status.success() && cond(&text) {
            return text;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_reading_verbs() {
    let dir = common::temp_dir();
    let (_ns, ns) = common::namesrv(dir.path());
    let (_broker, broker) = common::broker(dir.path(), &ns, "");
    tokio::task::block_in_place(|| {
        common::ok(&[
            "admin",
            "updateTopic",
            "-n",
            &ns,
            "-b",
            &broker,
            "-t",
            TOPIC,
            "-r",
            "2",
            "-w",
            "2",
        ])
    });

    // three messages in queue 0 (TagA, TagA, TagB), offsets 0..3
    let producer = Producer::new("AdminMsgProducer", client_config(&ns, "p"));
    producer.start().await.unwrap();
    let q0 = MessageQueue::new(TOPIC, "broker-a", 0);
    for (i, tag) in ["TagA", "TagA", "TagB"].iter().enumerate() {
        let msg = Message::new(TOPIC, format!("body-{i}").into_bytes())
            .with_tags(*tag)
            .with_keys(format!("key-{i}"));
        producer.send_to_queue(msg, &q0).await.unwrap();
    }
    producer.shutdown().await;

    // printMsg: every queue, its offset range, each message with its body
    let out = until(
        "printMsg to print the three messages",
        &["admin", "printMsg", "-n", &ns, "-t", TOPIC],
        |o| o.contains("BODY: body-2"),
    )
    .await;
    assert!(
        out.contains(&format!(
            "minOffset=0, maxOffset=3, MessageQueue [topic={TOPIC}, brokerName=broker-a, queueId=0]"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "minOffset=0, maxOffset=0, MessageQueue [topic={TOPIC}, brokerName=broker-a, queueId=1]"
        )),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("MSGID: ")).count(),
        3,
        "{out}"
    );
    assert!(
        out.contains("BODY: body-0") && out.contains("BODY: body-1"),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| *l == "--------------------------------------------------------")
            .count(),
        2,
        "{out}"
    );
    let no_body = common::ok(&[
        "admin", "printMsg", "-n", &ns, "-t", TOPIC, "-d", "false", "-s", "TagB",
    ]);
    let msgs: Vec<&str> = no_body.lines().filter(|l| l.starts_with("MSGID: ")).collect();
    assert_eq!(msgs.len(), 1, "{no_body}");
    assert!(msgs[0].ends_with("BODY: NOT PRINT BODY"), "{no_body}");

    // printMsgByQueue: the messages of queue 0 and their count by tag
    let out = common::ok(&[
        "admin",
        "printMsgByQueue",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-a",
        "broker-a",
        "-i",
        "0",
        "-p",
        "true",
        "-d",
        "true",
        "-f",
        "true",
    ]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("MSGID: ")).count(),
        3,
        "{out}"
    );
    assert!(out.contains("BODY: body-1"), "{out}");
    let tags: Vec<&str> = out.lines().filter(|l| l.starts_with("Tag: ")).collect();
    assert_eq!(
        tags,
        [
            format!("Tag: {:<30} Count: 2", "TagA"),
            format!("Tag: {:<30} Count: 1", "TagB")
        ],
        "{out}"
    );
    let counted_only = common::ok(&[
        "admin",
        "printMsgByQueue",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-a",
        "broker-a",
        "-i",
        "0",
        "-f",
        "true",
    ]);
    assert!(!counted_only.contains("MSGID: "), "{counted_only}");
    assert!(counted_only.contains("Count: 2"), "{counted_only}");

    // queryMsgByOffset: the message at offset 1 of queue 0
    let out = common::ok(&[
        "admin",
        "queryMsgByOffset",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-b",
        "broker-a",
        "-i",
        "0",
        "-o",
        "1",
    ]);
    for field in [
        "OffsetID:",
        "Topic:",
        "Tags:",
        "Keys:",
        "Queue ID:",
        "Queue Offset:",
        "CommitLog Offset:",
        "Born Timestamp:",
        "Store Host:",
        "Properties:",
    ] {
        assert!(out.contains(field), "{field} missing: {out}");
    }
    assert!(out.contains(&format!("{:<20} {TOPIC}", "Topic:")), "{out}");
    assert!(out.contains(&format!("{:<20} [key-1]", "Keys:")), "{out}");
    assert!(out.contains(&format!("{:<20} 1", "Queue Offset:")), "{out}");
    assert!(out.contains(&format!("{:<20} body-1", "Message Body:")), "{out}");
    let past_end = common::ok(&[
        "admin",
        "queryMsgByOffset",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-b",
        "broker-a",
        "-i",
        "0",
        "-o",
        "3",
    ]);
    assert!(past_end.trim().is_empty(), "{past_end}");

    // consumeMessage: one message from offset 1 of queue 0, then the whole topic
    let out = common::ok(&[
        "admin",
        "consumeMessage",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-b",
        "broker-a",
        "-i",
        "0",
        "-o",
        "1",
        "-c",
        "1",
    ]);
    assert!(out.contains("Consume ok"), "{out}");
    assert!(out.contains("The oldler 1 message will be provided"), "{out}");
    let msgs: Vec<&str> = out.lines().filter(|l| l.starts_with("MSGID: ")).collect();
    assert_eq!(msgs.len(), 1, "{out}");
    assert!(msgs[0].ends_with("BODY: body-1"), "{out}");
    let out = common::ok(&["admin", "consumeMessage", "-n", &ns, "-t", TOPIC]);
    assert!(out.contains("Consume ok"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("MSGID: ")).count(),
        3,
        "{out}"
    );
    let bad = common::ok(&["admin", "consumeMessage", "-n", &ns, "-t", TOPIC, "-i", "0"]);
    assert!(bad.contains("Please set the brokerName before queueId!"), "{bad}");
    let bad = common::ok(&["admin", "consumeMessage", "-n", &ns, "-t", TOPIC, "-c", "0"]);
    assert!(bad.contains("Please input a positive messageNumber!"), "{bad}");

    // statsAll -t: the header and the topic's line (no group consumes it)
    let out = common::ok(&["admin", "statsAll", "-n", &ns, "-t", TOPIC]);
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "{:<64}  {:<64} {:>12}",
            "#Topic", "#Consumer Group", "#Accumulation"
        )),
        "{out}"
    );
    assert!(lines[0].ends_with("#InMsg24Hour  #OutMsg24Hour"), "{out}");
    assert!(lines[1].starts_with(&format!("{TOPIC:<64}  ")), "{out}");
    assert!(lines[1].ends_with("NO_CONSUMER"), "{out}");
    // the broker's TOPIC_PUT_NUMS (VIEW_BROKER_STATS_DATA): the three sends, a rate over the minute
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cols.len(), 5, "{out}");
    let in_tps: f64 = cols[2].parse().unwrap();
    let in_today: i64 = cols[3].parse().unwrap();
    assert!(in_tps > 0.0, "{out}");
    assert!(in_today >= 3, "{out}");
    let all = common::ok(&["admin", "statsAll", "-n", &ns]);
    assert!(all.lines().any(|l| l.starts_with(TOPIC)), "{all}");
    assert!(!all.lines().any(|l| l.starts_with("%RETRY%")), "{all}");

    // exportConfigs: the cluster's master's configs and the cluster's scale
    let export_dir = dir.path().join("export");
    let export = export_dir.to_str().unwrap();
    let out = common::ok(&[
        "admin",
        "exportConfigs",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-f",
        export,
    ]);
    assert_eq!(
        out.trim(),
        format!("export {export}/configs.json success"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export_dir.join("configs.json")).unwrap()).unwrap();
    assert_eq!(
        json["brokerConfigs"]["broker-a"]["brokerName"], "broker-a",
        "{json}"
    );
    assert_eq!(
        json["brokerConfigs"]["broker-a"]["brokerClusterName"], "DefaultCluster",
        "{json}"
    );
    assert_eq!(json["clusterScale"]["namesrvSize"], 1, "{json}");
    assert_eq!(json["clusterScale"]["masterBrokerSize"], 1, "{json}");
    assert_eq!(json["clusterScale"]["slaveBrokerSize"], 0, "{json}");

    // exportMetadata -c: the user topics and groups of the cluster's masters
    let out = common::ok(&[
        "admin",
        "exportMetadata",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-f",
        export,
    ]);
    assert_eq!(
        out.trim(),
        format!("export {export}/metadata.json success"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export_dir.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(json["topicConfigTable"][TOPIC]["readQueueNums"], 2, "{json}");
    assert!(json["topicConfigTable"].get("TBW102").is_none(), "{json}");
    assert!(
        json["subscriptionGroupTable"].get("TOOLS_CONSUMER").is_none(),
        "{json}"
    );
    assert!(json["exportTime"].as_i64().unwrap() > 0, "{json}");
    // -b -t: one broker's topics
    let out = common::ok(&[
        "admin",
        "exportMetadata",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        "-f",
        export,
    ]);
    assert_eq!(out.trim(), format!("export {export}/topic.json success"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export_dir.join("topic.json")).unwrap()).unwrap();
    assert_eq!(json["topicConfigTable"][TOPIC]["topicName"], TOPIC, "{json}");

    // exportMetrics: each master's runtime report and the cluster's totals
    let out = common::ok(&[
        "admin",
        "exportMetrics",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-f",
        export,
    ]);
    assert_eq!(
        out.trim(),
        format!("export {export}/metrics.json success"),
        "{out}"
    );
    let text = std::fs::read_to_string(export_dir.join("metrics.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let broker_a = &json["evaluateReport"]["broker-a"];
    for key in ["runtimeEnv", "runtimeQuota", "runtimeVersion"] {
        assert!(broker_a.get(key).is_some(), "{key} missing: {text}");
    }
    assert!(
        broker_a["runtimeQuota"]["diskRatio"]
            .get("commitLogDiskRatio")
            .is_some(),
        "{text}"
    );
    assert!(
        broker_a["runtimeQuota"]["topicSize"].as_u64().unwrap() >= 1,
        "{text}"
    );
    assert!(broker_a["runtimeEnv"].get("cpuNum").is_some(), "{text}");
    assert!(
        json["totalData"]["totalTps"].get("totalNormalInTps").is_some(),
        "{text}"
    );
    assert!(
        json["totalData"]["totalOneDayNum"]
            .get("normalOneDayInNum")
            .is_some(),
        "{text}"
    );

    // deleteExpiredCommitLog: a cluster's brokers, one broker, every cluster
    for args in [["-c", "DefaultCluster"], ["-b", broker.as_str()]] {
        let out = common::ok(&["admin", "deleteExpiredCommitLog", "-n", &ns, args[0], args[1]]);
        assert_eq!(out.trim(), "success", "{out}");
    }
    let out = common::ok(&["admin", "deleteExpiredCommitLog", "-n", &ns]);
    assert_eq!(out.trim(), "success", "{out}");

    // resetMasterFlushOffset: a master takes it and ignores it
    let out = common::ok(&[
        "admin",
        "resetMasterFlushOffset",
        "-n",
        &ns,
        "-b",
        &broker,
        "-o",
        "0",
    ]);
    assert_eq!(out.trim(), "reset master flush offset to 0 success", "{out}");

    // updateTopicList -c: both topics get a route
    let topics = dir.path().join("topics.json");
    std::fs::write(
        &topics,
        r#"[{"topicName":"AdminListTopicA","readQueueNums":2,"writeQueueNums":2,"perm":6},
            {"topicName":"AdminListTopicB","readQueueNums":1,"writeQueueNums":1,"perm":6}]"#,
    )
    .unwrap();
    let out = common::ok(&[
        "admin",
        "updateTopicList",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-f",
        topics.to_str().unwrap(),
    ]);
    assert_eq!(
        out.trim(),
        format!("submit batch of topic config to {broker} success, please check the result later."),
        "{out}"
    );
    for t in ["AdminListTopicA", "AdminListTopicB"] {
        until(
            "the listed topic's route",
            &["admin", "topicRoute", "-n", &ns, "-t", t],
            |o| o.contains("queueDatas"),
        )
        .await;
    }
    let missing = common::ok(&[
        "admin",
        "updateTopicList",
        "-n",
        &ns,
        "-b",
        &broker,
        "-f",
        "/no/such/file.json",
    ]);
    assert_eq!(
        missing.trim(),
        "the file path /no/such/file.json does not exists",
        "{missing}"
    );

    // updateSubGroupList -b: the groups exist with the file's values and the defaults
    let groups = dir.path().join("groups.json");
    std::fs::write(
        &groups,
        r#"[{"groupName":"AdminListGroupA"},{"groupName":"AdminListGroupB","retryMaxTimes":3}]"#,
    )
    .unwrap();
    let out = common::ok(&[
        "admin",
        "updateSubGroupList",
        "-n",
        &ns,
        "-b",
        &broker,
        "-f",
        groups.to_str().unwrap(),
    ]);
    assert_eq!(
        out.trim(),
        format!("submit batch of group config to {broker} success, please check the result later."),
        "{out}"
    );
    let conf = until(
        "the listed group's config",
        &["admin", "getConsumerConfig", "-n", &ns, "-g", "AdminListGroupB"],
        |o| o.contains("retryMaxTimes"),
    )
    .await;
    let field = |name: &str| {
        conf.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split("=  ").nth(1).unwrap_or("").trim().to_owned())
    };
    assert_eq!(field("retryMaxTimes").as_deref(), Some("3"), "{conf}");
    assert_eq!(field("consumeBroadcastEnable").as_deref(), Some("true"), "{conf}");

    // cold-read flow control: the per-group thresholds, shown with the broker's defaults
    let cold = common::ok(&[
        "admin",
        "getColdDataFlowCtrInfo",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
    ]);
    assert!(
        cold.contains(&format!(" ============Master: {broker}============")),
        "{cold}"
    );
    for key in [
        "\"configTable\":{}",
        "\"runtimeTable\"",
        "\"globalAcc\"",
        "\"cgColdReadThreshold\":3145728",
        "\"globalColdReadThreshold\":104857600",
    ] {
        assert!(cold.contains(key), "{key} missing: {cold}");
    }
    let up = common::ok(&[
        "admin",
        "updateColdDataFlowCtrGroupConfig",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-g",
        "AdminColdGroup",
        "-v",
        "1000",
    ]);
    assert_eq!(
        up.trim(),
        format!("updateColdDataFlowCtrGroupConfig success, {broker}"),
        "{up}"
    );
    let set = common::ok(&["admin", "getColdDataFlowCtrInfo", "-n", &ns, "-b", &broker]);
    assert!(
        set.contains(&format!(" ============{broker}============")),
        "{set}"
    );
    let compact: String = set.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        compact.contains("\"configTable\":{\"AdminColdGroup\":1000}"),
        "{set}"
    );
    let rm = common::ok(&[
        "admin",
        "removeColdDataFlowCtrGroupConfig",
        "-n",
        &ns,
        "-b",
        &broker,
        "-g",
        "AdminColdGroup",
    ]);
    assert_eq!(
        rm.trim(),
        format!("remove broker cold read threshold success, {broker}"),
        "{rm}"
    );
    let after = common::ok(&["admin", "getColdDataFlowCtrInfo", "-n", &ns, "-b", &broker]);
    assert!(after.contains("\"configTable\":{}"), "{after}");

    // allocateMQ: queue 0 to the first client, queue 1 to the second
    let out = common::ok(&[
        "admin",
        "allocateMQ",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-i",
        "10.0.0.1,10.0.0.2",
    ]);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for (ip, qid) in [("10.0.0.1", 0), ("10.0.0.2", 1)] {
        let queues = json["result"][ip].as_array().unwrap_or_else(|| panic!("{out}"));
        assert_eq!(queues.len(), 1, "{out}");
        assert_eq!(queues[0]["queueId"], qid, "{out}");
        assert_eq!(queues[0]["brokerName"], "broker-a", "{out}");
        assert_eq!(queues[0]["topic"], TOPIC, "{out}");
    }

    // checkMsgSendRT: a line per send, round the two queues, and the average
    let out = common::ok(&[
        "admin",
        "checkMsgSendRT",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-a",
        "3",
        "-s",
        "16",
    ]);
    assert!(
        out.contains("#Broker Name") && out.contains("#Send Result") && out.contains("#RT"),
        "{out}"
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("broker-a"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[1], (i % 2).to_string(), "{out}");
        assert_eq!(row[2], "true", "{out}");
    }
    assert!(out.lines().any(|l| l.starts_with("Avg RT: ")), "{out}");

    // sendMsgStatus: the topic named after the broker
    let out = common::ok(&[
        "admin",
        "sendMsgStatus",
        "-n",
        &ns,
        "-b",
        "broker-a",
        "-s",
        "16",
        "-c",
        "2",
    ]);
    let sent: Vec<&str> = out.lines().filter(|l| l.starts_with("rt=")).collect();
    assert_eq!(sent.len(), 2, "{out}");
    assert!(
        sent.iter()
            .all(|l| l.contains("SendResult=") && l.contains("SEND_OK")),
        "{out}"
    );

    // queryMsgTraceById: a trace message as a traced client writes it (TraceDataEncoder's
    // records, keyed by the message ids), with one Pub and one SubAfter record of MID1 and a Pub
    // of another message
    const TRACE_TOPIC: &str = "CliTraceTopic";
    common::ok(&[
        "admin",
        "updateTopic",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        TRACE_TOPIC,
        "-r",
        "1",
        "-w",
        "1",
    ]);
    let pub1 = "Pub\u{1}1700000000000\u{1}DefaultRegion\u{1}TracedProducer\u{1}T\u{1}MID1\u{1}TagA\u{1}k1\u{1}127.0.0.1:10911\u{1}5\u{1}3\u{1}0\u{1}OFF1\u{1}true\u{1}10.0.0.9";
    let sub1 = "SubAfter\u{1}req1\u{1}MID1\u{1}7\u{1}false\u{1}k1\u{1}0\u{1}1700000001000\u{1}TracedConsumer";
    let pub2 = "Pub\u{1}1700000000000\u{1}DefaultRegion\u{1}OtherProducer\u{1}T\u{1}MID2\u{1}TagA\u{1}k2\u{1}127.0.0.1:10911\u{1}5\u{1}3\u{1}0\u{1}OFF2\u{1}true";
    let producer = Producer::new("TraceWriter", client_config(&ns, "trace"));
    producer.start().await.unwrap();
    for (body, keys) in [
        (format!("{pub1}\u{2}{sub1}\u{2}"), "MID1 OFF1"),
        (format!("{pub2}\u{2}"), "MID2 OFF2"),
    ] {
        let msg = Message::new(TRACE_TOPIC, body.into_bytes()).with_keys(keys);
        producer.send(msg).await.unwrap();
    }
    producer.shutdown().await;
    let trace = |id: &'static str| {
        let ns = ns.clone();
        async move {
            until(
                "the trace's index entries",
                &[
                    "admin",
                    "queryMsgTraceById",
                    "-n",
                    &ns,
                    "-i",
                    id,
                    "-t",
                    TRACE_TOPIC,
                ],
                |o| o.contains("#Type"),
            )
            .await
        }
    };
    let out = trace("MID1").await;
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with("#Type      #ProducerGroup       #ClientHost"),
        "{out}"
    );
    let pub_cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(pub_cols[..2], ["Pub", "TracedProducer"], "{out}");
    assert_eq!(
        pub_cols[3..],
        ["2023-11-14", "22:13:20", "3ms", "success"],
        "{out}"
    );
    assert!(lines[2].starts_with("#Type      #ConsumerGroup"), "{out}");
    let sub_cols: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(sub_cols[..2], ["Sub", "TracedConsumer"], "{out}");
    assert_eq!(
        sub_cols[3..],
        ["2023-11-14", "22:13:21", "7ms", "failed"],
        "{out}"
    );
    let out = trace("MID2").await;
    assert!(
        out.contains("OtherProducer") && !out.contains("TracedProducer"),
        "{out}"
    );
    // no trace of a message no record names
    let out = common::text(&common::rmq(&[
        "admin",
        "queryMsgTraceById",
        "-n",
        &ns,
        "-i",
        "MID3",
        "-t",
        TRACE_TOPIC,
    ]));
    assert!(!out.contains("#Type"), "{out}");

    // clusterRT: a line per broker of the cluster, every send acknowledged; then the tlog form
    let rt = |extra: &[&str]| {
        let mut args = vec!["admin", "clusterRT", "-n", &ns, "-a", "3", "-s", "16", "-i", "0"];
        args.extend_from_slice(extra);
        common::ok(&args)
    };
    let out = rt(&["--rounds", "2"]);
    assert!(out.starts_with("#Cluster Name"), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("DefaultCluster"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "one line per round: {out}");
    for row in &rows {
        assert_eq!(row[1], "broker-a", "{out}");
        assert!(row[2].parse::<f64>().is_ok(), "{out}");
        assert_eq!((row[3], row[4]), ("3", "0"), "{out}");
    }
    let out = rt(&[
        "-c",
        "DefaultCluster",
        "-p",
        "true",
        "-m",
        "room1",
        "--rounds",
        "1",
    ]);
    let fields: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(fields.len(), 5, "{out}");
    assert_eq!(&fields[1..4], ["room1", "DefaultCluster", "broker-a"], "{out}");
    assert!(fields[4].parse::<u64>().is_ok(), "{out}");
    let out = rt(&["-c", "NoSuchCluster", "--rounds", "1"]);
    assert!(out.contains("cluster [NoSuchCluster] not exist"), "{out}");
}
