//! Protobuf encode/decode round trip of the generated messages.

use std::collections::HashMap;

use prost::Message as _;
use rmq_grpc_proto::prost_types::Timestamp;
use rmq_grpc_proto::v2::{Encoding, Message, MessageType, Resource, SendMessageRequest, SystemProperties};

fn request() -> SendMessageRequest {
    let user_properties = HashMap::from([
        ("order".to_string(), "42".to_string()),
        ("region".to_string(), "eu".to_string()),
    ]);
    SendMessageRequest {
        messages: vec![Message {
            topic: Some(Resource {
                resource_namespace: String::new(),
                name: "TopicA".to_string(),
            }),
            user_properties,
            system_properties: Some(SystemProperties {
                tag: Some("TagA".to_string()),
                keys: vec!["k1".to_string(), "k2".to_string()],
                message_id: "01A2B3C4D5E6F708090A0B0C0D".to_string(),
                body_encoding: Encoding::Identity as i32,
                message_type: MessageType::Normal as i32,
                born_timestamp: Some(Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 123_000_000,
                }),
                born_host: "host-1".to_string(),
                ..Default::default()
            }),
            body: bytes::Bytes::from_static(b"hello rocketmq"),
        }],
    }
}

#[test]
fn send_message_request_round_trips() {
    let sent = request();
    let wire = sent.encode_to_vec();
    assert_eq!(wire.len(), sent.encoded_len());

    let got = SendMessageRequest::decode(wire.as_slice()).expect("decode");
    assert_eq!(got, sent);

    let message = &got.messages[0];
    assert_eq!(message.topic.as_ref().map(|t| t.name.as_str()), Some("TopicA"));
    assert_eq!(&message.body[..], b"hello rocketmq");
    assert_eq!(
        message.user_properties.get("order").map(String::as_str),
        Some("42")
    );
    let system = message.system_properties.as_ref().expect("system properties");
    assert_eq!(system.tag.as_deref(), Some("TagA"));
    assert_eq!(system.keys, ["k1", "k2"]);
    assert_eq!(system.message_id, "01A2B3C4D5E6F708090A0B0C0D");
    assert_eq!(system.message_type(), MessageType::Normal);
    assert_eq!(system.body_encoding(), Encoding::Identity);
}

#[test]
fn body_decodes_from_bytes_without_copy() {
    let wire = bytes::Bytes::from(request().encode_to_vec());
    let got = SendMessageRequest::decode(wire.clone()).expect("decode");
    // `Message.body` is `Bytes`: decoding from a `Bytes` buffer slices it.
    let body = &got.messages[0].body;
    let start = wire.as_ptr() as usize;
    let at = body.as_ptr() as usize;
    assert!(at >= start && at + body.len() <= start + wire.len());
}

#[test]
fn proto3_optional_tag_absent_differs_from_empty() {
    let mut req = request();
    let system = req.messages[0]
        .system_properties
        .as_mut()
        .expect("system properties");
    system.tag = None;
    let none = SendMessageRequest::decode(req.encode_to_vec().as_slice()).expect("decode");
    let system = req.messages[0]
        .system_properties
        .as_mut()
        .expect("system properties");
    system.tag = Some(String::new());
    let empty = SendMessageRequest::decode(req.encode_to_vec().as_slice()).expect("decode");
    let tag = |r: &SendMessageRequest| {
        r.messages[0]
            .system_properties
            .as_ref()
            .and_then(|s| s.tag.clone())
    };
    assert_eq!(tag(&none), None);
    assert_eq!(tag(&empty), Some(String::new()));
}
