//! The 5.x gRPC protocol served by the broker (docs/protocol/grpc.md), called with the generated
//! tonic client on loopback: the Telemetry Settings exchange, Heartbeat, QueryRoute, and
//! SendMessage stored through the broker's own send path.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::Duration;

use rmq_broker::{Broker, BrokerConfig};
use rmq_grpc_proto::prost_types;
use rmq_grpc_proto::tonic::transport::Channel;
use rmq_grpc_proto::tonic::Request;
use rmq_grpc_proto::v2::messaging_service_client::MessagingServiceClient;
use rmq_grpc_proto::v2::*;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::CreateTopicRequestHeader;
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "GrpcTopic";
const FIFO_TOPIC: &str = "GrpcFifoTopic";

fn config(dir: &std::path::Path) -> BrokerConfig {
    common::config(dir)
}

async fn client(b: &Broker) -> MessagingServiceClient<Channel> {
    let addr = b.grpc_addr().expect("gRPC served");
    MessagingServiceClient::connect(format!("http://127.0.0.1:{}", addr.port()))
        .await
        .unwrap()
}

fn with_id<T>(msg: T, id: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert("x-mq-client-id", id.parse().unwrap());
    r.metadata_mut().insert("x-mq-language", "RUST".parse().unwrap());
    r
}

fn resource(name: &str) -> Option<Resource> {
    Some(Resource {
        resource_namespace: String::new(),
        name: name.into(),
    })
}

async fn create_topic(b: &Broker, topic: &str, attributes: Option<&str>) {
    let h = CreateTopicRequestHeader {
        topic: topic.into(),
        default_topic: "TBW102".into(),
        read_queue_nums: 4,
        write_queue_nums: 4,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: None,
        order: false,
        attributes: attributes.map(str::to_string),
    };
    let req = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC).with_header(&h);
    let resp = RemotingClient::new()
        .invoke(&common::addr(b), req, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
}

fn message(topic: &str, id: &str, group: Option<&str>) -> Message {
    Message {
        topic: resource(topic),
        user_properties: [("color".to_string(), "blue".to_string())].into_iter().collect(),
        system_properties: Some(SystemProperties {
            tag: Some("TagA".into()),
            keys: vec!["k1".into(), "k2".into()],
            message_id: id.into(),
            message_type: if group.is_some() {
                MessageType::Fifo as i32
            } else {
                MessageType::Normal as i32
            },
            message_group: group.map(str::to_string),
            born_timestamp: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            ..SystemProperties::default()
        }),
        body: "hello grpc".into(),
    }
}

fn code_of(s: &Option<Status>) -> i32 {
    s.as_ref().map_or(-1, |s| s.code)
}

#[tokio::test]
async fn a_producer_settles_its_settings_routes_and_sends() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, TOPIC, None).await;

    // No client id: refused in the body, as the Proxy does.
    let req = Request::new(QueryRouteRequest {
        topic: resource(TOPIC),
        endpoints: None,
    });
    let resp = c.query_route(req).await.unwrap().into_inner();
    assert_eq!(code_of(&resp.status), Code::ClientIdRequired as i32);

    // Heartbeat before Settings: unknown client.
    let hb = || HeartbeatRequest {
        group: None,
        client_type: ClientType::Producer as i32,
    };
    let resp = c.heartbeat(with_id(hb(), "p1")).await.unwrap().into_inner();
    assert_eq!(code_of(&resp.status), Code::UnrecognizedClientType as i32);

    // Telemetry: the producer's Settings, answered with the server's.
    let settings = Settings {
        client_type: Some(ClientType::Producer as i32),
        pub_sub: Some(settings::PubSub::Publishing(Publishing {
            topics: vec![resource(TOPIC).unwrap()],
            max_body_size: 0,
            validate_message_type: true,
        })),
        ..Settings::default()
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(telemetry_command::Command::Settings(settings)),
    })
    .await
    .unwrap();
    let outbound = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut inbound = c.telemetry(with_id(outbound, "p1")).await.unwrap().into_inner();
    let answer = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(code_of(&answer.status), Code::Ok as i32);
    let Some(telemetry_command::Command::Settings(s)) = answer.command else {
        panic!("not a Settings answer: {answer:?}");
    };
    let backoff = s.backoff_policy.unwrap();
    assert!(matches!(
        backoff.strategy,
        Some(retry_policy::Strategy::ExponentialBackoff(_))
    ));
    let Some(settings::PubSub::Publishing(p)) = s.pub_sub else {
        panic!("no publishing settings");
    };
    assert_eq!(p.max_body_size, 4 * 1024 * 1024);
    let resp = c.heartbeat(with_id(hb(), "p1")).await.unwrap().into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32);

    // QueryRoute: the four queues of this broker, named with its gRPC endpoint.
    let resp = c
        .query_route(with_id(
            QueryRouteRequest {
                topic: resource(TOPIC),
                endpoints: None,
            },
            "p1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32);
    assert_eq!(resp.message_queues.len(), 4);
    let q = &resp.message_queues[0];
    assert_eq!(q.permission, Permission::ReadWrite as i32);
    assert_eq!(q.accept_message_types, vec![MessageType::Normal as i32]);
    let broker = q.broker.as_ref().unwrap();
    assert_eq!((broker.name.as_str(), broker.id), ("broker-test", 0));
    let port = broker.endpoints.as_ref().unwrap().addresses[0].port;
    assert_eq!(port, i32::from(b.grpc_addr().unwrap().port()));
    let missing = c
        .query_route(with_id(
            QueryRouteRequest {
                topic: resource("NoSuchTopic"),
                endpoints: None,
            },
            "p1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&missing.status), Code::TopicNotFound as i32);

    // SendMessage: stored with the properties a 5.x proxy writes.
    let resp = c
        .send_message(with_id(
            SendMessageRequest {
                messages: vec![message(TOPIC, "01ABCDEF", None)],
            },
            "p1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{resp:?}");
    let e = &resp.entries[0];
    assert_eq!(
        (e.message_id.as_str(), code_of(&e.status)),
        ("01ABCDEF", Code::Ok as i32)
    );
    let stored: Vec<message::MessageExt> = (0..4)
        .flat_map(|q| {
            let r = b.state().store.get_message(TOPIC, q, 0, 32, 1 << 20, &|_| true);
            r.messages
                .iter()
                .map(|m| message::decode_message(m).unwrap().0)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    let prop = |k: &str| m.properties.get(k).map(String::as_str);
    assert_eq!(prop("TAGS"), Some("TagA"));
    assert_eq!(prop("KEYS"), Some("k1 k2"));
    assert_eq!(prop("UNIQ_KEY"), Some("01ABCDEF"));
    assert_eq!(prop("PGROUP"), Some(TOPIC));
    assert_eq!(prop("color"), Some("blue"));
    assert_eq!(m.born_timestamp, 1_700_000_000_000);
    assert_eq!(&m.body[..], b"hello grpc");
    assert_eq!(m.queue_offset, e.offset);

    // A FIFO message to a NORMAL topic, and anything to a topic the broker does not have.
    let wrong = c
        .send_message(with_id(
            SendMessageRequest {
                messages: vec![message(TOPIC, "02", Some("g1"))],
            },
            "p1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        code_of(&wrong.status),
        Code::MessagePropertyConflictWithType as i32
    );
    let unknown = c
        .send_message(with_id(
            SendMessageRequest {
                messages: vec![message("NoSuchTopic", "03", None)],
            },
            "p1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        code_of(&unknown.status),
        Code::MessagePropertyConflictWithType as i32
    );
    let empty = c
        .send_message(with_id(SendMessageRequest { messages: vec![] }, "p1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&empty.status), Code::MessageCorrupted as i32);
}

#[tokio::test]
async fn a_message_group_always_lands_in_the_same_queue() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, FIFO_TOPIC, Some("+message.type=FIFO")).await;
    let mut queues = std::collections::BTreeMap::new();
    for (i, group) in ["order-1", "order-2", "order-1", "order-3", "order-1", "order-2"]
        .iter()
        .enumerate()
    {
        let resp = c
            .send_message(with_id(
                SendMessageRequest {
                    messages: vec![message(FIFO_TOPIC, &format!("F{i}"), Some(group))],
                },
                "p2",
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code_of(&resp.status), Code::Ok as i32, "{resp:?}");
        queues.entry(*group).or_insert_with(Vec::new).push(i);
    }
    // Every message of a group is in one queue, in send order.
    for (group, sent) in queues {
        let mut found = None;
        for q in 0..4 {
            let r = b
                .state()
                .store
                .get_message(FIFO_TOPIC, q, 0, 32, 1 << 20, &|_| true);
            let ids: Vec<String> = r
                .messages
                .iter()
                .map(|m| message::decode_message(m).unwrap().0)
                .filter(|m| m.properties.get("__SHARDINGKEY").map(String::as_str) == Some(group))
                .map(|m| m.properties["UNIQ_KEY"].clone())
                .collect();
            if !ids.is_empty() {
                assert!(found.is_none(), "{group} in two queues");
                let want: Vec<String> = sent.iter().map(|i| format!("F{i}")).collect();
                assert_eq!(ids, want);
                found = Some(q);
            }
        }
        assert!(found.is_some(), "{group} stored");
    }
}
