//! The store's side of HA replication (docs/store/ha.md#wire-protocol): raw commitlog chunks for the master
//! to send, and the slave's byte-identical append at a given offset followed by the same dispatch recovery
//! uses (consume queues + index), record by record as complete records arrive.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{Core, MessageStore};
use crate::ha::ReplicaError;
use crate::message::Arrival;
use crate::record::{self, RecordCheck};
use crate::StoreError;

impl MessageStore {
    /// Replication progress (`push2SlaveMaxOffset`, live slave connections).
    pub fn ha(&self) -> &crate::ha::HaState {
        &self.core().ha
    }

    /// `getConfirmOffset`: in controller mode, what the SyncStateSet has (docs/controller); in
    /// classic mode the max offset.
    pub fn confirm_offset(&self) -> i64 {
        self.core().confirm_offset()
    }

    /// Controller mode: dispatch into the consume queues (and the index) every record up to the
    /// confirm offset, announcing each to held pulls. Consume queues only ever hold what the
    /// whole SyncStateSet has (Java's reput stops at the confirm offset), so no reader sees a
    /// record a new master might not have. Called whenever the confirm offset may have moved;
    /// cheap when nothing is new.
    pub fn dispatch_confirmed(&self) {
        let core = self.core();
        if !core.config.controller_mode {
            return;
        }
        let limit = core.confirm_offset();
        if core.dispatched.load(Ordering::Acquire) >= limit {
            return;
        }
        let mut st = core.lock_or_poison(&core.put_lock, "put lock");
        if let Err(e) = core.dispatch_until(&mut st, limit.max(0) as u64) {
            tracing::error!(error = %e, "dispatch of confirmed records failed");
        }
        drop(st);
        // The slaves learn the new confirm offset from the next transfer header.
        core.replication_news();
    }

    /// Slave: the master's confirm offset arrived (every transfer header carries it): records
    /// up to it (capped at what this store has) become readable.
    pub fn master_confirmed(&self, offset: i64) {
        self.ha().replicas.set_confirm(offset.min(self.max_phy_offset()));
        self.dispatch_confirmed();
    }

    /// The controller confirmed the SyncStateSet `set` (master): the confirm offset is
    /// recomputed, what it now covers dispatched, and waiting puts re-check their acks.
    pub fn set_sync_state_set(&self, set: std::collections::BTreeSet<i64>) {
        let replicas = &self.ha().replicas;
        replicas.set_sync_state_set(set, self.ha(), self.max_phy_offset());
        self.dispatch_confirmed();
        replicas.wake_ack_waiters();
    }

    /// Controller mode: this store becomes the master of `epoch` (`AutoSwitchHAService.changeToMaster`):
    /// refused (false) for an epoch below the epoch file's last; otherwise connections of the
    /// old role end, an incomplete replicated record is cut, `(epoch, max offset)` is appended
    /// to the epoch file (replacing entries of this epoch or later, and an empty last one) and
    /// puts are taken as SYNC_MASTER.
    pub fn change_to_master(&self, epoch: i32) -> Result<bool, StoreError> {
        let replicas = &self.ha().replicas;
        if epoch < replicas.last_epoch() {
            tracing::warn!(
                epoch,
                last = replicas.last_epoch(),
                "not becoming master of an older epoch"
            );
            return Ok(false);
        }
        replicas.bump_generation();
        // Every complete record this store has is the group's history now: dispatch all of it
        // (as a slave it dispatched only what the old master confirmed), then cut what is left.
        {
            let core = self.core();
            let mut st = core.lock_or_poison(&core.put_lock, "put lock");
            let end = core.commit_log.max_offset();
            core.dispatch_until(&mut st, end)?;
        }
        if let Some(cut) = self.truncate_incomplete_tail()? {
            replicas.with_epochs(|e| e.truncate_suffix_by_offset(cut))?;
        }
        let max = self.max_phy_offset();
        replicas.with_epochs(|e| {
            e.truncate_suffix_by_epoch(epoch)?;
            // An epoch that never got a record has no range; the new one replaces it.
            e.truncate_suffix_by_offset(max)?;
            e.append(epoch, max)
        })?;
        self.set_role(crate::BrokerRole::SyncMaster);
        tracing::info!(epoch, start = max, "store is master");
        Ok(true)
    }

    /// Controller mode: this store becomes a slave in `epoch`; refused (false) for an epoch
    /// below the epoch file's last. The broker starts the HA client.
    pub fn change_to_slave(&self, epoch: i32) -> bool {
        let replicas = &self.ha().replicas;
        if epoch < replicas.last_epoch() {
            tracing::warn!(
                epoch,
                last = replicas.last_epoch(),
                "not becoming slave of an older epoch"
            );
            return false;
        }
        self.set_role(crate::BrokerRole::Slave);
        replicas.drop_lease();
        replicas.bump_generation();
        true
    }

    /// Up to `max_bytes` published commitlog bytes from `offset`, never crossing a segment end
    /// (one HA frame body). `None` when nothing is there yet.
    pub fn read_replication_chunk(&self, offset: i64, max_bytes: usize) -> Option<Bytes> {
        let core = self.core();
        let offset = u64::try_from(offset).ok()?;
        let f = core.commit_log.queue().find(offset)?;
        let data = f.slice_from(offset - f.start_offset())?;
        if data.is_empty() {
            return None;
        }
        Some(data.slice(..data.len().min(max_bytes)))
    }

    /// Slave: write `data` at commitlog offset `offset` (which must be the current max offset,
    /// or anything segment-aligned for an empty commitlog), creating segments as needed, then
    /// dispatch every record that is now complete into the consume queues and the index.
    pub fn append_replicated(&self, offset: i64, data: &[u8]) -> Result<(), ReplicaError> {
        self.core().append_raw(offset.max(0) as u64, data)
    }

    /// Cut the commitlog at `offset` and every consume-queue entry at or after it, while the
    /// store runs (a returning master dropping what its group never confirmed, controller
    /// mode). Readers holding the old bytes keep them (`MappedFileQueue::truncate_live`); the
    /// index keeps its entries, whose lookups find no record there or another key.
    pub fn truncate_files(&self, offset: i64) -> Result<(), StoreError> {
        let core = self.core();
        let offset = offset.max(0) as u64;
        let mut st = core.lock_or_poison(&core.put_lock, "put lock");
        let before = core.commit_log.max_offset();
        if offset >= before {
            return Ok(());
        }
        tracing::warn!(offset, max = before, "truncating the commitlog");
        core.commit_log.queue().truncate_live(offset)?;
        for cq in core.all_cqs() {
            cq.truncate_live(offset as i64)?;
            st.next_queue_offset
                .entry(cq.topic().to_string())
                .or_default()
                .insert(cq.queue_id(), cq.max_offset());
        }
        core.dispatched.fetch_min(offset as i64, Ordering::AcqRel);
        core.flush_progress.send_replace(crate::flush::FlushProgress {
            flushed: core.commit_log.queue().flushed_where(),
            failed: false,
        });
        Ok(())
    }

    /// Cut a record the last replicated frame left incomplete (Java's `truncateInvalidMsg`),
    /// before this store takes puts as a master. Returns the cut offset, if any.
    pub fn truncate_incomplete_tail(&self) -> Result<Option<i64>, StoreError> {
        let dispatched = self.dispatched_offset();
        if dispatched < self.max_phy_offset() {
            self.truncate_files(dispatched)?;
            return Ok(Some(dispatched));
        }
        Ok(None)
    }
}

impl Core {
    /// Wake the HA writers ([`MessageStore::subscribe_replication_news`]).
    pub(super) fn replication_news(&self) {
        self.replication_news.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn append_raw(&self, mut offset: u64, mut data: &[u8]) -> Result<(), ReplicaError> {
        if self.flags.load(Ordering::Acquire) & !super::flags::FENCED != 0 {
            return Err(ReplicaError::NotWritable);
        }
        let _dart = self.dart("replicated append");
        let mut st = self.lock_or_poison(&self.put_lock, "put lock");
        // Shutdown takes the put lock after setting its flag: re-check under the lock.
        if self.flags.load(Ordering::Acquire) & !super::flags::FENCED != 0 {
            return Err(ReplicaError::NotWritable);
        }
        let log = &self.commit_log;
        let size = log.file_size();
        let empty = log.queue().is_empty();
        let max = log.max_offset();
        if (empty && !offset.is_multiple_of(size)) || (!empty && offset != max) {
            return Err(ReplicaError::Discontinuous { offset, max });
        }
        while !data.is_empty() {
            let f = match log.queue().last() {
                Some(f) if !f.is_full() => f,
                Some(f) => log.queue().create(f.end_offset())?,
                None => log.queue().create(offset)?,
            };
            let pos = offset - f.start_offset();
            let n = data.len().min((size - pos) as usize);
            f.append_at(pos, &data[..n]).map_err(|source| StoreError::Io {
                path: f.path().to_path_buf(),
                source,
            })?;
            offset += n as u64;
            data = &data[n..];
        }
        self.replication_news();
        let limit = self.confirm_offset().max(0) as u64;
        Ok(self.dispatch_until(&mut st, limit)?)
    }

    /// `getConfirmOffset`: in controller mode, what the SyncStateSet has (docs/controller); in
    /// classic mode the max offset.
    pub(super) fn confirm_offset(&self) -> i64 {
        let max = self.commit_log.max_offset() as i64;
        if !self.config.controller_mode {
            return max;
        }
        let slave = self.role() == crate::BrokerRole::Slave
            || self.flags.load(Ordering::Acquire) & super::flags::FENCED != 0;
        self.ha.replicas.confirm_offset(&self.config, slave, max).min(max)
    }

    /// Dispatch complete records from `dispatched` up to `limit` (the commitlog end at most).
    /// Caller holds the put lock. A record cut by the end of the last frame, or one crossing
    /// `limit`, waits.
    pub(super) fn dispatch_until(&self, st: &mut super::PutState, limit: u64) -> Result<(), StoreError> {
        let log = &self.commit_log;
        let min = log.min_offset().unwrap_or(0);
        let mut off = (self.dispatched.load(Ordering::Acquire).max(0) as u64).max(min);
        let end = log.max_offset().min(limit);
        while off < end {
            let Some(f) = log.queue().find(off) else { break };
            let Some(data) = f.slice_from(off - f.start_offset()) else {
                break;
            };
            if is_incomplete(&data) {
                break;
            }
            match record::check(&data, false) {
                RecordCheck::Message(info) => {
                    if off + info.total_size as u64 > end {
                        break;
                    }
                    if let Err(e) = self.dispatch_recovered(off, &info) {
                        self.flags
                            .fetch_or(super::flags::CQ_WRITE_ERROR, Ordering::AcqRel);
                        return Err(e);
                    }
                    if record::sys_flag::enters_consume_queue(info.sys_flag) {
                        let topic = String::from_utf8_lossy(info.topic).into_owned();
                        // A master assigned queue offsets at put time already: never go back.
                        let next = st
                            .next_queue_offset
                            .entry(topic.clone())
                            .or_default()
                            .entry(info.queue_id)
                            .or_insert(0);
                        *next = (*next).max(info.queue_offset + 1);
                        let tags_code = record::dispatch_tags_code(
                            info.topic,
                            info.properties,
                            info.store_timestamp,
                            &self.delay_levels_ms,
                        );
                        // No receivers is fine: nobody is long-polling.
                        let _ = self.arrivals.send(Arrival {
                            topic: topic.into(),
                            queue_id: info.queue_id,
                            queue_offset: info.queue_offset,
                            tags_code,
                        });
                    }
                    self.last_store_ts
                        .fetch_max(info.store_timestamp, Ordering::AcqRel);
                    off += info.total_size as u64;
                }
                RecordCheck::Blank => off = f.end_offset(),
                RecordCheck::Invalid => {
                    tracing::error!(offset = off, "invalid replicated record; dispatch stops here");
                    break;
                }
            }
            self.dispatched.store(off as i64, Ordering::Release);
        }
        Ok(())
    }
}

/// True when `data` holds only the beginning of a message record (the rest is in a later frame).
fn is_incomplete(data: &[u8]) -> bool {
    if data.len() < 8 {
        return true;
    }
    let total = i32::from_be_bytes(data[0..4].try_into().expect("4 bytes"));
    let magic = i32::from_be_bytes(data[4..8].try_into().expect("4 bytes"));
    let message = magic == record::MESSAGE_MAGIC_CODE || magic == record::MESSAGE_MAGIC_CODE_V2;
    message && total > 0 && total as usize > data.len()
}
