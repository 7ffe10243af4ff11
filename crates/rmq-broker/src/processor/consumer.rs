//! Client management (HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP,
//! CHECK_CLIENT_CONFIG), connection
//! lists (203, 204), QUERY_TOPIC_CONSUME_BY_WHO (300) and the orderly-consumer queue locks
//! (LOCK_BATCH_MQ 41 / UNLOCK_BATCH_MQ 42).

use rmq_protocol::body::{self, Connection, HeartbeatData, LockBatchRequestBody};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_remoting::Channel;

use super::{error, header, notify_group_change, ok};
use crate::clients::ClientConn;
use crate::topic::{self, PERM_READ, PERM_WRITE};
use crate::{register, BrokerState};

/// HEART_BEAT (docs/protocol/client.md#heartbeat): find or create each consumer group and its retry topic,
/// record the connection and subscriptions, and tell the group when its membership or topics changed.
pub(super) async fn heartbeat(s: &BrokerState, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
    let hb: HeartbeatData = match body::from_fastjson(&req.body) {
        Ok(hb) => hb,
        Err(e) => return error(req, code::SYSTEM_ERROR, format!("bad heartbeat body: {e}")),
    };
    let mut created = false;
    for c in &hb.consumer_data_set {
        let config = match s.groups.find_or_create(&c.group_name) {
            Ok(Some(config)) => config,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(group = %c.group_name, error = %e, "could not create subscription group");
                continue;
            }
        };
        let retry = format!("{}{}", topic::RETRY_GROUP_TOPIC_PREFIX, c.group_name);
        match s
            .topics
            .ensure(&retry, config.retry_queue_nums, PERM_READ | PERM_WRITE)
        {
            Ok((_, fresh)) => created |= fresh,
            Err(e) => tracing::warn!(topic = %retry, error = %e, "could not create retry topic"),
        }
    }
    let (changes, sub_change) = s.clients.heartbeat(
        channel,
        req.language.name().unwrap_or("OTHER").to_string(),
        req.version,
        &hb,
    );
    for change in changes {
        tracing::info!(client = %hb.client_id, group = %change.group, "consumer group changed");
        notify_group_change(s, change);
    }
    if created {
        register::register_all(s, true).await;
    }
    // 5.x: tells a v2 client it may send heartbeats without subscriptions from now on. A v1
    // heartbeat always counts as a change, as in Java.
    let sub_change = sub_change || hb.heartbeat_fingerprint == 0;
    ok(req)
        .with_ext("IS_SUPPORT_HEART_BEAT_V2", "true")
        .with_ext("IS_SUB_CHANGE", sub_change.to_string())
}

pub(super) fn unregister_client(
    s: &BrokerState,
    channel: &Channel,
    req: &RemotingCommand,
) -> RemotingCommand {
    let h = header!(req, UnregisterClientRequestHeader);
    let change = s
        .clients
        .unregister(channel, h.producer_group.as_deref(), h.consumer_group.as_deref());
    if let Some(change) = change {
        notify_group_change(s, change);
    }
    ok(req)
}

pub(super) fn consumer_list(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetConsumerListByGroupRequestHeader);
    let ids = s.clients.consumer_ids(&h.consumer_group);
    if ids.is_empty() {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("no consumer for this group, {}", h.consumer_group),
        );
    }
    ok(req).with_body(body::to_json(&body::GetConsumerListByGroupResponseBody {
        consumer_id_list: ids,
    }))
}

fn connection(c: &ClientConn) -> Connection {
    Connection {
        client_addr: c.channel.peer_addr().to_string(),
        client_id: c.client_id.clone(),
        language: c.language.clone(),
        version: c.version,
    }
}

/// GET_CONSUMER_CONNECTION_LIST (203, protocol A.5).
pub(super) fn consumer_connections(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetConsumerConnectionListRequestHeader);
    let Some(g) = s.clients.consumer_group(&h.consumer_group) else {
        return error(
            req,
            code::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{}] not online", h.consumer_group),
        );
    };
    let mut connection_set: Vec<Connection> = g.members.values().map(connection).collect();
    connection_set.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    ok(req).with_body(body::to_json(&body::ConsumerConnection {
        connection_set,
        consume_from_where: g.consume_from_where,
        consume_type: g.consume_type,
        message_model: g.message_model,
        subscription_table: g.subscriptions,
    }))
}

/// GET_PRODUCER_CONNECTION_LIST (204, protocol A.5).
pub(super) fn producer_connections(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetProducerConnectionListRequestHeader);
    let Some(conns) = s.clients.producer_conns(&h.producer_group) else {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("the producer group[{}] not exist", h.producer_group),
        );
    };
    ok(req).with_body(body::to_json(&body::ProducerConnection {
        connection_set: conns.iter().map(connection).collect(),
    }))
}

/// QUERY_TOPIC_CONSUME_BY_WHO (300, protocol A.4): live subscribers plus groups with offsets.
pub(super) fn consumed_by(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, QueryTopicConsumeByWhoRequestHeader);
    let mut groups = s.offsets.groups_of_topic(&h.topic);
    groups.extend(s.clients.groups_subscribed_to(&h.topic));
    let mut group_list: Vec<String> = groups.into_iter().collect();
    group_list.sort();
    ok(req).with_body(body::to_json(&body::GroupList { group_list }))
}

fn lock_body(req: &RemotingCommand) -> Result<LockBatchRequestBody, Box<RemotingCommand>> {
    body::from_fastjson(&req.body).map_err(|e| {
        Box::new(error(
            req,
            code::SYSTEM_ERROR,
            format!("bad lock batch body: {e}"),
        ))
    })
}

/// LOCK_BATCH_MQ (41): the response lists the queues the caller holds now.
pub(super) fn lock_batch(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let b = match lock_body(req) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let locked = s.locks.try_lock_batch(&b.consumer_group, &b.mq_set, &b.client_id);
    ok(req).with_body(body::to_json(&body::LockBatchResponseBody {
        lock_ok_mq_set: locked,
    }))
}

/// UNLOCK_BATCH_MQ (42): releases the caller's locks; always SUCCESS.
pub(super) fn unlock_batch(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let b = match lock_body(req) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    s.locks.unlock_batch(&b.consumer_group, &b.mq_set, &b.client_id);
    ok(req)
}

/// How long a forwarded request waits for the client (`Broker2Client.callClient`).
const CALL_CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Forwards an admin request to one consumer over its own connection and returns the client's
/// answer (`AdminBrokerProcessor.callConsumer`). Java also refuses clients older than 3.1.8;
/// rmq forwards to any version (non-Java clients report their own numbering).
async fn call_consumer(
    s: &BrokerState,
    req: &RemotingCommand,
    group: &str,
    client_id: &str,
    forwarded: RemotingCommand,
) -> RemotingCommand {
    let Some(conn) = s.clients.find_consumer(group, client_id) else {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("The Consumer <{group}> <{client_id}> not online"),
        );
    };
    match conn.channel.invoke(forwarded, CALL_CLIENT_TIMEOUT).await {
        Ok(mut resp) => {
            // The client's answer, under the admin request's opaque.
            resp.opaque = req.opaque;
            resp
        }
        Err(rmq_remoting::RemotingError::Timeout { .. }) => error(
            req,
            code::CONSUME_MSG_TIMEOUT,
            format!("consumer <{group}> <{client_id}> Timeout: {CALL_CLIENT_TIMEOUT:?}"),
        ),
        Err(e) => error(
            req,
            code::SYSTEM_ERROR,
            format!("invoke consumer <{group}> <{client_id}> Exception: {e}"),
        ),
    }
}

/// A copy of `req` as a new request of the same code (same extFields and body; the opaque is
/// the broker's own).
fn forward(req: &RemotingCommand) -> RemotingCommand {
    let mut f = RemotingCommand::request(req.code).with_body(req.body.clone());
    f.ext_fields = req.ext_fields.clone();
    f
}

/// GET_CONSUMER_RUNNING_INFO (307): asked of the consumer itself (`mqadmin consumerStatus`,
/// the dashboard); the body is its `ConsumerRunningInfo`.
pub(super) async fn running_info(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetConsumerRunningInfoRequestHeader);
    let forwarded = forward(req);
    call_consumer(s, req, &h.consumer_group, &h.client_id, forwarded).await
}

/// CONSUME_MESSAGE_DIRECTLY (309): the stored message, by its offset msg id, handed to one
/// consumer's listener (`mqadmin consumeMessage`, the dashboard's resend).
pub(super) async fn consume_directly(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, ConsumeMessageDirectlyResultRequestHeader);
    let mut forwarded = forward(req);
    forwarded
        .ext_fields
        .insert("brokerName".into(), s.config.broker_name.clone());
    if let Some(tc) = h.topic.as_deref().and_then(|t| s.topics.get(t)) {
        forwarded
            .ext_fields
            .insert("topicSysFlag".into(), tc.topic_sys_flag.to_string());
    }
    if let Some(g) = s.groups.get(&h.consumer_group) {
        forwarded
            .ext_fields
            .insert("groupSysFlag".into(), g.group_sys_flag.to_string());
    }
    let record = h
        .msg_id
        .as_deref()
        .and_then(|id| rmq_protocol::message::decode_offset_msg_id(id).ok())
        .and_then(|(_, offset)| s.store.read_record(offset));
    if let Some(record) = record {
        forwarded.body = record;
    }
    let client_id = h.client_id.unwrap_or_default();
    call_consumer(s, req, &h.consumer_group, &client_id, forwarded).await
}

/// QUERY_TOPICS_BY_CONSUMER (343, 5.x): the topics the group has committed offsets for here.
pub(super) fn topics_by_consumer(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, QueryTopicsByConsumerRequestHeader);
    let mut topic_list: Vec<String> = s.offsets.topics_of_group(&h.group).into_iter().collect();
    topic_list.sort();
    ok(req).with_body(body::to_json(&body::TopicList {
        broker_addr: Some(s.addr.clone()),
        topic_list,
    }))
}

/// QUERY_SUBSCRIPTION_BY_CONSUMER (345, 5.x): the group's subscription to a topic, from its
/// consumers' heartbeats (absent when none is online).
pub(super) fn subscription_by_consumer(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, QuerySubscriptionByConsumerRequestHeader);
    let subscription_data = s
        .clients
        .consumer_group(&h.group)
        .and_then(|g| g.subscriptions.get(&h.topic).cloned());
    ok(req).with_body(body::to_json(&body::QuerySubscriptionResponseBody {
        group: h.group,
        subscription_data,
        topic: h.topic,
    }))
}
