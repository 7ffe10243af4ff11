//! Half messages per real topic (Java's `TransactionMetrics`, the `rocketmq_half_messages`
//! gauge): one more when a half message is stored, one less when it is committed, rolled back
//! or discarded after too many checks. Kept in `config/transactionMetrics` in Java's format,
//! written every `transactionMetricFlushInterval` when it changed and at shutdown, so the
//! gauge survives a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rmq_protocol::body::DataVersion;
use serde::{Deserialize, Serialize};

use crate::BrokerError;

/// One topic's count (`TransactionMetrics.Metric`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
struct Metric {
    count: i64,
    time_stamp: i64,
}

/// The file (`TransactionMetricsSerializeWrapper`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Wrapper {
    transaction_count: BTreeMap<String, Metric>,
    data_version: DataVersion,
}

/// The counts and where they are kept.
#[derive(Debug)]
pub struct HalfCounts {
    path: PathBuf,
    state: Mutex<Wrapper>,
    dirty: AtomicBool,
}

impl HalfCounts {
    /// Loads `<config dir>/transactionMetrics` (or its `.bak`); empty when neither parses.
    pub fn load(config_dir: &Path) -> Result<HalfCounts, BrokerError> {
        let path = config_dir.join("transactionMetrics");
        let loaded = rmq_store::config_file::load_with_backup(&path, |b| {
            rmq_protocol::body::from_fastjson::<Wrapper>(b).ok()
        })?;
        Ok(HalfCounts {
            path,
            state: Mutex::new(loaded.unwrap_or_default()),
            dirty: AtomicBool::new(false),
        })
    }

    /// `addAndGet(topic, delta)`.
    pub fn add(&self, topic: &str, delta: i64, now_ms: i64) {
        let mut st = self.state.lock();
        let m = st.transaction_count.entry(topic.to_string()).or_default();
        m.count += delta;
        m.time_stamp = now_ms;
        st.data_version = st.data_version.next(now_ms);
        self.dirty.store(true, Ordering::Release);
    }

    /// (real topic, half messages) in topic order.
    pub fn snapshot(&self) -> Vec<(String, i64)> {
        self.state
            .lock()
            .transaction_count
            .iter()
            .map(|(t, m)| (t.clone(), m.count))
            .collect()
    }

    /// Writes the file when something changed since the last write.
    pub fn persist_if_changed(&self) -> Result<(), BrokerError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let json = {
            let st = self.state.lock();
            serde_json::to_vec_pretty(&*st).map_err(|source| BrokerError::Encode {
                what: "transactionMetrics",
                source,
            })?
        };
        if let Err(e) = rmq_store::config_file::write_atomic(&self.path, &json) {
            self.dirty.store(true, Ordering::Release);
            return Err(e.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_survive_a_reload_in_javas_format() {
        let dir = tempfile::tempdir().unwrap();
        let c = HalfCounts::load(dir.path()).unwrap();
        c.add("T", 1, 1000);
        c.add("T", 1, 1001);
        c.add("U", 1, 1002);
        c.add("T", -1, 1003);
        c.persist_if_changed().unwrap();
        let text = std::fs::read_to_string(dir.path().join("transactionMetrics")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["transactionCount"]["T"]["count"], 1);
        assert_eq!(v["transactionCount"]["T"]["timeStamp"], 1003);
        assert_eq!(v["dataVersion"]["counter"], 4);
        let again = HalfCounts::load(dir.path()).unwrap();
        assert_eq!(again.snapshot(), [("T".to_string(), 1), ("U".to_string(), 1)]);
        // Java's own file, as its broker writes it
        std::fs::write(
            dir.path().join("transactionMetrics"),
            br#"{"dataVersion":{"counter":7,"stateVersion":0,"timestamp":1},"transactionCount":{"J":{"count":3,"timeStamp":5}}}"#,
        )
        .unwrap();
        let java = HalfCounts::load(dir.path()).unwrap();
        assert_eq!(java.snapshot(), [("J".to_string(), 3)]);
    }
}
