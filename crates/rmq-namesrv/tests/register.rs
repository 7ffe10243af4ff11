//! REGISTER_BROKER bodies in the compressed form (broker.conf `compressedRegister=true`): a
//! zlib stream of length-prefixed parts, topics in their text form. A real name server on an
//! ephemeral port, a real socket.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::collections::HashMap;
use std::time::Duration;

use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_protocol::body::{
    self, DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper, TopicRouteData,
};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{GetRouteInfoRequestHeader, RegisterBrokerRequestHeader};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const RPC: Duration = Duration::from_secs(5);

async fn start() -> (NameServer, String) {
    let ns = NameServer::start(NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        ..NamesrvConfig::default()
    })
    .await
    .unwrap();
    let addr = ns.local_addr().to_string();
    (ns, addr)
}

fn register(body: Vec<u8>, compressed: bool, crc: bool) -> RemotingCommand {
    let h = RegisterBrokerRequestHeader {
        broker_name: "broker-z".into(),
        broker_addr: "127.0.0.1:10911".into(),
        cluster_name: "DefaultCluster".into(),
        ha_server_addr: "127.0.0.1:10912".into(),
        broker_id: 0,
        compressed,
        body_crc32: if crc {
            (crc32fast::hash(&body) & 0x7FFF_FFFF) as i32
        } else {
            0
        },
        ..Default::default()
    };
    RemotingCommand::request(rc::REGISTER_BROKER)
        .with_header(&h)
        .with_body(body)
}

async fn route(client: &RemotingClient, addr: &str, topic: &str) -> Option<TopicRouteData> {
    let req = RemotingCommand::request(rc::GET_ROUTEINFO_BY_TOPIC).with_header(&GetRouteInfoRequestHeader {
        topic: topic.into(),
        ..Default::default()
    });
    let resp = client.invoke(addr, req, RPC).await.unwrap();
    (resp.code == code::SUCCESS).then(|| body::from_fastjson(&resp.body).unwrap())
}

#[tokio::test]
async fn a_compressed_registration_is_routed() {
    let (ns, addr) = start().await;
    let client = RemotingClient::new();
    let topics: HashMap<String, TopicConfig> = ["CompressedA", "CompressedB"]
        .into_iter()
        .map(|t| {
            let tc = TopicConfig {
                read_queue_nums: 3,
                write_queue_nums: 2,
                ..TopicConfig::new(t)
            };
            (t.to_owned(), tc)
        })
        .collect();
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 7,
                timestamp: 1_700_000_000_000,
                state_version: 0,
            },
            topic_config_table: topics,
            ..TopicConfigSerializeWrapper::default()
        },
    };
    let resp = client
        .invoke(&addr, register(body.encode_compressed(), true, true), RPC)
        .await
        .unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let r = route(&client, &addr, "CompressedB").await.expect("routed");
    assert_eq!(r.queue_datas.len(), 1);
    let q = &r.queue_datas[0];
    assert_eq!(
        (q.broker_name.as_str(), q.read_queue_nums, q.write_queue_nums),
        ("broker-z", 3, 2)
    );
    assert_eq!(r.broker_datas[0].master_addr(), Some("127.0.0.1:10911"));

    // Not zlib: refused with a remark, nothing registered, the connection still serves.
    let resp = client
        .invoke(&addr, register(b"{\"not\":\"zlib\"}".to_vec(), true, false), RPC)
        .await
        .unwrap();
    assert_eq!(resp.code, code::SYSTEM_ERROR);
    assert!(
        resp.remark
            .as_deref()
            .unwrap_or("")
            .starts_with("bad RegisterBrokerBody"),
        "{:?}",
        resp.remark
    );
    assert!(route(&client, &addr, "CompressedA").await.is_some());
    ns.shutdown().await;
}

/// `metricsExporterType=PROM`: `/metrics` counts each answered request by request and response
/// code (`rocketmq_rpc_latency`), and shows the route table's brokers and topics.
#[tokio::test]
async fn metrics_count_requests_and_routes() {
    let ns = NameServer::start(NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        metrics_exporter_type: "PROM".into(),
        metrics_prom_exporter_host: "127.0.0.1".into(),
        metrics_prom_exporter_port: 0,
        ..NamesrvConfig::default()
    })
    .await
    .unwrap();
    let addr = ns.local_addr().to_string();
    let client = RemotingClient::new();
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion::default(),
            topic_config_table: [("MetricsTopic".to_owned(), TopicConfig::new("MetricsTopic"))].into(),
            ..TopicConfigSerializeWrapper::default()
        },
    };
    let resp = client
        .invoke(&addr, register(body.encode_compressed(), true, true), RPC)
        .await
        .unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    assert!(route(&client, &addr, "MetricsTopic").await.is_some());
    assert!(route(&client, &addr, "NoSuchTopic").await.is_none());

    let text = rmq_testkit::scrape_metrics(ns.metrics_addr().expect("served")).await;
    let count = |request: &str, response: &str| {
        rmq_testkit::metric_sample(
            &text,
            "rocketmq_rpc_latency_count",
            &[
                "node_type=\"namesrv\"",
                &format!("request_code=\"{request}\""),
                &format!("response_code=\"{response}\""),
                "result=\"success\"",
            ],
        )
    };
    assert_eq!(count("register_broker", "success"), Some(1.0));
    assert_eq!(count("get_routeinfo_by_topic", "success"), Some(1.0));
    assert_eq!(count("get_routeinfo_by_topic", "topic_not_exist"), Some(1.0));
    assert_eq!(
        rmq_testkit::metric_sample(&text, "rocketmq_namesrv_broker_addresses", &[]),
        Some(1.0)
    );
    assert_eq!(
        rmq_testkit::metric_sample(&text, "rocketmq_namesrv_topics", &[]),
        Some(1.0)
    );
    ns.shutdown().await;
}
