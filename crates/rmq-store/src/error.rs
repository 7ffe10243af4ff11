//! The store's single error type.

use std::io;
use std::path::{Path, PathBuf};

/// Every failure the store reports to its callers.
///
/// Put/get results that the protocol cares about are *statuses* (`PutStatus`, `GetStatus`), not
/// errors; `StoreError` is for opening, recovering, persisting and shutting down.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("segment {path} is {actual} bytes, expected {expected}")]
    SegmentSize {
        path: PathBuf,
        actual: u64,
        expected: u64,
    },
    #[error("store directory {0} is locked by another process (MQ already started)")]
    Locked(PathBuf),
    #[error("an earlier flush failed; the store refuses further writes")]
    FlushFailed,
    #[error("a panic inside the store poisoned it; it refuses further writes")]
    Poisoned,
    #[error("store is shut down")]
    ShutDown,
    #[error("invalid store config: {0}")]
    Config(String),
}

/// Attach a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for Result<T, io::Error> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
