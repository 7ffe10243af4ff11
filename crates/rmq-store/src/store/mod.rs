//! `MessageStore`: open/recover, the put path (encode → append under the put lock → dispatch to
//! the consume queue → optional group-commit wait), the read path, and shutdown.
//!
//! Lock order (outer first): `put_lock` → `consume_queues` → a queue's segment list.
//! Flush threads take only segment-list read locks, briefly, and never the put lock.
//! No std lock is held across an `.await`.
//!
//! # Layout
//! - `mod.rs`: the shared state (`Core`), the `MessageStore` handle and its queries, queue lookup,
//!   topic deletion.
//! - `open`: lock file, segments, consume queues, recovery, the flush threads.
//! - `recover`: the commitlog scan after a clean or abnormal stop and its re-dispatch.
//! - `put`: encode → append under the put lock → dispatch → group-commit / slave waits.
//! - `read`: consume-queue entries to commitlog records with filter and transfer limits.
//! - `persist`: the flushes and checkpoint the flush threads run.
//! - `replica`: a slave's appends of replicated commitlog bytes; `cleanup`: file expiry and
//!   disk checks.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, watch};

use crate::checkpoint::Checkpoint;
use crate::commit_log::{CommitLog, ReserveError};
use crate::consume_queue::{ConsumeQueue, CqEntry};
use crate::error::IoContext;
use crate::flush::{self, FlushProgress, Signal, StopMode};
use crate::index::IndexService;
use crate::mapped_file::sync_dir;
use crate::message::{Arrival, GetResult, GetStatus, PutMessage, PutResult, PutStatus, QueryResult};
use crate::record::{self, sys_flag, EncodeError, RecordView};
use crate::{BrokerRole, FlushDiskType, StoreConfig, StoreError};

mod open;
mod persist;
mod poison;
mod put;
mod read;
mod recover;
mod replica;

mod cleanup;
pub use cleanup::CleanupReport;
pub use put::PendingPut;

/// Pulls that served this many commitlog bytes release the commitlog's flushed pages from the
/// process's mappings (see `MappedFile::release_read_pages`).
const READ_RELEASE_BYTES: u64 = 16 << 20;

/// `RunningFlags` bits; any set bit makes the store refuse puts.
mod flags {
    pub const SHUT_DOWN: u8 = 1;
    pub const FLUSH_FAILED: u8 = 2;
    pub const CQ_WRITE_ERROR: u8 = 4;
    pub const INDEX_WRITE_ERROR: u8 = 8;
    /// Set and cleared by the disk check (`cleanup`); the only bit that goes away by itself.
    pub const DISK_FULL: u8 = 16;
    /// A writer panicked (see `poison`): fatal, like `FLUSH_FAILED`.
    pub const POISONED: u8 = 32;
    /// Controller mode: set until the broker knows its role (Java's `FENCED`).
    pub const FENCED: u8 = 64;
}

const DEFAULT_TOTAL_MEMORY: u64 = 24 * 1024 * 1024 * 1024;

type QueueTable = HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>;

/// State only touched under the put lock.
#[derive(Debug, Default)]
struct PutState {
    /// `topicQueueTable`: next queue offset per topic/queue.
    next_queue_offset: HashMap<String, HashMap<i32, i64>>,
}

fn role_code(role: BrokerRole) -> u8 {
    match role {
        BrokerRole::AsyncMaster => 0,
        BrokerRole::SyncMaster => 1,
        BrokerRole::Slave => 2,
    }
}

impl Core {
    pub(crate) fn role(&self) -> BrokerRole {
        match self.role.load(Ordering::Acquire) {
            0 => BrokerRole::AsyncMaster,
            1 => BrokerRole::SyncMaster,
            _ => BrokerRole::Slave,
        }
    }
}

/// Everything shared between the store handle and its flush threads.
pub(crate) struct Core {
    pub config: StoreConfig,
    commit_log: CommitLog,
    consume_queues: RwLock<QueueTable>,
    put_lock: Mutex<PutState>,
    pub checkpoint: Checkpoint,
    index: Option<IndexService>,
    flags: AtomicU8,
    /// The current `BrokerRole` (`role_code`); changes at run time in controller mode.
    role: AtomicU8,
    flush_progress: watch::Sender<FlushProgress>,
    pub cl_flush_signal: Signal,
    pub cq_flush_signal: Signal,
    arrivals: broadcast::Sender<Arrival>,
    /// Bumped when the commitlog grew or (controller mode) the confirm offset moved: wakes the
    /// HA writers, which must not wait for dispatch (it waits for them).
    replication_news: watch::Sender<u64>,
    dispatched: AtomicI64,
    /// Bumped (under the put lock) whenever consume queues are removed, so a queue looked up
    /// before the put lock is known to still be the live one.
    cq_generation: AtomicU64,
    /// Commitlog bytes served to pulls since the read mapping's pages were last released.
    read_since_release: AtomicU64,
    /// Store timestamp of the newest appended record (for the checkpoint).
    last_store_ts: AtomicI64,
    /// `beginTimeInLock` (0 when the put lock is free).
    begin_time_in_lock: AtomicI64,
    delay_levels_ms: Vec<i64>,
    in_memory_window_bytes: i64,
    cleanup: cleanup::CleanupState,
    /// Slave acknowledgements (HA, docs/store/ha.md).
    pub ha: crate::ha::HaState,
    /// Put and get statistics (GET_BROKER_RUNTIME_INFO).
    stats: crate::stats::StoreStats,
    /// Panics the fail-fast tests inject.
    #[cfg(test)]
    fail_points: poison::FailPoints,
}

/// The message store. Cheap to clone; all clones share one store.
///
/// Background work runs on two std threads (see `flush`); consume-queue dispatch is synchronous
/// inside `put_message`, so a returned put is immediately visible to `get_message`. In controller
/// mode records are dispatched once the SyncStateSet has them (`dispatch_confirmed`), still
/// before an all-ack put returns.
#[derive(Clone)]
pub struct MessageStore {
    inner: Arc<Inner>,
}

struct Inner {
    core: Arc<Core>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    shut_down: AtomicBool,
    /// Holds the `lock` file's exclusive lock for the store's lifetime.
    _lock_file: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.shut_down.load(Ordering::Acquire) {
            return;
        }
        // Dropped without shutdown: stop the threads without flushing and leave `abort` in
        // place, exactly like a crash as far as the next open is concerned.
        self.core.cl_flush_signal.stop(StopMode::Abandon);
        self.core.cq_flush_signal.stop(StopMode::Abandon);
        self.core.cleanup.stop();
        join_all(&self.threads);
    }
}

fn join_all(threads: &Mutex<Vec<JoinHandle<()>>>) {
    let handles: Vec<_> = threads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain(..)
        .collect();
    for h in handles {
        if h.join().is_err() {
            tracing::error!("store flush thread panicked");
        }
    }
}

impl MessageStore {
    fn core(&self) -> &Core {
        &self.inner.core
    }

    pub fn config(&self) -> &StoreConfig {
        &self.core().config
    }

    /// The role the store acts in now (`brokerRole` at open; controller mode changes it).
    pub fn role(&self) -> BrokerRole {
        self.core().role()
    }

    /// Controller mode: a slave refuses puts and takes replicated bytes; a master takes puts.
    pub fn set_role(&self, role: BrokerRole) {
        self.core().role.store(role_code(role), Ordering::Release);
    }

    /// Controller mode: a fenced store refuses puts (SERVICE_NOT_AVAILABLE) until the broker
    /// knows its role.
    pub fn set_fenced(&self, fenced: bool) {
        if fenced {
            self.core().flags.fetch_or(flags::FENCED, Ordering::AcqRel);
        } else {
            self.core().flags.fetch_and(!flags::FENCED, Ordering::AcqRel);
            self.dispatch_confirmed();
        }
    }

    pub fn is_fenced(&self) -> bool {
        self.core().flags.load(Ordering::Acquire) & flags::FENCED != 0
    }

    /// mqadmin setCommitLogReadAheadMode: commitlog reads without read-ahead (`random`,
    /// `MADV_RANDOM`) or with it (`MADV_NORMAL`), on every segment and on those created later.
    /// Returns how many segments changed.
    pub fn set_commit_log_read_ahead(&self, random: bool) -> Result<usize, StoreError> {
        self.core().commit_log.queue().set_read_ahead(random)
    }

    /// Whether commitlog reads go without read-ahead.
    pub fn commit_log_random_reads(&self) -> bool {
        self.core().commit_log.queue().random_reads()
    }

    /// Store one message. With SYNC_FLUSH, returns only after its bytes are fsynced
    /// (`FlushDiskTimeout` after `sync_flush_timeout_ms`; the message is stored either way).
    pub async fn put_message(&self, msg: PutMessage) -> PutResult {
        self.put_messages(vec![msg]).await
    }

    /// Store a batch to one topic/queue: consecutive queue offsets, one append under the lock. On a SLAVE
    /// every put is refused (`ServiceNotAvailable`); on a SYNC_MASTER a message that waits for the store
    /// (`WAIT` absent or true) also waits for a slave's ack (docs/store/ha.md#sync_master).
    pub async fn put_messages(&self, batch: Vec<PutMessage>) -> PutResult {
        self.append_messages(batch).wait().await
    }

    /// Read up to `max_msg_nums` records from a queue starting at `offset`
    /// (docs/format/consume-queue.md#read-path). `filter` is the consume-queue stage tag filter (true =
    /// match).
    pub fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        max_total_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetResult {
        let core = self.core();
        let started = std::time::Instant::now();
        let r = core.get_message(topic, queue_id, offset, max_msg_nums, max_total_bytes, filter);
        core.stats.on_get(
            core.config.clock.now_ms(),
            r.messages.len() as u64,
            started.elapsed().as_millis() as u64,
        );
        // Pages a drain of old messages faults into the read mapping are unmapped again every
        // READ_RELEASE_BYTES (not only on the once-a-second tick), so RSS stays bounded.
        let served = core
            .read_since_release
            .fetch_add(r.total_bytes as u64, Ordering::AcqRel);
        if served + r.total_bytes as u64 >= READ_RELEASE_BYTES
            && core.read_since_release.swap(0, Ordering::AcqRel) >= READ_RELEASE_BYTES
        {
            core.release_commit_log_pages();
        }
        r
    }

    /// Next queue offset to be written; 0 for an unknown queue.
    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.core()
            .find_cq(topic, queue_id)
            .map_or(0, |cq| cq.max_offset())
    }

    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.core()
            .find_cq(topic, queue_id)
            .map_or(0, |cq| cq.min_offset())
    }

    /// `getOffsetInQueueByTime` (docs/format/consume-queue.md#lookup-by-time, Java's nearest-neighbour rule,
    /// clamped to [min, max]).
    pub fn offset_by_timestamp(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> i64 {
        let core = self.core();
        let Some(cq) = core.find_cq(topic, queue_id) else {
            return 0;
        };
        let min_phy = core.commit_log.min_offset().unwrap_or(0) as i64;
        cq.offset_by_time(timestamp_ms, min_phy, &|phy, size| {
            core.commit_log.store_timestamp(phy, size)
        })
    }

    /// Store time of the message at the queue's min offset.
    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let min = self.min_offset_in_queue(topic, queue_id);
        self.message_store_timestamp(topic, queue_id, min)
    }

    /// Store time of the oldest message kept: the commitlog's first record (Java's
    /// `getEarliestMessageTime`, `rocketmq_storage_message_reserve_time`).
    pub fn earliest_store_time(&self) -> Option<i64> {
        let log = &self.core().commit_log;
        let min = log.min_offset()? as i64;
        let size = crate::record::read_i32(&log.read(min, 4)?, 0)?;
        log.store_timestamp(min, size)
    }

    /// Store time of the message at `offset` in the queue.
    pub fn message_store_timestamp(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        let core = self.core();
        let e = core.find_cq(topic, queue_id)?.entry(offset)?;
        core.commit_log.store_timestamp(e.phy_offset, e.size)
    }

    /// The consume-queue entry at `offset` (commitlog offset, size, tags code); `None` past the
    /// end or for an unknown queue. For `SCHEDULE_TOPIC_XXXX` the tags code is the deliver time.
    pub fn consume_queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<CqEntry> {
        self.core().find_cq(topic, queue_id)?.entry(offset)
    }

    /// QUERY_CONSUME_QUEUE: the queue's min and max offsets and up to `count` entries from
    /// `index`; `None` for a queue the store does not have.
    pub fn consume_queue_entries(
        &self,
        topic: &str,
        queue_id: i32,
        index: i64,
        count: usize,
    ) -> Option<(i64, i64, Vec<CqEntry>)> {
        let core = self.core();
        let cq = core.find_cq(topic, queue_id)?;
        let (min, max) = (cq.min_offset(), cq.max_offset());
        let entries = (index.max(min)..max)
            .take(count)
            .map_while(|o| cq.entry(o))
            .collect();
        Some((min, max, entries))
    }

    /// True when the message at `offset` in the queue is outside the "in memory" window
    /// (docs/format/consume-queue.md#read-path; Java's `checkInDiskByConsumeOffset`). A missing entry counts
    /// as in memory.
    pub fn is_in_disk(&self, topic: &str, queue_id: i32, offset: i64) -> bool {
        let core = self.core();
        let Some(e) = core.find_cq(topic, queue_id).and_then(|cq| cq.entry(offset)) else {
            return false;
        };
        core.commit_log.max_offset() as i64 - e.phy_offset > core.in_memory_window_bytes
    }

    /// Messages whose `UNIQ_KEY` or a `KEYS` token equals `key`, stored in `[begin_ts, end_ts]`
    /// (QUERY_MESSAGE, docs/format/index-file.md#query). At most `min(max_num, 64)`. Empty if the index is
    /// disabled.
    pub fn query_message(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin_ts: i64,
        end_ts: i64,
    ) -> QueryResult {
        let core = self.core();
        let Some(index) = &core.index else {
            return QueryResult::default();
        };
        let (mut offsets, ts, phy) = index.query(topic, key, max_num, begin_ts, end_ts);
        offsets.sort_unstable();
        offsets.dedup();
        QueryResult {
            messages: offsets
                .into_iter()
                .filter_map(|o| core.commit_log.read_record(o))
                .collect(),
            index_last_update_timestamp: ts,
            index_last_update_phyoffset: phy,
        }
    }

    /// One whole record at a commitlog offset (VIEW_MESSAGE_BY_ID).
    pub fn read_record(&self, commit_log_offset: i64) -> Option<Bytes> {
        self.core().commit_log.read_record(commit_log_offset)
    }

    pub fn max_phy_offset(&self) -> i64 {
        self.core().commit_log.max_offset() as i64
    }

    /// First commitlog offset on disk; -1 when the commitlog is empty (as Java).
    pub fn min_phy_offset(&self) -> i64 {
        self.core().commit_log.min_offset().map_or(-1, |o| o as i64)
    }

    /// Commitlog offset the consume queues are built up to.
    pub fn dispatched_offset(&self) -> i64 {
        self.core().dispatched.load(Ordering::Acquire)
    }

    /// Commitlog offset known to be on disk.
    pub fn flushed_phy_offset(&self) -> i64 {
        self.core().commit_log.queue().flushed_where() as i64
    }

    /// Arrivals after dispatch (lossy broadcast, for long polling).
    pub fn subscribe_arrivals(&self) -> broadcast::Receiver<Arrival> {
        self.core().arrivals.subscribe()
    }

    /// Wakes on news for the HA writers: the commitlog grew, or the confirm offset moved.
    pub(crate) fn subscribe_replication_news(&self) -> watch::Receiver<u64> {
        self.core().replication_news.subscribe()
    }

    /// True while puts are accepted.
    pub fn is_writeable(&self) -> bool {
        self.core().flags.load(Ordering::Acquire) == 0
    }

    /// True once a panic in a writer made the store refuse writes for good (see `poison`).
    pub fn is_poisoned(&self) -> bool {
        self.core().is_poisoned()
    }

    /// True while the disk check sees the disk above `disk_space_warning_level_ratio`.
    pub fn is_disk_full(&self) -> bool {
        self.core().flags.load(Ordering::Acquire) & flags::DISK_FULL != 0
    }

    /// `isOSPageCacheBusy`: some put has held the put lock longer than
    /// `os_page_cache_busy_timeout_ms` (the broker's flow control rejects sends meanwhile).
    pub fn is_os_page_cache_busy(&self) -> bool {
        self.core().is_os_page_cache_busy()
    }

    /// Run the disk check and one cleanup now (what the `rmq-clean` thread does every
    /// `clean_resource_interval_ms`), returning what was deleted.
    pub fn run_cleanup_once(&self) -> CleanupReport {
        self.core().check_disk_space();
        self.core().run_cleanup()
    }

    /// DELETE_EXPIRED_COMMITLOG: the next 20 cleanup runs delete expired segments at any hour.
    pub fn delete_expired_files_manually(&self) {
        self.core().delete_expired_manually()
    }

    /// Hold the put lock for `d` as a stuck put would (blocks the calling thread); `locked` runs
    /// once the lock is held. Test hook for the broker's flow control: meanwhile puts wait and
    /// `is_os_page_cache_busy` turns true after `os_page_cache_busy_timeout_ms`.
    #[doc(hidden)]
    pub fn stall_puts_for(&self, d: Duration, locked: impl FnOnce()) {
        let core = self.core();
        let _st = core.lock_or_poison(&core.put_lock, "put lock");
        core.begin_time_in_lock
            .store(core.config.clock.now_ms(), Ordering::Release);
        locked();
        std::thread::sleep(d);
        core.begin_time_in_lock.store(0, Ordering::Release);
    }

    /// Remove the consume queues (files and offsets) of these topics. Commitlog records stay
    /// until the commitlog is cleaned.
    pub fn delete_topics(&self, topics: &[String]) {
        self.core().delete_topics(topics)
    }

    /// Store time of the commitlog's first message (`getEarliestMessageTime`); `None` when the
    /// commitlog is empty.
    pub fn first_message_store_time(&self) -> Option<i64> {
        let rec = self.read_record(self.min_phy_offset())?;
        let flag = crate::record::read_i32(&rec, crate::record::pos::SYS_FLAG)?;
        crate::record::read_i64(&rec, crate::record::store_timestamp_pos(flag))
    }

    /// Put and get statistics (Java's `StoreStatsService`).
    pub fn stats(&self) -> &crate::stats::StoreStats {
        &self.core().stats
    }

    /// The topics the store has consume queues for.
    pub fn consume_queue_topics(&self) -> Vec<String> {
        self.core().cq_table().keys().cloned().collect()
    }

    /// CLEAN_EXPIRED_CONSUMEQUEUE (Java's `cleanExpiredConsumerQueue`): removes every consume
    /// queue (but `SCHEDULE_TOPIC_XXXX`'s) whose last entry points below the commitlog's first
    /// offset, files included; the queue's offsets start again at 0, as in Java. Returns how many.
    pub fn clean_expired_consume_queues(&self) -> usize {
        self.core().clean_expired_consume_queues()
    }

    /// Stop accepting puts, flush the commitlog and consume queues, persist the checkpoint and
    /// remove `abort`. `abort` is kept (next open recovers abnormally) if any flush failed.
    pub fn shutdown(&self) -> Result<(), StoreError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let core = self.core();
        core.flags.fetch_or(flags::SHUT_DOWN, Ordering::AcqRel);
        // Wait for an in-flight put to leave the lock.
        drop(core.lock_or_poison(&core.put_lock, "put lock"));
        core.cl_flush_signal.stop(StopMode::Clean);
        core.cq_flush_signal.stop(StopMode::Clean);
        core.cleanup.stop();
        join_all(&self.inner.threads);
        let f = core.flags.load(Ordering::Acquire);
        if f & flags::POISONED != 0 {
            tracing::error!("store shut down after a panic in a writer; keeping abort file");
            return Err(StoreError::Poisoned);
        }
        if f & (flags::FLUSH_FAILED | flags::CQ_WRITE_ERROR | flags::INDEX_WRITE_ERROR) != 0 {
            tracing::error!("store shut down after a write/flush failure; keeping abort file");
            return Err(StoreError::FlushFailed);
        }
        // The threads did the final flushes; make sure both really happened.
        core.flush_commit_log(0)?;
        core.flush_consume_queues(0)?;
        let logics = core.checkpoint.logics_msg_timestamp.load(Ordering::Acquire);
        core.flush_index(true, logics)?;
        core.persist_checkpoint(logics)?;
        let abort = core.config.abort_path();
        fs::remove_file(&abort).at(&abort)?;
        sync_dir(&core.config.store_path_root_dir)?;
        tracing::info!("message store shut down cleanly");
        Ok(())
    }
}

impl Core {
    fn cq_table(&self) -> std::sync::RwLockReadGuard<'_, QueueTable> {
        self.unpoisoned(self.consume_queues.read(), "consume queue table")
    }

    fn find_cq(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.cq_table().get(topic)?.get(&queue_id).cloned()
    }

    fn find_or_create_cq(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(cq) = self.find_cq(topic, queue_id) {
            return Ok(cq);
        }
        let mut table = self.unpoisoned(self.consume_queues.write(), "consume queue table");
        let queues = table.entry(topic.to_string()).or_default();
        if let Some(cq) = queues.get(&queue_id) {
            return Ok(cq.clone());
        }
        let cq = Arc::new(ConsumeQueue::load(
            &self.config.consume_queue_dir(),
            topic.into(),
            queue_id,
            self.config.consume_queue_file_size(),
        )?);
        queues.insert(queue_id, cq.clone());
        Ok(cq)
    }

    fn all_cqs(&self) -> Vec<Arc<ConsumeQueue>> {
        self.cq_table()
            .values()
            .flat_map(|q| q.values().cloned())
            .collect()
    }

    fn clean_expired_consume_queues(&self) -> usize {
        let _dart = self.dart("expired consume queue cleaning");
        let mut st = self.lock_or_poison(&self.put_lock, "put lock");
        let Some(min_phy) = self.commit_log.min_offset() else {
            return 0;
        };
        let expired: Vec<Arc<ConsumeQueue>> = self
            .all_cqs()
            .into_iter()
            .filter(|cq| &**cq.topic() != crate::record::SCHEDULE_TOPIC)
            .filter(|cq| {
                let last = cq.max_offset() - 1;
                last >= cq.min_offset() && cq.entry(last).is_some_and(|e| (e.phy_offset as u64) < min_phy)
            })
            .collect();
        if expired.is_empty() {
            return 0;
        }
        self.cq_generation.fetch_add(1, Ordering::AcqRel);
        let mut table = self.unpoisoned(self.consume_queues.write(), "consume queue table");
        for cq in &expired {
            if let Some(queues) = table.get_mut(&**cq.topic()) {
                queues.remove(&cq.queue_id());
                if queues.is_empty() {
                    table.remove(&**cq.topic());
                }
            }
            if let Some(offsets) = st.next_queue_offset.get_mut(&**cq.topic()) {
                offsets.remove(&cq.queue_id());
            }
            if let Err(e) = cq.destroy() {
                tracing::warn!(error = %e, topic = %cq.topic(), queue = cq.queue_id(), "failed to delete expired consume queue files");
            }
            tracing::info!(topic = %cq.topic(), queue = cq.queue_id(), "removed expired consume queue");
        }
        expired.len()
    }

    fn delete_topics(&self, topics: &[String]) {
        let _dart = self.dart("topic deletion");
        let mut st = self.lock_or_poison(&self.put_lock, "put lock");
        self.cq_generation.fetch_add(1, Ordering::AcqRel);
        for topic in topics {
            st.next_queue_offset.remove(topic.as_str());
            let removed = self
                .unpoisoned(self.consume_queues.write(), "consume queue table")
                .remove(topic.as_str());
            for cq in removed.into_iter().flat_map(|q| q.into_values()) {
                if let Err(e) = cq.destroy() {
                    tracing::warn!(error = %e, topic = %topic, "failed to delete consume queue files");
                }
            }
            let dir = self.config.consume_queue_dir().join(topic);
            if let Err(e) = fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, dir = %dir.display(), "failed to delete topic directory");
                }
            }
            tracing::info!(topic = %topic, "deleted consume queues of topic");
        }
    }
}
