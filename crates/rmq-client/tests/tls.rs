//! `use_tls` against an in-process name server and broker in TLS enforcing mode (self-signed
//! certificate, test mode): a plain client is refused, a TLS one sends and pulls. Then mutual
//! TLS: both servers require client certificates of one CA, the broker registers with its own,
//! a client with `ClientConfig::tls` sends and pulls, one without a certificate is refused.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::wait::wait_for;
use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{
    Admin, ClientConfig, ClientTlsOptions, Message, Producer, PullConsumer, PullStatus, SendStatus,
    TopicConfig,
};
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

/// A CA and the certificates it issued, as PEM files: `<name>.pem` (chain) and `<name>.key`.
struct Pki {
    dir: PathBuf,
    ca_cert: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        Pki {
            dir: dir.to_path_buf(),
            ca_cert,
            ca_key,
        }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .unwrap();
        let (chain, key_path) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        std::fs::write(&chain, cert.pem() + &self.ca_cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (chain, key_path)
    }
}

/// Server keys of an enforcing server that requires client certificates of `pki`'s CA.
fn require_client_certs(tls: &mut rmq_remoting::TlsSettings, pki: &Pki, server: &(PathBuf, PathBuf)) {
    let ca = pki.ca();
    for (k, v) in [
        ("tls.server.mode", "enforcing"),
        ("tls.test.mode.enable", "false"),
        ("tls.server.certPath", server.0.to_str().unwrap()),
        ("tls.server.keyPath", server.1.to_str().unwrap()),
        ("tls.server.need.client.auth", "require"),
        ("tls.server.authClient", "true"),
        ("tls.server.trustCertPath", ca.to_str().unwrap()),
    ] {
        assert!(tls.apply(k, v), "{k}");
    }
    tls.config_file = pki.dir.join("absent.properties");
}

#[tokio::test]
async fn mutual_tls_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    std::fs::create_dir_all(&pki_dir).unwrap();
    let pki = Pki::new(&pki_dir);
    let server_cert = pki.issue("rmq.test");

    let mut ns_config = NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        ..Default::default()
    };
    require_client_certs(&mut ns_config.tls, &pki, &server_cert);
    let namesrv = NameServer::start(ns_config).await.expect("namesrv");
    let namesrv_addr = format!("127.0.0.1:{}", namesrv.local_addr().port());

    let mut config = BrokerConfig {
        broker_name: "broker-a".into(),
        broker_ip1: "127.0.0.1".into(),
        listen_port: 0,
        namesrv_addr: vec![namesrv_addr.clone()],
        ..Default::default()
    };
    require_client_certs(&mut config.tls, &pki, &server_cert);
    // The broker's own certificate, for its registrations with the name server.
    let (broker_chain, broker_key) = pki.issue("broker-a");
    let ca = pki.ca();
    for (k, v) in [
        ("tls.enable", "true"),
        ("tls.client.authServer", "true"),
        ("tls.client.trustCertPath", ca.to_str().unwrap()),
        ("tls.client.certPath", broker_chain.to_str().unwrap()),
        ("tls.client.keyPath", broker_key.to_str().unwrap()),
    ] {
        assert!(config.tls.apply(k, v), "{k}");
    }
    config.store.store_path_root_dir = dir.path().join("store");
    config.store.mapped_file_size_commit_log = 4 * 1024 * 1024;
    config.store.mapped_file_size_consume_queue = 1000 * 20;
    config.store.max_hash_slot_num = 1000;
    config.store.max_index_num = 4000;
    let broker = Broker::start(config).await.expect("broker");
    let broker_addr = format!("127.0.0.1:{}", broker.local_addr().port());

    let (app_chain, app_key) = pki.issue("app");
    let with_cert = |instance: &str| ClientConfig {
        tls: Some(
            ClientTlsOptions {
                trust_cert_path: Some(pki.ca()),
                cert_path: Some(app_chain.clone()),
                key_path: Some(app_key.clone()),
                key_password: None,
            }
            .build()
            .unwrap(),
        ),
        ..client_config(&namesrv_addr, instance, false)
    };

    // TLS without a client certificate is refused by both servers.
    let anonymous = Admin::new(client_config(&namesrv_addr, "anonymous", true));
    assert!(anonymous.topic_route(TOPIC).await.is_err());
    assert!(anonymous
        .create_topic(&broker_addr, &TopicConfig::new("Nope"))
        .await
        .is_err());

    let admin = Admin::new(with_cert("admin"));
    let topic = TopicConfig {
        read_queue_nums: 1,
        write_queue_nums: 1,
        ..TopicConfig::new(TOPIC)
    };
    admin
        .create_topic(&broker_addr, &topic)
        .await
        .expect("create topic with a client certificate");
    // The route appears once the broker has registered, with its own certificate.
    wait_for(
        "the route at the name server",
        Duration::from_secs(30),
        || async { admin.topic_route(TOPIC).await.ok() },
    )
    .await;

    let producer = Producer::new("MtlsPG", with_cert("producer"));
    producer.start().await.expect("producer");
    let result = producer
        .send(Message::new(TOPIC, "mtls").with_tags("TagA"))
        .await
        .expect("send with a client certificate");
    assert_eq!(result.send_status, SendStatus::SendOk);
    let consumer = PullConsumer::new("MtlsCG", with_cert("consumer"));
    let queues = consumer.fetch_subscribe_queues(TOPIC).await.expect("queues");
    let pulled = consumer.pull(&queues[0], "*", 0, 32).await.expect("pull");
    assert_eq!(pulled.status, PullStatus::Found);
    assert_eq!(pulled.messages[0].body.as_ref(), b"mtls");

    consumer.shutdown().await;
    producer.shutdown().await;
    broker.shutdown().await.expect("broker shutdown");
    namesrv.shutdown().await;
}
