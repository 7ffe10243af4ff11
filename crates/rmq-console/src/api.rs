//! The console's HTTP API (docs/console.md "HTTP API"): JSON over the admin protocol.
//!
//! Lists are paged here, not in the browser: the topic list (one name-server request) and the
//! group list (one request per master) are cached for [`LIST_TTL`], so paging and searching
//! through 10 000 topics costs no cluster round trip per page; everything else is read at
//! request time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::Mutex;
use rmq_client::PullConsumer;
use rmq_client::{Admin, ClientConfig, ClientError, Message, MessageQueue, Producer, TopicConfig};
use serde::Deserialize;
use serde_json::{json, Value};

/// How long the topic and group lists are reused.
pub const LIST_TTL: Duration = Duration::from_secs(5);
/// Page size bounds.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 500;
/// The group of the console's own producer and pull consumer.
const CONSOLE_GROUP: &str = "rmq_console";
/// Response code of a reset for a group without live consumers.
const CONSUMER_NOT_ONLINE: i32 = 206;

/// An API failure: a status and `{"error": text}`.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> ApiError {
        let status = match e {
            ClientError::Broker {
                code: rmq_protocol::codes::response_code::TOPIC_NOT_EXIST,
                ..
            } => StatusCode::NOT_FOUND,
            // the console's credentials (or none) do not allow it
            ClientError::Broker {
                code: rmq_protocol::codes::response_code::NO_PERMISSION,
                ..
            } => StatusCode::FORBIDDEN,
            // the cluster answered: the request was wrong for it
            ClientError::Broker { .. } | ClientError::InvalidArgument(_) | ClientError::InvalidMessage(_) => {
                StatusCode::BAD_REQUEST
            }
            ClientError::NoRoute(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

pub(crate) type ApiResult = Result<Json<Value>, ApiError>;

/// A list kept for [`LIST_TTL`].
#[derive(Default)]
struct Cached {
    slot: Mutex<Option<(Instant, Arc<Vec<String>>)>>,
}

impl Cached {
    fn fresh(&self) -> Option<Arc<Vec<String>>> {
        match &*self.slot.lock() {
            Some((at, list)) if at.elapsed() < LIST_TTL => Some(list.clone()),
            _ => None,
        }
    }

    fn put(&self, list: Vec<String>) -> Arc<Vec<String>> {
        let list = Arc::new(list);
        *self.slot.lock() = Some((Instant::now(), list.clone()));
        list
    }

    fn invalidate(&self) {
        *self.slot.lock() = None;
    }
}

/// What the handlers share.
pub struct App {
    pub(crate) admin: Admin,
    config: ClientConfig,
    producer: tokio::sync::OnceCell<Producer>,
    puller: PullConsumer,
    topics: Cached,
    groups: Cached,
    pub(crate) jobs: crate::manage::Jobs,
}

impl App {
    pub fn new(config: ClientConfig) -> App {
        let config = ClientConfig {
            instance_name: format!("rmq-console-{}", std::process::id()),
            ..config
        };
        App {
            admin: Admin::new(config.clone()),
            puller: PullConsumer::new(CONSOLE_GROUP, config.clone()),
            config,
            producer: tokio::sync::OnceCell::new(),
            jobs: crate::manage::Jobs::default(),
            topics: Cached::default(),
            groups: Cached::default(),
        }
    }

    /// Drops the cached topic and group lists (after a create or delete).
    pub(crate) fn forget_lists(&self) {
        self.topics.invalidate();
        self.groups.invalidate();
    }

    pub(crate) async fn producer(&self) -> Result<&Producer, ClientError> {
        self.producer
            .get_or_try_init(|| async {
                let p = Producer::new(CONSOLE_GROUP, self.config.clone());
                p.start().await?;
                Ok(p)
            })
            .await
    }

    async fn topic_names(&self) -> Result<Arc<Vec<String>>, ClientError> {
        if let Some(list) = self.topics.fresh() {
            return Ok(list);
        }
        Ok(self.topics.put(self.admin.topic_list().await?))
    }

    async fn group_names(&self) -> Result<Arc<Vec<String>>, ClientError> {
        if let Some(list) = self.groups.fresh() {
            return Ok(list);
        }
        let info = self.admin.cluster_info().await?;
        let mut names = std::collections::BTreeSet::new();
        for bd in info.broker_addr_table.values() {
            if let Some(addr) = bd.master_addr() {
                let w = self.admin.subscription_groups(addr).await?;
                names.extend(w.subscription_group_table.into_keys());
            }
        }
        Ok(self.groups.put(names.into_iter().collect()))
    }
}

/// `q`, `page`, `size` and, for topics, `kind`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub(crate) q: Option<String>,
    pub(crate) page: Option<usize>,
    pub(crate) size: Option<usize>,
    pub(crate) kind: Option<String>,
}

/// One page of `items` as `{"total", "page", "size", "items"}`.
pub(crate) fn paged(items: Vec<Value>, query: &ListQuery) -> Value {
    let size = query.size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let page = query.page.unwrap_or(1).max(1);
    let total = items.len();
    let slice: Vec<Value> = items.into_iter().skip((page - 1) * size).take(size).collect();
    json!({ "total": total, "page": page, "size": size, "items": slice })
}

/// `all`, `normal`, `retry`, `dlq` or `system`.
fn topic_kind(topic: &str) -> &'static str {
    use rmq_protocol::topic::{is_system_topic, DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};
    if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
        "retry"
    } else if topic.starts_with(DLQ_GROUP_TOPIC_PREFIX) {
        "dlq"
    } else if is_system_topic(topic) || topic.starts_with("RMQ_SYS_") || topic.ends_with("_REPLY_TOPIC") {
        "system"
    } else {
        "normal"
    }
}

fn matches(name: &str, q: &Option<String>) -> bool {
    match q.as_deref().map(str::trim) {
        Some(q) if !q.is_empty() => name.to_lowercase().contains(&q.to_lowercase()),
        _ => true,
    }
}

/// The first number of a Java TPS triple (`"12.5 10.0 "`).
fn first_number(v: Option<&String>) -> f64 {
    v.and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

fn number(v: Option<&String>) -> i64 {
    v.and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// `GET /api/cluster`.
pub async fn cluster(State(app): State<Arc<App>>) -> ApiResult {
    let info = app.admin.cluster_info().await?;
    let mut targets: Vec<(String, String, i64, String)> = Vec::new();
    for bd in info.broker_addr_table.values() {
        for (id, addr) in &bd.broker_addrs {
            targets.push((bd.cluster.clone(), bd.broker_name.clone(), *id, addr.clone()));
        }
    }
    targets.sort();
    let reads = targets
        .iter()
        .map(|(_, _, _, addr)| app.admin.broker_runtime_info(addr));
    let infos = futures_util::future::join_all(reads).await;
    let brokers: Vec<Value> = targets
        .into_iter()
        .zip(infos)
        .map(|((cluster, name, id, addr), info)| {
            let role = if id == 0 { "MASTER" } else { "SLAVE" };
            match info {
                Ok(t) => {
                    let today = |now: &str, morning: &str| number(t.get(now)) - number(t.get(morning));
                    json!({
                        "cluster": cluster, "brokerName": name, "brokerId": id, "addr": addr, "role": role,
                        "version": t.get("brokerVersionDesc").cloned().unwrap_or_default(),
                        "inTps": first_number(t.get("putTps")),
                        "outTps": first_number(t.get("getTransferredTps").or(t.get("getTransferedTps"))),
                        "inToday": today("msgPutTotalTodayNow", "msgPutTotalTodayMorning"),
                        "outToday": today("msgGetTotalTodayNow", "msgGetTotalTodayMorning"),
                        "diskRatio": t.get("commitLogDiskRatio").and_then(|r| r.parse::<f64>().ok()).unwrap_or(-1.0),
                    })
                }
                Err(e) => json!({
                    "cluster": cluster, "brokerName": name, "brokerId": id, "addr": addr, "role": role,
                    "error": e.to_string(),
                }),
            }
        })
        .collect();
    Ok(Json(
        json!({ "namesrv": app.config.namesrv_addr, "brokers": brokers }),
    ))
}

/// `GET /api/topics`.
pub async fn topics(State(app): State<Arc<App>>, Query(query): Query<ListQuery>) -> ApiResult {
    let kind = query.kind.clone().unwrap_or_else(|| "all".into());
    let names = app.topic_names().await?;
    let items = names
        .iter()
        .filter(|t| matches(t, &query.q))
        .filter(|t| kind == "all" || topic_kind(t) == kind)
        .map(|t| json!({ "name": t, "kind": topic_kind(t) }))
        .collect();
    Ok(Json(paged(items, &query)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTopic {
    topic: String,
    cluster: Option<String>,
    read_queue_nums: Option<i32>,
    write_queue_nums: Option<i32>,
    perm: Option<i32>,
}

/// `POST /api/topics`: created on every master of the cluster (the only one, when not named).
pub async fn create_topic(State(app): State<Arc<App>>, Json(req): Json<NewTopic>) -> ApiResult {
    let name = req.topic.trim();
    rmq_protocol::message::validate_topic(name).map_err(ApiError::bad_request)?;
    let cluster = match req.cluster.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => {
            let info = app.admin.cluster_info().await?;
            let mut clusters: Vec<&String> = info.cluster_addr_table.keys().collect();
            clusters.sort();
            clusters
                .first()
                .map(|c| c.to_string())
                .ok_or_else(|| ApiError::bad_request("the name server knows no cluster"))?
        }
    };
    let tc = TopicConfig {
        topic_name: name.to_string(),
        read_queue_nums: req.read_queue_nums.unwrap_or(8),
        write_queue_nums: req.write_queue_nums.unwrap_or(8),
        perm: req.perm.unwrap_or(6),
        topic_filter_type: "SINGLE_TAG".into(),
        ..TopicConfig::default()
    };
    app.admin.create_topic_in_cluster(&cluster, &tc).await?;
    app.topics.invalidate();
    Ok(Json(json!({ "ok": true, "cluster": cluster })))
}

/// `GET /api/topics/<topic>`.
pub async fn topic(State(app): State<Arc<App>>, Path(topic): Path<String>) -> ApiResult {
    let stats = app.admin.topic_stats(&topic).await?;
    let mut queues: Vec<_> = stats.offset_table.into_iter().collect();
    queues.sort_by(|a, b| (&a.0.broker_name, a.0.queue_id).cmp(&(&b.0.broker_name, b.0.queue_id)));
    let queues: Vec<Value> = queues
        .into_iter()
        .map(|(mq, o)| {
            json!({
                "broker": mq.broker_name, "queueId": mq.queue_id, "minOffset": o.min_offset,
                "maxOffset": o.max_offset, "lastUpdateTimestamp": o.last_update_timestamp,
            })
        })
        .collect();
    let groups = app.admin.consumed_by(&topic).await.unwrap_or_default();
    Ok(Json(
        json!({ "topic": topic, "queues": queues, "groups": groups }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct TestMessage {
    body: String,
    tag: Option<String>,
    keys: Option<String>,
}

/// `POST /api/topics/<topic>/messages`: one message through the console's producer.
pub async fn send_message(
    State(app): State<Arc<App>>,
    Path(topic): Path<String>,
    Json(req): Json<TestMessage>,
) -> ApiResult {
    let mut msg = Message::new(topic, req.body.into_bytes());
    if let Some(tag) = req.tag.filter(|t| !t.trim().is_empty()) {
        msg = msg.with_tags(tag);
    }
    if let Some(keys) = req.keys.filter(|k| !k.trim().is_empty()) {
        msg = msg.with_keys(keys);
    }
    let r = app.producer().await?.send(msg).await?;
    Ok(Json(json!({
        "msgId": r.msg_id, "offsetMsgId": r.offset_msg_id, "broker": r.message_queue.broker_name,
        "queueId": r.message_queue.queue_id, "queueOffset": r.queue_offset,
        "status": format!("{:?}", r.send_status),
    })))
}

/// `GET /api/groups`.
pub async fn groups(State(app): State<Arc<App>>, Query(query): Query<ListQuery>) -> ApiResult {
    let names = app.group_names().await?;
    let items = names
        .iter()
        .filter(|g| matches(g, &query.q))
        .map(|g| json!({ "name": g }))
        .collect();
    Ok(Json(paged(items, &query)))
}

/// `GET /api/groups/<group>`: lag per queue and the connected clients.
pub async fn group(State(app): State<Arc<App>>, Path(group): Path<String>) -> ApiResult {
    // every master, not the route of %RETRY%<group>: a group whose consumers never connected
    // has offsets but no retry topic
    let info = app.admin.cluster_info().await?;
    let mut masters: Vec<&str> = info
        .broker_addr_table
        .values()
        .filter_map(|bd| bd.master_addr())
        .collect();
    masters.sort_unstable();
    let mut stats = rmq_protocol::body::ConsumeStats::default();
    for addr in masters {
        match app.admin.consume_stats_of(addr, &group, None).await {
            Ok(one) => {
                stats.consume_tps += one.consume_tps;
                stats.offset_table.extend(one.offset_table);
            }
            Err(e) => tracing::debug!(broker = addr, error = %e, "consume stats"),
        }
    }
    let mut queues: Vec<_> = stats.offset_table.into_iter().collect();
    queues.sort_by(|a, b| {
        (&a.0.topic, &a.0.broker_name, a.0.queue_id).cmp(&(&b.0.topic, &b.0.broker_name, b.0.queue_id))
    });
    let mut total = 0i64;
    let queues: Vec<Value> = queues
        .into_iter()
        .map(|(mq, w)| {
            let lag = (w.broker_offset - w.consumer_offset).max(0);
            total += lag;
            json!({
                "topic": mq.topic, "broker": mq.broker_name, "queueId": mq.queue_id,
                "brokerOffset": w.broker_offset, "consumerOffset": w.consumer_offset, "lag": lag,
                "lastTimestamp": w.last_timestamp,
            })
        })
        .collect();
    let connections: Vec<Value> = match app.admin.consumer_connections(&group).await {
        Ok(c) => c
            .connection_set
            .into_iter()
            .map(|c| {
                json!({
                    "clientId": c.client_id, "clientAddr": c.client_addr, "language": c.language,
                    "version": rmq_protocol::version::version_desc(c.version),
                })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok(Json(json!({
        "group": group, "consumeTps": stats.consume_tps, "lag": total, "queues": queues,
        "connections": connections,
    })))
}

#[derive(Debug, Deserialize)]
pub struct Reset {
    topic: String,
    timestamp: i64,
}

/// `POST /api/groups/<group>/reset`: to the offsets of `timestamp`, through the live consumers
/// (INVOKE_BROKER_TO_RESET_OFFSET), or, when the group has none, written directly for the queues
/// it has offsets on (mqadmin `resetOffsetByTime`'s fallback; the broker's own reset refuses a
/// group without an offset on every queue).
pub async fn reset_offsets(
    State(app): State<Arc<App>>,
    Path(group): Path<String>,
    Json(req): Json<Reset>,
) -> ApiResult {
    let online = app
        .admin
        .consumer_connections(&group)
        .await
        .is_ok_and(|c| !c.connection_set.is_empty());
    let offsets = if online {
        match app
            .admin
            .reset_offset_by_time(&group, &req.topic, req.timestamp, true)
            .await
        {
            Err(ClientError::Broker { code, .. }) if code == CONSUMER_NOT_ONLINE => {
                app.admin
                    .reset_offset_offline(&group, &req.topic, req.timestamp, true)
                    .await?
            }
            other => other?,
        }
    } else {
        // no live consumer to push offsets to: write them (the queues with offsets)
        app.admin
            .reset_offset_offline(&group, &req.topic, req.timestamp, true)
            .await?
    };
    let mut queues: Vec<_> = offsets.into_iter().collect();
    queues.sort_by(|a, b| (&a.0.broker_name, a.0.queue_id).cmp(&(&b.0.broker_name, b.0.queue_id)));
    let queues: Vec<Value> = queues
        .into_iter()
        .map(|(mq, o)| json!({ "broker": mq.broker_name, "queueId": mq.queue_id, "offset": o }))
        .collect();
    Ok(Json(json!({ "queues": queues })))
}

/// The queues of `%DLQ%<group>` with their [min, max) offsets; empty when the topic does not
/// exist yet.
pub(crate) async fn dlq_queues(app: &App, group: &str) -> Result<Vec<(MessageQueue, i64, i64)>, ApiError> {
    let topic = format!("%DLQ%{group}");
    let stats = match app.admin.topic_stats(&topic).await {
        Ok(s) => s,
        Err(ClientError::Broker { .. } | ClientError::NoRoute(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut queues: Vec<(MessageQueue, i64, i64)> = stats
        .offset_table
        .into_iter()
        .map(|(mq, o)| (mq.into(), o.min_offset, o.max_offset))
        .filter(|(_, min, max)| max > min)
        .collect();
    queues.sort_by(|a, b| (&a.0.broker_name, a.0.queue_id).cmp(&(&b.0.broker_name, b.0.queue_id)));
    Ok(queues)
}

/// Messages `[from, to)` of one queue, oldest first.
pub(crate) async fn read_range(
    app: &App,
    mq: &MessageQueue,
    from: i64,
    to: i64,
) -> Result<Vec<rmq_client::MessageExt>, ApiError> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < to {
        let want = i32::try_from((to - offset).min(32)).unwrap_or(32);
        let r = app.puller.pull(mq, "*", offset, want).await?;
        if r.messages.is_empty() {
            break;
        }
        for m in r.messages {
            if m.queue_offset < to {
                out.push(m);
            }
        }
        offset = r.next_begin_offset.max(offset + 1);
    }
    Ok(out)
}

fn dead_letter_json(m: &rmq_client::MessageExt) -> Value {
    let preview: String = String::from_utf8_lossy(&m.body[..m.body.len().min(1024)]).into_owned();
    json!({
        "msgId": m.client_msg_id(), "offsetMsgId": m.msg_id,
        "topic": m.properties.get("RETRY_TOPIC").cloned().unwrap_or_default(),
        "storeTimestamp": m.store_timestamp, "reconsumeTimes": m.reconsume_times, "body": preview,
    })
}

/// `GET /api/dlq/<group>`: newest first (per queue; DLQ topics have one queue).
pub async fn dead_letters(
    State(app): State<Arc<App>>,
    Path(group): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult {
    let queues = dlq_queues(&app, &group).await?;
    let size = query.size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE) as i64;
    let page = query.page.unwrap_or(1).max(1) as i64;
    let total: i64 = queues.iter().map(|(_, min, max)| max - min).sum();
    // position p (0 = newest of the first queue) → offset max-1-p in that queue
    let (mut skip, mut want) = ((page - 1) * size, size);
    let mut items = Vec::new();
    for (mq, min, max) in &queues {
        let n = max - min;
        if skip >= n {
            skip -= n;
            continue;
        }
        let hi = max - skip;
        let lo = (hi - want).max(*min);
        let mut msgs = read_range(&app, mq, lo, hi).await?;
        msgs.reverse();
        want -= hi - lo;
        skip = 0;
        items.extend(msgs.iter().map(dead_letter_json));
        if want <= 0 {
            break;
        }
    }
    Ok(Json(
        json!({ "total": total, "page": page, "size": size, "items": items }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resend {
    #[serde(default)]
    msg_ids: Vec<String>,
    #[serde(default)]
    all: bool,
}

/// `POST /api/dlq/<group>/resend`: each dead letter (by offset message id) back to its original
/// topic, through the console's producer; `{"all": true}` starts a job (crate::manage).
pub async fn resend_dead_letters(
    State(app): State<Arc<App>>,
    Path(group): Path<String>,
    Json(req): Json<Resend>,
) -> Result<Response, ApiError> {
    if req.all {
        return crate::manage::resend_all(app, group).await;
    }
    let ids = req.msg_ids;
    if ids.is_empty() {
        return Err(ApiError::bad_request("no dead letters to resend"));
    }
    let producer = app.producer().await?;
    let mut resent = 0;
    let mut failed = Vec::new();
    for id in ids {
        match app.admin.resend_from_dlq_via(producer, &id).await {
            Ok(_) => resent += 1,
            Err(e) => failed.push(json!({ "msgId": id, "error": e.to_string() })),
        }
    }
    Ok(Json(json!({ "resent": resent, "failed": failed })).into_response())
}
