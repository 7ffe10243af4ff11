//! rmq-protocol: the RocketMQ 4.9 remoting wire format, pure (no sockets, no disk, no async).
//!
//! # Layout
//!
//! * [`frame`] — the length prefix and type word of a frame, and the frame size limit.
//! * [`command`] — [`RemotingCommand`] and its JSON / ROCKETMQ binary header encodings.
//! * [`codes`] — request and response code constants.
//! * [`header`] — typed custom headers ([`CommandHeader`]) mapped to and from `extFields`.
//! * [`message`] — message properties, batch bodies, stored-message records, message ids.
//! * [`body`] — JSON bodies (routes, heartbeats, stats) and the fastjson-tolerant reader.
//! * [`error`] — [`WireError`], the one error type of this crate.
//! * [`time`] — [`time::Clock`]: wall and monotonic time, from the system or driven by tests
//!   (reading the system clock is the one thing here that is not pure).
//!
//! Decoders take `&[u8]` and return `Ok(None)` when more bytes are needed; encoders append to a
//! `BytesMut`. No function here panics on any input: outside tests, indexing and slicing that
//! could panic are refused by the compiler (`clippy::indexing_slicing`); use `get`.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod body;
pub mod codes;
pub mod command;
pub mod error;
pub mod frame;
pub mod header;
pub mod message;
pub mod pop;
pub mod time;
pub mod topic;
pub mod version;

pub use command::{LanguageCode, RemotingCommand, SerializeType};
pub use error::WireError;
pub use header::CommandHeader;

/// Version ordinal sent on every request and response (4.9.8 = 409, docs/format/remoting-frame.md#version).
pub const VERSION: i32 = 409;
/// Largest frame accepted or produced, length prefix included (docs/format/remoting-frame.md#frame-layout).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
