//! IndexFile (docs/format/index-file.md): hash index from `topic#key` (UNIQ_KEY and each KEYS token) to
//! commitlog offsets, in files under `index/` named by creation time.
//!
//! Layout: 40-byte header, `slot_num` × i32 hash slots, `index_num` × 20-byte entries
//! `(keyHash i32, phyOffset i64, timeDiff s i32, prevIndex i32)`. Entry 0 is never used.
//! Writes (entry, then slot) are copies into the file's shared mapping under the put lock; slots
//! are read and written as aligned atomic i32s (queries run concurrently), entries are read only
//! below the published `index_count`. The header lives in memory (atomics) and is copied to the
//! mapping on flush, by the consume-queue flush thread, which does not take the put lock. A stale on-disk header is harmless: slots pointing past `index_count`
//! read as empty and the entries are overwritten.
//!
//! File names use UTC (Java uses local time); only their order matters.

#![allow(
    unsafe_code,
    reason = "the hash slots are atomics over the shared file mapping, entries are copied in and out of it, and released pages are madvised; each block says why it is sound"
)]

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use memmap2::{Advice, MmapRaw, UncheckedAdvice};

use crate::error::IoContext;
use crate::mapped_file::sync_dir;
use rmq_protocol::time::{civil_from_days, MS_PER_DAY};

use crate::record::{self, sys_flag};
use crate::StoreError;

pub const INDEX_HEADER_SIZE: usize = 40;
pub const HASH_SLOT_SIZE: usize = 4;
pub const INDEX_ENTRY_SIZE: usize = 20;
const _: () = assert!(8 + 8 + 8 + 8 + 4 + 4 == INDEX_HEADER_SIZE);
const _: () = assert!(4 + 8 + 4 + 4 == INDEX_ENTRY_SIZE);

pub const PROPERTY_KEYS: &str = "KEYS";
pub const PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: &str = "UNIQ_KEY";
/// `maxMsgsNumBatch`.
pub const MAX_MSGS_NUM_BATCH: usize = 64;

/// `abs(javaHash(key))`, 0 on overflow.
pub fn key_hash(key: &str) -> i32 {
    let h = record::java_hash(key);
    if h == i32::MIN {
        0
    } else {
        h.abs()
    }
}

#[derive(Debug)]
pub struct IndexFile {
    path: PathBuf,
    map: MmapRaw,
    /// For block reservation ahead of the entries being written.
    file: File,
    /// Bytes from the start with blocks allocated (header and slots at creation, entries in
    /// chunks ahead of the writer).
    reserved: AtomicU64,
    slot_num: u32,
    index_num: u32,
    begin_ts: AtomicI64,
    end_ts: AtomicI64,
    begin_phy: AtomicI64,
    end_phy: AtomicI64,
    slot_count: AtomicI32,
    index_count: AtomicI32,
    /// Flushed after becoming full.
    sealed: AtomicBool,
    /// `index_count` when the pages were last dropped from the mapping.
    released_at: AtomicI32,
}

/// Index entries get their blocks this many bytes at a time (52 428 entries).
const ENTRY_RESERVE_CHUNK: u64 = 1 << 20;

/// The mapping's pages are dropped (`release_pages`) after this many more entries: by the writer
/// itself and on the index flush tick (1 s).
const RELEASE_ENTRIES: i32 = 1 << 11;

impl IndexFile {
    pub fn file_size(slot_num: u32, index_num: u32) -> u64 {
        INDEX_HEADER_SIZE as u64
            + slot_num as u64 * HASH_SLOT_SIZE as u64
            + index_num as u64 * INDEX_ENTRY_SIZE as u64
    }

    fn create(
        path: PathBuf,
        slot_num: u32,
        index_num: u32,
        seed_phy: i64,
        seed_ts: i64,
    ) -> Result<IndexFile, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .at(&path)?;
        // Sparse length; blocks for the header, the slots and a first chunk of entries now, the
        // rest as entries are written (`reserve_entries`), so a full disk is an error, not SIGBUS.
        let head = Self::file_size(slot_num, 0);
        let first = (head + ENTRY_RESERVE_CHUNK).min(Self::file_size(slot_num, index_num));
        if let Err(e) = file
            .set_len(Self::file_size(slot_num, index_num))
            .and_then(|()| crate::disk::reserve_range(&file, 0, first))
        {
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(StoreError::Io { path, source: e });
        }
        let f = Self::map(path, file, slot_num, index_num)?;
        f.reserved.store(first, Ordering::Release);
        for a in [&f.begin_phy, &f.end_phy] {
            a.store(seed_phy, Ordering::Release);
        }
        for a in [&f.begin_ts, &f.end_ts] {
            a.store(seed_ts, Ordering::Release);
        }
        f.index_count.store(1, Ordering::Release);
        f.write_header().at(&f.path)?;
        Ok(f)
    }

    fn open(path: PathBuf, slot_num: u32, index_num: u32) -> Result<IndexFile, StoreError> {
        let file = OpenOptions::new().read(true).write(true).open(&path).at(&path)?;
        let actual = file.metadata().at(&path)?.len();
        let expected = Self::file_size(slot_num, index_num);
        if actual != expected {
            return Err(StoreError::SegmentSize {
                path,
                actual,
                expected,
            });
        }
        let f = Self::map(path, file, slot_num, index_num)?;
        let h = f.read_bytes::<INDEX_HEADER_SIZE>(0);
        let i64_at = |p: usize| i64::from_be_bytes(h[p..p + 8].try_into().expect("8 bytes"));
        let i32_at = |p: usize| i32::from_be_bytes(h[p..p + 4].try_into().expect("4 bytes"));
        f.begin_ts.store(i64_at(0), Ordering::Release);
        f.end_ts.store(i64_at(8), Ordering::Release);
        f.begin_phy.store(i64_at(16), Ordering::Release);
        f.end_phy.store(i64_at(24), Ordering::Release);
        f.slot_count.store(i32_at(32), Ordering::Release);
        f.index_count.store(i32_at(36).max(1), Ordering::Release);
        let full = f.is_full();
        f.sealed.store(full, Ordering::Release);
        Ok(f)
    }

    fn map(path: PathBuf, file: File, slot_num: u32, index_num: u32) -> Result<IndexFile, StoreError> {
        let map = MmapRaw::map_raw(&file).at(&path)?;
        // Slots and entries are scattered: a fault should bring in one page, not a read-ahead
        // window.
        map.advise(Advice::Random).at(&path)?;
        Ok(IndexFile {
            path,
            map,
            file,
            reserved: AtomicU64::new(0),
            slot_num,
            index_num,
            begin_ts: AtomicI64::new(0),
            end_ts: AtomicI64::new(0),
            begin_phy: AtomicI64::new(0),
            end_phy: AtomicI64::new(0),
            slot_count: AtomicI32::new(0),
            index_count: AtomicI32::new(1),
            sealed: AtomicBool::new(false),
            released_at: AtomicI32::new(0),
        })
    }

    pub fn end_ts(&self) -> i64 {
        self.end_ts.load(Ordering::Acquire)
    }
    pub fn end_phy(&self) -> i64 {
        self.end_phy.load(Ordering::Acquire)
    }
    pub fn is_full(&self) -> bool {
        self.index_count.load(Ordering::Acquire) as u32 >= self.index_num
    }

    fn slot_pos(&self, hash: i32) -> u64 {
        INDEX_HEADER_SIZE as u64 + (hash as u32 % self.slot_num) as u64 * HASH_SLOT_SIZE as u64
    }
    fn entry_pos(&self, idx: i32) -> u64 {
        INDEX_HEADER_SIZE as u64
            + self.slot_num as u64 * HASH_SLOT_SIZE as u64
            + idx as u64 * INDEX_ENTRY_SIZE as u64
    }
    /// Blocks for the file up to `end` (a chunk at a time). A file opened from disk starts at 0:
    /// its first call covers the header and slots too (already allocated: cheap).
    fn reserve_entries(&self, end: u64) -> io::Result<()> {
        let from = self.reserved.load(Ordering::Acquire);
        if end <= from {
            return Ok(());
        }
        let size = self.map.len() as u64;
        let to = end.max(from + ENTRY_RESERVE_CHUNK).min(size);
        crate::disk::reserve_range(&self.file, from, to - from)?;
        self.reserved.fetch_max(to, Ordering::AcqRel);
        Ok(())
    }

    /// The hash slot at `pos` (4-aligned: the header is 40 bytes, slots 4).
    fn slot(&self, pos: u64) -> &AtomicU32 {
        assert!(pos as usize + HASH_SLOT_SIZE <= self.map.len() && pos.is_multiple_of(4));
        // SAFETY: in bounds and aligned (asserted; the mapping is page-aligned); slots are only
        // ever accessed through this atomic view while the file is open.
        unsafe { &*(self.map.as_ptr().add(pos as usize) as *const AtomicU32) }
    }
    fn read_slot(&self, pos: u64) -> i32 {
        u32::from_be(self.slot(pos).load(Ordering::Acquire)) as i32
    }
    /// `N` bytes at `pos`: the header (no writer yet) or an entry below `index_count`, which
    /// is never written again.
    fn read_bytes<const N: usize>(&self, pos: usize) -> [u8; N] {
        assert!(pos + N <= self.map.len());
        let mut out = [0u8; N];
        // SAFETY: in bounds (asserted); no concurrent writer for these bytes (see above).
        unsafe { std::ptr::copy_nonoverlapping(self.map.as_ptr().add(pos), out.as_mut_ptr(), N) };
        out
    }
    /// Copy `bytes` to `pos`: either the entry at `index_count`, written by the put path (one
    /// writer: it holds the put lock) and read by nobody until `index_count` is published past
    /// it; or the 40-byte header, written by `write_header` before the file is in the service's
    /// list (creation) and afterwards only by `flush`, which runs on the consume-queue flush
    /// thread (`flush_index`) or at shutdown after that thread was joined, so by one thread at a
    /// time. The put path never writes the header, and the mapped header is only read when a
    /// file is loaded, before anyone else can see it.
    fn write_bytes(&self, pos: usize, bytes: &[u8]) {
        assert!(pos + bytes.len() <= self.map.len());
        // SAFETY: in bounds (asserted); each byte range has one writer at a time and no
        // concurrent reader (see above): the header is the flush thread's, entries the put
        // lock holder's. (Does not rely on the flush thread holding the put lock: it does not.)
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.map.as_mut_ptr().add(pos), bytes.len()) };
    }

    /// Insert one key (docs/format/index-file.md#layout). Single writer (put lock). Returns false if the file
    /// is full.
    fn put_key(&self, key: &str, phy: i64, store_ts: i64) -> io::Result<bool> {
        let count = self.index_count.load(Ordering::Acquire);
        if count as u32 >= self.index_num {
            return Ok(false);
        }
        self.reserve_entries(self.entry_pos(count) + INDEX_ENTRY_SIZE as u64)?;
        let hash = key_hash(key);
        let slot_pos = self.slot_pos(hash);
        let mut prev = self.read_slot(slot_pos);
        if prev <= 0 || prev > count {
            prev = 0;
        }
        let begin = self.begin_ts.load(Ordering::Acquire);
        let diff = if begin <= 0 {
            0
        } else {
            ((store_ts - begin) / 1000).clamp(0, i32::MAX as i64) as i32
        };
        let mut entry = [0u8; INDEX_ENTRY_SIZE];
        entry[..4].copy_from_slice(&hash.to_be_bytes());
        entry[4..12].copy_from_slice(&phy.to_be_bytes());
        entry[12..16].copy_from_slice(&diff.to_be_bytes());
        entry[16..].copy_from_slice(&prev.to_be_bytes());
        self.write_bytes(self.entry_pos(count) as usize, &entry);
        self.slot(slot_pos)
            .store((count as u32).to_be(), Ordering::Release);
        if count <= 1 {
            self.begin_phy.store(phy, Ordering::Release);
            self.begin_ts.store(store_ts, Ordering::Release);
        }
        if prev == 0 {
            self.slot_count.fetch_add(1, Ordering::AcqRel);
        }
        self.end_phy.store(phy, Ordering::Release);
        self.end_ts.store(store_ts, Ordering::Release);
        self.index_count.store(count + 1, Ordering::Release);
        // Random slot writes touch a new page per key: unmap them every RELEASE_ENTRIES keys
        // (one madvise per ~2 000 messages) so they do not accumulate in RSS between ticks.
        if (count + 1) % RELEASE_ENTRIES == 0 {
            self.release_pages();
        }
        Ok(true)
    }

    /// Follow the slot chain of `key` (docs/format/index-file.md#query), appending matching offsets to `out`.
    fn select(&self, key: &str, max: usize, begin: i64, end: i64, out: &mut Vec<i64>) {
        let begin_ts = self.begin_ts.load(Ordering::Acquire);
        if end < begin_ts || begin > self.end_ts() {
            return;
        }
        let count = self.index_count.load(Ordering::Acquire);
        let hash = key_hash(key);
        let mut idx = self.read_slot(self.slot_pos(hash));
        let mut steps = 0;
        while idx > 0 && idx < count && out.len() < max && steps < count {
            steps += 1;
            let p = self.entry_pos(idx) as usize;
            let e = self.read_bytes::<INDEX_ENTRY_SIZE>(p);
            let h = i32::from_be_bytes(e[..4].try_into().expect("4 bytes"));
            let phy = i64::from_be_bytes(e[4..12].try_into().expect("8 bytes"));
            let diff = i32::from_be_bytes(e[12..16].try_into().expect("4 bytes"));
            let prev = i32::from_be_bytes(e[16..].try_into().expect("4 bytes"));
            let t = begin_ts + diff as i64 * 1000;
            if h == hash && begin <= t && t <= end {
                out.push(phy);
            }
            if t < begin || prev <= 0 || prev >= count || prev == idx {
                break;
            }
            idx = prev;
        }
    }

    fn write_header(&self) -> io::Result<()> {
        let mut h = [0u8; INDEX_HEADER_SIZE];
        h[..8].copy_from_slice(&self.begin_ts.load(Ordering::Acquire).to_be_bytes());
        h[8..16].copy_from_slice(&self.end_ts().to_be_bytes());
        h[16..24].copy_from_slice(&self.begin_phy.load(Ordering::Acquire).to_be_bytes());
        h[24..32].copy_from_slice(&self.end_phy().to_be_bytes());
        h[32..36].copy_from_slice(&self.slot_count.load(Ordering::Acquire).to_be_bytes());
        h[36..].copy_from_slice(&self.index_count.load(Ordering::Acquire).to_be_bytes());
        self.write_bytes(0, &h);
        Ok(())
    }

    /// Unmap the file's pages from the process (they stay in the page cache, dirty ones too,
    /// and fault back in on the next access) once `RELEASE_ENTRIES` entries were added since the
    /// last time, so RSS does not keep every slot page the hash ever touched.
    fn release_pages(&self) {
        let count = self.index_count.load(Ordering::Acquire);
        if count - self.released_at.load(Ordering::Acquire) < RELEASE_ENTRIES {
            return;
        }
        // SAFETY: MADV_DONTNEED on a shared file mapping drops page-table entries only; the
        // bytes (including unflushed writes, and a concurrent writer's) stay in the page cache
        // and every later access sees them.
        let r = unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, 0, self.map.len())
        };
        match r {
            Ok(()) => self.released_at.store(count, Ordering::Release),
            Err(e) => tracing::debug!(error = %e, path = %self.path.display(), "madvise(DONTNEED) failed"),
        }
    }

    fn flush(&self) -> io::Result<()> {
        self.write_header()?;
        self.map.flush()
    }
}

/// `yyyyMMddHHmmssSSS` of an epoch-ms timestamp, in UTC.
pub fn index_file_name(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// The index files of a store.
#[derive(Debug)]
pub struct IndexService {
    dir: PathBuf,
    slot_num: u32,
    index_num: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
}

impl IndexService {
    /// Load `index/`. After an abnormal exit, files whose end timestamp is newer than the
    /// checkpoint's `indexMsgTimestamp` are deleted (their tail may be torn); the commitlog
    /// re-dispatch rebuilds what it can.
    pub fn load(
        dir: PathBuf,
        slot_num: u32,
        index_num: u32,
        last_exit_ok: bool,
        checkpoint_index_ts: i64,
    ) -> Result<IndexService, StoreError> {
        fs::create_dir_all(&dir).at(&dir)?;
        let mut names: Vec<PathBuf> = fs::read_dir(&dir)
            .at(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        let mut files = Vec::new();
        for path in names {
            let f = IndexFile::open(path.clone(), slot_num, index_num)?;
            if !last_exit_ok && f.end_ts() > checkpoint_index_ts {
                tracing::info!(path = %path.display(), "deleting index file newer than checkpoint");
                drop(f);
                fs::remove_file(&path).at(&path)?;
                continue;
            }
            files.push(Arc::new(f));
        }
        Ok(IndexService {
            dir,
            slot_num,
            index_num,
            files: RwLock::new(files),
        })
    }

    fn files(&self) -> Vec<Arc<IndexFile>> {
        self.files.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn writable_file(&self, now_ms: i64) -> Result<Arc<IndexFile>, StoreError> {
        let last = self.files().last().cloned();
        if let Some(f) = &last {
            if !f.is_full() {
                return Ok(f.clone());
            }
        }
        let (seed_phy, seed_ts) = last.as_ref().map_or((0, 0), |f| (f.end_phy(), f.end_ts()));
        let mut name_ms = now_ms;
        let mut path = self.dir.join(index_file_name(name_ms));
        while path.exists() {
            name_ms += 1;
            path = self.dir.join(index_file_name(name_ms));
        }
        let f = Arc::new(IndexFile::create(
            path,
            self.slot_num,
            self.index_num,
            seed_phy,
            seed_ts,
        )?);
        sync_dir(&self.dir)?;
        self.files
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(f.clone());
        Ok(f)
    }

    /// `buildIndex` for one record (docs/format/index-file.md#what-is-indexed). Caller holds the put lock
    /// (single writer).
    pub fn build(
        &self,
        topic: &str,
        properties: &[u8],
        phy: i64,
        store_ts: i64,
        flag: i32,
    ) -> Result<(), StoreError> {
        if sys_flag::transaction_type(flag) == sys_flag::TRANSACTION_ROLLBACK_TYPE {
            return Ok(());
        }
        if let Some(last) = self.files().last() {
            if phy < last.end_phy() {
                return Ok(());
            }
        }
        let uniq = record::property(properties, PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
        let keys = record::property(properties, PROPERTY_KEYS);
        let tokens = uniq
            .into_iter()
            .chain(keys.into_iter().flat_map(|k| k.split(|&b| b == b' ')))
            .filter(|k| !k.is_empty());
        for k in tokens {
            let key = format!("{topic}#{}", String::from_utf8_lossy(k));
            let mut tries = 0;
            loop {
                let f = match self.writable_file(store_ts) {
                    Ok(f) => f,
                    // A full disk must not make the store unwriteable for good: the message is
                    // stored and consumable, only its keys stay unindexed.
                    Err(StoreError::Io { source, path }) if crate::disk::is_out_of_space(&source) => {
                        tracing::warn!(path = %path.display(), phy, "no space for a new index file; message keys not indexed");
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                if f.put_key(&key, phy, store_ts).at(&f.path)? {
                    break;
                }
                tries += 1;
                if tries > 2 {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Delete the oldest index files (never the last) whose end phy offset is below the
    /// commitlog's `min_phy` (`IndexService.deleteExpiredFile`). Returns how many went.
    pub fn delete_expired(&self, min_phy: i64) -> Result<usize, StoreError> {
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        while files.len() > 1 && files[0].end_phy() < min_phy {
            let f = files.remove(0);
            fs::remove_file(&f.path).at(&f.path)?;
            tracing::info!(path = %f.path.display(), "deleted expired index file");
            n += 1;
        }
        Ok(n)
    }

    /// Number of index files.
    pub fn file_count(&self) -> usize {
        self.files.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Commitlog offsets for `topic#key` with index time in `[begin, end]`, newest files first.
    /// Also returns the newest file's end timestamp and end phy offset.
    pub fn query(&self, topic: &str, key: &str, max: usize, begin: i64, end: i64) -> (Vec<i64>, i64, i64) {
        let max = max.min(MAX_MSGS_NUM_BATCH);
        let files = self.files();
        let (last_ts, last_phy) = files.last().map_or((0, 0), |f| (f.end_ts(), f.end_phy()));
        let full_key = format!("{topic}#{key}");
        let mut out = Vec::new();
        for f in files.iter().rev() {
            f.select(&full_key, max, begin, end, &mut out);
            if out.len() >= max || f.begin_ts.load(Ordering::Acquire) < begin {
                break;
            }
        }
        (out, last_ts, last_phy)
    }

    /// Flush files that became full, returning the newest such file's end timestamp for the
    /// checkpoint's `indexMsgTimestamp`. With `all`, also flush the current file.
    pub fn flush(&self, all: bool) -> io::Result<Option<i64>> {
        let mut index_ts = None;
        for f in self.files() {
            if f.is_full() && !f.sealed.load(Ordering::Acquire) {
                f.flush()?;
                f.sealed.store(true, Ordering::Release);
                index_ts = Some(f.end_ts());
            } else if all && !f.sealed.load(Ordering::Acquire) {
                // Not full: flushed, but the checkpoint must not vouch for it, since entries
                // will be added after the on-disk header (Java advances the index timestamp
                // only for full files, too).
                f.flush()?;
            }
            f.release_pages();
        }
        Ok(index_ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_utc_timestamps() {
        assert_eq!(index_file_name(0), "19700101000000000");
        assert_eq!(index_file_name(1_700_000_000_123), "20231114221320123");
    }

    #[test]
    fn put_query_roll_reload() {
        let dir = tempfile::tempdir().unwrap();
        let svc = IndexService::load(dir.path().join("index"), 7, 5, true, 0).unwrap();
        let props = b"UNIQ_KEY\x01U1\x02KEYS\x01k1 k2";
        svc.build("T", props, 100, 1_000_000, 0).unwrap();
        svc.build("T", b"KEYS\x01k1", 200, 1_002_000, 0).unwrap();
        // already indexed offset is skipped
        svc.build("T", b"KEYS\x01k1", 150, 1_002_000, 0).unwrap();
        // rolls to a second file (5 entries per file, entry 0 unused)
        svc.build("T", b"KEYS\x01k1", 300, 1_003_000, 0).unwrap();
        assert_eq!(svc.files().len(), 2);
        let (mut hits, last_ts, last_phy) = svc.query("T", "k1", 32, 0, i64::MAX);
        hits.sort();
        assert_eq!(hits, [100, 200, 300]);
        assert_eq!((last_ts, last_phy), (1_003_000, 300));
        assert_eq!(svc.query("T", "U1", 32, 0, i64::MAX).0, [100]);
        assert!(svc.query("T", "k1", 32, 1_002_500, 1_002_600).0.is_empty());
        assert_eq!(svc.flush(true).unwrap(), Some(1_002_000));
        assert_eq!(svc.flush(true).unwrap(), None);
        drop(svc);
        let svc = IndexService::load(dir.path().join("index"), 7, 5, true, 0).unwrap();
        assert_eq!(svc.query("T", "k2", 32, 0, i64::MAX).0, [100]);
        drop(svc);
        // abnormal exit with an old checkpoint: the newer file is dropped
        let svc = IndexService::load(dir.path().join("index"), 7, 5, false, 1_002_000).unwrap();
        assert_eq!(svc.files().len(), 1);
    }
}
