//! Batch send body (`MessageDecoder.encodeMessages`, docs/format/message.md#batch-body): one record per
//! message, `TOTALSIZE MAGIC(0) BODYCRC(0) FLAG BODYLEN BODY PROPLEN(i16) PROPERTIES`.

use bytes::{BufMut, Bytes, BytesMut};

use super::Cursor;
use crate::WireError;

/// Fixed bytes of a batch record besides body and properties.
const FIXED_BYTES: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// One message inside a batch body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    pub flag: i32,
    pub body: Bytes,
    /// The properties string (docs/format/message.md#properties) of this inner message.
    pub properties: String,
}

/// Splits a batch body into its messages. Every record's TOTALSIZE must match its contents.
pub fn decode_batch(body: &[u8]) -> Result<Vec<BatchEntry>, WireError> {
    let mut entries = Vec::new();
    let mut c = Cursor::new(body);
    while c.remaining() > 0 {
        let start = c.pos;
        let total = c.i32("batch record size")?;
        let _magic = c.i32("batch magic")?;
        let _crc = c.i32("batch body crc")?;
        let flag = c.i32("batch flag")?;
        let body_len = c.i32("batch body length")?;
        let body = Bytes::copy_from_slice(c.sized(body_len.into(), "batch body")?);
        let prop_len = c.i16("batch properties length")?;
        let props = c.sized(prop_len.into(), "batch properties")?;
        let properties =
            String::from_utf8(props.to_vec()).map_err(|_| WireError::Utf8("batch properties"))?;
        if i64::from(total) != (c.pos - start) as i64 {
            return Err(WireError::BadMessage(format!(
                "batch record size {total} does not match its {} bytes",
                c.pos - start
            )));
        }
        entries.push(BatchEntry {
            flag,
            body,
            properties,
        });
    }
    Ok(entries)
}

/// Appends the batch encoding of `entries` to `dst`.
///
/// Properties longer than `i16::MAX` bytes cannot be represented; such an entry is written with
/// its properties truncated to nothing, which the broker rejects as MESSAGE_ILLEGAL anyway —
/// callers should check sizes first ([`crate::message::property`] limits, docs/format/message.md#properties).
pub fn encode_batch(entries: &[BatchEntry], dst: &mut BytesMut) {
    for e in entries {
        let props = if e.properties.len() <= i16::MAX as usize {
            e.properties.as_bytes()
        } else {
            &[]
        };
        let total = FIXED_BYTES + e.body.len() + props.len();
        dst.reserve(total);
        dst.put_i32(total as i32);
        dst.put_i32(0);
        dst.put_i32(0);
        dst.put_i32(e.flag);
        dst.put_i32(e.body.len() as i32);
        dst.put_slice(&e.body);
        dst.put_i16(props.len() as i16);
        dst.put_slice(props);
    }
}
