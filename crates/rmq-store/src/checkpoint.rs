//! The `checkpoint` file (docs/format/checkpoint.md#checkpoint-layout): 4096 bytes, of which the first 24 are
//! `physicMsgTimestamp`, `logicsMsgTimestamp`, `indexMsgTimestamp` (big-endian i64 each).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::IoContext;
use crate::StoreError;

pub const CHECKPOINT_FILE_SIZE: u64 = 4096;
pub const CHECKPOINT_USED_BYTES: usize = 24;
const _: () = assert!(3 * 8 == CHECKPOINT_USED_BYTES);

/// `StoreCheckpoint`. Timestamps are updated in memory and written by [`Checkpoint::persist`].
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    file: File,
    pub physic_msg_timestamp: AtomicI64,
    pub logics_msg_timestamp: AtomicI64,
    pub index_msg_timestamp: AtomicI64,
}

impl Checkpoint {
    pub fn open(path: &Path) -> Result<Checkpoint, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .at(path)?;
        if file.metadata().at(path)?.len() < CHECKPOINT_FILE_SIZE {
            file.set_len(CHECKPOINT_FILE_SIZE).at(path)?;
        }
        let mut buf = [0u8; CHECKPOINT_USED_BYTES];
        file.read_exact_at(&mut buf, 0).at(path)?;
        let at = |i: usize| i64::from_be_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Ok(Checkpoint {
            path: path.to_path_buf(),
            file,
            physic_msg_timestamp: AtomicI64::new(at(0)),
            logics_msg_timestamp: AtomicI64::new(at(1)),
            index_msg_timestamp: AtomicI64::new(at(2)),
        })
    }

    /// `minTimestamp = max(0, min(physic, logics) − 3000)`.
    pub fn min_timestamp(&self) -> i64 {
        let p = self.physic_msg_timestamp.load(Ordering::Acquire);
        let l = self.logics_msg_timestamp.load(Ordering::Acquire);
        (p.min(l) - 3000).max(0)
    }

    /// Write the three timestamps (logics as given, so the caller can pass the value captured
    /// before flushing the consume queues) and fsync.
    pub fn persist(&self, logics: i64) -> Result<(), StoreError> {
        let mut buf = [0u8; CHECKPOINT_USED_BYTES];
        buf[..8].copy_from_slice(&self.physic_msg_timestamp.load(Ordering::Acquire).to_be_bytes());
        buf[8..16].copy_from_slice(&logics.to_be_bytes());
        buf[16..].copy_from_slice(&self.index_msg_timestamp.load(Ordering::Acquire).to_be_bytes());
        self.file.write_all_at(&buf, 0).at(&self.path)?;
        self.file.sync_data().at(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint");
        let c = Checkpoint::open(&p).unwrap();
        assert_eq!(c.min_timestamp(), 0);
        c.physic_msg_timestamp.store(10_000, Ordering::Release);
        c.persist(20_000).unwrap();
        drop(c);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 4096);
        let c = Checkpoint::open(&p).unwrap();
        assert_eq!(c.logics_msg_timestamp.load(Ordering::Acquire), 20_000);
        assert_eq!(c.min_timestamp(), 7_000);
    }
}
