//! CHECK_CLIENT_CONFIG (46) validates SQL92 subscriptions at subscribe time.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use common::*;
use rmq_broker::Broker;
use rmq_protocol::body::{self, CheckClientRequestBody, SubscriptionData};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

async fn check(client: &RemotingClient, addr: &str, ty: &str, expr: &str) -> (i32, String) {
    let b = CheckClientRequestBody {
        client_id: "c".into(),
        group: "g".into(),
        subscription_data: SubscriptionData {
            topic: TOPIC.into(),
            expression_type: ty.into(),
            sub_string: expr.into(),
            ..Default::default()
        },
    };
    let req = RemotingCommand::request(rc::CHECK_CLIENT_CONFIG).with_body(body::to_json(&b));
    let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
    (resp.code, resp.remark.unwrap_or_default())
}

#[tokio::test]
async fn sql92_subscriptions_are_compiled_when_property_filter_is_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.enable_property_filter = true;
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    assert_eq!(check(&client, &a, "TAG", "TagA || TagB").await.0, code::SUCCESS);
    assert_eq!(
        check(&client, &a, "SQL92", "a BETWEEN 3 AND 7 AND color = 'red'")
            .await
            .0,
        code::SUCCESS
    );
    let (c, remark) = check(&client, &a, "SQL92", "a != 3").await;
    assert_eq!(c, code::SUBSCRIPTION_PARSE_FAILED);
    assert!(remark.contains("column 3"), "{remark}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sql92_is_refused_when_property_filter_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    assert_eq!(check(&client, &a, "TAG", "*").await.0, code::SUCCESS);
    let (c, remark) = check(&client, &a, "SQL92", "a > 1").await;
    assert_eq!(c, code::SYSTEM_ERROR);
    assert_eq!(
        remark,
        "The broker does not support consumer to filter message by SQL92"
    );
    broker.shutdown().await.unwrap();
}

/// `MessageSelector.bySql("a BETWEEN 3 AND 7 AND color = 'red'")`: a pull returns exactly the
/// matching messages, and a pull over only non-matching ones moves past them.
#[tokio::test]
async fn sql92_pull_returns_exactly_the_matching_messages() {
    use rmq_protocol::header::{PullMessageRequestHeader, SendMessageRequestHeader};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.enable_property_filter = true;
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let topic = "SqlTopic";
    let colors = ["red", "blue"];
    let mut expected = Vec::new();
    for i in 0..20 {
        let color = colors[i % 2];
        let value = i % 10;
        let props = format!("a\u{1}{value}\u{2}color\u{1}{color}\u{2}TAGS\u{1}T");
        if (3..=7).contains(&value) && color == "red" {
            expected.push(format!("m{i}"));
        }
        let header = SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: topic.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 1,
            queue_id: 0,
            properties: Some(props),
            ..Default::default()
        };
        let mut req = RemotingCommand::request(rc::SEND_MESSAGE_V2).with_body(format!("m{i}"));
        header.encode_v2(&mut req.ext_fields);
        let resp = client.invoke(&a, req, TIMEOUT).await.unwrap();
        assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    }
    assert!(!expected.is_empty());
    let pull = |offset: i64, expr: &str| PullMessageRequestHeader {
        consumer_group: "SqlGroup".into(),
        topic: topic.into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: 0x4, // SUBSCRIPTION
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some(expr.to_string()),
        sub_version: 0,
        expression_type: Some("SQL92".into()),
        ..Default::default()
    };
    let req = RemotingCommand::request(rc::PULL_MESSAGE)
        .with_header(&pull(0, "a BETWEEN 3 AND 7 AND color = 'red'"));
    let resp = client.invoke(&a, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let got: Vec<String> = rmq_protocol::message::decode_messages(&resp.body)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(resp.ext("nextBeginOffset"), Some("20"));

    let req = RemotingCommand::request(rc::PULL_MESSAGE).with_header(&pull(0, "color = 'green'"));
    let resp = client.invoke(&a, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::PULL_RETRY_IMMEDIATELY);
    assert_eq!(resp.ext("nextBeginOffset"), Some("20"));

    let req = RemotingCommand::request(rc::PULL_MESSAGE).with_header(&pull(0, "a BETWEEN"));
    let resp = client.invoke(&a, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::SUBSCRIPTION_PARSE_FAILED);
    broker.shutdown().await.unwrap();
}
