//! Changing the cluster from the console, and the long actions (docs/console.md "HTTP API"):
//! delete a topic or a group, a topic's route, export a group's dead letters, and resend them all
//! as a background job whose progress `/api/jobs/<id>` reports.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use parking_lot::Mutex;
use rmq_client::MessageQueue;
use serde_json::{json, Value};

use crate::api::{dlq_queues, read_range, ApiError, ApiResult, App};

/// Dead letters one export or one "resend all" handles at most.
pub const MAX_MESSAGES: usize = 100_000;
/// Finished jobs kept for their progress to be read.
const KEPT_JOBS: usize = 100;

/// A long action's progress.
#[derive(Debug, Default)]
pub struct Job {
    id: u64,
    kind: String,
    total: AtomicUsize,
    done: AtomicUsize,
    failed: Mutex<Vec<Value>>,
    error: Mutex<Option<String>>,
    finished: AtomicBool,
}

impl Job {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id.to_string(), "kind": self.kind,
            "total": self.total.load(Ordering::Relaxed), "done": self.done.load(Ordering::Relaxed),
            "failed": *self.failed.lock(), "error": *self.error.lock(),
            "finished": self.finished.load(Ordering::Acquire),
        })
    }
}

/// The console's jobs: the running ones and the last [`KEPT_JOBS`].
#[derive(Debug, Default)]
pub struct Jobs {
    next: AtomicU64,
    list: Mutex<VecDeque<Arc<Job>>>,
}

impl Jobs {
    fn start(&self, kind: &str) -> Arc<Job> {
        let job = Arc::new(Job {
            id: self.next.fetch_add(1, Ordering::Relaxed) + 1,
            kind: kind.to_string(),
            ..Job::default()
        });
        let mut list = self.list.lock();
        list.push_back(job.clone());
        while list.len() > KEPT_JOBS {
            match list.iter().position(|j| j.finished.load(Ordering::Acquire)) {
                Some(i) => drop(list.remove(i)),
                None => break,
            }
        }
        job
    }

    fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.list.lock().iter().find(|j| j.id == id).cloned()
    }
}

/// `GET /api/jobs/<id>`.
pub async fn job(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult {
    id.parse()
        .ok()
        .and_then(|id| app.jobs.get(id))
        .map(|j| Json(j.to_json()))
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// Starts resending every dead letter of `group` (at most [`MAX_MESSAGES`]) and answers at once;
/// a group without dead letters is a 400, as a resend of nothing.
pub async fn resend_all(app: Arc<App>, group: String) -> Result<Response, ApiError> {
    let queues = dlq_queues(&app, &group).await?;
    if queues.is_empty() {
        return Err(ApiError::bad_request("no dead letters to resend"));
    }
    let job = app.jobs.start("resend-dlq");
    let id = job.id;
    tokio::spawn(async move {
        if let Err(e) = resend_all_now(&app, queues, &job).await {
            *job.error.lock() = Some(e);
        }
        job.finished.store(true, Ordering::Release);
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "job": id.to_string() }))).into_response())
}

async fn resend_all_now(app: &App, queues: Vec<(MessageQueue, i64, i64)>, job: &Job) -> Result<(), String> {
    let total: i64 = queues.iter().map(|(_, min, max)| max - min).sum();
    job.total.store(
        usize::try_from(total).unwrap_or(0).min(MAX_MESSAGES),
        Ordering::Relaxed,
    );
    let producer = app.producer().await.map_err(|e| e.to_string())?;
    let mut left = MAX_MESSAGES;
    for (mq, min, max) in queues {
        let mut from = min;
        // a batch at a time, so progress moves while a big queue is read
        while from < max && left > 0 {
            let to = max.min(from + 256).min(from + i64::try_from(left).unwrap_or(0));
            let batch = read_range(app, &mq, from, to).await.map_err(|e| e.message)?;
            if batch.is_empty() {
                break;
            }
            for m in &batch {
                if let Err(e) = app.admin.resend_from_dlq_via(producer, &m.msg_id).await {
                    job.failed
                        .lock()
                        .push(json!({ "msgId": m.msg_id, "error": e.to_string() }));
                }
                job.done.fetch_add(1, Ordering::Relaxed);
            }
            left = left.saturating_sub(batch.len());
            from = batch.last().map_or(to, |m| m.queue_offset + 1);
        }
    }
    Ok(())
}

/// `GET /api/dlq/<group>/export`: the dead letters as JSON lines (a download).
pub async fn export_dead_letters(
    State(app): State<Arc<App>>,
    Path(group): Path<String>,
) -> Result<Response, ApiError> {
    let mut out = String::new();
    let mut left = MAX_MESSAGES;
    for (mq, min, max) in dlq_queues(&app, &group).await? {
        let to = max.min(min + i64::try_from(left).unwrap_or(0));
        let messages = read_range(&app, &mq, min, to).await?;
        left = left.saturating_sub(messages.len());
        for m in messages {
            let properties: BTreeMap<&String, &String> = m.properties.iter().collect();
            let line = json!({
                "msgId": m.client_msg_id(), "offsetMsgId": m.msg_id,
                "topic": m.properties.get("RETRY_TOPIC").unwrap_or(&m.topic),
                "storeTimestamp": m.store_timestamp, "reconsumeTimes": m.reconsume_times,
                "properties": properties,
                "bodyBase64": base64::engine::general_purpose::STANDARD.encode(&m.body),
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        if left == 0 {
            break;
        }
    }
    let file = format!(
        "attachment; filename=\"dlq-{}.jsonl\"",
        group.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_', "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (header::CONTENT_DISPOSITION, file),
        ],
        out,
    )
        .into_response())
}

/// `DELETE /api/topics/<topic>`.
pub async fn delete_topic(State(app): State<Arc<App>>, Path(topic): Path<String>) -> ApiResult {
    let brokers = app.admin.delete_topic(&topic).await?;
    app.forget_lists();
    Ok(Json(json!({ "ok": true, "brokers": brokers })))
}

/// `DELETE /api/groups/<group>`: on every master, offsets included.
pub async fn delete_group(State(app): State<Arc<App>>, Path(group): Path<String>) -> ApiResult {
    let info = app.admin.cluster_info().await?;
    let mut brokers = Vec::new();
    for bd in info.broker_addr_table.values() {
        let Some(addr) = bd.master_addr() else { continue };
        app.admin.delete_subscription_group(addr, &group, true).await?;
        brokers.push(bd.broker_name.clone());
    }
    brokers.sort();
    app.forget_lists();
    Ok(Json(json!({ "ok": true, "brokers": brokers })))
}

/// `GET /api/topics/<topic>/route`.
pub async fn topic_route(State(app): State<Arc<App>>, Path(topic): Path<String>) -> ApiResult {
    let route = app.admin.topic_route(&topic).await?;
    let mut brokers: Vec<Value> = route
        .broker_datas
        .iter()
        .map(|bd| {
            let addrs: BTreeMap<String, &String> = bd
                .broker_addrs
                .iter()
                .map(|(id, a)| (id.to_string(), a))
                .collect();
            json!({ "cluster": bd.cluster, "brokerName": bd.broker_name, "addrs": addrs })
        })
        .collect();
    brokers.sort_by(|a, b| a["brokerName"].as_str().cmp(&b["brokerName"].as_str()));
    let mut queues: Vec<Value> = route
        .queue_datas
        .iter()
        .map(|q| {
            json!({
                "brokerName": q.broker_name, "readQueueNums": q.read_queue_nums,
                "writeQueueNums": q.write_queue_nums, "perm": q.perm,
            })
        })
        .collect();
    queues.sort_by(|a, b| a["brokerName"].as_str().cmp(&b["brokerName"].as_str()));
    Ok(Json(json!({ "brokers": brokers, "queues": queues })))
}
