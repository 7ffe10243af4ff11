//! ACL 2.0: models, decisions, authentication, migration, persistence; and property tests (no
//! request is accepted without the user's password; no input panics the parsers).

use std::collections::HashMap;
use std::net::IpAddr;

use proptest::prelude::*;
use rmq_protocol::codes::request_code as rc;

use super::authz::{self, Need};
use super::model::*;
use super::{AuthData, AuthFiles};
use crate::sign::{self, Credentials};
use crate::{AclFile, Request};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn data() -> AuthData {
    let mut d = AuthData::default();
    for (name, pass, t) in [
        ("root", "root-pass", UserType::Super),
        ("alice", "alice-pass", UserType::Normal),
    ] {
        d.users.insert(
            name.into(),
            User {
                username: name.into(),
                password: pass.into(),
                user_type: t,
                user_status: UserStatus::Enable,
            },
        );
    }
    d.users.insert(
        "mallory".into(),
        User {
            username: "mallory".into(),
            password: "mallory-pass".into(),
            user_type: UserType::Normal,
            user_status: UserStatus::Disable,
        },
    );
    let info: AclInfo = serde_json::from_str(
        r#"{"subject":"User:alice","policies":[
            {"policyType":"Custom","entries":[
              {"resource":"Topic:orders","actions":["Pub"],"decision":"Allow"},
              {"resource":"Topic:ord*","actions":["Pub","Sub"],"decision":"Deny"},
              {"resource":"Topic:ord*","actions":["Sub"],"decision":"Allow"},
              {"resource":"Group:app-*","actions":["Sub"],"decision":"Allow"},
              {"resource":"Topic:office","actions":["All"],"sourceIps":["10.1.0.0/16"],"decision":"Allow"}
            ]},
            {"policyType":"Default","entries":[{"resource":"Topic:*","actions":["Get"],"decision":"Allow"}]}
        ]}"#,
    )
    .expect("acl json");
    let acl = Acl::from_info(&info, None).expect("valid acl");
    d.acls.insert(acl.subject.clone(), acl);
    d
}

fn signed(fields: &[(&str, &str)], body: &[u8], user: &str, pass: &str) -> HashMap<String, String> {
    let mut f: HashMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sign::sign_fields(&mut f, body, &Credentials::new(user, pass));
    f
}

fn check(
    d: &AuthData,
    code: i32,
    fields: &HashMap<String, String>,
    body: &[u8],
    from: &str,
) -> Result<(), String> {
    let req = Request {
        code,
        version: 500,
        fields,
        body,
    };
    authz::authenticate(d, &req).map_err(|e| e.reason)?;
    authz::authorize(d, &req, "DefaultCluster", ip(from)).map_err(|e| e.reason)
}

#[test]
fn resources_parse_and_print_as_java() {
    for key in ["*", "Topic:*", "Topic:a", "Group:app-*", "Cluster:DefaultCluster"] {
        assert_eq!(Resource::parse(key).expect(key).key(), key);
    }
    assert_eq!(Resource::parse("topic:a").expect("case").key(), "Topic:a");
    assert!(Resource::parse("Queue:a").is_err());
    assert!(Resource::parse("Topic:").is_err());
    assert_eq!(Resource::group("%RETRY%g"), Resource::group("g"));
}

#[test]
fn decisions_follow_specificity_and_deny_wins_ties() {
    let d = data();
    let send = |topic: &str, from: &str| {
        let f = signed(&[("a", "pg"), ("b", topic)], b"x", "alice", "alice-pass");
        check(&d, rc::SEND_MESSAGE_V2, &f, b"x", from)
    };
    // The literal Allow beats the prefixed Deny.
    assert_eq!(send("orders", "127.0.0.1"), Ok(()));
    // ord*: Deny (Pub|Sub) and Allow (Sub) are equally specific: for Pub only the Deny matches.
    assert!(send("ordinary", "127.0.0.1")
        .unwrap_err()
        .ends_with("the decision is deny."));
    // No custom entry: the default policy (Get only) does not cover Pub.
    assert!(send("other", "127.0.0.1")
        .unwrap_err()
        .ends_with("no matched policies."));
    // Source IPs.
    assert_eq!(send("office", "10.1.2.3"), Ok(()));
    assert!(send("office", "10.2.0.1").is_err());

    let pull = |topic: &str, group: &str| {
        let f = signed(
            &[("topic", topic), ("consumerGroup", group)],
            b"",
            "alice",
            "alice-pass",
        );
        check(&d, rc::PULL_MESSAGE, &f, b"", "127.0.0.1")
    };
    // Sub on ord*: one Allow and one Deny, equally specific: the Deny wins.
    assert!(pull("ordinary", "app-1").unwrap_err().contains("Topic:ordinary"));
    assert!(pull("orders", "web").is_err());
    // A super user passes everything.
    let f = signed(&[("topic", "anything")], b"", "root", "root-pass");
    assert_eq!(
        check(&d, rc::UPDATE_AND_CREATE_TOPIC, &f, b"", "127.0.0.1"),
        Ok(())
    );
    // Admin codes need Cluster:Update.
    let f = signed(&[("username", "bob")], b"{}", "alice", "alice-pass");
    assert!(check(&d, rc::AUTH_CREATE_USER, &f, b"{}", "127.0.0.1")
        .unwrap_err()
        .contains("Cluster:DefaultCluster"));
}

#[test]
fn authentication_failures() {
    let d = data();
    let empty = HashMap::new();
    assert_eq!(
        check(&d, rc::GET_ALL_TOPIC_CONFIG, &empty, b"", "127.0.0.1"),
        Err("username cannot be null.".into())
    );
    let f = signed(&[("x", "y")], b"", "nobody", "pass");
    assert_eq!(
        check(&d, rc::GET_ALL_TOPIC_CONFIG, &f, b"", "127.0.0.1"),
        Err("User:nobody is not found.".into())
    );
    let f = signed(&[("x", "y")], b"", "mallory", "mallory-pass");
    assert_eq!(
        check(&d, rc::GET_ALL_TOPIC_CONFIG, &f, b"", "127.0.0.1"),
        Err("User:mallory is disabled.".into())
    );
    let f = signed(&[("x", "y")], b"", "alice", "wrong-pass");
    assert_eq!(
        check(&d, rc::GET_ALL_TOPIC_CONFIG, &f, b"", "127.0.0.1"),
        Err("check signature failed.".into())
    );
    let f = signed(&[("x", "y")], b"", "alice", "alice-pass");
    assert_eq!(check(&d, rc::GET_ALL_TOPIC_CONFIG, &f, b"", "127.0.0.1"), Ok(()));
}

#[test]
fn needs_of_the_main_codes() {
    let f = |kv: &[(&str, &str)]| -> HashMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let needs = |code, fields: &HashMap<String, String>, body: &[u8]| {
        authz::needs(
            &Request {
                code,
                version: 0,
                fields,
                body,
            },
            "C1",
        )
        .expect("parses")
    };
    let n = needs(
        rc::SEND_MESSAGE,
        &f(&[("topic", "%RETRY%g1"), ("group", "")]),
        b"",
    );
    assert_eq!(
        n,
        [Need {
            resource: Resource::group("g1"),
            actions: vec![Action::Sub]
        }]
    );
    let n = needs(
        rc::UPDATE_CONSUMER_OFFSET,
        &f(&[("topic", "t"), ("consumerGroup", "g")]),
        b"",
    );
    assert_eq!(n.len(), 2);
    assert_eq!(n[0].actions, [Action::Sub, Action::Update]);
    let n = needs(rc::GET_BROKER_CLUSTER_ACL_INFO, &f(&[("x", "1")]), b"");
    assert_eq!(n[0].resource.key(), "Cluster:C1");
    let n = needs(
        rc::QUERY_CORRECTION_OFFSET,
        &f(&[("filterGroups", "a,b"), ("topic", "t")]),
        b"",
    );
    assert_eq!(n.len(), 3);
    assert!(needs(rc::GET_ALL_TOPIC_CONFIG, &f(&[("x", "1")]), b"").is_empty());
    let hb = br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"t"},{"topic":"%RETRY%g"}]}]}"#;
    let n = needs(rc::HEART_BEAT, &f(&[("x", "1")]), hb);
    assert_eq!(
        n.iter().map(|n| n.resource.key()).collect::<Vec<_>>(),
        ["Group:g", "Topic:t"]
    );
    assert!(authz::needs(
        &Request {
            code: rc::HEART_BEAT,
            version: 0,
            fields: &f(&[("x", "1")]),
            body: b"{"
        },
        "C"
    )
    .is_err());
}

#[test]
fn bad_acls_are_refused() {
    for (json, why) in [
        (r#"{"subject":"alice","policies":[]}"#, "subject"),
        (r#"{"subject":"User:a","policies":[]}"#, "policies"),
        (r#"{"subject":"User:a","policies":[{"entries":[]}]}"#, "entries"),
        (
            r#"{"subject":"User:a","policies":[{"entries":[{"resource":"Topic:t","actions":["Any"],"decision":"Allow"}]}]}"#,
            "Any",
        ),
        (
            r#"{"subject":"User:a","policies":[{"entries":[{"resource":"Topic:t","actions":["Fly"],"decision":"Allow"}]}]}"#,
            "action",
        ),
        (
            r#"{"subject":"User:a","policies":[{"entries":[{"resource":"Topic:t","actions":["Pub"],"decision":"Maybe"}]}]}"#,
            "decision",
        ),
        (
            r#"{"subject":"User:a","policies":[{"entries":[{"resource":"Topic:t","actions":["Pub"],"sourceIps":["1.2.3.4/40"],"decision":"Allow"}]}]}"#,
            "source ip",
        ),
    ] {
        let info: AclInfo = serde_json::from_str(json).expect("json");
        let err = Acl::from_info(&info, None).expect_err(why).to_string();
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn merge_and_delete_as_java() {
    let mut acl = data().acls["User:alice"].clone();
    let update: AclInfo = serde_json::from_str(
        r#"{"policies":[{"entries":[{"resource":"Topic:orders","actions":["Sub"],"decision":"Deny"},{"resource":"Topic:new","actions":["Pub"],"decision":"Allow"}]}]}"#,
    )
    .expect("json");
    acl.merge(Acl::from_info(&update, Some("User:alice")).expect("valid"));
    let custom = &acl.policies[0];
    assert_eq!(custom.entries.len(), 6);
    assert_eq!(custom.entries[0].decision, Decision::Deny);
    acl.delete(PolicyType::Default, &Resource::parse("Topic:*").expect("r"));
    assert_eq!(acl.policies.len(), 1);
}

#[test]
fn migration_from_plain_acl() {
    let file = AclFile::parse(
        "accounts:\n - {accessKey: rocketmq2, secretKey: '12345678', admin: true}\n - {accessKey: app0001, secretKey: app-secret, defaultTopicPerm: DENY, topicPerms: [t1=PUB, t2=DENY], groupPerms: [g1=SUB]}\n",
    )
    .expect("yml");
    let mut d = AuthData::default();
    assert_eq!(d.migrate_from_v1(&file.accounts), ["rocketmq2", "app0001"]);
    assert_eq!(d.users["rocketmq2"].user_type, UserType::Super);
    let send = |topic: &str| {
        let f = signed(&[("b", topic)], b"", "app0001", "app-secret");
        check(&d, rc::SEND_MESSAGE_V2, &f, b"", "127.0.0.1")
    };
    assert_eq!(send("t1"), Ok(()));
    assert!(send("t2").is_err());
    assert!(send("t3").unwrap_err().ends_with("the decision is deny."));
    // Migrating again changes nothing.
    assert!(d.clone().migrate_from_v1(&file.accounts).is_empty());
}

#[test]
fn files_round_trip() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = AuthFiles::new(dir.path().join("auth"));
    assert_eq!(files.load().expect("empty"), AuthData::default());
    let d = data();
    files.save(&d).expect("save");
    assert_eq!(files.load().expect("load"), d);
    let mut init = AuthData::default();
    assert!(init
        .init_user(r#"{"username":"rocketmq","password":"12345678"}"#)
        .expect("init"));
    assert!(!init
        .init_user(r#"{"username":"rocketmq","password":"other"}"#)
        .expect("again"));
    assert_eq!(init.users["rocketmq"].user_type, UserType::Super);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Signed with anything but alice's password, no request from alice is accepted.
    #[test]
    fn never_accepted_without_the_password(
        code in prop_oneof![Just(rc::SEND_MESSAGE_V2), Just(rc::PULL_MESSAGE), Just(rc::GET_ALL_TOPIC_CONFIG), any::<i32>()],
        fields in proptest::collection::hash_map("[a-zA-Z]{1,8}", "\\PC{0,10}", 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..32),
        pass in "\\PC{0,16}",
    ) {
        prop_assume!(pass != "alice-pass");
        let d = data();
        let mut f = fields;
        sign::sign_fields(&mut f, &body, &Credentials::new("alice", pass));
        let req = Request { code, version: 500, fields: &f, body: &body };
        prop_assert!(authz::authenticate(&d, &req).is_err());
    }

    /// Any JSON-ish text as a user or an ACL: never a panic.
    #[test]
    fn any_metadata_text_is_handled(text in "\\PC{0,200}", key in "\\PC{0,30}") {
        if let Ok(info) = serde_json::from_str::<AclInfo>(&text) {
            let _ = Acl::from_info(&info, Some("User:x"));
        }
        if let Ok(info) = serde_json::from_str::<UserInfo>(&text) {
            let _ = User::from_info(&info);
        }
        let _ = Resource::parse(&key);
        let _ = SourceIp::parse(&key);
    }
}
