//! The put path: encode outside the lock, append and dispatch under the put lock, then the
//! optional group-commit (SYNC_FLUSH) and slave (SYNC_MASTER) waits.

use super::*;

impl MessageStore {
    /// `put_messages` in two halves: this one holds the put lock (encode, append, dispatch) and
    /// returns at once; [`PendingPut::wait`] waits for the group commit under SYNC_FLUSH. The
    /// broker's send queue gives its permit back in between.
    pub fn append_messages(&self, batch: Vec<PutMessage>) -> PendingPut<'_> {
        let config = &self.core().config;
        let role = self.core().role();
        // Controller mode: a master out of touch with the controller for its lease stops
        // acknowledging before another can be elected (rmq's fencing; Java relies on acks).
        let lease_lapsed = config.controller_mode && !self.core().ha.replicas.lease_valid();
        if role == BrokerRole::Slave || lease_lapsed {
            if lease_lapsed && role != BrokerRole::Slave {
                tracing::debug!("put refused: the master's lease from the controller lapsed");
            }
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
        let replicate = role == BrokerRole::SyncMaster && waits;
        // Java checks `inSyncReplicasNums` (the set, with a pending change merged; the master
        // itself always counts) before the append.
        if replicate
            && config.controller_mode
            && self.core().ha.replicas.sync_state_set().len().max(1) < config.min_in_sync_replicas
        {
            return PendingPut {
                store: self,
                result: PutResult::failed(PutStatus::InSyncReplicasNotEnough),
                end: None,
                wait_flush: false,
                replicate: false,
            };
        }
        let started = std::time::Instant::now();
        let (result, end) = match self.core().append(&batch) {
            Ok((r, end)) => {
                self.core().stats.on_put(
                    r.store_timestamp,
                    r.msg_num.max(0) as u64,
                    r.wrote_bytes.max(0) as u64,
                    started.elapsed().as_millis() as u64,
                );
                (r, Some(end))
            }
            Err(status) => {
                self.core().stats.on_put_failed();
                (PutResult::failed(status), None)
            }
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
    /// The append's result so far (status, offsets), before any flush or slave wait.
    pub fn result(&self) -> &PutResult {
        &self.result
    }

    /// The result of the append alone, without waiting for the flush or a slave (Java's
    /// `setWaitStoreMsgOK(false)` on an internal re-put whose durability the caller tracks
    /// itself); under SYNC_FLUSH the flusher is woken for it.
    pub fn appended(self) -> PutResult {
        if self.end.is_some() && self.store.core().config.flush_disk_type == FlushDiskType::SyncFlush {
            self.store.core().cl_flush_signal.wake();
        }
        self.result
    }

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
            if self.replicate && config.controller_mode {
                core.ha.wait_for_replicas(end, config).await
            } else if self.replicate {
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

struct Encoded {
    buf: Vec<u8>,
    /// (record length, sys flag, enters a consume queue, tags code)
    records: Vec<(usize, i32, bool, i64)>,
}

impl Core {
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
    pub(super) fn prepare_consume_queue(&self, first: &PutMessage) -> Option<Arc<ConsumeQueue>> {
        if let Some(cq) = self.find_cq(&first.topic, first.queue_id) {
            if cq.is_ready() {
                return Some(cq);
            }
        }
        let next = {
            let st = self.lock_or_poison(&self.put_lock, "put lock");
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

    pub(super) fn is_os_page_cache_busy(&self) -> bool {
        let begin = self.begin_time_in_lock.load(Ordering::Acquire);
        begin != 0 && self.config.clock.now_ms() - begin > self.config.os_page_cache_busy_timeout_ms as i64
    }

    /// Encode, append and dispatch. Returns the result and the commitlog end offset to wait for.
    pub(super) fn append(&self, batch: &[PutMessage]) -> Result<(PutResult, u64), PutStatus> {
        if self.flags.load(Ordering::Acquire) != 0 {
            return Err(PutStatus::ServiceNotAvailable);
        }
        if self.is_os_page_cache_busy() {
            return Err(PutStatus::OsPageCacheBusy);
        }
        let _dart = self.dart("put");
        let mut enc = self.encode(batch)?;
        let generation = self.cq_generation.load(Ordering::Acquire);
        let prepared = self.prepare_consume_queue(&batch[0]);
        let mut st = self.lock_or_poison(&self.put_lock, "put lock");
        let prepared = prepared.filter(|_| self.cq_generation.load(Ordering::Acquire) == generation);
        if self.flags.load(Ordering::Acquire) != 0 {
            return Err(PutStatus::ServiceNotAvailable);
        }
        let store_ts = self.config.clock.now_ms();
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
        let schedule = first.topic == record::SCHEDULE_TOPIC || first.topic == record::TIMER_TOPIC;
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
        self.replication_news();
        #[cfg(test)]
        self.fail_points
            .hit(&self.fail_points.put_before_dispatch, "put before dispatch");
        let end = base + enc.buf.len() as u64;
        // Controller mode: records wait for the SyncStateSet's acks (`dispatch_confirmed`);
        // earlier ones still waiting go first. The confirm offset is read once (a lock).
        let confirm = self.config.controller_mode.then(|| self.confirm_offset());
        if confirm.is_none_or(|c| self.dispatched.load(Ordering::Acquire) == base as i64 && c >= end as i64) {
            self.dispatch_appended(enc, batch, base, next, store_ts, cq);
        } else {
            let limit = confirm.unwrap_or(0).max(0) as u64;
            if let Err(e) = self.dispatch_until(st, limit) {
                tracing::error!(error = %e, "dispatch of confirmed records failed");
            }
        }
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
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A small message to topic `T`, queue 0, with these encoded properties.
    pub(in crate::store) fn put(properties: &str) -> PutMessage {
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
