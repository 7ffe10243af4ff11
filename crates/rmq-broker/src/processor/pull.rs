//! PULL_MESSAGE (11), docs/protocol/pull.md: checks in Java's order (docs/protocol/pull.md#broker-checks),
//! the tag filter, the store read, the status → response-code mapping, the COMMIT_OFFSET commit, and long
//! polling (docs/protocol/pull.md#long-polling).
//!
//! Every pull response carries all four `PullMessageResponseHeader` fields and the store status
//! name as remark; a SUCCESS body is the concatenated stored records.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rmq_protocol::body::static_topic::{find_item, LogicQueueMappingItem};
use rmq_protocol::body::{MessageQueue, SubscriptionData, SubscriptionGroupConfig};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::{self, property};
use rmq_protocol::RemotingCommand;
use rmq_remoting::Channel;
use rmq_store::{GetResult, GetStatus, PutMessage};

use super::{error, header, FAQ};
use crate::filter::{compile, matches_sql, Expr, TagFilter};
use crate::static_topic::LogicQueue;
use crate::topic::{self, PERM_READ};
use crate::BrokerState;

use rmq_protocol::message::pull_sys_flag as sys_flag;

/// A frame must stay under the remoting limit whatever the batch caps say.
const MAX_PULL_BODY_BYTES: usize = rmq_protocol::MAX_FRAME_BYTES - 64 * 1024;

/// A validated pull: everything a (re-)read needs.
struct PullQuery {
    group: String,
    topic: String,
    queue_id: i32,
    max_msg_nums: i32,
    filter: Arc<TagFilter>,
    /// SQL92 subscriptions: applied to each record that passed the (match-all) tag stage.
    sql: Option<Arc<Expr>>,
    group_config: SubscriptionGroupConfig,
}

impl PullQuery {
    fn read(&self, s: &BrokerState, offset: i64) -> GetResult {
        let filter = &*self.filter;
        let mut r = s.store.get_message(
            &self.topic,
            self.queue_id,
            offset,
            self.max_msg_nums,
            MAX_PULL_BODY_BYTES,
            &|tags_code| filter.matches(tags_code),
        );
        if let Some(expr) = &self.sql {
            r.messages.retain(|record| matches_sql(expr, record));
            r.total_bytes = r.messages.iter().map(|m| m.len()).sum();
            if r.messages.is_empty() && r.status == GetStatus::Found {
                // Like Java: the read position still moves past the records that did not match.
                r.status = GetStatus::NoMatchedMessage;
            }
        }
        r
    }
}

/// `GetMessageStatus` names, the remark of every pull response.
fn status_name(s: GetStatus) -> &'static str {
    match s {
        GetStatus::Found => "FOUND",
        GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
        GetStatus::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
        GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
        GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
        GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
        GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
        GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
        GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
    }
}

/// Store status → response code on a master (docs/protocol/pull.md#broker-checks, the table).
fn response_code(status: GetStatus, requested_offset: i64) -> i32 {
    match status {
        GetStatus::Found => code::SUCCESS,
        GetStatus::NoMatchedMessage | GetStatus::MessageWasRemoving => code::PULL_RETRY_IMMEDIATELY,
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue if requested_offset != 0 => {
            code::PULL_OFFSET_MOVED
        }
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue => code::PULL_NOT_FOUND,
        GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly => code::PULL_OFFSET_MOVED,
        GetStatus::OffsetOverflowOne | GetStatus::OffsetFoundNull => code::PULL_NOT_FOUND,
    }
}

pub(super) async fn pull(s: &BrokerState, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
    pull_until(s, channel.peer_addr(), channel.closed(), req).await
}

/// A pull from `peer` whose hold ends early when `closed` completes (its connection, or a gRPC
/// call, went away).
pub(super) async fn pull_until(
    s: &BrokerState,
    peer: std::net::SocketAddr,
    closed: impl std::future::Future<Output = ()>,
    req: &RemotingCommand,
) -> RemotingCommand {
    let mut h = header!(req, PullMessageRequestHeader);
    let logic = match s.static_topics.logic_queue(req, &h.topic, h.queue_id, false) {
        Ok(None) => return pull_physical(s, peer, closed, req, &h).await,
        Ok(Some(lq)) => lq,
        Err(refused) => return error(req, refused.code, refused.remark),
    };
    // A static topic's logic queue (Java's rewriteRequestForStaticTopic): the generation holding
    // the requested offset, read as its physical queue; the answer's offsets made logic again.
    let item = match logic.item_for(h.queue_offset) {
        Ok(item) => item.clone(),
        Err(refused) => return error(req, refused.code, refused.remark),
    };
    h.queue_id = item.queue_id;
    h.queue_offset = item.physical_offset(h.queue_offset);
    if item.end_offset_decided() {
        let left = item.end_offset - item.start_offset;
        h.max_msg_nums = h.max_msg_nums.min(i32::try_from(left).unwrap_or(i32::MAX));
    }
    if !logic.is_local(&item) {
        // An older generation on another broker: read there, without holding or committing.
        let flags = h.sys_flag & !(sys_flag::SUSPEND | sys_flag::COMMIT_OFFSET);
        let changes = [
            ("queueOffset", h.queue_offset.to_string()),
            ("maxMsgNums", h.max_msg_nums.to_string()),
            ("sysFlag", flags.to_string()),
        ];
        return match crate::static_topic::forward(s, &h.topic, &item, req, &changes).await {
            Ok(resp) => logic_pull_response(resp, &logic, &item, h.queue_offset),
            Err(refused) => error(req, refused.code, refused.remark),
        };
    }
    if h.commit_offset >= item.logic_offset {
        h.commit_offset = item.physical_offset(h.commit_offset);
    } else {
        h.sys_flag &= !sys_flag::COMMIT_OFFSET;
    }
    let resp = pull_physical(s, peer, closed, req, &h).await;
    logic_pull_response(resp, &logic, &item, h.queue_offset)
}

/// Java's `PullMessageProcessor.rewriteResponseForStaticTopic`: a pull of `item` (a generation
/// of `logic`) at physical offset `requested`, its answer's offsets turned logic, and at the
/// ends of a generation the consumer sent on to the next one or told where the queue starts.
fn logic_pull_response(
    mut resp: RemotingCommand,
    logic: &LogicQueue,
    item: &LogicQueueMappingItem,
    requested: i64,
) -> RemotingCommand {
    let Ok(mut header) = resp.header::<PullMessageResponseHeader>() else {
        return resp; // an error answered before the read
    };
    let leader = logic.leader();
    let earliest = find_item(logic.items(), 0).unwrap_or(leader);
    let mut current = item;
    let (mut next, mut min, mut max) = (header.next_begin_offset, header.min_offset, header.max_offset);
    let mut c = resp.code;
    if resp.code != code::SUCCESS {
        if leader.gen == current.gen {
            if requested > max {
                if resp.code == code::PULL_OFFSET_MOVED {
                    next = max;
                }
            } else if requested < min {
                next = min;
                c = code::PULL_RETRY_IMMEDIATELY;
            }
        }
        let middle = leader.gen != current.gen && earliest.gen != current.gen;
        if earliest.gen == current.gen || middle {
            if requested < min {
                next = min;
                c = if middle {
                    code::PULL_RETRY_IMMEDIATELY
                } else {
                    code::PULL_OFFSET_MOVED
                };
            } else if requested >= max {
                match logic.next(current) {
                    Some(following) => {
                        current = following;
                        (next, min, max) = (current.start_offset, current.start_offset, current.start_offset);
                        c = code::PULL_RETRY_IMMEDIATELY;
                    }
                    None => c = code::PULL_NOT_FOUND,
                }
            }
        }
    }
    if current.end_offset_decided() && next >= current.end_offset {
        next = current.end_offset;
    }
    header.next_begin_offset = current.logic_offset_strictly(next);
    header.min_offset = current.logic_offset_strictly(min.max(current.start_offset));
    header.max_offset = current.logic_offset_strictly(max).max(leader.max_logic_offset());
    header.offset_delta = Some(current.offset_delta());
    resp.code = c;
    resp.with_header(&header)
}

/// A pull of a physical queue: ordinary topics, and static ones once translated.
async fn pull_physical(
    s: &BrokerState,
    peer: std::net::SocketAddr,
    closed: impl std::future::Future<Output = ()>,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
) -> RemotingCommand {
    let q = match validate(s, peer, req, h) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    let first = q.read(s, h.queue_offset);
    // Step 8: commit on the first processing, whatever the result, also when the pull is held.
    if h.sys_flag & sys_flag::COMMIT_OFFSET != 0 && s.is_master() {
        s.offsets.commit(&q.group, &q.topic, q.queue_id, h.commit_offset);
    }
    let suspend = h.sys_flag & sys_flag::SUSPEND != 0;
    // A slave holds pulls too: its HA dispatch announces arrivals like local puts do.
    if suspend && response_code(first.status, h.queue_offset) == code::PULL_NOT_FOUND {
        let hold_ms = if s.config.long_polling_enable {
            (h.suspend_timeout_millis.max(0) as u64).min(s.config.broker_suspend_max_time_ms)
        } else {
            s.config.short_polling_time_ms
        };
        if hold_ms > 0 {
            return hold(
                s,
                std::pin::pin!(closed),
                req,
                &q,
                h.queue_offset,
                first,
                Duration::from_millis(hold_ms),
            )
            .await;
        }
    }
    respond(s, req, &q, h.queue_offset, first, None).await
}

/// The first checks of docs/protocol/pull.md#broker-checks: permissions, group, topic, queue id,
/// subscription.
fn validate(
    s: &BrokerState,
    peer: std::net::SocketAddr,
    req: &RemotingCommand,
    h: &PullMessageRequestHeader,
) -> Result<PullQuery, Box<RemotingCommand>> {
    let fail = |c: i32, remark: String| Box::new(error(req, c, remark));
    if s.runtime.permission() & PERM_READ == 0 {
        return Err(fail(
            code::NO_PERMISSION,
            format!("the broker[{}] pulling message is forbidden", s.addr),
        ));
    }
    let group_config = match s.groups.find_or_create(&h.consumer_group) {
        Ok(Some(g)) => g,
        Ok(None) => {
            return Err(fail(
                code::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group [{}] does not exist, {FAQ}", h.consumer_group),
            ))
        }
        Err(e) => return Err(fail(code::SYSTEM_ERROR, format!("subscription group: {e}"))),
    };
    if !group_config.consume_enable {
        return Err(fail(
            code::NO_PERMISSION,
            format!("subscription group no permission, {}", h.consumer_group),
        ));
    }
    let Some(tc) = s.topics.get(&h.topic) else {
        return Err(fail(
            code::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please! {FAQ}", h.topic),
        ));
    };
    if tc.perm & PERM_READ == 0 {
        return Err(fail(
            code::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        ));
    }
    if h.queue_id < 0 || h.queue_id >= tc.read_queue_nums {
        return Err(fail(
            code::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id, h.topic, tc.read_queue_nums, peer
            ),
        ));
    }
    let sub = subscription(s, h, &group_config).map_err(|(c, remark)| fail(c, remark))?;
    let (filter, sql) = if sub.is_tag_type() {
        (TagFilter::from_subscription(&sub), None)
    } else if sub.expression_type == "SQL92" && s.config.enable_property_filter {
        let expr = compile(&sub.sub_string).map_err(|e| {
            fail(
                code::SUBSCRIPTION_PARSE_FAILED,
                format!("parse the consumer's subscription failed: {e}"),
            )
        })?;
        let all = SubscriptionData::from_tag_expression(&h.topic, rmq_protocol::body::SUB_ALL, 0);
        (TagFilter::from_subscription(&all), Some(Arc::new(expr)))
    } else {
        return Err(fail(
            code::SYSTEM_ERROR,
            format!(
                "The broker does not support consumer to filter message by {}",
                sub.expression_type
            ),
        ));
    };
    Ok(PullQuery {
        group: h.consumer_group.clone(),
        topic: h.topic.clone(),
        queue_id: h.queue_id,
        max_msg_nums: h.max_msg_nums,
        filter: Arc::new(filter),
        sql,
        group_config,
    })
}

/// Step 5: the header's expression with the SUBSCRIPTION flag, else the heartbeat's.
fn subscription(
    s: &BrokerState,
    h: &PullMessageRequestHeader,
    group_config: &SubscriptionGroupConfig,
) -> Result<SubscriptionData, (i32, String)> {
    if h.sys_flag & sys_flag::SUBSCRIPTION != 0 {
        let expression = h.subscription.as_deref().unwrap_or(rmq_protocol::body::SUB_ALL);
        let mut sub = SubscriptionData::from_tag_expression(&h.topic, expression, h.sub_version);
        if let Some(t) = h.expression_type.as_deref().filter(|t| !t.is_empty()) {
            sub.expression_type = t.to_string();
        }
        return Ok(sub);
    }
    let Some((broadcasting, sub)) = s.clients.pull_subscription(&h.consumer_group, &h.topic) else {
        return Err((
            code::SUBSCRIPTION_NOT_EXIST,
            format!("the consumer's group info not exist{FAQ}"),
        ));
    };
    if broadcasting && !group_config.consume_broadcast_enable {
        return Err((
            code::NO_PERMISSION,
            format!(
                "the consumer group[{}] can not consume by broadcast way",
                h.consumer_group
            ),
        ));
    }
    let Some(sub) = sub else {
        return Err((
            code::SUBSCRIPTION_NOT_EXIST,
            format!("the consumer's subscription not exist{FAQ}"),
        ));
    };
    if sub.sub_version < h.sub_version {
        return Err((
            code::SUBSCRIPTION_NOT_LATEST,
            "the consumer's subscription not latest".to_string(),
        ));
    }
    Ok(sub)
}

/// `PullRequestHoldService`'s period with long polling enabled.
const HOLD_RECHECK: Duration = Duration::from_secs(5);

/// Holds a pull that found nothing until a usable message is dispatched, `hold` passes, or the
/// connection closes. Never commits and never holds again (a re-run, in Java's words).
async fn hold(
    s: &BrokerState,
    mut closed: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    req: &RemotingCommand,
    q: &PullQuery,
    offset: i64,
    first: GetResult,
    hold: Duration,
) -> RemotingCommand {
    rmq_remoting::mark_suspended();
    let deadline = tokio::time::Instant::now() + hold;
    // Java's PullRequestHoldService re-checks every held pull each 5 s without a tags code, which
    // wakes one whose queue grew, even by non-matching messages only: its re-run then answers
    // PULL_RETRY_IMMEDIATELY with the offset moved past them.
    let mut recheck_at = tokio::time::Instant::now() + HOLD_RECHECK;
    let mut rechecked = false;
    let Some(waiter) = s
        .pull_waiters
        .register(&q.topic, q.queue_id, offset, q.filter.clone())
    else {
        tracing::warn!(
            held = s.pull_waiters.held(),
            "held pull limit reached; answering at once"
        );
        return respond(s, req, q, offset, first, None).await;
    };
    // Messages in [offset, cursor) exist but do not match the filter.
    let mut cursor = offset;
    loop {
        // Registered first, so a message dispatched from here on also wakes us.
        if s.store.max_offset_in_queue(&q.topic, q.queue_id) > cursor {
            let r = q.read(s, cursor);
            match r.status {
                GetStatus::NoMatchedMessage if r.next_begin_offset > cursor => {
                    cursor = r.next_begin_offset;
                    waiter.advance(cursor);
                    tokio::task::yield_now().await;
                    continue;
                }
                GetStatus::OffsetOverflowOne => {}
                _ => return respond(s, req, q, cursor, r, Some(offset)).await,
            }
        }
        if rechecked && cursor > offset {
            break;
        }
        rechecked = false;
        tokio::select! {
            _ = waiter.notified() => {}
            _ = tokio::time::sleep_until(deadline.min(recheck_at)) => {
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                recheck_at += HOLD_RECHECK;
                rechecked = true;
            }
            _ = &mut closed => break,
        }
    }
    drop(waiter);
    let r = q.read(s, cursor);
    respond(s, req, q, cursor, r, Some(offset)).await
}

/// Builds the response of a read at `read_offset`. `held_from` is the requested offset of a held
/// pull whose read cursor moved past non-matching messages.
async fn respond(
    s: &BrokerState,
    req: &RemotingCommand,
    q: &PullQuery,
    read_offset: i64,
    r: GetResult,
    held_from: Option<i64>,
) -> RemotingCommand {
    let requested = held_from.unwrap_or(read_offset);
    let mut c = response_code(r.status, read_offset);
    let mut remark = status_name(r.status);
    if c == code::PULL_NOT_FOUND && read_offset > requested {
        // Java's re-run from the requested offset would have scanned the non-matching ones.
        c = code::PULL_RETRY_IMMEDIATELY;
        remark = status_name(GetStatus::NoMatchedMessage);
    }
    let g = &q.group_config;
    let mut suggest = if s.runtime.slave_read() {
        if r.suggest_pulling_from_slave {
            g.which_broker_when_consume_slowly
        } else {
            g.broker_id
        }
    } else {
        0
    };
    let mut r = r;
    if !s.is_master() && !s.config.offset_check_in_slave {
        // 4.9.x PullMessageProcessor: the SLAVE + !slaveReadEnable → PULL_RETRY_IMMEDIATELY
        // assignment is overwritten by the status switch right after it, so a slave serves
        // what it has either way (that is how consumers go on while the master is down); only
        // the suggestion points back at the master. Without offsetCheckInSlave the store does
        // not correct the offset, and OFFSET_MOVED becomes a retry suggesting the group's broker;
        // with it, a slave answers like a master (event included).
        if matches!(
            r.status,
            GetStatus::NoMessageInQueue
                | GetStatus::NoMatchedLogicQueue
                | GetStatus::OffsetTooSmall
                | GetStatus::OffsetOverflowBadly
                | GetStatus::OffsetFoundNull
        ) {
            r.next_begin_offset = read_offset;
        }
        if c == code::PULL_OFFSET_MOVED {
            c = code::PULL_RETRY_IMMEDIATELY;
            suggest = g.broker_id;
        }
    }
    if c == code::PULL_OFFSET_MOVED {
        offset_moved_event(s, q, requested, r.next_begin_offset).await;
    }
    if s.is_master() {
        s.offsets
            .commit_pull(&q.group, &q.topic, q.queue_id, r.next_begin_offset);
    }
    let header = PullMessageResponseHeader {
        suggest_which_broker_id: suggest,
        next_begin_offset: r.next_begin_offset,
        min_offset: r.min_offset,
        max_offset: r.max_offset,
        offset_delta: None,
    };
    let resp = RemotingCommand::response_to(req, c)
        .with_header(&header)
        .with_remark(remark);
    if c == code::SUCCESS {
        s.stats
            .get(&q.topic, &q.group, r.messages.len() as u64, r.total_bytes as u64);
        s.metrics
            .messages_out(&q.topic, &q.group, r.messages.len() as u64, r.total_bytes as u64);
        resp.with_body(concat(r.messages, r.total_bytes))
    } else {
        resp
    }
}

pub(super) fn concat(mut messages: Vec<Bytes>, total_bytes: usize) -> Bytes {
    if messages.len() == 1 {
        return messages.pop().unwrap_or_default();
    }
    let mut body = BytesMut::with_capacity(total_bytes);
    for m in &messages {
        body.extend_from_slice(m);
    }
    body.freeze()
}

/// On a master, a PULL_OFFSET_MOVED also stores an `OffsetMovedEvent` in `OFFSET_MOVED_EVENT`
/// queue 0, tags = keys = the group (docs/protocol/pull.md#broker-checks).
async fn offset_moved_event(s: &BrokerState, q: &PullQuery, requested: i64, new_offset: i64) {
    let event = serde_json::json!({
        "consumerGroup": q.group,
        "messageQueue": MessageQueue::new(q.topic.clone(), s.config.broker_name.clone(), q.queue_id),
        "offsetNew": new_offset,
        "offsetRequest": requested,
    });
    let properties = message::encode_properties(&[
        (property::TAGS, q.group.as_str()),
        (property::KEYS, q.group.as_str()),
    ]);
    let born_host = s.config.store.store_host;
    let result = s
        .store
        .put_message(PutMessage {
            topic: topic::OFFSET_MOVED_EVENT.to_string(),
            queue_id: 0,
            flag: 0,
            body: Bytes::from(event.to_string()),
            properties,
            tags_code: message::tag_hash(&q.group),
            sys_flag: 0,
            born_timestamp: s.clock.now_ms(),
            born_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        })
        .await;
    if !result.is_stored() {
        tracing::warn!(status = ?result.status, group = %q.group, "could not store OffsetMovedEvent");
    }
    tracing::info!(group = %q.group, topic = %q.topic, queue_id = q.queue_id, requested, new_offset, "pull offset moved");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::codes::request_code;
    use tokio::time::Instant;

    /// A broker state over a fresh store (nothing served) and a channel over an in-memory pipe.
    fn state_and_channel(dir: &std::path::Path) -> (BrokerState, Channel, tokio::io::DuplexStream) {
        let mut config = crate::BrokerConfig::default();
        config.store.store_path_root_dir = dir.to_path_buf();
        config.store.mapped_file_size_commit_log = 1 << 20;
        config.store.mapped_file_size_consume_queue = 20 * 1000;
        let store = rmq_store::MessageStore::open(config.store.clone()).unwrap();
        let state = crate::load_state(config, store, crate::slave::MasterLinks::new(None), None).unwrap();
        let (ours, theirs) = tokio::io::duplex(1024);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        (state, Channel::spawn_io(ours, addr, addr, None), theirs)
    }

    fn query() -> PullQuery {
        PullQuery {
            group: "g".into(),
            topic: "T".into(),
            queue_id: 0,
            max_msg_nums: 32,
            filter: Arc::new(TagFilter::All),
            sql: None,
            group_config: SubscriptionGroupConfig::new("g"),
        }
    }

    /// A held pull on an empty queue answers PULL_NOT_FOUND when its hold time runs out, not
    /// before (paused tokio time: the 5 s re-checks and the deadline pass without waiting).
    #[tokio::test(start_paused = true)]
    async fn a_held_pull_answers_not_found_when_its_hold_time_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let (s, channel, _peer) = state_and_channel(dir.path());
        let (q, req) = (query(), RemotingCommand::request(request_code::PULL_MESSAGE));
        let first = q.read(&s, 0);
        let started = Instant::now();
        let resp = hold(
            &s,
            std::pin::pin!(channel.closed()),
            &req,
            &q,
            0,
            first,
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(resp.code, code::PULL_NOT_FOUND);
        let held = started.elapsed();
        assert!(
            held >= Duration::from_secs(30) && held < Duration::from_secs(31),
            "{held:?}"
        );
        assert_eq!(s.pull_waiters.held(), 0, "unregistered");
        s.store.shutdown().unwrap();
    }

    /// A message put while the pull is held answers it at once, long before its hold time.
    #[tokio::test(start_paused = true)]
    async fn a_held_pull_is_answered_by_an_arriving_message() {
        let dir = tempfile::tempdir().unwrap();
        let (s, channel, _peer) = state_and_channel(dir.path());
        let s = Arc::new(s);
        let arrivals = s.store.subscribe_arrivals();
        let dispatcher = {
            let s = s.clone();
            tokio::spawn(async move {
                crate::long_poll::dispatch_arrivals(&s.pull_waiters, &s.pop.waiters, arrivals).await
            })
        };
        let (q, req) = (query(), RemotingCommand::request(request_code::PULL_MESSAGE));
        let first = q.read(&s, 0);
        let started = Instant::now();
        let closed = std::pin::pin!(channel.closed());
        let held = hold(&s, closed, &req, &q, 0, first, Duration::from_secs(3600));
        let put = async {
            // Runs once the pull is registered and waiting.
            while s.pull_waiters.held() == 0 {
                tokio::task::yield_now().await;
            }
            let r = s
                .store
                .put_message(PutMessage {
                    topic: "T".into(),
                    queue_id: 0,
                    flag: 0,
                    body: Bytes::from_static(b"m"),
                    properties: String::new(),
                    tags_code: 0,
                    sys_flag: 0,
                    born_timestamp: 0,
                    born_host: s.config.store.store_host,
                    reconsume_times: 0,
                    prepared_transaction_offset: 0,
                })
                .await;
            assert!(r.is_stored());
        };
        let (resp, ()) = tokio::join!(held, put);
        assert_eq!(resp.code, code::SUCCESS);
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "{:?}",
            started.elapsed()
        );
        dispatcher.abort();
        s.store.shutdown().unwrap();
    }

    #[test]
    fn status_mapping() {
        assert_eq!(response_code(GetStatus::Found, 3), code::SUCCESS);
        assert_eq!(
            response_code(GetStatus::NoMatchedMessage, 3),
            code::PULL_RETRY_IMMEDIATELY
        );
        assert_eq!(
            response_code(GetStatus::MessageWasRemoving, 3),
            code::PULL_RETRY_IMMEDIATELY
        );
        assert_eq!(
            response_code(GetStatus::NoMessageInQueue, 0),
            code::PULL_NOT_FOUND
        );
        assert_eq!(
            response_code(GetStatus::NoMessageInQueue, 1),
            code::PULL_OFFSET_MOVED
        );
        assert_eq!(
            response_code(GetStatus::NoMatchedLogicQueue, 1),
            code::PULL_OFFSET_MOVED
        );
        assert_eq!(
            response_code(GetStatus::OffsetTooSmall, 1),
            code::PULL_OFFSET_MOVED
        );
        assert_eq!(
            response_code(GetStatus::OffsetOverflowBadly, 9),
            code::PULL_OFFSET_MOVED
        );
        assert_eq!(
            response_code(GetStatus::OffsetOverflowOne, 9),
            code::PULL_NOT_FOUND
        );
        assert_eq!(response_code(GetStatus::OffsetFoundNull, 9), code::PULL_NOT_FOUND);
        assert_eq!(status_name(GetStatus::OffsetOverflowOne), "OFFSET_OVERFLOW_ONE");
    }
}
