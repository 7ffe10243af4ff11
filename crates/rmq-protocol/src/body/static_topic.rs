//! 5.x static topics (docs/protocol/admin.md#static-topics): a topic's logic queues mapped onto
//! brokers' physical queues, so that its queue count and offsets survive moving queues between
//! brokers. Java's `org.apache.rocketmq.remoting.protocol.statictopic` bodies; fields in fastjson's
//! (alphabetical) order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::TopicConfig;

/// `MixAll.METADATA_SCOPE_GLOBAL`: the scope of a mapping when none is given.
pub const SCOPE_GLOBAL: &str = "__global__";

fn scope_global() -> String {
    SCOPE_GLOBAL.to_owned()
}

/// `LogicQueueMappingItem`: one generation of a logic queue, on one broker's physical queue.
/// A logic offset `l` of the generation is physical offset `l - logicOffset + startOffset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogicQueueMappingItem {
    pub bname: Option<String>,
    /// The physical end (exclusive) once the generation is closed, else -1.
    pub end_offset: i64,
    pub gen: i32,
    /// The logic offset of the generation's first message.
    pub logic_offset: i64,
    /// The physical queue on `bname`.
    pub queue_id: i32,
    /// The physical offset of the generation's first message.
    pub start_offset: i64,
    pub time_of_end: i64,
    pub time_of_start: i64,
}

impl Default for LogicQueueMappingItem {
    fn default() -> Self {
        LogicQueueMappingItem {
            bname: None,
            end_offset: -1,
            gen: 0,
            logic_offset: 0,
            queue_id: 0,
            start_offset: 0,
            time_of_end: -1,
            time_of_start: -1,
        }
    }
}

/// `TopicQueueMappingInfo`: what a broker registers with the name servers for a static topic
/// and what routes carry (`topicQueueMappingByBroker`): the logic queues it leads
/// (`currIdMap`, logic id to physical id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicQueueMappingInfo {
    pub bname: Option<String>,
    pub curr_id_map: BTreeMap<i32, i32>,
    pub dirty: bool,
    pub epoch: i64,
    #[serde(default = "scope_global")]
    pub scope: String,
    pub topic: Option<String>,
    pub total_queues: i32,
}

impl Default for TopicQueueMappingInfo {
    fn default() -> Self {
        TopicQueueMappingInfo {
            bname: None,
            curr_id_map: BTreeMap::new(),
            dirty: false,
            epoch: 0,
            scope: scope_global(),
            topic: None,
            total_queues: 0,
        }
    }
}

/// `TopicQueueMappingDetail`: a broker's whole mapping of a static topic — per logic queue it
/// hosts, the generations (oldest first; the last is the leader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicQueueMappingDetail {
    pub bname: Option<String>,
    pub curr_id_map: BTreeMap<i32, i32>,
    pub dirty: bool,
    pub epoch: i64,
    pub hosted_queues: BTreeMap<i32, Vec<LogicQueueMappingItem>>,
    #[serde(default = "scope_global")]
    pub scope: String,
    pub topic: Option<String>,
    pub total_queues: i32,
}

impl Default for TopicQueueMappingDetail {
    fn default() -> Self {
        TopicQueueMappingDetail {
            bname: None,
            curr_id_map: BTreeMap::new(),
            dirty: false,
            epoch: 0,
            hosted_queues: BTreeMap::new(),
            scope: scope_global(),
            topic: None,
            total_queues: 0,
        }
    }
}

impl TopicQueueMappingDetail {
    /// `buildIdMap(detail, LEVEL_0)`: logic id to physical id of the queues whose leader (last
    /// generation) is on this mapping's broker.
    pub fn leader_id_map(&self) -> BTreeMap<i32, i32> {
        self.hosted_queues
            .iter()
            .filter_map(|(logic, items)| {
                let leader = items.last()?;
                (leader.bname == self.bname).then_some((*logic, leader.queue_id))
            })
            .collect()
    }

    /// `cloneAsMappingInfo`: what is registered with the name servers.
    pub fn info(&self) -> TopicQueueMappingInfo {
        TopicQueueMappingInfo {
            bname: self.bname.clone(),
            curr_id_map: self.leader_id_map(),
            dirty: false,
            epoch: self.epoch,
            scope: self.scope.clone(),
            topic: self.topic.clone(),
            total_queues: self.total_queues,
        }
    }
}

/// `TopicConfigAndQueueMapping` (GET_TOPIC_CONFIG body): a topic config, with its static-topic
/// mapping when asked for (`lo=true`) and there is one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigAndQueueMapping {
    #[serde(flatten)]
    pub topic_config: TopicConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_detail: Option<TopicQueueMappingDetail>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mapping as the 5.3.1 tools build it for a new static topic on one broker
    /// (`TopicQueueMappingUtils.createTopicConfigMapping`), as fastjson writes it.
    const DETAIL: &str = r#"{"bname":"broker-a","currIdMap":{},"dirty":false,"epoch":1733460000000,"hostedQueues":{"0":[{"bname":"broker-a","endOffset":-1,"gen":0,"logicOffset":0,"queueId":0,"startOffset":0,"timeOfEnd":-1,"timeOfStart":-1}],"1":[{"bname":"broker-a","endOffset":-1,"gen":0,"logicOffset":0,"queueId":1,"startOffset":0,"timeOfEnd":-1,"timeOfStart":-1}]},"scope":"__global__","topic":"StaticT","totalQueues":2}"#;

    #[test]
    fn detail_round_trips_and_gives_the_registered_info() {
        let d: TopicQueueMappingDetail = serde_json::from_str(DETAIL).unwrap();
        assert_eq!(d.hosted_queues.len(), 2);
        assert_eq!(d.hosted_queues[&1][0].queue_id, 1);
        assert_eq!(serde_json::to_string(&d).unwrap(), DETAIL);
        let info = d.info();
        assert_eq!(info.curr_id_map, BTreeMap::from([(0, 0), (1, 1)]));
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"bname":"broker-a","currIdMap":{"0":0,"1":1},"dirty":false,"epoch":1733460000000,"scope":"__global__","topic":"StaticT","totalQueues":2}"#
        );
        // a queue whose leader moved to another broker is not this broker's to serve
        let mut moved = d.clone();
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
        assert_eq!(moved.leader_id_map(), BTreeMap::from([(0, 0)]));
    }

    #[test]
    fn missing_fields_take_java_defaults() {
        let d: TopicQueueMappingDetail = serde_json::from_str(r#"{"topic":"T"}"#).unwrap();
        assert_eq!(d.scope, SCOPE_GLOBAL);
        let item: LogicQueueMappingItem = serde_json::from_str("{}").unwrap();
        assert_eq!((item.end_offset, item.time_of_start), (-1, -1));
        let tc: TopicConfigAndQueueMapping =
            serde_json::from_str(r#"{"topicName":"T","readQueueNums":2,"writeQueueNums":2,"perm":6}"#)
                .unwrap();
        assert_eq!(tc.topic_config.read_queue_nums, 2);
        assert!(tc.mapping_detail.is_none());
    }
}
