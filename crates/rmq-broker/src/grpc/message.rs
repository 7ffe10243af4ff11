//! A stored message as a 5.x gRPC client receives it (`GrpcConverter.buildMessage`,
//! docs/protocol/grpc.md section 9).

use md5::{Digest as _, Md5};
use rmq_grpc_proto::v2::{self, *};
use rmq_protocol::message::{property, sys_flag, MessageExt};
use rmq_protocol::pop::POP_CK;

/// The system properties (5.3.1 `MessageConst.STRING_HASH_SET`): a gRPC sender may not set them
/// as user properties, and a receiver does not get them among its `user_properties`.
pub(super) const STRING_HASH_SET: &[&str] = &[
    "TRACE_ON",
    "MSG_REGION",
    "KEYS",
    "TAGS",
    "WAIT",
    "DELAY",
    "RETRY_TOPIC",
    "REAL_TOPIC",
    "REAL_QID",
    "TRAN_MSG",
    "PGROUP",
    "MIN_OFFSET",
    "MAX_OFFSET",
    "BUYER_ID",
    "ORIGIN_MESSAGE_ID",
    "TRANSFER_FLAG",
    "CORRECTION_FLAG",
    "MQ2_FLAG",
    "RECONSUME_TIME",
    "UNIQ_KEY",
    "MAX_RECONSUME_TIMES",
    "CONSUME_START_TIME",
    "POP_CK",
    "POP_CK_OFFSET",
    "1ST_POP_TIME",
    "TRAN_PREPARED_QUEUE_OFFSET",
    "DUP_INFO",
    "EXTEND_UNIQ_INFO",
    "INSTANCE_ID",
    "CORRELATION_ID",
    "REPLY_TO_CLIENT",
    "TTL",
    "ARRIVE_TIME",
    "PUSH_REPLY_TIME",
    "CLUSTER",
    "MSG_TYPE",
    "INNER_MULTI_QUEUE_OFFSET",
    "TIMER_DELAY_MS",
    "TIMER_DELAY_SEC",
    "TIMER_DELIVER_MS",
    "TIMER_ENQUEUE_MS",
    "TIMER_DEQUEUE_MS",
    "TIMER_ROLL_TIMES",
    "TIMER_OUT_MS",
    "TIMER_DEL_UNIQKEY",
    "TIMER_DELAY_LEVEL",
    "__BORNHOST",
    "BORN_TIMESTAMP",
    "DLQ_ORIGIN_TOPIC",
    "DLQ_ORIGIN_MESSAGE_ID",
    "__CRC32#",
];
const SHARDING_KEY: &str = "__SHARDINGKEY";
const BORN_HOST: &str = "__BORNHOST";
const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";

/// Epoch milliseconds as a protobuf Timestamp.
pub(super) fn timestamp(ms: i64) -> rmq_grpc_proto::prost_types::Timestamp {
    rmq_grpc_proto::prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A protobuf Timestamp as epoch milliseconds (the inverse of [`timestamp`]).
pub(super) fn epoch_ms(t: &rmq_grpc_proto::prost_types::Timestamp) -> i64 {
    t.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos / 1_000_000))
}

/// Uppercase hex MD5 of `body`, as `BinaryUtil.generateMd5`.
fn md5_hex(body: &[u8]) -> String {
    Md5::digest(body).iter().map(|b| format!("{b:02X}")).collect()
}

/// `m` for a gRPC client, under `topic` (the one it asked for; a retried message is stored under
/// a retry topic). `now_ms` dates a relative timer (`TIMER_DELAY_SEC`).
pub(super) fn to_grpc(m: &MessageExt, topic: &str, now_ms: i64) -> v2::Message {
    let p = |k: &str| m.properties.get(k);
    let message_type = if p(property::TRAN_MSG).is_some_and(|v| v == "true") {
        MessageType::Transaction
    } else if p(property::DELAY).is_some()
        || p(property::TIMER_DELIVER_MS).is_some()
        || p(property::TIMER_DELAY_SEC).is_some()
    {
        MessageType::Delay
    } else if p(SHARDING_KEY).is_some() {
        MessageType::Fifo
    } else {
        MessageType::Normal
    };
    let delivery_timestamp = match p(property::TIMER_DELAY_SEC).and_then(|v| v.parse::<i64>().ok()) {
        Some(sec) => Some(timestamp(now_ms.saturating_add(sec.saturating_mul(1000)))),
        None => p(property::TIMER_DELIVER_MS)
            .and_then(|v| v.parse::<i64>().ok())
            .map(timestamp),
    };
    let born_host = p(BORN_HOST)
        .filter(|h| !h.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| m.born_host.ip().to_string());
    let dead_letter_queue = match (p(DLQ_ORIGIN_TOPIC), p(DLQ_ORIGIN_MESSAGE_ID)) {
        (Some(topic), Some(id)) => Some(DeadLetterQueue {
            topic: topic.clone(),
            message_id: id.clone(),
        }),
        _ => None,
    };
    let system = SystemProperties {
        tag: p(property::TAGS).cloned(),
        keys: p(property::KEYS)
            .map(|k| k.split(' ').map(str::to_string).collect())
            .unwrap_or_default(),
        message_id: m.client_msg_id().to_string(),
        body_digest: Some(v2::Digest {
            r#type: DigestType::Md5 as i32,
            checksum: md5_hex(&m.body),
        }),
        body_encoding: if m.sys_flag & sys_flag::COMPRESSED != 0 {
            Encoding::Gzip
        } else {
            Encoding::Identity
        } as i32,
        message_type: message_type as i32,
        born_timestamp: Some(timestamp(m.born_timestamp)),
        born_host,
        store_timestamp: Some(timestamp(m.store_timestamp)),
        store_host: m.store_host.to_string(),
        delivery_timestamp,
        receipt_handle: p(POP_CK).cloned(),
        queue_id: m.queue_id,
        queue_offset: Some(m.queue_offset),
        invisible_duration: None,
        delivery_attempt: Some(m.reconsume_times.saturating_add(1)),
        message_group: p(SHARDING_KEY).cloned(),
        trace_context: p(TRACE_CONTEXT).cloned(),
        orphaned_transaction_recovery_duration: None,
        dead_letter_queue,
    };
    v2::Message {
        topic: Some(Resource {
            resource_namespace: String::new(),
            name: topic.to_string(),
        }),
        user_properties: m
            .properties
            .iter()
            .filter(|(k, _)| !STRING_HASH_SET.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        system_properties: Some(system),
        body: m.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_uppercase_hex() {
        assert_eq!(md5_hex(b""), "D41D8CD98F00B204E9800998ECF8427E");
        assert_eq!(md5_hex(b"hello"), "5D41402ABC4B2A76B9719D911017C592");
    }
}
