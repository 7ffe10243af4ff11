use std::net::SocketAddr;

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;
use crate::WireError;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn properties_golden_and_liberal() {
    let s = encode_properties(&[
        ("KEYS", "K1"),
        ("UNIQ_KEY", "AABB"),
        ("WAIT", "true"),
        ("TAGS", "TagA"),
    ]);
    assert_eq!(
        s,
        "KEYS\u{1}K1\u{2}UNIQ_KEY\u{1}AABB\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA"
    );
    let m = decode_properties(&s);
    assert_eq!(m.len(), 4);
    assert_eq!(m[property::TAGS], "TagA");
    assert_eq!(encode_properties(&[] as &[(&str, &str)]), "");
    // malformed pairs ignored: too short, empty key, empty value, no separator, trailing \x02
    let m = decode_properties("a\u{1}\u{2}\u{1}bc\u{2}novalue\u{2}k\u{1}v\u{2}K\u{1}v\u{1}w\u{2}");
    assert_eq!(m.len(), 2);
    assert_eq!(m["k"], "v");
    assert_eq!(m["K"], "v\u{1}w");
    let mut map = std::collections::HashMap::new();
    map.insert("B".to_string(), "2".to_string());
    map.insert("A".to_string(), "1".to_string());
    assert_eq!(encode_property_map(&map), "A\u{1}1\u{2}B\u{1}2");
}

#[test]
fn java_hash_golden() {
    assert_eq!(java_hash("TagA"), 2_598_919);
    assert_eq!(java_hash("TagB"), 2_598_920);
    assert_eq!(java_hash(""), 0);
    assert_eq!(tag_hash(""), 0);
    // overflow wraps; non-BMP characters hash as two UTF-16 units
    assert_eq!(java_hash("polygenelubricants"), i32::MIN);
    assert_eq!(java_hash("😀"), 0xD83D * 31 + 0xDE00);
    assert_eq!(tag_hash("polygenelubricants"), i64::from(i32::MIN));
}

#[test]
fn batch_golden() {
    let golden = hex("00000041 00000000 00000000 00000000 00000002 4869 0029 4b455953 01 4b31 02 554e49515f4b4559 01 41414242 02 57414954 01 74727565 02 54414753 01 54616741");
    let entries = decode_batch(&golden).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(&entries[0].body[..], b"Hi");
    assert_eq!(
        entries[0].properties,
        "KEYS\u{1}K1\u{2}UNIQ_KEY\u{1}AABB\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA"
    );
    let mut out = BytesMut::new();
    encode_batch(&entries, &mut out);
    assert_eq!(out.to_vec(), golden);
}

#[test]
fn batch_round_trip_and_errors() {
    let entries = vec![
        BatchEntry {
            flag: 1,
            body: "a".into(),
            properties: "UNIQ_KEY\u{1}X".into(),
        },
        BatchEntry {
            flag: -7,
            body: vec![0u8; 1000].into(),
            properties: String::new(),
        },
        BatchEntry {
            flag: 0,
            body: bytes::Bytes::new(),
            properties: "K\u{1}V".into(),
        },
    ];
    let mut out = BytesMut::new();
    encode_batch(&entries, &mut out);
    assert_eq!(decode_batch(&out).unwrap(), entries);
    assert!(decode_batch(&out[..out.len() - 1]).is_err());
    let mut bad = out.to_vec();
    bad[3] += 1; // wrong total size
    assert!(decode_batch(&bad).is_err());
    assert_eq!(decode_batch(&[]).unwrap(), vec![]);
}

fn golden_message() -> MessageExt {
    let store_host: SocketAddr = "192.168.0.1:10911".parse().unwrap();
    MessageExt {
        store_size: 0x6f,
        body_crc: 0x4d17_0e0e,
        queue_id: 1,
        flag: 0,
        queue_offset: 5,
        commit_log_offset: 4096,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "192.168.0.10:54321".parse().unwrap(),
        store_timestamp: 1_700_000_000_005,
        store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: "Hi".into(),
        topic: "TopicTest".into(),
        properties: [("TAGS".to_string(), "TagA".to_string())].into_iter().collect(),
        msg_id: "C0A8000100002A9F0000000000001000".into(),
    }
}

const GOLDEN_RECORD: &str = "0000006f daa320a7 4d170e0e 00000001 00000000 0000000000000005 0000000000001000
00000000 0000018bcfe56800 c0a8000a 0000d431 0000018bcfe56805 c0a80001 00002a9f
00000000 0000000000000000 00000002 4869 09 546f70696354657374 0009 5441475301 54616741";

#[test]
fn stored_message_golden() {
    let bytes = hex(GOLDEN_RECORD);
    let (m, used) = decode_message(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(m, golden_message());
    assert_eq!(body_crc(b"Hi"), m.body_crc);
    assert_eq!(m.tags(), Some("TagA"));
    assert_eq!(m.client_msg_id(), m.msg_id);
    let mut out = BytesMut::new();
    encode_message(&m, &mut out);
    assert_eq!(out.to_vec(), bytes);
    assert_eq!(m.encoded_len(), bytes.len());
}

#[test]
fn stored_messages_ipv6_and_concatenated() {
    let mut a = golden_message();
    let mut b = golden_message();
    b.born_host = "[fd00::10]:4000".parse().unwrap();
    b.store_host = "[fd00::1]:10911".parse().unwrap();
    b.sys_flag = sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6 | sys_flag::TRANSACTION_COMMIT_TYPE;
    b.commit_log_offset = 4096 + 0x6f;
    b.msg_id = offset_msg_id(b.store_host, b.commit_log_offset);
    b.properties.insert(property::UNIQ_KEY.into(), "AABB".into());
    b.properties.insert(property::KEYS.into(), "k1 k2".into());
    b.store_size = b.encoded_len() as i32;
    let mut c = golden_message();
    c.born_host = "[::1]:1".parse().unwrap();
    c.sys_flag = sys_flag::BORNHOST_V6;
    c.store_size = c.encoded_len() as i32;
    a.store_size = a.encoded_len() as i32;
    let mut buf = BytesMut::new();
    for m in [&a, &b, &c] {
        encode_message(m, &mut buf);
    }
    let all = decode_messages(&buf).unwrap();
    assert_eq!(all, vec![a, b.clone(), c]);
    assert_eq!(all[1].client_msg_id(), "AABB");
    assert_eq!(all[1].keys().collect::<Vec<_>>(), ["k1", "k2"]);
    assert_eq!(all[1].msg_id.len(), 56);
    // truncated stream is an error, not a panic
    assert!(decode_messages(&buf[..buf.len() - 3]).is_err());
}

#[test]
fn compressed_body_is_inflated_by_decode_messages() {
    let plain = vec![b'x'; 10_000];
    let mut m = golden_message();
    m.body = zlib_compress(&plain, 5).into();
    m.sys_flag = sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB;
    m.body_crc = body_crc(&m.body);
    let mut buf = BytesMut::new();
    encode_message(&m, &mut buf);
    let raw = decode_messages_raw(&buf).unwrap();
    assert_eq!(raw[0].body, m.body);
    let msgs = decode_messages(&buf).unwrap();
    assert_eq!(&msgs[0].body[..], &plain[..]);
    assert_eq!(msgs[0].sys_flag, m.sys_flag);
    // pre-4.9.4 producers set only the COMPRESSED bit
    m.sys_flag = sys_flag::COMPRESSED;
    buf.clear();
    encode_message(&m, &mut buf);
    assert_eq!(&decode_messages(&buf).unwrap()[0].body[..], &plain[..]);
    // LZ4 bodies are left alone
    m.sys_flag = sys_flag::COMPRESSED | sys_flag::COMPRESSION_LZ4;
    buf.clear();
    encode_message(&m, &mut buf);
    assert_eq!(decode_messages(&buf).unwrap()[0].body, m.body);
    // garbage claimed as zlib is an error
    m.sys_flag = sys_flag::COMPRESSED;
    m.body = "not zlib".into();
    buf.clear();
    encode_message(&m, &mut buf);
    assert!(matches!(decode_messages(&buf), Err(WireError::Compression(_))));
    assert!(zlib_decompress(&zlib_compress(&plain, 9), 100).is_err());
}

#[test]
fn bad_records() {
    let good = hex(GOLDEN_RECORD);
    let mut bad = good.clone();
    bad[4] = 0; // magic
    assert!(decode_message(&bad).is_err());
    let mut blank = good.clone();
    blank[4..8].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
    assert!(decode_message(&blank).is_err());
    let mut bad = good.clone();
    bad[3] = 0x70; // total size larger than the buffer
    assert!(decode_message(&bad).is_err());
    let mut bad = good.clone();
    let topic_len_at = bad.len() - 21;
    assert_eq!(bad[topic_len_at], 9);
    bad[topic_len_at] = 0xff; // negative topic length
    assert!(decode_message(&bad).is_err());
    assert!(decode_message(&[]).is_err());
}

#[test]
fn v2_records_are_read() {
    // A 5.x broker's record: magic 0xDAA320AB and a 2-byte topic length.
    let v1 = hex(GOLDEN_RECORD);
    let topic_len_at = v1.len() - 21;
    let mut v2 = v1[..topic_len_at].to_vec();
    v2.extend_from_slice(&[0, 9]);
    v2.extend_from_slice(&v1[topic_len_at + 1..]);
    let total = v2.len() as i32;
    v2[..4].copy_from_slice(&total.to_be_bytes());
    v2[4..8].copy_from_slice(&MESSAGE_MAGIC_CODE_V2.to_be_bytes());
    let (m, used) = decode_message(&v2).unwrap();
    assert_eq!(used, v2.len());
    assert_eq!(m.topic, "TopicTest");
    assert_eq!(m.tags(), Some("TagA"));
    let Record::Message(view) = parse_record(&v2, true).unwrap() else {
        panic!("blank")
    };
    assert!(view.v2);
    assert_eq!((view.topic, view.body), (&b"TopicTest"[..], &b"Hi"[..]));
}

#[test]
fn record_views_and_patching() {
    let mut rec = hex(GOLDEN_RECORD);
    let Record::Message(view) = parse_record(&rec, true).unwrap() else {
        panic!("blank")
    };
    assert_eq!(view.total_size, rec.len());
    assert_eq!(
        host_addr(view.store_host, "store host").unwrap(),
        golden_message().store_host
    );
    assert_eq!(read_i64(&rec, store_timestamp_pos(0)), Some(1_700_000_000_005));
    assert!(patch_record(&mut rec, 7, 8192, 42));
    let (m, _) = decode_message(&rec).unwrap();
    assert_eq!(
        (m.queue_offset, m.commit_log_offset, m.store_timestamp),
        (7, 8192, 42)
    );
    assert!(!patch_record(&mut rec[..50], 1, 1, 1));
    assert_eq!(parse_record(&blank_record(64), true).unwrap(), Record::Blank);
    let mut crc = rec.clone();
    let body_at = crc.len() - 2 - 1 - 9 - 2 - 9;
    crc[body_at] ^= 1;
    assert!(parse_record(&crc, true).is_err());
    assert!(parse_record(&crc, false).is_ok());
}

#[test]
fn find_property_follows_decode_properties() {
    let props = b"KEYS\x01k1 k2\x02TAGS\x01TagA\x02E\x01\x02\x01v\x02ab";
    assert_eq!(find_property(props, "TAGS"), Some(&b"TagA"[..]));
    assert_eq!(find_property(props, "KEYS"), Some(&b"k1 k2"[..]));
    assert_eq!(
        find_property(props, "E"),
        None,
        "empty value: absent, as in decode_properties"
    );
    assert_eq!(find_property(props, ""), None);
    assert_eq!(tags_code_of(props), tag_hash("TagA"));
    assert_eq!(tags_code_of(b"TAGS\x01"), 0);
    let map = decode_properties(std::str::from_utf8(props).unwrap());
    for k in ["KEYS", "TAGS", "E", "", "ab"] {
        assert_eq!(find_property(props, k), map.get(k).map(String::as_bytes), "{k}");
    }
}

/// The inputs the `properties` and `message` fuzz targets found while `find_property` still took
/// the first of repeated names: TAGS twice, the tag code must be the last one's.
#[test]
fn find_property_takes_the_last_duplicate() {
    let props = b"KEYS\x01k1\x02TAGS\x01YS\x01k1\x02TAGS\x01TagA\x02TAGS\x01\x02UNIQ_KEY\x01u";
    assert_eq!(find_property(props, "TAGS"), Some(&b"TagA"[..]));
    assert_eq!(tags_code_of(props), tag_hash("TagA"));
    let map = decode_properties(std::str::from_utf8(props).unwrap());
    assert_eq!(map.get("TAGS").map(String::as_str), Some("TagA"));
    // A NUL-valued first TAGS (the `message` target's record) hashes to 0: still the last counts.
    assert_eq!(tags_code_of(b"TAGS\x01\0\0\0\x02TAGS\x01TagA"), tag_hash("TagA"));
}

proptest! {
    #[test]
    fn find_property_agrees_with_decode(s in "[a-c\x01\x02]{0,24}", k in "[a-c]{0,2}") {
        let map = decode_properties(&s);
        prop_assert_eq!(find_property(s.as_bytes(), &k), map.get(&k).map(String::as_bytes));
        prop_assert_eq!(find_property_str(&s, &k), map.get(&k).map(String::as_str));
    }
}

#[test]
fn sys_flag_helpers() {
    let f = sys_flag::with_transaction_type(
        sys_flag::COMPRESSED | sys_flag::TRANSACTION_PREPARED_TYPE,
        sys_flag::TRANSACTION_COMMIT_TYPE,
    );
    assert_eq!(f, sys_flag::COMPRESSED | sys_flag::TRANSACTION_COMMIT_TYPE);
    assert_eq!(sys_flag::transaction_type(f), sys_flag::TRANSACTION_COMMIT_TYPE);
    assert!(sys_flag::is_zlib_compressed(0x301));
    assert!(!sys_flag::is_zlib_compressed(0x300));
    assert!(sys_flag::enters_consume_queue(
        sys_flag::TRANSACTION_COMMIT_TYPE | sys_flag::COMPRESSED
    ));
    assert!(!sys_flag::enters_consume_queue(
        sys_flag::TRANSACTION_PREPARED_TYPE
    ));
    assert!(!sys_flag::enters_consume_queue(
        sys_flag::TRANSACTION_ROLLBACK_TYPE
    ));
    let v4: SocketAddr = "1.2.3.4:5".parse().unwrap();
    let v6: SocketAddr = "[::1]:5".parse().unwrap();
    assert_eq!(
        sys_flag::with_hosts(sys_flag::BORNHOST_V6 | 1, &v4, &v6),
        sys_flag::STOREHOST_V6 | 1
    );
}

#[test]
fn topic_and_group_validation() {
    assert!(validate_topic("TopicTest").is_ok());
    assert!(validate_topic("%RETRY%CG|x-y_z").is_ok());
    assert_eq!(validate_topic("").unwrap_err(), "The specified topic is blank.");
    assert!(validate_topic("a b").unwrap_err().contains("illegal characters"));
    assert!(validate_topic("Tópico").is_err());
    assert!(validate_topic(&"a".repeat(127)).is_ok());
    assert!(validate_topic(&"a".repeat(128)).unwrap_err().contains("longer"));
    assert!(validate_group("CG").is_ok());
    assert!(validate_group(&"g".repeat(256)).is_err());
}

proptest! {
    #[test]
    fn stored_decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_message(&data);
        let _ = decode_messages(&data);
        let _ = decode_batch(&data);
    }

    #[test]
    fn mutated_golden_record_never_panics(i in 0usize..111, b in any::<u8>()) {
        let mut data = hex(GOLDEN_RECORD);
        data[i] = b;
        let _ = decode_messages(&data);
    }

    #[test]
    fn properties_round_trip(props in proptest::collection::hash_map("[A-Za-z_]{1,10}", "[^\u{1}\u{2}]{1,20}", 0..8)) {
        let s = encode_property_map(&props);
        prop_assert_eq!(decode_properties(&s), props);
    }

    #[test]
    fn offset_msg_id_round_trip(ip in any::<std::net::IpAddr>(), port in any::<u16>(), off in any::<i64>()) {
        let host = SocketAddr::new(ip, port);
        prop_assert_eq!(decode_offset_msg_id(&offset_msg_id(host, off)).unwrap(), (host, off));
    }

    #[test]
    fn java_hash_matches_utf16_definition(s in "\\PC{0,20}") {
        let mut h: i32 = 0;
        for u in s.encode_utf16() {
            h = h.wrapping_mul(31).wrapping_add(u as i32);
        }
        prop_assert_eq!(java_hash(&s), h);
    }
}
