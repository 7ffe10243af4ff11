//! GET_BROKER_CONFIG / UPDATE_BROKER_CONFIG over a real socket: the keys and their values, an
//! update that takes effect at once (`brokerPermission`, `autoCreateTopicEnable`), one that only
//! persists, the 5.x black list, and the config file rewritten in place.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;

use common::*;
use rmq_broker::Broker;
use rmq_protocol::body::properties;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

fn send(topic: &str) -> RemotingCommand {
    send_request(topic, "CFG0001", b"hi")
}

fn update(text: &str) -> RemotingCommand {
    RemotingCommand::request(rc::UPDATE_BROKER_CONFIG).with_body(text.as_bytes().to_vec())
}

async fn get(client: &RemotingClient, addr: &str) -> (HashMap<String, String>, i64) {
    let resp = client
        .invoke(addr, RemotingCommand::request(rc::GET_BROKER_CONFIG), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let version: serde_json::Value = serde_json::from_str(&resp.ext_fields["version"]).unwrap();
    (
        properties::parse(std::str::from_utf8(&resp.body).unwrap()),
        version["counter"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_update_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("broker.conf");
    std::fs::write(
        &conf,
        "# operators' notes stay\nbrokerName=broker-test\nfileReservedTime=72\n",
    )
    .unwrap();
    let mut c = config(dir.path());
    c.config_path = Some(conf.clone());
    let broker = Broker::start(c).await.unwrap();
    let addr = addr(&broker);
    let client = RemotingClient::new();
    let call = |req| {
        let client = &client;
        let addr = &addr;
        async move { client.invoke(addr, req, TIMEOUT).await.unwrap() }
    };

    let (before, v0) = get(&client, &addr).await;
    assert_eq!(before["brokerName"], "broker-test");
    assert_eq!(before["brokerPermission"], "6");
    assert_eq!(before["autoCreateTopicEnable"], "true");
    assert_eq!(before["flushDiskType"], "ASYNC_FLUSH");
    assert_eq!(before["brokerConfigPath"], conf.display().to_string());
    assert_eq!(call(send("Created")).await.code, code::SUCCESS);

    // write-protect the broker, stop auto-creation, change a key read at start only, and one
    // rmq does not read
    let r = call(update(
        "brokerPermission=4\nautoCreateTopicEnable=false\nfileReservedTime=96\nuseReentrantLockWhenPutMessage=true\n",
    ))
    .await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let (after, v1) = get(&client, &addr).await;
    assert_eq!(v1, v0 + 1);
    assert_eq!(after["brokerPermission"], "4");
    assert_eq!(after["autoCreateTopicEnable"], "false");
    assert_eq!(after["fileReservedTime"], "96");
    assert_eq!(after["useReentrantLockWhenPutMessage"], "true");
    let refused = call(send("Created")).await;
    assert_eq!(refused.code, code::NO_PERMISSION, "{:?}", refused.remark);
    assert!(
        refused.remark.as_deref().unwrap().contains("forbidden"),
        "{:?}",
        refused.remark
    );

    // writable again: the existing topic takes sends, a new one is no longer created
    assert_eq!(call(update("brokerPermission=6")).await.code, code::SUCCESS);
    assert_eq!(call(send("Created")).await.code, code::SUCCESS);
    let not_created = call(send("NotCreated")).await;
    assert_eq!(
        not_created.code,
        code::TOPIC_NOT_EXIST,
        "{:?}",
        not_created.remark
    );

    // 5.x black list: nothing applied
    let r = call(update("brokerConfigPath=/etc/passwd\nbrokerPermission=2")).await;
    assert_eq!(r.code, code::NO_PERMISSION);
    assert_eq!(r.remark.as_deref(), Some("Can not update config in black list."));
    let (now, v2) = get(&client, &addr).await;
    assert_eq!(v2, v1 + 1, "the refused update bumps nothing");
    assert_eq!(now["brokerPermission"], "6");

    // the file: updated in place, the comment and the other keys kept
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with("# operators' notes stay\nbrokerName=broker-test\nfileReservedTime=96\n"),
        "{text}"
    );
    let written = properties::parse(&text);
    assert_eq!(written["brokerPermission"], "6");
    assert_eq!(written["autoCreateTopicEnable"], "false");
    assert_eq!(written["useReentrantLockWhenPutMessage"], "true");
    assert!(!written.contains_key("brokerConfigPath"));
    broker.shutdown().await.unwrap();
}
