//! The consumer offset table (`consumerOffset.json`, docs/broker/config-files.md#consumer-offsets):
//! `topic@group` → queue id → the next offset to consume. A commit overwrites unconditionally (even
//! backwards). Persisted every `flushConsumerOffsetInterval` when it changed, and on shutdown.
//!
//! Lock order: `write_lock` (file writer) → `table`. `table` is only held for map operations.

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rmq_protocol::body::{self, ConsumerOffsetSerializeWrapper};

use crate::BrokerError;

/// `topic@group` (Java `TOPIC_GROUP_SEPARATOR`).
pub fn offset_key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

/// Splits `topic@group`; topic and group names cannot contain `@`.
fn split_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('@')
}

/// Committed consumer offsets.
pub struct ConsumerOffsetTable {
    path: PathBuf,
    table: Mutex<HashMap<String, HashMap<i32, i64>>>,
    /// 5.x `pullOffsetTable`: the next offset last served to the group per queue (in memory,
    /// shown as `pullOffset` in GET_CONSUME_STATS).
    pulled: Mutex<HashMap<String, HashMap<i32, i64>>>,
    /// Bumped by every change; compared with `persisted` to skip idle writes.
    version: AtomicU64,
    persisted: AtomicU64,
    write_lock: Mutex<()>,
}

impl ConsumerOffsetTable {
    /// Loads `<root>/config/consumerOffset.json` (standard or fastjson; `.bak` if the main file
    /// is missing, empty or unparsable).
    pub fn load(store_root: &std::path::Path) -> Result<ConsumerOffsetTable, BrokerError> {
        let path = store_root.join("config").join("consumerOffset.json");
        let loaded = rmq_store::config_file::load_with_backup(&path, |b| {
            body::from_fastjson::<ConsumerOffsetSerializeWrapper>(b).ok()
        })?;
        Ok(ConsumerOffsetTable {
            path,
            table: Mutex::new(loaded.map(|w| w.offset_table).unwrap_or_default()),
            pulled: Mutex::new(HashMap::new()),
            version: AtomicU64::new(0),
            persisted: AtomicU64::new(0),
            write_lock: Mutex::new(()),
        })
    }

    /// Stores `offset` as the group's next offset for the queue.
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.table
            .lock()
            .entry(offset_key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Records the next offset a pull served (`commitPullOffset`).
    pub fn commit_pull(&self, group: &str, topic: &str, queue_id: i32, next_offset: i64) {
        self.pulled
            .lock()
            .entry(offset_key(topic, group))
            .or_default()
            .insert(queue_id, next_offset);
    }

    /// The next offset last served to the group, if it pulled here (`queryPullOffset`).
    pub fn query_pull(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.pulled
            .lock()
            .get(&offset_key(topic, group))
            .and_then(|m| m.get(&queue_id).copied())
    }

    /// The committed offset, if any.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.table
            .lock()
            .get(&offset_key(topic, group))
            .and_then(|m| m.get(&queue_id).copied())
    }

    /// Topics the group has offsets for (`whichTopicByConsumer`).
    pub fn topics_of_group(&self, group: &str) -> HashSet<String> {
        self.table
            .lock()
            .keys()
            .filter_map(|k| split_key(k))
            .filter(|(_, g)| *g == group)
            .map(|(t, _)| t.to_string())
            .collect()
    }

    /// Groups with offsets on the topic (`whichGroupByTopic`).
    pub fn groups_of_topic(&self, topic: &str) -> HashSet<String> {
        self.table
            .lock()
            .keys()
            .filter_map(|k| split_key(k))
            .filter(|(t, _)| *t == topic)
            .map(|(_, g)| g.to_string())
            .collect()
    }

    /// Drops every offset of the group (DELETE_SUBSCRIPTIONGROUP with `removeOffset`).
    pub fn remove_group(&self, group: &str) {
        self.table
            .lock()
            .retain(|k, _| !matches!(split_key(k), Some((_, g)) if g == group));
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Slave metadata sync: `putAll` of the master's table (per `topic@group` key, the master's
    /// queue map replaces ours; keys only we have stay).
    pub fn merge_from_master(&self, w: ConsumerOffsetSerializeWrapper) {
        self.table.lock().extend(w.offset_table);
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// The whole table (GET_ALL_CONSUMER_OFFSET body, the file content).
    pub fn snapshot(&self) -> ConsumerOffsetSerializeWrapper {
        ConsumerOffsetSerializeWrapper {
            offset_table: self.table.lock().clone(),
        }
    }

    /// Writes the file if anything changed since the last write. Blocking (fsync).
    pub fn persist(&self) -> Result<(), BrokerError> {
        let _writer = self.write_lock.lock();
        let version = self.version.load(Ordering::Acquire);
        if version == self.persisted.load(Ordering::Acquire) && self.path.exists() {
            return Ok(());
        }
        crate::write_json(&self.path, "consumerOffset.json", &self.snapshot())?;
        self.persisted.store(version, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_query_persist_reload_fastjson() {
        let dir = tempfile::tempdir().unwrap();
        let t = ConsumerOffsetTable::load(dir.path()).unwrap();
        assert_eq!(t.query("g", "T", 0), None);
        t.commit("g", "T", 0, 5);
        t.commit("g", "T", 1, 7);
        t.commit("g", "T", 0, 3); // backwards is allowed
        t.commit("h", "U", 0, 1);
        assert_eq!(t.query("g", "T", 0), Some(3));
        assert_eq!(t.topics_of_group("g"), HashSet::from(["T".to_string()]));
        assert_eq!(t.groups_of_topic("U"), HashSet::from(["h".to_string()]));
        t.persist().unwrap();
        let t2 = ConsumerOffsetTable::load(dir.path()).unwrap();
        assert_eq!(t2.query("g", "T", 1), Some(7));
        t2.remove_group("g");
        assert_eq!(t2.query("g", "T", 1), None);
        assert_eq!(t2.query("h", "U", 0), Some(1));

        // A Java broker's file: bare integer keys.
        let java = br#"{"offsetTable":{"TopicTest@CG":{0:250,1:248},"%RETRY%CG@CG":{0:0}}}"#;
        let path = dir.path().join("config").join("consumerOffset.json");
        std::fs::write(&path, java).unwrap();
        let t3 = ConsumerOffsetTable::load(dir.path()).unwrap();
        assert_eq!(t3.query("CG", "TopicTest", 1), Some(248));
        assert_eq!(t3.query("CG", "%RETRY%CG", 0), Some(0));
    }
}
