//! Client-facing bodies: heartbeat (docs/protocol/client.md#heartbeat), subscriptions, queue locks, consumer
//! lists, offset resets, consume-directly results.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{
    de_consume_from_where, de_consume_result, de_consume_type, de_lenient_i32_vec, de_lenient_i64,
    de_message_model, mq_map,
};
use crate::message::java_hash;

/// `MessageQueue`: (topic, brokerName, queueId).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

impl MessageQueue {
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        Self {
            broker_name: broker_name.into(),
            queue_id,
            topic: topic.into(),
        }
    }
}

/// `HeartbeatData` (HEART_BEAT body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatData {
    #[serde(rename = "clientID")]
    pub client_id: String,
    pub consumer_data_set: Vec<ConsumerData>,
    /// 5.x heartbeat v2: a hash of the client's subscriptions; 0 = a v1 heartbeat.
    pub heartbeat_fingerprint: i32,
    pub producer_data_set: Vec<ProducerData>,
    /// 5.x heartbeat v2: the consumer data carry no subscriptions (the fingerprint is
    /// unchanged). fastjson writes Java's `isWithoutSub` field as `withoutSub`.
    #[serde(alias = "isWithoutSub", deserialize_with = "super::de_lenient_bool")]
    pub without_sub: bool,
}

/// `ProducerData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    pub group_name: String,
}

/// `ConsumerData`. Enum fields hold the Java enum names (numbers are mapped on input).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    /// e.g. `CONSUME_FROM_LAST_OFFSET`.
    #[serde(deserialize_with = "de_consume_from_where")]
    pub consume_from_where: String,
    /// `CONSUME_ACTIVELY` or `CONSUME_PASSIVELY`.
    #[serde(deserialize_with = "de_consume_type")]
    pub consume_type: String,
    pub group_name: String,
    /// `CLUSTERING` or `BROADCASTING`.
    #[serde(deserialize_with = "de_message_model")]
    pub message_model: String,
    pub subscription_data_set: Vec<SubscriptionData>,
    pub unit_mode: bool,
}

/// Expression type of tag subscriptions.
pub const EXPRESSION_TYPE_TAG: &str = "TAG";
/// Expression type of SQL92 subscriptions.
pub const EXPRESSION_TYPE_SQL92: &str = "SQL92";
/// The "everything" subscription expression.
pub const SUB_ALL: &str = "*";

/// `SubscriptionData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    pub class_filter_mode: bool,
    /// The Go client sends each code as a string.
    #[serde(deserialize_with = "de_lenient_i32_vec")]
    pub code_set: Vec<i32>,
    pub expression_type: String,
    pub sub_string: String,
    /// The C++ client sends it as a string.
    #[serde(deserialize_with = "de_lenient_i64")]
    pub sub_version: i64,
    pub tags_set: Vec<String>,
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        Self {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type: EXPRESSION_TYPE_TAG.to_owned(),
            sub_string: String::new(),
            sub_version: 0,
            tags_set: Vec::new(),
            topic: String::new(),
        }
    }
}

impl SubscriptionData {
    /// Builds a TAG subscription (docs/format/message.md#tags): `*`/empty = everything, otherwise split on
    /// `||`, trimmed, empties skipped; each tag's `java_hash` goes into `code_set`.
    pub fn from_tag_expression(topic: impl Into<String>, expression: &str, sub_version: i64) -> Self {
        let expr = expression.trim();
        let mut sub = Self {
            topic: topic.into(),
            sub_version,
            ..Self::default()
        };
        if expr.is_empty() || expr == SUB_ALL {
            sub.sub_string = SUB_ALL.to_owned();
            return sub;
        }
        sub.sub_string = expression.to_owned();
        for tag in expr.split("||").map(str::trim).filter(|t| !t.is_empty()) {
            sub.tags_set.push(tag.to_owned());
            sub.code_set.push(java_hash(tag));
        }
        sub
    }

    /// True when the expression matches every message.
    pub fn is_all(&self) -> bool {
        let s = self.sub_string.trim();
        s.is_empty() || s == SUB_ALL
    }

    /// True for TAG subscriptions (`null`/empty expression type counts as TAG).
    pub fn is_tag_type(&self) -> bool {
        self.expression_type.is_empty() || self.expression_type.eq_ignore_ascii_case(EXPRESSION_TYPE_TAG)
    }
}

/// GET_CONSUMER_LIST_BY_GROUP response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerListByGroupResponseBody {
    pub consumer_id_list: Vec<String>,
}

/// LOCK_BATCH_MQ request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    pub client_id: String,
    pub consumer_group: String,
    pub mq_set: Vec<MessageQueue>,
}

/// UNLOCK_BATCH_MQ request body (same shape as the lock request).
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// LOCK_BATCH_MQ response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

/// CHECK_CLIENT_CONFIG body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckClientRequestBody {
    pub client_id: String,
    pub group: String,
    pub subscription_data: SubscriptionData,
}

/// `ResetOffsetBody` (INVOKE_BROKER_TO_RESET_OFFSET response, RESET_CONSUMER_CLIENT_OFFSET body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResetOffsetBody {
    #[serde(with = "mq_map")]
    pub offset_table: HashMap<MessageQueue, i64>,
}

/// `ConsumeMessageDirectlyResult` (CONSUME_MESSAGE_DIRECTLY response body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeMessageDirectlyResult {
    pub auto_commit: bool,
    /// `CR_SUCCESS`, `CR_LATER`, …
    #[serde(deserialize_with = "de_consume_result")]
    pub consume_result: String,
    pub order: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    pub spent_time_mills: i64,
}

impl Default for ConsumeMessageDirectlyResult {
    fn default() -> Self {
        Self {
            auto_commit: true,
            consume_result: String::new(),
            order: false,
            remark: None,
            spent_time_mills: 0,
        }
    }
}
