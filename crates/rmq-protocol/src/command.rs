//! `RemotingCommand`: the one message type of the remoting protocol, plus its two header
//! serializations: JSON (spec §1.3) and the ROCKETMQ binary form (spec §1.4).
//!
//! Decoding is liberal (Java-compatible) and never panics; encoding is deterministic
//! (JSON top-level keys in alphabetical order like fastjson, `extFields` keys sorted).

use std::collections::{BTreeMap, HashMap};

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::Value;

use crate::frame;
use crate::header::CommandHeader;
use crate::{WireError, VERSION};

/// Flag bit 0: the frame is a response.
pub const RPC_RESPONSE: i32 = 1;
/// Flag bit 1: oneway request, the peer must not answer.
pub const RPC_ONEWAY: i32 = 2;

/// How the header of a frame is serialized (the top byte of the type word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SerializeType {
    Json = 0,
    RocketMq = 1,
}

impl SerializeType {
    /// The type byte.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses the type byte.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Json),
            1 => Some(Self::RocketMq),
            _ => None,
        }
    }

    /// The Java enum name, as written in `serializeTypeCurrentRPC`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::RocketMq => "ROCKETMQ",
        }
    }

    /// Parses `"JSON"` / `"ROCKETMQ"` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("JSON") {
            Some(Self::Json)
        } else if name.eq_ignore_ascii_case("ROCKETMQ") {
            Some(Self::RocketMq)
        } else {
            None
        }
    }
}

/// The sender's implementation language (spec §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LanguageCode {
    Java,
    Cpp,
    Dotnet,
    Python,
    Delphi,
    Erlang,
    Ruby,
    Other,
    Http,
    Go,
    Php,
    Oms,
    Rust,
    /// A byte with no known name (Java decodes it to `null`). Never holds 0..=12.
    Unknown(u8),
}

const LANGUAGES: [(LanguageCode, &str); 13] = [
    (LanguageCode::Java, "JAVA"),
    (LanguageCode::Cpp, "CPP"),
    (LanguageCode::Dotnet, "DOTNET"),
    (LanguageCode::Python, "PYTHON"),
    (LanguageCode::Delphi, "DELPHI"),
    (LanguageCode::Erlang, "ERLANG"),
    (LanguageCode::Ruby, "RUBY"),
    (LanguageCode::Other, "OTHER"),
    (LanguageCode::Http, "HTTP"),
    (LanguageCode::Go, "GO"),
    (LanguageCode::Php, "PHP"),
    (LanguageCode::Oms, "OMS"),
    (LanguageCode::Rust, "RUST"),
];

/// What a JSON header with an unrecognised language name decodes to.
pub const UNKNOWN_LANGUAGE_NAME: LanguageCode = LanguageCode::Unknown(u8::MAX);

impl LanguageCode {
    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Self::Unknown(b) => b,
            known => LANGUAGES.iter().position(|(l, _)| *l == known).unwrap_or(7) as u8,
        }
    }

    /// Maps a wire byte; unknown bytes become [`LanguageCode::Unknown`].
    pub fn from_code(code: u8) -> Self {
        LANGUAGES
            .get(code as usize)
            .map_or(Self::Unknown(code), |(l, _)| *l)
    }

    /// The Java enum name (`"JAVA"`, `"RUST"`, …); `None` for unknown codes.
    pub fn name(self) -> Option<&'static str> {
        LANGUAGES.iter().find(|(l, _)| *l == self).map(|(_, n)| *n)
    }

    /// Parses an enum name (case-insensitive) or a decimal code.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some((l, _)) = LANGUAGES.iter().find(|(_, n)| n.eq_ignore_ascii_case(s)) {
            return Some(*l);
        }
        s.parse::<u8>().ok().map(Self::from_code)
    }
}

impl std::fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "UNKNOWN({})", self.code()),
        }
    }
}

/// One request or response frame.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotingCommand {
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    pub ext_fields: HashMap<String, String>,
    /// Empty means "no body".
    pub body: Bytes,
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A new request: language `Rust`, version [`VERSION`], opaque 0, flag 0, JSON.
    pub fn request(code: i32) -> Self {
        Self {
            code,
            language: LanguageCode::Rust,
            version: VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: HashMap::new(),
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A new response: flag [`RPC_RESPONSE`], language `Java`, version [`VERSION`].
    pub fn response(code: i32) -> Self {
        Self {
            flag: RPC_RESPONSE,
            language: LanguageCode::Java,
            ..Self::request(code)
        }
    }

    /// A response to `req`: copies its opaque and serialize type.
    pub fn response_to(req: &RemotingCommand, code: i32) -> Self {
        Self {
            opaque: req.opaque,
            serialize_type: req.serialize_type,
            ..Self::response(code)
        }
    }

    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    pub fn with_serialize_type(mut self, serialize_type: SerializeType) -> Self {
        self.serialize_type = serialize_type;
        self
    }

    /// Writes the custom header's fields into `ext_fields` (keeping other entries).
    pub fn with_header<H: CommandHeader>(mut self, h: &H) -> Self {
        h.encode_ext(&mut self.ext_fields);
        self
    }

    pub fn with_ext(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.ext_fields.insert(k.into(), v.into());
        self
    }

    /// Parses the custom header from `ext_fields`.
    pub fn header<H: CommandHeader>(&self) -> Result<H, WireError> {
        H::decode_ext(&self.ext_fields)
    }

    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }

    pub fn is_response(&self) -> bool {
        self.flag & RPC_RESPONSE != 0
    }

    pub fn is_oneway(&self) -> bool {
        self.flag & RPC_ONEWAY != 0
    }

    pub fn set_oneway(&mut self) {
        self.flag |= RPC_ONEWAY;
    }

    /// Decode one frame starting at the 4-byte length prefix. `Ok(None)` = need more bytes.
    /// Returns the command and the number of bytes consumed.
    pub fn decode(src: &[u8]) -> Result<Option<(RemotingCommand, usize)>, WireError> {
        let Some(layout) = frame::peek(src)? else {
            return Ok(None);
        };
        let body = Bytes::copy_from_slice(&src[layout.body_range()]);
        let cmd = Self::decode_parts(layout, &src[layout.header_range()], body)?;
        Ok(Some((cmd, layout.frame_bytes)))
    }

    /// Like [`decode`](Self::decode), but splits the frame off `buf` and shares the body bytes
    /// instead of copying them (for a codec over a `BytesMut` read buffer).
    pub fn decode_from(buf: &mut BytesMut) -> Result<Option<RemotingCommand>, WireError> {
        let Some(layout) = frame::peek(buf)? else {
            return Ok(None);
        };
        let frame = buf.split_to(layout.frame_bytes).freeze();
        let body = frame.slice(layout.body_range());
        Self::decode_parts(layout, &frame[layout.header_range()], body).map(Some)
    }

    fn decode_parts(
        layout: frame::FrameLayout,
        header: &[u8],
        body: Bytes,
    ) -> Result<RemotingCommand, WireError> {
        let serialize_type = SerializeType::from_code(layout.serialize_type)
            .ok_or(WireError::UnknownSerializeType(layout.serialize_type))?;
        let mut cmd = match serialize_type {
            SerializeType::Json => json::decode(header)?,
            SerializeType::RocketMq => binary::decode(header)?,
        };
        cmd.serialize_type = serialize_type;
        cmd.body = body;
        Ok(cmd)
    }

    /// Encode the whole frame (length prefix included) in `self.serialize_type`.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), WireError> {
        let header = self.encode_header()?;
        frame::write_frame(dst, self.serialize_type.code(), &header, &self.body)
    }

    /// Only the header bytes, in `self.serialize_type`.
    pub fn encode_header(&self) -> Result<Vec<u8>, WireError> {
        match self.serialize_type {
            SerializeType::Json => json::encode(self),
            SerializeType::RocketMq => binary::encode(self),
        }
    }
}

mod json {
    use super::*;

    /// Field order = alphabetical, as fastjson writes it.
    #[derive(Serialize)]
    struct JsonHeaderOut<'a> {
        code: i32,
        #[serde(rename = "extFields")]
        ext_fields: BTreeMap<&'a str, &'a str>,
        flag: i32,
        language: Value,
        opaque: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        remark: Option<&'a str>,
        #[serde(rename = "serializeTypeCurrentRPC")]
        serialize_type: &'static str,
        version: i32,
    }

    pub(super) fn encode(cmd: &RemotingCommand) -> Result<Vec<u8>, WireError> {
        let language = match cmd.language.name() {
            Some(n) => Value::from(n),
            None => Value::from(cmd.language.code()),
        };
        let out = JsonHeaderOut {
            code: cmd.code,
            ext_fields: cmd
                .ext_fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            flag: cmd.flag,
            language,
            opaque: cmd.opaque,
            remark: cmd.remark.as_deref(),
            serialize_type: SerializeType::Json.name(),
            version: cmd.version,
        };
        serde_json::to_vec(&out).map_err(|source| WireError::Json {
            context: "header",
            source,
        })
    }

    pub(super) fn decode(header: &[u8]) -> Result<RemotingCommand, WireError> {
        let value: Value = serde_json::from_slice(header).map_err(|source| WireError::Json {
            context: "header",
            source,
        })?;
        let Value::Object(map) = value else {
            return Err(WireError::BadJsonHeader("not an object".into()));
        };
        let mut cmd = RemotingCommand {
            code: int(&map, "code")?,
            language: LanguageCode::Java,
            version: int(&map, "version")?,
            opaque: int(&map, "opaque")?,
            flag: int(&map, "flag")?,
            remark: None,
            ext_fields: HashMap::new(),
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        };
        cmd.language = match map.get("language") {
            None | Some(Value::Null) => LanguageCode::Java,
            Some(Value::String(s)) => LanguageCode::parse(s).unwrap_or(UNKNOWN_LANGUAGE_NAME),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .map_or(UNKNOWN_LANGUAGE_NAME, LanguageCode::from_code),
            Some(_) => return Err(WireError::BadJsonHeader("language".into())),
        };
        cmd.remark = match map.get("remark") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        match map.get("extFields") {
            None | Some(Value::Null) => {}
            Some(Value::Object(ext)) => {
                for (k, v) in ext {
                    let v = match v {
                        Value::Null => continue,
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        other => other.to_string(),
                    };
                    cmd.ext_fields.insert(k.clone(), v);
                }
            }
            Some(_) => return Err(WireError::BadJsonHeader("extFields is not an object".into())),
        }
        Ok(cmd)
    }

    /// An i32 field: absent/null → 0; numbers or numeric strings accepted.
    fn int(map: &serde_json::Map<String, Value>, key: &'static str) -> Result<i32, WireError> {
        let parsed = match map.get(key) {
            None | Some(Value::Null) => return Ok(0),
            Some(Value::Number(n)) => n.as_i64().and_then(|v| i32::try_from(v).ok()),
            Some(Value::String(s)) => s.trim().parse::<i32>().ok(),
            Some(_) => None,
        };
        parsed.ok_or_else(|| WireError::BadJsonHeader(format!("{key} is not an i32")))
    }
}

mod binary {
    use super::*;

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
}

#[cfg(test)]
mod tests;
