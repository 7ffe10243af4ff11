//! Send and pull headers (docs/protocol/headers.md#send, docs/protocol/headers.md#send-response,
//! docs/protocol/headers.md#pull).

use std::collections::HashMap;

use super::{command_header, optional, CommandHeader, WireValue};
use crate::WireError;

/// SEND_MESSAGE (10) header; also decodes the V2 one-letter keys of SEND_MESSAGE_V2 (310) and
/// SEND_BATCH_MESSAGE (320). [`CommandHeader::encode_ext`] writes the V1 names;
/// [`SendMessageRequestHeader::encode_v2`] (or [`SendMessageRequestHeaderV2`]) the V2 names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SendMessageRequestHeader {
    pub producer_group: String,
    pub topic: String,
    pub default_topic: String,
    pub default_topic_queue_nums: i32,
    pub queue_id: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub flag: i32,
    pub properties: Option<String>,
    pub reconsume_times: Option<i32>,
    pub unit_mode: bool,
    pub max_reconsume_times: Option<i32>,
    pub batch: bool,
    /// Broker name (4.9.5+, `RpcRequestHeader`); never read by Java brokers.
    pub bname: Option<String>,
}

/// (V1 key, V2 key) for each field, in struct order.
mod keys {
    pub const PRODUCER_GROUP: (&str, &str) = ("producerGroup", "a");
    pub const TOPIC: (&str, &str) = ("topic", "b");
    pub const DEFAULT_TOPIC: (&str, &str) = ("defaultTopic", "c");
    pub const DEFAULT_TOPIC_QUEUE_NUMS: (&str, &str) = ("defaultTopicQueueNums", "d");
    pub const QUEUE_ID: (&str, &str) = ("queueId", "e");
    pub const SYS_FLAG: (&str, &str) = ("sysFlag", "f");
    pub const BORN_TIMESTAMP: (&str, &str) = ("bornTimestamp", "g");
    pub const FLAG: (&str, &str) = ("flag", "h");
    pub const PROPERTIES: (&str, &str) = ("properties", "i");
    pub const RECONSUME_TIMES: (&str, &str) = ("reconsumeTimes", "j");
    pub const UNIT_MODE: (&str, &str) = ("unitMode", "k");
    pub const MAX_RECONSUME_TIMES: (&str, &str) = ("maxReconsumeTimes", "l");
    pub const BATCH: (&str, &str) = ("batch", "m");
    pub const BNAME: (&str, &str) = ("bname", "n");
}

/// Reads `(v1, v2)`: the V1 key wins when both are present.
fn either<T: WireValue>(
    ext: &HashMap<String, String>,
    (v1, v2): (&'static str, &'static str),
) -> Result<Option<T>, WireError> {
    match optional(ext, v1)? {
        Some(v) => Ok(Some(v)),
        // Name the field by its V1 name too, so a remark says which field `e` was.
        None => optional(ext, v2).map_err(|e| match e {
            WireError::BadField { value, .. } => WireError::BadField { field: v1, value },
            other => other,
        }),
    }
}

fn either_req<T: WireValue>(
    ext: &HashMap<String, String>,
    keys: (&'static str, &'static str),
) -> Result<T, WireError> {
    either(ext, keys)?.ok_or(WireError::MissingField(keys.0))
}

impl SendMessageRequestHeader {
    fn encode_with(
        &self,
        ext: &mut HashMap<String, String>,
        pick: fn((&'static str, &'static str)) -> &'static str,
    ) {
        let mut put = |k: (&'static str, &'static str), v: String| {
            ext.insert(pick(k).to_owned(), v);
        };
        put(keys::PRODUCER_GROUP, self.producer_group.clone());
        put(keys::TOPIC, self.topic.clone());
        put(keys::DEFAULT_TOPIC, self.default_topic.clone());
        put(
            keys::DEFAULT_TOPIC_QUEUE_NUMS,
            self.default_topic_queue_nums.to_wire(),
        );
        put(keys::QUEUE_ID, self.queue_id.to_wire());
        put(keys::SYS_FLAG, self.sys_flag.to_wire());
        put(keys::BORN_TIMESTAMP, self.born_timestamp.to_wire());
        put(keys::FLAG, self.flag.to_wire());
        if let Some(p) = &self.properties {
            put(keys::PROPERTIES, p.clone());
        }
        if let Some(r) = self.reconsume_times {
            put(keys::RECONSUME_TIMES, r.to_wire());
        }
        put(keys::UNIT_MODE, self.unit_mode.to_wire());
        if let Some(m) = self.max_reconsume_times {
            put(keys::MAX_RECONSUME_TIMES, m.to_wire());
        }
        put(keys::BATCH, self.batch.to_wire());
        if let Some(b) = &self.bname {
            put(keys::BNAME, b.clone());
        }
    }

    /// Writes the V2 (one-letter) keys used with SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE.
    pub fn encode_v2(&self, ext: &mut HashMap<String, String>) {
        self.encode_with(ext, |k| k.1)
    }

    /// Reads a header sent with either key set (same as `decode_ext`).
    pub fn decode_v2(ext: &HashMap<String, String>) -> Result<Self, WireError> {
        Self::decode_ext(ext)
    }
}

impl CommandHeader for SendMessageRequestHeader {
    fn encode_ext(&self, ext: &mut HashMap<String, String>) {
        self.encode_with(ext, |k| k.0)
    }

    fn decode_ext(ext: &HashMap<String, String>) -> Result<Self, WireError> {
        Ok(Self {
            producer_group: either_req(ext, keys::PRODUCER_GROUP)?,
            topic: either_req(ext, keys::TOPIC)?,
            default_topic: either_req(ext, keys::DEFAULT_TOPIC)?,
            default_topic_queue_nums: either_req(ext, keys::DEFAULT_TOPIC_QUEUE_NUMS)?,
            queue_id: either_req(ext, keys::QUEUE_ID)?,
            sys_flag: either_req(ext, keys::SYS_FLAG)?,
            born_timestamp: either_req(ext, keys::BORN_TIMESTAMP)?,
            flag: either_req(ext, keys::FLAG)?,
            properties: either(ext, keys::PROPERTIES)?,
            reconsume_times: either(ext, keys::RECONSUME_TIMES)?,
            unit_mode: either(ext, keys::UNIT_MODE)?.unwrap_or_default(),
            max_reconsume_times: either(ext, keys::MAX_RECONSUME_TIMES)?,
            batch: either(ext, keys::BATCH)?.unwrap_or_default(),
            bname: either(ext, keys::BNAME)?,
        })
    }
}

/// `SendMessageRequestHeaderV2`: the same fields, encoded under the one-letter keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SendMessageRequestHeaderV2(pub SendMessageRequestHeader);

impl CommandHeader for SendMessageRequestHeaderV2 {
    fn encode_ext(&self, ext: &mut HashMap<String, String>) {
        self.0.encode_v2(ext)
    }
    fn decode_ext(ext: &HashMap<String, String>) -> Result<Self, WireError> {
        SendMessageRequestHeader::decode_ext(ext).map(Self)
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(h: SendMessageRequestHeader) -> Self {
        Self(h)
    }
}

command_header! {
    /// Send response (docs/protocol/headers.md#send-response). `MSG_REGION` / `TRACE_ON` are extra ext keys,
    /// not fields.
    pub struct SendMessageResponseHeader {
        /// offsetMsgId (comma-joined for batches).
        req msg_id: String => "msgId",
        req queue_id: i32 => "queueId",
        req queue_offset: i64 => "queueOffset",
        opt transaction_id: String => "transactionId",
    }
}

command_header! {
    /// PULL_MESSAGE (11) request (docs/protocol/headers.md#pull).
    pub struct PullMessageRequestHeader {
        req consumer_group: String => "consumerGroup",
        req topic: String => "topic",
        req queue_id: i32 => "queueId",
        req queue_offset: i64 => "queueOffset",
        req max_msg_nums: i32 => "maxMsgNums",
        req sys_flag: i32 => "sysFlag",
        req commit_offset: i64 => "commitOffset",
        req suspend_timeout_millis: i64 => "suspendTimeoutMillis",
        opt subscription: String => "subscription",
        req sub_version: i64 => "subVersion",
        opt expression_type: String => "expressionType",
        opt bname: String => "bname",
    }
}

command_header! {
    /// PULL_MESSAGE response: all four fields are required in every pull response.
    pub struct PullMessageResponseHeader {
        req suggest_which_broker_id: i64 => "suggestWhichBrokerId",
        req next_begin_offset: i64 => "nextBeginOffset",
        req min_offset: i64 => "minOffset",
        req max_offset: i64 => "maxOffset",
        /// 5.x static topics: what the client adds to each message's (physical) queue offset.
        opt offset_delta: i64 => "offsetDelta",
    }
}
