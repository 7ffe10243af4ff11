//! The wire error: everything that can go wrong turning bytes into protocol values (and back).
//!
//! This is the protocol layer's only error type. Callers (remoting, broker, client) convert it
//! into their own errors at their boundary; a decode error on a connection means "close it".

/// Errors produced while decoding or encoding RocketMQ wire data.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The declared frame (length prefix + 4) exceeds [`crate::MAX_FRAME_BYTES`].
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    /// The length prefix is negative or too small to hold the type word.
    #[error("invalid frame length {0}")]
    BadFrameLength(i32),
    /// `headerLen` is larger than the frame can hold.
    #[error("header length {header_len} exceeds frame length {frame_len}")]
    HeaderTooLong { header_len: usize, frame_len: usize },
    /// The serialize-type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    /// JSON (header or body) could not be parsed or written.
    #[error("bad JSON in {context}: {source}")]
    Json {
        context: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A structurally invalid JSON header (wrong types, out-of-range numbers).
    #[error("bad JSON header: {0}")]
    BadJsonHeader(String),
    /// A JSON body that is malformed or has the wrong shape.
    #[error("bad JSON body: {0}")]
    BadBody(String),
    /// A structurally invalid binary (ROCKETMQ) header.
    #[error("bad binary header: {0}")]
    BadBinaryHeader(&'static str),
    /// Input ended before a complete value was read.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// Bytes that should be UTF-8 are not.
    #[error("invalid UTF-8 in {0}")]
    Utf8(&'static str),
    /// A required custom-header field is missing (the wire name is given).
    #[error("missing header field `{0}`")]
    MissingField(&'static str),
    /// A custom-header field has a value that cannot be parsed.
    #[error("bad value {value:?} for header field `{field}`")]
    BadField { field: &'static str, value: String },
    /// A value does not fit the wire encoding (e.g. a code outside i16 for the binary header).
    #[error("value {value} of `{field}` does not fit the wire encoding")]
    OutOfRange { field: &'static str, value: i64 },
    /// A stored-message record or batch record is malformed.
    #[error("bad message record: {0}")]
    BadMessage(String),
    /// A message id (offsetMsgId) is malformed.
    #[error("bad message id {0:?}")]
    BadMessageId(String),
    /// Compressed data could not be inflated or deflated.
    #[error("compression error: {0}")]
    Compression(String),
}
