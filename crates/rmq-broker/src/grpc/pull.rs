//! The pull consumer's RPCs: PullMessage, UpdateOffset, GetOffset, QueryOffset.
//!
//! Apache RocketMQ 5.3.1's Proxy does not serve them (UNIMPLEMENTED) and no released 5.x SDK calls
//! them yet; rmq answers them as the only upstream design does, the Proxy draft of
//! apache/rocketmq#6757 (docs/protocol/grpc.md, "Pull-consumer RPCs"): each maps onto the remoting request the
//! Proxy would send the broker (PULL_MESSAGE, UPDATE_CONSUMER_OFFSET, QUERY_CONSUMER_OFFSET,
//! GET_MIN_OFFSET / GET_MAX_OFFSET / SEARCH_OFFSET_BY_TIMESTAMP), handled in process.

use std::net::SocketAddr;
use std::time::Duration;

use rmq_grpc_proto::v2::{self, pull_message_response::Content, *};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{
    GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, PullMessageRequestHeader,
    PullMessageResponseHeader, QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader,
    SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::{message, RemotingCommand};

use super::consume::{filter, millis, polling_time, topic_and_group};
use super::{broker_status, ok_status, resource_name, status, validate_topic};
use crate::BrokerState;

/// The most messages one pull returns (the Proxy draft clamps `batch_size` to 1..32).
const MAX_BATCH: i32 = 32;

/// PULL_MESSAGE's sysFlag: suspend (long polling) and a subscription in the request; the offset
/// is never committed by a pull (UpdateOffset does that).
const SYS_FLAG: i32 = message::pull_sys_flag::SUSPEND | message::pull_sys_flag::SUBSCRIPTION;

/// The queue a request names: its topic and id, which must be on this broker (a client pulls
/// from the broker the route names for the queue; no broker forwards for another).
fn queue(s: &BrokerState, mq: Option<&MessageQueue>) -> Result<(String, i32), v2::Status> {
    let mq = mq.ok_or_else(|| status(Code::BadRequest, "messageQueue is null."))?;
    let topic = resource_name(mq.topic.as_ref()).to_string();
    validate_topic(&topic)?;
    if let Some(b) = mq.broker.as_ref().filter(|b| !b.name.is_empty()) {
        if b.name != s.config.broker_name {
            return Err(status(
                Code::BadRequest,
                format!(
                    "the queue's broker {} is not {}; ask its own endpoints",
                    b.name, s.config.broker_name
                ),
            ));
        }
    }
    Ok((topic, mq.id))
}

/// PullMessage: `{status}`, the messages, then `{next_offset}` (the Proxy draft's
/// `PullMessageResponseStreamWriter`).
pub(super) async fn pull(
    s: &BrokerState,
    peer: SocketAddr,
    remaining: Option<Duration>,
    client_version: Option<&str>,
    req: &PullMessageRequest,
    closed: impl std::future::Future<Output = ()>,
) -> Vec<PullMessageResponse> {
    let one = |st: v2::Status| {
        vec![PullMessageResponse {
            content: Some(Content::Status(st)),
        }]
    };
    let polling = match polling_time(
        millis(req.long_polling_timeout.as_ref()).map(|ms| Duration::from_millis(ms.max(0) as u64)),
        remaining,
        client_version,
    ) {
        Ok(p) => p,
        Err(st) => return one(st),
    };
    let (topic, group) = match topic_and_group(
        req.message_queue.as_ref().and_then(|q| q.topic.as_ref()),
        req.group.as_ref(),
    ) {
        Ok(tg) => tg,
        Err(st) => return one(st),
    };
    let queue_id = match queue(s, req.message_queue.as_ref()) {
        Ok((_, id)) => id,
        Err(st) => return one(st),
    };
    let (exp_type, exp) = match filter(req.filter_expression.as_ref()) {
        Ok(f) => f,
        Err(st) => return one(st),
    };
    let header = PullMessageRequestHeader {
        consumer_group: group,
        topic: topic.clone(),
        queue_id,
        queue_offset: req.offset,
        max_msg_nums: req.batch_size.clamp(1, MAX_BATCH),
        sys_flag: SYS_FLAG,
        commit_offset: 0,
        suspend_timeout_millis: polling.as_millis() as i64,
        subscription: Some(exp),
        sub_version: s.clock.now_ms(),
        expression_type: Some(exp_type.to_string()),
        bname: None,
    };
    let cmd = RemotingCommand::request(request_code::PULL_MESSAGE).with_header(&header);
    let resp = crate::processor::pull_until(s, peer, closed, &cmd).await;
    let next = match resp.header::<PullMessageResponseHeader>() {
        Ok(h) => h.next_begin_offset,
        Err(_) => return one(broker_status(&resp)),
    };
    let tail = PullMessageResponse {
        content: Some(Content::NextOffset(next)),
    };
    let (st, messages) = match resp.code {
        response_code::SUCCESS => match message::decode_messages(&resp.body) {
            Ok(found) if found.is_empty() => (status(Code::MessageNotFound, "no match message"), Vec::new()),
            Ok(found) => {
                let now = s.clock.now_ms();
                (
                    ok_status(),
                    found
                        .iter()
                        .map(|m| super::message::to_grpc(m, &topic, now))
                        .collect(),
                )
            }
            Err(e) => (status(Code::InternalServerError, e.to_string()), Vec::new()),
        },
        response_code::PULL_OFFSET_MOVED => (status(Code::IllegalOffset, "ILLEGAL_OFFSET"), Vec::new()),
        response_code::PULL_NOT_FOUND | response_code::PULL_RETRY_IMMEDIATELY => {
            (status(Code::MessageNotFound, "no new message"), Vec::new())
        }
        _ => return one(broker_status(&resp)),
    };
    let mut out = Vec::with_capacity(messages.len() + 2);
    out.push(PullMessageResponse {
        content: Some(Content::Status(st)),
    });
    out.extend(messages.into_iter().map(|m| PullMessageResponse {
        content: Some(Content::Message(m)),
    }));
    out.push(tail);
    out
}

/// The group and queue of an offset request.
fn group_queue(
    s: &BrokerState,
    group: Option<&Resource>,
    mq: Option<&MessageQueue>,
) -> Result<(String, String, i32), v2::Status> {
    let (topic, group) = topic_and_group(mq.and_then(|q| q.topic.as_ref()), group)?;
    let (_, queue_id) = queue(s, mq)?;
    Ok((group, topic, queue_id))
}

/// UpdateOffset: the group's committed offset of the queue.
pub(super) async fn update_offset(
    s: &BrokerState,
    peer: SocketAddr,
    req: &UpdateOffsetRequest,
) -> UpdateOffsetResponse {
    let st = match group_queue(s, req.group.as_ref(), req.message_queue.as_ref()) {
        Err(st) => st,
        Ok((consumer_group, topic, queue_id)) => {
            let h = UpdateConsumerOffsetRequestHeader {
                consumer_group,
                topic,
                queue_id,
                commit_offset: req.offset,
                bname: None,
            };
            let cmd = RemotingCommand::request(request_code::UPDATE_CONSUMER_OFFSET).with_header(&h);
            broker_status(&crate::processor::in_process(s, peer, &cmd).await)
        }
    };
    UpdateOffsetResponse { status: Some(st) }
}

/// GetOffset: the group's committed offset of the queue (OFFSET_NOT_FOUND when it has none).
pub(super) async fn get_offset(
    s: &BrokerState,
    peer: SocketAddr,
    req: &GetOffsetRequest,
) -> GetOffsetResponse {
    let (consumer_group, topic, queue_id) =
        match group_queue(s, req.group.as_ref(), req.message_queue.as_ref()) {
            Ok(q) => q,
            Err(st) => {
                return GetOffsetResponse {
                    status: Some(st),
                    offset: 0,
                }
            }
        };
    let h = QueryConsumerOffsetRequestHeader {
        consumer_group,
        topic,
        queue_id,
        bname: None,
    };
    let cmd = RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET).with_header(&h);
    let resp = crate::processor::in_process(s, peer, &cmd).await;
    let (st, offset) = match resp.code {
        response_code::QUERY_NOT_FOUND => (status(Code::OffsetNotFound, "offset not found"), 0),
        _ => offset_of(&resp),
    };
    GetOffsetResponse {
        status: Some(st),
        offset,
    }
}

/// QueryOffset: the queue's first offset, its end, or the first at a time.
pub(super) async fn query_offset(
    s: &BrokerState,
    peer: SocketAddr,
    req: &QueryOffsetRequest,
) -> QueryOffsetResponse {
    let answer = |st, offset| QueryOffsetResponse {
        status: Some(st),
        offset,
    };
    let (topic, queue_id) = match queue(s, req.message_queue.as_ref()) {
        Ok(q) => q,
        Err(st) => return answer(st, 0),
    };
    let cmd = match QueryOffsetPolicy::try_from(req.query_offset_policy) {
        Ok(QueryOffsetPolicy::Beginning) => RemotingCommand::request(request_code::GET_MIN_OFFSET)
            .with_header(&GetMinOffsetRequestHeader {
                topic,
                queue_id,
                bname: None,
            }),
        Ok(QueryOffsetPolicy::End) => {
            RemotingCommand::request(request_code::GET_MAX_OFFSET).with_header(&GetMaxOffsetRequestHeader {
                topic,
                queue_id,
                bname: None,
            })
        }
        Ok(QueryOffsetPolicy::Timestamp) => {
            let Some(at) = req.timestamp.as_ref() else {
                return answer(
                    status(
                        Code::BadRequest,
                        "timestamp is required when queryOffsetPolicy is TIMESTAMP",
                    ),
                    0,
                );
            };
            let ms = super::message::epoch_ms(at);
            RemotingCommand::request(request_code::SEARCH_OFFSET_BY_TIMESTAMP).with_header(
                &SearchOffsetRequestHeader {
                    topic,
                    queue_id,
                    timestamp: ms,
                    bname: None,
                },
            )
        }
        Err(_) => return answer(status(Code::BadRequest, "unrecognized queryOffsetPolicy"), 0),
    };
    let (st, offset) = offset_of(&crate::processor::in_process(s, peer, &cmd).await);
    answer(st, offset)
}

/// The `offset` of an offset response (every one of them names it so).
fn offset_of(resp: &RemotingCommand) -> (v2::Status, i64) {
    if resp.code != response_code::SUCCESS {
        return (broker_status(resp), 0);
    }
    match resp.header::<QueryConsumerOffsetResponseHeader>() {
        Ok(h) => (ok_status(), h.offset),
        Err(e) => (status(Code::InternalServerError, e.to_string()), 0),
    }
}
