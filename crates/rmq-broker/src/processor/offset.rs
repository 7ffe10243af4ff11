//! Consumer offsets: QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15),
//! GET_ALL_CONSUMER_OFFSET (43), GET_CONSUME_STATS (208, A.1), GET_BROKER_CONSUME_STATS (317) and
//! INVOKE_BROKER_TO_RESET_OFFSET (222, A.3).

use std::collections::HashMap;
use std::time::Duration;

use rmq_protocol::body::{
    self, ConsumeStats, ConsumeStatsList, MessageQueue, OffsetWrapper, ResetOffsetBody,
};
use rmq_protocol::codes::{request_code, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;

use super::{error, header, ok};
use crate::static_topic::{self, LogicQueue};
use crate::BrokerState;

/// Oldest client version that understands RESET_CONSUMER_CLIENT_OFFSET (V3_0_7_SNAPSHOT).
const MIN_RESET_CLIENT_VERSION: i32 = 28;
/// Bound on queueing one RESET_CONSUMER_CLIENT_OFFSET (Java's oneway timeout).
const RESET_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// QUERY_CONSUMER_OFFSET (docs/protocol/headers.md#offsets): the committed offset; else 0 for a young queue
/// (min offset ≤ 0 and its first message still in memory); else QUERY_NOT_FOUND.
pub(super) async fn query(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let mut h = header!(req, QueryConsumerOffsetRequestHeader);
    let logic = match s.static_topics.logic_queue(req, &h.topic, h.queue_id, false) {
        Ok(logic) => logic,
        Err(refused) => return error(req, refused.code, refused.remark),
    };
    if let Some(lq) = logic {
        let items = lq.items();
        if !(items.len() == 1 && items[0].logic_offset == 0) {
            return query_logic(s, req, &h, &lq).await;
        }
        h.queue_id = items[0].queue_id;
    }
    let committed = s
        .offsets
        .query(&h.consumer_group, &h.topic, h.queue_id)
        .filter(|o| *o >= 0);
    let offset = committed.or_else(|| {
        let young = s.store.min_offset_in_queue(&h.topic, h.queue_id) <= 0
            && !s.store.is_in_disk(&h.topic, h.queue_id, 0);
        young.then_some(0)
    });
    match offset {
        Some(offset) => ok(req).with_header(&QueryConsumerOffsetResponseHeader { offset }),
        None => error(
            req,
            code::QUERY_NOT_FOUND,
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
        ),
    }
}

/// QUERY_CONSUMER_OFFSET of a static topic's logic queue with several generations (Java's
/// rewriteRequestForStaticTopic): the offset of the newest generation that has one, here or
/// asked of its broker, made logic.
async fn query_logic(
    s: &BrokerState,
    req: &RemotingCommand,
    h: &QueryConsumerOffsetRequestHeader,
    lq: &LogicQueue,
) -> RemotingCommand {
    for item in lq.items().iter().rev() {
        let physical = if lq.is_local(item) {
            s.offsets
                .query(&h.consumer_group, &h.topic, item.queue_id)
                .filter(|o| *o >= 0)
        } else {
            let changes = [("setZeroIfNotFound", "false".to_string())];
            let resp = match static_topic::forward(s, &h.topic, item, req, &changes).await {
                Ok(resp) => resp,
                Err(refused) => return error(req, refused.code, refused.remark),
            };
            match resp.code {
                code::SUCCESS => resp
                    .header::<QueryConsumerOffsetResponseHeader>()
                    .ok()
                    .map(|r| r.offset),
                code::QUERY_NOT_FOUND => None,
                other => {
                    return error(
                        req,
                        code::SYSTEM_ERROR,
                        format!("Unknown response code {other} from broker {:?}", item.bname),
                    )
                }
            }
        };
        if let Some(offset) = physical {
            let offset = item.logic_offset_strictly(offset);
            return ok(req).with_header(&QueryConsumerOffsetResponseHeader { offset });
        }
    }
    error(
        req,
        code::QUERY_NOT_FOUND,
        "Not found, maybe this group consumer boot first",
    )
}

/// UPDATE_CONSUMER_OFFSET: stored as is, no validation (usually oneway); a static topic's logic
/// offset as the physical one of its generation.
pub(super) async fn update(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let mut h = header!(req, UpdateConsumerOffsetRequestHeader);
    let logic = match s.static_topics.logic_queue(req, &h.topic, h.queue_id, false) {
        Ok(logic) => logic,
        Err(refused) => return error(req, refused.code, refused.remark),
    };
    if let Some(lq) = logic {
        // Stored as the physical offset of the generation holding it, on its broker.
        let item = match lq.item_for(h.commit_offset) {
            Ok(item) => item,
            Err(refused) => return error(req, refused.code, refused.remark),
        };
        h.queue_id = item.queue_id;
        h.commit_offset = item.physical_offset(h.commit_offset);
        if !lq.is_local(item) {
            let changes = [("commitOffset", h.commit_offset.to_string())];
            return match static_topic::forward(s, &h.topic, item, req, &changes).await {
                Ok(resp) => resp,
                Err(refused) => error(req, refused.code, refused.remark),
            };
        }
    }
    s.offsets
        .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    ok(req)
}

/// GET_ALL_CONSUMER_OFFSET: the `consumerOffset.json` content.
pub(super) fn all(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(body::to_json(&s.offsets.snapshot()))
}

/// GET_CONSUME_STATS (A.1): per queue the broker's max offset, the committed offset and the
/// store time of the last consumed message.
pub(super) fn consume_stats(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetConsumeStatsRequestHeader);
    let group = &h.consumer_group;
    let topics: Vec<String> = match h.topic.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => vec![t.to_string()],
        _ => s.offsets.topics_of_group(group).into_iter().collect(),
    };
    let mut stats = ConsumeStats::default();
    for topic in topics {
        if let Some(one) = topic_stats(s, group, &topic, false) {
            stats.consume_tps += one.consume_tps;
            stats.offset_table.extend(one.offset_table);
        }
    }
    ok(req).with_body(body::to_json(&stats))
}

/// GET_BROKER_CONSUME_STATS (`mqadmin brokerConsumeStats`): for every subscription group, the
/// stats of each topic it has offsets for (`isOrder`: orderly topics only), and the total lag.
pub(super) fn broker_consume_stats(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetConsumeStatsInBrokerHeader);
    let mut list = ConsumeStatsList {
        broker_addr: s.addr.clone(),
        ..ConsumeStatsList::default()
    };
    for group in s.groups.names() {
        let mut per_topic = Vec::new();
        for topic in s.offsets.topics_of_group(&group) {
            let Some(stats) = topic_stats(s, &group, &topic, h.is_order) else {
                continue;
            };
            for w in stats.offset_table.values() {
                list.total_diff += w.broker_offset - w.consumer_offset;
                list.total_inflight_diff += w.pull_offset - w.consumer_offset;
            }
            per_topic.push(stats);
        }
        list.consume_stats_list.push(HashMap::from([(group, per_topic)]));
    }
    ok(req).with_body(body::to_json(&list))
}

/// One topic's [`ConsumeStats`] for `group`, as Java builds them: `None` for a topic the broker
/// does not have, a non-orderly topic when `only_order`, or a topic the group's live consumers
/// do not subscribe to (when they subscribe to anything).
fn topic_stats(s: &BrokerState, group: &str, topic: &str, only_order: bool) -> Option<ConsumeStats> {
    let Some(tc) = s.topics.get(topic) else {
        tracing::warn!(group, topic, "consume stats: topic not exist");
        return None;
    };
    if only_order && !tc.order {
        return None;
    }
    if let Some(g) = s.clients.consumer_group(group) {
        if !g.subscriptions.is_empty() && !g.subscriptions.contains_key(topic) {
            return None;
        }
    }
    let mut stats = ConsumeStats {
        consume_tps: s.stats.get_tps(topic, group),
        ..ConsumeStats::default()
    };
    for queue_id in 0..tc.read_queue_nums {
        let broker_offset = s.store.max_offset_in_queue(topic, queue_id).max(0);
        let consumer_offset = s.offsets.query(group, topic, queue_id).unwrap_or(-1).max(0);
        let last_timestamp = if consumer_offset > 0 {
            s.store
                .message_store_timestamp(topic, queue_id, consumer_offset - 1)
                .filter(|t| *t > 0)
                .unwrap_or(0)
        } else {
            0
        };
        stats.offset_table.insert(
            MessageQueue::new(topic.to_string(), s.config.broker_name.clone(), queue_id),
            OffsetWrapper {
                broker_offset,
                consumer_offset,
                last_timestamp,
                pull_offset: s
                    .offsets
                    .query_pull(group, topic, queue_id)
                    .map_or(consumer_offset, |p| p.max(consumer_offset)),
            },
        );
    }
    Some(stats)
}

/// INVOKE_BROKER_TO_RESET_OFFSET (A.3, Java 4.9.8 `Broker2Client.resetOffset`): computes the
/// per-queue offsets (by store time, or the max offset for timestamp −1), sends them to every
/// live consumer of the group with RESET_CONSUMER_CLIENT_OFFSET (oneway) and answers them. Like
/// Java 4.9.8 the broker does not commit them itself: the consumers do, after dropping their
/// queues; an offline group gets CONSUMER_NOT_ONLINE.
pub(super) async fn reset(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, ResetOffsetRequestHeader);
    let Some(tc) = s.topics.get(&h.topic) else {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!(
                "[reset-offset] reset offset failed, no topic in this broker. topic={}",
                h.topic
            ),
        );
    };
    let mut offset_table = HashMap::new();
    for queue_id in 0..tc.write_queue_nums {
        let Some(current) = s.offsets.query(&h.group, &h.topic, queue_id).filter(|o| *o != -1) else {
            return error(
                req,
                code::SYSTEM_ERROR,
                format!("THe consumer group <{}> not exist", h.group),
            );
        };
        let target = if h.timestamp == -1 {
            s.store.max_offset_in_queue(&h.topic, queue_id)
        } else {
            s.store.offset_by_timestamp(&h.topic, queue_id, h.timestamp)
        }
        .max(0);
        let offset = if h.is_force || target < current {
            target
        } else {
            current
        };
        offset_table.insert(
            MessageQueue::new(h.topic.clone(), s.config.broker_name.clone(), queue_id),
            offset,
        );
    }
    let reset_body = body::to_json(&ResetOffsetBody { offset_table });
    let members = s
        .clients
        .consumer_group(&h.group)
        .map(|g| g.members.into_values().collect::<Vec<_>>())
        .unwrap_or_default();
    if members.is_empty() {
        return error(
            req,
            code::CONSUMER_NOT_ONLINE,
            format!(
                "Consumer not online, so can not reset offset, Group: {} Topic: {} Timestamp: {}",
                h.group, h.topic, h.timestamp
            ),
        );
    }
    if let Some(old) = members.iter().find(|m| m.version < MIN_RESET_CLIENT_VERSION) {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!(
                "the client does not support this feature. version={}",
                old.version
            ),
        );
    }
    let notice = RemotingCommand::request(request_code::RESET_CONSUMER_CLIENT_OFFSET)
        .with_header(&ResetOffsetRequestHeader {
            topic: h.topic.clone(),
            group: h.group.clone(),
            timestamp: h.timestamp,
            is_force: false,
        })
        .with_body(reset_body.clone());
    for m in &members {
        match tokio::time::timeout(RESET_SEND_TIMEOUT, m.channel.invoke_oneway(notice.clone())).await {
            Ok(Ok(())) => {
                tracing::info!(group = %h.group, topic = %h.topic, client = %m.client_id, "reset offset sent")
            }
            Ok(Err(e)) => tracing::warn!(client = %m.client_id, error = %e, "reset offset not sent"),
            Err(_) => tracing::warn!(client = %m.client_id, "reset offset send timed out"),
        }
    }
    ok(req).with_body(reset_body)
}
