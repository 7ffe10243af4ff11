//! Name-server bodies: topic configs, broker registration, routes, cluster info, KV tables
//! (docs/protocol/name-server.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::{BufMut, BytesMut};
use serde::{Deserialize, Serialize};

use super::{de_attributes, de_topic_filter_type, from_fastjson};
use crate::message::{zlib_compress, zlib_decompress, Cursor, MAX_INFLATED_BYTES};
use crate::WireError;

/// Topic permission bits (`PermName`, docs/protocol/name-server.md#permissions).
pub mod perm {
    pub const PRIORITY: i32 = 8;
    pub const READ: i32 = 4;
    pub const WRITE: i32 = 2;
    pub const INHERIT: i32 = 1;

    pub fn is_readable(perm: i32) -> bool {
        perm & READ != 0
    }
    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE != 0
    }
    pub fn is_inherited(perm: i32) -> bool {
        perm & INHERIT != 0
    }
    /// `perm2String`: e.g. `RW-` → "RW", with `-` for missing bits (`R-X`).
    pub fn to_display(perm: i32) -> String {
        let mut s = String::with_capacity(3);
        s.push(if is_readable(perm) { 'R' } else { '-' });
        s.push(if is_writeable(perm) { 'W' } else { '-' });
        s.push(if is_inherited(perm) { 'X' } else { '-' });
        s
    }
}

/// 5.x topic attribute keys (`TopicAttributes`).
pub mod attribute {
    /// `message.type`: NORMAL, FIFO, DELAY, TRANSACTION or MIXED.
    pub const MESSAGE_TYPE: &str = "message.type";
    /// `queue.type`: SimpleCQ or BatchCQ.
    pub const QUEUE_TYPE: &str = "queue.type";
    /// `cleanup.policy`: DELETE or COMPACTION.
    pub const CLEANUP_POLICY: &str = "cleanup.policy";
    /// `reserve.time`: hours, -1 = the broker's default.
    pub const RESERVE_TIME: &str = "reserve.time";
}

/// Topic `topicSysFlag` bits (`TopicSysFlag`).
pub mod topic_sys_flag {
    pub const UNIT: i32 = 0x1;
    pub const UNIT_SUB: i32 = 0x2;
}

/// `DataVersion`: equal only when every field is equal. `stateVersion` (5.x) is the master
/// epoch of a controller-mode broker (0 otherwise); 4.x readers ignore it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    pub counter: i64,
    pub timestamp: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub state_version: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl DataVersion {
    /// Counter + 1, timestamp = `now_ms`.
    pub fn next(&self, now_ms: i64) -> Self {
        Self {
            counter: self.counter + 1,
            timestamp: now_ms,
            state_version: self.state_version,
        }
    }
}

/// `TopicConfig` (topics.json, registration, GET_ALL_TOPIC_CONFIG). `attributes` is 5.x
/// (`message.type`, `queue.type`, `cleanup.policy`, ...); 4.x readers ignore it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    #[serde(deserialize_with = "de_attributes")]
    pub attributes: BTreeMap<String, String>,
    pub order: bool,
    pub perm: i32,
    pub read_queue_nums: i32,
    #[serde(deserialize_with = "de_topic_filter_type")]
    pub topic_filter_type: String,
    pub topic_name: String,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            attributes: BTreeMap::new(),
            order: false,
            perm: perm::READ | perm::WRITE,
            read_queue_nums: 16,
            topic_filter_type: "SINGLE_TAG".to_owned(),
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl TopicConfig {
    /// A config with Java defaults for `topic`.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic_name: topic.into(),
            ..Self::default()
        }
    }

    /// The compressed-registration text form: `"<name> <read> <write> <perm> <filterType>"`,
    /// plus ` <attributes JSON>` when there are attributes (5.x always appends it; a 4.9 name
    /// server accepts exactly five parts, so it is left off when empty).
    pub fn encode_text(&self) -> String {
        let mut s = format!(
            "{} {} {} {} {}",
            self.topic_name, self.read_queue_nums, self.write_queue_nums, self.perm, self.topic_filter_type
        );
        if !self.attributes.is_empty() {
            s.push(' ');
            s.push_str(&String::from_utf8_lossy(&super::to_json(&self.attributes)));
        }
        s
    }

    /// Parses [`encode_text`](Self::encode_text) in the 4.x (five parts) or 5.x (six) form;
    /// `topicSysFlag` and `order` come back as 0/false. Attributes that do not parse are
    /// dropped, as Java does (their values may contain the separator).
    pub fn decode_text(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(' ').collect();
        let (name, read, write, perm, filter) = match parts.as_slice() {
            [name, read, write, perm, filter, ..] => (name, read, write, perm, filter),
            _ => return None,
        };
        let attributes = parts
            .get(5)
            .and_then(|json| from_fastjson::<BTreeMap<String, String>>(json.as_bytes()).ok())
            .unwrap_or_default();
        Some(Self {
            attributes,
            topic_name: (*name).to_owned(),
            read_queue_nums: read.trim().parse().ok()?,
            write_queue_nums: write.trim().parse().ok()?,
            perm: perm.trim().parse().ok()?,
            topic_filter_type: (*filter).to_owned(),
            ..Self::default()
        })
    }

    /// The `message.type` attribute (5.x `TopicMessageType`): NORMAL when absent.
    pub fn message_type(&self) -> &str {
        self.attributes
            .get(attribute::MESSAGE_TYPE)
            .map(String::as_str)
            .unwrap_or("NORMAL")
    }
}

/// `TopicConfigSerializeWrapper`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    pub data_version: DataVersion,
    pub topic_config_table: HashMap<String, TopicConfig>,
    /// 5.x (`TopicConfigAndMappingSerializeWrapper`): the static topics' mappings this broker
    /// leads, by topic, as the name servers put them in routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<HashMap<String, super::static_topic::TopicQueueMappingInfo>>,
    /// 5.x: the static topics' whole mappings on this broker, by topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<HashMap<String, super::static_topic::TopicQueueMappingDetail>>,
    /// 5.x: the version of the mappings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<DataVersion>,
}

/// `RegisterBrokerBody` (REGISTER_BROKER body, docs/protocol/name-server.md#register-broker).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    pub filter_server_list: Vec<String>,
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

/// Request version from which the body is a `RegisterBrokerBody` rather than a bare wrapper.
pub const REGISTER_BODY_MIN_VERSION: i32 = 37;

impl RegisterBrokerBody {
    /// Decodes a REGISTER_BROKER body in whichever of the three formats the header selects
    /// (`compressed` flag, request `version`); an empty body means no topics.
    pub fn decode_request(body: &[u8], compressed: bool, version: i32) -> Result<Self, WireError> {
        if body.is_empty() {
            return Ok(Self::default());
        }
        if compressed {
            return Self::decode_compressed(body);
        }
        if version < REGISTER_BODY_MIN_VERSION {
            let wrapper = from_fastjson(body)?;
            return Ok(Self {
                topic_config_serialize_wrapper: wrapper,
                filter_server_list: Vec::new(),
            });
        }
        from_fastjson(body)
    }

    /// The `compressed=true` form: a zlib stream of length-prefixed parts.
    pub fn encode_compressed(&self) -> Vec<u8> {
        let mut raw = BytesMut::new();
        let put = |raw: &mut BytesMut, bytes: &[u8]| {
            raw.put_i32(bytes.len() as i32);
            raw.put_slice(bytes);
        };
        let w = &self.topic_config_serialize_wrapper;
        put(&mut raw, &super::to_json(&w.data_version));
        raw.put_i32(w.topic_config_table.len() as i32);
        let mut topics: Vec<_> = w.topic_config_table.values().collect();
        topics.sort_by(|a, b| a.topic_name.cmp(&b.topic_name));
        for t in topics {
            put(&mut raw, t.encode_text().as_bytes());
        }
        put(&mut raw, &super::to_json(&self.filter_server_list));
        if let Some(mappings) = &w.topic_queue_mapping_info_map {
            raw.put_i32(mappings.len() as i32);
            for info in mappings.values() {
                put(&mut raw, &super::to_json(info));
            }
        }
        zlib_compress(&raw, 9)
    }

    /// Decodes the `compressed=true` form.
    pub fn decode_compressed(body: &[u8]) -> Result<Self, WireError> {
        let raw = zlib_decompress(body, MAX_INFLATED_BYTES)?;
        let mut c = Cursor::new(&raw);
        let len = c.i32("data version length")?;
        let data_version = from_fastjson(c.sized(len.into(), "data version")?)?;
        let count = c.i32("topic count")?;
        let mut table = HashMap::new();
        for _ in 0..count.max(0) {
            let len = c.i32("topic config length")?;
            let text = c.sized(len.into(), "topic config")?;
            let text = std::str::from_utf8(text).map_err(|_| WireError::Utf8("topic config"))?;
            let tc = TopicConfig::decode_text(text)
                .ok_or_else(|| WireError::BadBody(format!("bad topic config text {text:?}")))?;
            table.insert(tc.topic_name.clone(), tc);
        }
        let len = c.i32("filter server list length")?;
        let filter_server_list = from_fastjson(c.sized(len.into(), "filter server list")?)?;
        // 5.x brokers append their static topics' mappings (a count, then each as JSON)
        let mut mappings = None;
        if c.remaining() >= 4 {
            let count = c.i32("topic queue mapping count")?;
            let mut map = HashMap::new();
            for _ in 0..count.max(0) {
                let len = c.i32("topic queue mapping length")?;
                let info: super::static_topic::TopicQueueMappingInfo =
                    from_fastjson(c.sized(len.into(), "topic queue mapping")?)?;
                map.insert(info.topic.clone().unwrap_or_default(), info);
            }
            mappings = Some(map);
        }
        Ok(Self {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                topic_config_table: table,
                topic_queue_mapping_info_map: mappings,
                ..TopicConfigSerializeWrapper::default()
            },
        })
    }
}

/// `QueueData`: one broker's queues of a topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    pub broker_name: String,
    pub perm: i32,
    pub read_queue_nums: i32,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

/// `BrokerData`: the addresses of one broker name, keyed by broker id (0 = master).
/// `enableActingMaster` and `zoneName` are 5.x (clients such as rocketmq-client-rust require the
/// first); 4.x readers ignore them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
    #[serde(deserialize_with = "super::de_lenient_bool")]
    pub enable_acting_master: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

/// Broker id of a master.
pub const MASTER_ID: i64 = 0;

impl BrokerData {
    /// The master's address (id 0), if any.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// `TopicRouteData` (GET_ROUTEINFO_BY_TOPIC body, docs/protocol/name-server.md#route).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    pub broker_datas: Vec<BrokerData>,
    /// Always written (Java clients break on null).
    pub filter_server_table: HashMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
    /// 5.x static topics: broker name → `TopicQueueMappingInfo`. Absent (as from Java) for
    /// ordinary topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<BTreeMap<String, super::static_topic::TopicQueueMappingInfo>>,
}

/// `ClusterInfo` (GET_BROKER_CLUSTER_INFO body, docs/protocol/name-server.md#cluster-info).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    pub broker_addr_table: HashMap<String, BrokerData>,
    pub cluster_addr_table: HashMap<String, BTreeSet<String>>,
}

/// `TopicList`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    pub topic_list: Vec<String>,
}

/// `KVTable`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KvTable {
    pub table: HashMap<String, String>,
}

/// KV namespace of order-topic configs (`"brokerName:queueNum;…"` per topic).
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";
