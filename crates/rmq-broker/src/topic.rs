//! The topic table (`topics.json`): built-in system topics, auto-creation on send, admin updates.
//! Every change bumps the data version and is persisted atomically before it is acknowledged.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;

use rmq_protocol::body::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use rmq_protocol::time::Clock;

use crate::config::BrokerConfig;
use crate::BrokerError;

pub const PERM_INHERIT: i32 = 1;
pub const PERM_WRITE: i32 = 2;
pub const PERM_READ: i32 = 4;

pub use rmq_protocol::topic::{
    is_system_topic, AUTO_CREATE_TOPIC_KEY, BENCHMARK_TOPIC, DLQ_GROUP_TOPIC_PREFIX, OFFSET_MOVED_EVENT,
    RETRY_GROUP_TOPIC_PREFIX, SCHEDULE_TOPIC, SELF_TEST_TOPIC, SYSTEM_TOPICS, TRACE_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC,
};

/// Topics a producer may not send to (`TopicValidator.isNotAllowedSendTopic`).
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    matches!(
        topic,
        SCHEDULE_TOPIC
            | TRANS_HALF_TOPIC
            | TRANS_OP_HALF_TOPIC
            | TRANS_CHECK_MAX_TIME_TOPIC
            | SELF_TEST_TOPIC
            | OFFSET_MOVED_EVENT
    )
}

pub fn topic_config(name: &str, queues: i32, perm: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_string(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: 0,
        order: false,
        attributes: Default::default(),
    }
}

struct State {
    table: HashMap<String, TopicConfig>,
    data_version: DataVersion,
}

/// The broker's topics.
pub struct TopicTable {
    path: PathBuf,
    /// Live: UPDATE_BROKER_CONFIG sets it.
    auto_create: std::sync::atomic::AtomicBool,
    system: Vec<String>,
    state: Mutex<State>,
    /// Stamps data versions.
    clock: Clock,
}

impl TopicTable {
    /// `autoCreateTopicEnable` changed at run time (UPDATE_BROKER_CONFIG).
    pub fn set_auto_create(&self, on: bool) {
        self.auto_create.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Built-in topics first, then `topics.json` on top of them.
    pub fn load(config: &BrokerConfig) -> Result<TopicTable, BrokerError> {
        let mut table = HashMap::new();
        let mut add = |tc: TopicConfig| {
            table.insert(tc.topic_name.clone(), tc);
        };
        add(topic_config(SELF_TEST_TOPIC, 1, 6));
        if config.auto_create_topic_enable {
            add(topic_config(
                AUTO_CREATE_TOPIC_KEY,
                config.default_topic_queue_nums,
                7,
            ));
        }
        add(topic_config(BENCHMARK_TOPIC, 1024, 6));
        let cluster_perm = if config.cluster_topic_enable {
            7
        } else {
            PERM_INHERIT
        };
        add(topic_config(&config.broker_cluster_name, 16, cluster_perm));
        let broker_perm = if config.broker_topic_enable {
            7
        } else {
            PERM_INHERIT
        };
        add(topic_config(&config.broker_name, 1, broker_perm));
        add(topic_config(OFFSET_MOVED_EVENT, 1, 6));
        add(topic_config(SCHEDULE_TOPIC, 18, 6));
        if config.timer.enable {
            add(topic_config(crate::timer::TIMER_TOPIC, 1, 6));
        }
        add(topic_config(
            &crate::pop::revive_topic(&config.broker_cluster_name),
            config.pop.revive_queue_num,
            6,
        ));
        // 5.x creates both at start, so their routes exist before the first transaction
        // (rocketmq-spring and admin tools look them up); 4.9 at its first check round.
        add(topic_config(TRANS_HALF_TOPIC, 1, 6));
        add(topic_config(TRANS_OP_HALF_TOPIC, 1, 6));
        add(topic_config(
            &format!("{}_REPLY_TOPIC", config.broker_cluster_name),
            1,
            6,
        ));
        let system = vec![
            config.broker_cluster_name.clone(),
            config.broker_name.clone(),
            format!("{}_REPLY_TOPIC", config.broker_cluster_name),
        ];

        let path = config
            .store
            .store_path_root_dir
            .join("config")
            .join("topics.json");
        let mut data_version = DataVersion {
            counter: 0,
            timestamp: config.store.clock.now_ms(),
            state_version: 0,
        };
        if let Some(bytes) = rmq_store::config_file::read_with_backup(&path)? {
            let w: TopicConfigSerializeWrapper =
                rmq_protocol::body::from_fastjson(&bytes).map_err(|source| BrokerError::Metadata {
                    path: path.clone(),
                    source,
                })?;
            table.extend(w.topic_config_table);
            data_version = w.data_version;
        }
        if !config.auto_create_topic_enable {
            // A TBW102 loaded from an old file must not spawn topics any more.
            if let Some(tc) = table.get_mut(AUTO_CREATE_TOPIC_KEY) {
                tc.perm = PERM_READ | PERM_WRITE;
            }
        }
        Ok(TopicTable {
            path,
            auto_create: std::sync::atomic::AtomicBool::new(config.auto_create_topic_enable),
            system,
            state: Mutex::new(State { table, data_version }),
            clock: config.store.clock.clone(),
        })
    }

    fn persist(&self, state: &State) -> Result<(), BrokerError> {
        let w = TopicConfigSerializeWrapper {
            topic_config_table: state.table.clone(),
            data_version: state.data_version,
            ..TopicConfigSerializeWrapper::default()
        };
        crate::write_json(&self.path, "topics.json", &w)
    }

    fn bump(&self, state: &mut State) {
        state.data_version = state.data_version.next(self.clock.now_ms());
    }

    /// A new data version without a change of the table (a `brokerPermission` update: the name
    /// servers take a registration's topics only when the version moved).
    pub fn next_version(&self) {
        let mut s = self.state.lock();
        self.bump(&mut s);
    }

    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.state.lock().table.get(topic).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.state.lock().table.keys().cloned().collect()
    }

    /// Admin-created or updated topics (`UPDATE_AND_CREATE_TOPIC_LIST`): one data version and one
    /// write of `topics.json` for the whole list.
    pub fn upsert_all(&self, configs: Vec<TopicConfig>) -> Result<(), BrokerError> {
        let mut s = self.state.lock();
        for tc in configs {
            s.table.insert(tc.topic_name.clone(), tc);
        }
        self.bump(&mut s);
        self.persist(&s)
    }

    /// Admin-created or updated topic (`UPDATE_AND_CREATE_TOPIC`).
    pub fn upsert(&self, tc: TopicConfig) -> Result<TopicConfigSerializeWrapper, BrokerError> {
        let mut s = self.state.lock();
        s.table.insert(tc.topic_name.clone(), tc.clone());
        self.bump(&mut s);
        self.persist(&s)?;
        Ok(TopicConfigSerializeWrapper {
            topic_config_table: HashMap::from([(tc.topic_name.clone(), tc)]),
            data_version: s.data_version,
            ..TopicConfigSerializeWrapper::default()
        })
    }

    pub fn delete(&self, topic: &str) -> Result<bool, BrokerError> {
        let mut s = self.state.lock();
        let existed = s.table.remove(topic).is_some();
        if existed {
            self.bump(&mut s);
            self.persist(&s)?;
        }
        Ok(existed)
    }

    /// Auto-creation on send (`createTopicInSendMessageMethod`). `Ok(Some((config, created)))`.
    pub fn create_on_send(
        &self,
        topic: &str,
        default_topic: &str,
        default_queue_nums: i32,
        topic_sys_flag: i32,
    ) -> Result<Option<(TopicConfig, bool)>, BrokerError> {
        let mut s = self.state.lock();
        if let Some(tc) = s.table.get(topic) {
            return Ok(Some((tc.clone(), false)));
        }
        let created = match s.table.get(default_topic) {
            Some(d) => {
                let mut perm = d.perm;
                if default_topic == AUTO_CREATE_TOPIC_KEY
                    && !self.auto_create.load(std::sync::atomic::Ordering::Relaxed)
                {
                    perm = PERM_READ | PERM_WRITE;
                }
                if perm & PERM_INHERIT != 0 {
                    let queues = default_queue_nums.min(d.write_queue_nums).max(0);
                    let mut tc = topic_config(topic, queues, perm & !PERM_INHERIT);
                    tc.topic_filter_type = d.topic_filter_type.clone();
                    tc.topic_sys_flag = topic_sys_flag;
                    Some(tc)
                } else {
                    None
                }
            }
            None => None,
        };
        let created = created.or_else(|| {
            topic
                .starts_with(RETRY_GROUP_TOPIC_PREFIX)
                .then(|| topic_config(topic, 1, 6))
        });
        match created {
            Some(tc) => {
                s.table.insert(topic.to_string(), tc.clone());
                self.bump(&mut s);
                self.persist(&s)?;
                tracing::info!(topic, queues = tc.write_queue_nums, "topic auto-created");
                Ok(Some((tc, true)))
            }
            None => Ok(None),
        }
    }

    /// Creates a system-managed topic (retry, DLQ, half topics) if absent.
    pub fn ensure(&self, topic: &str, queues: i32, perm: i32) -> Result<(TopicConfig, bool), BrokerError> {
        let mut s = self.state.lock();
        if let Some(tc) = s.table.get(topic) {
            return Ok((tc.clone(), false));
        }
        let tc = topic_config(topic, queues, perm);
        s.table.insert(topic.to_string(), tc.clone());
        self.bump(&mut s);
        self.persist(&s)?;
        Ok((tc, true))
    }

    /// The registration payload, with `broker_permission` applied when the broker is not RW.
    pub fn wrapper(&self, broker_permission: i32) -> TopicConfigSerializeWrapper {
        let s = self.state.lock();
        let mut table = s.table.clone();
        if broker_permission & (PERM_READ | PERM_WRITE) != (PERM_READ | PERM_WRITE) {
            for tc in table.values_mut() {
                tc.perm = broker_permission;
            }
        }
        TopicConfigSerializeWrapper {
            topic_config_table: table,
            data_version: s.data_version,
            ..TopicConfigSerializeWrapper::default()
        }
    }

    /// Built-in topics named after this broker and cluster (refused by admin create too).
    /// Slave metadata sync: take the master's whole table when its data version differs
    /// (`SlaveSynchronize.syncTopicConfig`). Returns whether anything was replaced.
    pub fn replace_from_master(&self, w: TopicConfigSerializeWrapper) -> Result<bool, BrokerError> {
        let mut s = self.state.lock();
        if s.data_version == w.data_version {
            return Ok(false);
        }
        s.table = w.topic_config_table;
        s.data_version = w.data_version;
        self.persist(&s)?;
        Ok(true)
    }

    pub fn is_broker_system_topic(&self, topic: &str) -> bool {
        self.system.iter().any(|t| t == topic)
    }

    pub fn persist_now(&self) -> Result<(), BrokerError> {
        let s = self.state.lock();
        self.persist(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, auto: bool) -> BrokerConfig {
        let mut c = BrokerConfig {
            broker_name: "broker-a".into(),
            auto_create_topic_enable: auto,
            ..Default::default()
        };
        c.store.store_path_root_dir = dir.to_path_buf();
        c
    }

    #[test]
    fn builtins_autocreate_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let t = TopicTable::load(&config(dir.path(), true)).unwrap();
        assert_eq!(t.get("TBW102").unwrap().perm, 7);
        assert_eq!(t.get("SCHEDULE_TOPIC_XXXX").unwrap().read_queue_nums, 18);
        for half in [TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC] {
            let tc = t.get(half).unwrap();
            assert_eq!(
                (tc.read_queue_nums, tc.write_queue_nums, tc.perm),
                (1, 1, 6),
                "{half}"
            );
        }
        let (tc, created) = t.create_on_send("TopicTest", "TBW102", 4, 0).unwrap().unwrap();
        assert!(created);
        assert_eq!((tc.read_queue_nums, tc.write_queue_nums, tc.perm), (4, 4, 6));
        let v1 = t.wrapper(6).data_version;
        drop(t);
        let t = TopicTable::load(&config(dir.path(), true)).unwrap();
        assert_eq!(t.get("TopicTest").unwrap().write_queue_nums, 4);
        assert_eq!(t.wrapper(6).data_version, v1);
        assert_eq!(t.wrapper(2).topic_config_table["TopicTest"].perm, 2);
    }

    #[test]
    fn no_autocreate_when_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let t = TopicTable::load(&config(dir.path(), false)).unwrap();
        assert!(t.get("TBW102").is_none());
        assert!(t.create_on_send("X", "TBW102", 4, 0).unwrap().is_none());
        assert!(t.create_on_send("%RETRY%g", "TBW102", 4, 0).unwrap().unwrap().1);
        assert!(is_not_allowed_send_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(is_system_topic("rmq_sys_x"));
    }
}
