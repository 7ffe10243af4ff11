//! The timer task's progress on disk: `<storePathRootDir>/config/timerCheckpoint.json`
//! (docs/broker/timer.md#progress). Written atomically with a `.bak`, like the other metadata.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::BrokerError;

pub const FILE_NAME: &str = "timerCheckpoint.json";

/// Which timers are done. Every timer-queue entry below `enqueue_offset` that was due before
/// `read_time_ms` has been delivered (and the commitlog holding the deliveries was flushed before
/// this was written); every other entry from `scan_from` on may still be pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub enqueue_offset: i64,
    pub scan_from: i64,
    pub read_time_ms: i64,
}

impl Checkpoint {
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, BrokerError> {
        Ok(rmq_store::config_file::load_with_backup(path, |b| {
            serde_json::from_slice::<Checkpoint>(b).ok()
        })?)
    }

    pub fn write(&self, path: &Path) -> Result<(), BrokerError> {
        crate::write_json(path, FILE_NAME, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_falls_back_to_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config").join(FILE_NAME);
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let a = Checkpoint {
            enqueue_offset: 10,
            scan_from: 4,
            read_time_ms: 1_700_000_000_000,
        };
        a.write(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(a.clone()));
        let b = Checkpoint {
            enqueue_offset: 12,
            ..a.clone()
        };
        b.write(&path).unwrap();
        // A torn main file: the backup (the previous write) is read.
        std::fs::write(&path, b"{\"enqueueOff").unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(a));
    }
}
