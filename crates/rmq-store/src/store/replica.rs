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
}

impl Core {
    fn append_raw(&self, mut offset: u64, mut data: &[u8]) -> Result<(), ReplicaError> {
        if self.flags.load(Ordering::Acquire) != 0 {
            return Err(ReplicaError::NotWritable);
        }
        let _dart = self.dart("replicated append");
        let mut st = self.lock_or_poison(&self.put_lock, "put lock");
        // Shutdown takes the put lock after setting its flag: re-check under the lock.
        if self.flags.load(Ordering::Acquire) != 0 {
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
        self.dispatch_replicated(&mut st)
    }

    /// Dispatch complete records from `dispatched` to the commitlog end. Caller holds the put
    /// lock. A record cut by the end of the last frame waits for the next one.
    fn dispatch_replicated(&self, st: &mut super::PutState) -> Result<(), ReplicaError> {
        let log = &self.commit_log;
        let min = log.min_offset().unwrap_or(0);
        let mut off = (self.dispatched.load(Ordering::Acquire).max(0) as u64).max(min);
        let end = log.max_offset();
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
                    self.dispatch_recovered(off, &info)?;
                    if record::sys_flag::enters_consume_queue(info.sys_flag) {
                        let topic = String::from_utf8_lossy(info.topic).into_owned();
                        st.next_queue_offset
                            .entry(topic.clone())
                            .or_default()
                            .insert(info.queue_id, info.queue_offset + 1);
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
                    self.last_store_ts.store(info.store_timestamp, Ordering::Release);
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
