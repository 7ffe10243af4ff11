//! CHECK_CLIENT_CONFIG (46) validates SQL92 subscriptions at subscribe time.

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
