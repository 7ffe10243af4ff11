//! Frames a RocketMQ 5.3.1 client exchanged with the Apache RocketMQ 5.x servers (captured
//! through a logging proxy; `conformance/golden/5.x/README.md`). Each frame decodes; each body
//! reads into rmq's types and, written back, is the JSON the 5.x server wrote — the superset rmq
//! sends is exactly 5.x's, field for field.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use rmq_protocol::body::{self, ConsumeStats, HeartbeatData, TopicConfig, TopicRouteData};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{
    CommandHeader, GetRouteInfoRequestHeader, PullMessageRequestHeader, SendMessageRequestHeader,
    SendMessageResponseHeader,
};
use rmq_protocol::RemotingCommand;
use serde::de::DeserializeOwned;
use serde::Serialize;

macro_rules! golden {
    ($name:literal) => {
        include_bytes!(concat!("../../../conformance/golden/5.x/", $name))
    };
}

fn frame(bytes: &[u8]) -> RemotingCommand {
    let (cmd, used) = RemotingCommand::decode(bytes).unwrap().expect("a whole frame");
    assert_eq!(used, bytes.len());
    cmd
}

/// Reads `json` as T and writes it back: the same JSON value as Java wrote.
fn same_json<T: DeserializeOwned + Serialize>(json: &[u8]) -> T {
    let v: T = body::from_fastjson(json).unwrap();
    let ours: serde_json::Value = serde_json::from_slice(&body::to_json(&v)).unwrap();
    let theirs: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(ours, theirs);
    v
}

#[test]
fn route_from_a_5x_name_server() {
    let req = frame(golden!("get_routeinfo_by_topic.request.frame"));
    assert_eq!(req.code, rc::GET_ROUTEINFO_BY_TOPIC);
    GetRouteInfoRequestHeader::decode_ext(&req.ext_fields).unwrap();
    let resp = frame(golden!("get_routeinfo_by_topic.response.frame"));
    assert_eq!(resp.code, code::SUCCESS);
    let route: TopicRouteData = same_json(&resp.body);
    assert!(!route.broker_datas[0].enable_acting_master);
    assert_eq!(
        &resp.body[..],
        &golden!("get_routeinfo_by_topic.response.bin")[..]
    );
}

#[test]
fn send_message_v2_and_its_answer() {
    let req = frame(golden!("send_message_v2.request.frame"));
    assert_eq!(req.code, rc::SEND_MESSAGE_V2);
    // The V2 short keys a..n (n = brokerName, 5.x) read into the V1 header.
    let h = SendMessageRequestHeader::decode_ext(&req.ext_fields).unwrap();
    let uniq = rmq_protocol::message::decode_properties(h.properties.as_deref().unwrap())["UNIQ_KEY"].clone();
    let resp = frame(golden!("send_message_v2.response.frame"));
    let r = SendMessageResponseHeader::decode_ext(&resp.ext_fields).unwrap();
    assert_eq!(r.transaction_id.as_deref(), Some(uniq.as_str()));
    for key in ["MSG_REGION", "TRACE_ON"] {
        assert!(resp.ext_fields.contains_key(key), "{key}");
    }
}

#[test]
fn heartbeat_of_a_5x_push_consumer() {
    let req = frame(golden!("heart_beat_push_consumer.request.frame"));
    assert_eq!(req.code, rc::HEART_BEAT);
    let hb: HeartbeatData = same_json(&req.body);
    assert_eq!(hb.heartbeat_fingerprint, 0);
    let resp = frame(golden!("heart_beat_push_consumer.response.frame"));
    assert_eq!(resp.ext("IS_SUPPORT_HEART_BEAT_V2"), Some("true"));
    assert_eq!(resp.ext("IS_SUB_CHANGE"), Some("true"));
}

#[test]
fn topic_config_and_lite_pull() {
    let resp = frame(golden!("get_topic_config.response.frame"));
    let tc: TopicConfig = same_json(&resp.body);
    assert_eq!(tc.message_type(), "NORMAL");
    let missing = frame(golden!("get_topic_config_topic_not_exist.response.frame"));
    assert_eq!(missing.code, code::TOPIC_NOT_EXIST);
    assert!(missing
        .remark
        .unwrap()
        .starts_with("No topic in this broker. topic: "));

    let pull = frame(golden!("lite_pull_message.request.frame"));
    assert_eq!(pull.code, rc::LITE_PULL_MESSAGE);
    let h = PullMessageRequestHeader::decode_ext(&pull.ext_fields).unwrap();
    assert_eq!(h.sys_flag & 0x10, 0x10, "the lite-pull flag");
}

#[test]
fn consume_stats_with_pull_offsets() {
    let resp = frame(golden!("get_consume_stats.response.frame"));
    // fastjson writes MessageQueue keys as bare objects (not JSON): compare as values.
    let stats: ConsumeStats = body::from_fastjson(&resp.body).unwrap();
    assert_eq!(stats.offset_table.len(), 4);
    assert!(stats.offset_table.values().any(|w| w.pull_offset == 10));
    let back: ConsumeStats = body::from_fastjson(&body::to_json(&stats)).unwrap();
    assert_eq!(back, stats);
}
