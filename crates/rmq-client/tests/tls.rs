//! `use_tls` against an in-process name server and broker in TLS enforcing mode (self-signed
//! certificate, test mode): a plain client is refused, a TLS one sends and pulls.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::Duration;

use common::wait::wait_for;
use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{Admin, ClientConfig, Message, Producer, PullConsumer, PullStatus, SendStatus, TopicConfig};
use rmq_namesrv::{NameServer, NamesrvConfig};

const TOPIC: &str = "TlsTopic";

fn client_config(namesrv: &str, instance: &str, use_tls: bool) -> ClientConfig {
    ClientConfig {
        namesrv_addr: vec![namesrv.to_owned()],
        client_ip: "127.0.0.1".into(),
        instance_name: instance.into(),
        use_tls,
        ..Default::default()
    }
}

#[tokio::test]
async fn send_and_pull_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let absent_tls_file = dir.path().join("tls.properties");
    let mut ns_config = NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        ..Default::default()
    };
    assert!(ns_config.tls.apply("tls.server.mode", "enforcing"));
    ns_config.tls.config_file = absent_tls_file.clone();
    let namesrv = NameServer::start(ns_config).await.expect("namesrv");
    let namesrv_addr = format!("127.0.0.1:{}", namesrv.local_addr().port());

    let mut config = BrokerConfig {
        broker_name: "broker-a".into(),
        broker_ip1: "127.0.0.1".into(),
        listen_port: 0,
        namesrv_addr: vec![namesrv_addr.clone()],
        ..Default::default()
    };
    // The broker registers with the enforcing name server over TLS (`tls.enable`).
    for (k, v) in [("tls.server.mode", "enforcing"), ("tls.enable", "true")] {
        assert!(config.tls.apply(k, v));
    }
    config.tls.config_file = absent_tls_file;
    config.store.store_path_root_dir = dir.path().join("store");
    config.store.mapped_file_size_commit_log = 4 * 1024 * 1024;
    config.store.mapped_file_size_consume_queue = 1000 * 20;
    config.store.max_hash_slot_num = 1000;
    config.store.max_index_num = 4000;
    let broker = Broker::start(config).await.expect("broker");
    let broker_addr = format!("127.0.0.1:{}", broker.local_addr().port());

    // Plain clients are refused by the enforcing name server.
    let plain = Admin::new(client_config(&namesrv_addr, "plain", false));
    assert!(plain.topic_route(TOPIC).await.is_err());

    let admin = Admin::new(client_config(&namesrv_addr, "admin", true));
    let topic = TopicConfig {
        read_queue_nums: 1,
        write_queue_nums: 1,
        ..TopicConfig::new(TOPIC)
    };
    admin
        .create_topic(&broker_addr, &topic)
        .await
        .expect("create topic over TLS");
    wait_for(
        "the route at the name server",
        Duration::from_secs(30),
        || async { admin.topic_route(TOPIC).await.ok() },
    )
    .await;

    let producer = Producer::new("TlsPG", client_config(&namesrv_addr, "producer", true));
    producer.start().await.expect("producer");
    for i in 0..5 {
        let result = producer
            .send(Message::new(TOPIC, format!("tls-{i}")).with_tags("TagA"))
            .await
            .expect("send over TLS");
        assert_eq!(result.send_status, SendStatus::SendOk);
        assert_eq!(result.queue_offset, i);
    }

    let consumer = PullConsumer::new("TlsCG", client_config(&namesrv_addr, "consumer", true));
    let queues = consumer.fetch_subscribe_queues(TOPIC).await.expect("queues");
    assert_eq!(queues.len(), 1);
    let pulled = consumer
        .pull(&queues[0], "*", 0, 32)
        .await
        .expect("pull over TLS");
    assert_eq!(pulled.status, PullStatus::Found);
    let bodies: Vec<String> = pulled
        .messages
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(bodies, (0..5).map(|i| format!("tls-{i}")).collect::<Vec<_>>());

    consumer.shutdown().await;
    producer.shutdown().await;
    broker.shutdown().await.expect("broker shutdown");
    namesrv.shutdown().await;
}
