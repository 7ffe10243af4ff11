//! Message encodings (docs/format/message.md): the properties string, batch bodies, stored records, message
//! ids, sysFlag bits, tag hashes and name validation.

use std::collections::HashMap;

mod batch;
mod compress;
mod id;
mod stored;

pub use batch::{decode_batch, encode_batch, BatchEntry};
pub use compress::{zlib_compress, zlib_decompress, MAX_INFLATED_BYTES};
pub use id::{decode_offset_msg_id, offset_msg_id, uniq_id_timestamp, UniqIdGenerator};
pub use stored::{
    blank_record, body_crc, decode_message, decode_messages, decode_messages_raw, encode_message, host_addr,
    host_len, parse_record, patch_record, pos, put_record, read_i32, read_i64, record_len,
    store_timestamp_pos, MessageExt, Record, RecordHeader, RecordView, BLANK_MAGIC_CODE,
    END_FILE_MIN_BLANK_LENGTH, FIXED_OVERHEAD_V4, MAX_PROPERTIES_LEN, MAX_TOPIC_LEN, MESSAGE_MAGIC_CODE,
    MESSAGE_MAGIC_CODE_V2,
};

/// Separates a property name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Separates two properties.
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Joins several keys in the `KEYS` property.
pub const KEY_SEPARATOR: &str = " ";

/// Property keys (`MessageConst`, docs/format/message.md#property-keys).
pub mod property {
    pub const KEYS: &str = "KEYS";
    pub const TAGS: &str = "TAGS";
    pub const WAIT: &str = "WAIT";
    pub const DELAY: &str = "DELAY";
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    pub const REAL_QID: &str = "REAL_QID";
    pub const TRAN_MSG: &str = "TRAN_MSG";
    pub const PGROUP: &str = "PGROUP";
    pub const MIN_OFFSET: &str = "MIN_OFFSET";
    pub const MAX_OFFSET: &str = "MAX_OFFSET";
    pub const BUYER_ID: &str = "BUYER_ID";
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
    pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
    pub const MQ2_FLAG: &str = "MQ2_FLAG";
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    pub const MSG_REGION: &str = "MSG_REGION";
    pub const TRACE_ON: &str = "TRACE_ON";
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
    pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
    pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
    pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
    pub const INSTANCE_ID: &str = "INSTANCE_ID";
    pub const CORRELATION_ID: &str = "CORRELATION_ID";
    pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
    pub const TTL: &str = "TTL";
    pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
    pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
    pub const CLUSTER: &str = "CLUSTER";
    pub const MSG_TYPE: &str = "MSG_TYPE";
    pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
    pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
    /// Added locally by the transactional producer after the send; never on the wire.
    pub const TRANSACTION_ID: &str = "__transactionId__";
    /// Read only by client hooks; no broker support in 4.9.
    pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";
    /// 5.x timer messages (docs/broker/timer.md): the deliver time a producer asks for, as an
    /// absolute time (ms since the epoch) or a delay from the broker's receipt (s or ms).
    pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
    pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
    pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
    /// Set by the broker: the deliver time it settled on (rounded to `timerPrecisionMs`).
    pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
    /// Set on delivery: when the timer entered the wheel and when it left it.
    pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
    pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
    pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
    /// A cancel marker: the `UNIQ_KEY` of the timer (due in the same slot) not to deliver.
    pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";

    /// Keys users may not set through `putUserProperty` (`MessageConst.STRING_HASH_SET`).
    pub const RESERVED: &[&str] = &[
        KEYS,
        TAGS,
        WAIT,
        DELAY,
        RETRY_TOPIC,
        REAL_TOPIC,
        REAL_QID,
        TRAN_MSG,
        PGROUP,
        MIN_OFFSET,
        MAX_OFFSET,
        BUYER_ID,
        ORIGIN_MESSAGE_ID,
        TRANSFER_FLAG,
        CORRECTION_FLAG,
        MQ2_FLAG,
        RECONSUME_TIME,
        MSG_REGION,
        TRACE_ON,
        UNIQ_KEY,
        MAX_RECONSUME_TIMES,
        CONSUME_START_TIME,
        TRAN_PREPARED_QUEUE_OFFSET,
        TRANSACTION_CHECK_TIMES,
        CHECK_IMMUNITY_TIME_IN_SECONDS,
        INSTANCE_ID,
        CORRELATION_ID,
        REPLY_TO_CLIENT,
        TTL,
        ARRIVE_TIME,
        PUSH_REPLY_TIME,
        CLUSTER,
        MSG_TYPE,
        INNER_MULTI_DISPATCH,
        INNER_MULTI_QUEUE_OFFSET,
        TIMER_DELIVER_MS,
        TIMER_DELAY_SEC,
        TIMER_DELAY_MS,
        TIMER_OUT_MS,
        TIMER_ENQUEUE_MS,
        TIMER_DEQUEUE_MS,
        TIMER_ROLL_TIMES,
        TIMER_DEL_UNIQKEY,
    ];
}

/// Message `sysFlag` bits (`MessageSysFlag`, docs/format/message.md#sys-flag).
pub mod sys_flag {
    pub const COMPRESSED: i32 = 0x1;
    pub const MULTI_TAGS: i32 = 0x2;
    pub const TRANSACTION_NOT_TYPE: i32 = 0;
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
    /// Mask of the two transaction-type bits.
    pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
    pub const BORNHOST_V6: i32 = 0x10;
    pub const STOREHOST_V6: i32 = 0x20;
    pub const NEED_UNWRAP: i32 = 0x40;
    pub const INNER_BATCH: i32 = 0x80;
    /// Mask of the compression-type bits (4.9.4+); 0 means zlib.
    pub const COMPRESSION_TYPE_MASK: i32 = 0x700;
    pub const COMPRESSION_LZ4: i32 = 0x100;
    pub const COMPRESSION_ZSTD: i32 = 0x200;
    pub const COMPRESSION_ZLIB: i32 = 0x300;

    /// The transaction type bits of `flag`.
    pub fn transaction_type(flag: i32) -> i32 {
        flag & TRANSACTION_TYPE_MASK
    }

    /// `flag` with its transaction type replaced by `ty`.
    pub fn with_transaction_type(flag: i32, ty: i32) -> i32 {
        (flag & !TRANSACTION_TYPE_MASK) | (ty & TRANSACTION_TYPE_MASK)
    }

    /// True when the body is compressed with zlib (type 0 or 3), the only kind this crate inflates.
    pub fn is_zlib_compressed(flag: i32) -> bool {
        flag & COMPRESSED != 0 && matches!(flag & COMPRESSION_TYPE_MASK, 0 | COMPRESSION_ZLIB)
    }

    /// PREPARED and ROLLBACK records get queue offset 0 and never enter a consume queue.
    pub fn enters_consume_queue(flag: i32) -> bool {
        matches!(
            transaction_type(flag),
            TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE
        )
    }

    /// `flag` with its host-family bits set from the actual born and store addresses.
    pub fn with_hosts(flag: i32, born: &std::net::SocketAddr, store: &std::net::SocketAddr) -> i32 {
        let mut f = flag & !(BORNHOST_V6 | STOREHOST_V6);
        if born.is_ipv6() {
            f |= BORNHOST_V6;
        }
        if store.is_ipv6() {
            f |= STOREHOST_V6;
        }
        f
    }
}

/// Pull request `sysFlag` bits (`PullSysFlag`, docs/protocol/pull.md#sys-flag).
pub mod pull_sys_flag {
    pub const COMMIT_OFFSET: i32 = 0x1;
    pub const SUSPEND: i32 = 0x2;
    pub const SUBSCRIPTION: i32 = 0x4;
    pub const CLASS_FILTER: i32 = 0x8;
    pub const LITE_PULL_MESSAGE: i32 = 0x10;
}

/// Encodes properties as `k\x01v\x02…` with no trailing separator (docs/format/message.md#properties).
pub fn encode_properties(props: &[(impl AsRef<str>, impl AsRef<str>)]) -> String {
    let mut out = String::new();
    for (k, v) in props {
        if !out.is_empty() {
            out.push(PROPERTY_SEPARATOR);
        }
        out.push_str(k.as_ref());
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(v.as_ref());
    }
    out
}

/// Encodes a property map with its keys sorted (deterministic output).
pub fn encode_property_map(props: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&String, &String)> = props.iter().collect();
    pairs.sort();
    encode_properties(&pairs)
}

/// Decodes a properties string the way Java does: segments shorter than 3 characters, and
/// segments whose first `\x01` is at the start or the very end, are ignored.
pub fn decode_properties(s: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for seg in s.split(PROPERTY_SEPARATOR) {
        if seg.chars().count() < 3 {
            continue;
        }
        if let Some(i) = seg.find(NAME_VALUE_SEPARATOR) {
            if i > 0 && i + 1 < seg.len() {
                map.insert(seg[..i].to_owned(), seg[i + 1..].to_owned());
            }
        }
    }
    map
}

/// Finds `name` in an encoded properties string without decoding the rest, with the rules of
/// [`decode_properties`]: a property with an empty name or value does not exist, and of
/// repeated names the last counts (Java puts them into a map in order).
pub fn find_property<'a>(props: &'a [u8], name: &str) -> Option<&'a [u8]> {
    // From the back: the first match there is the last one.
    props.rsplit(|&b| b == PROPERTY_SEPARATOR as u8).find_map(|seg| {
        let sep = seg.iter().position(|&b| b == NAME_VALUE_SEPARATOR as u8)?;
        let (key, value) = seg.split_at(sep);
        let value = value.get(1..)?;
        (!key.is_empty() && !value.is_empty() && key == name.as_bytes()).then_some(value)
    })
}

/// [`find_property`] over a `str` (the separators are ASCII, so the value is a `str` too).
pub fn find_property_str<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    find_property(props.as_bytes(), name).and_then(|v| std::str::from_utf8(v).ok())
}

/// The consume-queue tag code of an encoded properties string: [`tag_hash`] of its `TAGS` (read
/// as Java reads it: invalid UTF-8 replaced), 0 when it has none.
pub fn tags_code_of(props: &[u8]) -> i64 {
    find_property(props, property::TAGS).map_or(0, |t| tag_hash(&String::from_utf8_lossy(t)))
}

/// Java `String.hashCode()` over UTF-16 code units with i32 wrapping arithmetic.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// The consume-queue tag code: `java_hash(tag)` sign-extended (docs/format/message.md#tags); 0 for no tag.
pub fn tag_hash(tag: &str) -> i64 {
    if tag.is_empty() {
        0
    } else {
        i64::from(java_hash(tag))
    }
}

/// Longest topic name (chars).
pub const TOPIC_MAX_LENGTH: usize = 127;
/// Longest group name (chars).
pub const GROUP_MAX_LENGTH: usize = 255;
/// The character class topic and group names must match.
pub const VALID_NAME_PATTERN: &str = "^[%|a-zA-Z0-9_-]+$";

fn valid_name_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

/// Checks a topic name (docs/format/message.md#tags). The error is the remark the Java broker uses.
pub fn validate_topic(topic: &str) -> Result<(), String> {
    if topic.trim().is_empty() {
        return Err("The specified topic is blank.".to_owned());
    }
    if !valid_name_chars(topic) {
        return Err(format!(
            "The specified topic[{topic}] contains illegal characters, allowing only {VALID_NAME_PATTERN}"
        ));
    }
    if topic.chars().count() > TOPIC_MAX_LENGTH {
        return Err("The specified topic is longer than topic max length.".to_owned());
    }
    Ok(())
}

/// Checks a group name (client `Validators.checkGroup`).
pub fn validate_group(group: &str) -> Result<(), String> {
    if group.trim().is_empty() {
        return Err("the specified group is blank".to_owned());
    }
    if !valid_name_chars(group) {
        return Err(format!(
            "the specified group[{group}] contains illegal characters, allowing only {VALID_NAME_PATTERN}"
        ));
    }
    if group.chars().count() > GROUP_MAX_LENGTH {
        return Err("the specified group is longer than group max length 255.".to_owned());
    }
    Ok(())
}

/// Big-endian cursor over a byte slice; every read is bounds-checked.
pub(crate) struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], crate::WireError> {
        let end = self.pos.checked_add(n).ok_or(crate::WireError::Truncated(what))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(crate::WireError::Truncated(what))?;
        self.pos = end;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], crate::WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub fn i8(&mut self, what: &'static str) -> Result<i8, crate::WireError> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }
    pub fn i16(&mut self, what: &'static str) -> Result<i16, crate::WireError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }
    pub fn i32(&mut self, what: &'static str) -> Result<i32, crate::WireError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }
    pub fn i64(&mut self, what: &'static str) -> Result<i64, crate::WireError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// Reads a length field value and the bytes it announces.
    pub fn sized(&mut self, len: i64, what: &'static str) -> Result<&'a [u8], crate::WireError> {
        let n = usize::try_from(len).map_err(|_| crate::WireError::BadMessage(format!("negative {what}")))?;
        self.take(n, what)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

#[cfg(test)]
mod tests;
