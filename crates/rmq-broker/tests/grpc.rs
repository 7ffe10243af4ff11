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
        force: None,
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

/// Opens the client's Telemetry stream and settles `settings`; the stream stays open (the
/// returned sender) for as long as the test holds it.
async fn settle(
    c: &mut MessagingServiceClient<Channel>,
    id: &str,
    settings: Settings,
) -> (tokio::sync::mpsc::Sender<TelemetryCommand>, Settings) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(telemetry_command::Command::Settings(settings)),
    })
    .await
    .unwrap();
    let outbound = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut inbound = c.telemetry(with_id(outbound, id)).await.unwrap().into_inner();
    let answer = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(telemetry_command::Command::Settings(s)) = answer.command else {
        panic!("not a Settings answer: {answer:?}");
    };
    tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
    (tx, s)
}

fn simple_consumer(group: &str, topic: &str) -> Settings {
    Settings {
        client_type: Some(ClientType::SimpleConsumer as i32),
        pub_sub: Some(settings::PubSub::Subscription(Subscription {
            group: resource(group),
            subscriptions: vec![SubscriptionEntry {
                topic: resource(topic),
                expression: Some(FilterExpression {
                    r#type: FilterType::Tag as i32,
                    expression: "*".into(),
                }),
            }],
            fifo: None,
            receive_batch_size: None,
            long_polling_timeout: None,
        })),
        ..Settings::default()
    }
}

async fn send(c: &mut MessagingServiceClient<Channel>, topic: &str, id: &str, tag: &str) {
    let mut m = message(topic, id, None);
    m.system_properties.as_mut().unwrap().tag = Some(tag.into());
    let resp = c
        .send_message(with_id(SendMessageRequest { messages: vec![m] }, "p1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
}

fn secs(s: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds: s, nanos: 0 })
}

fn receive_request(
    group: &str,
    topic: &str,
    filter: FilterExpression,
    invisible: i64,
) -> ReceiveMessageRequest {
    ReceiveMessageRequest {
        group: resource(group),
        message_queue: Some(MessageQueue {
            topic: resource(topic),
            id: -1,
            permission: Permission::ReadWrite as i32,
            broker: Some(rmq_grpc_proto::v2::Broker {
                name: "broker-test".into(),
                id: 0,
                endpoints: None,
            }),
            accept_message_types: Vec::new(),
        }),
        filter_expression: Some(filter),
        batch_size: 32,
        invisible_duration: secs(invisible),
        auto_renew: false,
        long_polling_timeout: secs(5),
        attempt_id: None,
    }
}

fn tag(expression: &str) -> FilterExpression {
    FilterExpression {
        r#type: FilterType::Tag as i32,
        expression: expression.into(),
    }
}

/// One receive: its status and messages (the last item is the delivery timestamp).
async fn receive(
    c: &mut MessagingServiceClient<Channel>,
    id: &str,
    req: ReceiveMessageRequest,
) -> (Status, Vec<Message>) {
    use receive_message_response::Content;
    let mut r = with_id(req, id);
    r.set_timeout(Duration::from_secs(8));
    let mut stream = c.receive_message(r).await.unwrap().into_inner();
    let mut status = None;
    let mut messages = Vec::new();
    let mut stamped = false;
    while let Some(item) = stream.message().await.unwrap() {
        match item.content.unwrap() {
            Content::Status(s) => {
                assert!(messages.is_empty() && status.is_none(), "the status comes first");
                status = Some(s);
            }
            Content::Message(m) => messages.push(m),
            Content::DeliveryTimestamp(_) => stamped = true,
        }
    }
    assert!(stamped, "a receive ends with the delivery timestamp");
    (status.unwrap(), messages)
}

fn handle(m: &Message) -> String {
    m.system_properties
        .as_ref()
        .unwrap()
        .receipt_handle
        .clone()
        .unwrap()
}

fn id_of(m: &Message) -> String {
    m.system_properties.as_ref().unwrap().message_id.clone()
}

#[tokio::test]
async fn a_simple_consumer_receives_acks_and_changes_invisible_time() {
    const T: &str = "GrpcConsumeTopic";
    const G: &str = "GrpcSimpleGroup";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, None).await;
    for i in 0..3 {
        send(
            &mut c,
            T,
            &format!("ID-{i}"),
            if i == 2 { "TagB" } else { "TagA" },
        )
        .await;
    }

    // Without settings the Proxy fails the receive.
    let (st, _) = receive(&mut c, "c1", receive_request(G, T, tag("*"), 20)).await;
    assert_eq!(st.code, Code::InternalServerError as i32);
    let (_telemetry, settings) = settle(&mut c, "c1", simple_consumer(G, T)).await;
    assert_eq!(settings.backoff_policy.unwrap().max_attempts, 17);

    // QueryAssignment: one assignment of any queue on this broker.
    let resp = c
        .query_assignment(with_id(
            QueryAssignmentRequest {
                topic: resource(T),
                group: resource(G),
                endpoints: None,
            },
            "c1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32);
    assert_eq!(resp.assignments.len(), 1);
    let mq = resp.assignments[0].message_queue.as_ref().unwrap();
    assert_eq!(mq.id, -1);
    assert_eq!(mq.broker.as_ref().unwrap().name, "broker-test");

    // Refusals checked before any pop.
    let (st, _) = receive(&mut c, "c1", receive_request(G, T, tag("*"), 5)).await;
    assert_eq!(st.code, Code::IllegalInvisibleTime as i32);
    assert_eq!(st.message, "the invisibleTime is too small. min is 10000");
    let sql = FilterExpression {
        r#type: FilterType::Sql as i32,
        expression: "a >".into(),
    };
    let (st, _) = receive(&mut c, "c1", receive_request(G, T, sql, 20)).await;
    assert_eq!(st.code, Code::IllegalFilterExpression as i32);

    // The tag filter: TagA only.
    let (st, got) = receive(&mut c, "c1", receive_request(G, T, tag("TagA"), 20)).await;
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    let mut ids: Vec<String> = got.iter().map(id_of).collect();
    ids.sort();
    assert_eq!(ids, ["ID-0", "ID-1"]);
    let m = &got[0];
    let sys = m.system_properties.as_ref().unwrap();
    assert_eq!(sys.tag.as_deref(), Some("TagA"));
    assert_eq!(sys.keys, ["k1", "k2"]);
    assert_eq!(sys.delivery_attempt, Some(1));
    assert_eq!(sys.message_type, MessageType::Normal as i32);
    assert_eq!(
        sys.body_digest.as_ref().unwrap().checksum,
        "19B1DF330594FA92956C3054058D1DB5"
    ); // MD5, uppercase hex
    assert_eq!(m.user_properties.get("color").map(String::as_str), Some("blue"));
    assert_eq!(m.body.as_ref(), b"hello grpc");
    assert_eq!(
        handle(m).split(' ').count(),
        9,
        "POP_CK fields and the commit log offset"
    );

    // Ack one; push the other's invisible time to 1 s: it comes back, attempt 2.
    let (acked, changed) = (&got[0], &got[1]);
    let resp = c
        .ack_message(with_id(
            AckMessageRequest {
                group: resource(G),
                topic: resource(T),
                entries: vec![AckMessageEntry {
                    message_id: id_of(acked),
                    receipt_handle: handle(acked),
                }],
            },
            "c1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
    assert_eq!(resp.entries[0].message_id, id_of(acked));
    let resp = c
        .change_invisible_duration(with_id(
            ChangeInvisibleDurationRequest {
                group: resource(G),
                topic: resource(T),
                receipt_handle: handle(changed),
                invisible_duration: secs(1),
                message_id: id_of(changed),
            },
            "c1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
    assert_ne!(resp.receipt_handle, handle(changed));
    let again = common::wait::wait_for("the changed message back", Duration::from_secs(20), || {
        let mut c = c.clone();
        async move {
            let (st, got) = receive(&mut c, "c1", receive_request(G, T, tag("TagA"), 20)).await;
            match got.as_slice() {
                [m] => Ok(m.clone()),
                _ => Err(format!("{st:?} {:?}", got.iter().map(id_of).collect::<Vec<_>>())),
            }
        }
    })
    .await;
    assert_eq!(id_of(&again), id_of(changed));
    assert_eq!(
        again.system_properties.as_ref().unwrap().delivery_attempt,
        Some(2)
    );

    // The old handle of the changed message no longer acks; the new one does.
    let ack = |h: String| AckMessageRequest {
        group: resource(G),
        topic: resource(T),
        entries: vec![AckMessageEntry {
            message_id: id_of(&again),
            receipt_handle: h,
        }],
    };
    let resp = c
        .ack_message(with_id(ack(handle(&again)), "c1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
    let bad = c
        .ack_message(with_id(ack("1 2 3".into()), "c1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&bad.status), Code::InvalidReceiptHandle as i32);

    // Nothing is left for the group (the TagB message was filtered out for it); another group
    // that takes TagB gets that one.
    let (st, got) = receive(&mut c, "c1", receive_request(G, T, tag("TagA"), 20)).await;
    assert_eq!(
        st.code,
        Code::MessageNotFound as i32,
        "{:?}",
        got.iter().map(id_of).collect::<Vec<_>>()
    );
    let (st, got) = receive(
        &mut c,
        "c1",
        receive_request("GrpcOtherGroup", T, tag("TagB"), 20),
    )
    .await;
    assert_eq!(st.code, Code::Ok as i32);
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["ID-2"]);
}

#[tokio::test]
async fn an_exhausted_message_goes_to_the_dead_letter_queue() {
    const T: &str = "GrpcDlqTopic";
    const G: &str = "GrpcDlqGroup";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, None).await;
    send(&mut c, T, "DLQ-0", "TagA").await;
    send(&mut c, T, "DLQ-1", "TagA").await;
    let (_telemetry, _) = settle(&mut c, "c2", simple_consumer(G, T)).await;

    // ForwardMessageToDeadLetterQueue: straight to %DLQ%{group}.
    let (_, got) = receive(&mut c, "c2", receive_request(G, T, tag("*"), 20)).await;
    assert_eq!(got.len(), 2);
    for m in &got {
        let resp = c
            .forward_message_to_dead_letter_queue(with_id(
                ForwardMessageToDeadLetterQueueRequest {
                    group: resource(G),
                    topic: resource(T),
                    receipt_handle: handle(m),
                    message_id: id_of(m),
                    delivery_attempt: 1,
                    max_delivery_attempts: 1,
                },
                "c2",
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
    }
    let dlq = format!("%DLQ%{G}");
    common::wait::wait_until("two messages in the DLQ", Duration::from_secs(10), || {
        b.state().store.max_offset_in_queue(&dlq, 0) == 2
    })
    .await;
    // Acked as well: nothing comes back to the group.
    let (st, got) = receive(&mut c, "c2", receive_request(G, T, tag("*"), 20)).await;
    assert_eq!(st.code, Code::MessageNotFound as i32, "{got:?}");
}

#[tokio::test]
async fn transactions_end_by_id_and_orphans_are_checked_over_telemetry() {
    const T: &str = "GrpcTxTopic";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, Some("+message.type=TRANSACTION")).await;

    // The producer's Telemetry stream, kept open and read by the test.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(telemetry_command::Command::Settings(Settings {
            client_type: Some(ClientType::Producer as i32),
            pub_sub: Some(settings::PubSub::Publishing(Publishing {
                topics: vec![resource(T).unwrap()],
                max_body_size: 0,
                validate_message_type: true,
            })),
            ..Settings::default()
        })),
    })
    .await
    .unwrap();
    let outbound = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut inbound = c.telemetry(with_id(outbound, "tp")).await.unwrap().into_inner();
    let settled = inbound.message().await.unwrap().unwrap();
    assert!(matches!(
        settled.command,
        Some(telemetry_command::Command::Settings(_))
    ));

    let half = |id: &str| {
        let mut m = message(T, id, None);
        let sys = m.system_properties.as_mut().unwrap();
        sys.message_type = MessageType::Transaction as i32;
        // Born now: a half message older than the store keeps files is discarded, not checked.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        sys.born_timestamp = Some(prost_types::Timestamp {
            seconds: now.as_secs() as i64,
            nanos: 0,
        });
        m
    };
    let sender = c.clone();
    let send_half = |id: &'static str| {
        let mut c = sender.clone();
        async move {
            let resp = c
                .send_message(with_id(
                    SendMessageRequest {
                        messages: vec![half(id)],
                    },
                    "tp",
                ))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
            resp.entries[0].transaction_id.clone()
        }
    };
    let end =
        |id: &str, resolution: TransactionResolution, source: TransactionSource| EndTransactionRequest {
            topic: resource(T),
            message_id: id.into(),
            transaction_id: id.into(),
            resolution: resolution as i32,
            source: source as i32,
            trace_context: String::new(),
        };
    let max = |b: &Broker| {
        b.state().store.max_offset_in_queue(T, 0)
            + (1..4)
                .map(|q| b.state().store.max_offset_in_queue(T, q))
                .sum::<i64>()
    };

    // Committed by the application: delivered.
    let committed = send_half("TX-COMMIT").await;
    assert_eq!(committed, "TX-COMMIT");
    assert_eq!(max(&b), 0, "a half message is not in its topic");
    let resp = c
        .end_transaction(with_id(
            end(
                &committed,
                TransactionResolution::Commit,
                TransactionSource::SourceClient,
            ),
            "tp",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
    assert_eq!(max(&b), 1);
    let unknown = c
        .end_transaction(with_id(
            end(
                "NO-SUCH-TX",
                TransactionResolution::Commit,
                TransactionSource::SourceClient,
            ),
            "tp",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&unknown.status), Code::InternalServerError as i32);
    let blank = c
        .end_transaction(with_id(
            end(
                " ",
                TransactionResolution::Commit,
                TransactionSource::SourceClient,
            ),
            "tp",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&blank.status), Code::InvalidTransactionId as i32);

    // Left open: the check round asks the producer over its Telemetry stream; it rolls back.
    let orphan = send_half("TX-ORPHAN").await;
    let s = b.state();
    assert_eq!(s.transactions.check_now(s).await.unwrap().checked, 1);
    let cmd = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(telemetry_command::Command::RecoverOrphanedTransactionCommand(check)) = cmd.command else {
        panic!("not a check-back: {cmd:?}");
    };
    assert_eq!(check.transaction_id, orphan);
    let m = check.message.unwrap();
    assert_eq!(m.topic.unwrap().name, T, "the real topic, not the half topic");
    assert_eq!(
        m.system_properties.unwrap().message_type,
        MessageType::Transaction as i32
    );
    let resp = c
        .end_transaction(with_id(
            end(
                &orphan,
                TransactionResolution::Rollback,
                TransactionSource::SourceServerCheck,
            ),
            "tp",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
    assert_eq!(max(&b), 1, "rolled back: not delivered");
    assert_eq!(
        s.transactions.check_now(s).await.unwrap().checked,
        0,
        "resolved: not checked again"
    );
    drop(tx);
}

#[tokio::test]
async fn a_terminating_client_ends_its_polling_receive() {
    const T: &str = "GrpcQuietTopic";
    const G: &str = "GrpcQuietGroup";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, None).await;
    let (_telemetry, _) = settle(&mut c, "c3", simple_consumer(G, T)).await;

    // A 20 s long poll on an empty topic, then the client says it terminates.
    let mut req = receive_request(G, T, tag("*"), 20);
    req.long_polling_timeout = secs(20);
    let mut polling = c.clone();
    let receive = tokio::spawn(async move {
        use receive_message_response::Content;
        let mut r = with_id(req, "c3");
        r.set_timeout(Duration::from_secs(25));
        let mut stream = polling.receive_message(r).await.unwrap().into_inner();
        let first = stream.message().await.unwrap().unwrap();
        match first.content {
            Some(Content::Status(s)) => s,
            other => panic!("status first, got {other:?}"),
        }
    });
    common::wait::wait_until("the receive polling", Duration::from_secs(10), || {
        b.state().pop.waiters.held() > 0
    })
    .await;
    let resp = c
        .notify_client_termination(with_id(
            NotifyClientTerminationRequest { group: resource(G) },
            "c3",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32);
    let status = tokio::time::timeout(Duration::from_secs(10), receive)
        .await
        .expect("the receive ended well before its 20 s poll")
        .unwrap();
    assert_eq!(status.code, Code::MessageNotFound as i32, "{status:?}");
}

#[tokio::test]
async fn two_brokers_behind_one_name_server_name_their_own_grpc_ports() {
    use rmq_namesrv::{NameServer, NamesrvConfig};
    const T: &str = "GrpcTwoBrokersTopic";
    const G: &str = "GrpcTwoBrokersGroup";
    let namesrv = NameServer::start(NamesrvConfig {
        listen_port: 0,
        listen_addr: "127.0.0.1".into(),
        kv_config_path: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let ns = format!("127.0.0.1:{}", namesrv.local_addr().port());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let broker = |dir: &std::path::Path, name: &str| {
        let mut c = config(dir);
        c.broker_name = name.into();
        c.namesrv_addr = vec![ns.clone()];
        c
    };
    let a = Broker::start(broker(dir_a.path(), "broker-a")).await.unwrap();
    let b = Broker::start(broker(dir_b.path(), "broker-b")).await.unwrap();
    create_topic(&a, T, None).await;
    create_topic(&b, T, None).await;
    let port = |x: &Broker| i32::from(x.grpc_addr().unwrap().port());
    assert_ne!(port(&a), port(&b));

    // Asked at broker A, the route names B's queues with B's own gRPC port.
    let mut ca = client(&a).await;
    let queues = common::wait::wait_for("both brokers in the route", Duration::from_secs(20), || {
        let mut ca = ca.clone();
        async move {
            let resp = ca
                .query_route(with_id(
                    QueryRouteRequest {
                        topic: resource(T),
                        endpoints: None,
                    },
                    "c4",
                ))
                .await
                .unwrap()
                .into_inner();
            let names: std::collections::BTreeSet<String> = resp
                .message_queues
                .iter()
                .map(|q| q.broker.as_ref().unwrap().name.clone())
                .collect();
            if names.len() == 2 {
                Ok(resp.message_queues)
            } else {
                Err(format!("{names:?}"))
            }
        }
    })
    .await;
    for q in &queues {
        let broker = q.broker.as_ref().unwrap();
        let want = if broker.name == "broker-a" {
            port(&a)
        } else {
            port(&b)
        };
        assert_eq!(
            broker.endpoints.as_ref().unwrap().addresses[0].port,
            want,
            "{}",
            broker.name
        );
    }

    // QueryAssignment at A: one assignment per broker, each with its own port.
    let (_telemetry, _) = settle(&mut ca, "c4", simple_consumer(G, T)).await;
    let resp = ca
        .query_assignment(with_id(
            QueryAssignmentRequest {
                topic: resource(T),
                group: resource(G),
                endpoints: None,
            },
            "c4",
        ))
        .await
        .unwrap()
        .into_inner();
    let mut seen: Vec<(String, i32)> = resp
        .assignments
        .iter()
        .map(|x| {
            let broker = x.message_queue.as_ref().unwrap().broker.as_ref().unwrap();
            (
                broker.name.clone(),
                broker.endpoints.as_ref().unwrap().addresses[0].port,
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("broker-a".to_string(), port(&a)),
            ("broker-b".to_string(), port(&b))
        ]
    );

    // A message sent to B's endpoint is received from B's endpoint.
    let mut cb = client(&b).await;
    send(&mut cb, T, "ON-B", "TagA").await;
    let (_telemetry_b, _) = settle(&mut cb, "c4", simple_consumer(G, T)).await;
    let mut req = receive_request(G, T, tag("*"), 20);
    req.message_queue.as_mut().unwrap().broker.as_mut().unwrap().name = "broker-b".into();
    let (st, got) = receive(&mut cb, "c4", req).await;
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["ON-B"]);
    assert!(
        handle(&got[0]).contains(" broker-b "),
        "the handle names broker-b: {}",
        handle(&got[0])
    );
}

#[tokio::test]
async fn a_broken_tls_handshake_closes_that_connection_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let port = b.grpc_addr().unwrap().port();
    // A TLS record header followed by garbage: the handshake fails, the connection is closed.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    raw.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00])
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match raw.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {} // a TLS alert
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the broken connection was closed");
    // Plaintext clients are served as before.
    let mut c = client(&b).await;
    let resp = c
        .query_route(with_id(
            QueryRouteRequest {
                topic: resource("NoSuchTopic"),
                endpoints: None,
            },
            "c5",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::TopicNotFound as i32);
}

#[tokio::test]
async fn auto_renewed_messages_stay_invisible_until_the_client_goes() {
    const T: &str = "GrpcRenewTopic";
    const G: &str = "GrpcRenewGroup";
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // The Proxy's keys, shortened: 2 s invisible, renewed when 1.5 s or less is left.
    cfg.grpc_renew.default_invisible_ms = 2_000;
    cfg.grpc_renew.ahead_ms = 1_500;
    cfg.grpc_renew.period_ms = 100;
    let b = Broker::start(cfg).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, None).await;
    send(&mut c, T, "RENEW-1", "TagA").await;
    let (_telemetry, _) = settle(&mut c, "c6", simple_consumer(G, T)).await;

    let mut push = receive_request(G, T, tag("*"), 20);
    push.auto_renew = true;
    push.invisible_duration = None;
    let (st, got) = receive(&mut c, "c6", push.clone()).await;
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["RENEW-1"]);
    let received_at = std::time::Instant::now();

    // Well past its 2 s: renewed, so a receive (a 5 s long poll) finds nothing.
    let (st, again) = receive(&mut c, "c6", push.clone()).await;
    assert!(
        received_at.elapsed() > Duration::from_secs(4),
        "the poll outlived the first invisible time"
    );
    assert_eq!(
        st.code,
        Code::MessageNotFound as i32,
        "came back: {:?}",
        again.iter().map(id_of).collect::<Vec<_>>()
    );

    // The client terminates: its message is handed back at once (1 s) to the group.
    let resp = c
        .notify_client_termination(with_id(
            NotifyClientTerminationRequest { group: resource(G) },
            "c6",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32);
    let (_telemetry2, _) = settle(&mut c, "c7", simple_consumer(G, T)).await;
    let back = common::wait::wait_for(
        "the message back after the client left",
        Duration::from_secs(20),
        || {
            let mut c = c.clone();
            let req = receive_request(G, T, tag("*"), 20);
            async move {
                let (st, got) = receive(&mut c, "c7", req).await;
                match got.as_slice() {
                    [m] => Ok(m.clone()),
                    _ => Err(format!("{st:?}")),
                }
            }
        },
    )
    .await;
    assert_eq!(id_of(&back), "RENEW-1");
    assert_eq!(back.system_properties.as_ref().unwrap().delivery_attempt, Some(2));
}

#[tokio::test]
async fn a_client_that_vanishes_mid_receive_loses_nothing() {
    const T: &str = "GrpcVanishTopic";
    const G: &str = "GrpcVanishGroup";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, None).await;
    let (_telemetry, _) = settle(&mut c, "stays", simple_consumer(G, T)).await;

    // A client on its own connection long-polls an empty topic, then vanishes: its task and its
    // connection are dropped while the poll is held (no termination notice, no ack).
    let mut gone = client(&b).await;
    let (gone_telemetry, _) = settle(&mut gone, "vanishes", simple_consumer(G, T)).await;
    let polling = tokio::spawn(async move {
        let mut req = receive_request(G, T, tag("*"), 20);
        req.long_polling_timeout = secs(20);
        let mut r = with_id(req, "vanishes");
        r.set_timeout(Duration::from_secs(25));
        let _ = gone.receive_message(r).await;
        unreachable!("the poll is dropped before it ends");
    });
    common::wait::wait_until("the receive polling", Duration::from_secs(10), || {
        b.state().pop.waiters.held() > 0
    })
    .await;
    polling.abort();
    drop(gone_telemetry);
    common::wait::wait_until("the vanished poll unregistered", Duration::from_secs(10), || {
        b.state().pop.waiters.held() == 0
    })
    .await;

    // What is sent now reaches the client that stayed: the dropped poll took nothing.
    send(&mut c, T, "ID-after", "TagA").await;
    let (st, got) = receive(&mut c, "stays", receive_request(G, T, tag("*"), 20)).await;
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["ID-after"]);
    let ack = |m: &Message| AckMessageRequest {
        group: resource(G),
        topic: resource(T),
        entries: vec![AckMessageEntry {
            message_id: id_of(m),
            receipt_handle: handle(m),
        }],
    };
    let resp = c
        .ack_message(with_id(ack(&got[0]), "stays"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32);

    // A client that received a message and vanished before acking it: the message comes back
    // to the one that stayed once its invisible time (10 s, the least allowed) is over.
    send(&mut c, T, "ID-held", "TagA").await;
    let mut gone = client(&b).await;
    let (gone_telemetry, _) = settle(&mut gone, "vanishes-2", simple_consumer(G, T)).await;
    let (st, got) = receive(&mut gone, "vanishes-2", receive_request(G, T, tag("*"), 10)).await;
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["ID-held"]);
    drop((gone, gone_telemetry));
    let received = std::time::Instant::now();
    let mut again = Vec::new();
    while again.is_empty() {
        assert!(
            received.elapsed() < Duration::from_secs(30),
            "the unacked message never came back"
        );
        let (st, got) = receive(&mut c, "stays", receive_request(G, T, tag("*"), 20)).await;
        assert!(
            st.code == Code::Ok as i32 || st.code == Code::MessageNotFound as i32,
            "{st:?}"
        );
        again = got;
    }
    assert_eq!(again.iter().map(id_of).collect::<Vec<_>>(), ["ID-held"]);
    let sys = again[0].system_properties.as_ref().unwrap();
    assert_eq!(sys.delivery_attempt, Some(2));
    assert!(
        received.elapsed() >= Duration::from_secs(9),
        "back before its invisible time ended"
    );
}

/// Raw bytes as a gRPC message: what a broken or hostile client sends.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl rmq_grpc_proto::tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl rmq_grpc_proto::tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = rmq_grpc_proto::tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut rmq_grpc_proto::tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Self::Error> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl rmq_grpc_proto::tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = rmq_grpc_proto::tonic::Status;
    fn decode(
        &mut self,
        src: &mut rmq_grpc_proto::tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, Self::Error> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

#[tokio::test]
async fn malformed_and_oversized_messages_fail_their_own_stream_only() {
    use rmq_grpc_proto::tonic::codegen::http::uri::PathAndQuery;
    use rmq_grpc_proto::tonic::Code as GrpcCode;
    const T: &str = "GrpcBadInputTopic";
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.grpc_max_inbound_message_size = 1 << 20;
    let b = Broker::start(cfg).await.unwrap();
    create_topic(&b, T, None).await;
    let addr = b.grpc_addr().unwrap();
    let channel =
        rmq_grpc_proto::tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", addr.port()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut raw = rmq_grpc_proto::tonic::client::Grpc::new(channel.clone());
    let mut typed = MessagingServiceClient::new(channel);
    let send_path = PathAndQuery::from_static("/apache.rocketmq.v2.MessagingService/SendMessage");
    async fn call(
        raw: &mut rmq_grpc_proto::tonic::client::Grpc<Channel>,
        path: PathAndQuery,
        bytes: Vec<u8>,
    ) -> Result<rmq_grpc_proto::tonic::Response<Vec<u8>>, rmq_grpc_proto::tonic::Status> {
        raw.ready().await.unwrap();
        raw.unary::<Vec<u8>, Vec<u8>, _>(with_id(bytes, "p1"), path, RawCodec)
            .await
    }

    // Not protobuf: field 1 as a length-delimited record longer than the message.
    let err = call(&mut raw, send_path.clone(), vec![0x0a, 0xff, 0x01, 0x00])
        .await
        .unwrap_err();
    assert_eq!(err.code(), GrpcCode::Internal, "{err:?}");

    // Larger than grpcMaxInboundMessageSize: refused before it is decoded (tonic's OUT_OF_RANGE
    // where grpc-java answers RESOURCE_EXHAUSTED; the SDKs retry neither).
    let err = call(&mut raw, send_path, vec![0u8; 2 << 20]).await.unwrap_err();
    assert_eq!(err.code(), GrpcCode::OutOfRange, "{err:?}");
    assert!(err.message().contains("too large"), "{err:?}");

    // The same connection still serves a good send.
    let resp = typed
        .send_message(with_id(
            SendMessageRequest {
                messages: vec![message(T, "ID-good", None)],
            },
            "p1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{:?}", resp.status);
}

#[tokio::test]
async fn a_body_over_the_max_message_size_is_refused_and_nothing_is_stored() {
    const T: &str = "GrpcBigBodyTopic";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, None).await;
    let max = b.state().config.store.max_message_size;
    let mut big = message(T, "ID-big", None);
    big.body = vec![b'x'; max + 1].into();
    let resp = c
        .send_message(with_id(SendMessageRequest { messages: vec![big] }, "p1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        code_of(&resp.status),
        Code::MessageBodyTooLarge as i32,
        "{:?}",
        resp.status
    );
    assert_eq!(
        resp.status.unwrap().message,
        format!("message body cannot exceed the max {max}")
    );
    send(&mut c, T, "ID-small", "TagA").await;
    let stored: i64 = (0..4).map(|q| b.state().store.max_offset_in_queue(T, q)).sum();
    assert_eq!(stored, 1, "only the small message is stored");
}

/// The pull consumer's RPCs (served as the Proxy draft apache/rocketmq#6757 answers them):
/// offsets by policy, pulls by offset with a filter and long polling, committed offsets.
#[tokio::test]
async fn a_pull_consumer_reads_by_offset_and_commits() {
    use pull_message_response::Content;
    const T: &str = "GrpcPullTopic";
    const G: &str = "GrpcPullGroup";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, Some("+message.type=FIFO")).await;
    // One message group: every message in one queue, in order.
    for (i, tag) in ["TagA", "TagB", "TagA"].iter().enumerate() {
        let mut m = message(T, &format!("P{i}"), Some("pull-group"));
        m.system_properties.as_mut().unwrap().tag = Some(tag.to_string());
        let resp = c
            .send_message(with_id(SendMessageRequest { messages: vec![m] }, "p1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code_of(&resp.status), Code::Ok as i32, "{resp:?}");
    }
    let mq = |id: i32| {
        Some(MessageQueue {
            topic: resource(T),
            id,
            permission: Permission::ReadWrite as i32,
            broker: Some(rmq_grpc_proto::v2::Broker {
                name: "broker-test".into(),
                id: 0,
                endpoints: None,
            }),
            accept_message_types: Vec::new(),
        })
    };
    let query = |id: i32, policy: QueryOffsetPolicy, at: Option<prost_types::Timestamp>| QueryOffsetRequest {
        message_queue: mq(id),
        query_offset_policy: policy as i32,
        timestamp: at,
    };

    // QueryOffset: the queue holding the three, its beginning and end.
    let mut queue = None;
    for id in 0..4 {
        let end = c
            .query_offset(with_id(query(id, QueryOffsetPolicy::End, None), "pull1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code_of(&end.status), Code::Ok as i32, "{end:?}");
        if end.offset > 0 {
            assert_eq!(end.offset, 3);
            queue = Some(id);
        }
    }
    let q = queue.expect("the queue of the message group");
    let begin = c
        .query_offset(with_id(query(q, QueryOffsetPolicy::Beginning, None), "pull1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((code_of(&begin.status), begin.offset), (Code::Ok as i32, 0));
    let at = c
        .query_offset(with_id(
            query(
                q,
                QueryOffsetPolicy::Timestamp,
                Some(prost_types::Timestamp { seconds: 0, nanos: 0 }),
            ),
            "pull1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((code_of(&at.status), at.offset), (Code::Ok as i32, 0));
    let no_time = c
        .query_offset(with_id(query(q, QueryOffsetPolicy::Timestamp, None), "pull1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&no_time.status), Code::BadRequest as i32);

    let pull_request = move |offset: i64, filter: FilterExpression| PullMessageRequest {
        group: resource(G),
        message_queue: mq(q),
        offset,
        batch_size: 32,
        filter_expression: Some(filter),
        long_polling_timeout: secs(5),
    };
    async fn pull(
        c: &mut MessagingServiceClient<Channel>,
        req: PullMessageRequest,
    ) -> (Status, Vec<Message>, Option<i64>) {
        let mut r = with_id(req, "pull1");
        r.set_timeout(Duration::from_secs(10));
        let mut stream = c.pull_message(r).await.unwrap().into_inner();
        let (mut status, mut messages, mut next) = (None, Vec::new(), None);
        while let Some(item) = stream.message().await.unwrap() {
            match item.content.unwrap() {
                Content::Status(s) => status = Some(s),
                Content::Message(m) => messages.push(m),
                Content::NextOffset(n) => next = Some(n),
            }
        }
        (status.expect("a status"), messages, next)
    }

    // Everything from 0, in order; then the tag filter.
    let (st, got, next) = pull(&mut c, pull_request(0, tag("*"))).await;
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["P0", "P1", "P2"]);
    assert_eq!(next, Some(3), "the next offset comes last");
    let offsets: Vec<i64> = got
        .iter()
        .map(|m| m.system_properties.as_ref().unwrap().queue_offset.unwrap())
        .collect();
    assert_eq!(offsets, [0, 1, 2]);
    let (st, got, _) = pull(&mut c, pull_request(0, tag("TagA"))).await;
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["P0", "P2"]);

    // Past the end: a long poll that a new message answers.
    let mut poller = c.clone();
    let held = pull_request(3, tag("*"));
    let polling = tokio::spawn(async move { pull(&mut poller, held).await });
    common::wait::wait_until("the pull held", Duration::from_secs(10), || {
        b.state().pull_waiters.held() > 0
    })
    .await;
    let mut m = message(T, "P3", Some("pull-group"));
    m.system_properties.as_mut().unwrap().tag = Some("TagA".into());
    let resp = c
        .send_message(with_id(SendMessageRequest { messages: vec![m] }, "p1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32);
    let (st, got, next) = polling.await.unwrap();
    assert_eq!(st.code, Code::Ok as i32, "{st:?}");
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), ["P3"]);
    assert_eq!(next, Some(4));

    // Far past the end: the offset is illegal, and the next one to use is named.
    let (st, got, next) = pull(&mut c, pull_request(100, tag("*"))).await;
    assert_eq!(st.code, Code::IllegalOffset as i32, "{st:?}");
    assert!(got.is_empty());
    assert_eq!(next, Some(4));

    // Committed offsets.
    let resp = c
        .update_offset(with_id(
            UpdateOffsetRequest {
                group: resource(G),
                message_queue: mq(q),
                offset: 2,
            },
            "pull1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code_of(&resp.status), Code::Ok as i32, "{resp:?}");
    let resp = c
        .get_offset(with_id(
            GetOffsetRequest {
                group: resource(G),
                message_queue: mq(q),
            },
            "pull1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((code_of(&resp.status), resp.offset), (Code::Ok as i32, 2));

    // Another broker's queue is not served here.
    let mut elsewhere = pull_request(0, tag("*"));
    elsewhere
        .message_queue
        .as_mut()
        .unwrap()
        .broker
        .as_mut()
        .unwrap()
        .name = "broker-other".into();
    let (st, _, next) = pull(&mut c, elsewhere).await;
    assert_eq!((st.code, next), (Code::BadRequest as i32, None));
}

/// gRPC clients in the broker's client registry (as the Proxy in local mode keeps them): the
/// admin requests see them, and what the broker asks them is relayed on their Telemetry stream.
#[tokio::test]
async fn grpc_clients_are_in_the_registry_and_answer_admin_requests() {
    use rmq_protocol::body::{
        self, ConsumeMessageDirectlyResult, ConsumerConnection, ConsumerRunningInfo, ProducerConnection,
    };
    use rmq_protocol::header::{
        ConsumeMessageDirectlyResultRequestHeader, GetConsumerConnectionListRequestHeader,
        GetConsumerRunningInfoRequestHeader, GetProducerConnectionListRequestHeader,
    };
    use telemetry_command::Command;
    const T: &str = "GrpcRegistryTopic";
    const G: &str = "GrpcRegistryGroup";
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(config(dir.path())).await.unwrap();
    let mut c = client(&b).await;
    create_topic(&b, T, None).await;
    let admin = RemotingClient::new();
    let call = |req: RemotingCommand| {
        let admin = &admin;
        let a = common::addr(&b);
        async move { admin.invoke(&a, req, Duration::from_secs(10)).await.unwrap() }
    };

    // A producer: under its topic, as the Proxy's producer group.
    let producer = Settings {
        client_type: Some(ClientType::Producer as i32),
        pub_sub: Some(settings::PubSub::Publishing(Publishing {
            topics: vec![resource(T).unwrap()],
            max_body_size: 0,
            validate_message_type: true,
        })),
        ..Settings::default()
    };
    let (producer_telemetry, _) = settle(&mut c, "reg-producer", producer).await;
    let resp = call(
        RemotingCommand::request(rc::GET_PRODUCER_CONNECTION_LIST).with_header(
            &GetProducerConnectionListRequestHeader {
                producer_group: T.into(),
            },
        ),
    )
    .await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let pc: ProducerConnection = body::from_fastjson(&resp.body).unwrap();
    assert_eq!(pc.connection_set.len(), 1);
    assert_eq!(pc.connection_set[0].client_id, "reg-producer");
    assert_eq!(pc.connection_set[0].language, "RUST");
    drop(producer_telemetry);

    // A consumer whose stream the test answers itself.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut settings = simple_consumer(G, T);
    settings.client_type = Some(ClientType::PushConsumer as i32);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(Command::Settings(settings)),
    })
    .await
    .unwrap();
    let outbound = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut inbound = c
        .telemetry(with_id(outbound, "reg-consumer"))
        .await
        .unwrap()
        .into_inner();
    async fn next(inbound: &mut rmq_grpc_proto::tonic::Streaming<TelemetryCommand>) -> TelemetryCommand {
        tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    }
    assert!(matches!(
        next(&mut inbound).await.command,
        Some(Command::Settings(_))
    ));

    let resp = call(
        RemotingCommand::request(rc::GET_CONSUMER_CONNECTION_LIST).with_header(
            &GetConsumerConnectionListRequestHeader {
                consumer_group: G.into(),
            },
        ),
    )
    .await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let cc: ConsumerConnection = body::from_fastjson(&resp.body).unwrap();
    assert_eq!(
        cc.connection_set
            .iter()
            .map(|c| c.client_id.as_str())
            .collect::<Vec<_>>(),
        ["reg-consumer"]
    );
    assert_eq!(
        (
            cc.consume_type.as_str(),
            cc.message_model.as_str(),
            cc.consume_from_where.as_str()
        ),
        ("CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_LAST_OFFSET")
    );
    assert!(cc.subscription_table.contains_key(T));

    // Running info with the thread dump: PrintThreadStackTraceCommand on the stream.
    let asking = tokio::spawn({
        let req = RemotingCommand::request(rc::GET_CONSUMER_RUNNING_INFO).with_header(
            &GetConsumerRunningInfoRequestHeader {
                consumer_group: G.into(),
                client_id: "reg-consumer".into(),
                jstack_enable: true,
            },
        );
        let a = common::addr(&b);
        async move {
            RemotingClient::new()
                .invoke(&a, req, Duration::from_secs(10))
                .await
                .unwrap()
        }
    });
    let ask = next(&mut inbound).await;
    let Some(Command::PrintThreadStackTraceCommand(p)) = ask.command else {
        panic!("not a thread dump request: {ask:?}");
    };
    tx.send(TelemetryCommand {
        status: Some(Status {
            code: Code::Ok as i32,
            message: String::new(),
        }),
        command: Some(Command::ThreadStackTrace(ThreadStackTrace {
            nonce: p.nonce,
            thread_stack_trace: Some("\"main\" RUNNABLE".into()),
        })),
    })
    .await
    .unwrap();
    let resp = asking.await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let info: ConsumerRunningInfo = body::from_fastjson(&resp.body).unwrap();
    assert_eq!(info.jstack.as_deref(), Some("\"main\" RUNNABLE"));
    assert_eq!(info.properties["PROP_CONSUME_TYPE"], "CONSUME_PASSIVELY");
    assert_eq!(info.subscription_set.len(), 1);

    // Consume a stored message directly: VerifyMessageCommand, its result as the Proxy maps it.
    send(&mut c, T, "ID-verify", "TagA").await;
    let offset_msg_id = (0..4)
        .find_map(|q| {
            let r = b.state().store.get_message(T, q, 0, 1, 1 << 20, &|_| true);
            r.messages
                .first()
                .map(|m| message::decode_message(m).unwrap().0.msg_id)
        })
        .unwrap();
    let asking = tokio::spawn({
        let req = RemotingCommand::request(rc::CONSUME_MESSAGE_DIRECTLY).with_header(
            &ConsumeMessageDirectlyResultRequestHeader {
                consumer_group: G.into(),
                client_id: Some("reg-consumer".into()),
                msg_id: Some(offset_msg_id),
                broker_name: Some("broker-test".into()),
                topic: Some(T.into()),
            },
        );
        let a = common::addr(&b);
        async move {
            RemotingClient::new()
                .invoke(&a, req, Duration::from_secs(10))
                .await
                .unwrap()
        }
    });
    let ask = next(&mut inbound).await;
    let Some(Command::VerifyMessageCommand(v)) = ask.command else {
        panic!("not a verify request: {ask:?}");
    };
    assert_eq!(id_of(v.message.as_ref().unwrap()), "ID-verify");
    tx.send(TelemetryCommand {
        status: Some(Status {
            code: Code::Ok as i32,
            message: String::new(),
        }),
        command: Some(Command::VerifyMessageResult(VerifyMessageResult {
            nonce: v.nonce,
        })),
    })
    .await
    .unwrap();
    let resp = asking.await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let result: ConsumeMessageDirectlyResult = body::from_fastjson(&resp.body).unwrap();
    assert_eq!(result.consume_result, "CR_SUCCESS");

    // The stream ends: the client leaves the group.
    drop(tx);
    common::wait::wait_until("the consumer left", Duration::from_secs(10), || {
        b.state().clients.consumer_ids(G).is_empty()
    })
    .await;
}
