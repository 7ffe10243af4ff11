//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).
//!
//! Checks (`msgCheck`): broker writable, topic name valid and sendable, topic known or
//! auto-creatable, queue id in range (negative = pick one). Then the store appends; the response
//! carries the offsetMsgId(s), queue id and queue offset in every outcome the client decodes.

use rand_lite::pick;
use rmq_protocol::body::TopicConfig;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{SendMessageRequestHeader, SendMessageResponseHeader};
use rmq_protocol::message::{self, property};
use rmq_protocol::{RemotingCommand, WireError};
use rmq_store::{PutMessage, PutResult, PutStatus};

use super::error;
use crate::static_topic::LogicQueue;
use crate::topic::{self, PERM_WRITE};
use crate::{register, transaction, BrokerState};

/// Parses either header dialect: V1 full names (code 10) or V2 one-letter names (310, 320).
fn parse_header(req: &RemotingCommand) -> Result<SendMessageRequestHeader, WireError> {
    if req.code == rc::SEND_MESSAGE {
        req.header::<SendMessageRequestHeader>()
    } else {
        SendMessageRequestHeader::decode_v2(&req.ext_fields)
    }
}

/// Java's remark for a store that refuses puts (slave role, disk full, shut down).
const SERVICE_NOT_AVAILABLE_REMARK: &str = "service not available now. It may be caused by one of the following reasons: the broker's disk is full, messages are put to the slave, message store has been shut down, etc.";

/// A request answered with an error before anything was stored.
type Refused = RemotingCommand;

/// Handles a send holding `permit`, a place of the send queue, which is given back as soon as
/// the record is appended (before any SYNC_FLUSH wait): check, build the store's messages,
/// append, respond.
pub(super) async fn send(
    s: &BrokerState,
    peer: std::net::SocketAddr,
    req: &RemotingCommand,
    permit: tokio::sync::SemaphorePermit<'_>,
) -> RemotingCommand {
    let (h, tc, logic) = match check(s, peer, req).await {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
    let queue_id = if h.queue_id < 0 {
        pick(tc.write_queue_nums.max(1))
    } else {
        h.queue_id
    };
    let base = PutMessage {
        topic: h.topic.clone(),
        queue_id,
        flag: h.flag,
        body: req.body.clone(),
        properties: String::new(),
        tags_code: 0,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: peer,
        reconsume_times: h.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
    };
    // Java picks the batch path from the header flag, not from the request code.
    let built = if h.batch {
        build_batch(s, req, &h, base)
    } else {
        build_single(s, req, &h, base).await.map(|m| vec![m])
    };
    let msgs = match built {
        Ok(msgs) => msgs,
        Err(refused) => return refused,
    };
    let count = msgs.len() as u64;
    let topic = msgs.first().map(|m| m.topic.clone()).unwrap_or_default();
    let pending = s.store.append_messages(msgs);
    drop(permit);
    let result = pending.wait().await;
    if result.is_stored() && topic == crate::topic::TRANS_HALF_TOPIC {
        s.transactions.half_stored(&h.topic, s.clock.now_ms());
    }
    if result.status == PutStatus::PutOk {
        let kind = crate::metrics::message_type(h.properties.as_deref().unwrap_or("").as_bytes());
        let bytes = u64::try_from(result.wrote_bytes).unwrap_or(0);
        s.metrics.messages_in(&topic, kind, count, bytes);
        s.stats.put(&topic, count, bytes);
        if let Some(group) = topic.strip_prefix(crate::topic::DLQ_GROUP_TOPIC_PREFIX) {
            let origin = h
                .topic
                .strip_prefix(crate::topic::RETRY_GROUP_TOPIC_PREFIX)
                .unwrap_or(&h.topic);
            s.metrics.sent_to_dlq(origin, group);
        }
    }
    // 5.x answers every send with the message's unique key as `transactionId` (the client's
    // TransactionSendResult and rocketmq-spring read it); absent without a UNIQ_KEY.
    let transaction_id = h
        .properties
        .as_deref()
        .and_then(|p| message::find_property_str(p, property::UNIQ_KEY))
        .map(str::to_owned);
    respond(s, req, queue_id, result, transaction_id, logic.as_ref())
}

/// Java's `msgCheck`: the header parses, this broker and the topic take writes, the topic name is
/// valid and sendable, the topic exists or may be auto-created, the queue id is in range. A
/// static topic's logic queue is first replaced by its leader's physical queue, as Java's
/// `rewriteRequestForStaticTopic` does before these checks.
async fn check(
    s: &BrokerState,
    peer: std::net::SocketAddr,
    req: &RemotingCommand,
) -> Result<(SendMessageRequestHeader, TopicConfig, Option<LogicQueue>), Refused> {
    let mut h = parse_header(req)
        .map_err(|e| error(req, code::SYSTEM_ERROR, format!("bad send request header: {e}")))?;
    let logic = s
        .static_topics
        .logic_queue(req, &h.topic, h.queue_id, true)
        .map_err(|refused| error(req, refused.code, refused.remark))?;
    if let Some(lq) = &logic {
        h.queue_id = lq.leader().queue_id;
    }
    if !s.is_master() {
        return Err(error(
            req,
            code::SERVICE_NOT_AVAILABLE,
            SERVICE_NOT_AVAILABLE_REMARK,
        ));
    }
    if s.runtime.permission() & PERM_WRITE == 0 {
        return Err(error(
            req,
            code::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", s.addr),
        ));
    }
    message::validate_topic(&h.topic).map_err(|remark| error(req, code::SYSTEM_ERROR, remark))?;
    if topic::is_not_allowed_send_topic(&h.topic) {
        return Err(error(
            req,
            code::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let tc = match s.topics.get(&h.topic) {
        Some(tc) => tc,
        None => create_on_send(s, req, &h).await?,
    };
    if tc.perm & PERM_WRITE == 0 {
        return Err(error(
            req,
            code::NO_PERMISSION,
            format!("the topic[{}] sending message is forbidden", h.topic),
        ));
    }
    let queue_limit = tc.write_queue_nums.max(tc.read_queue_nums);
    if h.queue_id >= queue_limit {
        return Err(error(
            req,
            code::SYSTEM_ERROR,
            format!(
                "request queueId[{}] is illegal, {:?} Producer: {}",
                h.queue_id, tc, peer
            ),
        ));
    }
    Ok((h, tc, logic))
}

/// An unknown topic: auto-create it from the default topic if allowed (registering the new
/// route at once), else TOPIC_NOT_EXIST.
async fn create_on_send(
    s: &BrokerState,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
) -> Result<TopicConfig, Refused> {
    let created = s
        .topics
        .create_on_send(&h.topic, &h.default_topic, h.default_topic_queue_nums, 0);
    match created {
        Ok(Some((tc, true))) => {
            register::register_all(s, true).await;
            Ok(tc)
        }
        Ok(Some((tc, false))) => Ok(tc),
        Ok(None) => Err(error(
            req,
            code::TOPIC_NOT_EXIST,
            format!(
                "topic[{}] not exist, apply first please!\nSee http://rocketmq.apache.org/docs/faq/ for further details.",
                h.topic
            ),
        )),
        Err(e) => Err(error(req, code::SYSTEM_ERROR, format!("create topic failed: {e}"))),
    }
}

/// SEND_BATCH_MESSAGE: one store message per batch entry, each with its own properties.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response itself, built once"
)]
fn build_batch(
    s: &BrokerState,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    base: PutMessage,
) -> Result<Vec<PutMessage>, Refused> {
    if h.topic.starts_with(topic::RETRY_GROUP_TOPIC_PREFIX) {
        return Err(error(
            req,
            code::MESSAGE_ILLEGAL,
            format!("batch request does not support retry group {}", h.topic),
        ));
    }
    // The store refuses a batch with a delay level (the batch-level properties).
    let delayed = h
        .properties
        .as_deref()
        .and_then(|p| message::find_property_str(p, property::DELAY))
        .and_then(|d| d.trim().parse::<i32>().ok())
        .is_some_and(|d| d > 0);
    if delayed {
        return Err(illegal(req, s));
    }
    let entries = match message::decode_batch(&req.body) {
        Ok(e) if !e.is_empty() => e,
        Ok(_) => return Err(error(req, code::MESSAGE_ILLEGAL, "the batch is empty")),
        Err(e) => return Err(error(req, code::MESSAGE_ILLEGAL, format!("bad batch body: {e}"))),
    };
    if req.body.len() > s.config.store.max_message_size {
        return Err(illegal(req, s));
    }
    let cluster = &s.config.broker_cluster_name;
    Ok(entries
        .into_iter()
        .map(|e| {
            let props = with_cluster(&e.properties, cluster);
            PutMessage {
                flag: e.flag,
                body: e.body,
                tags_code: message::tags_code_of(props.as_bytes()),
                properties: props,
                ..base.clone()
            }
        })
        .collect())
}

/// SEND_MESSAGE(_V2): the message as stored — rerouted to the DLQ when its retries are used up,
/// turned into a half message for a transaction, parked in the timer topic for a deliver time or
/// in the schedule topic for a delay level.
async fn build_single(
    s: &BrokerState,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    base: PutMessage,
) -> Result<PutMessage, Refused> {
    if req.body.len() > s.config.store.max_message_size {
        return Err(illegal(req, s));
    }
    let props = with_cluster(
        h.properties.as_deref().unwrap_or(""),
        &s.config.broker_cluster_name,
    );
    let mut msg = PutMessage {
        tags_code: message::tags_code_of(props.as_bytes()),
        properties: props,
        ..base
    };
    super::retry::reroute_exhausted_retry(s, req, h, &mut msg).await?;
    if transaction::is_half(&msg.properties) {
        if s.config.reject_transaction_message {
            let remark = format!("the broker[{}] sending transaction message is forbidden", s.addr);
            return Err(error(req, code::NO_PERMISSION, remark));
        }
        msg = transaction::to_half(msg);
    } else {
        // The response still names the original queue.
        super::park_for_later(s, req, &mut msg)?;
    }
    Ok(msg)
}

fn illegal(req: &RemotingCommand, s: &BrokerState) -> RemotingCommand {
    error(
        req,
        code::MESSAGE_ILLEGAL,
        format!(
            "the message is illegal, maybe msg body or properties length not matched. msg body length limit {}B, msg properties length limit 32KB.",
            s.config.store.max_message_size
        ),
    )
}

/// Appends `CLUSTER=<cluster>` to a properties string (the broker adds it on every send); like
/// Java's encoder, no trailing separator.
fn with_cluster(props: &str, cluster: &str) -> String {
    let mut out = String::with_capacity(props.len() + cluster.len() + 10);
    out.push_str(props);
    if !out.is_empty() && !out.ends_with('\u{2}') {
        out.push('\u{2}');
    }
    out.push_str(property::CLUSTER);
    out.push('\u{1}');
    out.push_str(cluster);
    out
}

fn respond(
    s: &BrokerState,
    req: &RemotingCommand,
    queue_id: i32,
    r: PutResult,
    transaction_id: Option<String>,
    logic: Option<&LogicQueue>,
) -> RemotingCommand {
    let c = match r.status {
        PutStatus::PutOk => code::SUCCESS,
        PutStatus::FlushDiskTimeout => code::FLUSH_DISK_TIMEOUT,
        PutStatus::MessageIllegal | PutStatus::PropertiesSizeExceeded => return illegal(req, s),
        PutStatus::FlushSlaveTimeout => code::FLUSH_SLAVE_TIMEOUT,
        PutStatus::SlaveNotAvailable => code::SLAVE_NOT_AVAILABLE,
        PutStatus::ServiceNotAvailable => {
            return error(req, code::SERVICE_NOT_AVAILABLE, SERVICE_NOT_AVAILABLE_REMARK)
        }
        PutStatus::CreateMappedFileFailed => {
            return error(
                req,
                code::SYSTEM_ERROR,
                "create mapped file failed, server is busy or broken.",
            )
        }
        PutStatus::OsPageCacheBusy => {
            return error(
                req,
                code::SYSTEM_BUSY,
                "[PC_SYNCHRONIZED]broker busy, start flow control for a while",
            )
        }
        PutStatus::InSyncReplicasNotEnough => {
            return error(req, code::SYSTEM_ERROR, "in-sync replicas not enough")
        }
        _ => return error(req, code::SYSTEM_ERROR, "UNKNOWN_ERROR"),
    };
    let mut header = SendMessageResponseHeader {
        msg_id: r.msg_ids.join(","),
        queue_id,
        queue_offset: r.queue_offset,
        transaction_id,
    };
    if let Some(lq) = logic {
        // Java's rewriteResponseForStaticTopic: the logic queue and its offset.
        header.queue_id = lq.global_id;
        header.queue_offset = lq.leader().logic_offset_loosely(r.queue_offset);
    }
    let mut resp = RemotingCommand::response_to(req, c)
        .with_header(&header)
        .with_ext("MSG_REGION", s.config.region_id.clone())
        .with_ext("TRACE_ON", s.config.trace_on.to_string());
    if c != code::SUCCESS {
        resp = resp.with_remark(format!("{:?}", r.status));
    }
    resp
}

/// A random queue id in `0..n` (`n > 0`).
pub(super) fn pick_queue(n: i32) -> i32 {
    pick(n)
}

/// A tiny per-thread xorshift for random queue picks (no `rand` dependency for one call).
mod rand_lite {
    use std::cell::Cell;

    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
        );
    }

    /// A value in `0..n` (`n > 0`).
    pub fn pick(n: i32) -> i32 {
        STATE.with(|s| {
            let mut x = s.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.set(x);
            (x % n as u64) as i32
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_property_appended() {
        assert_eq!(with_cluster("", "C"), "CLUSTER\u{1}C");
        assert_eq!(
            with_cluster("TAGS\u{1}A\u{2}", "C"),
            "TAGS\u{1}A\u{2}CLUSTER\u{1}C"
        );
        assert_eq!(with_cluster("TAGS\u{1}A", "C"), "TAGS\u{1}A\u{2}CLUSTER\u{1}C");
        assert_eq!(
            message::tags_code_of(b"TAGS\x01TagA\x02"),
            message::tag_hash("TagA")
        );
        assert_eq!(message::tags_code_of(b"KEYS\x01k\x02"), 0);
        for _ in 0..100 {
            assert!((0..4).contains(&rand_lite::pick(4)));
        }
    }
}
