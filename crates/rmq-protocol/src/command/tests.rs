use bytes::BytesMut;

use super::*;
use crate::codes::request_code;
use crate::header::GetRouteInfoRequestHeader;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frame_of(header: &[u8], serialize_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + header.len() + body.len()) as i32).to_be_bytes());
    v.extend_from_slice(&frame::type_word(serialize_type, header.len()).to_be_bytes());
    v.extend_from_slice(header);
    v.extend_from_slice(body);
    v
}

fn route_request(st: SerializeType) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC)
        .with_header(&GetRouteInfoRequestHeader {
            topic: "TopicTest".into(),
            ..Default::default()
        })
        .with_serialize_type(st)
        .with_opaque(7);
    cmd.language = LanguageCode::Java;
    cmd
}

const GOLDEN_JSON_FRAME: &str = "00000087 00000083 7b22636f6465223a3130352c226578744669656c6473223a7b22746f706963223a22546f70696354657374227d2c22666c6167223a302c226c616e6775616765223a224a415641222c226f7061717565223a372c2273657269616c697a655479706543757272656e74525043223a224a534f4e222c2276657273696f6e223a3430397d";

const GOLDEN_BINARY_FRAME: &str = "0000002d 01000029 0069 00 0199 00000007 00000000 00000000 00000014 0005 746f706963 00000009 546f70696354657374";

#[test]
fn golden_json_frame_exact_bytes() {
    let mut buf = BytesMut::new();
    route_request(SerializeType::Json).encode(&mut buf).unwrap();
    assert_eq!(buf.to_vec(), hex(GOLDEN_JSON_FRAME));
    let (cmd, used) = RemotingCommand::decode(&hex(GOLDEN_JSON_FRAME)).unwrap().unwrap();
    assert_eq!(used, 0x87 + 4);
    assert_eq!(cmd, route_request(SerializeType::Json));
}

#[test]
fn golden_binary_frame_exact_bytes() {
    let mut buf = BytesMut::new();
    route_request(SerializeType::RocketMq).encode(&mut buf).unwrap();
    assert_eq!(buf.to_vec(), hex(GOLDEN_BINARY_FRAME));
    let (cmd, used) = RemotingCommand::decode(&hex(GOLDEN_BINARY_FRAME))
        .unwrap()
        .unwrap();
    assert_eq!(used, 49);
    assert_eq!(cmd, route_request(SerializeType::RocketMq));
}

#[test]
fn golden_oneway_with_remark_and_body() {
    let header = br#"{"code":34,"flag":2,"language":"JAVA","opaque":8,"remark":"r","serializeTypeCurrentRPC":"JSON","version":409}"#;
    let (cmd, _) = RemotingCommand::decode(&frame_of(header, 0, b"hi"))
        .unwrap()
        .unwrap();
    assert_eq!(cmd.code, 34);
    assert!(cmd.is_oneway() && !cmd.is_response());
    assert_eq!(cmd.remark.as_deref(), Some("r"));
    assert_eq!(&cmd.body[..], b"hi");
    assert!(cmd.ext_fields.is_empty());
}

#[test]
fn golden_send_response_decodes() {
    let header = br#"{"code":0,"extFields":{"queueId":"3","TRACE_ON":"true","MSG_REGION":"DefaultRegion","msgId":"C0A8000100002A9F0000000000000000","queueOffset":"42"},"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":409}"#;
    let (cmd, _) = RemotingCommand::decode(&frame_of(header, 0, b""))
        .unwrap()
        .unwrap();
    assert!(cmd.is_response());
    assert_eq!(cmd.ext("MSG_REGION"), Some("DefaultRegion"));
    let h: crate::header::SendMessageResponseHeader = cmd.header().unwrap();
    assert_eq!(h.queue_id, 3);
    assert_eq!(h.queue_offset, 42);
    assert_eq!(h.msg_id, "C0A8000100002A9F0000000000000000");
}

#[test]
fn json_decode_is_liberal() {
    let header = br#"{"code":105,"language":12,"opaque":1,"extFields":{"n":5,"b":true,"z":null,"s":"x"},"unknown":[1]}"#;
    let (cmd, _) = RemotingCommand::decode(&frame_of(header, 0, b""))
        .unwrap()
        .unwrap();
    assert_eq!(cmd.language, LanguageCode::Rust);
    assert_eq!(cmd.version, 0);
    assert_eq!(cmd.flag, 0);
    assert_eq!(cmd.remark, None);
    assert_eq!(cmd.ext("n"), Some("5"));
    assert_eq!(cmd.ext("b"), Some("true"));
    assert_eq!(cmd.ext("z"), None);
    assert_eq!(cmd.ext("s"), Some("x"));

    let (cmd, _) = RemotingCommand::decode(&frame_of(br#"{"language":"KOTLIN"}"#, 0, b""))
        .unwrap()
        .unwrap();
    assert_eq!(cmd.language, UNKNOWN_LANGUAGE_NAME);
    assert_eq!(cmd.code, 0);

    for bad in [
        &b"[]"[..],
        b"{",
        b"{\"code\":\"x\"}",
        b"{\"code\":1e99}",
        b"{\"extFields\":[]}",
    ] {
        assert!(
            RemotingCommand::decode(&frame_of(bad, 0, b"")).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn json_encode_shape() {
    let cmd = RemotingCommand::response(1).with_remark("boom\u{1}");
    let text = String::from_utf8(cmd.encode_header().unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"code":1,"extFields":{},"flag":1,"language":"JAVA","opaque":0,"remark":"boom\u0001","serializeTypeCurrentRPC":"JSON","version":409}"#
    );
}

#[test]
fn binary_quirks() {
    // empty remark and empty ext values vanish, as for a Java reader
    let cmd = RemotingCommand::request(12)
        .with_serialize_type(SerializeType::RocketMq)
        .with_remark("")
        .with_ext("k", "")
        .with_ext("a", "b");
    let mut buf = BytesMut::new();
    cmd.encode(&mut buf).unwrap();
    let (back, _) = RemotingCommand::decode(&buf).unwrap().unwrap();
    assert_eq!(back.remark, None);
    assert_eq!(back.ext_fields.len(), 1);
    assert_eq!(back.language, LanguageCode::Rust);

    // codes outside i16 cannot be encoded in binary
    let cmd = RemotingCommand::request(70000).with_serialize_type(SerializeType::RocketMq);
    assert!(matches!(
        cmd.encode(&mut buf),
        Err(WireError::OutOfRange { field: "code", .. })
    ));

    // a remark length larger than headerLen is rejected
    let mut h = hex("0069 00 0199 00000007 00000000 7fffffff");
    let f = frame_of(&h, 1, b"");
    assert!(matches!(
        RemotingCommand::decode(&f),
        Err(WireError::BadBinaryHeader(_))
    ));
    // negative map length
    h = hex("0069 00 0199 00000007 00000000 00000000 ffffffff");
    assert!(RemotingCommand::decode(&frame_of(&h, 1, b"")).is_err());
    // truncated entry inside the map
    h = hex("0069 00 0199 00000007 00000000 00000000 00000004 0005 7465");
    assert!(RemotingCommand::decode(&frame_of(&h, 1, b"")).is_err());
    // unknown language byte survives
    h = hex("0069 63 0199 00000007 00000000 00000000 00000000");
    let (cmd, _) = RemotingCommand::decode(&frame_of(&h, 1, b"")).unwrap().unwrap();
    assert_eq!(cmd.language, LanguageCode::Unknown(0x63));
}

#[test]
fn unknown_serialize_type_rejected() {
    let f = frame_of(b"{}", 2, b"");
    assert!(matches!(
        RemotingCommand::decode(&f),
        Err(WireError::UnknownSerializeType(2))
    ));
}

#[test]
fn decode_needs_more_then_consumes_exactly_one_frame() {
    let mut buf = BytesMut::new();
    let a = RemotingCommand::request(34)
        .with_body(&b"first"[..])
        .with_opaque(1);
    let b = RemotingCommand::response_to(&a, 0);
    a.encode(&mut buf).unwrap();
    b.encode(&mut buf).unwrap();
    let first_len = RemotingCommand::decode(&buf).unwrap().unwrap().1;
    for cut in 0..first_len {
        assert!(
            RemotingCommand::decode(&buf[..cut]).unwrap().is_none(),
            "cut {cut}"
        );
    }
    let mut stream = buf.clone();
    assert_eq!(RemotingCommand::decode_from(&mut stream).unwrap().unwrap(), a);
    let got_b = RemotingCommand::decode_from(&mut stream).unwrap().unwrap();
    assert_eq!(got_b, b);
    assert_eq!(got_b.opaque, 1);
    assert!(got_b.is_response());
    assert!(stream.is_empty());
    assert!(RemotingCommand::decode_from(&mut stream).unwrap().is_none());
}

#[test]
fn builders_and_flags() {
    let mut req = RemotingCommand::request(15).with_opaque(5);
    assert_eq!(
        (req.language, req.version, req.flag),
        (LanguageCode::Rust, VERSION, 0)
    );
    req.set_oneway();
    assert!(req.is_oneway());
    let req = req.with_serialize_type(SerializeType::RocketMq);
    let resp = RemotingCommand::response_to(&req, 3);
    assert_eq!(resp.opaque, 5);
    assert_eq!(resp.serialize_type, SerializeType::RocketMq);
    assert_eq!(resp.language, LanguageCode::Java);
    assert!(resp.is_response() && !resp.is_oneway());
}

#[test]
fn language_codes() {
    for b in 0..=255u8 {
        let l = LanguageCode::from_code(b);
        assert_eq!(l.code(), b);
        if let Some(n) = l.name() {
            assert_eq!(LanguageCode::parse(n), Some(l));
        }
    }
    assert_eq!(LanguageCode::parse("rust"), Some(LanguageCode::Rust));
    assert_eq!(LanguageCode::parse("12"), Some(LanguageCode::Rust));
    assert_eq!(LanguageCode::parse("nope"), None);
    assert_eq!(LanguageCode::Cpp.to_string(), "CPP");
}

#[test]
fn oversized_encode_rejected() {
    let cmd = RemotingCommand::request(10).with_body(vec![0u8; crate::MAX_FRAME_BYTES]);
    let mut buf = BytesMut::new();
    assert!(matches!(
        cmd.encode(&mut buf),
        Err(WireError::FrameTooLarge { .. })
    ));
    assert!(buf.is_empty());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_command() -> impl Strategy<Value = RemotingCommand> {
        (
            (
                any::<i16>(),
                any::<u8>(),
                any::<i16>(),
                any::<i32>(),
                any::<i32>(),
            ),
            proptest::option::of("\\PC{1,20}"),
            proptest::collection::hash_map("[a-zA-Z_]{1,8}", "\\PC{1,16}", 0..6),
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<bool>(),
        )
            .prop_map(
                |((code, lang, version, opaque, flag), remark, ext_fields, body, bin)| RemotingCommand {
                    code: code.into(),
                    language: LanguageCode::from_code(lang),
                    version: version.into(),
                    opaque,
                    flag,
                    remark,
                    ext_fields,
                    body: body.into(),
                    serialize_type: if bin {
                        SerializeType::RocketMq
                    } else {
                        SerializeType::Json
                    },
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decode_encode_round_trip(cmd in arb_command()) {
            let mut buf = BytesMut::new();
            cmd.encode(&mut buf).unwrap();
            let (back, used) = RemotingCommand::decode(&buf).unwrap().unwrap();
            prop_assert_eq!(used, buf.len());
            prop_assert_eq!(back, cmd);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = RemotingCommand::decode(&data);
            let mut b = BytesMut::from(&data[..]);
            let _ = RemotingCommand::decode_from(&mut b);
        }

        #[test]
        fn arbitrary_bytes_behind_valid_prefix_never_panic(
            st in 0u8..3,
            header_len in 0usize..300,
            data in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut f = Vec::new();
            f.extend_from_slice(&((4 + data.len()) as i32).to_be_bytes());
            f.extend_from_slice(&frame::type_word(st, header_len).to_be_bytes());
            f.extend_from_slice(&data);
            match RemotingCommand::decode(&f) {
                Ok(Some((_, used))) => prop_assert_eq!(used, f.len()),
                Ok(None) => prop_assert!(false, "complete frame reported as partial"),
                Err(_) => {}
            }
        }

        #[test]
        fn binary_header_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let f = frame_of(&data, 1, b"");
            let _ = RemotingCommand::decode(&f);
        }

        #[test]
        fn huge_declared_lengths_rejected_without_allocation(len in any::<i32>(), tail in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut f = len.to_be_bytes().to_vec();
            f.extend_from_slice(&tail);
            let r = RemotingCommand::decode(&f);
            if len < 4 || len as usize + 4 > crate::MAX_FRAME_BYTES {
                prop_assert!(r.is_err());
            } else {
                // A plausible length with too few bytes: just "need more".
                prop_assert!(matches!(r, Ok(None)) || f.len() >= len as usize + 4);
            }
        }
    }
}
