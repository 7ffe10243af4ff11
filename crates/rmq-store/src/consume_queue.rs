//! `ConsumeQueue`: the per-(topic, queueId) index of 20-byte entries `(commitlog offset i64, record size i32,
//! tagsCode i64)` under `consumequeue/<topic>/<queueId>/` (docs/format/consume-queue.md#entry-layout). Entry
//! `n` is the message with queue offset `n`, at CQ byte `n × 20`.
//!
//! Writers: only the dispatcher, which runs under the store's put lock (or single-threaded
//! recovery). Readers: any thread, lock-free apart from the segment list `RwLock`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::IoContext;
use crate::mapped_file::{MappedFile, MappedFileQueue};
use crate::StoreError;

/// `CQ_STORE_UNIT_SIZE`.
pub const CQ_STORE_UNIT_SIZE: usize = 20;
const UNIT: u64 = CQ_STORE_UNIT_SIZE as u64;
const _: () = assert!(8 + 4 + 8 == CQ_STORE_UNIT_SIZE);

/// One consume-queue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    pub phy_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

impl CqEntry {
    /// `fillPreBlank` filler for positions before a queue's first real entry.
    pub const PRE_BLANK: CqEntry = CqEntry {
        phy_offset: 0,
        size: i32::MAX,
        tags_code: 0,
    };

    pub fn encode(&self) -> [u8; CQ_STORE_UNIT_SIZE] {
        let mut b = [0u8; CQ_STORE_UNIT_SIZE];
        b[..8].copy_from_slice(&self.phy_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    /// `b` must hold at least 20 bytes.
    pub fn decode(b: &[u8]) -> CqEntry {
        let i64_at = |p: usize| i64::from_be_bytes(b[p..p + 8].try_into().expect("8 bytes"));
        CqEntry {
            phy_offset: i64_at(0),
            size: i32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
            tags_code: i64_at(12),
        }
    }

    /// Java's validity test; scans stop at the first invalid (all-zero) entry.
    pub fn is_valid(&self) -> bool {
        self.phy_offset >= 0 && self.size > 0
    }

    pub fn is_pre_blank(&self) -> bool {
        *self == Self::PRE_BLANK
    }
}

/// One consume queue.
#[derive(Debug)]
pub struct ConsumeQueue {
    topic: Arc<str>,
    queue_id: i32,
    queue: MappedFileQueue,
    /// CQ byte offset of the first live entry.
    min_logic_offset: AtomicU64,
    /// End (offset + size) of the last dispatched commitlog record.
    max_phy_offset: AtomicI64,
    /// Serializes creating the first segment (which may run outside the store's put lock).
    first_segment: Mutex<()>,
    /// The first segment exists and is filled (set under `first_segment`).
    ready: AtomicBool,
}

impl ConsumeQueue {
    /// Open (or lazily create the directory of) `<cq_root>/<topic>/<queue_id>/`.
    pub fn load(
        cq_root: &Path,
        topic: Arc<str>,
        queue_id: i32,
        file_size: u64,
    ) -> Result<ConsumeQueue, StoreError> {
        let dir = cq_root.join(&*topic).join(queue_id.to_string());
        let queue = MappedFileQueue::load(dir, file_size)?;
        let min = queue.min_offset().unwrap_or(0);
        let min_exists = !queue.is_empty();
        Ok(ConsumeQueue {
            topic,
            queue_id,
            queue,
            min_logic_offset: AtomicU64::new(min),
            max_phy_offset: AtomicI64::new(0),
            first_segment: Mutex::new(()),
            ready: AtomicBool::new(min_exists),
        })
    }

    /// Has its first segment (set once `ensure_first_segment` or a load found one).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    /// Next queue offset to be written (0 = empty).
    pub fn max_offset(&self) -> i64 {
        (self.queue.max_offset() / UNIT) as i64
    }

    pub fn min_offset(&self) -> i64 {
        (self.min_logic_offset.load(Ordering::Acquire) / UNIT) as i64
    }

    /// End of the last commitlog record this queue indexes.
    pub fn max_phy_offset(&self) -> i64 {
        self.max_phy_offset.load(Ordering::Acquire)
    }

    /// Recovery step 1 (docs/format/checkpoint.md#recovery): scan from the third-to-last segment while
    /// entries are valid and cut everything after the last valid one.
    pub fn recover(&self) -> Result<(), StoreError> {
        let files = self.queue.files();
        if files.is_empty() {
            return Ok(());
        }
        let mut idx = files.len().saturating_sub(3);
        let mut max_phy = 0;
        let process = loop {
            let f = &files[idx];
            let (pos, last) = scan_valid(f, f.size(), i64::MAX);
            if let Some(end) = last {
                max_phy = end;
            }
            if pos < f.size() || idx + 1 == files.len() {
                break f.start_offset() + pos;
            }
            idx += 1;
        };
        self.queue.truncate_dirty(process)?;
        self.max_phy_offset.store(max_phy, Ordering::Release);
        Ok(())
    }

    /// Drop entries whose commitlog offset is `>= phy_end` (the commitlog was cut there).
    /// Recovery only (no reader yet).
    pub fn truncate_dirty(&self, phy_end: i64) -> Result<(), StoreError> {
        self.truncate_entries(phy_end, false)
    }

    /// `truncate_dirty` while the store runs: readers holding a segment keep its old bytes
    /// (`MappedFileQueue::truncate_live`). The caller holds the store's put lock.
    pub fn truncate_live(&self, phy_end: i64) -> Result<(), StoreError> {
        self.truncate_entries(phy_end, true)
    }

    fn truncate_entries(&self, phy_end: i64, live: bool) -> Result<(), StoreError> {
        let files = self.queue.files();
        let mut cut = files.first().map_or(0, |f| f.start_offset());
        let mut max_phy = 0;
        for f in files.iter().rev() {
            let first = f.slice(0, UNIT).map(|b| CqEntry::decode(&b));
            match first {
                Some(e) if e.is_valid() && (e.phy_offset < phy_end || e.is_pre_blank()) => {
                    let (pos, last) = scan_valid(f, f.wrote(), phy_end);
                    cut = f.start_offset() + pos;
                    max_phy = last.unwrap_or(0);
                    break;
                }
                _ => continue,
            }
        }
        if cut < self.queue.max_offset() {
            tracing::info!(topic = %self.topic, queue_id = self.queue_id, cut, "truncating dirty consume queue");
            if live {
                self.queue.truncate_live(cut)?;
            } else {
                self.queue.truncate_dirty(cut)?;
            }
        }
        self.max_phy_offset.store(max_phy, Ordering::Release);
        if self.queue.is_empty() {
            self.min_logic_offset.store(0, Ordering::Release);
        }
        Ok(())
    }

    /// `correctMinOffset`: the first entry pointing at or after the commitlog's min offset.
    /// Java looks only into the first segment and otherwise leaves the min alone; here, when
    /// every written entry points below `min_phy` (all its messages were cleaned up), the min
    /// becomes the write position, so GET_MIN_OFFSET and OFFSET_TOO_SMALL agree that nothing
    /// older than the next message can be read. The min never moves backwards.
    pub fn correct_min_offset(&self, min_phy: i64) {
        let floor = self.min_logic_offset.load(Ordering::Acquire);
        for f in self.queue.files() {
            let Some(data) = f.slice_from(0) else { continue };
            for (i, chunk) in data.chunks_exact(CQ_STORE_UNIT_SIZE).enumerate() {
                let e = CqEntry::decode(chunk);
                let at = f.start_offset() + (i * CQ_STORE_UNIT_SIZE) as u64;
                if at < floor {
                    continue;
                }
                if e.is_valid() && !e.is_pre_blank() && e.phy_offset >= min_phy {
                    self.min_logic_offset.store(at.max(floor), Ordering::Release);
                    return;
                }
            }
        }
        let end = self.queue.max_offset();
        if end > floor && self.max_phy_offset() <= min_phy && self.max_phy_offset() > 0 {
            self.min_logic_offset.store(end, Ordering::Release);
        }
    }

    /// `deleteExpiredFile`: delete the oldest segments (never the last) whose last entry points
    /// below the commitlog's `min_phy`, after moving the min offset past them. Returns how many
    /// segments went.
    pub fn delete_expired(&self, min_phy: i64) -> Result<usize, StoreError> {
        self.correct_min_offset(min_phy);
        let mut n = 0;
        loop {
            let files = self.queue.files();
            let Some(first) = files.first().filter(|_| files.len() > 1) else {
                break;
            };
            let last = first
                .slice(first.size() - UNIT, UNIT)
                .map(|b| CqEntry::decode(&b));
            let expired = matches!(last, Some(e) if e.phy_offset < min_phy);
            if !expired {
                break;
            }
            if !self.queue.remove_first(first)? {
                break;
            }
            tracing::info!(topic = %self.topic, queue_id = self.queue_id, path = %first.path().display(),
                "deleted expired consume queue segment");
            n += 1;
        }
        Ok(n)
    }

    /// Make sure the segment for the next entry (at `queue_offset`) exists, so that a full disk
    /// refuses a put before its commitlog record is written rather than after (a failed
    /// consume-queue write makes the store unwriteable). Creates only what the next put would
    /// create anyway. A batch that crosses into a new segment still creates that one mid-batch.
    pub fn reserve(&self, queue_offset: i64, entries: usize) -> Result<(), StoreError> {
        let f = match self.queue.last() {
            None => {
                self.ensure_first_segment(queue_offset.max(0))?;
                match self.queue.last() {
                    Some(f) => f,
                    None => return Ok(()),
                }
            }
            Some(f) if f.is_full() => self.queue.create(f.end_offset())?,
            Some(f) => f,
        };
        // Blocks for this put's entries (within this segment), so writing them cannot fail.
        let end = (f.wrote() + entries as u64 * UNIT).min(f.size());
        f.ensure_reserved(end).at(f.path())
    }

    /// First segment of an empty queue, for the entry at CQ byte `expected`.
    fn init_at(&self, expected: u64) -> Result<(), StoreError> {
        let file_size = self.queue.file_size();
        let start = expected - expected % file_size;
        self.queue.create(start)?;
        self.fill_pre_blank(start, expected)?;
        self.min_logic_offset.store(expected, Ordering::Release);
        Ok(())
    }

    /// Write the entry for the record with `queue_offset`. Idempotent: a record already indexed
    /// (by commitlog offset or by queue position) is skipped. Returns whether it was written.
    pub fn put(&self, entry: CqEntry, queue_offset: i64) -> Result<bool, StoreError> {
        if entry.phy_offset + entry.size as i64 <= self.max_phy_offset() {
            return Ok(false);
        }
        let expected = queue_offset as u64 * UNIT;
        if !self.ensure_first_segment(queue_offset)? {
            let cur = self.queue.max_offset();
            if expected < cur {
                tracing::warn!(topic = %self.topic, queue_id = self.queue_id, queue_offset,
                    "build consume queue repeatedly, skipped");
                return Ok(false);
            }
            if expected > cur {
                tracing::error!(topic = %self.topic, queue_id = self.queue_id, queue_offset,
                    expected_offset = cur / UNIT, "[BUG] consume queue gap, filling with blanks");
                self.fill_pre_blank(cur, expected)?;
            }
        }
        self.append(&entry.encode())?;
        self.max_phy_offset
            .store(entry.phy_offset + entry.size as i64, Ordering::Release);
        Ok(true)
    }

    /// Create the segment that will hold `queue_offset` if the queue has none yet (pre-blank
    /// entries before it, as Java). Returns whether it did. Cheap when the queue has segments;
    /// the store calls it before taking its put lock for a queue that is new, so that creating
    /// files does not stall unrelated sends.
    pub fn ensure_first_segment(&self, queue_offset: i64) -> Result<bool, StoreError> {
        if self.ready.load(Ordering::Acquire) && !self.queue.is_empty() {
            return Ok(false);
        }
        let _guard = self.first_segment.lock().unwrap_or_else(|p| p.into_inner());
        if !self.queue.is_empty() {
            self.ready.store(true, Ordering::Release);
            return Ok(false);
        }
        self.init_at(queue_offset as u64 * UNIT)?;
        self.ready.store(true, Ordering::Release);
        Ok(true)
    }

    fn fill_pre_blank(&self, from: u64, to: u64) -> Result<(), StoreError> {
        const CHUNK: usize = 4096;
        let unit = CqEntry::PRE_BLANK.encode();
        let buf: Vec<u8> = unit.iter().copied().cycle().take(CHUNK * UNIT as usize).collect();
        let mut at = from;
        while at < to {
            let n = ((to - at) / UNIT).min(CHUNK as u64) as usize;
            self.append(&buf[..n * CQ_STORE_UNIT_SIZE])?;
            at += (n * CQ_STORE_UNIT_SIZE) as u64;
        }
        Ok(())
    }

    /// Append whole entries at the current end, rolling to new segments as needed.
    fn append(&self, mut bytes: &[u8]) -> Result<(), StoreError> {
        while !bytes.is_empty() {
            let f = match self.queue.last() {
                Some(f) if !f.is_full() => f,
                Some(f) => self.queue.create(f.end_offset())?,
                None => self.queue.create(0)?,
            };
            let pos = f.wrote();
            let n = ((f.size() - pos) as usize).min(bytes.len());
            f.append_at(pos, &bytes[..n]).at(f.path())?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// The entry at `queue_offset`, if written.
    pub fn entry(&self, queue_offset: i64) -> Option<CqEntry> {
        let entries = self.entries_from(queue_offset, 1)?;
        entries.first().copied()
    }

    /// Up to `max` entries starting at `queue_offset`, from that entry's segment only.
    /// `None` when the segment is gone (deleted), `Some(empty)` when nothing is written there.
    pub fn entries_from(&self, queue_offset: i64, max: usize) -> Option<Vec<CqEntry>> {
        if queue_offset < 0 {
            return None;
        }
        let off = queue_offset as u64 * UNIT;
        let f = self.queue.find(off)?;
        let data = f.slice_from(off - f.start_offset())?;
        Some(
            data.chunks_exact(CQ_STORE_UNIT_SIZE)
                .take(max)
                .map(CqEntry::decode)
                .collect(),
        )
    }

    /// Queue offset of the first entry of the next segment (`rollNextFile` for OFFSET_FOUND_NULL).
    pub fn roll_next_file(&self, queue_offset: i64) -> i64 {
        let total = self.queue.file_size() / UNIT;
        queue_offset + total as i64 - queue_offset % total as i64
    }

    /// `getOffsetInQueueByTime` (docs/format/consume-queue.md#lookup-by-time), clamped to [min, max].
    pub fn offset_by_time(&self, ts: i64, min_phy: i64, store_ts: &dyn Fn(i64, i32) -> Option<i64>) -> i64 {
        let files = self.queue.files();
        let Some(f) = files.iter().find(|f| f.modified_ms() >= ts).or(files.last()) else {
            return 0;
        };
        let Some(data) = f.slice_from(0) else { return 0 };
        let min_logic = self.min_logic_offset.load(Ordering::Acquire);
        let unit = UNIT as i64;
        let mut low = min_logic.saturating_sub(f.start_offset()) as i64;
        let mut high = data.len() as i64 - unit;
        // (position, store time) of the nearest probes left and right of `ts`.
        let mut left: Option<(i64, i64)> = None;
        let mut right: Option<(i64, i64)> = None;
        let mut exact = None;
        while high >= low {
            let mid = (low + high) / (2 * unit) * unit;
            let e = CqEntry::decode(&data[mid as usize..]);
            if e.phy_offset < min_phy || e.is_pre_blank() {
                low = mid + unit;
                continue;
            }
            let Some(t) = store_ts(e.phy_offset, e.size) else {
                return 0;
            };
            match t.cmp(&ts) {
                std::cmp::Ordering::Equal => {
                    exact = Some(mid);
                    break;
                }
                std::cmp::Ordering::Greater => {
                    right = Some((mid, t));
                    high = mid - unit;
                }
                std::cmp::Ordering::Less => {
                    left = Some((mid, t));
                    low = mid + unit;
                }
            }
        }
        let pos = match (exact, left, right) {
            (Some(p), _, _) => p,
            (None, None, Some((r, _))) => r,
            (None, Some((l, _)), None) => l,
            (None, Some((l, lt)), Some((r, rt))) => {
                if (ts - lt).abs() > (rt - ts).abs() {
                    r
                } else {
                    l
                }
            }
            (None, None, None) => 0,
        };
        let off = (f.start_offset() as i64 + pos) / unit;
        off.clamp(self.min_offset(), self.max_offset())
    }

    /// Flush with the "least pages" rule.
    pub fn flush(&self, least_pages: usize) -> std::io::Result<u64> {
        self.queue.flush(least_pages)
    }

    /// Delete all files of this queue.
    pub fn destroy(&self) -> Result<(), StoreError> {
        self.queue.destroy()?;
        self.max_phy_offset.store(0, Ordering::Release);
        self.min_logic_offset.store(0, Ordering::Release);
        Ok(())
    }
}

/// Scan valid entries of `f` below `limit` bytes whose phy offset is `< phy_end` (pre-blank
/// entries always pass). Returns (position after the last passing entry, its phy end).
fn scan_valid(f: &MappedFile, limit: u64, phy_end: i64) -> (u64, Option<i64>) {
    let raw = &f.raw()[..limit.min(f.size()) as usize];
    let mut pos = 0u64;
    let mut last = None;
    for chunk in raw.chunks_exact(CQ_STORE_UNIT_SIZE) {
        let e = CqEntry::decode(chunk);
        if !e.is_valid() || (e.phy_offset >= phy_end && !e.is_pre_blank()) {
            break;
        }
        if !e.is_pre_blank() {
            last = Some(e.phy_offset + e.size as i64);
        }
        pos += UNIT;
    }
    (pos, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(phy: i64) -> CqEntry {
        CqEntry {
            phy_offset: phy,
            size: 100,
            tags_code: 7,
        }
    }

    #[test]
    fn put_read_recover_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::load(dir.path(), "T".into(), 0, 100).unwrap();
        for i in 0..12 {
            assert!(cq.put(e(i * 100), i).unwrap());
        }
        // duplicate by phy offset and by position
        assert!(!cq.put(e(500), 5).unwrap());
        assert_eq!(cq.max_offset(), 12);
        assert_eq!(cq.entry(7), Some(e(700)));
        // entries_from stays inside one 5-entry segment
        assert_eq!(cq.entries_from(6, 100).unwrap().len(), 4);
        assert_eq!(cq.roll_next_file(6), 10);
        drop(cq);
        let cq = ConsumeQueue::load(dir.path(), "T".into(), 0, 100).unwrap();
        cq.recover().unwrap();
        assert_eq!(cq.max_offset(), 12);
        assert_eq!(cq.max_phy_offset(), 1200);
        cq.truncate_dirty(450).unwrap();
        assert_eq!(cq.max_offset(), 5);
        assert_eq!(cq.max_phy_offset(), 500);
        assert!(cq.put(e(500), 5).unwrap());
        cq.correct_min_offset(250);
        assert_eq!(cq.min_offset(), 3);
    }

    #[test]
    fn first_write_at_nonzero_offset_fills_pre_blank() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::load(dir.path(), "T".into(), 1, 100).unwrap();
        assert!(cq.put(e(1000), 7).unwrap());
        assert_eq!(cq.min_offset(), 7);
        assert_eq!(cq.max_offset(), 8);
        assert_eq!(cq.entry(5), Some(CqEntry::PRE_BLANK));
        cq.recover().unwrap();
        assert_eq!(cq.max_offset(), 8);
        assert_eq!(cq.max_phy_offset(), 1100);
    }
}
