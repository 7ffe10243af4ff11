use std::collections::HashMap;

use super::*;
use crate::{RemotingCommand, SerializeType};

fn ext(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Encodes `h`, sends it through a frame in both serialize types, and decodes it again.
fn round_trip<H: CommandHeader + PartialEq + std::fmt::Debug + Clone>(h: H) {
    let mut map = HashMap::new();
    h.encode_ext(&mut map);
    assert_eq!(H::decode_ext(&map).unwrap(), h, "ext map round trip");
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let cmd = RemotingCommand::request(10)
            .with_serialize_type(st)
            .with_header(&h);
        let mut buf = bytes::BytesMut::new();
        cmd.encode(&mut buf).unwrap();
        let (back, used) = RemotingCommand::decode(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(back.header::<H>().unwrap(), h, "{st:?}");
    }
}

#[test]
fn parse_bool_is_java_liberal() {
    assert!(parse_bool("true"));
    assert!(parse_bool("TRUE"));
    assert!(parse_bool(" True "));
    assert!(parse_bool("1"));
    assert!(!parse_bool("false"));
    assert!(!parse_bool("yes"));
    assert!(!parse_bool(""));
}

fn send_header() -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: "TopicTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 1,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some("TAGS\u{1}TagA\u{2}WAIT\u{1}true".into()),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        bname: Some("broker-a".into()),
    }
}

#[test]
fn send_header_v1_and_v2_decode_to_same_struct() {
    let h = send_header();
    let mut v1 = HashMap::new();
    h.encode_ext(&mut v1);
    let mut v2 = HashMap::new();
    h.encode_v2(&mut v2);
    assert!(v1.contains_key("producerGroup") && !v1.contains_key("a"));
    assert_eq!(v2.get("a").map(String::as_str), Some("PG"));
    assert_eq!(v2.get("n").map(String::as_str), Some("broker-a"));
    assert_eq!(SendMessageRequestHeader::decode_ext(&v1).unwrap(), h);
    assert_eq!(SendMessageRequestHeader::decode_v2(&v2).unwrap(), h);
    round_trip(h.clone());
    round_trip(SendMessageRequestHeaderV2(h));
}

#[test]
fn send_v2_golden_header_decodes() {
    let json = r#"{"code":310,"extFields":{"a":"PG","b":"TopicTest","c":"TBW102","d":"4","e":"1","f":"0","g":"1700000000000","h":"0","i":"TAGS\u0001TagA\u0002WAIT\u0001true","j":"0","k":"false","m":"false","n":"broker-a"},"flag":0,"language":"JAVA","opaque":9,"serializeTypeCurrentRPC":"JSON","version":409}"#;
    let mut frame = Vec::new();
    frame.extend_from_slice(&((json.len() + 4) as i32).to_be_bytes());
    frame.extend_from_slice(&(json.len() as u32).to_be_bytes());
    frame.extend_from_slice(json.as_bytes());
    let (cmd, _) = RemotingCommand::decode(&frame).unwrap().unwrap();
    assert_eq!(cmd.code, 310);
    assert_eq!(cmd.header::<SendMessageRequestHeader>().unwrap(), send_header());
}

#[test]
fn missing_and_bad_fields() {
    let e = GetMaxOffsetRequestHeader::decode_ext(&ext(&[("topic", "T")])).unwrap_err();
    assert!(matches!(e, WireError::MissingField("queueId")));
    let e = GetMaxOffsetRequestHeader::decode_ext(&ext(&[("topic", "T"), ("queueId", "x")])).unwrap_err();
    assert!(matches!(e, WireError::BadField { field: "queueId", .. }));
    // liberal: trimmed numbers, unknown keys ignored
    let h = GetMaxOffsetRequestHeader::decode_ext(&ext(&[
        ("topic", "T"),
        ("queueId", " 3 "),
        ("AccessKey", "ak"),
    ]))
    .unwrap();
    assert_eq!(h.queue_id, 3);
    assert_eq!(h.bname, None);
    // primitives default when missing
    let h = RegisterBrokerRequestHeader::decode_ext(&ext(&[
        ("brokerName", "b"),
        ("brokerAddr", "a:1"),
        ("clusterName", "c"),
        ("haServerAddr", "a:2"),
        ("brokerId", "0"),
    ]))
    .unwrap();
    assert!(!h.compressed);
    assert_eq!(h.body_crc32, 0);
    let e = SendMessageRequestHeader::decode_ext(&ext(&[("a", "PG")])).unwrap_err();
    assert!(matches!(e, WireError::MissingField("topic")));
}

#[test]
fn wire_names_are_java_names() {
    let mut m = HashMap::new();
    UnregisterClientRequestHeader {
        client_id: "c".into(),
        ..Default::default()
    }
    .encode_ext(&mut m);
    assert_eq!(m, ext(&[("clientID", "c")]));
    let mut m = HashMap::new();
    ResetOffsetRequestHeader {
        is_force: true,
        timestamp: -1,
        ..Default::default()
    }
    .encode_ext(&mut m);
    assert_eq!(m.get("isForce").map(String::as_str), Some("true"));
    assert_eq!(m.get("timestamp").map(String::as_str), Some("-1"));
}

#[test]
fn every_header_round_trips() {
    let s = |v: &str| v.to_string();
    round_trip(SendMessageResponseHeader {
        msg_id: s("C0A8000100002A9F0000000000001000"),
        queue_id: 3,
        queue_offset: 42,
        transaction_id: None,
    });
    round_trip(PullMessageRequestHeader {
        consumer_group: s("CG"),
        topic: s("T"),
        queue_id: 1,
        queue_offset: 100,
        max_msg_nums: 32,
        sys_flag: 3,
        commit_offset: 90,
        suspend_timeout_millis: 15000,
        subscription: Some(s("TagA || TagB")),
        sub_version: 1,
        expression_type: Some(s("TAG")),
        bname: None,
    });
    round_trip(PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: 5,
        min_offset: 0,
        max_offset: 9,
        offset_delta: Some(-3),
    });
    round_trip(QueryConsumerOffsetRequestHeader {
        consumer_group: s("CG"),
        topic: s("T"),
        queue_id: 2,
        bname: Some(s("b")),
    });
    round_trip(QueryConsumerOffsetResponseHeader { offset: -1 });
    round_trip(UpdateConsumerOffsetRequestHeader {
        consumer_group: s("CG"),
        topic: s("T"),
        queue_id: 2,
        commit_offset: 77,
        bname: None,
    });
    round_trip(GetMaxOffsetRequestHeader {
        topic: s("T"),
        queue_id: 1,
        bname: None,
    });
    round_trip(GetMaxOffsetResponseHeader { offset: 10 });
    round_trip(GetMinOffsetRequestHeader {
        topic: s("T"),
        queue_id: 1,
        bname: None,
    });
    round_trip(GetMinOffsetResponseHeader { offset: 0 });
    round_trip(SearchOffsetRequestHeader {
        topic: s("T"),
        queue_id: 1,
        timestamp: 5,
        bname: None,
    });
    round_trip(SearchOffsetResponseHeader { offset: 3 });
    round_trip(GetEarliestMsgStoretimeRequestHeader {
        topic: s("T"),
        queue_id: 0,
        bname: None,
    });
    round_trip(GetEarliestMsgStoretimeResponseHeader { timestamp: -1 });
    round_trip(UnregisterClientRequestHeader {
        client_id: s("1.2.3.4@1"),
        producer_group: Some(s("PG")),
        consumer_group: None,
    });
    round_trip(GetConsumerListByGroupRequestHeader {
        consumer_group: s("CG"),
    });
    round_trip(NotifyConsumerIdsChangedRequestHeader {
        consumer_group: s("CG"),
    });
    round_trip(ConsumerSendMsgBackRequestHeader {
        offset: 4096,
        group: s("CG"),
        delay_level: 0,
        origin_msg_id: Some(s("AABB")),
        origin_topic: Some(s("T")),
        unit_mode: false,
        max_reconsume_times: Some(16),
        bname: None,
    });
    round_trip(QueryMessageRequestHeader {
        topic: s("T"),
        key: s("k"),
        max_num: 32,
        begin_timestamp: 0,
        end_timestamp: i64::MAX,
    });
    round_trip(QueryMessageResponseHeader {
        index_last_update_timestamp: 1,
        index_last_update_phyoffset: 2,
    });
    round_trip(ViewMessageRequestHeader { offset: 4096 });
    round_trip(EndTransactionRequestHeader {
        producer_group: s("PG"),
        tran_state_table_offset: 1,
        commit_log_offset: 2,
        commit_or_rollback: 8,
        from_transaction_check: Some(false),
        msg_id: s("AABB"),
        transaction_id: None,
        bname: None,
    });
    round_trip(CheckTransactionStateRequestHeader {
        tran_state_table_offset: 1,
        commit_log_offset: 2,
        msg_id: Some(s("u")),
        transaction_id: Some(s("u")),
        offset_msg_id: Some(s("o")),
        bname: None,
    });
    round_trip(RegisterBrokerRequestHeader {
        broker_name: s("broker-a"),
        broker_addr: s("1.2.3.4:10911"),
        cluster_name: s("DefaultCluster"),
        ha_server_addr: s("1.2.3.4:10912"),
        broker_id: 0,
        compressed: false,
        body_crc32: 12345,
        enable_acting_master: Some(false),
        heartbeat_timeout_millis: Some(10_000),
    });
    round_trip(RegisterBrokerResponseHeader {
        ha_server_addr: Some(s("h")),
        master_addr: None,
    });
    round_trip(UnregisterBrokerRequestHeader {
        broker_name: s("b"),
        broker_addr: s("a"),
        cluster_name: s("c"),
        broker_id: 1,
    });
    round_trip(GetRouteInfoRequestHeader {
        topic: s("T"),
        accept_standard_json_only: Some(true),
    });
    round_trip(PutKvConfigRequestHeader {
        namespace: s("n"),
        key: s("k"),
        value: s("v"),
    });
    round_trip(GetKvConfigRequestHeader {
        namespace: s("n"),
        key: s("k"),
    });
    round_trip(GetKvConfigResponseHeader { value: Some(s("v")) });
    round_trip(DeleteKvConfigRequestHeader {
        namespace: s("n"),
        key: s("k"),
    });
    round_trip(GetKvListByNamespaceRequestHeader { namespace: s("n") });
    round_trip(GetTopicsByClusterRequestHeader { cluster: s("c") });
    round_trip(DeleteTopicFromNamesrvRequestHeader {
        topic: s("T"),
        cluster_name: Some(s("c")),
    });
    round_trip(WipeWritePermOfBrokerRequestHeader { broker_name: s("b") });
    round_trip(WipeWritePermOfBrokerResponseHeader { wipe_topic_count: 3 });
    round_trip(AddWritePermOfBrokerRequestHeader { broker_name: s("b") });
    round_trip(AddWritePermOfBrokerResponseHeader { add_topic_count: 3 });
    round_trip(CreateTopicRequestHeader {
        topic: s("T"),
        default_topic: s("TBW102"),
        read_queue_nums: 8,
        write_queue_nums: 8,
        perm: 6,
        topic_filter_type: s("SINGLE_TAG"),
        topic_sys_flag: Some(0),
        order: false,
        attributes: Some(s("+message.type=FIFO")),
        force: None,
    });
    round_trip(DeleteTopicRequestHeader { topic: s("T") });
    round_trip(GetTopicStatsInfoRequestHeader { topic: s("T") });
    round_trip(GetConsumeStatsRequestHeader {
        consumer_group: s("CG"),
        topic: None,
    });
    round_trip(GetConsumerConnectionListRequestHeader {
        consumer_group: s("CG"),
    });
    round_trip(GetProducerConnectionListRequestHeader {
        producer_group: s("PG"),
    });
    round_trip(QueryTopicConsumeByWhoRequestHeader { topic: s("T") });
    round_trip(ResetOffsetRequestHeader {
        topic: s("T"),
        group: s("G"),
        timestamp: -1,
        is_force: true,
    });
    round_trip(QueryDataVersionRequestHeader {
        broker_name: s("b"),
        broker_addr: s("a"),
        cluster_name: s("c"),
        broker_id: 0,
    });
    round_trip(QueryDataVersionResponseHeader { changed: true });
    round_trip(GetConsumerStatusRequestHeader {
        topic: s("T"),
        group: s("G"),
        client_addr: None,
    });
    round_trip(GetConsumerRunningInfoRequestHeader {
        consumer_group: s("CG"),
        client_id: s("c"),
        jstack_enable: false,
    });
    round_trip(ConsumeMessageDirectlyResultRequestHeader {
        consumer_group: s("CG"),
        client_id: Some(s("c")),
        msg_id: Some(s("m")),
        broker_name: None,
        topic: Some(s("T")),
    });
    round_trip(DeleteSubscriptionGroupRequestHeader {
        group_name: s("G"),
        remove_offset: true,
    });
    round_trip(QueryConsumeTimeSpanRequestHeader {
        topic: s("T"),
        group: s("G"),
    });
    round_trip(QueryCorrectionOffsetHeader {
        filter_groups: Some(s("a,b")),
        compare_group: s("G"),
        topic: s("T"),
    });
    round_trip(CloneGroupOffsetRequestHeader {
        src_group: s("a"),
        dest_group: s("b"),
        topic: None,
        offline: true,
    });
    round_trip(ViewBrokerStatsDataRequestHeader {
        stats_name: s("n"),
        stats_key: s("k"),
    });
    round_trip(GetConsumeStatsInBrokerHeader { is_order: true });
    round_trip(QueryConsumeQueueRequestHeader {
        topic: s("T"),
        queue_id: 1,
        index: 2,
        count: 3,
        consumer_group: Some(s("G")),
    });
    round_trip(ResumeCheckHalfMessageRequestHeader { msg_id: Some(s("m")) });
    round_trip(GetBrokerConfigResponseHeader {
        version: s("{\"counter\":1,\"timestamp\":2}"),
    });
    round_trip(EmptyHeader);
}
