//! Admin and monitoring bodies (docs/protocol/admin.md).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{
    de_consume_from_where, de_consume_type, de_language, de_message_model, mq_map, DataVersion, MessageQueue,
    SubscriptionData,
};

/// `ConsumeStats` (GET_CONSUME_STATS body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStats {
    pub consume_tps: f64,
    #[serde(with = "mq_map")]
    pub offset_table: HashMap<MessageQueue, OffsetWrapper>,
}

/// One queue of [`ConsumeStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    pub broker_offset: i64,
    pub consumer_offset: i64,
    pub last_timestamp: i64,
    /// 5.x: the next offset served to the group (at least `consumerOffset`).
    pub pull_offset: i64,
}

/// `ProducerTableInfo` (GET_ALL_PRODUCER_INFO body): producer group → its connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerTableInfo {
    pub data: HashMap<String, Vec<ProducerInfo>>,
}

/// One producer connection of [`ProducerTableInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerInfo {
    pub client_id: String,
    /// `/ip:port`, as Java prints a channel's remote address.
    #[serde(rename = "remoteIP")]
    pub remote_ip: String,
    #[serde(deserialize_with = "de_language")]
    pub language: String,
    pub version: i32,
    pub last_update_timestamp: i64,
}

/// `ConsumeStatsList` (GET_BROKER_CONSUME_STATS body): per subscription group, one
/// `BrokerStatsData` (VIEW_BROKER_STATS_DATA body): one statistics item over the last minute,
/// hour and day. Fields in fastjson's (alphabetical) order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerStatsData {
    pub stats_day: BrokerStatsItem,
    pub stats_hour: BrokerStatsItem,
    pub stats_minute: BrokerStatsItem,
}

/// One window of [`BrokerStatsData`]: the value added, per second, and per addition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerStatsItem {
    pub avgpt: f64,
    pub sum: i64,
    pub tps: f64,
}

/// [`ConsumeStats`] per topic it has offsets for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStatsList {
    pub consume_stats_list: Vec<HashMap<String, Vec<ConsumeStats>>>,
    pub broker_addr: String,
    pub total_diff: i64,
    /// 5.x: the messages pulled but not yet committed, over every group.
    pub total_inflight_diff: i64,
}

/// `QueryConsumeQueueResponseBody` (QUERY_CONSUME_QUEUE body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryConsumeQueueResponseBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<SubscriptionData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_data: Option<String>,
    pub queue_data: Vec<ConsumeQueueData>,
    pub max_queue_index: i64,
    pub min_queue_index: i64,
}

/// One consume-queue entry of [`QueryConsumeQueueResponseBody`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeQueueData {
    pub physic_offset: i64,
    pub physic_size: i32,
    pub tags_code: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extend_data_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_map: Option<String>,
    /// Whether the group's filter matches (only computed for consume-queue extension entries,
    /// which rmq does not write, so always false as in Java for plain entries).
    pub eval: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

/// `TopicStatsTable` (GET_TOPIC_STATS_INFO body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStatsTable {
    #[serde(with = "mq_map")]
    pub offset_table: HashMap<MessageQueue, TopicOffset>,
}

/// One queue of [`TopicStatsTable`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    pub last_update_timestamp: i64,
    pub max_offset: i64,
    pub min_offset: i64,
}

/// `GroupList` (QUERY_TOPIC_CONSUME_BY_WHO body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    pub group_list: Vec<String>,
}

/// `Connection`: one client connection of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    pub client_addr: String,
    pub client_id: String,
    /// LanguageCode name, e.g. `JAVA`.
    #[serde(deserialize_with = "de_language")]
    pub language: String,
    pub version: i32,
}

/// `ConsumerConnection` (GET_CONSUMER_CONNECTION_LIST body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    pub connection_set: Vec<Connection>,
    #[serde(deserialize_with = "de_consume_from_where")]
    pub consume_from_where: String,
    #[serde(deserialize_with = "de_consume_type")]
    pub consume_type: String,
    #[serde(deserialize_with = "de_message_model")]
    pub message_model: String,
    pub subscription_table: HashMap<String, SubscriptionData>,
}

/// `ProducerConnection` (GET_PRODUCER_CONNECTION_LIST body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    pub connection_set: Vec<Connection>,
}

/// `SubscriptionGroupConfig` (spec A.9); `Default` gives the auto-create defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// 5.x group attributes; 4.x readers ignore them.
    #[serde(deserialize_with = "super::de_attributes")]
    pub attributes: BTreeMap<String, String>,
    pub broker_id: i64,
    pub consume_broadcast_enable: bool,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    /// 5.x: FIFO consumption (orderly POP, gRPC FIFO groups).
    pub consume_message_orderly: bool,
    /// 5.x.
    pub consume_timeout_minute: i32,
    pub group_name: String,
    /// 5.x `GroupRetryPolicy`, kept as written (rmq retries by the delay levels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_retry_policy: Option<serde_json::Value>,
    /// 5.x.
    pub group_sys_flag: i32,
    pub notify_consumer_ids_changed_enable: bool,
    pub retry_max_times: i32,
    pub retry_queue_nums: i32,
    /// 5.x `SimpleSubscriptionData` set, kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data_set: Option<Vec<serde_json::Value>>,
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        Self {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_retry_policy: None,
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    pub fn new(group: impl Into<String>) -> Self {
        Self {
            group_name: group.into(),
            ..Self::default()
        }
    }
}

/// `SubscriptionGroupWrapper` (GET_ALL_SUBSCRIPTIONGROUP_CONFIG body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    pub data_version: DataVersion,
    pub subscription_group_table: HashMap<String, SubscriptionGroupConfig>,
}

/// `ConsumerOffsetSerializeWrapper`: `"topic@group"` → queue id → offset (spec A.10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerOffsetSerializeWrapper {
    pub offset_table: HashMap<String, HashMap<i32, i64>>,
}

/// `QueryCorrectionOffsetBody`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryCorrectionOffsetBody {
    pub correction_offsets: HashMap<i32, i64>,
}

/// `ConsumerRunningInfo` (GET_CONSUMER_RUNNING_INFO body, spec A.6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerRunningInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jstack: Option<String>,
    #[serde(with = "mq_map")]
    pub mq_table: HashMap<MessageQueue, ProcessQueueInfo>,
    pub properties: HashMap<String, String>,
    pub status_table: HashMap<String, ConsumeStatus>,
    pub subscription_set: Vec<SubscriptionData>,
}

/// One queue of [`ConsumerRunningInfo`] (`droped` is Java's spelling).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessQueueInfo {
    pub cached_msg_count: i64,
    pub cached_msg_max_offset: i64,
    pub cached_msg_min_offset: i64,
    #[serde(rename = "cachedMsgSizeInMiB")]
    pub cached_msg_size_in_mib: i64,
    pub commit_offset: i64,
    pub droped: bool,
    pub last_consume_timestamp: i64,
    pub last_lock_timestamp: i64,
    pub last_pull_timestamp: i64,
    pub locked: bool,
    pub transaction_msg_count: i64,
    pub transaction_msg_max_offset: i64,
    pub transaction_msg_min_offset: i64,
    pub try_unlock_times: i64,
}

/// Per-topic consume status of [`ConsumerRunningInfo`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumeStatus {
    #[serde(rename = "consumeFailedMsgs")]
    pub consume_failed_msgs: i64,
    #[serde(rename = "consumeFailedTPS")]
    pub consume_failed_tps: f64,
    #[serde(rename = "consumeOKTPS")]
    pub consume_ok_tps: f64,
    #[serde(rename = "consumeRT")]
    pub consume_rt: f64,
    #[serde(rename = "pullRT")]
    pub pull_rt: f64,
    #[serde(rename = "pullTPS")]
    pub pull_tps: f64,
}

/// `GetConsumerStatusBody` (GET_CONSUMER_STATUS_FROM_CLIENT / INVOKE_BROKER_TO_GET_CONSUMER_STATUS).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerStatusBody {
    /// client id → (queue → offset), kept as raw JSON values (nested MessageQueue keys).
    pub consumer_table: HashMap<String, serde_json::Value>,
    #[serde(with = "mq_map")]
    pub message_queue_table: HashMap<MessageQueue, i64>,
}

/// `SubscriptionGroupList` (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST body, 5.x).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupList {
    pub group_config_list: Vec<SubscriptionGroupConfig>,
}

/// `CreateTopicListRequestBody` (UPDATE_AND_CREATE_TOPIC_LIST body, 5.x): each config's
/// `attributes` are modifications (`"+message.type": "FIFO"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateTopicListRequestBody {
    pub topic_config_list: Vec<super::TopicConfig>,
}

/// `QuerySubscriptionResponseBody` (QUERY_SUBSCRIPTION_BY_CONSUMER, 5.x).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuerySubscriptionResponseBody {
    pub group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<super::SubscriptionData>,
    pub topic: String,
}

/// `HARuntimeInfo` (GET_BROKER_HA_STATUS body, `mqadmin haStatus`): on a master its slave
/// connections, on a slave its link to the master.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HaRuntimeInfo {
    pub master: bool,
    pub master_commit_log_max_offset: i64,
    pub in_sync_slave_nums: i32,
    pub ha_connection_info: Vec<HaConnectionRuntimeInfo>,
    pub ha_client_runtime_info: HaClientRuntimeInfo,
}

/// One slave connection of [`HaRuntimeInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HaConnectionRuntimeInfo {
    /// `ip:port` of the slave's HA socket.
    pub addr: String,
    pub slave_ack_offset: i64,
    /// The master's max offset minus the ack.
    pub diff: i64,
    pub in_sync: bool,
    pub transferred_byte_in_second: i64,
    pub transfer_from_where: i64,
}

/// A slave's link to its master in [`HaRuntimeInfo`]. fastjson names the `isActivated` getter's
/// property `activated`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HaClientRuntimeInfo {
    pub master_addr: Option<String>,
    pub transferred_byte_in_second: i64,
    pub max_offset: i64,
    pub last_read_timestamp: i64,
    pub last_write_timestamp: i64,
    pub master_flush_offset: i64,
    pub activated: bool,
}
