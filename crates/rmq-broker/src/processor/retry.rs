//! Consumer retry and dead-letter queues (docs/broker/retry-dlq.md):
//! CONSUMER_SEND_MSG_BACK (36), the send path's `handleRetryAndDLQ`, and GET_ALL_DELAY_OFFSET (45).
//!
//! A message sent back is copied into `%RETRY%<group>` with reconsume times + 1 and a delay level
//! (`3 + reconsumeTimes` unless the consumer chose one), so it is parked in `SCHEDULE_TOPIC_XXXX`
//! first. Once reconsume times reach the maximum (or the consumer asks with a negative level) it
//! goes to `%DLQ%<group>` instead, undelayed. Both copies carry `RETRY_TOPIC` = the original topic
//! and `ORIGIN_MESSAGE_ID`, and keep `UNIQ_KEY`, so a DLQ message can later be resent to its
//! original topic by reading it (VIEW_MESSAGE_BY_ID) and sending it to `RETRY_TOPIC`.

use rmq_protocol::body::SubscriptionGroupConfig;
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::{ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader};
use rmq_protocol::message::{self, property};
use rmq_protocol::RemotingCommand;
use rmq_store::{PutMessage, PutStatus};

use super::{error, header, ok, FAQ};
use crate::schedule::{property_value, set_property};
use crate::topic::{DLQ_GROUP_TOPIC_PREFIX, PERM_READ, PERM_WRITE, RETRY_GROUP_TOPIC_PREFIX};
use crate::{register, BrokerState};

/// `AbstractSendMessageProcessor.DLQ_NUMS_PER_GROUP`.
pub const DLQ_NUMS_PER_GROUP: i32 = 1;
/// `MQVersion.Version.V3_4_9.ordinal()`: from here on the header's `maxReconsumeTimes` counts.
const V3_4_9: i32 = 121;

/// The group's config (auto-created unless `autoCreateSubscriptionGroup` is off), or the
/// SUBSCRIPTION_GROUP_NOT_EXIST / SYSTEM_ERROR response.
fn group_config(
    s: &BrokerState,
    req: &RemotingCommand,
    group: &str,
) -> Result<SubscriptionGroupConfig, Box<RemotingCommand>> {
    match s.groups.find_or_create(group) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(Box::new(error(
            req,
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {group} {FAQ}"),
        ))),
        Err(e) => Err(Box::new(error(
            req,
            code::SYSTEM_ERROR,
            format!("subscription group: {e}"),
        ))),
    }
}

/// The group's `retryMaxTimes`, overridden by the request header's value (clients ≥ 3.4.9).
fn max_reconsume_times(
    req: &RemotingCommand,
    group: &SubscriptionGroupConfig,
    from_header: Option<i32>,
) -> i32 {
    match from_header {
        Some(t) if req.version >= V3_4_9 => t,
        _ => group.retry_max_times,
    }
}

/// Creates (and registers) a retry or DLQ topic on first use
/// (`createTopicInSendMessageBackMethod`). DLQ topics are RW as in 4.9.2+ (4.9.0/4.9.1: write-only).
async fn ensure_topic(
    s: &BrokerState,
    topic: &str,
    queues: i32,
) -> Result<rmq_protocol::body::TopicConfig, String> {
    match s.topics.ensure(topic, queues, PERM_READ | PERM_WRITE) {
        Ok((tc, created)) => {
            if created {
                tracing::info!(topic, queues, "retry/DLQ topic created");
                register::register_all(s, true).await;
            }
            Ok(tc)
        }
        Err(e) => {
            tracing::warn!(topic, error = %e, "could not create topic");
            Err(format!("topic[{topic}] not exist"))
        }
    }
}

/// Java's `PutMessageStatus` names (the send-back failure remark).
fn status_name(s: PutStatus) -> &'static str {
    match s {
        PutStatus::PutOk => "PUT_OK",
        PutStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        PutStatus::MessageIllegal => "MESSAGE_ILLEGAL",
        PutStatus::PropertiesSizeExceeded => "PROPERTIES_SIZE_EXCEEDED",
        PutStatus::ServiceNotAvailable => "SERVICE_NOT_AVAILABLE",
        PutStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        PutStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
        PutStatus::OsPageCacheBusy => "OS_PAGECACHE_BUSY",
        PutStatus::CreateMappedFileFailed => "CREATE_MAPEDFILE_FAILED",
        PutStatus::InSyncReplicasNotEnough => "IN_SYNC_REPLICAS_NOT_ENOUGH",
        PutStatus::UnknownError => "UNKNOWN_ERROR",
    }
}

/// CONSUMER_SEND_MSG_BACK (`asyncConsumerSendMsgBack`), holding `permit`, a place of the send
/// queue, until the message is appended.
pub(super) async fn send_back(
    s: &BrokerState,
    req: &RemotingCommand,
    permit: tokio::sync::SemaphorePermit<'_>,
) -> RemotingCommand {
    let h = header!(req, ConsumerSendMsgBackRequestHeader);
    let group = match group_config(s, req, &h.group) {
        Ok(g) => g,
        Err(resp) => return *resp,
    };
    if s.runtime.permission() & PERM_WRITE == 0 {
        return error(
            req,
            code::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", s.addr),
        );
    }
    if group.retry_queue_nums <= 0 {
        // Java acknowledges and drops the message.
        return ok(req);
    }
    let retry_queue_nums = group.retry_queue_nums;
    let retry_topic = format!("{RETRY_GROUP_TOPIC_PREFIX}{}", h.group);
    // Java does not check, but the name becomes a directory under consumequeue/.
    if let Err(remark) = message::validate_topic(&retry_topic) {
        return error(req, code::SYSTEM_ERROR, remark);
    }
    let tc = match ensure_topic(s, &retry_topic, retry_queue_nums).await {
        Ok(tc) => tc,
        Err(remark) => return error(req, code::SYSTEM_ERROR, remark),
    };
    if tc.perm & PERM_WRITE == 0 {
        return error(
            req,
            code::NO_PERMISSION,
            format!("the topic[{retry_topic}] sending message is forbidden"),
        );
    }
    let mut queue_id = super::send::pick_queue(tc.write_queue_nums.max(1));

    let Some((orig, raw_props)) = s.store.read_record(h.offset).and_then(|r| decode(&r)) else {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("look message by offset failed, {}", h.offset),
        );
    };
    let mut props = raw_props;
    if property_value(&props, property::RETRY_TOPIC).is_none() {
        props = set_property(&props, property::RETRY_TOPIC, &orig.topic);
    }
    props = set_property(&props, property::WAIT, "false");
    // Java's `incSendBackNums` key: the topic the message was first sent to
    let back_topic = property_value(&props, property::RETRY_TOPIC)
        .map(|t| t.to_string())
        .unwrap_or_else(|| orig.topic.clone());

    let max_times = max_reconsume_times(req, &group, h.max_reconsume_times);
    let mut topic = retry_topic;
    let delay_level = if orig.reconsume_times >= max_times || h.delay_level < 0 {
        topic = format!("{DLQ_GROUP_TOPIC_PREFIX}{}", h.group);
        queue_id = 0;
        if let Err(remark) = ensure_topic(s, &topic, DLQ_NUMS_PER_GROUP).await {
            return error(req, code::SYSTEM_ERROR, remark);
        }
        0
    } else if h.delay_level == 0 {
        3 + orig.reconsume_times
    } else {
        h.delay_level
    };
    props = set_property(&props, property::DELAY, &delay_level.to_string());
    if !matches!(property_value(&props, property::ORIGIN_MESSAGE_ID), Some(v) if !v.trim().is_empty()) {
        props = set_property(&props, property::ORIGIN_MESSAGE_ID, &orig.msg_id);
    }
    let mut msg = PutMessage {
        topic,
        queue_id,
        flag: orig.flag,
        tags_code: orig.tags().map_or(0, message::tag_hash),
        body: orig.body,
        properties: props,
        sys_flag: orig.sys_flag,
        born_timestamp: orig.born_timestamp,
        born_host: orig.born_host,
        reconsume_times: orig.reconsume_times + 1,
        prepared_transaction_offset: 0,
    };
    // The retry's delay level wins over the message's own timer (whose properties go).
    if let Err(refused) = super::park_for_later(s, req, &mut msg) {
        return refused;
    }
    let target = msg.topic.clone();
    let pending = s.store.append_messages(vec![msg]);
    drop(permit);
    let r = pending.wait().await;
    match r.status {
        PutStatus::PutOk => {
            s.metrics
                .messages_in(&target, "normal", 1, u64::try_from(r.wrote_bytes).unwrap_or(0));
            s.stats.send_back(&back_topic, &h.group);
            if target.starts_with(DLQ_GROUP_TOPIC_PREFIX) {
                s.metrics.sent_to_dlq(&orig.topic, &h.group);
            }
            tracing::debug!(group = %h.group, offset = h.offset, to = %target, delay_level, "message sent back");
            ok(req)
        }
        other => error(req, code::SYSTEM_ERROR, status_name(other)),
    }
}

/// A stored record decoded, with its properties string as stored (order kept).
fn decode(record: &[u8]) -> Option<(message::MessageExt, String)> {
    let (m, _) = message::decode_message(record).ok()?;
    match rmq_store::record::check(record, false) {
        rmq_store::record::RecordCheck::Message(info) => {
            Some((m, String::from_utf8_lossy(info.properties).into_owned()))
        }
        _ => None,
    }
}

/// `handleRetryAndDLQ`: a direct send to `%RETRY%<group>` whose reconsume times reached the
/// maximum goes to `%DLQ%<group>` (queue 0, `DELAY=0`) instead. `Err` is the response to return.
pub(super) async fn reroute_exhausted_retry(
    s: &BrokerState,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    msg: &mut PutMessage,
) -> Result<(), RemotingCommand> {
    let Some(group) = h.topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX) else {
        return Ok(());
    };
    let group_cfg = group_config(s, req, group).map_err(|r| *r)?;
    let max_times = max_reconsume_times(req, &group_cfg, h.max_reconsume_times);
    if h.reconsume_times.unwrap_or(0) < max_times {
        return Ok(());
    }
    let dlq = format!("{DLQ_GROUP_TOPIC_PREFIX}{group}");
    if let Err(remark) = ensure_topic(s, &dlq, DLQ_NUMS_PER_GROUP).await {
        return Err(error(req, code::SYSTEM_ERROR, remark));
    }
    msg.topic = dlq;
    msg.queue_id = 0;
    msg.properties = set_property(&msg.properties, property::DELAY, "0");
    Ok(())
}

/// GET_ALL_DELAY_OFFSET (45): the `delayOffset.json` content (a slave's metadata sync).
pub(super) fn all_delay_offset(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(s.schedule.encode())
}
