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

impl LogicQueueMappingItem {
    /// Whether the generation's first logic offset is known (a freshly remapped generation has
    /// -1 until its broker decides it).
    pub fn logic_offset_decided(&self) -> bool {
        self.logic_offset >= 0
    }

    /// Whether the generation is closed (`endOffset` set past its start).
    pub fn end_offset_decided(&self) -> bool {
        self.end_offset > self.start_offset
    }

    /// The physical offset of logic offset `logic` (Java's `computePhysicalQueueOffset`).
    pub fn physical_offset(&self, logic: i64) -> i64 {
        logic - self.logic_offset + self.start_offset
    }

    /// The logic offset of physical offset `physical`, offsets before the generation mapped to
    /// its first (`computeStaticQueueOffsetStrictly`).
    pub fn logic_offset_strictly(&self, physical: i64) -> i64 {
        if physical < self.start_offset {
            self.logic_offset
        } else {
            self.logic_offset + (physical - self.start_offset)
        }
    }

    /// As [`Self::logic_offset_strictly`], but -1 while the logic offset is undecided and capped at
    /// a closed generation's end (`computeStaticQueueOffsetLoosely`: sends and min offsets).
    pub fn logic_offset_loosely(&self, physical: i64) -> i64 {
        if self.logic_offset < 0 {
            return -1;
        }
        if physical < self.start_offset {
            return self.logic_offset;
        }
        if self.end_offset >= self.start_offset && self.end_offset < physical {
            return self.logic_offset + (self.end_offset - self.start_offset);
        }
        self.logic_offset + (physical - self.start_offset)
    }

    /// The highest logic offset the generation can hold (`computeMaxStaticQueueOffset`).
    pub fn max_logic_offset(&self) -> i64 {
        if self.end_offset >= self.start_offset {
            self.logic_offset + self.end_offset - self.start_offset
        } else {
            self.logic_offset
        }
    }

    /// What a pull adds to a physical message offset to get its logic one (`offsetDelta`).
    pub fn offset_delta(&self) -> i64 {
        self.logic_offset - self.start_offset
    }
}

/// The generation of `items` (oldest first) that holds logic offset `logic` (Java's
/// `TopicQueueMappingUtils.findLogicQueueMappingItem` with `ignoreNegative`): the newest whose
/// logic offset is decided and not above it, else the oldest decided one.
pub fn find_item(items: &[LogicQueueMappingItem], logic: i64) -> Option<&LogicQueueMappingItem> {
    let decided = || items.iter().filter(|i| i.logic_offset_decided());
    decided()
        .rev()
        .find(|i| logic >= i.logic_offset)
        .or_else(|| decided().next())
}

/// The generation after `current` in `items` (Java's `findNext` with `ignoreNegative`): none if
/// `current` is the last or the next one's logic offset is undecided.
pub fn next_item<'a>(
    items: &'a [LogicQueueMappingItem],
    current: &LogicQueueMappingItem,
) -> Option<&'a LogicQueueMappingItem> {
    let at = items
        .iter()
        .position(|i| i.logic_offset_decided() && i.gen == current.gen)?;
    items.get(at + 1).filter(|i| i.logic_offset_decided())
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

/// `TopicRemappingDetailWrapper`: what `updateStaticTopic` / `remappingStaticTopic` write to
/// `<tmp>/<topic>-<epoch>.before|.after` and read back with `-mf`: every broker's topic config
/// and mapping, and (remapping) the brokers queues move into and out of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRemappingDetailWrapper {
    pub broker_config_map: BTreeMap<String, TopicConfigAndQueueMapping>,
    pub broker_to_map_in: std::collections::BTreeSet<String>,
    pub broker_to_map_out: std::collections::BTreeSet<String>,
    pub epoch: i64,
    pub topic: String,
    /// `CREATE_OR_UPDATE` or `REMAPPING`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// [`TopicRemappingDetailWrapper::kind`] of a creation or expansion.
pub const TYPE_CREATE_OR_UPDATE: &str = "CREATE_OR_UPDATE";
/// [`TopicRemappingDetailWrapper::kind`] of a remapping.
pub const TYPE_REMAPPING: &str = "REMAPPING";

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
