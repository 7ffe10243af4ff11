//! The subscription group table (`subscriptionGroup.json`, docs/broker/config-files.md#subscription-groups):
//! built-in groups, auto-creation, admin updates. Every change bumps the data version and is
//! persisted atomically before it is acknowledged.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;

use rmq_protocol::body::{self, DataVersion, SubscriptionGroupConfig, SubscriptionGroupWrapper};
use rmq_protocol::time::Clock;

use crate::config::BrokerConfig;
use crate::BrokerError;

/// Groups a 4.9.8 broker creates at start (docs/broker/config-files.md#system-groups).
pub const BUILTIN_GROUPS: &[&str] = &[
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
];

/// Groups with this prefix are created even when auto-creation is off.
pub const SYS_GROUP_PREFIX: &str = "CID_RMQ_SYS_";

/// A built-in or `CID_RMQ_SYS_` group (the metrics' `is_system` label).
pub fn is_system_group(group: &str) -> bool {
    group.starts_with(SYS_GROUP_PREFIX) || BUILTIN_GROUPS.contains(&group)
}

struct State {
    table: HashMap<String, SubscriptionGroupConfig>,
    data_version: DataVersion,
}

/// The broker's subscription groups.
pub struct SubscriptionGroupTable {
    path: PathBuf,
    /// Live: UPDATE_BROKER_CONFIG sets it.
    auto_create: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
    /// Stamps data versions.
    clock: Clock,
}

impl SubscriptionGroupTable {
    /// `autoCreateSubscriptionGroup` changed at run time (UPDATE_BROKER_CONFIG).
    pub fn set_auto_create(&self, on: bool) {
        self.auto_create.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Built-in groups first, then `subscriptionGroup.json` on top of them.
    pub fn load(config: &BrokerConfig) -> Result<SubscriptionGroupTable, BrokerError> {
        let mut table: HashMap<String, SubscriptionGroupConfig> = BUILTIN_GROUPS
            .iter()
            .map(|g| (g.to_string(), SubscriptionGroupConfig::new(*g)))
            .collect();
        let path = config
            .store
            .store_path_root_dir
            .join("config")
            .join("subscriptionGroup.json");
        let mut data_version = DataVersion {
            counter: 0,
            timestamp: config.store.clock.now_ms(),
            state_version: 0,
        };
        let loaded = rmq_store::config_file::load_with_backup(&path, |b| {
            body::from_fastjson::<SubscriptionGroupWrapper>(b).ok()
        })?;
        if let Some(w) = loaded {
            table.extend(w.subscription_group_table);
            data_version = w.data_version;
        }
        Ok(SubscriptionGroupTable {
            path,
            auto_create: std::sync::atomic::AtomicBool::new(config.auto_create_subscription_group),
            state: Mutex::new(State { table, data_version }),
            clock: config.store.clock.clone(),
        })
    }

    fn persist(&self, state: &State) -> Result<(), BrokerError> {
        let w = SubscriptionGroupWrapper {
            data_version: state.data_version,
            subscription_group_table: state.table.clone(),
        };
        crate::write_json(&self.path, "subscriptionGroup.json", &w)
    }

    fn bump(&self, state: &mut State) {
        state.data_version = state.data_version.next(self.clock.now_ms());
    }

    /// Every group name.
    pub fn names(&self) -> Vec<String> {
        self.state.lock().table.keys().cloned().collect()
    }

    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.state.lock().table.get(group).cloned()
    }

    /// `findSubscriptionGroupConfig`: the group, auto-created with the defaults when allowed.
    /// `Ok(None)` when it does not exist and may not be created.
    pub fn find_or_create(&self, group: &str) -> Result<Option<SubscriptionGroupConfig>, BrokerError> {
        let mut s = self.state.lock();
        if let Some(c) = s.table.get(group) {
            return Ok(Some(c.clone()));
        }
        if !self.auto_create.load(std::sync::atomic::Ordering::Relaxed)
            && !group.starts_with(SYS_GROUP_PREFIX)
        {
            return Ok(None);
        }
        let c = SubscriptionGroupConfig::new(group);
        s.table.insert(group.to_string(), c.clone());
        self.bump(&mut s);
        self.persist(&s)?;
        tracing::info!(group, "subscription group auto-created");
        Ok(Some(c))
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.
    pub fn upsert(&self, config: SubscriptionGroupConfig) -> Result<(), BrokerError> {
        self.upsert_all(vec![config])
    }

    /// Several groups, one data version and one write of the file (a list of thousands would
    /// otherwise rewrite the whole file once per group).
    pub fn upsert_all(&self, configs: Vec<SubscriptionGroupConfig>) -> Result<(), BrokerError> {
        let mut s = self.state.lock();
        for config in configs {
            s.table.insert(config.group_name.clone(), config);
        }
        self.bump(&mut s);
        self.persist(&s)
    }

    /// DELETE_SUBSCRIPTIONGROUP. Returns whether it existed.
    pub fn delete(&self, group: &str) -> Result<bool, BrokerError> {
        let mut s = self.state.lock();
        let existed = s.table.remove(group).is_some();
        if existed {
            self.bump(&mut s);
            self.persist(&s)?;
        }
        Ok(existed)
    }

    /// Slave metadata sync: take the master's whole table when its data version differs.
    /// Returns whether anything was replaced.
    pub fn replace_from_master(&self, w: SubscriptionGroupWrapper) -> Result<bool, BrokerError> {
        let mut s = self.state.lock();
        if s.data_version == w.data_version {
            return Ok(false);
        }
        s.table = w.subscription_group_table;
        s.data_version = w.data_version;
        self.persist(&s)?;
        Ok(true)
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG body.
    pub fn wrapper(&self) -> SubscriptionGroupWrapper {
        let s = self.state.lock();
        SubscriptionGroupWrapper {
            data_version: s.data_version,
            subscription_group_table: s.table.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, auto: bool) -> BrokerConfig {
        let mut c = BrokerConfig {
            auto_create_subscription_group: auto,
            ..Default::default()
        };
        c.store.store_path_root_dir = dir.to_path_buf();
        c
    }

    #[test]
    fn builtins_autocreate_update_reload() {
        let dir = tempfile::tempdir().unwrap();
        let t = SubscriptionGroupTable::load(&config(dir.path(), true)).unwrap();
        assert!(t.get("TOOLS_CONSUMER").is_some());
        let c = t.find_or_create("CG").unwrap().unwrap();
        assert_eq!(
            (c.retry_queue_nums, c.retry_max_times, c.consume_enable),
            (1, 16, true)
        );
        t.upsert(SubscriptionGroupConfig {
            consume_enable: false,
            ..SubscriptionGroupConfig::new("CG2")
        })
        .unwrap();
        let v = t.wrapper().data_version;
        drop(t);
        let t = SubscriptionGroupTable::load(&config(dir.path(), false)).unwrap();
        assert!(t.get("CG").is_some());
        assert!(!t.get("CG2").unwrap().consume_enable);
        assert_eq!(t.wrapper().data_version, v);
        assert!(t.find_or_create("Nope").unwrap().is_none());
        assert!(t.find_or_create("CID_RMQ_SYS_TRANS").unwrap().is_some());
        assert!(t.delete("CG").unwrap());
        assert!(t.get("CG").is_none());
    }
}
