//! The stored message record (docs/format/commitlog.md#record-layout): the commitlog layout, also the body of
//! pull, VIEW_MESSAGE_BY_ID, QUERY_MESSAGE, CHECK_TRANSACTION_STATE and CONSUME_MESSAGE_DIRECTLY.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};

use super::{compress, decode_properties, encode_property_map, id, sys_flag, Cursor};
use crate::WireError;

/// Magic code of a message record as a 4.x broker writes it (`0xDAA320A7`, 1-byte topic length).
pub const MESSAGE_MAGIC_CODE: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic code of a 5.x record (`0xDAA320AB`): the topic length takes 2 bytes. Accepted on read.
pub const MESSAGE_MAGIC_CODE_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic code of the blank filler at the end of a commitlog file (`0xCBD43194`).
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;
/// A record never ends closer than this to the end of its commitlog file: the blank filler.
pub const END_FILE_MIN_BLANK_LENGTH: usize = 8;
const _: () = assert!(MESSAGE_MAGIC_CODE == -626_843_481);
const _: () = assert!(BLANK_MAGIC_CODE == -875_286_124);

/// Byte offsets of the fixed-position fields of a record (all integers big-endian). Fields after
/// BORNHOST move with the host sizes: see [`store_timestamp_pos`].
pub mod pos {
    pub const TOTAL_SIZE: usize = 0;
    pub const MAGIC: usize = 4;
    pub const BODY_CRC: usize = 8;
    pub const QUEUE_ID: usize = 12;
    pub const FLAG: usize = 16;
    pub const QUEUE_OFFSET: usize = 20;
    pub const PHYSICAL_OFFSET: usize = 28;
    pub const SYS_FLAG: usize = 36;
    pub const BORN_TIMESTAMP: usize = 40;
    pub const BORN_HOST: usize = 48;
}

/// Fixed bytes of a v1 record whose born and store hosts are both IPv4 (everything besides body,
/// topic and properties).
pub const FIXED_OVERHEAD_V4: usize = 91;
const _: () = assert!(4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2 == FIXED_OVERHEAD_V4);
const _: () = assert!(pos::MAGIC == pos::TOTAL_SIZE + 4 && pos::BODY_CRC == pos::MAGIC + 4);
const _: () = assert!(pos::QUEUE_ID == pos::BODY_CRC + 4 && pos::FLAG == pos::QUEUE_ID + 4);
const _: () = assert!(pos::QUEUE_OFFSET == pos::FLAG + 4 && pos::PHYSICAL_OFFSET == pos::QUEUE_OFFSET + 8);
const _: () = assert!(pos::SYS_FLAG == pos::PHYSICAL_OFFSET + 8 && pos::BORN_TIMESTAMP == pos::SYS_FLAG + 4);
const _: () = assert!(pos::BORN_HOST == pos::BORN_TIMESTAMP + 8);

/// Longest topic a v1 record can hold (1-byte length).
pub const MAX_TOPIC_LEN: usize = i8::MAX as usize;
/// Longest properties string a record can hold (2-byte length).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// Bytes of a host field: IPv4 or IPv6 address plus a 4-byte port.
pub const fn host_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

/// Offset of STORETIMESTAMP in a record with this sys flag (it follows the born host).
pub const fn store_timestamp_pos(sys_flag: i32) -> usize {
    pos::BORN_HOST + host_len(sys_flag & sys_flag::BORNHOST_V6 != 0)
}

/// TOTALSIZE of a v1 record with this sys flag (host families) and these variable parts.
pub const fn record_len(sys_flag: i32, body: usize, topic: usize, props: usize) -> usize {
    FIXED_OVERHEAD_V4 - 2 * host_len(false)
        + host_len(sys_flag & sys_flag::BORNHOST_V6 != 0)
        + host_len(sys_flag & sys_flag::STOREHOST_V6 != 0)
        + body
        + topic
        + props
}

/// `crc32(body) & 0x7FFFFFFF`, the BODYCRC of a record.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// The 8-byte end-of-file blank: TOTALSIZE = bytes left in the file, then the blank magic.
pub fn blank_record(bytes_left: usize) -> [u8; END_FILE_MIN_BLANK_LENGTH] {
    let mut b = [0u8; END_FILE_MIN_BLANK_LENGTH];
    let (size, magic) = b.split_at_mut(4);
    size.copy_from_slice(&(bytes_left as i32).to_be_bytes());
    magic.copy_from_slice(&BLANK_MAGIC_CODE.to_be_bytes());
    b
}

/// The fixed-size fields of a record, in order. [`put_record`] writes them with the variable
/// parts; the store leaves QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP at 0 and patches them
/// under its put lock ([`patch_record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    /// Written with its host-family bits set from `born_host` / `store_host`.
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

impl RecordHeader {
    /// The sys flag as written: the host-family bits follow the actual addresses.
    pub fn written_sys_flag(&self) -> i32 {
        sys_flag::with_hosts(self.sys_flag, &self.born_host, &self.store_host)
    }
}

/// Appends one v1 record. The caller checks the limits first (`topic <= MAX_TOPIC_LEN`,
/// `props <= MAX_PROPERTIES_LEN`); longer parts are cut to fit so the frame stays well-formed.
/// Returns TOTALSIZE.
pub fn put_record<B: BufMut>(
    dst: &mut B,
    h: &RecordHeader,
    body: &[u8],
    topic: &[u8],
    props: &[u8],
) -> usize {
    let topic = topic.get(..MAX_TOPIC_LEN).unwrap_or(topic);
    let props = props.get(..MAX_PROPERTIES_LEN).unwrap_or(props);
    let flag = h.written_sys_flag();
    let total = record_len(flag, body.len(), topic.len(), props.len());
    dst.put_i32(total as i32);
    dst.put_i32(MESSAGE_MAGIC_CODE);
    dst.put_i32(h.body_crc);
    dst.put_i32(h.queue_id);
    dst.put_i32(h.flag);
    dst.put_i64(h.queue_offset);
    dst.put_i64(h.physical_offset);
    dst.put_i32(flag);
    dst.put_i64(h.born_timestamp);
    put_host(dst, h.born_host);
    dst.put_i64(h.store_timestamp);
    put_host(dst, h.store_host);
    dst.put_i32(h.reconsume_times);
    dst.put_i64(h.prepared_transaction_offset);
    dst.put_i32(body.len() as i32);
    dst.put_slice(body);
    dst.put_u8(topic.len() as u8);
    dst.put_slice(topic);
    dst.put_i16(props.len() as i16);
    dst.put_slice(props);
    total
}

/// Writes the three fields only known under the store's put lock into an encoded record.
/// Returns false (and writes nothing) when `record` is too short to be one.
pub fn patch_record(
    record: &mut [u8],
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
) -> bool {
    let Some(flag) = read_i32(record, pos::SYS_FLAG) else {
        return false;
    };
    let ts = store_timestamp_pos(flag);
    if record.len() < ts + 8 {
        return false;
    }
    put_at(record, pos::QUEUE_OFFSET, &queue_offset.to_be_bytes())
        && put_at(record, pos::PHYSICAL_OFFSET, &physical_offset.to_be_bytes())
        && put_at(record, ts, &store_timestamp.to_be_bytes())
}

fn put_at(dst: &mut [u8], at: usize, bytes: &[u8]) -> bool {
    match dst.get_mut(at..at + bytes.len()) {
        Some(d) => {
            d.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// The big-endian i32 at `at`, if `buf` is long enough.
pub fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(
        buf.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The big-endian i64 at `at`, if `buf` is long enough.
pub fn read_i64(buf: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(
        buf.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// A record parsed in place: every field, the variable parts borrowed from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// TOTALSIZE: bytes from the start of the record to its end.
    pub total_size: usize,
    /// True for a 5.x record (2-byte topic length).
    pub v2: bool,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    /// Address bytes (4 or 16) then the port as an i32.
    pub born_host: &'a [u8],
    pub store_timestamp: i64,
    /// Address bytes (4 or 16) then the port as an i32.
    pub store_host: &'a [u8],
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a [u8],
    pub properties: &'a [u8],
}

/// What is at the start of a commitlog position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    Message(RecordView<'a>),
    /// The end-of-file filler: the next record starts in the next file.
    Blank,
}

/// Parses the record at the start of `buf` (Java `checkMessageAndReturnSize`): v1 or v2 magic,
/// every length consistent with TOTALSIZE, and with `check_crc` the body CRC. Bytes past the
/// record are ignored. Never panics.
pub fn parse_record(buf: &[u8], check_crc: bool) -> Result<Record<'_>, WireError> {
    let mut c = Cursor::new(buf);
    let total = c.i32("total size")?;
    let magic = c.i32("magic")?;
    let v2 = match magic {
        MESSAGE_MAGIC_CODE => false,
        MESSAGE_MAGIC_CODE_V2 => true,
        BLANK_MAGIC_CODE => return Ok(Record::Blank),
        _ => return Err(WireError::BadMessage(format!("magic code {magic:#x}"))),
    };
    let total_size = usize::try_from(total)
        .ok()
        .filter(|t| *t > 0 && *t <= buf.len())
        .ok_or_else(|| WireError::BadMessage(format!("total size {total} with {} bytes", buf.len())))?;
    let body_crc = c.i32("body crc")?;
    let queue_id = c.i32("queue id")?;
    let flag = c.i32("flag")?;
    let queue_offset = c.i64("queue offset")?;
    let physical_offset = c.i64("physical offset")?;
    let sys_flag = c.i32("sys flag")?;
    let born_timestamp = c.i64("born timestamp")?;
    let born_host = c.take(host_len(sys_flag & sys_flag::BORNHOST_V6 != 0), "born host")?;
    let store_timestamp = c.i64("store timestamp")?;
    let store_host = c.take(host_len(sys_flag & sys_flag::STOREHOST_V6 != 0), "store host")?;
    let reconsume_times = c.i32("reconsume times")?;
    let prepared_transaction_offset = c.i64("prepared transaction offset")?;
    let body_len = c.i32("body length")?;
    let body = c.sized(body_len.into(), "body")?;
    if check_crc && self::body_crc(body) != body_crc {
        return Err(WireError::BadMessage("body crc mismatch".to_owned()));
    }
    let topic_len = if v2 {
        i64::from(c.i16("topic length")?)
    } else {
        i64::from(c.i8("topic length")?)
    };
    let topic = c.sized(topic_len, "topic")?;
    let props_len = c.i16("properties length")?;
    let properties = c.sized(props_len.into(), "properties")?;
    if c.pos != total_size {
        return Err(WireError::BadMessage(format!(
            "total size {total_size} but fields end at {}",
            c.pos
        )));
    }
    Ok(Record::Message(RecordView {
        total_size,
        v2,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    }))
}

/// A host field (address bytes, then the port as i32) as a socket address.
pub fn host_addr(raw: &[u8], what: &'static str) -> Result<SocketAddr, WireError> {
    let mut c = Cursor::new(raw);
    let ip = if raw.len() == host_len(true) {
        IpAddr::V6(Ipv6Addr::from(c.array::<16>(what)?))
    } else {
        IpAddr::V4(Ipv4Addr::from(c.array::<4>(what)?))
    };
    let port = c.i32(what)?;
    let port = u16::try_from(port).map_err(|_| WireError::BadMessage(format!("{what} port {port}")))?;
    Ok(SocketAddr::new(ip, port))
}

/// A stored message: the commitlog record fields plus the computed offsetMsgId.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageExt {
    pub store_size: i32,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub commit_log_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: Bytes,
    pub topic: String,
    pub properties: HashMap<String, String>,
    /// offsetMsgId computed from `store_host` + `commit_log_offset`.
    pub msg_id: String,
}

impl MessageExt {
    /// The id a Java client shows: `UNIQ_KEY` when present, else the offsetMsgId.
    pub fn client_msg_id(&self) -> &str {
        self.properties
            .get(super::property::UNIQ_KEY)
            .map_or(&self.msg_id, String::as_str)
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.properties.get(super::property::TAGS).map(String::as_str)
    }

    /// The consume-queue tag code of its `TAGS` ([`super::tag_hash`]), 0 without tags.
    pub fn tags_code(&self) -> i64 {
        self.tags().map_or(0, super::tag_hash)
    }

    /// The `KEYS` property split on spaces.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.properties
            .get(super::property::KEYS)
            .map_or("", String::as_str)
            .split(super::KEY_SEPARATOR)
            .filter(|k| !k.is_empty())
    }

    /// Size in bytes this message takes when encoded (the record's TOTALSIZE).
    pub fn encoded_len(&self) -> usize {
        let props = encode_property_map(&self.properties);
        let flag = sys_flag::with_hosts(self.sys_flag, &self.born_host, &self.store_host);
        record_len(flag, self.body.len(), self.topic.len(), props.len())
    }
}

/// Decodes one record at the start of `buf`, exactly as stored (compressed bodies stay
/// compressed). Returns the message and the bytes consumed (= TOTALSIZE).
pub fn decode_message(buf: &[u8]) -> Result<(MessageExt, usize), WireError> {
    let r = match parse_record(buf, false)? {
        Record::Message(r) => r,
        Record::Blank => return Err(WireError::BadMessage("blank record".to_owned())),
    };
    let born_host = host_addr(r.born_host, "born host")?;
    let store_host = host_addr(r.store_host, "store host")?;
    // Java decodes with `new String(bytes, UTF_8)`: invalid sequences are replaced, not fatal.
    let topic = String::from_utf8_lossy(r.topic).into_owned();
    let props = String::from_utf8_lossy(r.properties);
    let msg = MessageExt {
        store_size: r.total_size as i32,
        body_crc: r.body_crc,
        queue_id: r.queue_id,
        flag: r.flag,
        queue_offset: r.queue_offset,
        commit_log_offset: r.physical_offset,
        sys_flag: r.sys_flag,
        born_timestamp: r.born_timestamp,
        born_host,
        store_timestamp: r.store_timestamp,
        store_host,
        reconsume_times: r.reconsume_times,
        prepared_transaction_offset: r.prepared_transaction_offset,
        body: Bytes::copy_from_slice(r.body),
        topic,
        properties: decode_properties(&props),
        msg_id: id::offset_msg_id(store_host, r.physical_offset),
    };
    Ok((msg, r.total_size))
}

/// Decodes concatenated records exactly as stored (no decompression).
pub fn decode_messages_raw(buf: &[u8]) -> Result<Vec<MessageExt>, WireError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let (m, used) = decode_message(buf.get(pos..).unwrap_or_default())?;
        out.push(m);
        pos += used;
    }
    Ok(out)
}

/// Decodes a pull / query body (concatenated records) the way a client does: zlib-compressed
/// bodies (sysFlag `0x1` with compression type 0 or ZLIB) are inflated; `sys_flag`,
/// `store_size` and `body_crc` keep their stored values. LZ4 / ZSTD bodies are left as stored.
pub fn decode_messages(buf: &[u8]) -> Result<Vec<MessageExt>, WireError> {
    let mut msgs = decode_messages_raw(buf)?;
    for m in &mut msgs {
        if sys_flag::is_zlib_compressed(m.sys_flag) {
            m.body = compress::zlib_decompress(&m.body, compress::MAX_INFLATED_BYTES)?.into();
        }
    }
    Ok(msgs)
}

fn put_host<B: BufMut>(dst: &mut B, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(v4) => dst.put_slice(&v4.octets()),
        IpAddr::V6(v6) => dst.put_slice(&v6.octets()),
    }
    dst.put_i32(i32::from(addr.port()));
}

/// Appends `m` as a stored record. TOTALSIZE is computed (not taken from `store_size`), the
/// V6 sysFlag bits are set from the host address families, properties are written with sorted
/// keys. The topic is cut to 127 bytes and properties to 32767 bytes if longer (callers should
/// validate first: Java rejects such messages).
pub fn encode_message(m: &MessageExt, dst: &mut BytesMut) {
    let props = encode_property_map(&m.properties);
    let header = RecordHeader {
        body_crc: m.body_crc,
        queue_id: m.queue_id,
        flag: m.flag,
        queue_offset: m.queue_offset,
        physical_offset: m.commit_log_offset,
        sys_flag: m.sys_flag,
        born_timestamp: m.born_timestamp,
        born_host: m.born_host,
        store_timestamp: m.store_timestamp,
        store_host: m.store_host,
        reconsume_times: m.reconsume_times,
        prepared_transaction_offset: m.prepared_transaction_offset,
    };
    dst.reserve(record_len(
        header.written_sys_flag(),
        m.body.len(),
        m.topic.len().min(MAX_TOPIC_LEN),
        props.len().min(MAX_PROPERTIES_LEN),
    ));
    put_record(dst, &header, &m.body, m.topic.as_bytes(), props.as_bytes());
}
