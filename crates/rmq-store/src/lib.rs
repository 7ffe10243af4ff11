//! rmq-store: RocketMQ 4.9's on-disk message store (commitlog, consume queues, checkpoint,
//! recovery), byte-compatible with the Java broker's files.
//!
//! # Layout
//! - [`record`]: the store side of the commitlog record (append encoder, recovery check, dispatch
//!   tag code); the layout itself is defined once in `rmq_protocol::message` (`stored.rs`).
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
//! - [`ha`]: master/slave replication — the master's HA listener, the slave's client, the
//!   SYNC_MASTER wait for a slave's acknowledgement (docs/store/ha.md).
//! - [`index`]: IndexFile — `topic#key` → commitlog offsets (QUERY_MESSAGE).
//!
//! # Runtime model
//! - `MessageStore::open` is synchronous; it starts two std threads (commitlog flush,
//!   consume-queue/index flush + checkpoint). No tokio runtime is needed for that; `put_message`
//!   needs one with the time driver when SYNC_FLUSH waits for the group commit.
//! - HA (`ha`) runs as tokio tasks: the master's listener and one task per slave connection, or
//!   the slave's client; a slave applies frames under the put lock and dispatches complete
//!   records like recovery does.
//! - Dispatch to consume queues and the index happens synchronously under the put lock, so
//!   a message is readable as soon as its put returns; `dispatched_offset == max_phy_offset`
//!   outside recovery.
//! - Lock order: put lock → consume-queue table → a queue's segment list. Flush threads never
//!   take the put lock. No std lock is held across `.await`.
//!
//! # Invariants
//! - Bytes below a segment's published write position never change while the store is open;
//!   readers get zero-copy `Bytes` of a read-only mapping; the writer copies into a second,
//!   writable mapping of the same pages (see `mapped_file`).
//! - Every full commitlog segment ends with a blank record; records never span segments.
//! - A failed fsync (commitlog, CQ, index, checkpoint), or a panic in any writer (a put, a
//!   replicated append, topic deletion, a flush or cleanup thread; `store/poison.rs`), makes the
//!   store refuse puts for good
//!   (`ServiceNotAvailable`), pending sync puts get `FlushDiskTimeout`, and `shutdown` keeps the
//!   `abort` file so the next open recovers abnormally.
//! - Recovery cuts the commitlog after the last record whose framing and CRC hold, zeroes the
//!   rest of that segment, deletes later segments, truncates CQ entries pointing past the cut,
//!   and re-dispatches (from a checkpoint-safe segment after a crash). Segments are created as
//!   `.tmp` and renamed, so a crash never leaves a wrongly sized segment.
//!
//! - [`disk`]: the used-space ratio of a partition; real block reservation for new files.
//! - `store::cleanup`: deletion of expired commitlog / consume-queue / index files and the
//!   DISK_FULL check (docs/store/cleanup.md), on the `rmq-clean` thread.
//!
//! A full disk refuses puts cleanly: new files get their blocks at creation (`fallocate`), the
//! consume-queue file for a put's entry is created before its commitlog record is written, and
//! a file that cannot be created fails only that put (`CreateMappedFileFailed`). DISK_FULL
//! (`ServiceNotAvailable`) is set and cleared by the periodic disk check.
//!
//! - [`ha`]: master/slave replication (docs/store/ha.md): the master's HA listener and per-slave streams,
//!   the slave's client, and the SYNC_MASTER acknowledgement wait.
//!
//! Not yet implemented: transient store pool. TODO.

pub mod checkpoint;
pub mod commit_log;
pub mod config;
pub mod config_file;
pub mod consume_queue;
pub mod disk;
pub mod error;
mod flush;
pub mod ha;
pub mod index;
pub mod mapped_file;
pub mod message;
pub mod record;
pub mod stats;
pub mod store;

pub use config::{BrokerRole, FlushDiskType, StoreConfig};
pub use error::StoreError;
pub use message::{Arrival, GetResult, GetStatus, PutMessage, PutResult, PutStatus, QueryResult};
pub use store::{CleanupReport, MessageStore, PendingPut};
