//! ACL 2.0 in a running broker (docs/broker/acl.md#acl-20): authentication and authorization of
//! signed requests over real sockets, the AUTH_* admin codes, persistence across a restart, and
//! migration of plain_acl.yml accounts.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{addr, send_request, TIMEOUT};
use rmq_acl::sign::{self, Credentials};
use rmq_broker::{Broker, BrokerConfig};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

fn config(dir: &Path) -> BrokerConfig {
    let mut c = common::config(dir);
    c.broker_cluster_name = "AuthCluster".into();
    c.auto_create_topic_enable = false;
    let props: HashMap<String, String> = [
        ("authenticationEnabled", "true"),
        ("authorizationEnabled", "true"),
        (
            "initAuthenticationUser",
            r#"{"username":"root","password":"root-pass"}"#,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert!(c.apply(&props).is_empty());
    c
}

fn signed(mut req: RemotingCommand, user: &str, pass: &str) -> RemotingCommand {
    sign::sign_fields(
        &mut req.ext_fields,
        &req.body.clone(),
        &Credentials::new(user, pass),
    );
    req
}

fn with(code: i32, fields: &[(&str, &str)], body: &str) -> RemotingCommand {
    let mut req = RemotingCommand::request(code).with_body(body.as_bytes().to_vec());
    for (k, v) in fields {
        req.ext_fields.insert(k.to_string(), v.to_string());
    }
    req
}

fn send(topic: &str) -> RemotingCommand {
    send_request(topic, "AUTH0001", b"hi")
}

async fn call(client: &RemotingClient, a: &str, req: RemotingCommand) -> RemotingCommand {
    client.invoke(a, req, TIMEOUT).await.unwrap()
}

async fn ok(client: &RemotingClient, a: &str, req: RemotingCommand) -> RemotingCommand {
    let resp = call(client, a, req).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    resp
}

const TOPIC_FIELDS: [(&str, &str); 7] = [
    ("topic", "orders"),
    ("defaultTopic", "TBW102"),
    ("readQueueNums", "4"),
    ("writeQueueNums", "4"),
    ("perm", "6"),
    ("topicFilterType", "SINGLE_TAG"),
    ("order", "false"),
];

#[tokio::test]
async fn users_and_policies_decide_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let root = |req| signed(req, "root", "root-pass");
    let alice = |req| signed(req, "alice", "alice-pass");

    let resp = call(&client, &a, send("orders")).await;
    assert_eq!(
        (resp.code, resp.remark.as_deref()),
        (code::NO_PERMISSION, Some("username cannot be null."))
    );

    ok(
        &client,
        &a,
        root(with(rc::UPDATE_AND_CREATE_TOPIC, &TOPIC_FIELDS, "")),
    )
    .await;
    ok(
        &client,
        &a,
        root(with(
            rc::AUTH_CREATE_USER,
            &[("username", "alice")],
            r#"{"password":"alice-pass"}"#,
        )),
    )
    .await;
    // No ACL yet: a normal user may do nothing that names a resource.
    let resp = call(&client, &a, alice(send("orders"))).await;
    assert_eq!(resp.code, code::NO_PERMISSION);
    assert_eq!(
        resp.remark.as_deref(),
        Some("User:alice has no permission to access Topic:orders from 127.0.0.1, no matched policies.")
    );
    let acl = r#"{"subject":"User:alice","policies":[{"policyType":"Custom","entries":[
        {"resource":"Topic:orders","actions":["Pub"],"decision":"Allow"},
        {"resource":"Topic:ord*","actions":["Pub","Sub"],"decision":"Deny"}]}]}"#;
    ok(
        &client,
        &a,
        root(with(rc::AUTH_CREATE_ACL, &[("subject", "User:alice")], acl)),
    )
    .await;
    ok(&client, &a, alice(send("orders"))).await;
    let resp = call(&client, &a, alice(send("ordinal"))).await;
    assert!(resp.remark.unwrap().ends_with("the decision is deny."));
    // A normal user cannot administer (Cluster:AuthCluster Update), and a wrong password fails.
    let resp = call(
        &client,
        &a,
        alice(with(
            rc::AUTH_CREATE_USER,
            &[("username", "eve")],
            r#"{"password":"x"}"#,
        )),
    )
    .await;
    assert!(resp.remark.unwrap().contains("Cluster:AuthCluster"));
    let resp = call(&client, &a, signed(send("orders"), "alice", "guess")).await;
    assert_eq!(resp.remark.as_deref(), Some("check signature failed."));

    // Reads of the metadata.
    let user = ok(
        &client,
        &a,
        root(with(rc::AUTH_GET_USER, &[("username", "alice")], "")),
    )
    .await;
    let user: serde_json::Value = serde_json::from_slice(&user.body).unwrap();
    assert_eq!(user["userType"], "Normal");
    let list = ok(
        &client,
        &a,
        root(with(rc::AUTH_LIST_ACL, &[("resourceFilter", "ord*")], "")),
    )
    .await;
    let list: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    assert_eq!(list[0]["policies"][0]["entries"].as_array().unwrap().len(), 1);

    // Restart on the same store: users and ACLs are still there.
    broker.shutdown().await.unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    ok(&client, &a, alice(send("orders"))).await;

    // Deleting the Allow entry leaves the prefixed Deny deciding.
    ok(
        &client,
        &a,
        root(with(
            rc::AUTH_DELETE_ACL,
            &[("subject", "User:alice"), ("resource", "Topic:orders")],
            "",
        )),
    )
    .await;
    let resp = call(&client, &a, alice(send("orders"))).await;
    assert!(resp.remark.unwrap().ends_with("the decision is deny."));
    // A disabled user is refused at authentication.
    ok(
        &client,
        &a,
        root(with(
            rc::AUTH_UPDATE_USER,
            &[("username", "alice")],
            r#"{"userStatus":"disable"}"#,
        )),
    )
    .await;
    let resp = call(&client, &a, alice(send("orders"))).await;
    assert_eq!(resp.remark.as_deref(), Some("User:alice is disabled."));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn plain_acl_accounts_migrate_to_users() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("conf")).unwrap();
    std::fs::write(
        home.path().join("conf/plain_acl.yml"),
        "accounts:\n  - accessKey: legacy01\n    secretKey: legacy-secret\n    defaultTopicPerm: DENY\n    topicPerms: [orders=PUB]\n",
    )
    .unwrap();
    let mut c = config(dir.path());
    c.rocketmq_home = Some(home.path().to_path_buf());
    c.auth.migrate_from_v1 = true;
    let broker = Broker::start(c).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    ok(
        &client,
        &a,
        signed(
            with(rc::UPDATE_AND_CREATE_TOPIC, &TOPIC_FIELDS, ""),
            "root",
            "root-pass",
        ),
    )
    .await;
    ok(&client, &a, signed(send("orders"), "legacy01", "legacy-secret")).await;
    let resp = call(&client, &a, signed(send("other"), "legacy01", "legacy-secret")).await;
    assert!(resp.remark.unwrap().ends_with("the decision is deny."));
}
