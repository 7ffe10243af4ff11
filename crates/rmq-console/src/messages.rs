//! The message pages' API (docs/console.md "HTTP API"): a topic's messages by store-time range or
//! by key, one message by id, a message handed again to one consumer of a group, and the
//! producers connected to the brokers.
//!
//! A time-range query reads at most [`MAX_SCANNED`] messages, newest queues' ranges first split
//! evenly, so a wide range on a busy topic answers in bounded time and says it was cut short.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use base64::Engine as _;
use rmq_client::{ClientError, MessageExt, MessageQueue};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{paged, read_range, ApiError, ApiResult, App, ListQuery};

/// Messages one time-range query reads at most.
pub const MAX_SCANNED: usize = 2_000;
/// Messages a key query asks each broker for.
const MAX_BY_KEY: i32 = 64;

#[derive(Debug, Default, Deserialize)]
pub struct MessageQuery {
    topic: Option<String>,
    begin: Option<i64>,
    end: Option<i64>,
    key: Option<String>,
    page: Option<usize>,
    size: Option<usize>,
}

impl MessageQuery {
    fn list(&self) -> ListQuery {
        ListQuery {
            page: self.page,
            size: self.size,
            ..ListQuery::default()
        }
    }
}

fn summary(m: &MessageExt, broker: &str) -> Value {
    json!({
        "msgId": m.client_msg_id(), "offsetMsgId": m.msg_id, "topic": m.topic,
        "tags": m.properties.get("TAGS"), "keys": m.properties.get("KEYS"),
        "storeTimestamp": m.store_timestamp, "broker": broker, "queueId": m.queue_id,
        "queueOffset": m.queue_offset, "bodySize": m.body.len(),
    })
}

/// The broker name of a stored message: from the route when its store host is a known broker
/// address, else the store host itself.
fn broker_of(names: &BTreeMap<String, String>, m: &MessageExt) -> String {
    let host = m.store_host.to_string();
    names.get(&host).cloned().unwrap_or(host)
}

/// Broker address → broker name, for every broker of `topic`'s route.
async fn broker_names(app: &App, topic: &str) -> Result<BTreeMap<String, String>, ClientError> {
    let route = app.admin.topic_route(topic).await?;
    Ok(route
        .broker_datas
        .iter()
        .flat_map(|bd| {
            bd.broker_addrs
                .values()
                .map(|a| (a.clone(), bd.broker_name.clone()))
        })
        .collect())
}

/// `GET /api/messages?topic=..&begin=..&end=..` or `?topic=..&key=..`.
pub async fn query(State(app): State<Arc<App>>, Query(q): Query<MessageQuery>) -> ApiResult {
    let topic = q
        .topic
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("topic is required"))?;
    if let Some(key) = q.key.as_deref().filter(|k| !k.is_empty()) {
        let names = broker_names(&app, topic).await?;
        let end = q.end.unwrap_or(i64::MAX);
        let found = app
            .admin
            .query_message_by_key(topic, key, MAX_BY_KEY, q.begin.unwrap_or(0), end)
            .await?;
        let mut items: Vec<&MessageExt> = found.iter().collect();
        items.sort_by_key(|m| std::cmp::Reverse(m.store_timestamp));
        let items = items.iter().map(|m| summary(m, &broker_of(&names, m))).collect();
        return Ok(Json(paged(items, &q.list())));
    }
    let (Some(begin), Some(end)) = (q.begin, q.end) else {
        return Err(ApiError::bad_request("give begin and end (ms), or key"));
    };
    if end < begin {
        return Err(ApiError::bad_request("end is before begin"));
    }
    let (messages, truncated) = in_range(&app, topic, begin, end).await?;
    let mut page = paged(messages, &q.list());
    page["truncated"] = json!(truncated);
    Ok(Json(page))
}

/// The messages of `topic` stored in `[begin, end]`, newest first, and whether there were more
/// than [`MAX_SCANNED`].
async fn in_range(app: &App, topic: &str, begin: i64, end: i64) -> Result<(Vec<Value>, bool), ApiError> {
    let stats = app.admin.topic_stats(topic).await?;
    let names = broker_names(app, topic).await?;
    let addr_of: BTreeMap<&str, &str> = names.iter().map(|(a, n)| (n.as_str(), a.as_str())).collect();
    // Each queue's offsets of the range. SEARCH_OFFSET_BY_TIMESTAMP answers the offset of the
    // message stored nearest to the time (Java's binary search), which can be one either side
    // of the range's edge; store times only grow along a queue, so one more each side covers it
    // and the times are checked below.
    let mut ranges: Vec<(MessageQueue, i64, i64)> = Vec::new();
    for (mq, o) in stats.offset_table {
        if o.max_offset <= o.min_offset {
            continue;
        }
        let mq: MessageQueue = mq.into();
        let Some(addr) = addr_of.get(mq.broker_name.as_str()) else {
            continue;
        };
        let lo = app.admin.search_offset(addr, topic, mq.queue_id, begin).await? - 1;
        let hi = app.admin.search_offset(addr, topic, mq.queue_id, end).await? + 2;
        let (lo, hi) = (lo.max(o.min_offset), hi.min(o.max_offset));
        if hi > lo {
            ranges.push((mq, lo, hi));
        }
    }
    let wanted: i64 = ranges.iter().map(|(_, lo, hi)| hi - lo).sum();
    let budget = i64::try_from(MAX_SCANNED).unwrap_or(i64::MAX);
    let truncated = wanted > budget;
    let share = if truncated {
        (budget / i64::try_from(ranges.len()).unwrap_or(1)).max(1)
    } else {
        i64::MAX
    };
    let mut found: Vec<(MessageExt, String)> = Vec::new();
    for (mq, lo, hi) in &ranges {
        // the newest of each queue's range when it must be cut
        let lo = (*hi - share).max(*lo);
        for m in read_range(app, mq, lo, *hi).await? {
            if (begin..=end).contains(&m.store_timestamp) {
                found.push((m, mq.broker_name.clone()));
            }
        }
    }
    found.sort_by_key(|(m, _)| std::cmp::Reverse(m.store_timestamp));
    Ok((found.iter().map(|(m, b)| summary(m, b)).collect(), truncated))
}

#[derive(Debug, Default, Deserialize)]
pub struct ById {
    topic: Option<String>,
}

/// The message `id` names: an offsetMsgId is read from the broker it encodes; any other id is
/// looked up as a unique key of `topic`.
async fn find(app: &App, id: &str, topic: Option<&str>) -> Result<MessageExt, ApiError> {
    if rmq_protocol::message::decode_offset_msg_id(id).is_ok() {
        if let Ok(m) = app.admin.view_message(id).await {
            return Ok(m);
        }
    }
    let topic = topic
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("not an offsetMsgId: give the topic to look up a message id"))?;
    Ok(app.admin.query_message_by_unique_key(topic, id).await?)
}

/// `GET /api/messages/<msgId>?topic=..`.
pub async fn message(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ById>,
) -> ApiResult {
    let m = find(&app, &id, q.topic.as_deref()).await?;
    let names = broker_names(&app, &m.topic).await.unwrap_or_default();
    let properties: BTreeMap<&String, &String> = m.properties.iter().collect();
    Ok(Json(json!({
        "msgId": m.client_msg_id(), "offsetMsgId": m.msg_id, "topic": m.topic,
        "tags": m.properties.get("TAGS"), "keys": m.properties.get("KEYS"),
        "storeTimestamp": m.store_timestamp, "bornTimestamp": m.born_timestamp,
        "bornHost": m.born_host.to_string(), "storeHost": m.store_host.to_string(),
        "broker": broker_of(&names, &m), "queueId": m.queue_id, "queueOffset": m.queue_offset,
        "reconsumeTimes": m.reconsume_times, "properties": properties,
        "body": String::from_utf8_lossy(&m.body),
        "bodyBase64": base64::engine::general_purpose::STANDARD.encode(&m.body),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendTo {
    topic: Option<String>,
    group: String,
    client_id: Option<String>,
}

/// `POST /api/messages/<msgId>/resend`: the message handed to one consumer of `group`
/// (CONSUME_MESSAGE_DIRECTLY through the broker that stores it).
pub async fn resend(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Json(req): Json<ResendTo>,
) -> ApiResult {
    if req.group.is_empty() {
        return Err(ApiError::bad_request("group is required"));
    }
    let m = find(&app, &id, req.topic.as_deref()).await?;
    let client_id = match req.client_id.filter(|c| !c.is_empty()) {
        Some(c) => c,
        None => {
            let conns = app.admin.consumer_connections(&req.group).await.map_err(|e| {
                ApiError::bad_request(format!("group {} has no consumer online: {e}", req.group))
            })?;
            let mut ids: Vec<String> = conns.connection_set.into_iter().map(|c| c.client_id).collect();
            ids.sort();
            ids.into_iter()
                .next()
                .ok_or_else(|| ApiError::bad_request(format!("group {} has no consumer online", req.group)))?
        }
    };
    let broker = m.store_host.to_string();
    let r = app
        .admin
        .consume_message_directly(&broker, &req.group, &client_id, &m.msg_id, &m.topic)
        .await?;
    Ok(Json(json!({
        "result": r.consume_result, "remark": r.remark, "clientId": client_id,
        "spentTimeMillis": r.spent_time_mills,
    })))
}

/// `GET /api/producers?q=..`: every producer connection of every master (GET_ALL_PRODUCER_INFO).
pub async fn producers(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult {
    let info = app.admin.cluster_info().await?;
    let mut masters: Vec<(&str, &str)> = info
        .broker_addr_table
        .values()
        .filter_map(|bd| bd.master_addr().map(|a| (bd.broker_name.as_str(), a)))
        .collect();
    masters.sort_unstable();
    let filter = q.q.as_deref().map(str::to_lowercase).unwrap_or_default();
    let mut rows = Vec::new();
    for (broker, addr) in masters {
        let table = match app.admin.producer_info(addr).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(broker, error = %e, "producer info");
                continue;
            }
        };
        for (group, producers) in table.data {
            if !group.to_lowercase().contains(&filter) {
                continue;
            }
            for p in producers {
                rows.push(json!({
                    "group": group, "broker": broker, "clientId": p.client_id,
                    "clientAddr": p.remote_ip.trim_start_matches('/'), "language": p.language,
                    "version": rmq_protocol::version::version_desc(p.version),
                    "lastUpdateTimestamp": p.last_update_timestamp,
                }));
            }
        }
    }
    rows.sort_by(|a, b| {
        (a["group"].as_str(), a["broker"].as_str(), a["clientId"].as_str()).cmp(&(
            b["group"].as_str(),
            b["broker"].as_str(),
            b["clientId"].as_str(),
        ))
    });
    Ok(Json(json!({ "producers": rows })))
}
