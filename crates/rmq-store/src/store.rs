//! `MessageStore`: open/recover, the put path (encode → append under the put lock → dispatch to
//! the consume queue → optional group-commit wait), the read path, and shutdown.
//!
//! Lock order (outer first): `put_lock` → `consume_queues` → a queue's segment list.
//! Flush threads take only segment-list read locks, briefly, and never the put lock.
//! No std lock is held across an `.await`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

mod replica;

mod cleanup;
pub use cleanup::CleanupReport;

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
}

const DEFAULT_TOTAL_MEMORY: u64 = 24 * 1024 * 1024 * 1024;

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

type QueueTable = HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>;

/// State only touched under the put lock.
#[derive(Debug, Default)]
struct PutState {
    /// `topicQueueTable`: next queue offset per topic/queue.
    next_queue_offset: HashMap<String, HashMap<i32, i64>>,
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
    flush_progress: watch::Sender<FlushProgress>,
    pub cl_flush_signal: Signal,
    pub cq_flush_signal: Signal,
    arrivals: broadcast::Sender<Arrival>,
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
    /// Slave acknowledgements (HA, storage.md §8).
    pub ha: crate::ha::HaState,
}

/// The message store. Cheap to clone; all clones share one store.
///
/// Background work runs on two std threads (see `flush`); consume-queue dispatch is synchronous
/// inside `put_message`, so a returned put is immediately visible to `get_message`.
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
    /// Open the store at `config.store_path_root_dir`: take the `lock`, load segments, recover
    /// (clean if there is no `abort` file, abnormal otherwise), re-dispatch the commitlog tail
    /// into the consume queues, create `abort`, and start the flush threads.
    pub fn open(config: StoreConfig) -> Result<MessageStore, StoreError> {
        config.validate()?;
        let root = config.store_path_root_dir.clone();
        fs::create_dir_all(&root).at(&root)?;
        let lock_path = config.lock_path();
        let mut lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .at(&lock_path)?;
        if lock_file.try_lock().is_err() {
            return Err(StoreError::Locked(root));
        }
        lock_file.write_all(b"lock").at(&lock_path)?;

        let abort_path = config.abort_path();
        let abnormal = abort_path.exists();
        let commit_log = CommitLog::load(config.commit_log_dir(), config.mapped_file_size_commit_log)?;
        let consume_queues = load_consume_queues(&config)?;
        let checkpoint = Checkpoint::open(&config.checkpoint_path())?;
        let index = if config.message_index_enable {
            Some(IndexService::load(
                config.index_dir(),
                config.max_hash_slot_num,
                config.max_index_num,
                !abnormal,
                checkpoint.index_msg_timestamp.load(Ordering::Acquire),
            )?)
        } else {
            None
        };
        let (flush_progress, _) = watch::channel(FlushProgress::default());
        let (arrivals, _) = broadcast::channel(config.arrival_channel_capacity.max(1));
        let in_memory_window_bytes = (config.total_memory_bytes.unwrap_or_else(total_memory) as i64)
            .saturating_mul(config.access_message_in_memory_max_ratio as i64)
            / 100;
        let core = Arc::new(Core {
            delay_levels_ms: config.delay_levels_ms(),
            last_store_ts: AtomicI64::new(checkpoint.physic_msg_timestamp.load(Ordering::Acquire)),
            config,
            commit_log,
            consume_queues: RwLock::new(consume_queues),
            put_lock: Mutex::new(PutState::default()),
            checkpoint,
            index,
            flags: AtomicU8::new(0),
            flush_progress,
            cl_flush_signal: Signal::default(),
            cq_flush_signal: Signal::default(),
            arrivals,
            dispatched: AtomicI64::new(0),
            cq_generation: AtomicU64::new(0),
            read_since_release: AtomicU64::new(0),
            begin_time_in_lock: AtomicI64::new(0),
            in_memory_window_bytes,
            cleanup: cleanup::CleanupState::default(),
            ha: crate::ha::HaState::default(),
        });
        core.recover(abnormal)?;

        File::create(&abort_path).at(&abort_path)?;
        sync_dir(&root)?;

        let mut threads = Vec::new();
        for (name, f) in [
            ("rmq-cl-flush", flush::commit_log_flusher as fn(Arc<Core>)),
            ("rmq-cq-flush", flush::consume_queue_flusher),
            ("rmq-clean", cleanup::cleaner),
        ] {
            let c = core.clone();
            let h = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || f(c))
                .map_err(|source| StoreError::Io {
                    path: root.clone(),
                    source,
                })?;
            threads.push(h);
        }
        Ok(MessageStore {
            inner: Arc::new(Inner {
                core,
                threads: Mutex::new(threads),
                shut_down: AtomicBool::new(false),
                _lock_file: lock_file,
            }),
        })
    }

    fn core(&self) -> &Core {
        &self.inner.core
    }

    pub fn config(&self) -> &StoreConfig {
        &self.core().config
    }

    /// Store one message. With SYNC_FLUSH, returns only after its bytes are fsynced
    /// (`FlushDiskTimeout` after `sync_flush_timeout_ms`; the message is stored either way).
    pub async fn put_message(&self, msg: PutMessage) -> PutResult {
        self.put_messages(vec![msg]).await
    }

    /// Store a batch to one topic/queue: consecutive queue offsets, one append under the lock.
    /// On a SLAVE every put is refused (`ServiceNotAvailable`); on a SYNC_MASTER a message that
    /// waits for the store (`WAIT` absent or true) also waits for a slave's ack (storage.md §8.3).
    pub async fn put_messages(&self, batch: Vec<PutMessage>) -> PutResult {
        self.append_messages(batch).wait().await
    }

    /// `put_messages` in two halves: this one holds the put lock (encode, append, dispatch) and
    /// returns at once; [`PendingPut::wait`] waits for the group commit under SYNC_FLUSH. The
    /// broker's send queue gives its permit back in between.
    pub fn append_messages(&self, batch: Vec<PutMessage>) -> PendingPut<'_> {
        let config = &self.core().config;
        if config.broker_role == BrokerRole::Slave {
            return PendingPut {
                store: self,
                result: PutResult::failed(PutStatus::ServiceNotAvailable),
                end: None,
                wait_flush: false,
                replicate: false,
            };
        }
        // A message with WAIT=false is acknowledged once appended, in every mode (Java's
        // handleDiskFlush / handleHA); under SYNC_FLUSH the flusher is still woken for it.
        let waits = batch
            .first()
            .is_some_and(|m| crate::ha::waits_store_ok(&m.properties));
        let wait_flush = config.flush_disk_type == FlushDiskType::SyncFlush && waits;
        let replicate = config.broker_role == BrokerRole::SyncMaster && waits;
        let (result, end) = match self.core().append(&batch) {
            Ok((r, end)) => (r, Some(end)),
            Err(status) => (PutResult::failed(status), None),
        };
        if end.is_some() && config.flush_disk_type == FlushDiskType::SyncFlush && !waits {
            self.core().cl_flush_signal.wake();
        }
        PendingPut {
            store: self,
            result,
            end,
            wait_flush,
            replicate,
        }
    }

    /// Read up to `max_msg_nums` records from a queue starting at `offset` (storage.md §3.6).
    /// `filter` is the consume-queue stage tag filter (true = match).
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
        let r = core.get_message(topic, queue_id, offset, max_msg_nums, max_total_bytes, filter);
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

    /// `getOffsetInQueueByTime` (§3.5, Java's nearest-neighbour rule, clamped to [min, max]).
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

    /// True when the message at `offset` in the queue is outside the "in memory" window (§3.6;
    /// Java's `checkInDiskByConsumeOffset`). A missing entry counts as in memory.
    pub fn is_in_disk(&self, topic: &str, queue_id: i32, offset: i64) -> bool {
        let core = self.core();
        let Some(e) = core.find_cq(topic, queue_id).and_then(|cq| cq.entry(offset)) else {
            return false;
        };
        core.commit_log.max_offset() as i64 - e.phy_offset > core.in_memory_window_bytes
    }

    /// Messages whose `UNIQ_KEY` or a `KEYS` token equals `key`, stored in `[begin_ts, end_ts]`
    /// (QUERY_MESSAGE, §4.5). At most `min(max_num, 64)`. Empty if the index is disabled.
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

    /// True while puts are accepted.
    pub fn is_writeable(&self) -> bool {
        self.core().flags.load(Ordering::Acquire) == 0
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
        let _st = core.put_lock.lock().unwrap_or_else(|p| p.into_inner());
        core.begin_time_in_lock.store(now_ms(), Ordering::Release);
        locked();
        std::thread::sleep(d);
        core.begin_time_in_lock.store(0, Ordering::Release);
    }

    /// Remove the consume queues (files and offsets) of these topics. Commitlog records stay
    /// until the commitlog is cleaned.
    pub fn delete_topics(&self, topics: &[String]) {
        self.core().delete_topics(topics)
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
        drop(core.put_lock.lock().unwrap_or_else(|p| p.into_inner()));
        core.cl_flush_signal.stop(StopMode::Clean);
        core.cq_flush_signal.stop(StopMode::Clean);
        core.cleanup.stop();
        join_all(&self.inner.threads);
        let f = core.flags.load(Ordering::Acquire);
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

/// An appended put whose SYNC_FLUSH wait is still to come (see `MessageStore::append_messages`).
#[must_use = "the result is only final after wait()"]
pub struct PendingPut<'a> {
    store: &'a MessageStore,
    result: PutResult,
    /// Commitlog end offset to wait for; `None` if nothing was stored.
    end: Option<u64>,
    /// SYNC_FLUSH and the message waits for the store (`WAIT` absent or true).
    wait_flush: bool,
    /// SYNC_MASTER and the message waits for the store: wait for a slave's ack too.
    replicate: bool,
}

impl PendingPut<'_> {
    /// The final result: under SYNC_FLUSH, once the bytes are on disk (or `FlushDiskTimeout`);
    /// under SYNC_MASTER, once a slave has them (or `FlushSlaveTimeout` / `SlaveNotAvailable`);
    /// at once for a message with `WAIT=false`.
    pub async fn wait(self) -> PutResult {
        let mut result = self.result;
        let Some(end) = self.end else {
            return result;
        };
        let core = self.store.core();
        let config = &core.config;
        let flush = async {
            if self.wait_flush {
                core.wait_flushed(end).await
            } else {
                PutStatus::PutOk
            }
        };
        let slave = async {
            if self.replicate {
                core.ha.wait_for_slave(end, config).await
            } else {
                PutStatus::PutOk
            }
        };
        // Java combines both futures: a replication failure wins over a flush failure.
        let (flushed, replicated) = tokio::join!(flush, slave);
        if flushed != PutStatus::PutOk {
            result.status = flushed;
        }
        if replicated != PutStatus::PutOk {
            result.status = replicated;
        }
        result
    }
}

fn load_consume_queues(config: &StoreConfig) -> Result<QueueTable, StoreError> {
    let root = config.consume_queue_dir();
    fs::create_dir_all(&root).at(&root)?;
    let mut table = QueueTable::new();
    for topic_dir in fs::read_dir(&root).at(&root)? {
        let topic_dir = topic_dir.at(&root)?;
        let Ok(topic) = topic_dir.file_name().into_string() else {
            continue;
        };
        if !topic_dir.path().is_dir() {
            continue;
        }
        let topic: Arc<str> = topic.into();
        for q in fs::read_dir(topic_dir.path()).at(&topic_dir.path())? {
            let q = q.at(&topic_dir.path())?;
            let Some(queue_id) = q.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let cq = ConsumeQueue::load(&root, topic.clone(), queue_id, config.consume_queue_file_size())?;
            table
                .entry(topic.to_string())
                .or_default()
                .insert(queue_id, Arc::new(cq));
        }
    }
    Ok(table)
}

/// MemTotal from /proc/meminfo, or 24 GiB (Java's fallback).
fn total_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(DEFAULT_TOTAL_MEMORY)
}

struct Encoded {
    buf: Vec<u8>,
    /// (record length, sys flag, enters a consume queue, tags code)
    records: Vec<(usize, i32, bool, i64)>,
}

impl Core {
    fn cq_table(&self) -> std::sync::RwLockReadGuard<'_, QueueTable> {
        self.consume_queues.read().unwrap_or_else(|p| p.into_inner())
    }

    fn find_cq(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.cq_table().get(topic)?.get(&queue_id).cloned()
    }

    fn find_or_create_cq(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(cq) = self.find_cq(topic, queue_id) {
            return Ok(cq);
        }
        let mut table = self.consume_queues.write().unwrap_or_else(|p| p.into_inner());
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

    // ---------------------------------------------------------------- recovery

    fn recover(&self, abnormal: bool) -> Result<(), StoreError> {
        let cl = &self.commit_log;
        for cq in self.all_cqs() {
            cq.recover()?;
        }
        let segments = cl.queue().files().len();
        let start_idx = if abnormal {
            let mut min_ts = self.checkpoint.min_timestamp();
            if self.index.is_some() && self.config.message_index_safe {
                min_ts = min_ts.min(self.checkpoint.index_msg_timestamp.load(Ordering::Acquire));
            }
            cl.abnormal_start_index(min_ts)
        } else {
            segments.saturating_sub(3)
        };
        let end = cl.recover_end(start_idx, self.config.check_crc_on_recover);
        tracing::info!(abnormal, start_segment = start_idx, end, "commitlog recovered");
        cl.truncate_dirty(end)?;
        if cl.queue().is_empty() {
            for cq in self.all_cqs() {
                cq.destroy()?;
            }
            self.consume_queues
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        let mut max_cq_phy = 0;
        for cq in self.all_cqs() {
            cq.truncate_dirty(end as i64)?;
            max_cq_phy = max_cq_phy.max(cq.max_phy_offset());
        }
        let min_phy = cl.min_offset().unwrap_or(0);
        // Abnormal: re-dispatch everything from the safe segment (idempotent per queue).
        // Normal: catch up from where the consume queues end (reput).
        let from = if abnormal {
            cl.segment_start(start_idx)
        } else {
            max_cq_phy as u64
        }
        .max(min_phy);
        let mut redispatched = 0u64;
        let reached = cl.for_each_record(from, end, |phy, info| {
            redispatched += 1;
            self.dispatch_recovered(phy, info)
        })?;
        tracing::info!(from, reached, redispatched, "consume queues rebuilt");
        let mut st = self.put_lock.lock().unwrap_or_else(|p| p.into_inner());
        for cq in self.all_cqs() {
            cq.correct_min_offset(min_phy as i64);
            st.next_queue_offset
                .entry(cq.topic().to_string())
                .or_default()
                .insert(cq.queue_id(), cq.max_offset());
        }
        self.dispatched.store(end as i64, Ordering::Release);
        self.flush_progress.send_replace(FlushProgress {
            flushed: cl.queue().flushed_where(),
            failed: false,
        });
        Ok(())
    }

    fn dispatch_recovered(&self, phy: u64, info: &RecordView<'_>) -> Result<(), StoreError> {
        let topic = String::from_utf8_lossy(info.topic);
        if let Some(index) = &self.index {
            index.build(
                &topic,
                info.properties,
                phy as i64,
                info.store_timestamp,
                info.sys_flag,
            )?;
        }
        if !sys_flag::enters_consume_queue(info.sys_flag) {
            return Ok(());
        }
        let tags = record::dispatch_tags_code(
            info.topic,
            info.properties,
            info.store_timestamp,
            &self.delay_levels_ms,
        );
        let cq = self.find_or_create_cq(&topic, info.queue_id)?;
        let entry = CqEntry {
            phy_offset: phy as i64,
            size: info.total_size as i32,
            tags_code: tags,
        };
        cq.put(entry, info.queue_offset)?;
        self.logics_timestamp(info.store_timestamp);
        Ok(())
    }

    fn logics_timestamp(&self, ts: i64) {
        self.checkpoint.logics_msg_timestamp.store(ts, Ordering::Release);
    }

    // ---------------------------------------------------------------- put path

    fn encode(&self, batch: &[PutMessage]) -> Result<Encoded, PutStatus> {
        let first = batch.first().ok_or(PutStatus::MessageIllegal)?;
        if batch.len() > 1 {
            let same = batch
                .iter()
                .all(|m| m.topic == first.topic && m.queue_id == first.queue_id);
            let body: usize = batch.iter().map(|m| m.body.len()).sum();
            if !same || body > self.config.max_message_size {
                return Err(PutStatus::MessageIllegal);
            }
        }
        let store_host = &self.config.store_host;
        let mut enc = Encoded {
            buf: Vec::new(),
            records: Vec::with_capacity(batch.len()),
        };
        for m in batch {
            let flag = m.sys_flag;
            let len = record::encode(&mut enc.buf, m, store_host, self.config.max_message_size).map_err(
                |e| match e {
                    EncodeError::Illegal => PutStatus::MessageIllegal,
                    EncodeError::PropertiesTooLong => PutStatus::PropertiesSizeExceeded,
                },
            )?;
            enc.records
                .push((len, flag, sys_flag::enters_consume_queue(flag), m.tags_code));
        }
        Ok(enc)
    }

    /// A message for a queue that has no consume-queue file yet: create it (directory, file,
    /// mappings) before taking the put lock, so file-system work for a new queue does not stall
    /// every other send (BenchmarkTest has 1024 queues). Dispatch under the lock creates it if
    /// this did not (an error here is left for dispatch to report).
    fn prepare_consume_queue(&self, first: &PutMessage) -> Option<Arc<ConsumeQueue>> {
        if let Some(cq) = self.find_cq(&first.topic, first.queue_id) {
            if cq.is_ready() {
                return Some(cq);
            }
        }
        let next = {
            let st = self.put_lock.lock().unwrap_or_else(|p| p.into_inner());
            st.next_queue_offset
                .get(first.topic.as_str())
                .and_then(|q| q.get(&first.queue_id))
                .copied()
                .unwrap_or(0)
        };
        let cq = self.find_or_create_cq(&first.topic, first.queue_id).ok()?;
        let _ = cq.ensure_first_segment(next);
        Some(cq)
    }

    fn is_os_page_cache_busy(&self) -> bool {
        let begin = self.begin_time_in_lock.load(Ordering::Acquire);
        begin != 0 && now_ms() - begin > self.config.os_page_cache_busy_timeout_ms as i64
    }

    /// Encode, append and dispatch. Returns the result and the commitlog end offset to wait for.
    fn append(&self, batch: &[PutMessage]) -> Result<(PutResult, u64), PutStatus> {
        if self.flags.load(Ordering::Acquire) != 0 {
            return Err(PutStatus::ServiceNotAvailable);
        }
        if self.is_os_page_cache_busy() {
            return Err(PutStatus::OsPageCacheBusy);
        }
        let mut enc = self.encode(batch)?;
        let generation = self.cq_generation.load(Ordering::Acquire);
        let prepared = self.prepare_consume_queue(&batch[0]);
        let mut st = self.put_lock.lock().unwrap_or_else(|p| p.into_inner());
        let prepared = prepared.filter(|_| self.cq_generation.load(Ordering::Acquire) == generation);
        if self.flags.load(Ordering::Acquire) != 0 {
            return Err(PutStatus::ServiceNotAvailable);
        }
        let store_ts = now_ms();
        self.begin_time_in_lock.store(store_ts, Ordering::Release);
        let result = self.append_locked(&mut st, &mut enc, batch, store_ts, prepared);
        self.begin_time_in_lock.store(0, Ordering::Release);
        drop(st);
        let (wrote_offset, queue_offset) = result?;
        let mut msg_ids = Vec::with_capacity(enc.records.len());
        let mut phy = wrote_offset;
        for (len, ..) in &enc.records {
            msg_ids.push(record::offset_msg_id(self.config.store_host, phy as i64));
            phy += *len as u64;
        }
        Ok((
            PutResult {
                status: PutStatus::PutOk,
                wrote_offset: wrote_offset as i64,
                wrote_bytes: enc.buf.len() as i32,
                queue_offset,
                msg_num: enc.records.len() as i32,
                store_timestamp: store_ts,
                msg_ids,
            },
            phy,
        ))
    }

    /// The part under the put lock. Returns (wrote offset, first queue offset).
    fn append_locked(
        &self,
        st: &mut PutState,
        enc: &mut Encoded,
        batch: &[PutMessage],
        store_ts: i64,
        cq: Option<Arc<ConsumeQueue>>,
    ) -> Result<(u64, i64), PutStatus> {
        let first = &batch[0];
        let next = st
            .next_queue_offset
            .get(first.topic.as_str())
            .and_then(|q| q.get(&first.queue_id))
            .copied()
            .unwrap_or(0);
        let entries = enc.records.iter().filter(|r| r.2).count();
        if entries > 0
            && !self.reserve_dispatch_space(cq.as_ref(), &first.topic, first.queue_id, next, entries)
        {
            return Err(PutStatus::CreateMappedFileFailed);
        }
        let (file, pos) = match self.commit_log.reserve(enc.buf.len()) {
            Ok(r) => r,
            Err(ReserveError::TooLarge) => return Err(PutStatus::MessageIllegal),
            Err(ReserveError::Io(e)) => {
                tracing::error!(error = %e, "commitlog segment allocation failed");
                self.after_write_error(&e);
                return Err(PutStatus::CreateMappedFileFailed);
            }
        };
        let base = file.start_offset() + pos;
        let schedule = first.topic == record::SCHEDULE_TOPIC;
        let mut queue_offset = next;
        let mut at = 0usize;
        for (len, _, enters, tags) in enc.records.iter_mut() {
            let qo = if *enters { queue_offset } else { 0 };
            let rec = &mut enc.buf[at..at + *len];
            let patched = record::patch(rec, qo, (base + at as u64) as i64, store_ts);
            debug_assert!(patched, "a record this store just encoded");
            if schedule {
                if let record::RecordCheck::Message(info) = record::check(rec, false) {
                    *tags = record::dispatch_tags_code(
                        info.topic,
                        info.properties,
                        store_ts,
                        &self.delay_levels_ms,
                    );
                }
            }
            if *enters {
                queue_offset += 1;
            }
            at += *len;
        }
        if let Err(e) = file.append_at(pos, &enc.buf) {
            tracing::error!(error = %e, path = %file.path().display(), "commitlog write failed");
            // Out of space reserving blocks for the record: nothing was written, like a segment
            // that could not be created.
            let status = if crate::disk::is_out_of_space(&e) {
                PutStatus::CreateMappedFileFailed
            } else {
                PutStatus::UnknownError
            };
            self.after_write_error(&StoreError::Io {
                path: file.path().to_path_buf(),
                source: e,
            });
            return Err(status);
        }
        if queue_offset != next {
            st.next_queue_offset
                .entry(first.topic.clone())
                .or_default()
                .insert(first.queue_id, queue_offset);
        }
        self.last_store_ts.store(store_ts, Ordering::Release);
        self.dispatch_appended(enc, batch, base, next, store_ts, cq);
        Ok((base, next))
    }

    /// Write consume-queue entries for just-appended records and announce them.
    fn dispatch_appended(
        &self,
        enc: &Encoded,
        batch: &[PutMessage],
        base: u64,
        first_queue_offset: i64,
        store_ts: i64,
        mut cq: Option<Arc<ConsumeQueue>>,
    ) {
        let first = &batch[0];
        let mut phy = base;
        let mut qo = first_queue_offset;
        for (&(len, flag, enters, tags), m) in enc.records.iter().zip(batch) {
            if let Some(index) = &self.index {
                let built = index.build(&m.topic, m.properties.as_bytes(), phy as i64, store_ts, flag);
                if let Err(e) = built {
                    tracing::error!(error = %e, "index write failed; store is now unwriteable");
                    self.flags.fetch_or(flags::INDEX_WRITE_ERROR, Ordering::AcqRel);
                }
            }
            if enters {
                let q = match &cq {
                    Some(q) => Ok(q.clone()),
                    None => self.find_or_create_cq(&first.topic, first.queue_id),
                };
                let entry = CqEntry {
                    phy_offset: phy as i64,
                    size: len as i32,
                    tags_code: tags,
                };
                match q.and_then(|q| {
                    q.put(entry, qo)?;
                    Ok(q)
                }) {
                    Ok(q) => {
                        // No receivers is fine: nobody is long-polling.
                        let _ = self.arrivals.send(Arrival {
                            topic: q.topic().clone(),
                            queue_id: first.queue_id,
                            queue_offset: qo,
                            tags_code: tags,
                        });
                        cq = Some(q);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, topic = %first.topic, "consume queue write failed; store is now unwriteable");
                        self.flags.fetch_or(flags::CQ_WRITE_ERROR, Ordering::AcqRel);
                    }
                }
                qo += 1;
            }
            phy += len as u64;
        }
        self.logics_timestamp(store_ts);
        self.dispatched.store(phy as i64, Ordering::Release);
    }

    async fn wait_flushed(&self, end: u64) -> PutStatus {
        let mut rx = self.flush_progress.subscribe();
        self.cl_flush_signal.wake();
        let timeout = Duration::from_millis(self.config.sync_flush_timeout_ms);
        let waited = tokio::time::timeout(timeout, async {
            rx.wait_for(|p| p.failed || p.flushed >= end)
                .await
                .map(|p| !p.failed)
        })
        .await;
        match waited {
            Ok(Ok(true)) => PutStatus::PutOk,
            Ok(_) => PutStatus::FlushDiskTimeout,
            Err(_) => {
                tracing::warn!(end, "sync flush timed out");
                PutStatus::FlushDiskTimeout
            }
        }
    }

    // ---------------------------------------------------------------- flushing

    /// Flush the commitlog. A failure is fatal: the store refuses all further writes.
    pub(crate) fn flush_commit_log(&self, least_pages: usize) -> Result<(), StoreError> {
        if self.flags.load(Ordering::Acquire) & flags::FLUSH_FAILED != 0 {
            return Err(StoreError::FlushFailed);
        }
        let ts = self.last_store_ts.load(Ordering::Acquire);
        match self.commit_log.flush(least_pages) {
            Ok(flushed) => {
                self.flush_progress
                    .send_modify(|p| p.flushed = p.flushed.max(flushed));
                if least_pages == 0 {
                    self.checkpoint.physic_msg_timestamp.store(ts, Ordering::Release);
                }
                Ok(())
            }
            Err(source) => {
                tracing::error!(error = %source, "commitlog fsync failed; store is now unwriteable");
                self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
                self.flush_progress.send_modify(|p| p.failed = true);
                Err(StoreError::Io {
                    path: self.config.commit_log_dir(),
                    source,
                })
            }
        }
    }

    /// Unmap the commitlog's flushed pages from the process (`MappedFile::release_read_pages`),
    /// so RSS does not keep what pulls of old messages faulted in. On the CQ flush thread, once
    /// per `flushIntervalConsumeQueue`.
    pub(crate) fn release_commit_log_pages(&self) {
        for f in self.commit_log.queue().files() {
            f.release_read_pages();
        }
    }

    pub(crate) fn flush_consume_queues(&self, least_pages: usize) -> Result<(), StoreError> {
        for cq in self.all_cqs() {
            if let Err(source) = cq.flush(least_pages) {
                tracing::error!(error = %source, topic = %cq.topic(), queue_id = cq.queue_id(),
                    "consume queue fsync failed; store is now unwriteable");
                self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
                return Err(StoreError::Io {
                    path: self.config.consume_queue_dir(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Flush index files that became full (with `all`, the current one too) and advance the
    /// checkpoint's `indexMsgTimestamp`; persists the checkpoint (with `logics` captured before
    /// the CQ flush) when it moved.
    pub(crate) fn flush_index(&self, all: bool, logics: i64) -> Result<(), StoreError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        match index.flush(all) {
            Ok(None) => Ok(()),
            Ok(Some(ts)) => {
                self.checkpoint
                    .index_msg_timestamp
                    .fetch_max(ts, Ordering::AcqRel);
                self.persist_checkpoint(logics)
            }
            Err(source) => {
                tracing::error!(error = %source, "index fsync failed; store is now unwriteable");
                self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
                Err(StoreError::Io {
                    path: self.config.index_dir(),
                    source,
                })
            }
        }
    }

    pub(crate) fn persist_checkpoint(&self, logics: i64) -> Result<(), StoreError> {
        self.checkpoint.persist(logics).inspect_err(|e| {
            tracing::error!(error = %e, "checkpoint fsync failed; store is now unwriteable");
            self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
        })
    }

    // ---------------------------------------------------------------- read path

    fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        max_total_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetResult {
        let mut r = GetResult {
            status: GetStatus::NoMessageInQueue,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            total_bytes: 0,
            suggest_pulling_from_slave: false,
        };
        // Java creates the queue on demand here, so an unknown queue reads as empty.
        let Some(cq) = self.find_cq(topic, queue_id) else {
            return r;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        if max == 0 {
            return r;
        }
        if offset < min {
            r.status = GetStatus::OffsetTooSmall;
            r.next_begin_offset = min;
            return r;
        }
        if offset == max {
            r.status = GetStatus::OffsetOverflowOne;
            r.next_begin_offset = offset;
            return r;
        }
        if offset > max {
            r.status = GetStatus::OffsetOverflowBadly;
            // 4.9.7 DefaultMessageStore.getMessage: nextOffsetCorrection(offset, maxOffset), whatever the
            // min offset (the "back to 0 while min == 0" branch is pre-4.9; the Java conformance suite's
            // PullConsumerTest sees next 10 for offsets 11 and 100 of a 10-message queue on the oracle).
            r.next_begin_offset = max;
            return r;
        }
        let max_scan = (max_msg_nums.max(0) as usize).max(16000 / crate::consume_queue::CQ_STORE_UNIT_SIZE);
        let Some(entries) = cq.entries_from(offset, max_scan) else {
            r.status = GetStatus::OffsetFoundNull;
            r.next_begin_offset = cq.roll_next_file(offset);
            return r;
        };
        r.status = GetStatus::NoMatchedMessage;
        let max_phy = self.commit_log.max_offset() as i64;
        let mut next_phy_file_start: Option<i64> = None;
        let mut scanned = 0i64;
        for e in entries {
            if next_phy_file_start.is_some_and(|s| e.phy_offset < s) {
                scanned += 1;
                continue;
            }
            let in_disk = max_phy - e.phy_offset > self.in_memory_window_bytes;
            if self.is_batch_full(&r, e.size, max_msg_nums, max_total_bytes, in_disk) {
                break;
            }
            scanned += 1;
            if !filter(e.tags_code) {
                if r.total_bytes == 0 {
                    r.status = GetStatus::NoMatchedMessage;
                }
                continue;
            }
            match self.commit_log.read(e.phy_offset, e.size) {
                Some(rec) => {
                    r.total_bytes += rec.len();
                    r.messages.push(rec);
                    r.status = GetStatus::Found;
                    r.suggest_pulling_from_slave = in_disk;
                    next_phy_file_start = None;
                }
                None => {
                    if r.total_bytes == 0 {
                        r.status = GetStatus::MessageWasRemoving;
                    }
                    next_phy_file_start =
                        Some(self.commit_log.roll_next_file(e.phy_offset.max(0) as u64) as i64);
                }
            }
        }
        r.next_begin_offset = offset + scanned;
        r
    }

    fn is_batch_full(
        &self,
        r: &GetResult,
        size: i32,
        max_msg_nums: i32,
        max_total_bytes: usize,
        in_disk: bool,
    ) -> bool {
        let count = r.messages.len();
        if r.total_bytes == 0 || count == 0 {
            return false;
        }
        let next_total = r.total_bytes + size.max(0) as usize;
        if count >= max_msg_nums.max(0) as usize || next_total > max_total_bytes {
            return true;
        }
        let c = &self.config;
        if in_disk {
            next_total > c.max_transfer_bytes_on_message_in_disk
                || count >= c.max_transfer_count_on_message_in_disk
        } else {
            next_total > c.max_transfer_bytes_on_message_in_memory
                || count >= c.max_transfer_count_on_message_in_memory
        }
    }

    // ---------------------------------------------------------------- admin

    fn delete_topics(&self, topics: &[String]) {
        let mut st = self.put_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.cq_generation.fetch_add(1, Ordering::AcqRel);
        for topic in topics {
            st.next_queue_offset.remove(topic.as_str());
            let removed = self
                .consume_queues
                .write()
                .unwrap_or_else(|p| p.into_inner())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn put(properties: &str) -> PutMessage {
        PutMessage {
            topic: "T".into(),
            queue_id: 0,
            flag: 0,
            body: Bytes::from_static(b"body"),
            properties: properties.into(),
            tags_code: 0,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: "10.1.2.3:40000".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[tokio::test]
    async fn sync_flush_waits_only_for_messages_that_wait_for_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(StoreConfig {
            store_path_root_dir: dir.path().to_path_buf(),
            flush_disk_type: FlushDiskType::SyncFlush,
            // The flusher's own tick never comes during the test: only a wake flushes.
            flush_interval_commit_log_ms: 600_000,
            mapped_file_size_commit_log: 64 * 1024,
            ..StoreConfig::default()
        })
        .unwrap();
        let waiting = store.append_messages(vec![put("UNIQ_KEY\u{1}a")]);
        assert!(waiting.wait_flush);
        assert_eq!(waiting.wait().await.status, PutStatus::PutOk);
        assert_eq!(store.flushed_phy_offset(), store.max_phy_offset());

        let no_wait = store.append_messages(vec![put("UNIQ_KEY\u{1}b\u{2}WAIT\u{1}false")]);
        assert!(!no_wait.wait_flush && !no_wait.replicate);
        let end = no_wait.end.unwrap() as i64;
        assert_eq!(no_wait.wait().await.status, PutStatus::PutOk);
        // Not waited for, but the flusher was woken for it.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while store.flushed_phy_offset() < end {
            assert!(std::time::Instant::now() < deadline, "never flushed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        store.shutdown().unwrap();
    }
}
