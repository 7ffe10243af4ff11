//! 5.x topic attributes over a real socket: UPDATE_AND_CREATE_TOPIC with `attributes`, the
//! result in GET_ALL_TOPIC_CONFIG, and the refusals (remarks as Java's `AttributeUtil`).

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
