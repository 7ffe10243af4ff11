//! rmq-store: RocketMQ 4.9's on-disk message store (commitlog, consume queues, checkpoint,
//! recovery), byte-compatible with the Java broker's files.
//!
//! # Layout
//! - [`record`]: the commitlog record format — encoder for the append path, checking decoder.
//! - [`mapped_file`]: `MappedFile` (one fixed-size segment) and `MappedFileQueue` (a directory
//!   of segments named by their 20-digit start offset).
//! - [`commit_log`]: `CommitLog` — space reservation with end-of-file blanks, reads, recovery scans.
//! - [`consume_queue`]: `ConsumeQueue` — 20-byte entries per topic/queue, lookup by time.
//! - [`checkpoint`]: the 4096-byte `checkpoint` file.
//! - `flush`: the commitlog and consume-queue flush threads (group commit for SYNC_FLUSH).
//! - [`store`]: `MessageStore` — open/recover, put, get, shutdown.
//! - [`config_file`]: atomic `.tmp`/`.bak` persistence for the broker's JSON config files.
//! - [`message`], [`config`], [`error`]: the API types.
//!
//! - [`index`]: IndexFile — `topic#key` → commitlog offsets (QUERY_MESSAGE).
//!
//! Not yet implemented: file cleanup / disk-space protection (§7). TODO.

pub mod checkpoint;
pub mod commit_log;
pub mod config;
pub mod config_file;
pub mod consume_queue;
pub mod error;
mod flush;
pub mod index;
pub mod mapped_file;
pub mod message;
pub mod record;
pub mod store;

pub use config::{FlushDiskType, StoreConfig};
pub use error::StoreError;
pub use message::{Arrival, GetResult, GetStatus, PutMessage, PutResult, PutStatus, QueryResult};
pub use store::MessageStore;
