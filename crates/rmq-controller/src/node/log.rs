//! A file of records, `[u32 length][u32 crc32][JSON]` (big-endian), each append `fsync`ed: the
//! controller's Raft log and metadata sit on it.
//!
//! A record is on disk before the request it belongs to is answered. A crash in the middle of an
//! append leaves a torn or corrupt last record, whose request was never answered: opening the
//! file stops at the first record that does not check and cuts the file there (logged).
//! Rewriting (Raft's truncate and purge) goes through a temp file and a rename.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::NodeError;

/// Longest record accepted when reading.
const MAX_RECORD: u32 = 64 << 20;

/// An open record file of `T`.
pub struct RecordFile<T> {
    path: PathBuf,
    file: File,
    _t: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> RecordFile<T> {
    /// Opens (or creates) `path` and reads its good records.
    pub fn open(path: &Path) -> Result<(RecordFile<T>, Vec<T>), NodeError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| NodeError::io(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| NodeError::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| NodeError::io(path, e))?;
        let mut records = Vec::new();
        let mut pos = 0usize;
        while let Some((record, next)) = record_at(&bytes, pos) {
            records.push(record);
            pos = next;
        }
        if pos < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                kept = records.len(),
                cut_bytes = bytes.len() - pos,
                "the last record is torn or corrupt (a crash during an append); cutting it"
            );
            file.set_len(pos as u64).map_err(|e| NodeError::io(path, e))?;
            file.sync_all().map_err(|e| NodeError::io(path, e))?;
            file.seek(SeekFrom::End(0)).map_err(|e| NodeError::io(path, e))?;
        }
        let rf = RecordFile {
            path: path.to_path_buf(),
            file,
            _t: PhantomData,
        };
        Ok((rf, records))
    }

    /// Appends `records` and syncs them to disk.
    pub fn append<'a>(&mut self, records: impl IntoIterator<Item = &'a T>) -> Result<(), NodeError>
    where
        T: 'a,
    {
        let buf = encode(records)?;
        if buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| NodeError::io(&self.path, e))
    }

    /// Replaces the whole file with `records` (a temp file, synced, renamed over it).
    pub fn rewrite<'a>(&mut self, records: impl IntoIterator<Item = &'a T>) -> Result<(), NodeError>
    where
        T: 'a,
    {
        let buf = encode(records)?;
        let tmp = self.path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(|e| NodeError::io(&tmp, e))?;
        f.write_all(&buf)
            .and_then(|()| f.sync_all())
            .map_err(|e| NodeError::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| NodeError::io(&self.path, e))?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| NodeError::io(&self.path, e))?;
        Ok(())
    }
}

fn encode<'a, T: Serialize + 'a>(records: impl IntoIterator<Item = &'a T>) -> Result<Vec<u8>, NodeError> {
    let mut buf = Vec::new();
    for record in records {
        let json = serde_json::to_vec(record).map_err(NodeError::Encode)?;
        buf.extend_from_slice(&(json.len() as u32).to_be_bytes());
        buf.extend_from_slice(&crc32fast::hash(&json).to_be_bytes());
        buf.extend_from_slice(&json);
    }
    Ok(buf)
}

/// The record at `pos` and where the next one starts; `None` at the end or at a bad record.
fn record_at<T: DeserializeOwned>(bytes: &[u8], pos: usize) -> Option<(T, usize)> {
    let head = bytes.get(pos..pos + 8)?;
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    if len > MAX_RECORD {
        return None;
    }
    let end = pos + 8 + len as usize;
    let json = bytes.get(pos + 8..end)?;
    if crc32fast::hash(json) != crc {
        return None;
    }
    let record = serde_json::from_slice(json).ok()?;
    Some((record, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_cuts_a_torn_tail_and_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        {
            let (mut f, old) = RecordFile::<String>::open(&path).unwrap();
            assert!(old.is_empty());
            f.append(&["a".to_string(), "b".to_string()]).unwrap();
            f.append(&["c".to_string()]).unwrap();
        }
        let full = std::fs::read(&path).unwrap();
        let (_, all) = RecordFile::<String>::open(&path).unwrap();
        assert_eq!(all, ["a", "b", "c"]);

        // A torn last record (a crash mid-append): the first two survive, the file is cut.
        std::fs::write(&path, &full[..full.len() - 2]).unwrap();
        let (mut f, two) = RecordFile::<String>::open(&path).unwrap();
        assert_eq!(two, ["a", "b"]);
        f.append(&["d".to_string()]).unwrap();
        drop(f);
        let (mut f, three) = RecordFile::<String>::open(&path).unwrap();
        assert_eq!(three, ["a", "b", "d"]);

        // Rewrite, then append after it.
        f.rewrite(&["x".to_string()]).unwrap();
        f.append(&["y".to_string()]).unwrap();
        drop(f);
        let (_, after) = RecordFile::<String>::open(&path).unwrap();
        assert_eq!(after, ["x", "y"]);

        // A flipped byte inside the first record: nothing after it is trusted.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[9] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let (_, none) = RecordFile::<String>::open(&path).unwrap();
        assert!(none.is_empty());
    }
}
