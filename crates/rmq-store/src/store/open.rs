//! Opening a store: the lock file, segments, consume queues, recovery, the flush threads.

use super::*;

/// Controller mode's epoch file under the store root (Java's `storePathEpochFile` default).
pub const EPOCH_FILE: &str = "epochFileCheckpoint";

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
        if !config.data_read_ahead_enable {
            commit_log.queue().set_read_ahead(true)?;
        }
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
        let (replication_news, _) = watch::channel(0);
        let in_memory_window_bytes = (config.total_memory_bytes.unwrap_or_else(total_memory) as i64)
            .saturating_mul(config.access_message_in_memory_max_ratio as i64)
            / 100;
        let boot_ms = config.clock.now_ms();
        let initial_flags = if config.controller_mode { flags::FENCED } else { 0 };
        let role = role_code(config.broker_role);
        let core = Arc::new(Core {
            delay_levels_ms: config.delay_levels_ms(),
            last_store_ts: AtomicI64::new(checkpoint.physic_msg_timestamp.load(Ordering::Acquire)),
            config,
            commit_log,
            consume_queues: RwLock::new(consume_queues),
            put_lock: Mutex::new(PutState::default()),
            checkpoint,
            index,
            flags: AtomicU8::new(initial_flags),
            role: AtomicU8::new(role),
            flush_progress,
            cl_flush_signal: Signal::default(),
            cq_flush_signal: Signal::default(),
            arrivals,
            replication_news,
            dispatched: AtomicI64::new(0),
            cq_generation: AtomicU64::new(0),
            read_since_release: AtomicU64::new(0),
            begin_time_in_lock: AtomicI64::new(0),
            in_memory_window_bytes,
            cleanup: cleanup::CleanupState::default(),
            ha: crate::ha::HaState::default(),
            stats: crate::stats::StoreStats::new(boot_ms),
            #[cfg(test)]
            fail_points: Default::default(),
        });
        core.recover(abnormal)?;
        if core.config.controller_mode {
            core.ha.replicas.open_epochs(&root.join(EPOCH_FILE))?;
        }

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
                .spawn(move || {
                    let guard = c.clone();
                    let _dart = guard.dart(name);
                    f(c)
                })
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
