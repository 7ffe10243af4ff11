//! ACL 1.0 in a running broker (docs/broker/acl.md): signed requests over real sockets, refusals
//! with NO_PERMISSION that change nothing and keep the connection serving, hot reload of
//! plain_acl.yml, a broken file keeping the last good rules, and the management codes.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use std::path::Path;
use std::time::Duration;

use common::wait::wait_until_async;
use common::{addr, TIMEOUT};
use rmq_acl::sign::{self, Credentials};
use rmq_broker::acl::Reload;
use rmq_broker::Broker;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::SendMessageRequestHeader;
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "aclTopic";

const RULES: &str = r#"
globalWhiteRemoteAddresses:
  - 10.255.255.*
accounts:
  - accessKey: producer1
    secretKey: producer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - aclTopic=PUB
  - accessKey: consumer1
    secretKey: consumer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - aclTopic=SUB
    groupPerms:
      - aclGroup=SUB
  - accessKey: adminuser
    secretKey: admin-secret
    admin: true
"#;

fn write_rules(home: &Path, text: &str) {
    std::fs::create_dir_all(home.join("conf")).unwrap();
    let tmp = home.join("conf/plain_acl.yml.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, home.join("conf/plain_acl.yml")).unwrap();
}

async fn start(dir: &Path, home: &Path) -> Broker {
    let mut c = common::config(dir);
    c.acl_enable = true;
    c.rocketmq_home = Some(home.to_path_buf());
    c.auto_create_topic_enable = false;
    Broker::start(c).await.unwrap()
}

fn send_request(topic: &str) -> RemotingCommand {
    let h = SendMessageRequestHeader {
        producer_group: "aclProducer".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 0,
        born_timestamp: 1,
        properties: Some(message::encode_properties(&[("UNIQ_KEY", "ACL0001")])),
        ..Default::default()
    };
    RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&h)
        .with_body(b"hello".to_vec())
}

fn signed(mut req: RemotingCommand, ak: &str, sk: &str) -> RemotingCommand {
    sign::sign_fields(&mut req.ext_fields, &req.body.clone(), &Credentials::new(ak, sk));
    req
}

async fn call(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    client.invoke(addr, req, TIMEOUT).await.unwrap()
}

async fn create_topic(client: &RemotingClient, addr: &str, topic: &str) {
    let mut req = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC);
    for (k, v) in [
        ("topic", topic),
        ("defaultTopic", "TBW102"),
        ("readQueueNums", "4"),
        ("writeQueueNums", "4"),
        ("perm", "6"),
        ("topicFilterType", "SINGLE_TAG"),
        ("order", "false"),
    ] {
        req.ext_fields.insert(k.into(), v.into());
    }
    let resp = call(client, addr, signed(req, "adminuser", "admin-secret")).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
}

#[tokio::test]
async fn signed_requests_are_checked_per_account_and_topic() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_rules(home.path(), RULES);
    let broker = start(dir.path(), home.path()).await;
    let a = addr(&broker);
    let client = RemotingClient::new();
    create_topic(&client, &a, TOPIC).await;

    let sent = call(
        &client,
        &a,
        signed(send_request(TOPIC), "producer1", "producer-secret"),
    )
    .await;
    assert_eq!(sent.code, code::SUCCESS, "{:?}", sent.remark);

    let cases = [
        (send_request(TOPIC), "No accessKey is configured"),
        (
            signed(send_request(TOPIC), "consumer1", "consumer-secret"),
            "No permission for topic:aclTopic",
        ),
        (
            signed(send_request(TOPIC), "producer1", "wrong-secret"),
            "Check signature failed for accessKey=producer1",
        ),
        (
            signed(send_request(TOPIC), "stranger1", "producer-secret"),
            "No acl config for stranger1",
        ),
        (
            signed(send_request("otherTopic"), "producer1", "producer-secret"),
            "No default permission for topic:otherTopic",
        ),
    ];
    for (req, reason) in cases {
        let resp = call(&client, &a, req).await;
        assert_eq!(resp.code, code::NO_PERMISSION, "{reason}");
        assert_eq!(resp.remark.as_deref(), Some(reason));
        assert!(
            !resp.remark.unwrap().contains("secret"),
            "the remark never carries a secret"
        );
    }

    // Replayed with another topic: the signature no longer covers it.
    let mut replay = signed(send_request(TOPIC), "producer1", "producer-secret");
    replay.ext_fields.insert("topic".into(), "otherTopic".into());
    let resp = call(&client, &a, replay).await;
    assert_eq!(resp.code, code::NO_PERMISSION);

    // Nothing the refusals touched changed: one message in the topic, and the same connection
    // still serves the allowed request.
    let again = call(
        &client,
        &a,
        signed(send_request(TOPIC), "producer1", "producer-secret"),
    )
    .await;
    assert_eq!(again.code, code::SUCCESS);
    assert_eq!(broker.state().store.max_offset_in_queue(TOPIC, 0), 2);

    // A non-admin account cannot create topics.
    let mut create = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC);
    create.ext_fields.insert("topic".into(), "sneaky".into());
    let resp = call(&client, &a, signed(create, "producer1", "producer-secret")).await;
    assert_eq!(resp.code, code::NO_PERMISSION);
    assert!(broker.state().topics.get("sneaky").is_none());
}

#[tokio::test]
async fn a_changed_file_takes_effect_and_a_broken_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_rules(home.path(), RULES);
    let broker = start(dir.path(), home.path()).await;
    let a = addr(&broker);
    let client = RemotingClient::new();
    create_topic(&client, &a, TOPIC).await;
    let consumer_send = || signed(send_request(TOPIC), "consumer1", "consumer-secret");
    assert_eq!(call(&client, &a, consumer_send()).await.code, code::NO_PERMISSION);

    // Grant consumer1 PUB: the watcher picks it up within seconds.
    write_rules(
        home.path(),
        &RULES.replace("      - aclTopic=SUB", "      - aclTopic=PUB|SUB"),
    );
    wait_until_async(
        "the watcher reloads plain_acl.yml",
        Duration::from_secs(10),
        || async { call(&client, &a, consumer_send()).await.code == code::SUCCESS },
    )
    .await;

    // A broken file: the last good rules stay (checked by reloading directly, no waiting).
    write_rules(home.path(), "accounts: [ {accessKey: x");
    let acl = broker.state().acl.as_ref().unwrap();
    assert!(matches!(acl.reload(), Reload::Kept(_)));
    assert_eq!(call(&client, &a, consumer_send()).await.code, code::SUCCESS);
    assert_eq!(
        call(
            &client,
            &a,
            signed(send_request(TOPIC), "producer1", "producer-secret")
        )
        .await
        .code,
        code::SUCCESS
    );
    // A file that parses but does not compile (a 3-character key) is kept out the same way.
    write_rules(
        home.path(),
        "accounts: [ {accessKey: abc, secretKey: 12345678, admin: true} ]",
    );
    assert!(matches!(acl.reload(), Reload::Kept(_)));
    assert_eq!(call(&client, &a, consumer_send()).await.code, code::SUCCESS);
}

#[tokio::test]
async fn management_codes_edit_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    write_rules(home.path(), RULES);
    let broker = start(dir.path(), home.path()).await;
    let a = addr(&broker);
    let client = RemotingClient::new();
    create_topic(&client, &a, TOPIC).await;

    let mut add = RemotingCommand::request(rc::UPDATE_AND_CREATE_ACL_CONFIG);
    for (k, v) in [
        ("accessKey", "newuser1"),
        ("secretKey", "newuser-secret"),
        ("defaultTopicPerm", "DENY"),
        ("topicPerms", "aclTopic=PUB,other=SUB"),
        ("admin", "false"),
    ] {
        add.ext_fields.insert(k.into(), v.into());
    }
    // Only an admin may.
    let resp = call(&client, &a, signed(add.clone(), "producer1", "producer-secret")).await;
    assert_eq!(resp.code, code::NO_PERMISSION);
    let resp = call(&client, &a, signed(add, "adminuser", "admin-secret")).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let sent = call(
        &client,
        &a,
        signed(send_request(TOPIC), "newuser1", "newuser-secret"),
    )
    .await;
    assert_eq!(sent.code, code::SUCCESS, "{:?}", sent.remark);
    let text = std::fs::read_to_string(home.path().join("conf/plain_acl.yml")).unwrap();
    assert!(text.contains("newuser1") && text.contains("counter: 1"), "{text}");

    // A bad permission is refused with the FAILED code, and the file keeps its accounts.
    let mut bad = RemotingCommand::request(rc::UPDATE_AND_CREATE_ACL_CONFIG);
    for (k, v) in [
        ("accessKey", "baduser1"),
        ("secretKey", "baduser-secret"),
        ("topicPerms", "t=WRITE"),
    ] {
        bad.ext_fields.insert(k.into(), v.into());
    }
    let resp = call(&client, &a, signed(bad, "adminuser", "admin-secret")).await;
    assert_eq!(resp.code, code::UPDATE_AND_CREATE_ACL_CONFIG_FAILED);

    let info = call(
        &client,
        &a,
        signed(
            RemotingCommand::request(rc::GET_BROKER_CLUSTER_ACL_INFO),
            "adminuser",
            "admin-secret",
        ),
    )
    .await;
    assert_eq!(info.code, code::SUCCESS);
    // JSON, as Java's `DataVersion.toJson()` (the 5.x tools parse it)
    let version: serde_json::Value = serde_json::from_str(info.ext("version").unwrap()).unwrap();
    assert_eq!(version["counter"], 1, "{version}");
    assert!(version["timestamp"].as_i64().unwrap() > 0, "{version}");
    assert!(info.ext("allAclFileVersion").unwrap().contains("plain_acl.yml"));
    assert_eq!(info.ext("brokerName"), Some("broker-test"));

    let mut del = RemotingCommand::request(rc::DELETE_ACL_CONFIG);
    del.ext_fields.insert("accessKey".into(), "newuser1".into());
    let resp = call(&client, &a, signed(del, "adminuser", "admin-secret")).await;
    assert_eq!(resp.code, code::SUCCESS);
    let refused = call(
        &client,
        &a,
        signed(send_request(TOPIC), "newuser1", "newuser-secret"),
    )
    .await;
    assert_eq!(refused.remark.as_deref(), Some("No acl config for newuser1"));

    let mut white = RemotingCommand::request(rc::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG);
    white
        .ext_fields
        .insert("globalWhiteAddrs".into(), "127.0.0.1".into());
    let resp = call(&client, &a, signed(white, "adminuser", "admin-secret")).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    // Loopback is white now: unsigned requests pass.
    assert_eq!(call(&client, &a, send_request(TOPIC)).await.code, code::SUCCESS);
}
