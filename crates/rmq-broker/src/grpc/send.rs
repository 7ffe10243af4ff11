//! SendMessage (docs/protocol/grpc.md, section 7): the Proxy's checks in its order, the gRPC
//! message mapped onto remoting properties, and each message stored through the broker's own
//! send path (`processor::in_process`).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use rmq_grpc_proto::v2::{self, *};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::SendMessageRequestHeader;
use rmq_protocol::message::{self, property, sys_flag};
use rmq_protocol::RemotingCommand;

use super::{ok_status, status, validate_topic};
use crate::BrokerState;

/// `maxUserPropertySize`.
const MAX_USER_PROPERTY_BYTES: usize = 16 * 1024;
/// `maxDelayTimeMills`: a delivery time further ahead is refused.
const MAX_DELAY_MS: i64 = 86_400_000;
/// `maxTransactionRecoverySecond`.
const MAX_RECOVERY_SECS: i64 = 3600;

/// `Validators.checkGroup` as the Proxy applies it.
pub(crate) fn validate_group(group: &str) -> Result<(), v2::Status> {
    if group.trim().is_empty() {
        return Err(status(Code::IllegalConsumerGroup, "the specified group is blank"));
    }
    if group.len() > 255 {
        return Err(status(
            Code::IllegalConsumerGroup,
            "the specified group is longer than group max length 255.",
        ));
    }
    if !group
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(status(
            Code::IllegalConsumerGroup,
            format!(
                "the specified group[{group}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
            ),
        ));
    }
    if group.starts_with("CID_RMQ_SYS_") {
        return Err(status(
            Code::IllegalConsumerGroup,
            "cannot use system consumer group",
        ));
    }
    Ok(())
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

/// The Proxy's per-message checks (`SendMessageActivity.validateMessage`).
fn check(s: &BrokerState, m: &Message, now_ms: i64) -> Result<(), v2::Status> {
    let max_body = s.config.store.max_message_size;
    if m.body.len() > max_body {
        return Err(status(
            Code::MessageBodyTooLarge,
            format!("message body cannot exceed the max {max_body}"),
        ));
    }
    if m.user_properties.len() > 128 {
        return Err(status(
            Code::MessagePropertiesTooLarge,
            "too many user properties, max is 128",
        ));
    }
    let mut size = 0usize;
    for (k, v) in &m.user_properties {
        if super::message::STRING_HASH_SET.contains(&k.as_str()) {
            return Err(status(
                Code::IllegalMessagePropertyKey,
                format!("property is used by system: {k}"),
            ));
        }
        if has_control(k) {
            return Err(status(
                Code::IllegalMessagePropertyKey,
                "the key of property cannot contain control character",
            ));
        }
        if has_control(v) {
            return Err(status(
                Code::IllegalMessagePropertyKey,
                "the value of property cannot contain control character",
            ));
        }
        size += k.len() + v.len();
    }
    let sys = m.system_properties.clone().unwrap_or_default();
    if let Some(tag) = sys.tag.as_deref().filter(|t| !t.is_empty()) {
        if tag.trim().is_empty() {
            return Err(status(
                Code::IllegalMessageTag,
                "tag cannot be the char sequence of whitespace",
            ));
        }
        if tag.contains('|') {
            return Err(status(Code::IllegalMessageTag, "tag cannot contain '|'"));
        }
        if has_control(tag) {
            return Err(status(
                Code::IllegalMessageTag,
                "tag cannot contain control character",
            ));
        }
        size += tag.len();
    }
    for key in sys.keys.iter().filter(|k| !k.is_empty()) {
        if key.trim().is_empty() {
            return Err(status(
                Code::IllegalMessageKey,
                "key cannot be the char sequence of whitespace",
            ));
        }
        if has_control(key) {
            return Err(status(
                Code::IllegalMessageKey,
                "key cannot contain control character",
            ));
        }
        size += key.len();
    }
    if size > MAX_USER_PROPERTY_BYTES {
        return Err(status(
            Code::MessagePropertiesTooLarge,
            format!("the total size of user property is too large, max is {MAX_USER_PROPERTY_BYTES}"),
        ));
    }
    if sys.message_id.trim().is_empty() {
        return Err(status(Code::IllegalMessageId, "message id cannot be empty"));
    }
    if sys.message_type == MessageType::Transaction as i32 {
        let recovery = sys
            .orphaned_transaction_recovery_duration
            .as_ref()
            .map_or(0, |d| d.seconds);
        if recovery > MAX_RECOVERY_SECS {
            return Err(status(
                Code::BadRequest,
                format!(
                    "the max transaction recovery time of message is too large, max is {MAX_RECOVERY_SECS}"
                ),
            ));
        }
    }
    if let Some(at) = &sys.delivery_timestamp {
        if super::message::epoch_ms(at) - now_ms > MAX_DELAY_MS {
            return Err(status(
                Code::IllegalDeliveryTime,
                format!("the max delay time of message is too large, max is {MAX_DELAY_MS}"),
            ));
        }
    }
    if let Some(group) = sys.message_group.as_deref().filter(|g| !g.is_empty()) {
        if group.trim().is_empty() {
            return Err(status(
                Code::IllegalMessageGroup,
                "message group cannot be the char sequence of whitespace",
            ));
        }
        if group.len() >= 64 {
            return Err(status(
                Code::IllegalMessageGroup,
                "message group exceed the max size 64",
            ));
        }
        if has_control(group) {
            return Err(status(
                Code::IllegalMessageGroup,
                "message group cannot contain control character",
            ));
        }
    }
    Ok(())
}

/// The message's type as the Proxy reads it from the properties it is about to store.
fn actual_type(props: &[(String, String)]) -> &'static str {
    let has = |k: &str| props.iter().any(|(key, _)| key == k);
    if props.iter().any(|(k, v)| k == property::TRAN_MSG && v == "true") {
        "TRANSACTION"
    } else if has(property::DELAY)
        || has("TIMER_DELIVER_MS")
        || has("TIMER_DELAY_SEC")
        || has("TIMER_DELAY_MS")
    {
        "DELAY"
    } else if has("__SHARDINGKEY") {
        "FIFO"
    } else {
        "NORMAL"
    }
}

/// The remoting properties of a gRPC message (`buildMessageProperty`).
fn properties(m: &Message, topic: &str, peer: SocketAddr) -> Vec<(String, String)> {
    let sys = m.system_properties.clone().unwrap_or_default();
    let mut props: Vec<(String, String)> = m
        .user_properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    props.push((property::TAGS.into(), sys.tag.clone().unwrap_or_default()));
    if !sys.keys.is_empty() {
        props.push((property::KEYS.into(), sys.keys.join(" ")));
    }
    props.push((property::UNIQ_KEY.into(), sys.message_id.clone()));
    if sys.message_type == MessageType::Transaction as i32 {
        props.push((property::TRAN_MSG.into(), "true".into()));
        if let Some(d) = &sys.orphaned_transaction_recovery_duration {
            props.push((
                property::CHECK_IMMUNITY_TIME_IN_SECONDS.into(),
                d.seconds.to_string(),
            ));
        }
    }
    if let Some(at) = &sys.delivery_timestamp {
        props.push((
            property::TIMER_DELIVER_MS.into(),
            super::message::epoch_ms(at).to_string(),
        ));
    }
    if let Some(n) = sys.delivery_attempt {
        props.push((property::RECONSUME_TIME.into(), n.to_string()));
    }
    props.push((property::PGROUP.into(), topic.to_string()));
    if let Some(group) = sys.message_group.as_deref().filter(|g| !g.is_empty()) {
        props.push(("__SHARDINGKEY".into(), group.to_string()));
    }
    if let Some(trace) = sys.trace_context.as_deref().filter(|t| !t.is_empty()) {
        props.push(("TRACE_CONTEXT".into(), trace.to_string()));
    }
    let born_host = if sys.born_host.trim().is_empty() {
        peer.to_string()
    } else {
        sys.born_host.clone()
    };
    props.push(("__BORNHOST".into(), born_host));
    props
}

/// Guava's `Hashing.consistentHash(input, buckets)`: the queue of a message group.
fn consistent_hash(input: i64, buckets: i32) -> i32 {
    let mut state = input;
    let mut candidate: i32 = 0;
    loop {
        state = state.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let next_double = f64::from(((state as u64) >> 33) as i32 + 1) / f64::from(1u32 << 31);
        let next = (f64::from(candidate + 1) / next_double) as i64;
        if next >= 0 && next < i64::from(buckets) {
            candidate = next as i32;
        } else {
            return candidate;
        }
    }
}

/// The entry of one stored (or refused) message.
fn entry(resp: &RemotingCommand, message_id: &str) -> SendResultEntry {
    let code = match resp.code {
        response_code::SUCCESS => Code::Ok,
        response_code::FLUSH_DISK_TIMEOUT => Code::MasterPersistenceTimeout,
        response_code::FLUSH_SLAVE_TIMEOUT => Code::SlavePersistenceTimeout,
        response_code::SLAVE_NOT_AVAILABLE => Code::HaNotAvailable,
        response_code::SYSTEM_BUSY => Code::TooManyRequests,
        response_code::TOPIC_NOT_EXIST => Code::TopicNotFound,
        response_code::NO_PERMISSION => Code::Forbidden,
        _ => Code::InternalServerError,
    };
    let message = match code {
        Code::Ok => "OK".to_string(),
        Code::MasterPersistenceTimeout => "send message failed, sendStatus=FLUSH_DISK_TIMEOUT".into(),
        Code::SlavePersistenceTimeout => "send message failed, sendStatus=FLUSH_SLAVE_TIMEOUT".into(),
        Code::HaNotAvailable => "send message failed, sendStatus=SLAVE_NOT_AVAILABLE".into(),
        _ => resp.remark.clone().unwrap_or_else(|| resp.code.to_string()),
    };
    let ext = |k: &str| resp.ext_fields.get(k).cloned();
    SendResultEntry {
        status: Some(status(code, message)),
        message_id: message_id.to_string(),
        transaction_id: ext("transactionId").unwrap_or_else(|| message_id.to_string()),
        offset: ext("queueOffset").and_then(|o| o.parse().ok()).unwrap_or(0),
    }
}

/// The offsets EndTransaction will need for a stored half message: its queue offset and (from the
/// offset message id) its commit log offset.
fn remember_half(txs: &super::transaction::Transactions, topic: &str, resp: &RemotingCommand) {
    let ext = |k: &str| resp.ext_fields.get(k);
    let (Some(id), Some(queue_offset), Some(offset_msg_id)) = (
        ext("transactionId").or_else(|| ext("msgId")),
        ext("queueOffset").and_then(|o| o.parse::<i64>().ok()),
        ext("msgId"),
    ) else {
        return;
    };
    if let Ok((_, commit_log_offset)) = message::decode_offset_msg_id(offset_msg_id) {
        txs.remember(topic, id, queue_offset, commit_log_offset);
    }
}

fn refused(status: v2::Status) -> SendMessageResponse {
    SendMessageResponse {
        status: Some(status),
        entries: Vec::new(),
    }
}

pub(super) async fn send(
    s: &BrokerState,
    txs: &super::transaction::Transactions,
    peer: SocketAddr,
    req: SendMessageRequest,
) -> SendMessageResponse {
    let Some(first) = req.messages.first() else {
        return refused(status(Code::MessageCorrupted, "no message to send"));
    };
    let topic = first.topic.as_ref().map_or("", |t| t.name.as_str()).to_string();
    if let Err(st) = validate_topic(&topic) {
        return refused(st);
    }
    let now = s.clock.now_ms();
    for m in &req.messages {
        if m.topic.as_ref().map_or("", |t| t.name.as_str()) != topic {
            return refused(status(Code::MessageCorrupted, "topic in message is not same"));
        }
        if let Err(st) = check(s, m, now) {
            return refused(st);
        }
    }
    let tc = s.topics.get(&topic);
    let sys0 = first.system_properties.clone().unwrap_or_default();
    let transactional = sys0.message_type == MessageType::Transaction as i32;
    let compressed = sys0.body_encoding == Encoding::Gzip as i32;
    let mut entries = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        let props = properties(m, &topic, peer);
        // The topic's message.type against what the message is (a missing topic is UNSPECIFIED).
        let expected = tc
            .as_ref()
            .map(|tc| tc.attributes.get("message.type").map_or("NORMAL", String::as_str))
            .unwrap_or("UNSPECIFIED");
        let actual = actual_type(&props);
        if expected != actual
            && expected != "MIXED"
            && !topic.starts_with("%RETRY%")
            && !topic.starts_with("%DLQ%")
        {
            return refused(status(
                Code::MessagePropertyConflictWithType,
                format!("TopicMessageType validate failed, the expected type is {expected}, but actual type is {actual}"),
            ));
        }
        let sys = m.system_properties.clone().unwrap_or_default();
        let group = sys.message_group.as_deref().filter(|g| !g.is_empty());
        let queue_id = match (group, &tc) {
            (Some(g), Some(tc)) if req.messages.len() == 1 && tc.write_queue_nums > 0 => {
                consistent_hash(i64::from(message::java_hash(g)), tc.write_queue_nums)
            }
            _ => -1,
        };
        let mut flags = 0;
        if transactional {
            flags |= sys_flag::TRANSACTION_PREPARED_TYPE;
        }
        if compressed {
            flags |= sys_flag::COMPRESSED;
        }
        let born = sys.born_timestamp.as_ref().map_or(now, super::message::epoch_ms);
        let header = SendMessageRequestHeader {
            producer_group: topic.clone(),
            topic: topic.clone(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id,
            sys_flag: flags,
            born_timestamp: born,
            flag: 0,
            properties: Some(message::encode_properties(&props)),
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch: false,
            bname: None,
        };
        let remoting = RemotingCommand::request(request_code::SEND_MESSAGE)
            .with_header(&header)
            .with_body(m.body.clone());
        let resp = crate::processor::in_process(s, peer, &remoting).await;
        if transactional && resp.code == response_code::SUCCESS {
            remember_half(txs, &topic, &resp);
        }
        entries.push(entry(&resp, &sys.message_id));
    }
    let codes: BTreeSet<i32> = entries
        .iter()
        .filter_map(|e| e.status.as_ref().map(|s| s.code))
        .collect();
    let top = match codes.iter().next() {
        Some(&c) if codes.len() == 1 => {
            let code = Code::try_from(c).unwrap_or(Code::InternalServerError);
            if code == Code::Ok {
                ok_status()
            } else {
                status(code, code.as_str_name())
            }
        }
        Some(_) => status(Code::MultipleResults, "MULTIPLE_RESULTS"),
        None => ok_status(),
    };
    SendMessageResponse {
        status: Some(top),
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_hash_matches_guava() {
        // Guava Hashing.consistentHash values (long input, buckets).
        assert_eq!(consistent_hash(0, 8), 0);
        for input in [-5i64, 1, 42, 1 << 40, i64::MIN, i64::MAX] {
            for buckets in [1, 2, 4, 8, 16] {
                let q = consistent_hash(input, buckets);
                assert!((0..buckets).contains(&q));
                // Monotone: growing the buckets moves a key only to the new bucket.
                let q2 = consistent_hash(input, buckets + 1);
                assert!(q2 == q || q2 == buckets);
            }
        }
    }
}
