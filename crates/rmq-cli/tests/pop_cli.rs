//! `rmq admin setConsumeMode` and `rmq consume --pop` against `rmq namesrv` / `rmq broker`
//! processes (docs/broker/pop.md): the mode set is what QUERY_ASSIGNMENT and
//! GET_ALL_MESSAGE_REQUEST_MODE answer, and a POP consumer prints what it receives the way
//! `rmq consume` does.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use common::{ok, rmq, text};
use rmq_protocol::body::pop::{QueryAssignmentRequestBody, QueryAssignmentResponseBody};
use rmq_protocol::body::{self, MessageQueue};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "PopCliTopic";
const GROUP: &str = "PopCliGroup";

async fn assignment(client: &RemotingClient, broker: &str) -> Vec<(MessageQueue, String)> {
    let q = QueryAssignmentRequestBody {
        client_id: "cli-test".into(),
        consumer_group: GROUP.into(),
        message_model: "CLUSTERING".into(),
        strategy_name: "AVG".into(),
        topic: TOPIC.into(),
    };
    let req = RemotingCommand::request(request_code::QUERY_ASSIGNMENT).with_body(body::to_json(&q));
    let resp = common::invoke(client, broker, req).await;
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    let got: QueryAssignmentResponseBody = body::from_fastjson(&resp.body).unwrap();
    got.message_queue_assignments
        .into_iter()
        .map(|a| (a.message_queue, a.mode))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_consume_mode_then_consume_by_pop() {
    let dir = common::temp_dir();
    let (_ns, ns) = common::namesrv(dir.path());
    let (_broker, broker) = common::broker(dir.path(), &ns, "");
    let client = RemotingClient::new();
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

    let out = ok(&[
        "admin",
        "setConsumeMode",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        TOPIC,
        "-g",
        GROUP,
        "-m",
        "POP",
    ]);
    assert!(
        out.contains(&format!("set consume mode to {broker} success."))
            && out.contains("consume mode[POP] popShareQueueNum[0]"),
        "{out}"
    );
    // popShareQueueNum 0: every client pops from every queue (queue -1).
    assert_eq!(
        assignment(&client, &broker).await,
        vec![(MessageQueue::new(TOPIC, "broker-a", -1), "POP".to_string())]
    );

    // -c: every master of the cluster.
    let out = ok(&[
        "admin",
        "setConsumeMode",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-t",
        TOPIC,
        "-g",
        GROUP,
        "-m",
        "PULL",
        "-q",
        "2",
    ]);
    assert!(out.contains("consume mode[PULL] popShareQueueNum[2]"), "{out}");
    let req = RemotingCommand::request(request_code::GET_ALL_MESSAGE_REQUEST_MODE);
    let modes = common::invoke(&client, &broker, req).await;
    let modes: serde_json::Value = serde_json::from_slice(&modes.body).unwrap();
    let stored = &modes["messageRequestModeMap"][TOPIC][GROUP];
    assert_eq!(
        (stored["mode"].as_str(), stored["popShareQueueNum"].as_i64()),
        (Some("PULL"), Some(2)),
        "{modes}"
    );

    let bad = rmq(&[
        "admin",
        "setConsumeMode",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        TOPIC,
        "-g",
        GROUP,
        "-m",
        "PUSH",
    ]);
    assert!(!bad.status.success(), "{}", text(&bad));
    let missing = rmq(&[
        "admin",
        "setConsumeMode",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-g",
        GROUP,
        "-m",
        "POP",
    ]);
    assert!(
        text(&missing).contains("needs -b brokerAddr or -c clusterName"),
        "{}",
        text(&missing)
    );

    // rmq consume --pop: receive, print as `rmq consume` does, ack; exits after --count.
    ok(&["produce", "-n", &ns, "-t", TOPIC, "-c", "5"]);
    let out = ok(&[
        "consume", "-n", &ns, "-t", TOPIC, "-g", GROUP, "--pop", "--count", "5",
    ]);
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Receive New Messages: [MessageExt [queueId="))
        .collect();
    assert_eq!(lines.len(), 5, "{out}");
    for i in 0..5 {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("body=Hello RocketMQ {i}, "))),
            "{out}"
        );
    }
    assert!(out.contains("Consumer Started."), "{out}");
}
