//! rmq-client's ACL 1.0 signing against a real in-process broker with `aclEnable=true`: the
//! admin, producer and push consumer work with their accounts and are refused with a wrong one.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait::{wait_for, wait_until};
use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{
    Admin, ClientConfig, ClientError, ConsumeFromWhere, ConsumeStatus, ConsumerConfig, Credentials, Message,
    Producer, PushConsumer, TopicConfig,
};
use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_protocol::codes::response_code;

const DEADLINE: Duration = Duration::from_secs(60);
const TOPIC: &str = "AclClientTopic";

const RULES: &str = r#"
accounts:
  - accessKey: adminuser
    secretKey: admin-secret
    admin: true
  - accessKey: producer1
    secretKey: producer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [AclClientTopic=PUB]
  - accessKey: consumer1
    secretKey: consumer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [AclClientTopic=SUB]
    groupPerms: [AclClientGroup=SUB]
"#;

fn config(namesrv: &str, instance: &str, ak: &str, sk: &str) -> ClientConfig {
    ClientConfig {
        namesrv_addr: vec![namesrv.to_owned()],
        client_ip: "127.0.0.1".into(),
        instance_name: instance.into(),
        credentials: Some(Credentials::new(ak, sk)),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_clients_work_and_wrong_accounts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("conf")).unwrap();
    std::fs::write(home.path().join("conf/plain_acl.yml"), RULES).unwrap();
    let namesrv = NameServer::start(NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let ns = format!("127.0.0.1:{}", namesrv.local_addr().port());
    let mut bc = BrokerConfig {
        broker_name: "broker-acl".into(),
        broker_ip1: "127.0.0.1".into(),
        listen_port: 0,
        namesrv_addr: vec![ns.clone()],
        acl_enable: true,
        rocketmq_home: Some(home.path().to_path_buf()),
        ..Default::default()
    };
    bc.store.store_path_root_dir = dir.path().to_path_buf();
    bc.store.mapped_file_size_commit_log = 4 * 1024 * 1024;
    bc.store.mapped_file_size_consume_queue = 1000 * 20;
    let broker = Broker::start(bc).await.unwrap();
    let broker_addr = format!("127.0.0.1:{}", broker.local_addr().port());

    // Only the admin account may create the topic.
    let topic = TopicConfig {
        read_queue_nums: 2,
        write_queue_nums: 2,
        ..TopicConfig::new(TOPIC)
    };
    let not_admin = Admin::new(config(&ns, "a1", "producer1", "producer-secret"));
    match not_admin.create_topic(&broker_addr, &topic).await {
        Err(ClientError::Broker { code, remark }) => {
            assert_eq!(code, response_code::NO_PERMISSION);
            assert!(remark.contains("Need admin permission"), "{remark}");
        }
        other => panic!("a non-admin created a topic: {other:?}"),
    }
    let admin = Admin::new(config(&ns, "a2", "adminuser", "admin-secret"));
    admin.create_topic(&broker_addr, &topic).await.unwrap();
    wait_for("the topic at the name server", DEADLINE, || async {
        admin.topic_route(TOPIC).await.ok()
    })
    .await;

    let producer = Producer::new("AclProducer", config(&ns, "p1", "producer1", "producer-secret"));
    producer.start().await.unwrap();
    for i in 0..10 {
        producer.send(Message::new(TOPIC, format!("m{i}"))).await.unwrap();
    }

    // Wrong secret and the consumer's account are refused (the producer retries, then reports).
    for (ak, sk, why) in [
        ("producer1", "not-the-secret", "Check signature failed"),
        (
            "consumer1",
            "consumer-secret",
            "No permission for topic:AclClientTopic",
        ),
    ] {
        let p = Producer::new("AclProducer2", config(&ns, &format!("p-{ak}-{sk}"), ak, sk));
        p.start().await.unwrap();
        let err = p.send(Message::new(TOPIC, "refused")).await.unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
        p.shutdown().await;
    }

    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let consumer = PushConsumer::new(
        "AclClientGroup",
        config(&ns, "c1", "consumer1", "consumer-secret"),
        ConsumerConfig {
            consume_from_where: ConsumeFromWhere::FirstOffset,
            ..Default::default()
        },
    );
    consumer.subscribe(TOPIC, "*").unwrap();
    consumer.register_listener(move |msgs| {
        sink.lock()
            .unwrap()
            .extend(msgs.iter().map(|m| String::from_utf8_lossy(&m.body).into_owned()));
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await.unwrap();
    wait_until("the consumer receives all 10", DEADLINE, || {
        received.lock().unwrap().len() >= 10
    })
    .await;
    let mut got = received.lock().unwrap().clone();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 10, "exactly the 10 sent, never a refused one: {got:?}");

    consumer.shutdown().await;
    producer.shutdown().await;
    broker.shutdown().await.unwrap();
    namesrv.shutdown().await;
}

/// ACL 2.0 on both the name server and the broker: the broker registers with its inner
/// credentials, a user with a policy produces and consumes, an unsigned client gets no route.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acl2_on_name_server_and_broker() {
    let dir = tempfile::tempdir().unwrap();
    let auth = |extra: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
        let mut m: std::collections::HashMap<String, String> = [
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
        m.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        m
    };
    let mut nc = NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        ..Default::default()
    };
    let ns_auth = dir.path().join("ns-auth").display().to_string();
    nc.apply(&auth(&[("authConfigPath", &ns_auth)])).unwrap();
    let namesrv = NameServer::start(nc).await.unwrap();
    let ns = format!("127.0.0.1:{}", namesrv.local_addr().port());
    let mut bc = BrokerConfig {
        broker_name: "broker-acl2".into(),
        broker_ip1: "127.0.0.1".into(),
        listen_port: 0,
        namesrv_addr: vec![ns.clone()],
        ..Default::default()
    };
    assert!(bc
        .apply(&auth(&[(
            "innerClientAuthenticationCredentials",
            r#"{"accessKey":"root","secretKey":"root-pass"}"#
        )]))
        .is_empty());
    bc.store.store_path_root_dir = dir.path().join("store");
    bc.store.mapped_file_size_commit_log = 4 * 1024 * 1024;
    bc.store.mapped_file_size_consume_queue = 1000 * 20;
    let broker = Broker::start(bc).await.unwrap();
    let broker_addr = format!("127.0.0.1:{}", broker.local_addr().port());

    // The same user and policy on both servers (each keeps its own metadata).
    let root = Admin::new(config(&ns, "root", "root", "root-pass"));
    let user = rmq_acl::v2::model::UserInfo {
        username: Some("app".into()),
        password: Some("app-pass".into()),
        ..Default::default()
    };
    let acl = rmq_client::admin::acl_info(
        "User:app",
        &["Topic:Acl2Topic".into(), "Group:Acl2Group".into()],
        &["Pub".into(), "Sub".into(), "Get".into()],
        &[],
        "Allow",
    );
    for addr in [&ns, &broker_addr] {
        root.create_user(addr, &user).await.unwrap();
        root.put_acl(addr, &acl, false).await.unwrap();
    }
    let topic = TopicConfig {
        read_queue_nums: 2,
        write_queue_nums: 2,
        ..TopicConfig::new("Acl2Topic")
    };
    root.create_topic(&broker_addr, &topic).await.unwrap();
    wait_for("the broker's topic at the name server", DEADLINE, || async {
        root.topic_route("Acl2Topic").await.ok()
    })
    .await;

    // Unsigned: the name server refuses the route.
    let anonymous = Admin::new(ClientConfig {
        credentials: None,
        ..config(&ns, "anon", "x", "y")
    });
    match anonymous.topic_route("Acl2Topic").await {
        Err(ClientError::Broker { code, remark }) => {
            assert_eq!(code, response_code::NO_PERMISSION);
            assert_eq!(remark, "username cannot be null.");
        }
        other => panic!("an unsigned client got a route: {other:?}"),
    }

    let producer = Producer::new("AppProducer", config(&ns, "app-p", "app", "app-pass"));
    producer.start().await.unwrap();
    for i in 0..5 {
        producer
            .send(Message::new("Acl2Topic", format!("m{i}")))
            .await
            .unwrap();
    }
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let consumer = PushConsumer::new(
        "Acl2Group",
        config(&ns, "app-c", "app", "app-pass"),
        ConsumerConfig {
            consume_from_where: ConsumeFromWhere::FirstOffset,
            ..Default::default()
        },
    );
    consumer.subscribe("Acl2Topic", "*").unwrap();
    consumer.register_listener(move |msgs| {
        sink.lock()
            .unwrap()
            .extend(msgs.iter().map(|m| String::from_utf8_lossy(&m.body).into_owned()));
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await.unwrap();
    wait_until("the consumer receives all 5", DEADLINE, || {
        received.lock().unwrap().len() >= 5
    })
    .await;
    consumer.shutdown().await;
    producer.shutdown().await;
    broker.shutdown().await.unwrap();
    namesrv.shutdown().await;
}
