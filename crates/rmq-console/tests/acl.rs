//! The ACL page's HTTP API (docs/console.md, `#/acl`) against a real name server and an ACL-enabled
//! broker (in-process, ephemeral ports, temp dirs), the console signing as an admin: ACL 1.0
//! accounts and white addresses listed (secrets masked), created, updated, deleted; ACL 2.0 users
//! and policies likewise; the section a broker runs without answers its state, not an error; bad
//! input is a 400 with a JSON error. Every edit is checked on the broker through the admin client.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::{http, ok, Cluster};
use rmq_client::{ClientConfig, Credentials};
use rmq_console::{Console, ConsoleConfig};
use serde_json::{json, Value};

/// A request the console must refuse with `status` and a JSON `error` containing `says`.
async fn refused(addr: SocketAddr, method: &str, path: &str, body: &str, status: u16, says: &str) {
    let (got, v, text) = http(addr, method, path, Some(body)).await;
    assert_eq!(got, status, "{method} {path} {body}: {text}");
    let error = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error: {text}"));
    assert!(
        error.contains(says),
        "{method} {path} {body}: `{error}` lacks `{says}`"
    );
}

const PLAIN_ACL: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.10.*
accounts:
  - accessKey: consoleAdmin
    secretKey: console-admin-secret
    admin: true
  - accessKey: rocketmqUser
    secretKey: rocketmq-user-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=PUB
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_1_accounts_and_white_addresses() {
    let cluster = Cluster::start(
        "broker-acl",
        Some(Credentials::new("consoleAdmin", "console-admin-secret")),
        |dir, bc| {
            let home = dir.join("home");
            std::fs::create_dir_all(home.join("conf")).unwrap();
            std::fs::write(home.join("conf/plain_acl.yml"), PLAIN_ACL).unwrap();
            bc.acl_enable = true;
            bc.rocketmq_home = Some(home);
        },
    )
    .await;
    let c = cluster.console.local_addr();
    let b = cluster.broker_addr.clone();
    let on_broker = |extra: Value| {
        let mut v = json!({ "broker": b });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Some(v)
    };

    // the broker picker
    let brokers = ok(c, "GET", "/api/acl/brokers", None).await;
    assert_eq!(brokers["clusters"], json!(["DefaultCluster"]), "{brokers}");
    assert_eq!(brokers["brokers"][0]["addr"], b.as_str(), "{brokers}");
    assert_eq!(brokers["brokers"][0]["brokerName"], "broker-acl");

    // list: the accounts with masked secrets, the white list; ACL 2.0 is off on this broker
    let (status, v1, text) = http(c, "GET", &format!("/api/acl/v1?broker={b}"), None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(v1["state"], "enabled", "{v1}");
    assert_eq!(v1["globalWhiteAddrs"], json!(["10.10.10.*"]), "{v1}");
    let accounts = v1["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{v1}");
    assert_eq!(accounts[1]["accessKey"], "rocketmqUser");
    assert_eq!(accounts[1]["secretKey"], "******");
    assert_eq!(accounts[1]["defaultGroupPerm"], "SUB");
    assert_eq!(accounts[1]["topicPerms"], json!(["topicA=PUB"]));
    assert!(
        !text.contains("-secret") && !text.contains("console-admin"),
        "a secret key left the console: {text}"
    );
    let v2 = ok(c, "GET", &format!("/api/acl/v2?broker={b}"), None).await;
    assert_eq!(v2["state"], "disabled", "{v2}");
    assert!(v2["reason"].as_str().unwrap().contains("not enabled"), "{v2}");

    // create an account, see it on the broker and in the listing
    let account = json!({
        "accessKey": "consoleUser1", "secretKey": "console-user-secret", "whiteRemoteAddress": "192.168.0.*",
        "defaultTopicPerm": "DENY", "defaultGroupPerm": "SUB", "topicPerms": ["orders=PUB", " payments=PUB|SUB "],
        "groupPerms": ["g1=SUB"],
    });
    let done = ok(c, "POST", "/api/acl/v1/accounts", on_broker(account)).await;
    assert_eq!(done["brokers"], json!([b]), "{done}");
    let find = |config: rmq_client::admin::ClusterAclConfig, ak: &str| {
        config
            .plain_access_configs
            .into_iter()
            .find(|a| a.access_key.as_deref() == Some(ak))
    };
    let created = find(cluster.admin.acl_config(&b).await.unwrap(), "consoleUser1").unwrap();
    assert_eq!(created.secret_key.as_deref(), Some("console-user-secret"));
    assert_eq!(created.white_remote_address.as_deref(), Some("192.168.0.*"));
    assert_eq!(created.topic_perms, vec!["orders=PUB", "payments=PUB|SUB"]);
    assert_eq!(created.group_perms, vec!["g1=SUB"]);
    assert!(!created.admin);
    let listed = ok(c, "GET", &format!("/api/acl/v1?broker={b}"), None).await;
    assert!(
        listed["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["accessKey"] == "consoleUser1"),
        "{listed}"
    );

    // update through the cluster, the secret left blank: the broker keeps it
    let update =
        json!({ "cluster": "DefaultCluster", "accessKey": "consoleUser1", "defaultTopicPerm": "SUB" });
    ok(c, "POST", "/api/acl/v1/accounts", Some(update)).await;
    let updated = find(cluster.admin.acl_config(&b).await.unwrap(), "consoleUser1").unwrap();
    assert_eq!(updated.secret_key.as_deref(), Some("console-user-secret"));
    assert_eq!(updated.default_topic_perm.as_deref(), Some("SUB"));
    assert!(updated.topic_perms.is_empty(), "an update replaces the account");

    // bad input: a 400 naming the problem, nothing sent
    let accounts_path = "/api/acl/v1/accounts";
    let with_broker = |v: Value| on_broker(v).unwrap().to_string();
    refused(
        c,
        "POST",
        accounts_path,
        &with_broker(json!({ "secretKey": "x1234567" })),
        400,
        "accessKey is required",
    )
    .await;
    refused(
        c,
        "POST",
        accounts_path,
        &with_broker(json!({ "accessKey": "badPerm1", "secretKey": "x1234567", "defaultTopicPerm": "READ" })),
        400,
        "defaultTopicPerm `READ`",
    )
    .await;
    refused(
        c,
        "POST",
        accounts_path,
        &with_broker(json!({ "accessKey": "badPerm1", "secretKey": "x1234567", "topicPerms": ["orders"] })),
        400,
        "topicPerms entry `orders`",
    )
    .await;
    refused(
        c,
        "POST",
        accounts_path,
        &with_broker(json!({ "accessKey": "newUser99" })),
        400,
        "secretKey is required",
    )
    .await;
    let no_target = json!({ "accessKey": "newUser99", "secretKey": "x1234567" }).to_string();
    refused(c, "POST", accounts_path, &no_target, 400, "name the broker").await;
    let elsewhere = json!({ "broker": "10.1.2.3:10911", "accessKey": "newUser99", "secretKey": "x1234567" });
    refused(
        c,
        "POST",
        accounts_path,
        &elsewhere.to_string(),
        400,
        "no broker at 10.1.2.3:10911",
    )
    .await;
    refused(c, "POST", accounts_path, "{not json", 400, "bad request body").await;
    // the broker's own rule (keys longer than 6): its refusal comes back as a 400
    refused(
        c,
        "POST",
        accounts_path,
        &with_broker(json!({ "accessKey": "short", "secretKey": "x1234567" })),
        400,
        "longer than 6",
    )
    .await;
    refused(c, "GET", "/api/acl/v1", "", 400, "name a broker").await;
    assert!(find(cluster.admin.acl_config(&b).await.unwrap(), "newUser99").is_none());

    // the global white list: replaced, checked, refused when a pattern is bad
    let white = json!({ "addrs": ["10.10.10.*", "192.168.1.1"] });
    ok(c, "POST", "/api/acl/v1/white-addrs", on_broker(white)).await;
    let config = cluster.admin.acl_config(&b).await.unwrap();
    assert_eq!(config.global_white_addrs, vec!["10.10.10.*", "192.168.1.1"]);
    refused(
        c,
        "POST",
        "/api/acl/v1/white-addrs",
        &with_broker(json!({ "addrs": ["10.300.1.*x"] })),
        400,
        "10.300.1.*x",
    )
    .await;
    refused(
        c,
        "POST",
        "/api/acl/v1/white-addrs",
        &with_broker(json!({})),
        400,
        "addrs is required",
    )
    .await;

    // delete: gone from the broker
    ok(
        c,
        "DELETE",
        &format!("/api/acl/v1/accounts/consoleUser1?broker={b}"),
        None,
    )
    .await;
    assert!(find(cluster.admin.acl_config(&b).await.unwrap(), "consoleUser1").is_none());
    refused(
        c,
        "DELETE",
        &format!("/api/acl/v1/accounts/consoleUser1?broker={b}"),
        "",
        400,
        "consoleUser1",
    )
    .await;

    // a console signing as a non-admin account is refused the listing: 403, said plainly
    let user_console = Console::start(ConsoleConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        client: ClientConfig {
            credentials: Some(Credentials::new("rocketmqUser", "rocketmq-user-secret")),
            ..cluster.client_config.clone()
        },
    })
    .await
    .unwrap();
    let path = format!("/api/acl/v1?broker={b}");
    refused(user_console.local_addr(), "GET", &path, "", 403, "admin").await;
    drop(user_console);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_2_users_and_policies() {
    let cluster = Cluster::start(
        "broker-acl",
        Some(Credentials::new("root", "root-pass")),
        |_, bc| {
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
            assert!(bc.apply(&props).is_empty());
        },
    )
    .await;
    let c = cluster.console.local_addr();
    let b = cluster.broker_addr.clone();
    let admin = &cluster.admin;

    // list: the super user, password masked; ACL 1.0 is off on this broker
    let (status, v2, text) = http(c, "GET", &format!("/api/acl/v2?broker={b}"), None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(v2["state"], "enabled", "{v2}");
    assert_eq!(
        v2["users"],
        json!([{ "username": "root", "password": "******", "userType": "Super", "userStatus": "enable" }])
    );
    assert!(!text.contains("root-pass"), "a password left the console: {text}");
    let v1 = ok(c, "GET", &format!("/api/acl/v1?broker={b}"), None).await;
    assert_eq!(v1["state"], "disabled", "{v1}");

    // create a user, then update it through the cluster with the password left blank
    ok(
        c,
        "POST",
        "/api/acl/v2/users",
        Some(json!({ "broker": b, "username": "alice", "password": "alice-pass" })),
    )
    .await;
    let alice = admin.get_user(&b, "alice").await.unwrap().unwrap();
    assert_eq!(alice.password.as_deref(), Some("alice-pass"));
    assert_eq!(alice.user_type.as_deref(), Some("Normal"));
    ok(
        c,
        "POST",
        "/api/acl/v2/users",
        Some(json!({ "cluster": "DefaultCluster", "username": "alice", "userStatus": "disable" })),
    )
    .await;
    let alice = admin.get_user(&b, "alice").await.unwrap().unwrap();
    assert_eq!(
        alice.password.as_deref(),
        Some("alice-pass"),
        "the password was kept"
    );
    assert_eq!(alice.user_status.as_deref(), Some("disable"));

    // a policy for her, then one more entry (merged into the same ACL)
    let policy = json!({
        "broker": b, "subject": "alice", "resources": ["Topic:orders", "Group:g1"], "actions": ["Pub", "Sub"],
        "sourceIps": ["127.0.0.1"], "decision": "Allow",
    });
    ok(c, "POST", "/api/acl/v2/acls", Some(policy)).await;
    let more = json!({
        "broker": b, "subject": "User:alice", "resources": ["Topic:pay*"], "actions": ["Sub"], "decision": "Deny",
    });
    ok(c, "POST", "/api/acl/v2/acls", Some(more)).await;
    let acl = admin.get_acl(&b, "User:alice").await.unwrap().unwrap();
    let mut entries: Vec<(String, Vec<String>, String)> = acl
        .policies
        .iter()
        .flat_map(|p| &p.entries)
        .map(|e| {
            (
                e.resource.clone().unwrap(),
                e.actions.clone(),
                e.decision.clone().unwrap(),
            )
        })
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        vec![
            (
                "Group:g1".to_string(),
                vec!["Pub".to_string(), "Sub".to_string()],
                "Allow".to_string()
            ),
            (
                "Topic:orders".into(),
                vec!["Pub".into(), "Sub".into()],
                "Allow".into()
            ),
            ("Topic:pay*".into(), vec!["Sub".into()], "Deny".into()),
        ],
        "{acl:?}"
    );
    let listed = ok(c, "GET", &format!("/api/acl/v2?broker={b}"), None).await;
    let acls = listed["acls"].as_array().unwrap();
    assert_eq!(acls.len(), 1, "{listed}");
    assert_eq!(acls[0]["subject"], "User:alice");
    assert_eq!(listed["users"].as_array().unwrap().len(), 2, "{listed}");

    // bad input: a 400 naming the problem
    let users = "/api/acl/v2/users";
    let acls_path = "/api/acl/v2/acls";
    let on_b = |v: Value| {
        let mut v = v;
        v["broker"] = json!(b);
        v.to_string()
    };
    refused(
        c,
        "POST",
        users,
        &on_b(json!({ "password": "p" })),
        400,
        "username is required",
    )
    .await;
    refused(
        c,
        "POST",
        users,
        &on_b(json!({ "username": "bob" })),
        400,
        "password is required",
    )
    .await;
    refused(
        c,
        "POST",
        users,
        &on_b(json!({ "username": "bob", "password": "p", "userType": "Root" })),
        400,
        "userType `Root`",
    )
    .await;
    let acl = |resources: Value, actions: Value, decision: &str| {
        on_b(json!({ "subject": "alice", "resources": resources, "actions": actions, "decision": decision }))
    };
    refused(
        c,
        "POST",
        acls_path,
        &acl(json!([]), json!(["Pub"]), "Allow"),
        400,
        "resources are required",
    )
    .await;
    refused(
        c,
        "POST",
        acls_path,
        &acl(json!(["Topic:x"]), json!(["Fly"]), "Allow"),
        400,
        "Fly",
    )
    .await;
    refused(
        c,
        "POST",
        acls_path,
        &acl(json!(["Topic:x"]), json!(["Pub"]), "Maybe"),
        400,
        "decision",
    )
    .await;
    refused(
        c,
        "POST",
        acls_path,
        &acl(json!(["Planet:x"]), json!(["Pub"]), "Allow"),
        400,
        "Planet",
    )
    .await;
    assert!(admin.get_user(&b, "bob").await.unwrap().is_none());

    // delete one entry, then the whole ACL, then the user
    ok(
        c,
        "DELETE",
        &format!("/api/acl/v2/acls/User:alice?broker={b}&resource=Topic:pay*"),
        None,
    )
    .await;
    let acl = admin.get_acl(&b, "User:alice").await.unwrap().unwrap();
    let left: Vec<&str> = acl
        .policies
        .iter()
        .flat_map(|p| &p.entries)
        .filter_map(|e| e.resource.as_deref())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&"Topic:pay*"), "{left:?}");
    ok(c, "DELETE", &format!("/api/acl/v2/acls/alice?broker={b}"), None).await;
    assert!(admin.get_acl(&b, "User:alice").await.unwrap().is_none());
    ok(
        c,
        "DELETE",
        "/api/acl/v2/users/alice?cluster=DefaultCluster",
        None,
    )
    .await;
    assert!(admin.get_user(&b, "alice").await.unwrap().is_none());
    let listed = ok(c, "GET", &format!("/api/acl/v2?broker={b}"), None).await;
    assert_eq!(listed["users"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["acls"], json!([]), "{listed}");
    cluster.stop().await;
}
