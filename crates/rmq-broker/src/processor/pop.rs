//! POP requests (docs/protocol/pop.md): POP_MESSAGE (200050), ACK_MESSAGE (200051),
//! BATCH_ACK_MESSAGE (200151), CHANGE_MESSAGE_INVISIBLETIME (200053), NOTIFICATION (200054),
//! POLLING_INFO (200055), QUERY_ASSIGNMENT (400), SET_MESSAGE_REQUEST_MODE (401),
//! GET_ALL_MESSAGE_REQUEST_MODE (402). The bookkeeping is in [`crate::pop`].

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rmq_protocol::body::pop::{
    AckMsg, BatchAckMessageRequestBody, MessageQueueAssignment, PopCheckPoint, QueryAssignmentRequestBody,
    QueryAssignmentResponseBody, SetMessageRequestModeRequestBody,
};
use rmq_protocol::body::{self, MessageQueue, SubscriptionData, TopicConfig};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    NotificationRequestHeader, NotificationResponseHeader, PollingInfoRequestHeader,
    PollingInfoResponseHeader, PopMessageRequestHeader, PopMessageResponseHeader,
};
use rmq_protocol::message::{self, Record};
use rmq_protocol::pop::{self as popfmt, OffsetInfo, ReceiptHandle, TopicKind, ORDER_REVIVE_QUEUE};
use rmq_protocol::RemotingCommand;
use rmq_remoting::Channel;
use rmq_store::GetStatus;

use super::{error, header, ok, FAQ};
use crate::filter::{compile, matches_sql, Expr, TagFilter};
use crate::pop::mode;
use crate::pop::order::{self, OrderAck};
use crate::topic::PERM_READ;
use crate::BrokerState;

/// `PopMessageRequestHeader.maxMsgNums` may not exceed this.
const MAX_POP_NUMS: i32 = 32;
/// A frame must stay under the remoting limit.
const MAX_POP_BODY_BYTES: usize = rmq_protocol::MAX_FRAME_BYTES - 64 * 1024;
/// `isTimeoutTooMuch`: a request older than its poll time by this much is refused.
const TOO_LATE_MS: i64 = 500;

/// A validated pop.
struct PopQuery {
    group: String,
    topic: String,
    /// -1: any queue.
    queue_id: i32,
    max: i32,
    invisible_time: i64,
    init_mode: i32,
    order: bool,
    attempt_id: Option<String>,
    filter: Arc<TagFilter>,
    sql: Option<Arc<Expr>>,
}

/// What one pass of a pop collected.
#[derive(Default)]
struct Popped {
    records: Vec<Bytes>,
    bytes: usize,
    info: OffsetInfo,
    order_count: Vec<String>,
    rest: i64,
    /// An orderly queue held until then (ms): worth trying again at that time.
    held_until: Option<i64>,
}

fn random_percent() -> u32 {
    (super::send::pick_queue(100)).max(0) as u32
}

/// Checks a pop's topic and group, builds its filter.
#[allow(clippy::result_large_err, reason = "the error is the response itself")]
fn validate_pop(
    s: &BrokerState,
    req: &RemotingCommand,
    h: &PopMessageRequestHeader,
) -> Result<PopQuery, RemotingCommand> {
    if s.runtime.permission() & PERM_READ == 0 {
        return Err(error(
            req,
            code::NO_PERMISSION,
            format!("the broker[{}] popping message is forbidden", s.addr),
        ));
    }
    if h.max_msg_nums > MAX_POP_NUMS {
        return Err(error(
            req,
            code::SYSTEM_ERROR,
            format!("the broker[{}] pop message's num is greater than 32", s.addr),
        ));
    }
    if !s.config.timer.enable {
        return Err(error(
            req,
            code::SYSTEM_ERROR,
            format!(
                "the broker[{}] pop message is forbidden because timerWheelEnable is false",
                s.addr
            ),
        ));
    }
    let tc = readable_topic(s, req, &h.topic)?;
    if h.queue_id >= tc.read_queue_nums {
        return Err(error(
            req,
            code::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id, h.topic, tc.read_queue_nums, h.consumer_group
            ),
        ));
    }
    consuming_group(s, req, &h.consumer_group)?;
    let exp = h
        .exp
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or(body::SUB_ALL);
    let exp_type = h.exp_type.as_deref().filter(|t| !t.is_empty()).unwrap_or("TAG");
    let (filter, sql) = if exp_type == "SQL92" {
        let expr = compile(exp).map_err(|e| {
            error(
                req,
                code::SUBSCRIPTION_PARSE_FAILED,
                format!("parse the consumer's subscription failed: {e}"),
            )
        })?;
        (TagFilter::All, Some(Arc::new(expr)))
    } else {
        let sub = SubscriptionData::from_tag_expression(&h.topic, exp, 0);
        (TagFilter::from_subscription(&sub), None)
    };
    Ok(PopQuery {
        group: h.consumer_group.clone(),
        topic: h.topic.clone(),
        queue_id: h.queue_id.max(-1),
        max: h.max_msg_nums.max(1),
        invisible_time: h.invisible_time,
        init_mode: h.init_mode,
        order: h.order.unwrap_or(false),
        attempt_id: h.attempt_id.clone().filter(|a| !a.is_empty()),
        filter: Arc::new(filter),
        sql,
    })
}

#[allow(clippy::result_large_err, reason = "the error is the response itself")]
fn readable_topic(
    s: &BrokerState,
    req: &RemotingCommand,
    topic: &str,
) -> Result<TopicConfig, RemotingCommand> {
    let Some(tc) = s.topics.get(topic) else {
        return Err(error(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist, apply first please! {FAQ}"),
        ));
    };
    if tc.perm & PERM_READ == 0 {
        return Err(error(
            req,
            code::NO_PERMISSION,
            format!("the topic[{topic}] peeking message is forbidden"),
        ));
    }
    Ok(tc)
}

#[allow(clippy::result_large_err, reason = "the error is the response itself")]
fn consuming_group(s: &BrokerState, req: &RemotingCommand, group: &str) -> Result<(), RemotingCommand> {
    match s.groups.find_or_create(group) {
        Ok(Some(g)) if g.consume_enable => Ok(()),
        Ok(Some(_)) => Err(error(
            req,
            code::NO_PERMISSION,
            format!("subscription group no permission, {group}"),
        )),
        Ok(None) => Err(error(
            req,
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{group}] does not exist, {FAQ}"),
        )),
        Err(e) => Err(error(req, code::SYSTEM_ERROR, format!("subscription group: {e}"))),
    }
}

/// The pop retry topics of a group's topic that exist, V1 first (where revived messages are).
fn retry_topics(s: &BrokerState, group: &str, topic: &str) -> Vec<String> {
    let p = &s.pop.settings;
    let mut out = Vec::new();
    if !p.enable_retry_topic_v2 || p.retrieve_from_retry_topic_v1 {
        out.push(popfmt::retry_topic_v1(group, topic));
    }
    if p.enable_retry_topic_v2 {
        out.push(popfmt::retry_topic_v2(group, topic));
    }
    out
}

/// POP_MESSAGE. A long poll ends early, with nothing, when `closed` completes (the remoting
/// connection closed).
pub(super) async fn pop(
    s: &BrokerState,
    closed: impl std::future::Future<Output = ()>,
    req: &RemotingCommand,
) -> RemotingCommand {
    let mut closed = std::pin::pin!(closed);
    let h = header!(req, PopMessageRequestHeader);
    let now = s.clock.now_ms();
    let born = if h.born_time == 0 { now } else { h.born_time };
    if h.poll_time > 0 && now - born - h.poll_time > TOO_LATE_MS {
        return error(
            req,
            code::POLLING_TIMEOUT,
            format!("the broker[{}] pop message is timeout too much", s.addr),
        );
    }
    let q = match validate_pop(s, req, &h) {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    let deadline_ms = born.saturating_add(h.poll_time.max(0));
    let mut held = None;
    loop {
        let pop_time = s.clock.now_ms();
        let revive_qid = if q.order {
            ORDER_REVIVE_QUEUE
        } else {
            s.pop.next_revive_qid()
        };
        let got = pop_once(s, &q, pop_time, revive_qid).await;
        let respond = |c: i32, remark: &str, got: Popped| {
            let header = PopMessageResponseHeader {
                pop_time,
                invisible_time: q.invisible_time,
                revive_qid,
                rest_num: got.rest.max(0),
                start_offset_info: Some(got.info.start_offset_info()),
                msg_offset_info: Some(got.info.msg_offset_info()),
                order_count_info: q.order.then(|| got.order_count.join(";")),
            };
            let resp = RemotingCommand::response_to(req, c)
                .with_header(&header)
                .with_remark(remark);
            if c == code::SUCCESS {
                s.metrics
                    .messages_out(&q.topic, &q.group, got.records.len() as u64, got.bytes as u64);
                resp.with_body(super::pull::concat(got.records, got.bytes))
            } else {
                resp
            }
        };
        if !got.records.is_empty() {
            if got.rest > 0 {
                // Others may be waiting for what is left.
                s.pop.waiters.wake_topic(&q.topic);
            }
            return respond(code::SUCCESS, "FOUND", got);
        }
        let now = s.clock.now_ms();
        if h.poll_time <= 0 || now >= deadline_ms {
            return respond(code::POLLING_TIMEOUT, "NO_MESSAGE_IN_QUEUE", got);
        }
        if held.is_none() {
            let key = format!("{}@{}@{}", q.topic, q.group, q.queue_id);
            let mut topics = vec![q.topic.clone()];
            topics.extend(retry_topics(s, &q.group, &q.topic));
            match s.pop.waiters.hold(key, topics) {
                Ok(w) => {
                    rmq_remoting::mark_suspended();
                    held = Some(w);
                    // Registered: try once more so that nothing that arrived since is missed.
                    continue;
                }
                Err(_) => return respond(code::POLLING_FULL, "POLLING_FULL", got),
            }
        }
        let wait_until = got.held_until.map_or(deadline_ms, |t| t.min(deadline_ms));
        let wait = Duration::from_millis((wait_until - now).max(1) as u64);
        let Some(w) = held.as_ref() else {
            continue;
        };
        tokio::select! {
            _ = w.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = &mut closed => return respond(code::POLLING_TIMEOUT, "NO_MESSAGE_IN_QUEUE", got),
        }
    }
}

/// One pass: the retry topic first for `popFromRetryProbability` % of pops, then the topic,
/// then the retry topic if there is room left (never the retry topic for an orderly pop).
async fn pop_once(s: &BrokerState, q: &PopQuery, pop_time: i64, revive_qid: i32) -> Popped {
    let mut got = Popped::default();
    let rand = random_percent();
    let retry_first = !q.order && rand < s.pop.settings.pop_from_retry_probability;
    let retries = if q.order {
        Vec::new()
    } else {
        retry_topics(s, &q.group, &q.topic)
    };
    if retry_first {
        for t in &retries {
            pop_topic(s, q, t, true, pop_time, revive_qid, rand, &mut got).await;
        }
    }
    pop_topic(s, q, &q.topic, false, pop_time, revive_qid, rand, &mut got).await;
    if !retry_first && (got.records.len() as i32) < q.max {
        for t in &retries {
            pop_topic(s, q, t, true, pop_time, revive_qid, rand, &mut got).await;
        }
    }
    got
}

/// Pops from every readable queue of `topic` (starting at a random one) or the asked one.
#[allow(clippy::too_many_arguments)]
async fn pop_topic(
    s: &BrokerState,
    q: &PopQuery,
    topic: &str,
    retry: bool,
    pop_time: i64,
    revive_qid: i32,
    rand: u32,
    got: &mut Popped,
) {
    let Some(tc) = s.topics.get(topic) else {
        return;
    };
    let n = tc.read_queue_nums.max(0);
    if !retry && q.queue_id >= 0 {
        pop_queue(s, q, topic, q.queue_id, pop_time, revive_qid, got).await;
        return;
    }
    for i in 0..n {
        let queue_id = ((rand as i32) + i) % n.max(1);
        pop_queue(s, q, topic, queue_id, pop_time, revive_qid, got).await;
    }
}

/// The offset a group pops a queue from: its committed offset, or (first pop) the queue's
/// start (`initMode` 0 and every retry topic) or its last message (`initMode` 1).
fn pop_offset(s: &BrokerState, q: &PopQuery, topic: &str, queue_id: i32) -> i64 {
    if let Some(o) = s.offsets.query(&q.group, topic, queue_id).filter(|o| *o >= 0) {
        return o;
    }
    let min = s.store.min_offset_in_queue(topic, queue_id);
    let init = if q.init_mode == 0 || topic.starts_with(crate::topic::RETRY_GROUP_TOPIC_PREFIX) {
        min
    } else if s.pop.settings.init_offset_by_check_msg_in_mem
        && min <= 0
        && !s.store.is_in_disk(topic, queue_id, 0)
    {
        0
    } else {
        (s.store.max_offset_in_queue(topic, queue_id) - 1).max(0)
    };
    s.offsets.commit(&q.group, topic, queue_id, init);
    init
}

/// The queue offset stored in a record.
fn record_queue_offset(raw: &[u8]) -> i64 {
    match message::parse_record(raw, false) {
        Ok(Record::Message(v)) => v.queue_offset,
        _ => -1,
    }
}

async fn pop_queue(
    s: &BrokerState,
    q: &PopQuery,
    topic: &str,
    queue_id: i32,
    pop_time: i64,
    revive_qid: i32,
    got: &mut Popped,
) {
    let remaining = q.max - got.records.len() as i32;
    let max_offset = s.store.max_offset_in_queue(topic, queue_id);
    let order_key = order::key(topic, &q.group, queue_id);
    let Some(_lock) = s.pop.try_lock_queue(order_key.clone()) else {
        got.rest += max_offset - s.offsets.query(&q.group, topic, queue_id).unwrap_or(0);
        return;
    };
    if q.order {
        let held = s
            .pop
            .orders
            .lock()
            .held_until(&order_key, q.attempt_id.as_deref(), pop_time);
        if let Some(until) = held {
            got.held_until = Some(got.held_until.map_or(until, |t| t.min(until)));
            return;
        }
    }
    let mut offset = pop_offset(s, q, topic, queue_id);
    if remaining <= 0 {
        got.rest += max_offset - offset;
        return;
    }
    let filter = &*q.filter;
    let read = |offset: i64| {
        let mut r = s.store.get_message(
            topic,
            queue_id,
            offset,
            remaining,
            MAX_POP_BODY_BYTES.saturating_sub(got.bytes),
            &|code| filter.matches(code),
        );
        if let Some(expr) = &q.sql {
            r.messages.retain(|m| matches_sql(expr, m));
            r.total_bytes = r.messages.iter().map(|m| m.len()).sum();
        }
        r
    };
    let mut r = read(offset);
    if matches!(
        r.status,
        GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly | GetStatus::OffsetFoundNull
    ) && r.next_begin_offset != offset
    {
        tracing::info!(topic, queue_id, group = %q.group, from = offset, to = r.next_begin_offset, "pop offset corrected");
        offset = r.next_begin_offset;
        s.offsets.commit(&q.group, topic, queue_id, offset);
        r = read(offset);
    }
    got.rest += max_offset - r.next_begin_offset.max(offset);
    if r.messages.is_empty() {
        if r.next_begin_offset > offset {
            // Nothing matched: the offset moves past what was scanned.
            s.offsets.commit(&q.group, topic, queue_id, r.next_begin_offset);
        }
        return;
    }
    let offsets: Vec<i64> = r.messages.iter().map(|m| record_queue_offset(m)).collect();
    let kind = TopicKind::of(topic);
    if q.order {
        let counts = s.pop.orders.lock().popped(
            &order_key,
            &offsets,
            pop_time,
            q.invisible_time,
            q.attempt_id.as_deref(),
        );
        let flag = kind.flag();
        for (o, c) in offsets.iter().zip(&counts) {
            if *c > 0 {
                got.order_count.push(format!("{flag} qo{queue_id}%{o} {c}"));
            }
        }
        let min = counts.iter().copied().min().unwrap_or(0);
        got.order_count.push(format!("{flag} {queue_id} {min}"));
        s.offsets.commit(&q.group, topic, queue_id, offset);
    } else {
        let ck = PopCheckPoint {
            start_offset: offset,
            queue_offset_diff: offsets.iter().map(|o| (o - offset) as i32).collect(),
            num: offsets.len() as i32,
            pop_time,
            invisible_time: q.invisible_time,
            queue_id,
            topic: topic.to_string(),
            cid: q.group.clone(),
            broker_name: Some(s.pop.broker_name().to_string()),
            ..PopCheckPoint::default()
        };
        if let Err(status) = s.pop.open_checkpoint(s, ck, revive_qid).await {
            tracing::warn!(
                topic,
                queue_id,
                ?status,
                "pop checkpoint not stored; the messages stay"
            );
            return;
        }
        s.offsets.commit(&q.group, topic, queue_id, r.next_begin_offset);
    }
    got.info.add(topic, queue_id, offset, &offsets);
    let rewrite = kind != TopicKind::Normal && !s.pop.settings.return_actual_retry_topic;
    let bytes_before = got.bytes;
    for (raw, o) in r.messages.into_iter().zip(&offsets) {
        let raw = if rewrite {
            let handle = ReceiptHandle {
                ck_offset: offset,
                pop_time,
                invisible_time: q.invisible_time,
                revive_qid,
                kind,
                broker_name: s.pop.broker_name().to_string(),
                queue_id,
                msg_offset: *o,
            };
            as_original_topic(&raw, &q.topic, &handle).unwrap_or(raw)
        } else {
            raw
        };
        got.bytes += raw.len();
        got.records.push(raw);
    }
    let bytes = (got.bytes - bytes_before) as u64;
    s.stats.get(topic, &q.group, offsets.len() as u64, bytes);
}

/// A retried message as the 5.x broker hands it out: under the original topic, with its
/// receipt handle in `POP_CK` (the client cannot build it from the offsets of a topic it did
/// not ask for).
fn as_original_topic(raw: &[u8], topic: &str, handle: &ReceiptHandle) -> Option<Bytes> {
    let (mut m, _) = message::decode_message(raw).ok()?;
    m.topic = topic.to_string();
    m.properties
        .entry(popfmt::POP_CK.to_string())
        .or_insert_with(|| handle.encode());
    let mut out = BytesMut::new();
    message::encode_message(&m, &mut out);
    Some(out.freeze())
}

/// The checks ACK and CHANGE_INVISIBLETIME share: the receipt handle, the topic, the queue id
/// and the offset's range.
#[allow(clippy::result_large_err, reason = "the error is the response itself")]
fn check_handle(
    s: &BrokerState,
    req: &RemotingCommand,
    topic: &str,
    queue_id: i32,
    offset: i64,
    extra_info: &str,
) -> Result<ReceiptHandle, RemotingCommand> {
    let Some(handle) = ReceiptHandle::parse(extra_info) else {
        return Err(error(
            req,
            code::SYSTEM_ERROR,
            format!("extraInfo is illegal: {extra_info}"),
        ));
    };
    let Some(tc) = s.topics.get(topic) else {
        return Err(error(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist, apply first please! {FAQ}"),
        ));
    };
    if queue_id < 0 || queue_id >= tc.read_queue_nums {
        return Err(error(
            req,
            code::MESSAGE_ILLEGAL,
            format!(
                "queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]",
                tc.read_queue_nums
            ),
        ));
    }
    let (min, max) = (
        s.store.min_offset_in_queue(topic, queue_id),
        s.store.max_offset_in_queue(topic, queue_id),
    );
    if offset < min || offset > max {
        return Err(error(
            req,
            code::NO_MESSAGE,
            format!("offset is illegal, key:{topic}@{queue_id}, commit:{offset}, store:{min}~{max}"),
        ));
    }
    Ok(handle)
}

pub(super) async fn ack(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, AckMessageRequestHeader);
    let handle = match check_handle(s, req, &h.topic, h.queue_id, h.offset, &h.extra_info) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if handle.is_order() {
        return ack_orderly(
            s,
            req,
            &h.consumer_group,
            &h.topic,
            h.queue_id,
            h.offset,
            handle.pop_time,
        )
        .await;
    }
    let ack = AckMsg {
        ack_offset: h.offset,
        ack_offset_list: Vec::new(),
        broker_name: Some(handle.broker_name.clone()),
        consumer_group: h.consumer_group.clone(),
        pop_time: handle.pop_time,
        queue_id: h.queue_id,
        start_offset: handle.ck_offset,
        topic: h.topic.clone(),
    };
    s.pop.acknowledge(s, handle.revive_qid, ack).await;
    ok(req)
}

async fn ack_orderly(
    s: &BrokerState,
    req: &RemotingCommand,
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    pop_time: i64,
) -> RemotingCommand {
    let key = order::key(topic, group, queue_id);
    let result = s.pop.orders.lock().ack(&key, offset, pop_time);
    match result {
        OrderAck::Commit {
            next_offset,
            released,
        } => {
            s.offsets.commit(group, topic, queue_id, next_offset);
            s.pop
                .record_order_commit(s, group, topic, queue_id, offset, next_offset)
                .await;
            if released {
                s.pop.waiters.wake_topic(topic);
            }
            ok(req)
        }
        OrderAck::Stale => ok(req),
        OrderAck::Unknown => {
            let committed = s.offsets.query(group, topic, queue_id).unwrap_or(-1);
            if offset < committed {
                // Already past it (acknowledged before).
                return ok(req);
            }
            error(
                req,
                code::MESSAGE_ILLEGAL,
                format!("offset is illegal, key:{key}, old:{offset}, commit:{committed}, next:-1"),
            )
        }
    }
}

pub(super) async fn batch_ack(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let body: BatchAckMessageRequestBody =
        match (!req.body.is_empty()).then(|| body::from_fastjson(&req.body)) {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                return error(
                    req,
                    code::SYSTEM_ERROR,
                    format!("bad BatchAckMessageRequestBody: {e}"),
                )
            }
            None => return error(req, code::NO_MESSAGE, "empty body"),
        };
    if body.acks.is_empty() {
        return error(req, code::NO_MESSAGE, "no acks");
    }
    for b in body.acks {
        let topic = TopicKind::from_flag(&b.retry).real_topic(&b.topic, &b.consumer_group);
        let (min, max) = (
            s.store.min_offset_in_queue(&topic, b.queue_id),
            s.store.max_offset_in_queue(&topic, b.queue_id),
        );
        if s.topics.get(&topic).is_none() {
            continue;
        }
        let offsets: Vec<i64> = b
            .offsets()
            .into_iter()
            .filter(|o| *o >= min && *o <= max)
            .collect();
        if offsets.is_empty() {
            continue;
        }
        if b.revive_queue_id == ORDER_REVIVE_QUEUE {
            for o in offsets {
                let _ = ack_orderly(s, req, &b.consumer_group, &topic, b.queue_id, o, b.pop_time).await;
            }
            continue;
        }
        let ack = AckMsg {
            ack_offset: -1,
            ack_offset_list: offsets,
            broker_name: body.broker_name.clone(),
            consumer_group: b.consumer_group.clone(),
            pop_time: b.pop_time,
            queue_id: b.queue_id,
            start_offset: b.start_offset,
            topic,
        };
        s.pop.acknowledge(s, b.revive_queue_id, ack).await;
    }
    ok(req)
}

pub(super) async fn change_invisible_time(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, ChangeInvisibleTimeRequestHeader);
    let handle = match check_handle(s, req, &h.topic, h.queue_id, h.offset, &h.extra_info) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let now = s.clock.now_ms();
    if handle.is_order() {
        let key = order::key(&h.topic, &h.consumer_group, h.queue_id);
        let visible_at = now.saturating_add(h.invisible_time);
        let pop_time = s.pop.orders.lock().change_invisible(&key, h.offset, visible_at);
        let (pop_time, invisible_time) = match pop_time {
            Some(pt) => (pt, visible_at - pt),
            None => (0, 0),
        };
        if pop_time != 0 {
            // The queue may be free earlier than before.
            s.pop.waiters.wake_topic(&h.topic);
        }
        return ok(req).with_header(&ChangeInvisibleTimeResponseHeader {
            pop_time,
            invisible_time,
            revive_qid: ORDER_REVIVE_QUEUE,
        });
    }
    // A checkpoint of its own for the message, then the old one acknowledged.
    let ck = PopCheckPoint {
        start_offset: h.offset,
        queue_offset_diff: vec![0],
        num: 1,
        pop_time: now,
        invisible_time: h.invisible_time,
        queue_id: h.queue_id,
        topic: h.topic.clone(),
        cid: h.consumer_group.clone(),
        broker_name: Some(handle.broker_name.clone()),
        ..PopCheckPoint::default()
    };
    if let Err(status) = s.pop.open_checkpoint(s, ck, handle.revive_qid).await {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("store checkpoint failed: {status:?}"),
        );
    }
    let ack = AckMsg {
        ack_offset: h.offset,
        ack_offset_list: Vec::new(),
        broker_name: Some(handle.broker_name.clone()),
        consumer_group: h.consumer_group.clone(),
        pop_time: handle.pop_time,
        queue_id: h.queue_id,
        start_offset: handle.ck_offset,
        topic: h.topic.clone(),
    };
    s.pop.acknowledge(s, handle.revive_qid, ack).await;
    ok(req).with_header(&ChangeInvisibleTimeResponseHeader {
        pop_time: now,
        invisible_time: h.invisible_time,
        revive_qid: handle.revive_qid,
    })
}

/// Whether a pop of the group would find anything on `topic` (orderly: in a queue not held).
fn has_message(
    s: &BrokerState,
    group: &str,
    topic: &str,
    queue_id: i32,
    order: bool,
    attempt: Option<&str>,
    now: i64,
) -> bool {
    let Some(tc) = s.topics.get(topic) else {
        return false;
    };
    let queues: Vec<i32> = if queue_id >= 0 {
        vec![queue_id]
    } else {
        (0..tc.read_queue_nums).collect()
    };
    queues.into_iter().any(|q| {
        if order
            && s.pop
                .orders
                .lock()
                .held_until(&order::key(topic, group, q), attempt, now)
                .is_some()
        {
            return false;
        }
        let max = s.store.max_offset_in_queue(topic, q);
        let from = s
            .offsets
            .query(group, topic, q)
            .unwrap_or_else(|| s.store.min_offset_in_queue(topic, q));
        max > from
    })
}

pub(super) async fn notification(
    s: &BrokerState,
    channel: &Channel,
    req: &RemotingCommand,
) -> RemotingCommand {
    let h = header!(req, NotificationRequestHeader);
    if s.runtime.permission() & PERM_READ == 0 {
        return error(
            req,
            code::NO_PERMISSION,
            format!("the broker[{}] peeking message is forbidden", s.addr),
        );
    }
    let tc = match readable_topic(s, req, &h.topic) {
        Ok(tc) => tc,
        Err(resp) => return resp,
    };
    if h.queue_id >= tc.read_queue_nums {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id,
                h.topic,
                tc.read_queue_nums,
                channel.peer_addr()
            ),
        );
    }
    if let Err(resp) = consuming_group(s, req, &h.consumer_group) {
        return resp;
    }
    let order = h.order.unwrap_or(false);
    let queue_id = h.queue_id.max(-1);
    let now = s.clock.now_ms();
    let born = if h.born_time == 0 { now } else { h.born_time };
    let deadline_ms = born.saturating_add(h.poll_time.max(0));
    let retries = if order {
        Vec::new()
    } else {
        retry_topics(s, &h.consumer_group, &h.topic)
    };
    let mut held = None;
    loop {
        let now = s.clock.now_ms();
        let attempt = h.attempt_id.as_deref();
        let has = has_message(s, &h.consumer_group, &h.topic, queue_id, order, attempt, now)
            || retries
                .iter()
                .any(|t| has_message(s, &h.consumer_group, t, -1, false, None, now));
        if has || h.poll_time <= 0 || now >= deadline_ms {
            return ok(req).with_header(&NotificationResponseHeader { has_msg: has });
        }
        if held.is_none() {
            let key = format!("{}@{}@{}", h.topic, h.consumer_group, queue_id);
            let mut topics = vec![h.topic.clone()];
            topics.extend(retries.iter().cloned());
            match s.pop.waiters.hold(key, topics) {
                Ok(w) => {
                    rmq_remoting::mark_suspended();
                    held = Some(w);
                    continue;
                }
                Err(_) => return error(req, code::POLLING_FULL, "POLLING_FULL"),
            }
        }
        let Some(w) = held.as_ref() else {
            continue;
        };
        let wait = Duration::from_millis((deadline_ms - now).clamp(1, 1000) as u64);
        tokio::select! {
            _ = w.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = channel.closed() => return ok(req).with_header(&NotificationResponseHeader { has_msg: false }),
        }
    }
}

pub(super) fn polling_info(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, PollingInfoRequestHeader);
    if let Err(resp) = readable_topic(s, req, &h.topic) {
        return resp;
    }
    let key = format!("{}@{}@{}", h.topic, h.consumer_group, h.queue_id.max(-1));
    ok(req).with_header(&PollingInfoResponseHeader {
        polling_num: s.pop.waiters.held_for(&key) as i32,
    })
}

/// The topic's readable queues on every broker of its route (the name servers' answer, as
/// Java's `TopicRouteInfoManager`), or on this broker alone when no name server answers.
async fn topic_queues(s: &BrokerState, topic: &str) -> Vec<MessageQueue> {
    if let Some(route) = crate::register::topic_route(s, topic).await {
        let mut out: Vec<MessageQueue> = route
            .queue_datas
            .iter()
            .filter(|q| q.perm & PERM_READ != 0)
            .flat_map(|q| (0..q.read_queue_nums).map(move |i| MessageQueue::new(topic, &q.broker_name, i)))
            .collect();
        out.sort();
        return out;
    }
    s.topics
        .get(topic)
        .map(|tc| {
            (0..tc.read_queue_nums)
                .map(|q| MessageQueue::new(topic, &s.config.broker_name, q))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn query_assignment(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let b: QueryAssignmentRequestBody = match (!req.body.is_empty()).then(|| body::from_fastjson(&req.body)) {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            return error(
                req,
                code::SYSTEM_ERROR,
                format!("bad QueryAssignmentRequestBody: {e}"),
            )
        }
        None => return error(req, code::SYSTEM_ERROR, "QueryAssignmentRequestBody missing"),
    };
    let settings = &s.pop.settings;
    let stored = s.pop.modes.get(&b.topic, &b.consumer_group);
    let (request_mode, share) = match stored {
        Some(m) => (m.mode, m.pop_share_queue_num),
        None if b.topic.starts_with(crate::topic::RETRY_GROUP_TOPIC_PREFIX) => (mode::PULL.to_string(), 0),
        None => {
            let m = settings.default_message_request_mode.clone();
            let share = if m == mode::POP {
                settings.default_pop_share_queue_num
            } else {
                0
            };
            (m, share)
        }
    };
    let mqs = topic_queues(s, &b.topic).await;
    let assigned: Option<Vec<MessageQueue>> =
        if b.message_model == "BROADCASTING" || !settings.server_load_balancer_enable {
            Some(mqs)
        } else {
            let mut cids = s.clients.consumer_ids(&b.consumer_group);
            cids.sort();
            if request_mode == mode::POP {
                mode::allocate_for_pop(&b.strategy_name, &mqs, &cids, &b.client_id, share)
            } else {
                mode::allocate(&b.strategy_name, &mqs, &cids, &b.client_id)
            }
        };
    let mut resp = QueryAssignmentResponseBody::default();
    for mq in assigned.unwrap_or_default() {
        resp.message_queue_assignments.insert(MessageQueueAssignment {
            attachments: Default::default(),
            message_queue: mq,
            mode: request_mode.clone(),
        });
    }
    ok(req).with_body(body::to_json(&resp))
}

pub(super) fn set_message_request_mode(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let b: SetMessageRequestModeRequestBody =
        match (!req.body.is_empty()).then(|| body::from_fastjson(&req.body)) {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                return error(
                    req,
                    code::SYSTEM_ERROR,
                    format!("bad SetMessageRequestModeRequestBody: {e}"),
                )
            }
            None => {
                return error(
                    req,
                    code::SYSTEM_ERROR,
                    "SetMessageRequestModeRequestBody missing",
                )
            }
        };
    if b.topic.starts_with(crate::topic::RETRY_GROUP_TOPIC_PREFIX) {
        return error(req, code::NO_PERMISSION, "retry topic is not allowed to set mode");
    }
    match s.pop.modes.set(b) {
        Ok(()) => ok(req),
        Err(e) => error(
            req,
            code::SYSTEM_ERROR,
            format!("persisting messageRequestMode.json: {e}"),
        ),
    }
}

pub(super) fn all_message_request_mode(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(body::to_json(&s.pop.modes.snapshot()))
}
