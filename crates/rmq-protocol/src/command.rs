//! `RemotingCommand`: the one message type of the remoting protocol, plus its two header serializations: JSON
//! (docs/format/remoting-frame.md#json-header) and the ROCKETMQ binary form
//! (docs/format/remoting-frame.md#rocketmq-header).
//!
//! Decoding is liberal (Java-compatible) and never panics; encoding is deterministic
//! (JSON top-level keys in alphabetical order like fastjson, `extFields` keys sorted).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

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

/// The sender's implementation language (docs/format/remoting-frame.md#language-code).
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
        let body = src.get(layout.body_range()).ok_or(WireError::Truncated("body"))?;
        let header = src
            .get(layout.header_range())
            .ok_or(WireError::Truncated("header"))?;
        let cmd = Self::decode_parts(layout, header, Bytes::copy_from_slice(body))?;
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
        let header = frame
            .get(layout.header_range())
            .ok_or(WireError::Truncated("header"))?;
        Self::decode_parts(layout, header, body).map(Some)
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

mod binary;
mod json;

#[cfg(test)]
mod tests;
