//! The types the broker exchanges with the store: put requests/results, get results, arrivals.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

/// One message as the broker hands it to the store.
#[derive(Debug, Clone)]
pub struct PutMessage {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    pub body: Bytes,
    /// Already-encoded properties string (`k\x01v\x02...`).
    pub properties: String,
    /// Tag hash for the consume queue. Ignored for `SCHEDULE_TOPIC_XXXX`, whose tag code is the
    /// deliver timestamp and is computed by the store from `DELAY` and the store timestamp.
    pub tags_code: i64,
    /// The store sets/clears the two host IPv6 bits itself from the addresses.
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

/// `PutMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutStatus {
    PutOk,
    /// The message is stored, but the sync flush did not complete in time (or failed).
    FlushDiskTimeout,
    MessageIllegal,
    PropertiesSizeExceeded,
    ServiceNotAvailable,
    /// SYNC_MASTER: stored, but no slave acknowledged it within `slave_timeout_ms`.
    FlushSlaveTimeout,
    /// SYNC_MASTER: stored, but no slave is connected or the best one is too far behind.
    SlaveNotAvailable,
    OsPageCacheBusy,
    /// A new commitlog or consume-queue file could not be created (typically: disk full).
    /// Nothing was written.
    CreateMappedFileFailed,
    /// Controller mode: the SyncStateSet is smaller than `minInSyncReplicas`. Nothing was
    /// written.
    InSyncReplicasNotEnough,
    UnknownError,
}

/// Outcome of a put. On a non-stored status the offsets are -1 and `msg_ids` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    pub status: PutStatus,
    /// Physical (commitlog) offset of the first record.
    pub wrote_offset: i64,
    /// Bytes of all records written.
    pub wrote_bytes: i32,
    /// Queue offset of the first message.
    pub queue_offset: i64,
    pub msg_num: i32,
    pub store_timestamp: i64,
    /// offsetMsgId per record: upper-case hex of storeHost ip + port + commitlog offset.
    pub msg_ids: Vec<String>,
}

impl PutResult {
    pub(crate) fn failed(status: PutStatus) -> PutResult {
        PutResult {
            status,
            wrote_offset: -1,
            wrote_bytes: 0,
            queue_offset: -1,
            msg_num: 0,
            store_timestamp: 0,
            msg_ids: Vec::new(),
        }
    }

    /// True when the records are in the commitlog (even if the flush or replication timed out).
    pub fn is_stored(&self) -> bool {
        matches!(
            self.status,
            PutStatus::PutOk
                | PutStatus::FlushDiskTimeout
                | PutStatus::FlushSlaveTimeout
                | PutStatus::SlaveNotAvailable
        )
    }
}

/// `GetMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    Found,
    NoMatchedMessage,
    MessageWasRemoving,
    OffsetFoundNull,
    OffsetOverflowBadly,
    OffsetOverflowOne,
    OffsetTooSmall,
    NoMatchedLogicQueue,
    NoMessageInQueue,
}

/// Result of `MessageStore::get_message`.
#[derive(Debug, Clone)]
pub struct GetResult {
    pub status: GetStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    /// Whole commitlog records, zero-copy slices of the segment mappings.
    pub messages: Vec<Bytes>,
    pub total_bytes: usize,
    /// The last pulled message is outside the "in memory" window (Java's suggestPullingFromSlave).
    pub suggest_pulling_from_slave: bool,
}

/// Sent after a message was dispatched to its consume queue (for long polling). Lossy.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub topic: Arc<str>,
    pub queue_id: i32,
    /// Queue offset of the new message; the queue's max offset is now `queue_offset + 1`.
    pub queue_offset: i64,
    pub tags_code: i64,
}

/// Result of `MessageStore::query_message` (QUERY_MESSAGE by key).
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// Whole records, in commitlog order. Hash collisions are not filtered (the client re-checks).
    pub messages: Vec<Bytes>,
    pub index_last_update_timestamp: i64,
    pub index_last_update_phyoffset: i64,
}
