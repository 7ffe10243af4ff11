//! The admin client against the fake name server and brokers over real sockets.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;

use bytes::BytesMut;
use common::cluster;
use rmq_client::{Admin, ClientError, TopicConfig};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::message::{self, sys_flag, MessageExt};
use rmq_protocol::RemotingCommand;

fn ok() -> RemotingCommand {
    RemotingCommand::response(response_code::SUCCESS)
}

#[tokio::test]
async fn name_server_queries_accept_fastjson() {
    let c = cluster().await;
    let admin = Admin::new(c.config.clone());
    let info = admin.cluster_info().await.expect("cluster info");
    assert_eq!(info.broker_addr_table["broker-b"].broker_addrs[&1], "127.0.0.1:1");
    assert!(info.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    assert_eq!(
        admin.topic_list().await.expect("topics"),
        vec!["TBW102", "TopicTest"]
    );
    let route = admin.topic_route("TopicTest").await.expect("route");
    assert_eq!(route.queue_datas.len(), 2);
    let err = admin.topic_route("Nope").await.unwrap_err();
    assert_eq!(err.broker_code(), Some(response_code::TOPIC_NOT_EXIST));
    c.shutdown().await;
}

#[tokio::test]
async fn create_topic_in_cluster_reaches_every_master() {
    let c = cluster().await;
    let admin = Admin::new(c.config.clone());
    let config = TopicConfig {
        read_queue_nums: 8,
        write_queue_nums: 8,
        ..TopicConfig::new("NewT")
    };
    admin
        .create_topic_in_cluster("DefaultCluster", &config)
        .await
        .expect("create");
    for broker in [&c.a, &c.b] {
        let req = broker
            .seen()
            .into_iter()
            .find(|s| s.code == request_code::UPDATE_AND_CREATE_TOPIC)
            .expect("UPDATE_AND_CREATE_TOPIC");
        let ext = |k: &str| req.ext.get(k).map(String::as_str);
        assert_eq!(
            (ext("topic"), ext("readQueueNums"), ext("perm")),
            (Some("NewT"), Some("8"), Some("6"))
        );
        assert_eq!(
            (ext("defaultTopic"), ext("topicFilterType")),
            (Some("TBW102"), Some("SINGLE_TAG"))
        );
    }
    let err = admin
        .create_topic_in_cluster("NoSuchCluster", &config)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidArgument(_)));
    c.shutdown().await;
}

#[tokio::test]
async fn offsets_stats_and_runtime_info() {
    let c = cluster().await;
    let admin = Admin::new(c.config.clone());
    let addr_a = c.a.addr.lock().unwrap().expect("bound").to_string();
    let addr_b = c.b.addr.lock().unwrap().expect("bound").to_string();
    {
        let mut canned = c.a.canned.lock().unwrap();
        canned.insert(request_code::GET_MAX_OFFSET, ok().with_ext("offset", "42"));
        canned.insert(
            request_code::GET_MIN_OFFSET,
            RemotingCommand::response(response_code::SYSTEM_ERROR).with_remark("boom"),
        );
        canned.insert(
            request_code::GET_BROKER_RUNTIME_INFO,
            ok().with_body(&br#"{"table":{"brokerVersion":"409"}}"#[..]),
        );
        let stats = r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:{"lastUpdateTimestamp":0,"maxOffset":7,"minOffset":0}}}"#;
        canned.insert(
            request_code::GET_TOPIC_STATS_INFO,
            ok().with_body(stats.as_bytes().to_vec()),
        );
    }
    let stats_b = r#"{"offsetTable":{"{\"brokerName\":\"broker-b\",\"queueId\":1,\"topic\":\"TopicTest\"}":{"lastUpdateTimestamp":0,"maxOffset":9,"minOffset":2}}}"#;
    c.b.canned.lock().unwrap().insert(
        request_code::GET_TOPIC_STATS_INFO,
        ok().with_body(stats_b.as_bytes().to_vec()),
    );

    assert_eq!(admin.max_offset(&addr_a, "TopicTest", 3).await.expect("max"), 42);
    let req =
        c.a.seen()
            .into_iter()
            .find(|s| s.code == request_code::GET_MAX_OFFSET)
            .expect("request");
    assert_eq!(
        (req.ext["topic"].as_str(), req.ext["queueId"].as_str()),
        ("TopicTest", "3")
    );
    let err = admin.min_offset(&addr_a, "TopicTest", 0).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Broker { code: 1, remark } if remark == "boom"),
        "{err:?}"
    );

    let table = admin.topic_stats("TopicTest").await.expect("stats");
    assert_eq!(table.offset_table.len(), 2);
    let max: i64 = table.offset_table.values().map(|o| o.max_offset).sum();
    assert_eq!(max, 16);

    let info = admin.broker_runtime_info(&addr_a).await.expect("runtime info");
    assert_eq!(
        info,
        HashMap::from([("brokerVersion".to_owned(), "409".to_owned())])
    );
    // broker-b answers SUCCESS with no body: not a KVTable.
    assert!(admin.broker_runtime_info(&addr_b).await.is_err());
    c.shutdown().await;
}

#[tokio::test]
async fn view_message_goes_to_the_address_in_the_id() {
    let c = cluster().await;
    let admin = Admin::new(c.config.clone());
    let store_host = c.a.addr.lock().unwrap().expect("bound");
    let body = vec![b'z'; 6000];
    let compressed = message::zlib_compress(&body, 5);
    let stored = MessageExt {
        store_size: 0,
        body_crc: message::body_crc(&compressed),
        queue_id: 1,
        flag: 0,
        queue_offset: 5,
        commit_log_offset: 4096,
        sys_flag: sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB,
        born_timestamp: 1_700_000_000_000,
        born_host: "127.0.0.1:40000".parse().unwrap(),
        store_timestamp: 1_700_000_000_001,
        store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: compressed.into(),
        topic: "TopicTest".into(),
        properties: HashMap::from([("TAGS".to_owned(), "TagA".to_owned())]),
        msg_id: String::new(),
    };
    let mut record = BytesMut::new();
    message::encode_message(&stored, &mut record);
    c.a.canned
        .lock()
        .unwrap()
        .insert(request_code::VIEW_MESSAGE_BY_ID, ok().with_body(record.freeze()));

    let id = message::offset_msg_id(store_host, 4096);
    let msg = admin.view_message(&id).await.expect("view");
    assert_eq!(
        msg.body.len(),
        6000,
        "the body is inflated like Java's clientDecode"
    );
    assert_eq!(
        (msg.topic.as_str(), msg.tags(), msg.msg_id.as_str()),
        ("TopicTest", Some("TagA"), id.as_str())
    );
    let req =
        c.a.seen()
            .into_iter()
            .find(|s| s.code == request_code::VIEW_MESSAGE_BY_ID)
            .expect("request");
    assert_eq!(req.ext["offset"], "4096");
    assert!(matches!(
        admin.view_message("XYZ").await,
        Err(ClientError::Wire(_))
    ));
    c.shutdown().await;
}
