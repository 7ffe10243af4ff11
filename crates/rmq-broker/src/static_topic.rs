//! 5.x static topics on this broker (Java's `TopicQueueMappingManager`,
//! `config/topicQueueMapping.json`): per static topic, the mapping of the logic queues this
//! broker hosts onto its physical queues (docs/broker/admin.md#static-topics).
//!
//! The mappings are kept, persisted, answered (GET_TOPIC_CONFIG with `lo=true`) and registered
//! with the name servers, which put them in routes; 5.x clients then address the topic's logic
//! queues. Requests for a logic queue this broker leads are translated as Java's processors do
//! (`rewriteRequestForStaticTopic` / `rewriteResponseForStaticTopic`): the logic queue id to the
//! generation's physical queue, logic offsets to physical ones and back ([`LogicQueue`]). What
//! needs a generation on another broker (reading a queue remapped away from it) is forwarded
//! to that broker, as Java does.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rmq_protocol::body::static_topic::{
    find_item, next_item, LogicQueueMappingItem, TopicQueueMappingDetail, TopicQueueMappingInfo,
};
use rmq_protocol::body::DataVersion;
use rmq_protocol::time::Clock;
use rmq_protocol::RemotingCommand;
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
        for items in new.hosted_queues.values() {
            check_items(items)?;
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

    /// The logic queue `queue_id` of `topic` as this broker serves it (Java's
    /// `buildTopicQueueMappingContext` and its leader check): `None` for an ordinary topic or a
    /// request marked `lo=false` (a forwarded one, already physical); NOT_LEADER_FOR_QUEUE when
    /// this broker does not lead the logic queue. `select_one` (sends): a negative queue id
    /// picks the first logic queue hosted here.
    pub fn logic_queue(
        &self,
        req: &RemotingCommand,
        topic: &str,
        queue_id: i32,
        select_one: bool,
    ) -> Result<Option<LogicQueue>, NotServed> {
        if !self.any.load(Ordering::Relaxed) || req.ext("lo") == Some("false") {
            return Ok(None);
        }
        let state = self.state.lock();
        let Some(detail) = state.topic_queue_mapping_table.get(topic) else {
            return Ok(None);
        };
        let mut global_id = queue_id;
        if global_id < 0 && select_one {
            global_id = detail.hosted_queues.keys().next().copied().unwrap_or(-1);
        }
        let items = detail.hosted_queues.get(&global_id);
        match items.and_then(|items| items.last()) {
            Some(leader) if leader.bname.as_deref() == Some(self.broker_name.as_str()) => {
                Ok(Some(LogicQueue {
                    topic: topic.to_owned(),
                    global_id,
                    broker_name: self.broker_name.clone(),
                    items: items.cloned().unwrap_or_default(),
                }))
            }
            _ => Err(NotServed {
                code: rmq_protocol::codes::response_code::NOT_LEADER_FOR_QUEUE,
                remark: format!(
                    "{topic}-{queue_id} does not exit in request process of current broker {}",
                    self.broker_name
                ),
            }),
        }
    }
}

/// Java's `TopicQueueMappingUtils.checkLogicQueueMappingItemOffset`: from the newest generation
/// back, no negative start / gen / queue, a logic offset decided on all but the newest, gens and
/// decided logic offsets (and the older generations' highest) strictly decreasing.
fn check_items(items: &[LogicQueueMappingItem]) -> Result<(), String> {
    let (mut last_gen, mut last_offset) = (-1, -1);
    for (i, item) in items.iter().enumerate().rev() {
        if item.start_offset < 0 || item.gen < 0 || item.queue_id < 0 {
            return Err("The field is illegal, should not be negative".into());
        }
        if i + 2 <= items.len() && item.logic_offset < 0 {
            return Err("The non-latest item has negative logic offset".into());
        }
        if last_gen != -1 && item.gen >= last_gen {
            return Err("The gen dose not increase monotonically".into());
        }
        if item.end_offset != -1 && item.end_offset < item.start_offset {
            return Err("The endOffset is smaller than the start offset".into());
        }
        if last_offset != -1 && item.logic_offset != -1 {
            if item.logic_offset >= last_offset {
                return Err("The base logic offset dose not increase monotonically".into());
            }
            if item.max_logic_offset() >= last_offset {
                return Err("The max logic offset dose not increase monotonically".into());
            }
        }
        last_gen = item.gen;
        last_offset = item.logic_offset;
    }
    Ok(())
}

/// A logic queue of a static topic led by this broker: its generations, oldest first, the last
/// (the leader) here. Requests for a generation on another broker are forwarded to it
/// ([`forward`]).
#[derive(Debug, Clone)]
pub struct LogicQueue {
    pub topic: String,
    /// The logic queue id.
    pub global_id: i32,
    broker_name: String,
    items: Vec<LogicQueueMappingItem>,
}

impl LogicQueue {
    /// The generations, oldest first.
    pub fn items(&self) -> &[LogicQueueMappingItem] {
        &self.items
    }

    /// The generation that takes new messages: a physical queue of this broker.
    pub fn leader(&self) -> &LogicQueueMappingItem {
        self.items.last().expect("a logic queue has a leader")
    }

    /// The generation holding logic offset `logic` (here or on another broker).
    pub fn item_for(&self, logic: i64) -> Result<&LogicQueueMappingItem, NotServed> {
        find_item(&self.items, logic).ok_or_else(|| NotServed {
            code: rmq_protocol::codes::response_code::SYSTEM_ERROR,
            remark: format!(
                "The logic queue {} of static topic {} has no generation with a decided logic offset",
                self.global_id, self.topic
            ),
        })
    }

    /// Whether generation `item` is a physical queue of this broker.
    pub fn is_local(&self, item: &LogicQueueMappingItem) -> bool {
        item.bname.as_deref() == Some(self.broker_name.as_str())
    }

    /// The generation with the lowest offsets (what min offsets and store times start from).
    pub fn earliest(&self) -> Result<&LogicQueueMappingItem, NotServed> {
        self.item_for(0)
    }

    /// The generation holding the highest offsets (Java's `findLogicQueueMappingItem(MAX)`).
    pub fn newest(&self) -> Result<&LogicQueueMappingItem, NotServed> {
        self.item_for(i64::MAX)
    }

    /// The generation after `item`, if decided.
    pub fn next(&self, item: &LogicQueueMappingItem) -> Option<&LogicQueueMappingItem> {
        next_item(&self.items, item)
    }
}

/// How long a request forwarded to another broker's generation waits (Java's `forwardTimeout`).
const FORWARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Sends `req`, a request for a static topic's logic queue, to the broker holding generation
/// `item` as a physical request (Java's `RpcClient.invoke` of a rewritten header): `lo=false`,
/// the item's broker name and physical queue, plus `changes` (physical offsets, flags). The
/// master's address comes from the topic's route. The answer keeps `req`'s opaque.
pub(crate) async fn forward(
    s: &crate::BrokerState,
    topic: &str,
    item: &LogicQueueMappingItem,
    req: &RemotingCommand,
    changes: &[(&str, String)],
) -> Result<RemotingCommand, NotServed> {
    let failed = |remark: String| NotServed {
        code: rmq_protocol::codes::response_code::SYSTEM_ERROR,
        remark,
    };
    let bname = item.bname.as_deref().unwrap_or_default();
    let route = crate::register::topic_route(s, topic)
        .await
        .ok_or_else(|| failed(format!("no route of static topic {topic} to find broker {bname}")))?;
    let addr = route
        .broker_datas
        .iter()
        .find(|b| b.broker_name == bname)
        .and_then(|b| b.broker_addrs.get(&0))
        .ok_or_else(|| failed(format!("no master of broker {bname} in the route of {topic}")))?
        .clone();
    let mut forwarded = req.clone();
    forwarded.flag = 0;
    for key in ["AccessKey", "Signature", "SecurityToken"] {
        forwarded.ext_fields.remove(key);
    }
    forwarded.ext_fields.insert("lo".into(), "false".into());
    forwarded.ext_fields.insert("bname".into(), bname.into());
    forwarded
        .ext_fields
        .insert("queueId".into(), item.queue_id.to_string());
    for (key, value) in changes {
        forwarded.ext_fields.insert((*key).into(), value.clone());
    }
    let mut resp = s
        .namesrv
        .invoke(&addr, forwarded, FORWARD_TIMEOUT)
        .await
        .map_err(|e| failed(format!("forwarding to broker {bname} ({addr}) failed: {e}")))?;
    resp.opaque = req.opaque;
    Ok(resp)
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

    /// The physical queue serving logic queue `q` of `topic`, if it is static.
    fn leader(t: &StaticTopics, topic: &str, q: i32) -> Result<Option<i32>, NotServed> {
        let req = RemotingCommand::request(rmq_protocol::codes::request_code::PULL_MESSAGE);
        t.logic_queue(&req, topic, q, false)
            .map(|lq| lq.map(|lq| lq.leader().queue_id))
    }

    #[test]
    fn updates_follow_java_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(dir.path());
        assert_eq!(leader(&t, "S", 0), Ok(None));
        t.update(detail(10, &[(0, "broker-a"), (1, "broker-a")]), false)
            .unwrap();
        assert_eq!(leader(&t, "S", 1), Ok(Some(1)));
        assert_eq!(leader(&t, "Other", 5), Ok(None));
        assert_eq!(
            leader(&t, "S", 2).unwrap_err().code,
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

        // a queue remapped to another broker: its new leader serves it, not this broker
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
        let refused = leader(&t, "S", 1).unwrap_err();
        assert_eq!(
            refused.remark,
            "S-1 does not exit in request process of current broker broker-a"
        );

        let again = table(dir.path());
        assert_eq!(again.get("S").unwrap().epoch, 12);
        again.delete("S").unwrap();
        assert_eq!(table(dir.path()).get("S"), None);
        assert_eq!(leader(&again, "S", 1), Ok(None));
    }

    #[test]
    fn mapping_items_are_checked_as_java_checks_them() {
        let item = |gen, logic_offset, bname: &str| LogicQueueMappingItem {
            bname: Some(bname.into()),
            gen,
            logic_offset,
            ..LogicQueueMappingItem::default()
        };
        // a remapping's first step: the new generation's logic offset not decided yet
        assert_eq!(check_items(&[item(0, 0, "b"), item(1, -1, "a")]), Ok(()));
        assert_eq!(check_items(&[item(0, 0, "b"), item(1, 10000, "a")]), Ok(()));
        assert_eq!(check_items(&[]), Ok(()));
        assert_eq!(
            check_items(&[item(0, -1, "b"), item(1, 10000, "a")]).unwrap_err(),
            "The non-latest item has negative logic offset"
        );
        assert_eq!(
            check_items(&[item(1, 0, "b"), item(1, 10000, "a")]).unwrap_err(),
            "The gen dose not increase monotonically"
        );
        assert_eq!(
            check_items(&[item(0, 10000, "b"), item(1, 10000, "a")]).unwrap_err(),
            "The base logic offset dose not increase monotonically"
        );
    }

    #[test]
    fn logic_queues_translate_to_their_generations() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(dir.path());
        // logic queue 5: generation 0 on broker-b (logic 0.., closed at physical 40), generation
        // 1 here on physical queue 2 from physical offset 10 as logic offset 50.
        let mut d = detail(1, &[]);
        d.hosted_queues.insert(
            5,
            vec![
                LogicQueueMappingItem {
                    bname: Some("broker-b".into()),
                    queue_id: 0,
                    end_offset: 40,
                    ..LogicQueueMappingItem::default()
                },
                LogicQueueMappingItem {
                    bname: Some("broker-a".into()),
                    gen: 1,
                    queue_id: 2,
                    logic_offset: 50,
                    start_offset: 10,
                    ..LogicQueueMappingItem::default()
                },
            ],
        );
        d.total_queues = 6;
        t.update(d, false).unwrap();
        let req = RemotingCommand::request(rmq_protocol::codes::request_code::SEND_MESSAGE);
        let lq = t.logic_queue(&req, "S", 5, false).unwrap().unwrap();
        assert_eq!((lq.global_id, lq.leader().queue_id), (5, 2));
        let item = lq.item_for(55).unwrap();
        assert!(lq.is_local(item));
        assert_eq!(item.physical_offset(55), 15);
        assert_eq!(item.logic_offset_strictly(15), 55);
        assert_eq!(item.logic_offset_strictly(3), 50);
        assert_eq!(item.offset_delta(), 40);
        // the older generation is on broker-b
        assert!(!lq.is_local(lq.item_for(45).unwrap()));
        assert_eq!(lq.earliest().unwrap().bname.as_deref(), Some("broker-b"));
        assert_eq!(lq.newest().unwrap().gen, 1);
        let first = &lq.items()[0];
        assert_eq!(lq.next(first).map(|i| i.gen), Some(1));
        assert_eq!(lq.next(lq.leader()), None);
        // a send without a queue picks the first hosted logic queue
        let picked = t.logic_queue(&req, "S", -1, true).unwrap().unwrap();
        assert_eq!(picked.global_id, 5);
        // a forwarded request (lo=false) is physical already
        let forwarded = req.with_ext("lo", "false");
        assert!(t.logic_queue(&forwarded, "S", 5, false).unwrap().is_none());
    }
}
