use super::*;

fn text(b: &Bytes) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// Parses `json` as T and checks that writing it back gives exactly `json`.
fn exact<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(json: &str) -> T {
    let v: T = from_fastjson(json.as_bytes()).unwrap();
    assert_eq!(text(&to_json(&v)), json);
    v
}

/// As a 4.9 broker writes it.
const REGISTER_BODY_4X: &str = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":5,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}"#;
/// The same in the 5.x superset rmq writes (topic `attributes`).
const REGISTER_BODY: &str = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":5,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}"#;

#[test]
fn register_broker_body_golden() {
    let b: RegisterBrokerBody = exact(REGISTER_BODY);
    assert_eq!(
        from_fastjson::<RegisterBrokerBody>(REGISTER_BODY_4X.as_bytes()).unwrap(),
        b
    );
    let w = &b.topic_config_serialize_wrapper;
    assert_eq!(
        w.data_version,
        DataVersion {
            counter: 5,
            timestamp: 1_700_000_000_000,
            state_version: 0,
        }
    );
    assert_eq!(w.topic_config_table["TopicTest"].perm, 6);
    // the three request formats
    assert_eq!(
        RegisterBrokerBody::decode_request(REGISTER_BODY.as_bytes(), false, 409).unwrap(),
        b
    );
    let wrapper = to_json(w);
    assert_eq!(
        RegisterBrokerBody::decode_request(&wrapper, false, 36).unwrap(),
        b
    );
    let compressed = b.encode_compressed();
    assert_eq!(&compressed[..2], &[0x78, 0xDA]);
    assert_eq!(
        RegisterBrokerBody::decode_request(&compressed, true, 409).unwrap(),
        b
    );
    assert_eq!(
        RegisterBrokerBody::decode_request(&[], false, 409).unwrap(),
        RegisterBrokerBody::default()
    );
    assert!(RegisterBrokerBody::decode_request(b"xx", true, 409).is_err());
}

#[test]
fn compressed_register_golden_inflated_layout() {
    // 00000027 {"counter":5,"timestamp":1700000000000} 00000001 0000001a "TopicTest 4 4 6 SINGLE_TAG" 00000002 "[]"
    let mut raw = Vec::new();
    let dv = br#"{"counter":5,"timestamp":1700000000000}"#;
    raw.extend_from_slice(&0x27i32.to_be_bytes());
    raw.extend_from_slice(dv);
    raw.extend_from_slice(&1i32.to_be_bytes());
    raw.extend_from_slice(&0x1ai32.to_be_bytes());
    raw.extend_from_slice(b"TopicTest 4 4 6 SINGLE_TAG");
    raw.extend_from_slice(&2i32.to_be_bytes());
    raw.extend_from_slice(b"[]");
    let b = RegisterBrokerBody::decode_compressed(&crate::message::zlib_compress(&raw, 9)).unwrap();
    let tc = &b.topic_config_serialize_wrapper.topic_config_table["TopicTest"];
    assert_eq!((tc.read_queue_nums, tc.write_queue_nums, tc.perm), (4, 4, 6));
    assert_eq!(tc.topic_filter_type, "SINGLE_TAG");
    let expected: RegisterBrokerBody = from_fastjson(REGISTER_BODY.as_bytes()).unwrap();
    assert_eq!(b, expected);
    assert_eq!(
        crate::message::zlib_decompress(&expected.encode_compressed(), 1 << 20).unwrap(),
        raw
    );
}

/// The REGISTER_BROKER body of a real Apache RocketMQ 4.9.7 broker with
/// `compressedRegister=true` (captured by a logging proxy in front of the name server; header
/// `"compressed":"true","bodyCrc32":"192447988"`, version 407).
const JAVA_COMPRESSED_REGISTER: [&str; 5] = [
    "78da63606050af564ace2fcd2b492d52b232d0512ac9cc4d2d2e49cc2d50b23234b7343535b730333130b534af65",
    "6060e00062b560670f5797501fd7f810ff004fe7f808205030b400213385604f3f77908ca33b50a5585662596292",
    "8221109aa3cac87b39c707b906f84442cc002b41d3ace2949a979c919b58941d02748e82a1819109844053a7ecef",
    "e616ec1a12efeb1fe6ea12ef1ae6ea1782cd38512fa02d662084e614f110a770a0b90a16408826a510eceae3161f",
    "e21a1c82db994cd1b100952c4e1b",
];

#[test]
fn compressed_register_captured_from_java() {
    let body: Vec<u8> = JAVA_COMPRESSED_REGISTER
        .concat()
        .as_bytes()
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect();
    assert_eq!((crc32fast::hash(&body) & 0x7FFF_FFFF) as i32, 192_447_988);
    let b = RegisterBrokerBody::decode_request(&body, true, 407).unwrap();
    let w = &b.topic_config_serialize_wrapper;
    assert_eq!(w.data_version.counter, 0);
    assert_eq!(w.topic_config_table.len(), 8);
    let tbw = &w.topic_config_table["TBW102"];
    assert_eq!((tbw.read_queue_nums, tbw.write_queue_nums, tbw.perm), (8, 8, 7));
    let schedule = &w.topic_config_table["SCHEDULE_TOPIC_XXXX"];
    assert_eq!((schedule.read_queue_nums, schedule.perm), (18, 6));
    assert_eq!(w.topic_config_table["BenchmarkTest"].write_queue_nums, 1024);
    assert!(b.filter_server_list.is_empty());
}

#[test]
fn topic_config_wrapper_golden_and_defaults() {
    let w = exact::<TopicConfigSerializeWrapper>(
        r#"{"dataVersion":{"counter":5,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"attributes":{"message.type":"FIFO"},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}"#,
    );
    assert_eq!(w.topic_config_table["TopicTest"].message_type(), "FIFO");
    // 4.x: no attributes; null attributes; non-string values kept as their JSON text.
    let tc: TopicConfig = from_fastjson(br#"{"topicName":"T","attributes":null}"#).unwrap();
    assert!(tc.attributes.is_empty());
    assert_eq!(tc.message_type(), "NORMAL");
    let tc: TopicConfig = from_fastjson(br#"{"topicName":"T","attributes":{"reserve.time":72}}"#).unwrap();
    assert_eq!(tc.attributes["reserve.time"], "72");
    let tc: TopicConfig = from_fastjson(br#"{"topicName":"T","topicFilterType":1,"extra":1}"#).unwrap();
    assert_eq!(tc.read_queue_nums, 16);
    assert_eq!(tc.perm, 6);
    assert_eq!(tc.topic_filter_type, "MULTI_TAG");
    assert_eq!(perm::to_display(7), "RWX");
    assert_eq!(
        TopicConfig::decode_text("T 1 2 6 SINGLE_TAG")
            .unwrap()
            .write_queue_nums,
        2
    );
    assert!(TopicConfig::decode_text("T 1 2 6").is_none());
    // 5.x compressed registration: a sixth part with the attributes JSON.
    let tc = TopicConfig::decode_text(r#"T 1 2 6 SINGLE_TAG {"message.type":"FIFO"}"#).unwrap();
    assert_eq!(tc.message_type(), "FIFO");
    assert_eq!(TopicConfig::decode_text(&tc.encode_text()).unwrap(), tc);
    assert_eq!(
        TopicConfig::decode_text("T 1 2 6 SINGLE_TAG {}")
            .unwrap()
            .attributes
            .len(),
        0
    );
    // Unparsable attributes are dropped, as Java does; no attributes → the 4.9 five-part form.
    assert!(TopicConfig::decode_text("T 1 2 6 SINGLE_TAG {oops").is_some());
    assert_eq!(TopicConfig::new("T").encode_text().split(' ').count(), 5);
}

/// The 5.x standard-JSON route (`enableActingMaster` on every broker entry; no
/// `topicQueueMappingByBroker` for ordinary topics), which rmq writes.
const ROUTE_STANDARD: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.1:10911","1":"192.168.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
/// A 4.9.4+ name server's standard JSON.
const ROUTE_STANDARD_4X: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.1:10911","1":"192.168.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
const ROUTE_FASTJSON: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"192.168.0.1:10911",1:"192.168.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;

#[test]
fn route_both_dialects() {
    let standard: TopicRouteData = exact(ROUTE_STANDARD);
    let old: TopicRouteData = from_fastjson(ROUTE_FASTJSON.as_bytes()).unwrap();
    assert_eq!(standard, old);
    assert_eq!(
        from_fastjson::<TopicRouteData>(ROUTE_STANDARD_4X.as_bytes()).unwrap(),
        old
    );
    // 5.x fields read back: zone, acting master ("1" as fastjson accepts), static-topic mapping.
    let five: TopicRouteData = from_fastjson(
        br#"{"brokerDatas":[{"brokerAddrs":{"0":"a:1"},"brokerName":"b","cluster":"C","enableActingMaster":"1","zoneName":"z"}],"queueDatas":[],"topicQueueMappingByBroker":{"b":{"bname":"b","currIdMap":{"0":0},"epoch":1,"scope":"__global__","topic":"T","totalQueues":1}}}"#,
    )
    .unwrap();
    assert!(five.broker_datas[0].enable_acting_master);
    assert_eq!(five.broker_datas[0].zone_name.as_deref(), Some("z"));
    assert_eq!(five.topic_queue_mapping_by_broker.as_ref().unwrap().len(), 1);
    assert!(text(&to_json(&five)).contains(r#""zoneName":"z""#));
    assert_eq!(old.broker_datas[0].master_addr(), Some("192.168.0.1:10911"));
    assert_eq!(old.broker_datas[0].broker_addrs[&1], "192.168.0.2:10911");
    assert_eq!(old.order_topic_conf, None);
    let with_conf = TopicRouteData {
        order_topic_conf: Some("broker-a:4".into()),
        ..old
    };
    assert!(text(&to_json(&with_conf)).contains(r#""orderTopicConf":"broker-a:4""#));
    // BrowserCompatible \uXXXX escapes
    let escaped: TopicList = from_fastjson(br#"{"topicList":["\u4e2d"]}"#).unwrap();
    assert_eq!(escaped.topic_list, ["中"]);
}

#[test]
fn cluster_info_topic_list_kv_table() {
    let ci: ClusterInfo = from_fastjson(br#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"192.168.0.1:10911",1:"192.168.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#).unwrap();
    assert_eq!(ci.broker_addr_table["broker-a"].broker_addrs.len(), 2);
    assert!(ci.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    let back: ClusterInfo = from_fastjson(&to_json(&ci)).unwrap();
    assert_eq!(back, ci);
    exact::<TopicList>(r#"{"topicList":["TopicTest"]}"#);
    exact::<TopicList>(r#"{"brokerAddr":"1.2.3.4:10911","topicList":["DefaultCluster"]}"#);
    exact::<KvTable>(r#"{"table":{"TopicTest":"broker-a:4"}}"#);
    exact::<GetConsumerListByGroupResponseBody>(r#"{"consumerIdList":["192.168.0.10@12345#987"]}"#);
}

/// A 5.x client's heartbeat (v1: fingerprint 0).
const HEARTBEAT: &str = r#"{"clientID":"192.168.0.10@12345#987654321","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"CG","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1700000000001,"tagsSet":[],"topic":"%RETRY%CG"},{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"TopicTest"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}],"withoutSub":false}"#;
/// The same from a 4.9 client.
const HEARTBEAT_4X: &str = r#"{"clientID":"192.168.0.10@12345#987654321","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"CG","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1700000000001,"tagsSet":[],"topic":"%RETRY%CG"},{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"TopicTest"}],"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;

#[test]
fn heartbeat_golden() {
    let hb: HeartbeatData = exact(HEARTBEAT);
    assert_eq!(
        from_fastjson::<HeartbeatData>(HEARTBEAT_4X.as_bytes()).unwrap(),
        hb
    );
    assert_eq!(hb.client_id, "192.168.0.10@12345#987654321");
    let cd = &hb.consumer_data_set[0];
    assert_eq!(cd.message_model, "CLUSTERING");
    let sub = &cd.subscription_data_set[1];
    assert_eq!(
        *sub,
        SubscriptionData::from_tag_expression("TopicTest", "TagA || TagB", 1_700_000_000_000)
    );
    assert!(cd.subscription_data_set[0].is_all());
    assert_eq!(
        cd.subscription_data_set[0],
        SubscriptionData::from_tag_expression("%RETRY%CG", "*", 1_700_000_000_001)
    );
}

/// The body rocketmq-client-cpp 1.x/2.x sends (taken through a logging proxy): enums as
/// ordinals, `subVersion` as a string, no producerDataSet, a trailing newline.
#[test]
fn heartbeat_of_the_cpp_client() {
    let hb: HeartbeatData = from_fastjson(
        b"{\"clientID\":\"8506-127.0.0.1@DEFAULT\",\"consumerDataSet\":[{\"consumeFromWhere\":4,\"consumeType\":1,\"groupName\":\"G\",\"messageModel\":1,\"subscriptionDataSet\":[{\"subString\":\"*\",\"subVersion\":\"1796224873882\",\"topic\":\"%RETRY%G\"},{\"subString\":\"TagA\",\"subVersion\":\"1796224873882\",\"tagsSet\":[\"TagA\"],\"codeSet\":[2598919],\"topic\":\"T2\"}]}]}\n",
    )
    .unwrap();
    let cd = &hb.consumer_data_set[0];
    assert_eq!(cd.consume_from_where, "CONSUME_FROM_FIRST_OFFSET");
    assert_eq!(cd.message_model, "CLUSTERING");
    assert_eq!(cd.subscription_data_set[0].sub_version, 1_796_224_873_882);
    assert_eq!(
        cd.subscription_data_set[1],
        SubscriptionData::from_tag_expression("T2", "TagA", 1_796_224_873_882)
    );
    let sub: SubscriptionData = from_fastjson(br#"{"subVersion":null}"#).unwrap();
    assert_eq!(sub.sub_version, 0);
    assert!(from_fastjson::<SubscriptionData>(br#"{"subVersion":"x1"}"#).is_err());
}

/// The body rocketmq-client-go v2.1.2 sends for a tag subscription (through a logging proxy):
/// `codeSet` entries as strings.
#[test]
fn heartbeat_of_the_go_client() {
    let hb: HeartbeatData = from_fastjson(
        br#"{"clientID":"192.0.2.2@26069","producerDataSet":[{"groupName":"GoProducer_289c5b8"}],"consumerDataSet":[{"groupName":"GoTag_289c5b8","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"GoTopic_289c5b8","subString":"TagA","tagsSet":["TagA"],"codeSet":["2598919"],"subVersion":1796225666221960896,"expressionType":"TAG"},{"classFilterMode":false,"topic":"%RETRY%GoTag_289c5b8","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1796225666221977944,"expressionType":"TAG"}],"unitMode":false}]}"#,
    )
    .unwrap();
    let cd = &hb.consumer_data_set[0];
    assert_eq!(hb.producer_data_set[0].group_name, "GoProducer_289c5b8");
    assert_eq!(
        cd.subscription_data_set[0],
        SubscriptionData::from_tag_expression("GoTopic_289c5b8", "TagA", 1_796_225_666_221_960_896)
    );
    assert!(cd.subscription_data_set[1].code_set.is_empty());
    let sub: SubscriptionData = from_fastjson(br#"{"codeSet":[1," -2 ",null]}"#).unwrap();
    assert_eq!(sub.code_set, vec![1, -2]);
    let sub: SubscriptionData = from_fastjson(br#"{"codeSet":null}"#).unwrap();
    assert!(sub.code_set.is_empty());
    assert!(from_fastjson::<SubscriptionData>(br#"{"codeSet":["4294967296"]}"#).is_err());
}

#[test]
fn heartbeat_enums_as_numbers_and_missing_fields() {
    let hb: HeartbeatData = from_fastjson(
        br#"{"clientID":"c","consumerDataSet":[{"consumeFromWhere":4,"consumeType":1,"groupName":"CG","messageModel":0,"subscriptionDataSet":[{"topic":"T","subString":"*"}]}],"unknown":{"a":1}}"#,
    )
    .unwrap();
    let cd = &hb.consumer_data_set[0];
    assert_eq!(cd.consume_from_where, "CONSUME_FROM_FIRST_OFFSET");
    assert_eq!(cd.consume_type, "CONSUME_PASSIVELY");
    assert_eq!(cd.message_model, "BROADCASTING");
    assert!(!cd.unit_mode);
    assert!(hb.producer_data_set.is_empty());
    let sub = &cd.subscription_data_set[0];
    assert_eq!(sub.expression_type, "TAG");
    assert!(sub.is_tag_type() && sub.tags_set.is_empty() && sub.sub_version == 0);
    let empty: HeartbeatData = from_fastjson(b"{}").unwrap();
    assert_eq!(empty, HeartbeatData::default());
    let odd: ConsumerData = from_fastjson(br#"{"consumeType":null,"messageModel":9}"#).unwrap();
    assert_eq!((odd.consume_type.as_str(), odd.message_model.as_str()), ("", "9"));
    assert!(from_fastjson::<ConsumerData>(br#"{"consumeType":[1]}"#).is_err());
}

#[test]
fn lock_bodies_golden() {
    let req: LockBatchRequestBody = exact(
        r#"{"clientId":"192.168.0.10@12345","consumerGroup":"CG","mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}]}"#,
    );
    assert_eq!(req.mq_set[0], MessageQueue::new("TopicTest", "broker-a", 0));
    exact::<LockBatchResponseBody>(
        r#"{"lockOKMQSet":[{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}]}"#,
    );
}

#[test]
fn message_queue_keyed_maps() {
    let mq = MessageQueue::new("TopicTest", "broker-a", 0);
    let cs: ConsumeStats = from_fastjson(br#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:{"brokerOffset":100,"consumerOffset":90,"lastTimestamp":1700000000000}}}"#).unwrap();
    assert_eq!(cs.consume_tps, 1.5);
    assert_eq!(cs.offset_table[&mq].broker_offset, 100);
    assert_eq!(
        text(&to_json(&cs)),
        r#"{"consumeTps":1.5,"offsetTable":{"{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"TopicTest\"}":{"brokerOffset":100,"consumerOffset":90,"lastTimestamp":1700000000000,"pullOffset":0}}}"#
    );
    assert_eq!(from_fastjson::<ConsumeStats>(&to_json(&cs)).unwrap(), cs);

    let ts: TopicStatsTable = from_fastjson(br#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":100,"minOffset":0}}}"#).unwrap();
    assert_eq!(ts.offset_table[&mq].max_offset, 100);
    let rb: ResetOffsetBody =
        from_fastjson(br#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:5}}"#)
            .unwrap();
    assert_eq!(rb.offset_table[&mq], 5);
    assert_eq!(from_fastjson::<ResetOffsetBody>(&to_json(&rb)).unwrap(), rb);
    let gs: GetConsumerStatusBody = from_fastjson(
        br#"{"consumerTable":{},"messageQueueTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5}}"#,
    )
    .unwrap();
    assert_eq!(gs.message_queue_table.len(), 1);
    assert!(from_fastjson::<ResetOffsetBody>(br#"{"offsetTable":{"not json":5}}"#).is_err());
}

#[test]
fn admin_bodies() {
    exact::<GroupList>(r#"{"groupList":["CG"]}"#);
    let cc: ConsumerConnection = exact(
        r#"{"connectionSet":[{"clientAddr":"1.2.3.4:5555","clientId":"x@1","language":"JAVA","version":409}],"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"TopicTest":{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"TopicTest"}}}"#,
    );
    assert_eq!(cc.connection_set[0].version, 409);
    let pc: ProducerConnection = exact(r#"{"connectionSet":[]}"#);
    assert!(pc.connection_set.is_empty());
    let conn: Connection = from_fastjson(br#"{"language":12}"#).unwrap();
    assert_eq!(conn.language, "RUST");

    // 4.9 form, read; 5.x superset, written.
    let sg4: SubscriptionGroupConfig = from_fastjson(
        br#"{"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"groupName":"CG","notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#,
    )
    .unwrap();
    assert_eq!(sg4, SubscriptionGroupConfig::new("CG"));
    let sg: SubscriptionGroupConfig = exact(
        r#"{"attributes":{},"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"CG","groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#,
    );
    assert_eq!(sg, SubscriptionGroupConfig::new("CG"));
    let partial: SubscriptionGroupConfig =
        from_fastjson(br#"{"groupName":"G","consumeEnable":false}"#).unwrap();
    assert!(!partial.consume_enable && partial.retry_max_times == 16);

    let co: ConsumerOffsetSerializeWrapper =
        from_fastjson(br#"{"offsetTable":{"TopicTest@CG":{0:5}}}"#).unwrap();
    assert_eq!(co.offset_table["TopicTest@CG"][&0], 5);
    assert_eq!(text(&to_json(&co)), r#"{"offsetTable":{"TopicTest@CG":{"0":5}}}"#);
    let qc: QueryCorrectionOffsetBody = from_fastjson(br#"{"correctionOffsets":{0:3}}"#).unwrap();
    assert_eq!(qc.correction_offsets[&0], 3);

    let cr: ConsumeMessageDirectlyResult = exact(
        r#"{"autoCommit":true,"consumeResult":"CR_SUCCESS","order":false,"remark":"ok","spentTimeMills":3}"#,
    );
    assert_eq!(cr.spent_time_mills, 3);
    let cr: ConsumeMessageDirectlyResult = from_fastjson(br#"{"consumeResult":1}"#).unwrap();
    assert_eq!(cr.consume_result, "CR_LATER");

    let ri: ConsumerRunningInfo = from_fastjson(br#"{"mqTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"cachedMsgCount":0,"cachedMsgMaxOffset":0,"cachedMsgMinOffset":0,"cachedMsgSizeInMiB":0,"commitOffset":0,"droped":false,"lastConsumeTimestamp":0,"lastLockTimestamp":0,"lastPullTimestamp":0,"locked":false,"transactionMsgCount":0,"transactionMsgMaxOffset":0,"transactionMsgMinOffset":0,"tryUnlockTimes":0}},"properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY","PROP_CONSUMEORDERLY":"false"},"statusTable":{"T":{"consumeFailedMsgs":0,"consumeFailedTPS":0.0,"consumeOKTPS":0.0,"consumeRT":0.0,"pullRT":0.0,"pullTPS":0.0}},"subscriptionSet":[{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1,"tagsSet":[],"topic":"T"}]}"#).unwrap();
    assert_eq!(ri.mq_table.len(), 1);
    assert_eq!(ri.properties["PROP_CONSUME_TYPE"], "CONSUME_PASSIVELY");
    assert_eq!(from_fastjson::<ConsumerRunningInfo>(&to_json(&ri)).unwrap(), ri);

    let cc: CheckClientRequestBody = from_fastjson(br#"{"clientId":"c","group":"g","subscriptionData":{"topic":"T","subString":"a > 1","expressionType":"SQL92"}}"#).unwrap();
    assert!(!cc.subscription_data.is_tag_type());
}

#[test]
fn malformed_bodies_are_errors() {
    for bad in [&b"{"[..], b"{\"clientID\":5}", b"\xff", b"{0:}"] {
        assert!(
            from_fastjson::<HeartbeatData>(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn from_fastjson_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = from_fastjson::<TopicRouteData>(&data);
            let _ = from_fastjson::<ConsumeStats>(&data);
        }

        #[test]
        fn fastjson_like_text_never_panics(s in "[{}\\[\\]:,\"0-9a-z \\\\]{0,60}") {
            let _ = fastjson::normalize(s.as_bytes());
            let _ = from_fastjson::<ClusterInfo>(s.as_bytes());
        }
    }
}
