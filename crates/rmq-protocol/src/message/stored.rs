//! The stored message record (spec §4.4): the commitlog layout, also the body of pull,
//! VIEW_MESSAGE_BY_ID, QUERY_MESSAGE, CHECK_TRANSACTION_STATE and CONSUME_MESSAGE_DIRECTLY.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};

use super::{compress, decode_properties, encode_property_map, id, sys_flag, Cursor};
use crate::WireError;

/// Magic code of a message record (`0xDAA320A7`).
pub const MESSAGE_MAGIC_CODE: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic code of the blank filler at the end of a commitlog file (`0xCBD43194`).
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;

/// Fixed part of a record with IPv4 hosts, besides body, topic and properties.
const FIXED_BYTES_V4: usize = 91;
const _: () = assert!(MESSAGE_MAGIC_CODE == -626_843_481);
const _: () = assert!(BLANK_MAGIC_CODE == -875_286_124);

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
        record_len(
            self.born_host,
            self.store_host,
            self.body.len(),
            self.topic.len(),
            props.len(),
        )
    }
}

/// `crc32(body) & 0x7FFFFFFF`, the BODYCRC of a record (spec §0).
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

fn host_len(addr: SocketAddr) -> usize {
    if addr.is_ipv4() {
        8
    } else {
        20
    }
}

fn record_len(born: SocketAddr, store: SocketAddr, body: usize, topic: usize, props: usize) -> usize {
    FIXED_BYTES_V4 - 16 + host_len(born) + host_len(store) + body + topic + props
}

fn read_host(c: &mut Cursor<'_>, v6: bool, what: &'static str) -> Result<SocketAddr, WireError> {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::from(c.array::<16>(what)?))
    } else {
        IpAddr::V4(Ipv4Addr::from(c.array::<4>(what)?))
    };
    let port = c.i32(what)?;
    let port = u16::try_from(port).map_err(|_| WireError::BadMessage(format!("{what} port {port}")))?;
    Ok(SocketAddr::new(ip, port))
}

/// Decodes one record at the start of `buf`, exactly as stored (compressed bodies stay
/// compressed). Returns the message and the bytes consumed (= TOTALSIZE).
pub fn decode_message(buf: &[u8]) -> Result<(MessageExt, usize), WireError> {
    let mut c = Cursor::new(buf);
    let store_size = c.i32("total size")?;
    let total = usize::try_from(store_size)
        .ok()
        .filter(|t| *t >= FIXED_BYTES_V4 && *t <= buf.len())
        .ok_or_else(|| WireError::BadMessage(format!("total size {store_size} with {} bytes", buf.len())))?;
    let mut c = Cursor::new(&buf[..total]);
    c.pos = 4;
    let magic = c.i32("magic")?;
    if magic != MESSAGE_MAGIC_CODE {
        return Err(WireError::BadMessage(format!("magic code {magic:#x}")));
    }
    let body_crc = c.i32("body crc")?;
    let queue_id = c.i32("queue id")?;
    let flag = c.i32("flag")?;
    let queue_offset = c.i64("queue offset")?;
    let commit_log_offset = c.i64("physical offset")?;
    let sys_flag = c.i32("sys flag")?;
    let born_timestamp = c.i64("born timestamp")?;
    let born_host = read_host(&mut c, sys_flag & sys_flag::BORNHOST_V6 != 0, "born host")?;
    let store_timestamp = c.i64("store timestamp")?;
    let store_host = read_host(&mut c, sys_flag & sys_flag::STOREHOST_V6 != 0, "store host")?;
    let reconsume_times = c.i32("reconsume times")?;
    let prepared_transaction_offset = c.i64("prepared transaction offset")?;
    let body_len = c.i32("body length")?;
    let body = Bytes::copy_from_slice(c.sized(body_len.into(), "body")?);
    let topic_len = c.i8("topic length")?;
    let topic = c.sized(topic_len.into(), "topic")?;
    // Java decodes with `new String(bytes, UTF_8)`: invalid sequences are replaced, not fatal.
    let topic = String::from_utf8_lossy(topic).into_owned();
    let prop_len = c.i16("properties length")?;
    let props = c.sized(prop_len.into(), "properties")?;
    let props = String::from_utf8_lossy(props);
    if c.pos != total {
        return Err(WireError::BadMessage(format!(
            "total size {total} but fields end at {}",
            c.pos
        )));
    }
    let msg = MessageExt {
        store_size,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        commit_log_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties: decode_properties(&props),
        msg_id: id::offset_msg_id(store_host, commit_log_offset),
    };
    Ok((msg, total))
}

/// Decodes concatenated records exactly as stored (no decompression).
pub fn decode_messages_raw(buf: &[u8]) -> Result<Vec<MessageExt>, WireError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let (m, used) = decode_message(&buf[pos..])?;
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

fn put_host(dst: &mut BytesMut, addr: SocketAddr) {
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
    let mut topic = m.topic.as_bytes();
    if topic.len() > i8::MAX as usize {
        topic = &topic[..i8::MAX as usize];
    }
    let props_s = encode_property_map(&m.properties);
    let mut props = props_s.as_bytes();
    if props.len() > i16::MAX as usize {
        props = &props[..i16::MAX as usize];
    }
    let mut flag = m.sys_flag & !(sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
    if m.born_host.is_ipv6() {
        flag |= sys_flag::BORNHOST_V6;
    }
    if m.store_host.is_ipv6() {
        flag |= sys_flag::STOREHOST_V6;
    }
    let total = record_len(m.born_host, m.store_host, m.body.len(), topic.len(), props.len());
    dst.reserve(total);
    dst.put_i32(total as i32);
    dst.put_i32(MESSAGE_MAGIC_CODE);
    dst.put_i32(m.body_crc);
    dst.put_i32(m.queue_id);
    dst.put_i32(m.flag);
    dst.put_i64(m.queue_offset);
    dst.put_i64(m.commit_log_offset);
    dst.put_i32(flag);
    dst.put_i64(m.born_timestamp);
    put_host(dst, m.born_host);
    dst.put_i64(m.store_timestamp);
    put_host(dst, m.store_host);
    dst.put_i32(m.reconsume_times);
    dst.put_i64(m.prepared_transaction_offset);
    dst.put_i32(m.body.len() as i32);
    dst.put_slice(&m.body);
    dst.put_i8(topic.len() as i8);
    dst.put_slice(topic);
    dst.put_i16(props.len() as i16);
    dst.put_slice(props);
}
