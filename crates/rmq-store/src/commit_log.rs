//! `CommitLog`: the sequence of fixed-size segments under `commitlog/` holding every record
//! (docs/format/commitlog.md), with space reservation for the append path, reads, and the recovery scans
//! of docs/format/checkpoint.md#recovery.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::mapped_file::{MappedFile, MappedFileQueue};
use crate::record::{self, RecordCheck, RecordView, END_FILE_MIN_BLANK_LENGTH};
use crate::StoreError;

/// Why space could not be reserved.
#[derive(Debug)]
pub enum ReserveError {
    /// The records cannot fit into even an empty segment.
    TooLarge,
    Io(StoreError),
}

#[derive(Debug)]
pub struct CommitLog {
    queue: MappedFileQueue,
}

impl CommitLog {
    pub fn load(dir: PathBuf, file_size: u64) -> Result<CommitLog, StoreError> {
        Ok(CommitLog {
            queue: MappedFileQueue::load(dir, file_size)?,
        })
    }

    pub fn queue(&self) -> &MappedFileQueue {
        &self.queue
    }

    pub fn file_size(&self) -> u64 {
        self.queue.file_size()
    }

    /// Next byte to write.
    pub fn max_offset(&self) -> u64 {
        self.queue.max_offset()
    }

    /// First byte still on disk, `None` when there is no segment.
    pub fn min_offset(&self) -> Option<u64> {
        self.queue.min_offset()
    }

    /// `rollNextFile`: start of the segment after the one holding `offset`.
    pub fn roll_next_file(&self, offset: u64) -> u64 {
        let size = self.file_size();
        offset + size - offset % size
    }

    /// Find room for `len` contiguous bytes. If they don't fit in the current segment with at least 8 bytes
    /// to spare, end it with a blank record (docs/format/commitlog.md#end-of-file-blank) and start the next
    /// one. Caller holds the put lock.
    pub fn reserve(&self, len: usize) -> Result<(Arc<MappedFile>, u64), ReserveError> {
        let size = self.file_size();
        if (len + END_FILE_MIN_BLANK_LENGTH) as u64 > size {
            return Err(ReserveError::TooLarge);
        }
        let f = match self.queue.last() {
            Some(f) if !f.is_full() => f,
            Some(f) => self.queue.create(f.end_offset()).map_err(ReserveError::Io)?,
            None => self.queue.create(0).map_err(ReserveError::Io)?,
        };
        let pos = f.wrote();
        let max_blank = size - pos;
        if (len + END_FILE_MIN_BLANK_LENGTH) as u64 <= max_blank {
            return Ok((f, pos));
        }
        if max_blank >= END_FILE_MIN_BLANK_LENGTH as u64 {
            f.append_at(pos, &record::blank(max_blank as usize))
                .map_err(|source| {
                    ReserveError::Io(StoreError::Io {
                        path: f.path().to_path_buf(),
                        source,
                    })
                })?;
        }
        f.mark_full();
        let next = self.queue.create(f.end_offset()).map_err(ReserveError::Io)?;
        Ok((next, 0))
    }

    /// `size` published bytes at `offset`, zero-copy.
    pub fn read(&self, offset: i64, size: i32) -> Option<Bytes> {
        if offset < 0 || size <= 0 {
            return None;
        }
        let f = self.queue.find(offset as u64)?;
        f.slice(offset as u64 - f.start_offset(), size as u64)
    }

    /// The whole message record starting at `offset` (validated framing, no CRC check).
    pub fn read_record(&self, offset: i64) -> Option<Bytes> {
        if offset < 0 {
            return None;
        }
        let f = self.queue.find(offset as u64)?;
        let data = f.slice_from(offset as u64 - f.start_offset())?;
        match record::check(&data, false) {
            RecordCheck::Message(info) => Some(data.slice(..info.total_size)),
            _ => None,
        }
    }

    /// STORETIMESTAMP of the record at `offset` (`pickupStoreTimestamp`).
    pub fn store_timestamp(&self, offset: i64, size: i32) -> Option<i64> {
        let rec = self.read(offset, size)?;
        let flag = record::read_i32(&rec, record::pos::SYS_FLAG)?;
        record::read_i64(&rec, record::store_timestamp_pos(flag))
    }

    /// Abnormal recovery start (docs/format/checkpoint.md#recovery): the newest segment whose first record is
    /// a message with a non-zero store timestamp `<= min_ts`; segment 0 if none.
    pub fn abnormal_start_index(&self, min_ts: i64) -> usize {
        let files = self.queue.files();
        for (idx, f) in files.iter().enumerate().rev() {
            let raw = f.raw();
            let is_message = matches!(
                record::read_i32(raw, record::pos::MAGIC),
                Some(record::MESSAGE_MAGIC_CODE | record::MESSAGE_MAGIC_CODE_V2)
            );
            let ts = record::read_i32(raw, record::pos::SYS_FLAG)
                .and_then(|flag| record::read_i64(raw, record::store_timestamp_pos(flag)));
            let Some(ts) = ts.filter(|_| is_message) else {
                continue;
            };
            if ts != 0 && ts <= min_ts {
                return idx;
            }
        }
        0
    }

    /// Start offset of segment `idx`.
    pub fn segment_start(&self, idx: usize) -> u64 {
        self.queue.files().get(idx).map_or(0, |f| f.start_offset())
    }

    /// Scan from segment `start_idx` to the end of the last valid record (CRC checked when
    /// `check_crc`). A blank ends a segment; anything invalid ends the log.
    pub fn recover_end(&self, start_idx: usize, check_crc: bool) -> u64 {
        let files = self.queue.files();
        let Some(mut f) = files.get(start_idx) else {
            return self.queue.max_offset();
        };
        let mut idx = start_idx;
        let mut pos = 0u64;
        loop {
            let raw = f.raw();
            match record::check(&raw[pos as usize..], check_crc) {
                RecordCheck::Message(info) if info.physical_offset == (f.start_offset() + pos) as i64 => {
                    pos += info.total_size as u64;
                }
                RecordCheck::Blank => {
                    idx += 1;
                    match files.get(idx) {
                        Some(next) => {
                            f = next;
                            pos = 0;
                        }
                        None => return f.end_offset(),
                    }
                }
                _ => return f.start_offset() + pos,
            }
        }
    }

    /// Cut the log at `offset` (tail zeroed, later segments deleted).
    pub fn truncate_dirty(&self, offset: u64) -> Result<(), StoreError> {
        self.queue.truncate_dirty(offset)
    }

    /// Visit every message record in `[from, to)` (framing checked, no CRC), following blanks
    /// to the next segment. Returns where the scan stopped.
    pub fn for_each_record(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(u64, &RecordView<'_>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut off = from;
        while off < to {
            let Some(f) = self.queue.find(off) else { break };
            let Some(data) = f.slice_from(off - f.start_offset()) else {
                break;
            };
            match record::check(&data, false) {
                RecordCheck::Message(info) => {
                    visit(off, &info)?;
                    off += info.total_size as u64;
                }
                RecordCheck::Blank => off = f.end_offset(),
                RecordCheck::Invalid => {
                    tracing::warn!(offset = off, "invalid record while dispatching; stopping");
                    break;
                }
            }
        }
        Ok(off)
    }

    /// Flush (see `MappedFileQueue::flush`).
    pub fn flush(&self, least_pages: usize) -> std::io::Result<u64> {
        self.queue.flush(least_pages)
    }
}
