//! 5.x topic attributes over a real socket: UPDATE_AND_CREATE_TOPIC with `attributes`, the
//! result in GET_ALL_TOPIC_CONFIG, and the refusals (remarks as Java's `AttributeUtil`).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use common::*;
use rmq_broker::Broker;
use rmq_protocol::body::{self, TopicConfigSerializeWrapper};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::CreateTopicRequestHeader;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

fn create(topic: &str, attributes: Option<&str>) -> RemotingCommand {
    let h = CreateTopicRequestHeader {
        topic: topic.into(),
        default_topic: "TBW102".into(),
        read_queue_nums: 4,
        write_queue_nums: 4,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: Some(0),
        order: false,
        attributes: attributes.map(str::to_owned),
        force: None,
    };
    RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC).with_header(&h)
}

async fn attributes_of(client: &RemotingClient, addr: &str, topic: &str) -> Vec<(String, String)> {
    let resp = client
        .invoke(addr, RemotingCommand::request(rc::GET_ALL_TOPIC_CONFIG), TIMEOUT)
        .await
        .unwrap();
    let w: TopicConfigSerializeWrapper = body::from_fastjson(&resp.body).unwrap();
    w.topic_config_table[topic]
        .attributes
        .clone()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_alter_and_refuse_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let addr = addr(&broker);
    let client = RemotingClient::new();
    let call = |req| {
        let client = &client;
        let addr = &addr;
        async move { client.invoke(addr, req, TIMEOUT).await.unwrap() }
    };

    let r = call(create("FifoTopic", Some("+message.type=FIFO"))).await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    assert_eq!(
        attributes_of(&client, &addr, "FifoTopic").await,
        [("message.type".to_string(), "FIFO".to_string())]
    );
    // The JSON body carries `attributes` (5.x superset); a 4.x client ignores it.
    let all = call(RemotingCommand::request(rc::GET_ALL_TOPIC_CONFIG)).await;
    assert!(String::from_utf8_lossy(&all.body).contains(r#""attributes":{"message.type":"FIFO"}"#));

    // An update without attributes keeps them; one with "+" alters them.
    assert_eq!(call(create("FifoTopic", None)).await.code, code::SUCCESS);
    assert_eq!(attributes_of(&client, &addr, "FifoTopic").await.len(), 1);
    assert_eq!(
        call(create("FifoTopic", Some("+message.type=DELAY"))).await.code,
        code::SUCCESS
    );
    assert_eq!(attributes_of(&client, &addr, "FifoTopic").await[0].1, "DELAY");

    for (topic, attrs, remark) in [
        (
            "New1",
            "-message.type",
            "only add attribute is supported while creating topic. key: message.type",
        ),
        ("New2", "+colour=red", "unsupported key: colour"),
        (
            "New3",
            "message.type=FIFO",
            "add/alter attribute format is wrong: message.type",
        ),
        (
            "New4",
            "+message.type=MIXED",
            "MIXED message type is not supported.",
        ),
        (
            "FifoTopic",
            "+queue.type=BatchCQ",
            "attempt to update an unchangeable attribute. key: queue.type",
        ),
    ] {
        let r = call(create(topic, Some(attrs))).await;
        assert_eq!(r.code, code::SYSTEM_ERROR, "{topic} {attrs}");
        assert_eq!(r.remark.as_deref(), Some(remark));
    }
    // Nothing was created by a refused request; the connection keeps serving.
    let all = call(RemotingCommand::request(rc::GET_ALL_TOPIC_CONFIG)).await;
    let w: TopicConfigSerializeWrapper = body::from_fastjson(&all.body).unwrap();
    assert!(!w.topic_config_table.contains_key("New1"));
    assert_eq!(attributes_of(&client, &addr, "FifoTopic").await[0].1, "DELAY");
    broker.shutdown().await.unwrap();
}

/// The 5.x single-item admin reads and list writes: GET_TOPIC_CONFIG (351),
/// UPDATE_AND_CREATE_TOPIC_LIST (18), GET_SUBSCRIPTIONGROUP_CONFIG (352),
/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST (225).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_x_topic_and_group_admin_codes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let addr = addr(&broker);
    let client = RemotingClient::new();
    let call = |req| {
        let client = &client;
        let addr = &addr;
        async move { client.invoke(addr, req, TIMEOUT).await.unwrap() }
    };
    let list = r#"{"topicConfigList":[{"topicName":"L1","readQueueNums":2,"writeQueueNums":2,"perm":6,"attributes":{"+message.type":"FIFO"}},{"topicName":"L2","readQueueNums":3,"writeQueueNums":3,"perm":6}]}"#;
    let r =
        call(RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC_LIST).with_body(list.as_bytes().to_vec()))
            .await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let one = call(RemotingCommand::request(rc::GET_TOPIC_CONFIG).with_ext("topic", "L1")).await;
    assert_eq!(one.code, code::SUCCESS);
    let tc: rmq_protocol::body::TopicConfig = body::from_fastjson(&one.body).unwrap();
    assert_eq!((tc.read_queue_nums, tc.message_type()), (2, "FIFO"));
    let missing = call(RemotingCommand::request(rc::GET_TOPIC_CONFIG).with_ext("topic", "Nope")).await;
    assert_eq!(missing.code, code::TOPIC_NOT_EXIST);
    assert_eq!(
        missing.remark.as_deref(),
        Some("No topic in this broker. topic: Nope")
    );
    // A bad entry refuses the whole list: nothing of it is written.
    let bad = r#"{"topicConfigList":[{"topicName":"L3"},{"topicName":"L4","attributes":{"+nope":"x"}}]}"#;
    let r =
        call(RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC_LIST).with_body(bad.as_bytes().to_vec()))
            .await;
    assert_eq!(
        (r.code, r.remark.as_deref()),
        (code::SYSTEM_ERROR, Some("unsupported key: nope"))
    );
    let l3 = call(RemotingCommand::request(rc::GET_TOPIC_CONFIG).with_ext("topic", "L3")).await;
    assert_eq!(l3.code, code::TOPIC_NOT_EXIST);

    let groups = r#"{"groupConfigList":[{"groupName":"G1","consumeMessageOrderly":true},{"groupName":"G2","retryMaxTimes":3}]}"#;
    let r = call(
        RemotingCommand::request(rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST)
            .with_body(groups.as_bytes().to_vec()),
    )
    .await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let g = call(RemotingCommand::request(rc::GET_SUBSCRIPTIONGROUP_CONFIG).with_ext("group", "G2")).await;
    assert_eq!(g.code, code::SUCCESS);
    let g: rmq_protocol::body::SubscriptionGroupConfig = body::from_fastjson(&g.body).unwrap();
    assert_eq!(g.retry_max_times, 3);
    let g1 = call(RemotingCommand::request(rc::GET_SUBSCRIPTIONGROUP_CONFIG).with_ext("group", "G1")).await;
    let g1: rmq_protocol::body::SubscriptionGroupConfig = body::from_fastjson(&g1.body).unwrap();
    assert!(g1.consume_message_orderly);
    let none =
        call(RemotingCommand::request(rc::GET_SUBSCRIPTIONGROUP_CONFIG).with_ext("group", "nobody")).await;
    assert_eq!(
        (none.code, none.remark.as_deref()),
        (code::SYSTEM_ERROR, Some("No group in this broker"))
    );
    broker.shutdown().await.unwrap();
}
