//! The controller's event log on disk: every committed [`Event`], in order, so that a restarted
//! controller replays them into the same [`ControllerState`].
//!
//! One file, `events.log`, of records `[u32 length][u32 crc32][JSON event]` (big-endian). An
//! append is written and `fsync`ed before the request it belongs to is answered, so a record that
//! was answered is on disk. A crash in the middle of an append leaves a torn or corrupt last
//! record, whose request was never answered: opening the log stops at the first record that does
//! not check and cuts the file there (logged).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::event::Event;
use crate::state::ControllerState;

use super::NodeError;

/// Longest record accepted when reading (an event is a few hundred bytes).
const MAX_RECORD: u32 = 16 << 20;

/// The open log.
pub struct EventLog {
    path: PathBuf,
    file: File,
    /// Records in the file.
    len: u64,
}

impl EventLog {
    /// Opens (or creates) `<dir>/events.log` and replays it into a new state.
    pub fn open(dir: &Path) -> Result<(EventLog, ControllerState), NodeError> {
        std::fs::create_dir_all(dir).map_err(|e| NodeError::io(dir, e))?;
        let path = dir.join("events.log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| NodeError::io(&path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| NodeError::io(&path, e))?;
        let mut state = ControllerState::new();
        let mut pos = 0usize;
        let mut len = 0u64;
        while let Some((event, next)) = record_at(&bytes, pos) {
            state.apply(&event);
            pos = next;
            len += 1;
        }
        if pos < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                kept = len,
                cut_bytes = bytes.len() - pos,
                "controller log: the last record is torn or corrupt (a crash during an append); cutting it"
            );
            file.set_len(pos as u64).map_err(|e| NodeError::io(&path, e))?;
            file.sync_all().map_err(|e| NodeError::io(&path, e))?;
            file.seek(SeekFrom::End(0)).map_err(|e| NodeError::io(&path, e))?;
        }
        Ok((EventLog { path, file, len }, state))
    }

    /// Appends `events` and syncs them to disk.
    pub fn append(&mut self, events: &[Event]) -> Result<(), NodeError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for event in events {
            let json = serde_json::to_vec(event).map_err(NodeError::Encode)?;
            buf.extend_from_slice(&(json.len() as u32).to_be_bytes());
            buf.extend_from_slice(&crc32fast::hash(&json).to_be_bytes());
            buf.extend_from_slice(&json);
        }
        self.file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| NodeError::io(&self.path, e))?;
        self.len += events.len() as u64;
        Ok(())
    }

    /// Records in the log.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The record at `pos` and where the next one starts; `None` at the end or at a bad record.
fn record_at(bytes: &[u8], pos: usize) -> Option<(Event, usize)> {
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
    let event = serde_json::from_slice(json).ok()?;
    Some((event, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_id(name: &str, id: u64) -> Event {
        Event::ApplyBrokerId {
            cluster_name: "c".into(),
            broker_name: name.into(),
            broker_id: id,
            broker_address: format!("127.0.0.1:{}", 10000 + id),
            register_check_code: format!("127.0.0.1:{};1", 10000 + id),
        }
    }

    #[test]
    fn replays_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, state) = EventLog::open(dir.path()).unwrap();
            assert!(state.group("a").is_none());
            log.append(&[apply_id("a", 1), apply_id("a", 2)]).unwrap();
            log.append(&[Event::ElectMaster {
                broker_name: "a".into(),
                new_master: Some(1),
            }])
            .unwrap();
        }
        let full = std::fs::read(dir.path().join("events.log")).unwrap();
        let (log, state) = EventLog::open(dir.path()).unwrap();
        assert_eq!(log.len(), 3);
        let g = state.group("a").unwrap();
        assert_eq!(g.master(), Some(1));
        assert_eq!(g.master_epoch(), 1);
        assert_eq!(g.replicas().len(), 2);
        drop(log);

        // A torn last record (a crash mid-append): the first two survive, the file is cut.
        std::fs::write(dir.path().join("events.log"), &full[..full.len() - 3]).unwrap();
        let (mut log, state) = EventLog::open(dir.path()).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(state.group("a").unwrap().master(), None);
        log.append(&[apply_id("b", 1)]).unwrap();
        drop(log);
        let (log, state) = EventLog::open(dir.path()).unwrap();
        assert_eq!(log.len(), 3);
        assert!(state.group("b").is_some());

        // A flipped byte inside a record: everything from that record on is dropped.
        let mut bytes = std::fs::read(dir.path().join("events.log")).unwrap();
        bytes[12] ^= 0x40;
        std::fs::write(dir.path().join("events.log"), &bytes).unwrap();
        drop(log);
        let (log, state) = EventLog::open(dir.path()).unwrap();
        assert_eq!(log.len(), 0);
        assert!(state.group("a").is_none());
    }
}
