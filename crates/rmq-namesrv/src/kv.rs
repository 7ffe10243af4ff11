//! KV config: namespaced key/value pairs (e.g. `ORDER_TOPIC_CONFIG`), persisted as
//! `{"configTable":{"<ns>":{"<k>":"<v>"}}}` like the Java name server's `kvConfig.json`.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::NamesrvError;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvFile {
    config_table: HashMap<String, HashMap<String, String>>,
}

/// The KV store; every change is written through to disk before it is acknowledged.
pub struct KvConfig {
    path: Option<PathBuf>,
    table: Mutex<HashMap<String, HashMap<String, String>>>,
}

impl KvConfig {
    /// Loads `path` (absent file = empty). `None` keeps the table in memory only.
    pub fn load(path: Option<PathBuf>) -> Result<Self, NamesrvError> {
        let mut table = HashMap::new();
        if let Some(p) = &path {
            if let Some(bytes) = rmq_store::config_file::read_with_backup(p)? {
                let file: KvFile =
                    serde_json::from_slice(&bytes).map_err(|source| NamesrvError::Metadata {
                        path: p.clone(),
                        source,
                    })?;
                table = file.config_table;
            }
        }
        Ok(KvConfig {
            path,
            table: Mutex::new(table),
        })
    }

    fn persist(&self, table: &HashMap<String, HashMap<String, String>>) -> Result<(), NamesrvError> {
        if let Some(p) = &self.path {
            let body = serde_json::to_vec_pretty(&KvFile {
                config_table: table.clone(),
            })
            .map_err(NamesrvError::Encode)?;
            rmq_store::config_file::write_atomic(p, &body)?;
        }
        Ok(())
    }

    pub fn put(&self, namespace: &str, key: &str, value: &str) -> Result<(), NamesrvError> {
        let mut t = self.table.lock();
        t.entry(namespace.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
        self.persist(&t)
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.table.lock().get(namespace).and_then(|m| m.get(key)).cloned()
    }

    pub fn delete(&self, namespace: &str, key: &str) -> Result<(), NamesrvError> {
        let mut t = self.table.lock();
        let removed = t.get_mut(namespace).and_then(|m| m.remove(key)).is_some();
        if removed {
            self.persist(&t)?;
        }
        Ok(())
    }

    pub fn namespace(&self, namespace: &str) -> Option<HashMap<String, String>> {
        self.table
            .lock()
            .get(namespace)
            .filter(|m| !m.is_empty())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_survives_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv/kvConfig.json");
        let kv = KvConfig::load(Some(path.clone())).unwrap();
        kv.put("ORDER_TOPIC_CONFIG", "T", "broker-a:4").unwrap();
        kv.put("ns", "k", "v").unwrap();
        kv.delete("ns", "k").unwrap();
        drop(kv);
        let kv = KvConfig::load(Some(path)).unwrap();
        assert_eq!(kv.get("ORDER_TOPIC_CONFIG", "T").as_deref(), Some("broker-a:4"));
        assert_eq!(kv.get("ns", "k"), None);
        assert!(kv.namespace("ns").is_none());
    }
}
