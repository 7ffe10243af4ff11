//! Access control on the gRPC port (docs/broker/acl.md#grpc): the 5.x SDKs' `authorization`
//! header checked against plain_acl.yml (ACL 1.0: a refused call fails with PERMISSION_DENIED)
//! and against ACL 2.0 users and policies (UNAUTHORIZED 40100 in the response), with the
//! generated tonic client on loopback.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::{addr, TIMEOUT};
use rmq_acl::sign::{self, Credentials};
use rmq_broker::Broker;
use rmq_grpc_proto::tonic::transport::Channel;
use rmq_grpc_proto::tonic::{Code as GrpcCode, Request};
use rmq_grpc_proto::v2::messaging_service_client::MessagingServiceClient;
use rmq_grpc_proto::v2::*;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "grpcAclTopic";
const GROUP: &str = "grpcAclGroup";
const DATE: &str = "20261204T231500Z";

fn resource(name: &str) -> Option<Resource> {
    Some(Resource {
        resource_namespace: String::new(),
        name: name.into(),
    })
}

/// A request as the Java SDK sends it, signed by `who` (access key, secret) unless `None`.
fn req<T>(msg: T, who: Option<(&str, &str)>) -> Request<T> {
    let mut r = Request::new(msg);
    let m = r.metadata_mut();
    m.insert("x-mq-client-id", "acl-client".parse().unwrap());
    m.insert("x-mq-language", "JAVA".parse().unwrap());
    m.insert("x-mq-date-time", DATE.parse().unwrap());
    if let Some((ak, sk)) = who {
        let auth = rmq_acl::grpc::authorization(ak, sk, DATE);
        m.insert("authorization", auth.parse().unwrap());
    }
    r
}

fn route() -> QueryRouteRequest {
    QueryRouteRequest {
        topic: resource(TOPIC),
        endpoints: None,
    }
}

fn send() -> SendMessageRequest {
    SendMessageRequest {
        messages: vec![Message {
            topic: resource(TOPIC),
            user_properties: HashMap::new(),
            system_properties: Some(SystemProperties {
                message_id: "ACL-GRPC-1".into(),
                message_type: MessageType::Normal as i32,
                ..SystemProperties::default()
            }),
            body: "hello".into(),
        }],
    }
}

fn assignment() -> QueryAssignmentRequest {
    QueryAssignmentRequest {
        topic: resource(TOPIC),
        group: resource(GROUP),
        endpoints: None,
    }
}

async fn client(b: &Broker) -> MessagingServiceClient<Channel> {
    let addr = b.grpc_addr().expect("gRPC served");
    MessagingServiceClient::connect(format!("http://127.0.0.1:{}", addr.port()))
        .await
        .unwrap()
}

fn create_topic() -> RemotingCommand {
    let mut req = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC);
    for (k, v) in [
        ("topic", TOPIC),
        ("defaultTopic", "TBW102"),
        ("readQueueNums", "4"),
        ("writeQueueNums", "4"),
        ("perm", "6"),
        ("topicFilterType", "SINGLE_TAG"),
        ("order", "false"),
    ] {
        req.ext_fields.insert(k.into(), v.into());
    }
    req
}

fn signed(mut req: RemotingCommand, ak: &str, sk: &str) -> RemotingCommand {
    sign::sign_fields(&mut req.ext_fields, &req.body.clone(), &Credentials::new(ak, sk));
    req
}

async fn ok(b: &Broker, req: RemotingCommand) {
    let resp = RemotingClient::new()
        .invoke(&addr(b), req, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
}

fn status_of(s: &Option<Status>) -> (i32, &str) {
    s.as_ref().map_or((-1, ""), |s| (s.code, s.message.as_str()))
}

const PLAIN_ACL: &str = r#"
accounts:
  - accessKey: producer1
    secretKey: producer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - grpcAclTopic=PUB
  - accessKey: consumer1
    secretKey: consumer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - grpcAclTopic=SUB
    groupPerms:
      - grpcAclGroup=SUB
  - accessKey: adminuser
    secretKey: admin-secret
    admin: true
"#;

fn start_v1(dir: &Path, home: &Path) -> rmq_broker::BrokerConfig {
    std::fs::create_dir_all(home.join("conf")).unwrap();
    std::fs::write(home.join("conf/plain_acl.yml"), PLAIN_ACL).unwrap();
    let mut c = common::config(dir);
    c.acl_enable = true;
    c.rocketmq_home = Some(home.to_path_buf());
    c.auto_create_topic_enable = false;
    c
}

#[tokio::test]
async fn acl_1_checks_every_grpc_call_against_plain_acl() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let b = Broker::start(start_v1(dir.path(), home.path())).await.unwrap();
    ok(&b, signed(create_topic(), "adminuser", "admin-secret")).await;
    let mut c = client(&b).await;
    let producer = Some(("producer1", "producer-secret"));
    let consumer = Some(("consumer1", "consumer-secret"));

    // Unsigned, unknown, wrongly signed: the call fails, naming the reason, never the secret.
    let err = c.query_route(req(route(), None)).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (GrpcCode::PermissionDenied, "No accessKey is configured")
    );
    let err = c
        .query_route(req(route(), Some(("nobody12", "whatever"))))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (GrpcCode::PermissionDenied, "No acl config for nobody12")
    );
    let err = c
        .query_route(req(route(), Some(("producer1", "not-the-secret"))))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (
            GrpcCode::PermissionDenied,
            "Check signature failed for accessKey=producer1"
        )
    );

    // A route needs PUB or SUB: both accounts may ask.
    for who in [producer, consumer] {
        let resp = c.query_route(req(route(), who)).await.unwrap().into_inner();
        assert_eq!(status_of(&resp.status).0, Code::Ok as i32, "{:?}", resp.status);
    }
    // Sending needs PUB.
    let err = c.send_message(req(send(), consumer)).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (GrpcCode::PermissionDenied, "No permission for topic:grpcAclTopic")
    );
    let resp = c.send_message(req(send(), producer)).await.unwrap().into_inner();
    assert_eq!(status_of(&resp.status).0, Code::Ok as i32, "{:?}", resp.status);
    // Consuming needs SUB on the group (as its retry topic) and the topic.
    let err = c.query_assignment(req(assignment(), producer)).await.unwrap_err();
    assert_eq!(err.code(), GrpcCode::PermissionDenied);
    assert_eq!(err.message(), "No default permission for group:grpcAclGroup");
    let resp = c
        .query_assignment(req(assignment(), consumer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_of(&resp.status).0, Code::Ok as i32, "{:?}", resp.status);

    // Telemetry: every command is checked against the stream's headers; a producer's settings
    // naming a topic the account may not publish to end the stream.
    let settings = TelemetryCommand {
        status: None,
        command: Some(telemetry_command::Command::Settings(Settings {
            client_type: Some(ClientType::Producer as i32),
            pub_sub: Some(settings::PubSub::Publishing(Publishing {
                topics: vec![resource(TOPIC).unwrap()],
                max_body_size: 0,
                validate_message_type: true,
            })),
            ..Settings::default()
        })),
    };
    let mut inbound = c
        .telemetry(req(futures_util::stream::iter([settings.clone()]), consumer))
        .await
        .unwrap()
        .into_inner();
    let err = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), GrpcCode::PermissionDenied);
    let mut inbound = c
        .telemetry(req(futures_util::stream::iter([settings]), producer))
        .await
        .unwrap()
        .into_inner();
    let answer = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(status_of(&answer.status).0, Code::Ok as i32);
}

#[tokio::test]
async fn acl_2_users_and_policies_decide_grpc_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::config(dir.path());
    c.auto_create_topic_enable = false;
    let props: HashMap<String, String> = [
        ("authenticationEnabled", "true"),
        ("authorizationEnabled", "true"),
        (
            "initAuthenticationUser",
            r#"{"username":"root","password":"root-pass"}"#,
        ),
        ("authenticationWhitelist", "apache.rocketmq.v2.HeartbeatRequest"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert!(c.apply(&props).is_empty());
    let b = Broker::start(c).await.unwrap();
    let root = |r| signed(r, "root", "root-pass");
    ok(&b, root(create_topic())).await;
    let mut user =
        RemotingCommand::request(rc::AUTH_CREATE_USER).with_body(br#"{"password":"alice-pass"}"#.to_vec());
    user.ext_fields.insert("username".into(), "alice".into());
    ok(&b, root(user)).await;
    let acl = r#"{"subject":"User:alice","policies":[{"policyType":"Custom","entries":[
        {"resource":"Topic:grpcAclTopic","actions":["Pub"],"decision":"Allow"},
        {"resource":"Group:grpcAcl*","actions":["Sub"],"decision":"Deny"}]}]}"#;
    let mut create = RemotingCommand::request(rc::AUTH_CREATE_ACL).with_body(acl.as_bytes().to_vec());
    create.ext_fields.insert("subject".into(), "User:alice".into());
    ok(&b, root(create)).await;
    let mut c = client(&b).await;
    let alice = Some(("alice", "alice-pass"));

    // Unsigned and wrongly signed: UNAUTHORIZED in the response, the call itself succeeds.
    let resp = c.send_message(req(send(), None)).await.unwrap().into_inner();
    assert_eq!(
        status_of(&resp.status),
        (Code::Unauthorized as i32, "username cannot be null.")
    );
    let resp = c
        .send_message(req(send(), Some(("alice", "bad-pass"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status_of(&resp.status),
        (Code::Unauthorized as i32, "check signature failed.")
    );
    let resp = c
        .send_message(req(send(), Some(("bob", "bob-pass"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status_of(&resp.status),
        (Code::Unauthorized as i32, "User:bob is not found.")
    );

    // The policy: Pub on the topic (so a route too), Sub on the group denied.
    let resp = c.send_message(req(send(), alice)).await.unwrap().into_inner();
    assert_eq!(status_of(&resp.status).0, Code::Ok as i32, "{:?}", resp.status);
    let resp = c.query_route(req(route(), alice)).await.unwrap().into_inner();
    assert_eq!(status_of(&resp.status).0, Code::Ok as i32, "{:?}", resp.status);
    let resp = c
        .query_assignment(req(assignment(), alice))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status_of(&resp.status),
        (
            Code::Unauthorized as i32,
            "User:alice has no permission to access Group:grpcAclGroup from 127.0.0.1, the decision is deny."
        )
    );
    // The super user may do anything; a white-listed RPC needs no signature (a producer's
    // heartbeat names nothing to authorize).
    let resp = c
        .query_assignment(req(assignment(), Some(("root", "root-pass"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_of(&resp.status).0, Code::Ok as i32, "{:?}", resp.status);
    let hb = HeartbeatRequest {
        group: None,
        client_type: ClientType::Producer as i32,
    };
    let resp = c.heartbeat(req(hb, None)).await.unwrap().into_inner();
    assert_eq!(
        status_of(&resp.status).0,
        Code::UnrecognizedClientType as i32,
        "{:?}",
        resp.status
    );

    // Telemetry refused: one command with the status, then the stream ends.
    let settings = TelemetryCommand {
        status: None,
        command: Some(telemetry_command::Command::Settings(Settings {
            client_type: Some(ClientType::SimpleConsumer as i32),
            pub_sub: Some(settings::PubSub::Subscription(Subscription {
                group: resource(GROUP),
                subscriptions: vec![SubscriptionEntry {
                    topic: resource(TOPIC),
                    expression: None,
                }],
                fifo: None,
                receive_batch_size: None,
                long_polling_timeout: None,
            })),
            ..Settings::default()
        })),
    };
    let mut inbound = c
        .telemetry(req(futures_util::stream::iter([settings]), alice))
        .await
        .unwrap()
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), inbound.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(status_of(&first.status).0, Code::Unauthorized as i32);
    assert!(inbound.message().await.unwrap().is_none(), "the stream ends");
}
