//! The commitlog record format (storage.md §2.1-§2.3): encoder for the append path, a checking
//! decoder for recovery and dispatch, message ids and the Java hash used for tag codes.
//!
//! All integers are big-endian. The pull-response body is the same bytes.

use std::net::{IpAddr, SocketAddr};

use crate::message::PutMessage;

/// `MESSAGE_MAGIC_CODE` (v1, the only one a 4.9 broker writes).
pub const MESSAGE_MAGIC_CODE: i32 = 0xDAA3_20A7_u32 as i32;
/// `MESSAGE_MAGIC_CODE_V2` (5.x: 2-byte topic length). Accepted when reading.
pub const MESSAGE_MAGIC_CODE_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// `BLANK_MAGIC_CODE`: end-of-segment filler.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;
/// A record never ends closer than this to the end of its segment.
pub const END_FILE_MIN_BLANK_LENGTH: usize = 8;

pub const TOTAL_SIZE_POS: usize = 0;
pub const MAGIC_POS: usize = 4;
pub const BODY_CRC_POS: usize = 8;
pub const QUEUE_ID_POS: usize = 12;
pub const FLAG_POS: usize = 16;
pub const QUEUE_OFFSET_POS: usize = 20;
pub const PHYSICAL_OFFSET_POS: usize = 28;
pub const SYS_FLAG_POS: usize = 36;
pub const BORN_TIMESTAMP_POS: usize = 40;
pub const BORN_HOST_POS: usize = 48;

/// Fixed bytes of a record whose born and store hosts are both IPv4.
pub const FIXED_OVERHEAD_V4: usize = 91;
const _: () = assert!(4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2 == FIXED_OVERHEAD_V4);
const _: () = assert!(BORN_HOST_POS + 8 == 56 && SYS_FLAG_POS + 4 == BORN_TIMESTAMP_POS);
const _: () = assert!(PHYSICAL_OFFSET_POS + 8 == SYS_FLAG_POS);

/// MessageSysFlag bits (storage.md §2.2).
pub mod sys_flag {
    pub const COMPRESSED: i32 = 0x1;
    pub const MULTI_TAGS: i32 = 0x2;
    pub const TRANSACTION_MASK: i32 = 0xC;
    pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
    pub const BORNHOST_V6: i32 = 0x10;
    pub const STOREHOST_V6: i32 = 0x20;

    /// PREPARED and ROLLBACK records get queue offset 0 and never enter a consume queue.
    pub fn enters_consume_queue(flag: i32) -> bool {
        matches!(
            flag & TRANSACTION_MASK,
            TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE
        )
    }
}

pub const PROPERTY_TAGS: &str = "TAGS";
pub const PROPERTY_DELAY_TIME_LEVEL: &str = "DELAY";
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

pub const MAX_TOPIC_LEN: usize = 127;
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

fn host_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

/// Offset of STORETIMESTAMP for a record with this sys flag.
pub fn store_timestamp_pos(flag: i32) -> usize {
    BORN_HOST_POS + host_len(flag & sys_flag::BORNHOST_V6 != 0)
}

/// Total record length for the given variable parts.
pub fn record_len(flag: i32, body_len: usize, topic_len: usize, props_len: usize) -> usize {
    FIXED_OVERHEAD_V4 - 16
        + host_len(flag & sys_flag::BORNHOST_V6 != 0)
        + host_len(flag & sys_flag::STOREHOST_V6 != 0)
        + body_len
        + topic_len
        + props_len
}

/// Masked CRC32 of the body (storage.md §0).
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// The sys flag with the host IPv6 bits set from the actual addresses.
pub fn sys_flag_for_hosts(flag: i32, born: &SocketAddr, store: &SocketAddr) -> i32 {
    let mut f = flag & !(sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
    if born.is_ipv6() {
        f |= sys_flag::BORNHOST_V6;
    }
    if store.is_ipv6() {
        f |= sys_flag::STOREHOST_V6;
    }
    f
}

fn put_host(buf: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => buf.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => buf.extend_from_slice(&ip.octets()),
    }
    buf.extend_from_slice(&(addr.port() as i32).to_be_bytes());
}

/// Why a message cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// Topic > 127 bytes, body > max, or record too large.
    Illegal,
    /// Properties > 32767 bytes.
    PropertiesTooLong,
}

/// Append one encoded record to `buf`. QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP are written
/// as 0 and patched under the put lock by [`patch`]. `flag` must already carry the host v6 bits.
pub fn encode(
    buf: &mut Vec<u8>,
    msg: &PutMessage,
    flag: i32,
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
    let len = record_len(flag, msg.body.len(), topic.len(), props.len());
    if len > max_body + 64 * 1024 {
        return Err(EncodeError::Illegal);
    }
    let start = buf.len();
    buf.reserve(len);
    buf.extend_from_slice(&(len as i32).to_be_bytes());
    buf.extend_from_slice(&MESSAGE_MAGIC_CODE.to_be_bytes());
    buf.extend_from_slice(&body_crc(&msg.body).to_be_bytes());
    buf.extend_from_slice(&msg.queue_id.to_be_bytes());
    buf.extend_from_slice(&msg.flag.to_be_bytes());
    buf.extend_from_slice(&0i64.to_be_bytes()); // queue offset, patched
    buf.extend_from_slice(&0i64.to_be_bytes()); // physical offset, patched
    buf.extend_from_slice(&flag.to_be_bytes());
    buf.extend_from_slice(&msg.born_timestamp.to_be_bytes());
    put_host(buf, &msg.born_host);
    buf.extend_from_slice(&0i64.to_be_bytes()); // store timestamp, patched
    put_host(buf, store_host);
    buf.extend_from_slice(&msg.reconsume_times.to_be_bytes());
    buf.extend_from_slice(&msg.prepared_transaction_offset.to_be_bytes());
    buf.extend_from_slice(&(msg.body.len() as i32).to_be_bytes());
    buf.extend_from_slice(&msg.body);
    buf.push(topic.len() as u8);
    buf.extend_from_slice(topic);
    buf.extend_from_slice(&(props.len() as i16).to_be_bytes());
    buf.extend_from_slice(props);
    debug_assert_eq!(buf.len() - start, len);
    Ok(len)
}

/// Patch the fields only known under the put lock into an encoded record.
pub fn patch(record: &mut [u8], flag: i32, queue_offset: i64, physical_offset: i64, store_ts: i64) {
    record[QUEUE_OFFSET_POS..QUEUE_OFFSET_POS + 8].copy_from_slice(&queue_offset.to_be_bytes());
    record[PHYSICAL_OFFSET_POS..PHYSICAL_OFFSET_POS + 8].copy_from_slice(&physical_offset.to_be_bytes());
    let p = store_timestamp_pos(flag);
    record[p..p + 8].copy_from_slice(&store_ts.to_be_bytes());
}

/// The 8-byte end-of-segment blank: TOTALSIZE = bytes left in the segment, BLANK magic.
pub fn blank(max_blank: usize) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(max_blank as i32).to_be_bytes());
    b[4..].copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
    b
}

/// The fields of a checked record needed for dispatch and recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo<'a> {
    pub total_size: usize,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub store_timestamp: i64,
    pub topic: &'a [u8],
    pub properties: &'a [u8],
}

/// What `check` found at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordCheck<'a> {
    Message(RecordInfo<'a>),
    /// End-of-segment filler: continue at the next segment.
    Blank,
    /// Not a valid record (never-written zeros, torn write, bad CRC, inconsistent lengths).
    Invalid,
}

/// Big-endian reads that fail on short input.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn i8(&mut self) -> Option<i8> {
        Some(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Check the record at the start of `buf` (Java `checkMessageAndReturnSize`). `buf` may extend
/// past the record; bytes past its end are ignored.
pub fn check(buf: &[u8], check_crc: bool) -> RecordCheck<'_> {
    parse(buf, check_crc).unwrap_or(RecordCheck::Invalid)
}

fn parse(buf: &[u8], check_crc: bool) -> Option<RecordCheck<'_>> {
    let mut r = Reader { buf, pos: 0 };
    let total = r.i32()?;
    let magic = r.i32()?;
    let v2 = match magic {
        MESSAGE_MAGIC_CODE => false,
        MESSAGE_MAGIC_CODE_V2 => true,
        BLANK_MAGIC_CODE => return Some(RecordCheck::Blank),
        _ => return None,
    };
    if total <= 0 || total as usize > buf.len() {
        return None;
    }
    let total = total as usize;
    let crc = r.i32()?;
    let queue_id = r.i32()?;
    let _flag = r.i32()?;
    let queue_offset = r.i64()?;
    let physical_offset = r.i64()?;
    let sys_flag = r.i32()?;
    let _born_ts = r.i64()?;
    r.take(host_len(sys_flag & sys_flag::BORNHOST_V6 != 0))?;
    let store_timestamp = r.i64()?;
    r.take(host_len(sys_flag & sys_flag::STOREHOST_V6 != 0))?;
    let _reconsume = r.i32()?;
    let _prepared = r.i64()?;
    let body_len = r.i32()?;
    if body_len < 0 {
        return None;
    }
    let body = r.take(body_len as usize)?;
    if check_crc && body_crc(body) != crc {
        return None;
    }
    let topic_len = if v2 { r.i16()? as i32 } else { r.i8()? as i32 };
    if topic_len < 0 {
        return None;
    }
    let topic = r.take(topic_len as usize)?;
    let props_len = r.i16()?;
    if props_len < 0 {
        return None;
    }
    let properties = r.take(props_len as usize)?;
    if r.pos != total {
        return None;
    }
    Some(RecordCheck::Message(RecordInfo {
        total_size: total,
        queue_id,
        queue_offset,
        physical_offset,
        sys_flag,
        store_timestamp,
        topic,
        properties,
    }))
}

/// Look up a property in an encoded properties string (storage.md §0 parsing rules).
pub fn property<'a>(props: &'a [u8], name: &str) -> Option<&'a [u8]> {
    props.split(|&b| b == 2).find_map(|seg| {
        if seg.len() < 3 {
            return None;
        }
        let sep = seg.iter().position(|&b| b == 1)?;
        (sep > 0 && &seg[..sep] == name.as_bytes()).then(|| &seg[sep + 1..])
    })
}

/// Java `String.hashCode` (over UTF-16 code units, wrapping).
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// Tag code of a `TAGS` value: 0 when absent or empty, else the sign-extended Java hash.
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => java_hash(t) as i64,
        _ => 0,
    }
}

/// Tag code for the consume queue as Java's dispatch computes it from a stored record (§3.2):
/// the deliver timestamp for `SCHEDULE_TOPIC_XXXX` with a `DELAY` level, else the `TAGS` hash.
pub fn dispatch_tags_code(topic: &[u8], properties: &[u8], store_ts: i64, delay_levels_ms: &[i64]) -> i64 {
    if topic == SCHEDULE_TOPIC.as_bytes() {
        if let Some(level) = property(properties, PROPERTY_DELAY_TIME_LEVEL)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok())
        {
            let level = level.min(delay_levels_ms.len() as i64);
            if level > 0 {
                return store_ts + delay_levels_ms[level as usize - 1];
            }
            return store_ts + 1000;
        }
    }
    let tags = property(properties, PROPERTY_TAGS).map(String::from_utf8_lossy);
    tags_code(tags.as_deref())
}

/// offsetMsgId: upper-case hex of store ip (4/16) + port (i32) + commitlog offset (i64).
pub fn offset_msg_id(store_host: &SocketAddr, offset: i64) -> String {
    let mut raw = Vec::with_capacity(28);
    match store_host.ip() {
        IpAddr::V4(ip) => raw.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => raw.extend_from_slice(&ip.octets()),
    }
    raw.extend_from_slice(&(store_host.port() as i32).to_be_bytes());
    raw.extend_from_slice(&offset.to_be_bytes());
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(raw.len() * 2);
    for b in raw {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xF) as usize] as char);
    }
    s
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
        let len = encode(&mut buf, &m, 0, &store, 1024).unwrap();
        assert_eq!(len, 91 + 5 + 9 + 9);
        patch(&mut buf, 0, 42, 4096, 1_700_000_000_123);
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
        let id = offset_msg_id(&"127.0.0.1:10911".parse().unwrap(), 255);
        assert_eq!(id, "7F00000100002A9F00000000000000FF");
    }

    #[test]
    fn torn_and_corrupt_records_are_invalid() {
        let store: SocketAddr = "[::1]:10911".parse().unwrap();
        let m = msg(b"payload", "T", "");
        let f = sys_flag_for_hosts(0, &m.born_host, &store);
        let mut buf = Vec::new();
        let len = encode(&mut buf, &m, f, &store, 1024).unwrap();
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
            let len = encode(&mut buf, &m, 0, &store, 4096).unwrap();
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
