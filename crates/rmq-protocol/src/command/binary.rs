//! The ROCKETMQ binary header (serialize type 1, docs/format/remoting-frame.md#rocketmq-header).

use std::collections::HashMap;

use bytes::{BufMut, Bytes};

use super::{LanguageCode, RemotingCommand, SerializeType};
use crate::WireError;

pub(super) fn encode(cmd: &RemotingCommand) -> Result<Vec<u8>, WireError> {
    let code = i16::try_from(cmd.code).map_err(|_| WireError::OutOfRange {
        field: "code",
        value: cmd.code.into(),
    })?;
    let version = i16::try_from(cmd.version).map_err(|_| WireError::OutOfRange {
        field: "version",
        value: cmd.version.into(),
    })?;
    let remark = cmd.remark.as_deref().unwrap_or("").as_bytes();
    let mut out = Vec::with_capacity(21 + remark.len() + cmd.ext_fields.len() * 16);
    out.put_i16(code);
    out.put_u8(cmd.language.code());
    out.put_i16(version);
    out.put_i32(cmd.opaque);
    out.put_i32(cmd.flag);
    out.put_i32(len_i32(remark.len(), "remark")?);
    out.put_slice(remark);
    let mut map = Vec::new();
    let mut entries: Vec<_> = cmd.ext_fields.iter().collect();
    entries.sort();
    for (k, v) in entries {
        // A zero-length key or value means "null" to a Java reader; skip like Java does.
        if k.is_empty() || v.is_empty() {
            continue;
        }
        let klen = i16::try_from(k.len()).map_err(|_| WireError::OutOfRange {
            field: "ext key length",
            value: k.len() as i64,
        })?;
        map.put_i16(klen);
        map.put_slice(k.as_bytes());
        map.put_i32(len_i32(v.len(), "ext value length")?);
        map.put_slice(v.as_bytes());
    }
    out.put_i32(len_i32(map.len(), "ext map length")?);
    out.put_slice(&map);
    Ok(out)
}

fn len_i32(len: usize, field: &'static str) -> Result<i32, WireError> {
    i32::try_from(len).map_err(|_| WireError::OutOfRange {
        field,
        value: len as i64,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::BadBinaryHeader(what))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(WireError::BadBinaryHeader(what))?;
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    /// A length that must be non-negative and not exceed the whole header.
    fn len(&mut self, raw: i64, what: &'static str) -> Result<usize, WireError> {
        if raw < 0 || raw as usize > self.buf.len() {
            return Err(WireError::BadBinaryHeader(what));
        }
        Ok(raw as usize)
    }
    fn string(&mut self, n: usize, what: &'static str) -> Result<String, WireError> {
        // Java decodes with `new String(bytes, UTF_8)`, which replaces invalid sequences.
        Ok(String::from_utf8_lossy(self.take(n, what)?).into_owned())
    }
}

pub(super) fn decode(header: &[u8]) -> Result<RemotingCommand, WireError> {
    let mut r = Reader { buf: header, pos: 0 };
    let code = i16::from_be_bytes(r.array("code")?);
    let [lang] = r.array::<1>("language")?;
    let version = i16::from_be_bytes(r.array("version")?);
    let opaque = i32::from_be_bytes(r.array("opaque")?);
    let flag = i32::from_be_bytes(r.array("flag")?);
    let raw = i32::from_be_bytes(r.array("remark length")?);
    let remark_len = r.len(raw.into(), "remark length")?;
    let remark = if remark_len > 0 {
        Some(r.string(remark_len, "remark")?)
    } else {
        None
    };
    let raw = i32::from_be_bytes(r.array("ext map length")?);
    let map_len = r.len(raw.into(), "ext map length")?;
    let map = r.take(map_len, "ext map")?;
    let mut ext_fields = HashMap::new();
    let mut m = Reader { buf: map, pos: 0 };
    while m.pos < map.len() {
        let raw = i16::from_be_bytes(m.array("ext key length")?);
        // Lengths are checked against the whole header, as Java does.
        let klen = r.len(raw.into(), "ext key length")?;
        let key = m.string(klen, "ext key")?;
        let raw = i32::from_be_bytes(m.array("ext value length")?);
        let vlen = r.len(raw.into(), "ext value length")?;
        let value = m.string(vlen, "ext value")?;
        if !key.is_empty() && !value.is_empty() {
            ext_fields.insert(key, value);
        }
    }
    Ok(RemotingCommand {
        code: code.into(),
        language: LanguageCode::from_code(lang),
        version: version.into(),
        opaque,
        flag,
        remark,
        ext_fields,
        body: Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}
