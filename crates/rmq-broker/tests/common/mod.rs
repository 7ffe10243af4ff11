//! An in-process broker on port 0 in a temp dir, and raw remoting requests against it.
#![allow(dead_code)]

pub mod wait;

use std::path::Path;
use std::time::Duration;

use rmq_broker::{Broker, BrokerConfig};
use rmq_protocol::body::{self, HeartbeatData, ProducerData};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{GetMaxOffsetRequestHeader, SendMessageRequestHeader};
use rmq_protocol::message::{self, property, sys_flag};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

pub const TIMEOUT: Duration = Duration::from_secs(5);
pub const PRODUCER_GROUP: &str = "txn-producer";
pub const TOPIC: &str = "TxnTopic";

/// A config for tests: port 0, no name server, loopback, check rounds only when a test asks.
pub fn config(dir: &Path) -> BrokerConfig {
    let mut c = BrokerConfig {
        broker_name: "broker-test".into(),
        listen_port: 0,
        namesrv_addr: Vec::new(),
        broker_ip1: "127.0.0.1".into(),
        broker_ip2: "127.0.0.1".into(),
        transaction_check_interval_ms: 3_600_000,
        transaction_timeout_ms: 0,
        ..BrokerConfig::default()
    };
    c.store.store_path_root_dir = dir.to_path_buf();
    c.store.mapped_file_size_commit_log = 1 << 20;
    c.store.mapped_file_size_consume_queue = 20 * 1000;
    c
}

/// SEND_MESSAGE_V2 of `body` to queue 0 of `topic` (created from TBW102 with 4 queues), as a
/// producer of group `pg` sends it.
pub fn send_request(topic: &str, uniq_key: &str, body: &[u8]) -> RemotingCommand {
    let h = SendMessageRequestHeader {
        producer_group: "pg".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 0,
        born_timestamp: 1,
        properties: Some(message::encode_properties(&[("UNIQ_KEY", uniq_key)])),
        ..Default::default()
    };
    RemotingCommand::request(rc::SEND_MESSAGE_V2)
        .with_header(&rmq_protocol::header::SendMessageRequestHeaderV2::from(h))
        .with_body(body.to_vec())
}

pub fn addr(b: &Broker) -> String {
    format!("127.0.0.1:{}", b.local_addr().port())
}

pub async fn heartbeat(client: &RemotingClient, addr: &str, group: &str) {
    let hb = HeartbeatData {
        client_id: "127.0.0.1@test".into(),
        consumer_data_set: Vec::new(),
        producer_data_set: vec![ProducerData {
            group_name: group.into(),
        }],
        ..Default::default()
    };
    let req = RemotingCommand::request(rc::HEART_BEAT).with_body(body::to_json(&hb));
    let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
}

/// A half message as the Java transactional producer sends it.
pub struct Half {
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub uniq_key: String,
}

pub async fn send_half(client: &RemotingClient, addr: &str, body: &str, uniq_key: &str) -> Half {
    send_half_born(client, addr, body, uniq_key, now_ms()).await
}

/// [`send_half`] with a chosen born timestamp (the check service ages messages by it).
pub async fn send_half_born(
    client: &RemotingClient,
    addr: &str,
    body: &str,
    uniq_key: &str,
    born_ms: i64,
) -> Half {
    send_half_with(client, addr, body, uniq_key, born_ms, &[]).await
}

/// [`send_half_born`] with extra properties.
pub async fn send_half_with(
    client: &RemotingClient,
    addr: &str,
    body: &str,
    uniq_key: &str,
    born_ms: i64,
    extra: &[(&str, &str)],
) -> Half {
    let mut pairs = vec![
        (property::TRAN_MSG, "true"),
        (property::PGROUP, PRODUCER_GROUP),
        (property::UNIQ_KEY, uniq_key),
        (property::TAGS, "TagA"),
        (property::WAIT, "true"),
    ];
    pairs.extend_from_slice(extra);
    let props = message::encode_properties(&pairs);
    let h = SendMessageRequestHeader {
        producer_group: PRODUCER_GROUP.into(),
        topic: TOPIC.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 1,
        sys_flag: sys_flag::TRANSACTION_PREPARED_TYPE,
        born_timestamp: born_ms,
        flag: 0,
        properties: Some(props),
        ..Default::default()
    };
    let req = RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&h)
        .with_body(body.as_bytes().to_vec());
    let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    assert_eq!(
        resp.ext("queueId"),
        Some("1"),
        "the requested queue id is reported"
    );
    // 5.x fills transactionId with the message's unique key (rocketmq-spring reads it).
    assert_eq!(resp.ext("transactionId"), Some(uniq_key));
    let msg_id = resp.ext("msgId").unwrap();
    let (_, commit_log_offset) = message::decode_offset_msg_id(msg_id).unwrap();
    Half {
        queue_offset: resp.ext("queueOffset").unwrap().parse().unwrap(),
        commit_log_offset,
        uniq_key: uniq_key.into(),
    }
}

pub fn end_request(
    group: &str,
    queue_offset: i64,
    commit_log_offset: i64,
    state: i32,
    from_check: bool,
    msg_id: &str,
) -> RemotingCommand {
    RemotingCommand::request(rc::END_TRANSACTION)
        .with_ext("producerGroup", group)
        .with_ext("tranStateTableOffset", queue_offset.to_string())
        .with_ext("commitLogOffset", commit_log_offset.to_string())
        .with_ext("commitOrRollback", state.to_string())
        .with_ext("fromTransactionCheck", from_check.to_string())
        .with_ext("msgId", msg_id)
}

/// END_TRANSACTION, oneway as the Java producer sends it.
pub async fn end_oneway(client: &RemotingClient, addr: &str, half: &Half, state: i32) {
    let req = end_request(
        PRODUCER_GROUP,
        half.queue_offset,
        half.commit_log_offset,
        state,
        false,
        &half.uniq_key,
    );
    client.invoke_oneway(addr, req).await.unwrap();
}

pub async fn max_offset(client: &RemotingClient, addr: &str, topic: &str, queue_id: i32) -> i64 {
    let h = GetMaxOffsetRequestHeader {
        topic: topic.into(),
        queue_id,
        bname: None,
    };
    let req = RemotingCommand::request(rc::GET_MAX_OFFSET).with_header(&h);
    let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS);
    resp.ext("offset").unwrap().parse().unwrap()
}

/// Polls until the queue's max offset is `want` (oneway requests give no completion signal).
pub async fn wait_max_offset(client: &RemotingClient, addr: &str, topic: &str, queue_id: i32, want: i64) {
    let what = format!("{topic}:{queue_id} max offset {want}");
    wait::wait_for(&what, TIMEOUT, || async {
        match max_offset(client, addr, topic, queue_id).await {
            got if got == want => Ok(()),
            got => Err(format!("max offset {got}")),
        }
    })
    .await;
}

pub use rmq_protocol::time::now_ms;
