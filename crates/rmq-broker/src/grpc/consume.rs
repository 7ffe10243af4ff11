//! The consumer RPCs (docs/protocol/grpc.md, sections 6, 8 and 9): QueryAssignment,
//! ReceiveMessage, AckMessage, ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue.
//!
//! Each is what the Proxy makes of it: a POP_MESSAGE, ACK_MESSAGE, CHANGE_MESSAGE_INVISIBLETIME or
//! CONSUMER_SEND_MSG_BACK request, handled in process by the broker's own processors
//! (`processor::in_process`), with the Proxy's checks before and its status mapping after.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use rmq_grpc_proto::prost_types;
use rmq_grpc_proto::v2::{self, *};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::ConsumerSendMsgBackRequestHeader;
use rmq_protocol::header::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    PopMessageRequestHeader, PopMessageResponseHeader,
};
use rmq_protocol::message::{self, property, MessageExt};
use rmq_protocol::pop::{PopHandles, ReceiptHandle};
use rmq_protocol::RemotingCommand;

use super::message::{timestamp, to_grpc};
use super::send::validate_group;
use super::{broker_status, ok_status, resource_name, status, validate_topic};
use crate::topic::PERM_READ;
use crate::BrokerState;

/// `ProxyUtils.MAX_MSG_NUMS_FOR_POP_REQUEST`.
const MAX_BATCH: i32 = 32;
/// `minInvisibleTimeMillsForRecv` / `maxInvisibleTimeMills`.
const MIN_INVISIBLE: Duration = Duration::from_secs(10);
const MAX_INVISIBLE: Duration = Duration::from_secs(12 * 3600);
/// The long-polling bounds (`minLongPollingTimeoutMillis` / `maxLongPollingTimeoutMillis`).
const MIN_POLLING: Duration = Duration::from_secs(5);
const MAX_POLLING: Duration = Duration::from_secs(20);
/// Kept back from the client's deadline when it names no polling time (`requestTimeout / 2`).
const POLLING_RESERVE: Duration = Duration::from_millis(1500);
/// `ConsumeInitMode.MAX`: a group new to a queue starts at its end (unless its first message is
/// still in memory, as the broker decides).
const INIT_MODE_MAX: i32 = 1;

pub(super) fn millis(d: Option<&prost_types::Duration>) -> Option<i64> {
    d.map(|d| {
        d.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(d.nanos) / 1_000_000)
    })
}

/// The topic and group of a consumer request, checked as `GrpcValidator` does.
pub(super) fn topic_and_group(
    topic: Option<&Resource>,
    group: Option<&Resource>,
) -> Result<(String, String), v2::Status> {
    let topic = resource_name(topic).to_string();
    let group = resource_name(group).to_string();
    validate_topic(&topic)?;
    validate_group(&group)?;
    Ok((topic, group))
}

/// QueryAssignment: per readable broker of the route, one assignment with queue id -1 (any
/// queue), or every queue for a group that consumes orderly.
pub(super) async fn assignment(
    s: &BrokerState,
    ports: &super::endpoints::GrpcPorts,
    req: &QueryAssignmentRequest,
) -> QueryAssignmentResponse {
    let answer = |status, assignments| QueryAssignmentResponse {
        status: Some(status),
        assignments,
    };
    let (topic, group) = match topic_and_group(req.topic.as_ref(), req.group.as_ref()) {
        Ok(tg) => tg,
        Err(status) => return answer(status, Vec::new()),
    };
    let Some(route) = super::settings::route_data(s, &topic).await else {
        return answer(
            status(
                Code::TopicNotFound,
                format!("No topic route info in name server for the topic: {topic}"),
            ),
            Vec::new(),
        );
    };
    let orderly = s.groups.get(&group).is_some_and(|g| g.consume_message_orderly);
    let mut assignments = Vec::new();
    for q in &route.queue_datas {
        if q.perm & PERM_READ == 0 || q.read_queue_nums <= 0 {
            continue;
        }
        let Some(master) = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == q.broker_name)
            .and_then(|b| b.broker_addrs.get(&0))
        else {
            continue;
        };
        let broker = super::settings::grpc_broker(&q.broker_name, 0, master, ports.port_of(s, master).await);
        let ids: Vec<i32> = if orderly {
            (0..q.read_queue_nums).collect()
        } else {
            vec![-1]
        };
        for id in ids {
            assignments.push(Assignment {
                message_queue: Some(MessageQueue {
                    topic: Some(Resource {
                        resource_namespace: String::new(),
                        name: topic.clone(),
                    }),
                    id,
                    permission: super::settings::permission(q.perm) as i32,
                    broker: Some(broker.clone()),
                    accept_message_types: Vec::new(),
                }),
            });
        }
    }
    if assignments.is_empty() {
        return answer(status(Code::Forbidden, "no readable queue"), Vec::new());
    }
    answer(ok_status(), assignments)
}

/// The client a consumer RPC comes from, and the auto-renewed handles the server keeps for it.
pub(super) struct Client<'a> {
    pub id: &'a str,
    pub renewals: &'a super::renew::Renewals,
}

/// What a receiving client told the server in its settings.
pub(super) struct Receiver {
    pub fifo: bool,
    pub max_attempts: i32,
}

impl Receiver {
    pub(super) fn of(settings: &Settings) -> Receiver {
        let fifo = match &settings.pub_sub {
            Some(settings::PubSub::Subscription(sub)) => sub.fifo.unwrap_or(false),
            _ => false,
        };
        let max_attempts = settings.backoff_policy.as_ref().map_or(17, |p| p.max_attempts);
        Receiver { fifo, max_attempts }
    }
}

/// The deadline a gRPC client gave (`grpc-timeout`: digits and a unit of H, M, S, m, u or n).
pub(super) fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// How long a receive may poll: the asked time (or what the deadline leaves) within 5..20 s, and
/// never past the deadline. `Err` when the deadline leaves less than 5 s.
pub(super) fn polling_time(
    asked: Option<Duration>,
    remaining: Option<Duration>,
    client_version: Option<&str>,
) -> Result<Duration, v2::Status> {
    let wanted = asked
        .or_else(|| remaining.map(|r| r.saturating_sub(POLLING_RESERVE)))
        .unwrap_or(MAX_POLLING)
        .clamp(MIN_POLLING, MAX_POLLING);
    match remaining {
        Some(r) if wanted > r => {
            if r >= MIN_POLLING {
                return Ok(r);
            }
            // Clients before 5.0.3 know no ILLEGAL_POLLING_TIME (a string comparison, as Java's).
            let code = match client_version {
                Some(v) if "5.0.3" <= v => Code::IllegalPollingTime,
                _ => Code::BadRequest,
            };
            Err(status(
                code,
                "The deadline time remaining is not enough for polling, please check network condition",
            ))
        }
        _ => Ok(wanted),
    }
}

/// The invisible time of a receive: `auto_renewed` (`defaultInvisibleTimeMills`) when the server
/// renews it (auto_renew), else the asked one within 10 s..12 h.
fn invisible_time(req: &ReceiveMessageRequest, auto_renewed: i64) -> Result<i64, v2::Status> {
    if req.auto_renew {
        return Ok(auto_renewed);
    }
    let ms = millis(req.invisible_duration.as_ref()).unwrap_or(0);
    check_invisible(ms, MIN_INVISIBLE)?;
    Ok(ms)
}

fn check_invisible(ms: i64, min: Duration) -> Result<(), v2::Status> {
    if ms < min.as_millis() as i64 {
        return Err(status(
            Code::IllegalInvisibleTime,
            format!("the invisibleTime is too small. min is {}", min.as_millis()),
        ));
    }
    if ms > MAX_INVISIBLE.as_millis() as i64 {
        return Err(status(
            Code::IllegalInvisibleTime,
            format!(
                "the invisibleTime is too large. max is {}",
                MAX_INVISIBLE.as_millis()
            ),
        ));
    }
    Ok(())
}

/// The filter of a receive: `(expType, exp)`, an SQL92 one compiled first so that a bad one is
/// ILLEGAL_FILTER_EXPRESSION.
pub(super) fn filter(f: Option<&FilterExpression>) -> Result<(&'static str, String), v2::Status> {
    let exp = f
        .map(|f| f.expression.trim())
        .filter(|e| !e.is_empty())
        .unwrap_or("*")
        .to_string();
    if f.is_some_and(|f| f.r#type == FilterType::Sql as i32) {
        crate::filter::compile(&exp).map_err(|e| status(Code::IllegalFilterExpression, e.to_string()))?;
        return Ok(("SQL92", exp));
    }
    Ok(("TAG", exp))
}

/// The answer to a receive: the status first, then the messages, then the delivery time.
pub(super) fn stream(
    status: v2::Status,
    messages: Vec<v2::Message>,
    now_ms: i64,
) -> Vec<ReceiveMessageResponse> {
    use receive_message_response::Content;
    let mut out = Vec::with_capacity(messages.len() + 2);
    out.push(ReceiveMessageResponse {
        content: Some(Content::Status(status)),
    });
    out.extend(messages.into_iter().map(|m| ReceiveMessageResponse {
        content: Some(Content::Message(m)),
    }));
    out.push(ReceiveMessageResponse {
        content: Some(Content::DeliveryTimestamp(timestamp(now_ms))),
    });
    out
}

/// A request of the Proxy's to the broker, handled in process.
async fn call(
    s: &BrokerState,
    peer: SocketAddr,
    code: i32,
    header: &impl rmq_protocol::header::CommandHeader,
) -> RemotingCommand {
    let req = RemotingCommand::request(code).with_header(header);
    crate::processor::in_process(s, peer, &req).await
}

/// ReceiveMessage: a POP of any queue of the topic on this broker; each message goes out with
/// its receipt handle, except one that has used up its attempts, which goes to the dead-letter
/// queue instead. The long poll ends early, with nothing, when `gone` completes.
#[allow(clippy::too_many_arguments)]
pub(super) async fn receive(
    s: &BrokerState,
    peer: SocketAddr,
    client: &Client<'_>,
    receiver: Option<Receiver>,
    remaining: Option<Duration>,
    client_version: Option<&str>,
    req: &ReceiveMessageRequest,
    gone: impl std::future::Future<Output = ()>,
) -> Vec<ReceiveMessageResponse> {
    let now = s.clock.now_ms();
    let refuse = |st: v2::Status| stream(st, Vec::new(), now);
    let Some(receiver) = receiver else {
        return refuse(status(
            Code::InternalServerError,
            "cannot find client settings for this client",
        ));
    };
    let polling = match polling_time(
        req.long_polling_timeout
            .as_ref()
            .and_then(|d| millis(Some(d)))
            .map(|ms| Duration::from_millis(ms.max(0) as u64)),
        remaining,
        client_version,
    ) {
        Ok(p) => p,
        Err(st) => return refuse(st),
    };
    let mq = req.message_queue.as_ref();
    let (topic, group) = match topic_and_group(mq.and_then(|q| q.topic.as_ref()), req.group.as_ref()) {
        Ok(tg) => tg,
        Err(st) => return refuse(st),
    };
    let invisible = match invisible_time(req, s.config.grpc_renew.default_invisible_ms) {
        Ok(ms) => ms,
        Err(st) => return refuse(st),
    };
    let (exp_type, exp) = match filter(req.filter_expression.as_ref()) {
        Ok(f) => f,
        Err(st) => return refuse(st),
    };
    let header = PopMessageRequestHeader {
        consumer_group: group.clone(),
        topic: topic.clone(),
        queue_id: -1,
        max_msg_nums: req.batch_size.clamp(1, MAX_BATCH),
        invisible_time: invisible,
        poll_time: polling.as_millis() as i64,
        born_time: now,
        init_mode: INIT_MODE_MAX,
        exp_type: Some(exp_type.to_string()),
        exp: Some(exp),
        order: Some(receiver.fifo),
        attempt_id: req.attempt_id.clone(),
        bname: None,
    };
    let pop = RemotingCommand::request(request_code::POP_MESSAGE).with_header(&header);
    let resp = crate::processor::pop_until(s, &pop, gone).await;
    let done = s.clock.now_ms();
    match resp.code {
        response_code::SUCCESS => {}
        response_code::POLLING_FULL => {
            return stream(status(Code::TooManyRequests, "polling full"), Vec::new(), done)
        }
        response_code::POLLING_TIMEOUT | response_code::PULL_NOT_FOUND => {
            return stream(status(Code::MessageNotFound, "no new message"), Vec::new(), done)
        }
        _ => return stream(broker_status(&resp), Vec::new(), done),
    }
    let popped = match popped_messages(s, &resp) {
        Ok(m) => m,
        Err(e) => return stream(status(Code::InternalServerError, e), Vec::new(), done),
    };
    let mut out = Vec::with_capacity(popped.len());
    for (m, handle) in popped {
        if m.reconsume_times >= receiver.max_attempts {
            let gone = dead_letter(s, peer, &group, &topic, &m, &handle).await;
            if gone.code != response_code::SUCCESS {
                tracing::warn!(group, topic, msg = m.client_msg_id(), code = gone.code, remark = ?gone.remark,
                    "gRPC receive: could not move an exhausted message to the dead-letter queue; it comes back");
            }
            continue;
        }
        let msg = to_grpc(&m, &topic, now);
        if req.auto_renew {
            let text = m
                .properties
                .get(rmq_protocol::pop::POP_CK)
                .map_or("", String::as_str);
            let visible_at = handle.visible_at();
            client.renewals.track(
                client.id,
                &group,
                &topic,
                m.client_msg_id(),
                text,
                visible_at,
                done,
                peer,
            );
        }
        out.push(msg);
    }
    if out.is_empty() {
        return stream(
            status(Code::MessageNotFound, "no match message"),
            Vec::new(),
            done,
        );
    }
    stream(ok_status(), out, done)
}

/// The messages of a POP response, each with `UNIQ_KEY` set and the gRPC receipt handle (the
/// POP_CK and the commit log offset) in `POP_CK`.
fn popped_messages(
    s: &BrokerState,
    resp: &RemotingCommand,
) -> Result<Vec<(MessageExt, ReceiptHandle)>, String> {
    let header: PopMessageResponseHeader = resp.header().map_err(|e| e.to_string())?;
    let mut handles =
        PopHandles::new(&header, &s.config.broker_name).map_err(|(f, v)| format!("bad {f}: {v}"))?;
    let mut out = Vec::new();
    for mut m in message::decode_messages(&resp.body).map_err(|e| e.to_string())? {
        let handle = handles.handle(&mut m).map_err(|(f, v)| format!("bad {f}: {v}"))?;
        if !m.properties.contains_key(property::UNIQ_KEY) {
            m.properties
                .insert(property::UNIQ_KEY.to_string(), m.msg_id.clone());
        }
        let ck = format!("{} {}", handle.encode(), m.commit_log_offset);
        m.properties.insert(rmq_protocol::pop::POP_CK.to_string(), ck);
        out.push((m, handle));
    }
    Ok(out)
}

/// CONSUMER_SEND_MSG_BACK to the dead-letter queue, then the ack of the handle (its result
/// ignored, as the Proxy does).
async fn dead_letter(
    s: &BrokerState,
    peer: SocketAddr,
    group: &str,
    topic: &str,
    m: &MessageExt,
    handle: &ReceiptHandle,
) -> RemotingCommand {
    let real_topic = handle.kind.real_topic(topic, group);
    let back = ConsumerSendMsgBackRequestHeader {
        offset: m.commit_log_offset,
        group: group.to_string(),
        delay_level: -1,
        origin_msg_id: Some(m.client_msg_id().to_string()),
        origin_topic: Some(real_topic),
        unit_mode: false,
        max_reconsume_times: Some(0),
        bname: None,
    };
    let resp = call(s, peer, request_code::CONSUMER_SEND_MSG_BACK, &back).await;
    if resp.code == response_code::SUCCESS {
        let whole = m
            .properties
            .get(rmq_protocol::pop::POP_CK)
            .cloned()
            .unwrap_or_else(|| handle.encode());
        ack_one(s, peer, group, topic, &whole, handle).await;
    }
    resp
}

/// A gRPC receipt handle: the POP_CK fields and, after them, the commit log offset (-1 if
/// absent).
#[derive(Debug)]
struct GrpcHandle {
    handle: ReceiptHandle,
    commit_log_offset: i64,
}

fn parse_handle(text: &str) -> Result<GrpcHandle, v2::Status> {
    let fields: Vec<&str> = text.split(' ').collect();
    if fields.len() < 8 {
        return Err(status(
            Code::InvalidReceiptHandle,
            format!(
                "receipt handle is invalid: Parse failed, dataList size {}",
                fields.len()
            ),
        ));
    }
    let handle = ReceiptHandle::parse(text)
        .ok_or_else(|| status(Code::InvalidReceiptHandle, "receipt handle is invalid"))?;
    let commit_log_offset = fields.get(8).and_then(|f| f.parse().ok()).unwrap_or(-1);
    Ok(GrpcHandle {
        handle,
        commit_log_offset,
    })
}

fn expired(s: &BrokerState, h: &ReceiptHandle) -> bool {
    h.visible_at() <= s.clock.now_ms()
}

async fn ack_one(
    s: &BrokerState,
    peer: SocketAddr,
    group: &str,
    topic: &str,
    text: &str,
    h: &ReceiptHandle,
) -> RemotingCommand {
    let header = AckMessageRequestHeader {
        consumer_group: group.to_string(),
        topic: h.kind.real_topic(topic, group),
        queue_id: h.queue_id,
        extra_info: text.to_string(),
        offset: h.msg_offset,
        bname: None,
    };
    call(s, peer, request_code::ACK_MESSAGE, &header).await
}

/// AckMessage: one ACK_MESSAGE per entry; the top status is the entries' one code, or
/// MULTIPLE_RESULTS.
pub(super) async fn ack(
    s: &BrokerState,
    peer: SocketAddr,
    client: &Client<'_>,
    req: &AckMessageRequest,
) -> AckMessageResponse {
    let (topic, group) = match topic_and_group(req.topic.as_ref(), req.group.as_ref()) {
        Ok(tg) => tg,
        Err(st) => {
            return AckMessageResponse {
                status: Some(st),
                entries: Vec::new(),
            }
        }
    };
    let mut entries = Vec::with_capacity(req.entries.len());
    for e in &req.entries {
        let sent = client
            .renewals
            .take(client.id, &group, &e.message_id, &e.receipt_handle);
        let st = match parse_handle(&sent) {
            Err(st) => st,
            Ok(h) if expired(s, &h.handle) => status(Code::InvalidReceiptHandle, "receipt handle is expired"),
            Ok(h) => {
                let resp = ack_one(s, peer, &group, &topic, &sent, &h.handle).await;
                if resp.code == response_code::SUCCESS {
                    ok_status()
                } else {
                    status(Code::InternalServerError, "ack failed: status is abnormal")
                }
            }
        };
        entries.push(AckMessageResultEntry {
            message_id: e.message_id.clone(),
            receipt_handle: e.receipt_handle.clone(),
            status: Some(st),
        });
    }
    let codes: BTreeSet<i32> = entries
        .iter()
        .filter_map(|e| e.status.as_ref().map(|s| s.code))
        .collect();
    let top = match codes.len() {
        0 => status(Code::InternalServerError, "ack message result is empty"),
        1 => entries[0].status.clone().unwrap_or_else(ok_status),
        _ => status(Code::MultipleResults, "MULTIPLE_RESULTS"),
    };
    AckMessageResponse {
        status: Some(top),
        entries,
    }
}

/// ChangeInvisibleDuration: CHANGE_MESSAGE_INVISIBLETIME; the new handle's checkpoint is the
/// message's own (it starts at the message's offset).
pub(super) async fn change_invisible(
    s: &BrokerState,
    peer: SocketAddr,
    client: &Client<'_>,
    req: &ChangeInvisibleDurationRequest,
) -> ChangeInvisibleDurationResponse {
    let refuse = |st: v2::Status| ChangeInvisibleDurationResponse {
        status: Some(st),
        receipt_handle: String::new(),
    };
    let (topic, group) = match topic_and_group(req.topic.as_ref(), req.group.as_ref()) {
        Ok(tg) => tg,
        Err(st) => return refuse(st),
    };
    let ms = millis(req.invisible_duration.as_ref()).unwrap_or(0);
    if let Err(st) = check_invisible(ms, Duration::ZERO) {
        return refuse(st);
    }
    let sent = client
        .renewals
        .take(client.id, &group, &req.message_id, &req.receipt_handle);
    match change(s, peer, &group, &topic, &sent, ms).await {
        Ok((receipt_handle, _)) => ChangeInvisibleDurationResponse {
            status: Some(ok_status()),
            receipt_handle,
        },
        Err(st) => refuse(st),
    }
}

/// CHANGE_MESSAGE_INVISIBLETIME of the message `handle` names to `ms` from now: the new gRPC
/// handle and when it becomes visible.
pub(super) async fn change(
    s: &BrokerState,
    peer: SocketAddr,
    group: &str,
    topic: &str,
    handle: &str,
    ms: i64,
) -> Result<(String, i64), v2::Status> {
    let h = parse_handle(handle)?;
    if expired(s, &h.handle) {
        return Err(status(Code::InvalidReceiptHandle, "receipt handle is expired"));
    }
    let header = ChangeInvisibleTimeRequestHeader {
        consumer_group: group.to_string(),
        topic: h.handle.kind.real_topic(topic, group),
        queue_id: h.handle.queue_id,
        extra_info: handle.to_string(),
        offset: h.handle.msg_offset,
        invisible_time: ms,
        bname: None,
    };
    let resp = call(s, peer, request_code::CHANGE_MESSAGE_INVISIBLETIME, &header).await;
    let changed = match resp.header::<ChangeInvisibleTimeResponseHeader>() {
        Ok(c) if resp.code == response_code::SUCCESS => c,
        _ => {
            return Err(status(
                Code::InternalServerError,
                "changeInvisibleDuration failed: status is abnormal",
            ))
        }
    };
    let new = ReceiptHandle {
        ck_offset: h.handle.msg_offset,
        pop_time: changed.pop_time,
        invisible_time: changed.invisible_time,
        revive_qid: changed.revive_qid,
        ..h.handle
    };
    let visible_at = new.visible_at();
    Ok((format!("{} {}", new.encode(), h.commit_log_offset), visible_at))
}

/// ForwardMessageToDeadLetterQueue (the FIFO push consumer, out of attempts): the message to the
/// group's dead-letter queue, then its handle acked.
pub(super) async fn forward_to_dlq(
    s: &BrokerState,
    peer: SocketAddr,
    client: &Client<'_>,
    req: &ForwardMessageToDeadLetterQueueRequest,
) -> ForwardMessageToDeadLetterQueueResponse {
    let answer = |st| ForwardMessageToDeadLetterQueueResponse { status: Some(st) };
    let (topic, group) = match topic_and_group(req.topic.as_ref(), req.group.as_ref()) {
        Ok(tg) => tg,
        Err(st) => return answer(st),
    };
    let sent = client
        .renewals
        .take(client.id, &group, &req.message_id, &req.receipt_handle);
    let h = match parse_handle(&sent) {
        Ok(h) => h,
        Err(st) => return answer(st),
    };
    if h.commit_log_offset < 0 {
        return answer(status(Code::InvalidReceiptHandle, "commit log offset is empty"));
    }
    let back = ConsumerSendMsgBackRequestHeader {
        offset: h.commit_log_offset,
        group: group.clone(),
        delay_level: -1,
        origin_msg_id: Some(req.message_id.clone()),
        origin_topic: Some(h.handle.kind.real_topic(&topic, &group)),
        unit_mode: false,
        max_reconsume_times: Some(0),
        bname: None,
    };
    let resp = call(s, peer, request_code::CONSUMER_SEND_MSG_BACK, &back).await;
    if resp.code != response_code::SUCCESS {
        return answer(broker_status(&resp));
    }
    ack_one(s, peer, &group, &topic, &req.receipt_handle, &h.handle).await;
    answer(status(
        Code::Ok,
        resp.remark.clone().unwrap_or_else(|| "OK".into()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_read_every_unit() {
        assert_eq!(grpc_timeout("23000m"), Some(Duration::from_secs(23)));
        assert_eq!(grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("5000000u"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("x"), None);
        assert_eq!(grpc_timeout(""), None);
    }

    #[test]
    fn polling_time_is_clamped_and_fits_the_deadline() {
        let s = Duration::from_secs;
        assert_eq!(
            polling_time(Some(s(20)), Some(s(23)), Some("5.0.7")).unwrap(),
            s(20)
        );
        assert_eq!(polling_time(Some(s(1)), Some(s(30)), None).unwrap(), s(5));
        assert_eq!(polling_time(Some(s(60)), None, None).unwrap(), s(20));
        assert_eq!(
            polling_time(None, Some(s(10)), None).unwrap(),
            Duration::from_millis(8500)
        );
        assert_eq!(polling_time(Some(s(20)), Some(s(7)), None).unwrap(), s(7));
        let short = polling_time(Some(s(1)), Some(s(4)), Some("5.0.7")).unwrap_err();
        assert_eq!(short.code, Code::IllegalPollingTime as i32);
        let old = polling_time(Some(s(1)), Some(s(4)), Some("5.0.2")).unwrap_err();
        assert_eq!(old.code, Code::BadRequest as i32);
    }

    #[test]
    fn receipt_handles_need_eight_fields_and_carry_the_commit_log_offset() {
        let h = parse_handle("3 1700000000000 60000 1 0 broker-a 2 5 4096").unwrap();
        assert_eq!(
            (h.handle.queue_id, h.handle.msg_offset, h.commit_log_offset),
            (2, 5, 4096)
        );
        let eight = parse_handle("3 1700000000000 60000 1 0 broker-a 2 5").unwrap();
        assert_eq!(eight.commit_log_offset, -1);
        let short = parse_handle("3 1700000000000 60000 1 0 broker-a").unwrap_err();
        assert_eq!(short.code, Code::InvalidReceiptHandle as i32);
    }

    #[test]
    fn invisible_time_bounds() {
        let auto = ReceiveMessageRequest {
            auto_renew: true,
            ..Default::default()
        };
        assert_eq!(invisible_time(&auto, 60_000).unwrap(), 60_000);
        let small = ReceiveMessageRequest {
            invisible_duration: Some(prost_types::Duration { seconds: 5, nanos: 0 }),
            ..Default::default()
        };
        let err = invisible_time(&small, 60_000).unwrap_err();
        assert_eq!(err.message, "the invisibleTime is too small. min is 10000");
        assert!(check_invisible(0, Duration::ZERO).is_ok());
        assert!(check_invisible(43_200_001, Duration::ZERO).is_err());
    }
}
