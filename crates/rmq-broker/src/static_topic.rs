//! 5.x static topics on this broker (Java's `TopicQueueMappingManager`,
//! `config/topicQueueMapping.json`): per static topic, the mapping of the logic queues this
//! broker hosts onto its physical queues (docs/broker/admin.md#static-topics).
//!
//! The mappings are kept, persisted, answered (GET_TOPIC_CONFIG with `lo=true`) and registered
//! with the name servers, which put them in routes; 5.x clients then address the topic's logic
//! queues. A logic queue whose only generation is this broker's physical queue of the same id
//! from offset 0 (what `updateStaticTopic` creates) is that physical queue, offsets included,
//! and is served as it. Any other (a static topic spread over several brokers, whose logic ids
//! differ from the physical ones, or remapped across brokers: several generations, translated
//! offsets) is refused with a clear error: rmq does not translate queue ids or offsets, nor
//! forward to the leader.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rmq_protocol::body::static_topic::{TopicQueueMappingDetail, TopicQueueMappingInfo};
use rmq_protocol::body::DataVersion;
use rmq_protocol::time::Clock;
use serde::{Deserialize, Serialize};

use crate::{BrokerConfig, BrokerError};

/// `topicQueueMapping.json` as Java writes it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MappingFile {
    data_version: DataVersion,
    topic_queue_mapping_table: BTreeMap<String, TopicQueueMappingDetail>,
}

/// The static topics' mappings of this broker.
#[derive(Debug)]
pub struct StaticTopics {
    path: PathBuf,
    broker_name: String,
    clock: Clock,
    /// Whether any static topic exists: the per-request check costs a load when none does.
    any: AtomicBool,
    state: Mutex<MappingFile>,
}

/// Why a request to a static topic's logic queue is not served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotServed {
    /// NOT_LEADER_FOR_QUEUE (the leader is elsewhere) or SYSTEM_ERROR.
    pub code: i32,
    pub remark: String,
}

impl StaticTopics {
    /// Loads `config/topicQueueMapping.json` (absent: no static topics).
    pub fn load(config: &BrokerConfig) -> Result<StaticTopics, BrokerError> {
        let path = config
            .store
            .store_path_root_dir
            .join("config")
            .join("topicQueueMapping.json");
        let file = match rmq_store::config_file::read_with_backup(&path)? {
            Some(bytes) => {
                rmq_protocol::body::from_fastjson(&bytes).map_err(|source| BrokerError::Metadata {
                    path: path.clone(),
                    source,
                })?
            }
            None => MappingFile {
                data_version: DataVersion {
                    counter: 0,
                    timestamp: config.store.clock.now_ms(),
                    state_version: 0,
                },
                ..MappingFile::default()
            },
        };
        Ok(StaticTopics {
            path,
            broker_name: config.broker_name.clone(),
            clock: config.store.clock.clone(),
            any: AtomicBool::new(!file.topic_queue_mapping_table.is_empty()),
            state: Mutex::new(file),
        })
    }

    /// The topic's mapping on this broker.
    pub fn get(&self, topic: &str) -> Option<TopicQueueMappingDetail> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        self.state.lock().topic_queue_mapping_table.get(topic).cloned()
    }

    /// UPDATE_AND_CREATE_STATIC_TOPIC: takes `new` as Java's `updateTopicQueueMapping` does — a
    /// smaller epoch or another scope is refused, an equal epoch must keep every hosted queue,
    /// queues the new mapping leaves out keep their old generations; `force` takes it whatever
    /// its epoch (old queues it leaves out kept). Persisted before it answers.
    pub fn update(&self, mut new: TopicQueueMappingDetail, force: bool) -> Result<(), String> {
        let topic = new.topic.clone().unwrap_or_default();
        if new.bname.as_deref() != Some(self.broker_name.as_str()) {
            return Err(format!(
                "The mapping's broker name {} is not this broker's {}",
                new.bname.as_deref().unwrap_or("null"),
                self.broker_name
            ));
        }
        for (id, items) in &new.hosted_queues {
            let ascending = items
                .windows(2)
                .all(|w| w[0].logic_offset <= w[1].logic_offset && w[0].gen <= w[1].gen);
            if items.is_empty() || !ascending {
                return Err(format!(
                    "The mapping items of queue {id} are empty or out of order: {items:?}"
                ));
            }
        }
        let mut state = self.state.lock();
        if let Some(old) = state.topic_queue_mapping_table.get(&topic) {
            if !force {
                if new.epoch < old.epoch {
                    return Err(format!(
                        "Can't accept data with small epoch {} < {}",
                        new.epoch, old.epoch
                    ));
                }
                if new.scope != old.scope {
                    return Err(format!(
                        "Can't accept data with unmatched scope {} != {}",
                        new.scope, old.scope
                    ));
                }
                if new.epoch == old.epoch
                    && old
                        .hosted_queues
                        .keys()
                        .any(|id| !new.hosted_queues.contains_key(id))
                {
                    return Err("Cannot accept equal epoch with null data".to_owned());
                }
            }
            for (id, items) in &old.hosted_queues {
                new.hosted_queues.entry(*id).or_insert_with(|| items.clone());
            }
        }
        new.curr_id_map = new.leader_id_map();
        state.topic_queue_mapping_table.insert(topic, new);
        state.data_version = state.data_version.next(self.clock.now_ms());
        self.any.store(true, Ordering::Relaxed);
        crate::write_json(&self.path, "topicQueueMapping.json", &*state).map_err(|e| e.to_string())
    }

    /// Drops a deleted topic's mapping.
    pub fn delete(&self, topic: &str) -> Result<(), BrokerError> {
        let mut state = self.state.lock();
        if state.topic_queue_mapping_table.remove(topic).is_some() {
            state.data_version = state.data_version.next(self.clock.now_ms());
            self.any
                .store(!state.topic_queue_mapping_table.is_empty(), Ordering::Relaxed);
            crate::write_json(&self.path, "topicQueueMapping.json", &*state)?;
        }
        Ok(())
    }

    /// What a registration carries: every mapping as its info and whole, and their version.
    #[allow(
        clippy::type_complexity,
        reason = "the three fields of the registration wrapper"
    )]
    pub fn registration(
        &self,
    ) -> (
        HashMap<String, TopicQueueMappingInfo>,
        HashMap<String, TopicQueueMappingDetail>,
        DataVersion,
    ) {
        let state = self.state.lock();
        let infos = state
            .topic_queue_mapping_table
            .iter()
            .map(|(t, d)| (t.clone(), d.info()))
            .collect();
        let details = state.topic_queue_mapping_table.clone().into_iter().collect();
        (infos, details, state.data_version)
    }

    /// Whether this broker serves logic queue `queue_id` of `topic` as its physical queue of the
    /// same id: always for an ordinary topic; for a static one when the queue's only generation
    /// is that physical queue here from offset 0.
    pub fn check_queue(&self, topic: &str, queue_id: i32) -> Result<(), NotServed> {
        if !self.any.load(Ordering::Relaxed) {
            return Ok(());
        }
        let state = self.state.lock();
        let Some(detail) = state.topic_queue_mapping_table.get(topic) else {
            return Ok(());
        };
        let not_leader = |remark: String| NotServed {
            code: rmq_protocol::codes::response_code::NOT_LEADER_FOR_QUEUE,
            remark,
        };
        let Some(items) = detail.hosted_queues.get(&queue_id) else {
            return Err(not_leader(format!(
                "The logic queue {queue_id} of static topic {topic} is not hosted by {}",
                self.broker_name
            )));
        };
        let Some(leader) = items.last() else {
            return Err(not_leader(format!(
                "The logic queue {queue_id} of {topic} has no mapping"
            )));
        };
        if leader.bname.as_deref() != Some(self.broker_name.as_str()) {
            return Err(not_leader(format!(
                "The leader of logic queue {queue_id} of static topic {topic} is {}, not {}",
                leader.bname.as_deref().unwrap_or("null"),
                self.broker_name
            )));
        }
        if items.len() > 1 || leader.queue_id != queue_id || leader.logic_offset != leader.start_offset {
            return Err(NotServed {
                code: rmq_protocol::codes::response_code::SYSTEM_ERROR,
                remark: format!(
                    "The logic queue {queue_id} of static topic {topic} is physical queue {} from \
                     logic offset {} (generation {}): rmq serves a logic queue only as the physical \
                     queue of the same id from offset 0 (a static topic on one broker, not remapped \
                     across brokers)",
                    leader.queue_id, leader.logic_offset, leader.gen
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::body::static_topic::LogicQueueMappingItem;

    fn detail(epoch: i64, queues: &[(i32, &str)]) -> TopicQueueMappingDetail {
        TopicQueueMappingDetail {
            topic: Some("S".into()),
            bname: Some("broker-a".into()),
            epoch,
            total_queues: queues.len() as i32,
            hosted_queues: queues
                .iter()
                .map(|(id, bname)| {
                    let item = LogicQueueMappingItem {
                        bname: Some((*bname).into()),
                        queue_id: *id,
                        ..LogicQueueMappingItem::default()
                    };
                    (*id, vec![item])
                })
                .collect(),
            ..TopicQueueMappingDetail::default()
        }
    }

    fn table(dir: &std::path::Path) -> StaticTopics {
        let mut config = BrokerConfig::default();
        config.store.store_path_root_dir = dir.to_path_buf();
        config.broker_name = "broker-a".into();
        StaticTopics::load(&config).unwrap()
    }

    #[test]
    fn updates_follow_java_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(dir.path());
        assert_eq!(t.check_queue("S", 0), Ok(()));
        t.update(detail(10, &[(0, "broker-a"), (1, "broker-a")]), false)
            .unwrap();
        assert_eq!(t.check_queue("S", 1), Ok(()));
        assert_eq!(t.check_queue("Other", 5), Ok(()));
        assert_eq!(
            t.check_queue("S", 2).unwrap_err().code,
            rmq_protocol::codes::response_code::NOT_LEADER_FOR_QUEUE
        );
        let err = t.update(detail(9, &[(0, "broker-a")]), false).unwrap_err();
        assert_eq!(err, "Can't accept data with small epoch 9 < 10");
        let err = t.update(detail(10, &[(0, "broker-a")]), false).unwrap_err();
        assert_eq!(err, "Cannot accept equal epoch with null data");
        let mut other = detail(11, &[(0, "broker-a")]);
        other.bname = Some("broker-b".into());
        assert!(t
            .update(other, false)
            .unwrap_err()
            .contains("not this broker's broker-a"));
        // a newer epoch without queue 1 keeps its old generation
        t.update(detail(11, &[(0, "broker-a")]), false).unwrap();
        assert_eq!(t.get("S").unwrap().hosted_queues.len(), 2);
        let (infos, details, _) = t.registration();
        assert_eq!(infos["S"].curr_id_map, BTreeMap::from([(0, 0), (1, 1)]));
        assert_eq!(details["S"].epoch, 11);

        // a queue remapped to another broker: not served here
        let mut moved = detail(12, &[(0, "broker-a"), (1, "broker-a")]);
        moved
            .hosted_queues
            .get_mut(&1)
            .unwrap()
            .push(LogicQueueMappingItem {
                bname: Some("broker-b".into()),
                gen: 1,
                logic_offset: 1000,
                ..LogicQueueMappingItem::default()
            });
        t.update(moved, false).unwrap();
        let refused = t.check_queue("S", 1).unwrap_err();
        assert!(
            refused.remark.contains("is broker-b, not broker-a"),
            "{refused:?}"
        );

        let again = table(dir.path());
        assert_eq!(again.get("S").unwrap().epoch, 12);
        again.delete("S").unwrap();
        assert_eq!(table(dir.path()).get("S"), None);
        assert_eq!(again.check_queue("S", 1), Ok(()));
    }
}
