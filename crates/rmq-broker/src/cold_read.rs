//! The per-group thresholds of cold-data read flow control (5.x `ColdDataCgCtrService`), as
//! `mqadmin updateColdDataFlowCtrGroupConfig` / `removeColdDataFlowCtrGroupConfig` /
//! `getColdDataFlowCtrInfo` set and show them (docs/broker/admin.md "Cold-read flow control").
//!
//! rmq keeps and answers the table but does not throttle cold reads: in Java that happens only
//! with `coldDataFlowControlEnable=true` (off by default), and rmq has no such read path. Not
//! persisted, as in Java.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde_json::json;

/// Java's `cgColdReadThreshold` default: 3 MiB per group.
pub const CG_COLD_READ_THRESHOLD: i64 = 3 * 1024 * 1024;
/// Java's `globalColdReadThreshold` default: 100 MiB.
pub const GLOBAL_COLD_READ_THRESHOLD: i64 = 100 * 1024 * 1024;

/// Consumer group → its cold-read threshold in bytes.
#[derive(Default)]
pub struct ColdReadGroups {
    thresholds: Mutex<BTreeMap<String, i64>>,
}

impl ColdReadGroups {
    /// Sets a group's threshold (`addOrUpdateGroupConfig`).
    pub fn upsert(&self, group: &str, threshold: i64) {
        self.thresholds.lock().insert(group.to_string(), threshold);
    }

    /// Drops a group's threshold (`removeGroupConfig`); unknown groups are no error.
    pub fn remove(&self, group: &str) {
        self.thresholds.lock().remove(group);
    }

    /// `getColdDataFlowCtrInfo`'s JSON: the configured thresholds, the per-group and global
    /// defaults, and the run-time accounting (empty: rmq does not account cold reads).
    pub fn info_json(&self, cg_threshold: i64, global_threshold: i64) -> String {
        let config = self.thresholds.lock().clone();
        json!({
            "runtimeTable": {},
            "configTable": config,
            "cgColdReadThreshold": cg_threshold,
            "globalColdReadThreshold": global_threshold,
            "globalAcc": 0,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_remove_and_show() {
        let groups = ColdReadGroups::default();
        groups.upsert("g1", 1000);
        groups.upsert("g2", 5);
        groups.upsert("g1", 2000);
        groups.remove("g2");
        groups.remove("unknown");
        let v: serde_json::Value = serde_json::from_str(&groups.info_json(7, 8)).unwrap();
        assert_eq!(v["configTable"], json!({"g1": 2000}));
        assert_eq!(v["runtimeTable"], json!({}));
        assert_eq!(v["cgColdReadThreshold"], 7);
        assert_eq!(v["globalColdReadThreshold"], 8);
        assert_eq!(v["globalAcc"], 0);
    }
}
