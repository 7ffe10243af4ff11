//! The epoch file of controller mode (`storePathEpochFile`, Java's `EpochFileCache` and
//! `CheckpointFile`; docs/controller/java-reference.md, section 4.3).
//!
//! Each master epoch a broker has written under starts at a commitlog offset; the list of
//! `(epoch, startOffset)` says which epoch wrote which range. Two replicas compare their lists to
//! find the last offset they agree on (the *consistent point*) and the one behind truncates
//! everything after it: that is how an old master that comes back drops the tail its group never
//! confirmed.
//!
//! The file is Java's, byte for byte: the entry count, the CRC32 (masked to 31 bits) of the entry
//! lines, then one `epoch-startOffset` line per entry, `\n`-separated. Before a write the previous
//! content goes to `<path>.bak`; a main file that does not parse, has the wrong count or CRC, or
//! is empty is read from `.bak` instead. rmq writes the main file through a temp file and a rename
//! (Java overwrites in place), so a crash leaves the old or the new file, never half of one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, StoreError};

/// One epoch's range: `[start_offset, end_offset)`; the last entry ends at `i64::MAX` until a
/// caller sets its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
    pub end_offset: i64,
}

impl EpochEntry {
    pub fn new(epoch: i32, start_offset: i64) -> Self {
        Self {
            epoch,
            start_offset,
            end_offset: i64::MAX,
        }
    }
}

/// The entries in memory and the file behind them (`None`: memory only, for comparisons of
/// lists received over the wire).
#[derive(Debug, Clone, Default)]
pub struct EpochCache {
    path: Option<PathBuf>,
    entries: BTreeMap<i32, EpochEntry>,
}

impl EpochCache {
    /// Loads `path` (or its `.bak`); a file that does not exist is an empty list.
    pub fn open(path: &Path) -> Result<EpochCache, StoreError> {
        let mut list = read(path).unwrap_or_default();
        if list.is_empty() {
            list = read(&bak(path)).unwrap_or_default();
        }
        let mut cache = EpochCache {
            path: Some(path.to_path_buf()),
            entries: BTreeMap::new(),
        };
        cache.set_entries(list);
        Ok(cache)
    }

    /// A list not backed by a file.
    pub fn from_entries(list: impl IntoIterator<Item = (i32, i64)>) -> EpochCache {
        let mut cache = EpochCache::default();
        cache.set_entries(list.into_iter().map(|(e, s)| EpochEntry::new(e, s)).collect());
        cache
    }

    fn set_entries(&mut self, list: Vec<EpochEntry>) {
        self.entries.clear();
        for e in list {
            self.entries
                .insert(e.epoch, EpochEntry::new(e.epoch, e.start_offset));
        }
        self.chain_ends();
    }

    /// Each entry ends where the next starts; the last is open.
    fn chain_ends(&mut self) {
        let starts: Vec<i64> = self.entries.values().map(|e| e.start_offset).collect();
        for (i, e) in self.entries.values_mut().enumerate() {
            e.end_offset = starts.get(i + 1).copied().unwrap_or(i64::MAX);
        }
    }

    /// Adds the entry of a new epoch; refused (false, nothing written) unless both its epoch and
    /// its start offset are above the last entry's.
    pub fn append(&mut self, epoch: i32, start_offset: i64) -> Result<bool, StoreError> {
        if let Some(last) = self.last() {
            if last.epoch >= epoch || last.start_offset >= start_offset {
                return Ok(false);
            }
        }
        self.entries.insert(epoch, EpochEntry::new(epoch, start_offset));
        self.chain_ends();
        self.flush()?;
        Ok(true)
    }

    /// Sets the last entry's end (the store's max offset), when it is not below its start.
    pub fn set_last_end_offset(&mut self, end_offset: i64) {
        if let Some(last) = self.entries.values_mut().next_back() {
            if last.start_offset <= end_offset {
                last.end_offset = end_offset;
            }
        }
    }

    pub fn first(&self) -> Option<EpochEntry> {
        self.entries.values().next().copied()
    }

    pub fn last(&self) -> Option<EpochEntry> {
        self.entries.values().next_back().copied()
    }

    /// The last epoch, -1 when there is none.
    pub fn last_epoch(&self) -> i32 {
        self.last().map_or(-1, |e| e.epoch)
    }

    pub fn entry(&self, epoch: i32) -> Option<EpochEntry> {
        self.entries.get(&epoch).copied()
    }

    /// The entry whose range holds `offset`.
    pub fn find_by_offset(&self, offset: i64) -> Option<EpochEntry> {
        self.entries
            .values()
            .find(|e| e.start_offset <= offset && e.end_offset > offset)
            .copied()
    }

    /// The first entry after `epoch`.
    pub fn next_after(&self, epoch: i32) -> Option<EpochEntry> {
        self.entries
            .range(epoch.saturating_add(1)..)
            .next()
            .map(|(_, e)| *e)
    }

    pub fn entries(&self) -> Vec<EpochEntry> {
        self.entries.values().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last offset both lists agree on: from the highest local epoch down, the first epoch
    /// `other` has with the same start offset gives the smaller of the two ends; -1 when none.
    pub fn find_consistent_point(&self, other: &EpochCache) -> i64 {
        self.entries
            .values()
            .rev()
            .find_map(|local| {
                other
                    .entry(local.epoch)
                    .filter(|o| o.start_offset == local.start_offset)
                    .map(|o| local.end_offset.min(o.end_offset))
            })
            .unwrap_or(-1)
    }

    /// Drops the entries of `epoch` and later.
    pub fn truncate_suffix_by_epoch(&mut self, epoch: i32) -> Result<(), StoreError> {
        self.entries.retain(|e, _| *e < epoch);
        self.after_suffix_truncation()
    }

    /// Drops the entries that start at or after `offset`.
    pub fn truncate_suffix_by_offset(&mut self, offset: i64) -> Result<(), StoreError> {
        self.entries.retain(|_, e| e.start_offset < offset);
        self.after_suffix_truncation()
    }

    /// The last remaining entry is open again (Java leaves its old end in memory until a
    /// reload; rmq does not).
    fn after_suffix_truncation(&mut self) -> Result<(), StoreError> {
        if let Some(last) = self.entries.values_mut().next_back() {
            last.end_offset = i64::MAX;
        }
        self.flush()
    }

    /// Drops the entries that end at or before `offset` (commitlog files deleted below it).
    pub fn truncate_prefix_by_offset(&mut self, offset: i64) -> Result<(), StoreError> {
        self.entries.retain(|_, e| e.end_offset > offset);
        self.flush()
    }

    /// Writes the file: the old content to `.bak`, the new through a temp file. An empty list is
    /// never written (Java's rule: the file keeps the last non-empty list).
    fn flush(&self) -> Result<(), StoreError> {
        let Some(path) = &self.path else { return Ok(()) };
        if self.entries.is_empty() {
            return Ok(());
        }
        if let Ok(old) = std::fs::read(path) {
            write_synced(&bak(path), &old)?;
        }
        write_synced(path, encode(&self.entries()).as_bytes())
    }
}

fn bak(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).at(&tmp)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).at(&tmp)?;
    std::fs::rename(&tmp, path).at(path)
}

/// Java's `UtilAll.crc32`: CRC32 masked to 31 bits.
fn crc(bytes: &[u8]) -> i32 {
    (crc32fast::hash(bytes) & 0x7FFF_FFFF) as i32
}

/// The file text of `entries`.
pub fn encode(entries: &[EpochEntry]) -> String {
    let lines: String = entries
        .iter()
        .map(|e| format!("{}-{}\n", e.epoch, e.start_offset))
        .collect();
    format!("{}\n{}\n{lines}", entries.len(), crc(lines.as_bytes()))
}

/// The entries of a file's text; `None` when it does not check (count, CRC unless 0, numbers).
pub fn decode(text: &str) -> Option<Vec<EpochEntry>> {
    let mut lines = text.lines();
    let count: usize = lines.next()?.trim().parse().ok()?;
    let expected: i32 = lines.next()?.trim().parse().ok()?;
    let mut body = String::new();
    let mut out = Vec::new();
    for line in lines {
        body.push_str(line);
        body.push('\n');
        let mut parts = line.split('-');
        if let (Some(e), Some(s), None) = (parts.next(), parts.next(), parts.next()) {
            out.push(EpochEntry::new(e.trim().parse().ok()?, s.trim().parse().ok()?));
        }
    }
    (out.len() == count && (expected == 0 || crc(body.as_bytes()) == expected)).then_some(out)
}

fn read(path: &Path) -> Option<Vec<EpochEntry>> {
    decode(&std::fs::read_to_string(path).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Java's `EpochFileCacheTest` setup: (1,100), (2,300), (3,500).
    fn java_cache(dir: &Path) -> EpochCache {
        let mut c = EpochCache::open(&dir.join("epochFileCheckpoint")).unwrap();
        assert!(c.append(1, 100).unwrap());
        assert!(c.append(2, 300).unwrap());
        assert!(c.append(3, 500).unwrap());
        assert_eq!(
            c.entry(2),
            Some(EpochEntry {
                epoch: 2,
                start_offset: 300,
                end_offset: 500
            })
        );
        c
    }

    #[test]
    fn java_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = java_cache(dir.path());
        // testInitFromFile
        let reread = EpochCache::open(&dir.path().join("epochFileCheckpoint")).unwrap();
        assert_eq!(
            reread.entry(2),
            Some(EpochEntry {
                epoch: 2,
                start_offset: 300,
                end_offset: 500
            })
        );
        assert_eq!(reread.last_epoch(), 3);
        // testFindEpochEntryByOffset
        assert_eq!(
            c.find_by_offset(350)
                .map(|e| (e.epoch, e.start_offset, e.end_offset)),
            Some((2, 300, 500))
        );
        // testFindConsistentPointSample1: the other replica's epoch 3 started at 450
        let other = EpochCache::from_entries([(1, 100), (2, 300), (3, 450)]);
        assert_eq!(c.find_consistent_point(&other), 450);
        // Sample2: same starts, ends 700 and 600
        let mut other = EpochCache::from_entries([(1, 100), (2, 300), (3, 500)]);
        c.set_last_end_offset(700);
        other.set_last_end_offset(600);
        assert_eq!(c.find_consistent_point(&other), 600);
        // Sample3: no epoch with the same start
        let other = EpochCache::from_entries([(1, 200), (2, 500)]);
        assert_eq!(c.find_consistent_point(&other), -1);
        // Sample4: the other has a later epoch 4; compared from its side
        let other = EpochCache::from_entries([(1, 100), (2, 300), (3, 500), (4, 800)]);
        assert_eq!(other.find_consistent_point(&c), 700);
        // testTruncate
        c.truncate_suffix_by_offset(150).unwrap();
        assert!(c.entry(1).is_some() && c.entry(2).is_none());
        assert_eq!(c.last().unwrap().end_offset, i64::MAX);
        let reread = EpochCache::open(&dir.path().join("epochFileCheckpoint")).unwrap();
        assert_eq!(reread.entries().len(), 1);
    }

    #[test]
    fn append_rules_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = java_cache(dir.path());
        assert!(!c.append(3, 900).unwrap(), "same epoch");
        assert!(!c.append(4, 500).unwrap(), "same start");
        assert!(c.append(5, 900).unwrap());
        assert_eq!(c.next_after(3).map(|e| e.epoch), Some(5));
        c.truncate_suffix_by_epoch(3).unwrap();
        assert_eq!(c.last_epoch(), 2);
        c.truncate_prefix_by_offset(300).unwrap();
        assert_eq!(c.first().map(|e| e.epoch), Some(2));
        assert_eq!(EpochCache::from_entries([]).last_epoch(), -1);
    }

    #[test]
    fn file_format_and_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("epochFileCheckpoint");
        let mut c = java_cache(dir.path());
        // Java's bytes: count, masked CRC32 of the lines, the lines.
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = "1-100\n2-300\n3-500\n";
        assert_eq!(
            text,
            format!(
                "3\n{}\n{lines}",
                (crc32fast::hash(lines.as_bytes()) & 0x7FFF_FFFF)
            )
        );
        // A CRC of 0 is not checked (Java's NOT_CHECK_CRC_MAGIC_CODE).
        assert_eq!(decode("1\n0\n7-70\n").unwrap(), vec![EpochEntry::new(7, 70)]);
        // A damaged main file falls back to .bak (the list before the last write).
        c.append(4, 800).unwrap();
        std::fs::write(&path, "4\n12345\n1-100\n").unwrap();
        let reread = EpochCache::open(&path).unwrap();
        assert_eq!(reread.last_epoch(), 3);
        // Nothing at all: empty.
        assert!(EpochCache::open(&dir.path().join("none")).unwrap().is_empty());
    }
}
