//! The store's side of the commitlog record: limits checked before an append, the encoder from a
//! [`PutMessage`], the recovery check, and the consume-queue tag code of a stored record. The
//! layout itself (magic codes, field positions, sizes, the parser) has one definition, in
//! `rmq_protocol::message` (`stored.rs`): the pull-response body is the same bytes.

use std::net::SocketAddr;

pub use rmq_protocol::message::{
    blank_record as blank, body_crc, find_property as property, java_hash, offset_msg_id,
    patch_record as patch, pos, read_i32, read_i64, store_timestamp_pos, sys_flag, RecordView,
    BLANK_MAGIC_CODE, END_FILE_MIN_BLANK_LENGTH, FIXED_OVERHEAD_V4, MAX_PROPERTIES_LEN, MAX_TOPIC_LEN,
    MESSAGE_MAGIC_CODE, MESSAGE_MAGIC_CODE_V2,
};
use rmq_protocol::message::{
    parse_record, property as prop, put_record, record_len, tags_code_of, Record, RecordHeader,
};

use crate::message::PutMessage;

/// The topic whose consume-queue tag code is a deliver time, not a tag hash.
pub use rmq_protocol::topic::SCHEDULE_TOPIC;
/// Where 5.x timer messages wait (queue 0); the consume queue's tags code is `TIMER_OUT_MS`.
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";

/// Why a message cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// Topic > 127 bytes, body > max, or record too large.
    Illegal,
    /// Properties > 32767 bytes.
    PropertiesTooLong,
}

/// Append one encoded record to `buf`. QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP are written
/// as 0 and patched under the put lock by [`patch`]. The host-family bits of the written sys
/// flag follow `msg.born_host` and `store_host`.
pub fn encode(
    buf: &mut Vec<u8>,
    msg: &PutMessage,
    store_host: &SocketAddr,
    max_body: usize,
) -> Result<usize, EncodeError> {
    let topic = msg.topic.as_bytes();
    let props = msg.properties.as_bytes();
    if topic.len() > MAX_TOPIC_LEN || msg.body.len() > max_body {
        return Err(EncodeError::Illegal);
    }
    if props.len() > MAX_PROPERTIES_LEN {
        return Err(EncodeError::PropertiesTooLong);
    }
    let flag = sys_flag::with_hosts(msg.sys_flag, &msg.born_host, store_host);
    let len = record_len(flag, msg.body.len(), topic.len(), props.len());
    if len > max_body + 64 * 1024 {
        return Err(EncodeError::Illegal);
    }
    let header = RecordHeader {
        body_crc: body_crc(&msg.body),
        queue_id: msg.queue_id,
        flag: msg.flag,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: msg.sys_flag,
        born_timestamp: msg.born_timestamp,
        born_host: msg.born_host,
        store_timestamp: 0,
        store_host: *store_host,
        reconsume_times: msg.reconsume_times,
        prepared_transaction_offset: msg.prepared_transaction_offset,
    };
    buf.reserve(len);
    let written = put_record(buf, &header, &msg.body, topic, props);
    debug_assert_eq!(written, len);
    Ok(len)
}

/// What `check` found at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordCheck<'a> {
    Message(RecordView<'a>),
    /// End-of-segment filler: continue at the next segment.
    Blank,
    /// Not a valid record (never-written zeros, torn write, bad CRC, inconsistent lengths).
    Invalid,
}

/// Check the record at the start of `buf` (Java `checkMessageAndReturnSize`). `buf` may extend
/// past the record; bytes past its end are ignored.
pub fn check(buf: &[u8], check_crc: bool) -> RecordCheck<'_> {
    match parse_record(buf, check_crc) {
        Ok(Record::Message(view)) => RecordCheck::Message(view),
        Ok(Record::Blank) => RecordCheck::Blank,
        Err(_) => RecordCheck::Invalid,
    }
}

/// Tag code of a `TAGS` value: 0 when absent or empty, else the sign-extended Java hash.
pub fn tags_code(tags: Option<&str>) -> i64 {
    tags.map_or(0, rmq_protocol::message::tag_hash)
}

/// Tag code for the consume queue as Java's dispatch computes it from a stored record:
/// the deliver timestamp for `SCHEDULE_TOPIC_XXXX` with a `DELAY` level, `TIMER_OUT_MS` for the
/// timer topic, else the `TAGS` hash.
pub fn dispatch_tags_code(topic: &[u8], properties: &[u8], store_ts: i64, delay_levels_ms: &[i64]) -> i64 {
    if topic == TIMER_TOPIC.as_bytes() {
        if let Some(out) = property(properties, prop::TIMER_OUT_MS)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            return out;
        }
    }
    if topic == SCHEDULE_TOPIC.as_bytes() {
        if let Some(level) = property(properties, prop::DELAY)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok())
        {
            let level = level.min(delay_levels_ms.len() as i64);
            let delay = usize::try_from(level - 1)
                .ok()
                .and_then(|i| delay_levels_ms.get(i))
                .copied()
                .unwrap_or(1000);
            return store_ts + delay;
        }
    }
    tags_code_of(properties)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn msg(body: &[u8], topic: &str, props: &str) -> PutMessage {
        PutMessage {
            topic: topic.into(),
            queue_id: 3,
            flag: 7,
            body: Bytes::copy_from_slice(body),
            properties: props.into(),
            tags_code: 0,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: "10.0.0.1:5555".parse().unwrap(),
            reconsume_times: 2,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn layout_matches_spec_offsets() {
        let store: SocketAddr = "192.168.1.2:10911".parse().unwrap();
        let m = msg(b"hello", "TopicTest", "TAGS\x01TagA");
        let mut buf = Vec::new();
        let len = encode(&mut buf, &m, &store, 1024).unwrap();
        assert_eq!(len, 91 + 5 + 9 + 9);
        assert!(patch(&mut buf, 42, 4096, 1_700_000_000_123));
        assert_eq!(&buf[4..8], &0xDAA320A7u32.to_be_bytes());
        assert_eq!(&buf[20..28], &42i64.to_be_bytes());
        assert_eq!(&buf[28..36], &4096i64.to_be_bytes());
        assert_eq!(&buf[48..52], &[10, 0, 0, 1]);
        assert_eq!(&buf[56..64], &1_700_000_000_123i64.to_be_bytes());
        assert_eq!(&buf[64..68], &[192, 168, 1, 2]);
        assert_eq!(&buf[84..88], &5i32.to_be_bytes());
        let RecordCheck::Message(info) = check(&buf, true) else {
            panic!("invalid")
        };
        assert_eq!(info.total_size, len);
        assert_eq!(info.queue_offset, 42);
        assert_eq!(info.topic, b"TopicTest");
        assert_eq!(property(info.properties, "TAGS"), Some(&b"TagA"[..]));
        assert_eq!(
            dispatch_tags_code(info.topic, info.properties, 0, &[]),
            java_hash("TagA") as i64
        );
    }

    #[test]
    fn java_hash_and_ids() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("TagA"), 2_598_919);
        assert_eq!(java_hash("hello world"), 1_794_106_052);
        let id = offset_msg_id("127.0.0.1:10911".parse().unwrap(), 255);
        assert_eq!(id, "7F00000100002A9F00000000000000FF");
    }

    #[test]
    fn torn_and_corrupt_records_are_invalid() {
        let store: SocketAddr = "[::1]:10911".parse().unwrap();
        let m = msg(b"payload", "T", "");
        let mut buf = Vec::new();
        let len = encode(&mut buf, &m, &store, 1024).unwrap();
        assert_eq!(len, 91 + 12 + 7 + 1);
        assert!(matches!(check(&buf, true), RecordCheck::Message(_)));
        for cut in 0..len {
            assert_eq!(check(&buf[..cut], true), RecordCheck::Invalid, "cut {cut}");
        }
        let mut bad = buf.clone();
        bad[101] ^= 1; // body byte (store host is v6: body at 100)
        assert_eq!(check(&bad, true), RecordCheck::Invalid);
        assert!(matches!(check(&bad, false), RecordCheck::Message(_)));
        assert_eq!(check(&[0u8; 64], true), RecordCheck::Invalid);
        assert_eq!(check(&blank(100), true), RecordCheck::Blank);
    }

    #[test]
    fn timer_topic_tag_code_is_timer_out_ms() {
        let props = b"UNIQ_KEY\x01abc\x02TIMER_OUT_MS\x011700000000000\x02TAGS\x01t";
        assert_eq!(
            dispatch_tags_code(b"rmq_sys_wheel_timer", props, 5, &[]),
            1_700_000_000_000
        );
        // Elsewhere the tag hash, as always.
        assert_eq!(dispatch_tags_code(b"T", props, 5, &[]), tags_code(Some("t")));
    }

    #[test]
    fn schedule_topic_tag_code_is_deliver_time() {
        let levels = [1000, 5000];
        let props = b"DELAY\x012\x02TAGS\x01x";
        assert_eq!(
            dispatch_tags_code(b"SCHEDULE_TOPIC_XXXX", props, 100, &levels),
            5100
        );
        let props = b"DELAY\x019";
        assert_eq!(
            dispatch_tags_code(b"SCHEDULE_TOPIC_XXXX", props, 100, &levels),
            5100
        );
    }

    proptest! {
        #[test]
        fn encode_check_round_trip(body in proptest::collection::vec(any::<u8>(), 0..300),
                                   topic in "[a-zA-Z0-9_%-]{1,127}",
                                   props in "[a-z]{0,40}") {
            let store: SocketAddr = "1.2.3.4:5".parse().unwrap();
            let m = msg(&body, &topic, &props);
            let mut buf = Vec::new();
            let len = encode(&mut buf, &m, &store, 4096).unwrap();
            buf.extend_from_slice(&[0xAB; 16]);
            match check(&buf, true) {
                RecordCheck::Message(i) => {
                    prop_assert_eq!(i.total_size, len);
                    prop_assert_eq!(i.topic, topic.as_bytes());
                    prop_assert_eq!(i.properties, props.as_bytes());
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn check_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = check(&data, true);
        }
    }
}
