//! `MappedFile` (one fixed-size segment) and `MappedFileQueue` (a directory of segments named by
//! the 20-digit offset of their first byte), shared by the commitlog and the consume queues.
//!
//! Each segment has two shared mappings of the same pages. The single writer (the caller's lock)
//! copies appended bytes straight into a read/write mapping beyond the published `wrote`
//! position (no syscall per message, as Java's `MappedByteBuffer` appends); that mapping is
//! `MADV_RANDOM`, so a write fault populates one page instead of a whole read-ahead window (8 MiB
//! on some disks: zero-filling it per fault costs more than the write). Readers get zero-copy
//! `Bytes` from a read-only mapping with the kernel's default read-ahead, always bounded by
//! `wrote`, so a reader's slice and the writer's destination never overlap. Invariant: bytes below a segment's published `wrote` position never change while the
//! store is open (recovery truncates before any reader exists), so slices handed out stay valid.
//! Flushing is `msync` of the dirty range. Flushed whole pages are then dropped from both mappings
//! (`MADV_DONTNEED`, in steps of at least `RELEASE_STEP`): they stay in the page cache, readers
//! and the writer fault them back in from it, but the process does not keep every page it ever
//! wrote or served mapped (which is what RSS counts).

#![allow(
    unsafe_code,
    reason = "mapping segment files and madvise on them; each block says why it is sound"
)]

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use memmap2::{Advice, Mmap, MmapRaw, UncheckedAdvice};

use crate::error::IoContext;
use crate::StoreError;

/// `MappedFile.OS_PAGE_SIZE`: unit of the "least pages" flush thresholds.
pub const OS_PAGE_SIZE: u64 = 4096;

/// Flushed pages are unmapped from the process in steps of at least this many bytes.
const RELEASE_STEP: u64 = 4 << 20;

/// Suffix of a segment being created.
const TMP_SUFFIX: &str = ".tmp";

/// `UtilAll.offset2FileName`.
pub fn file_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// One segment file of exactly `size` bytes.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    file: File,
    start_offset: u64,
    size: u64,
    /// The write mapping (raw pointer) and flushes.
    map: MmapRaw,
    /// The read-only mapping, and the same as `Bytes`, which readers' zero-copy slices are cut
    /// from.
    read: Arc<Mmap>,
    data: Bytes,
    /// Pages below this offset have been dropped from both mappings after a flush.
    released: AtomicU64,
    /// Bytes appended (readers see up to here).
    wrote: AtomicU64,
    /// Bytes known to be on disk.
    flushed: AtomicU64,
    /// Created since the last directory sync: the first flush syncs the directory too.
    dir_unsynced: AtomicBool,
    /// Bytes from the segment's start known to have blocks allocated (`ensure_reserved`).
    reserved: AtomicU64,
}

/// How far ahead of the writer a segment's blocks are allocated: 1/64 of the segment, within
/// [64 KiB, 16 MiB] (16 MiB for a 1 GiB commitlog segment, ~90 KiB for a consume queue file).
fn reserve_chunk(size: u64) -> u64 {
    (size / 64).clamp(64 << 10, 16 << 20).min(size)
}

impl MappedFile {
    /// Create a new segment (zero-filled). It is sized as `<name>.tmp` and renamed into place, so
    /// a crash of the process can never leave a segment of the wrong length (which would make
    /// the next open fail); stale `.tmp` files are removed at load. Nothing is fsynced here (this
    /// runs on the put path): the segment's first flush also syncs its directory, so a segment is
    /// durable (name and length) before any position inside it is reported flushed.
    pub fn create(dir: &Path, start_offset: u64, size: u64) -> Result<MappedFile, StoreError> {
        let path = dir.join(file_name(start_offset));
        let tmp = dir.join(format!("{}{TMP_SUFFIX}", file_name(start_offset)));
        let file = open_tmp(&tmp)?;
        // Sparse length, then real blocks for the first chunk: a full disk must fail here or in
        // `ensure_reserved`, never as SIGBUS on a store into the mapping (see `disk`).
        if let Err(e) = file
            .set_len(size)
            .and_then(|()| crate::disk::reserve_range(&file, 0, reserve_chunk(size)))
        {
            drop(file);
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::Io { path: tmp, source: e });
        }
        if path.exists() {
            return Err(StoreError::Io {
                path,
                source: io::Error::from(io::ErrorKind::AlreadyExists),
            });
        }
        fs::rename(&tmp, &path).at(&path)?;
        let f = Self::map(path, file, start_offset, size, 0)?;
        f.dir_unsynced.store(true, Ordering::Release);
        f.reserved.store(reserve_chunk(size), Ordering::Release);
        Ok(f)
    }

    /// Open an existing segment; its length must equal `size` (Java refuses to start otherwise).
    /// All positions start at `size`; recovery corrects the last segments.
    pub fn open(path: PathBuf, start_offset: u64, size: u64) -> Result<MappedFile, StoreError> {
        let file = OpenOptions::new().read(true).write(true).open(&path).at(&path)?;
        let actual = file.metadata().at(&path)?.len();
        if actual != size {
            return Err(StoreError::SegmentSize {
                path,
                actual,
                expected: size,
            });
        }
        Self::map(path, file, start_offset, size, size)
    }

    fn map(
        path: PathBuf,
        file: File,
        start_offset: u64,
        size: u64,
        pos: u64,
    ) -> Result<MappedFile, StoreError> {
        // The mapping is private to this store (the `lock` file keeps other rmq processes out).
        // Bytes under it change only (a) beyond `wrote`, where no reader looks, through
        // `append_at`, and (b) during recovery, before any reader exists. The file is never
        // shrunk while the store runs.
        let map = MmapRaw::map_raw(&file).at(&path)?;
        map.advise(Advice::Random).at(&path)?;
        // SAFETY: as above: no byte a reader can see through this mapping changes.
        let read = Arc::new(unsafe { Mmap::map(&file) }.at(&path)?);
        Ok(MappedFile {
            path,
            file,
            start_offset,
            size,
            data: Bytes::from_owner(ReadMap(read.clone())),
            read,
            released: AtomicU64::new(0),
            map,
            wrote: AtomicU64::new(pos),
            flushed: AtomicU64::new(pos),
            dir_unsynced: AtomicBool::new(false),
            reserved: AtomicU64::new(0),
        })
    }

    /// Read-ahead of the read mapping: `random` is `MADV_RANDOM` (no read-ahead; Java's
    /// `dataReadAheadEnable=false`), else `MADV_NORMAL`.
    pub fn set_read_ahead(&self, random: bool) -> io::Result<()> {
        self.read
            .advise(if random { Advice::Random } else { Advice::Normal })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn start_offset(&self) -> u64 {
        self.start_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn end_offset(&self) -> u64 {
        self.start_offset + self.size
    }
    pub fn wrote(&self) -> u64 {
        self.wrote.load(Ordering::Acquire)
    }
    pub fn flushed(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }
    pub fn is_full(&self) -> bool {
        self.wrote() >= self.size
    }

    /// Write `bytes` at `pos` and publish `wrote = pos + len`. Only one writer per segment at a
    /// time (the caller's lock guarantees it); `pos` must be the current `wrote`.
    pub fn append_at(&self, pos: u64, bytes: &[u8]) -> io::Result<()> {
        if pos != self.wrote() || pos + bytes.len() as u64 > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "append of {} bytes at {pos} in a segment written to {} of {}",
                    bytes.len(),
                    self.wrote(),
                    self.size
                ),
            ));
        }
        self.ensure_reserved(pos + bytes.len() as u64)?;
        // SAFETY: `[pos, pos + len)` lies inside the mapping (checked above) and at or beyond
        // `wrote`, so no reader holds a slice over it (readers are bounded by `wrote`, which is
        // published only after the copy), and the caller's lock makes this the only writer.
        // The mapping lives as long as `self.map`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.map.as_mut_ptr().add(pos as usize),
                bytes.len(),
            );
        }
        self.wrote.store(pos + bytes.len() as u64, Ordering::Release);
        Ok(())
    }

    /// Make sure bytes `[0, end)` have blocks allocated (in chunks ahead, see `reserve_chunk`),
    /// so a store into the mapping there cannot fault for lack of space. `ENOSPC` is returned
    /// as an error with nothing written. Called by the single writer.
    pub fn ensure_reserved(&self, end: u64) -> io::Result<()> {
        let from = self.reserved.load(Ordering::Acquire);
        if end <= from {
            return Ok(());
        }
        let to = end.max(from + reserve_chunk(self.size)).min(self.size);
        crate::disk::reserve_range(&self.file, from, to - from)?;
        self.reserved.fetch_max(to, Ordering::AcqRel);
        Ok(())
    }

    /// Mark the rest of the segment as used (after the end-of-file blank).
    pub fn mark_full(&self) {
        self.wrote.store(self.size, Ordering::Release);
    }

    /// Zero-copy slice of published bytes `[pos, pos+len)`.
    pub fn slice(&self, pos: u64, len: u64) -> Option<Bytes> {
        let end = pos.checked_add(len)?;
        (end <= self.wrote()).then(|| self.data.slice(pos as usize..end as usize))
    }

    /// Published bytes from `pos` to `wrote`.
    pub fn slice_from(&self, pos: u64) -> Option<Bytes> {
        let w = self.wrote();
        (pos <= w).then(|| self.data.slice(pos as usize..w as usize))
    }

    /// All mapped bytes, published or not. Recovery only.
    pub fn raw(&self) -> &[u8] {
        &self.data
    }

    /// fsync if at least `least_pages` dirty pages (0 = any dirty byte; a full segment always
    /// qualifies). Returns the flushed position. A failure is fatal to the store.
    pub fn flush(&self, least_pages: usize) -> io::Result<u64> {
        let w = self.wrote();
        let f = self.flushed();
        if w <= f {
            return Ok(f);
        }
        if least_pages > 0
            && w < self.size
            && (w / OS_PAGE_SIZE).saturating_sub(f / OS_PAGE_SIZE) < least_pages as u64
        {
            return Ok(f);
        }
        self.map.flush_range(f as usize, (w - f) as usize)?;
        if self.dir_unsynced.swap(false, Ordering::AcqRel) {
            if let Some(dir) = self.path.parent() {
                if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
                    self.dir_unsynced.store(true, Ordering::Release);
                    return Err(e);
                }
            }
        }
        self.flushed.store(w, Ordering::Release);
        self.release_pages(w);
        Ok(w)
    }

    /// Drop the whole pages below `flushed` from both mappings (see the module docs).
    fn release_pages(&self, flushed: u64) {
        let floor = flushed / OS_PAGE_SIZE * OS_PAGE_SIZE;
        let from = self.released.load(Ordering::Acquire);
        if floor < from + RELEASE_STEP && floor < self.size {
            return;
        }
        let len = (floor - from) as usize;
        // SAFETY: MADV_DONTNEED on a shared file mapping only unmaps the pages: the next access
        // faults in the same bytes from the page cache (dirty pages are kept there), so a reader
        // holding a slice over the range sees no change. The range is flushed, below `wrote`,
        // and never written again.
        let r = unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, from as usize, len)
                .and_then(|()| {
                    self.read
                        .unchecked_advise_range(UncheckedAdvice::DontNeed, from as usize, len)
                })
        };
        match r {
            Ok(()) => self.released.store(floor, Ordering::Release),
            Err(e) => tracing::debug!(error = %e, path = %self.path.display(), "madvise(DONTNEED) failed"),
        }
    }

    /// Drop every flushed page from both mappings, including pages readers faulted in again
    /// after `release_pages` (consumers reading old messages). Called about once a second for
    /// the commitlog, whose read mapping is what pulls touch.
    pub fn release_read_pages(&self) {
        let floor = self.flushed() / OS_PAGE_SIZE * OS_PAGE_SIZE;
        if floor == 0 {
            return;
        }
        // SAFETY: as in `release_pages`: flushed bytes below `wrote` never change, and dropping
        // their page-table entries only makes the next access fault them in from the page cache.
        let r = unsafe {
            self.read
                .unchecked_advise_range(UncheckedAdvice::DontNeed, 0, floor as usize)
                .and_then(|()| {
                    self.map
                        .unchecked_advise_range(UncheckedAdvice::DontNeed, 0, floor as usize)
                })
        };
        match r {
            Ok(()) => {
                self.released.fetch_max(floor, Ordering::AcqRel);
            }
            Err(e) => tracing::debug!(error = %e, path = %self.path.display(), "madvise(DONTNEED) failed"),
        }
    }

    /// Cut the segment at `pos`: everything after it becomes zeros (ftruncate down and back up,
    /// so a later recovery can never mistake stale bytes for records). Recovery only.
    pub fn truncate_tail(&self, pos: u64) -> Result<(), StoreError> {
        if pos < self.size {
            self.file.set_len(pos).at(&self.path)?;
            self.file.set_len(self.size).at(&self.path)?;
            self.file.sync_all().at(&self.path)?;
        }
        self.wrote.store(pos, Ordering::Release);
        self.flushed.store(pos, Ordering::Release);
        Ok(())
    }

    /// A copy of this segment holding only its first `pos` bytes, put in its place on disk
    /// (`<name>.tmp` written and fsynced, then renamed over it). Readers of `self` keep the old
    /// mapping, whose bytes never change; the returned segment is written up to `pos`.
    /// For truncation while the store runs (a returning master cutting its unconfirmed tail).
    pub fn copy_prefix(&self, pos: u64) -> Result<MappedFile, StoreError> {
        use std::os::unix::fs::FileExt;
        let pos = pos.min(self.wrote());
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
        let file = open_tmp(&tmp)?;
        file.set_len(self.size).at(&tmp)?;
        file.write_all_at(&self.data[..pos as usize], 0).at(&tmp)?;
        file.sync_all().at(&tmp)?;
        fs::rename(&tmp, &self.path).at(&self.path)?;
        sync_dir(dir)?;
        Self::map(self.path.clone(), file, self.start_offset, self.size, pos)
    }

    /// Modification time in epoch ms (used by lookup-by-time, docs/format/consume-queue.md#lookup-by-time).
    pub fn modified_ms(&self) -> i64 {
        self.file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A new (or emptied) `<name>.tmp` beside a segment, read-write; renamed into place once filled.
fn open_tmp(tmp: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .at(tmp)
}

/// `Bytes` owner of a segment's read mapping.
struct ReadMap(Arc<Mmap>);

impl AsRef<[u8]> for ReadMap {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// The segments of one commitlog or one consume queue, ordered by start offset.
#[derive(Debug)]
pub struct MappedFileQueue {
    dir: PathBuf,
    file_size: u64,
    files: RwLock<Vec<Arc<MappedFile>>>,
    /// Everything below this offset is on disk.
    flushed_where: AtomicU64,
    /// Reads without read-ahead (`MADV_RANDOM`) on every segment, new ones included.
    random_reads: AtomicBool,
}

impl MappedFileQueue {
    /// Load all segments of `dir` (created if missing). Every segment must be `file_size` bytes.
    pub fn load(dir: PathBuf, file_size: u64) -> Result<MappedFileQueue, StoreError> {
        fs::create_dir_all(&dir).at(&dir)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).at(&dir)? {
            let entry = entry.at(&dir)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            match name.parse::<u64>() {
                Ok(start) if name.len() == 20 => names.push((start, entry.path())),
                _ if name.len() == 20 + TMP_SUFFIX.len() && name.ends_with(TMP_SUFFIX) => {
                    tracing::info!(path = %entry.path().display(), "removing half-created segment");
                    fs::remove_file(entry.path()).at(&entry.path())?;
                }
                _ => tracing::warn!(path = %entry.path().display(), "ignoring non-segment file"),
            }
        }
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        for (start, path) in names {
            if start % file_size != 0 {
                tracing::warn!(path = %path.display(), "[BUG] segment offset not a multiple of the size");
            }
            files.push(Arc::new(MappedFile::open(path, start, file_size)?));
        }
        for pair in files.windows(2) {
            if pair[0].end_offset() != pair[1].start_offset() {
                tracing::error!(
                    first = %pair[0].path().display(),
                    second = %pair[1].path().display(),
                    "[BUG] segments are not adjacent"
                );
            }
        }
        let flushed = files.last().map_or(0, |f| f.end_offset());
        Ok(MappedFileQueue {
            dir,
            file_size,
            files: RwLock::new(files),
            flushed_where: AtomicU64::new(flushed),
            random_reads: AtomicBool::new(false),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.write().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot of the segment list.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        self.read().clone()
    }
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.read().first().cloned()
    }
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.read().last().cloned()
    }

    /// The segment containing `offset` (Java's index arithmetic with a linear fallback).
    pub fn find(&self, offset: u64) -> Option<Arc<MappedFile>> {
        let files = self.read();
        let first = files.first()?;
        if offset < first.start_offset() {
            return None;
        }
        let idx = (offset / self.file_size - first.start_offset() / self.file_size) as usize;
        if let Some(f) = files.get(idx) {
            if f.start_offset() <= offset && offset < f.end_offset() {
                return Some(f.clone());
            }
        }
        files
            .iter()
            .find(|f| f.start_offset() <= offset && offset < f.end_offset())
            .cloned()
    }

    /// Append a new segment starting at `start` (must be the end of the last one, or any
    /// multiple of the size for an empty queue).
    pub fn create(&self, start: u64) -> Result<Arc<MappedFile>, StoreError> {
        let f = Arc::new(MappedFile::create(&self.dir, start, self.file_size)?);
        if self.random_reads.load(Ordering::Acquire) {
            f.set_read_ahead(true).at(f.path())?;
        }
        let mut files = self.write();
        if files.is_empty() {
            self.flushed_where.store(start, Ordering::Release);
        }
        files.push(f.clone());
        Ok(f)
    }

    /// Sets the read-ahead of every segment, and of those created later (Java's
    /// `scanFileAndSetReadMode`). Returns how many segments changed.
    pub fn set_read_ahead(&self, random: bool) -> Result<usize, StoreError> {
        self.random_reads.store(random, Ordering::Release);
        let files = self.files();
        for f in &files {
            f.set_read_ahead(random).at(f.path())?;
        }
        Ok(files.len())
    }

    /// Whether reads go without read-ahead.
    pub fn random_reads(&self) -> bool {
        self.random_reads.load(Ordering::Acquire)
    }

    /// First byte offset (`None` when empty).
    pub fn min_offset(&self) -> Option<u64> {
        self.first().map(|f| f.start_offset())
    }

    /// Next byte to write (0 when empty).
    pub fn max_offset(&self) -> u64 {
        self.last().map_or(0, |f| f.start_offset() + f.wrote())
    }

    pub fn flushed_where(&self) -> u64 {
        self.flushed_where.load(Ordering::Acquire)
    }

    /// Flush from the segment holding `flushed_where` onwards. Returns the new `flushed_where`.
    pub fn flush(&self, least_pages: usize) -> io::Result<u64> {
        let files = self.files();
        let mut fw = self.flushed_where();
        let start = files.iter().position(|f| fw < f.end_offset());
        if let Some(start) = start {
            for f in &files[start..] {
                let flushed = f.flush(least_pages)?;
                fw = fw.max(f.start_offset() + flushed);
                if flushed < f.size() {
                    break;
                }
            }
        }
        self.flushed_where.store(fw, Ordering::Release);
        Ok(fw)
    }

    /// Drop everything at and after `offset`: the containing segment is cut (tail zeroed), later
    /// segments are deleted. Recovery and dirty-CQ truncation only (single-threaded).
    pub fn truncate_dirty(&self, offset: u64) -> Result<(), StoreError> {
        let mut files = self.write();
        let mut keep = Vec::with_capacity(files.len());
        for f in files.drain(..) {
            if f.end_offset() <= offset {
                keep.push(f);
            } else if f.start_offset() <= offset {
                f.truncate_tail(offset - f.start_offset())?;
                keep.push(f);
            } else {
                tracing::info!(path = %f.path().display(), "deleting dirty segment");
                fs::remove_file(f.path()).at(f.path())?;
            }
        }
        *files = keep;
        let fw = files.last().map_or(0, |f| f.start_offset() + f.wrote());
        self.flushed_where.store(fw, Ordering::Release);
        drop(files);
        sync_dir(&self.dir)
    }

    /// Drop everything at and after `offset` while the store runs: later segments are unlinked
    /// (a reader holding one keeps its mapping), the segment holding `offset` is replaced by a
    /// copy of its prefix (`MappedFile::copy_prefix`), so no byte a reader can see changes.
    /// The caller stops every writer of this queue first.
    pub fn truncate_live(&self, offset: u64) -> Result<(), StoreError> {
        let mut files = self.write();
        let mut keep = Vec::with_capacity(files.len());
        for f in files.drain(..) {
            if f.start_offset() + f.wrote() <= offset {
                keep.push(f);
            } else if f.start_offset() < offset {
                tracing::info!(path = %f.path().display(), offset, "truncating segment");
                let copy = f.copy_prefix(offset - f.start_offset())?;
                if self.random_reads.load(Ordering::Acquire) {
                    copy.set_read_ahead(true).at(copy.path())?;
                }
                keep.push(Arc::new(copy));
            } else {
                tracing::info!(path = %f.path().display(), "deleting truncated segment");
                fs::remove_file(f.path()).at(f.path())?;
            }
        }
        *files = keep;
        let fw = files.last().map_or(offset, |f| f.start_offset() + f.flushed());
        self.flushed_where.store(fw, Ordering::Release);
        drop(files);
        sync_dir(&self.dir)
    }

    /// Unlink `f` if it is still the first segment and not the last one (cleanup, storage.md
    /// docs/store/cleanup.md). Readers holding the segment (or `Bytes` of it) keep their mapping; the blocks
    /// are freed when the last of them is dropped. Returns whether it was removed.
    pub fn remove_first(&self, f: &Arc<MappedFile>) -> Result<bool, StoreError> {
        let mut files = self.write();
        if files.len() < 2 || !Arc::ptr_eq(&files[0], f) {
            return Ok(false);
        }
        fs::remove_file(f.path()).at(f.path())?;
        files.remove(0);
        Ok(true)
    }

    /// Delete every segment and the directory.
    pub fn destroy(&self) -> Result<(), StoreError> {
        let mut files = self.write();
        files.clear();
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io {
                path: self.dir.clone(),
                source: e,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_flush_truncate_reload() {
        let dir = tempfile::tempdir().unwrap();
        let q = MappedFileQueue::load(dir.path().join("q"), 4096).unwrap();
        assert!(q.is_empty());
        let f = q.create(0).unwrap();
        f.append_at(0, b"abcdef").unwrap();
        assert_eq!(q.max_offset(), 6);
        assert_eq!(&f.slice(1, 3).unwrap()[..], b"bcd");
        assert!(f.slice(4, 3).is_none());
        assert_eq!(q.flush(0).unwrap(), 6);
        f.mark_full();
        let g = q.create(4096).unwrap();
        g.append_at(0, b"xyz").unwrap();
        assert_eq!(q.find(4097).unwrap().start_offset(), 4096);
        assert_eq!(q.flush(0).unwrap(), 4099);
        q.truncate_dirty(3).unwrap();
        assert_eq!(q.files().len(), 1);
        assert_eq!(q.max_offset(), 3);
        assert_eq!(&q.first().unwrap().raw()[..8], b"abc\0\0\0\0\0");
        drop(q);
        let q = MappedFileQueue::load(dir.path().join("q"), 4096).unwrap();
        assert_eq!(q.files().len(), 1);
        assert_eq!(file_name(4096), "00000000000000004096");
        assert!(MappedFileQueue::load(dir.path().join("q"), 8192).is_err());
    }

    #[test]
    fn released_pages_read_back_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let size = 4 * RELEASE_STEP;
        let q = MappedFileQueue::load(dir.path().join("q"), size).unwrap();
        let f = q.create(0).unwrap();
        let chunk: Vec<u8> = (0..=255u8).cycle().take(4096 + 17).collect();
        let mut pos = 0;
        while pos + (chunk.len() as u64) < 2 * RELEASE_STEP {
            f.append_at(pos, &chunk).unwrap();
            pos += chunk.len() as u64;
        }
        let held = f.slice(0, pos).unwrap();
        assert_eq!(f.flush(0).unwrap(), pos);
        assert!(
            f.released.load(Ordering::Acquire) >= RELEASE_STEP,
            "pages were released"
        );
        // A slice taken before the release, one taken after, and appends into the partly
        // released page all see the same bytes.
        for (i, b) in held.iter().enumerate() {
            assert_eq!(*b, chunk[i % chunk.len()], "held slice byte {i}");
        }
        assert_eq!(f.slice(0, pos).unwrap(), held);
        f.append_at(pos, b"tail").unwrap();
        assert_eq!(&f.slice(pos, 4).unwrap()[..], b"tail");
        drop(q);
        let raw = std::fs::read(dir.path().join("q").join(file_name(0))).unwrap();
        assert_eq!(&raw[..pos as usize], &held[..]);
        assert_eq!(&raw[pos as usize..pos as usize + 4], b"tail");
    }

    #[test]
    fn blocks_are_reserved_in_chunks_ahead_of_the_writer() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let size = 16 << 20;
        let chunk = reserve_chunk(size);
        assert_eq!(chunk, 256 << 10);
        let q = MappedFileQueue::load(dir.path().join("q"), size).unwrap();
        let f = q.create(0).unwrap();
        let allocated = || std::fs::metadata(f.path()).unwrap().blocks() * 512;
        assert!(
            allocated() >= chunk && allocated() < size / 2,
            "first chunk only: {}",
            allocated()
        );
        let data = vec![7u8; (chunk + chunk / 2) as usize];
        f.append_at(0, &data).unwrap();
        assert!(
            allocated() >= 2 * chunk,
            "the next chunk before the write: {}",
            allocated()
        );
        assert!(f.reserved.load(Ordering::Acquire) >= data.len() as u64);
        assert_eq!(&f.slice(0, data.len() as u64).unwrap()[..], &data[..]);
    }
}
