//! Orderly consumption (docs/protocol/client.md#orderly): the broker locks (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ)
//! that keep a queue with one consumer of the group, and the per-queue consume task that hands messages to
//! the listener one batch at a time, in offset order.
//!
//! A clustering consumer takes a newly assigned queue only once the broker granted it the lock,
//! renews every owned lock each [`LOCK_RENEW_INTERVAL`], consumes a queue only while its lock is
//! valid, and gives the lock up once the queue is gone (after an in-flight batch finished) or at
//! shutdown. Broadcasting consumers need no lock.

use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::{self, LockBatchRequestBody, LockBatchResponseBody};
use rmq_protocol::codes::request_code;
use rmq_protocol::message::MessageExt;

use super::config::MessageModel;
use super::process_queue::ProcessQueue;
use super::pull_loop::commit;
use super::push::Inner;
use super::send_back::{self, DELAY_LEVEL_DLQ};
use crate::client::DEFAULT_TIMEOUT;
use crate::message::MessageQueue;
use crate::ClientError;

/// `rocketmq.client.rebalance.lockInterval`.
pub(crate) const LOCK_RENEW_INTERVAL: Duration = Duration::from_secs(20);
/// `suspendCurrentQueueTimeMillis`: pause before a suspended batch is handed over again.
const SUSPEND_DELAY: Duration = Duration::from_millis(1000);
/// Pause of a consume task whose queue lock is not (yet) valid.
const LOCK_WAIT: Duration = Duration::from_millis(100);
/// How long a removed queue's lock is kept at most while a batch is still in the listener
/// (`rocketmq.client.unlockDelayTimeMills`).
const UNLOCK_DELAY: Duration = Duration::from_secs(20);

/// What an orderly listener answers for a batch (`ConsumeOrderlyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeOrderlyStatus {
    /// The batch is done; the queue moves on.
    Success,
    /// Hand the same batch over again after a second; nothing later in the queue is consumed
    /// meanwhile. After `max_reconsume_times` retries the messages go to `%DLQ%<group>`.
    SuspendCurrentQueueAMoment,
}

/// The orderly listener: a plain (blocking) function, like [`super::MessageListener`]. A panic
/// counts as [`ConsumeOrderlyStatus::SuspendCurrentQueueAMoment`].
pub type OrderlyListener = Arc<dyn Fn(&[MessageExt]) -> ConsumeOrderlyStatus + Send + Sync + 'static>;

fn lock_body(inner: &Inner, mqs: &[MessageQueue]) -> bytes::Bytes {
    body::to_json(&LockBatchRequestBody {
        client_id: inner.client.client_id.clone(),
        consumer_group: inner.group.clone(),
        mq_set: mqs.iter().cloned().map(Into::into).collect(),
    })
}

fn by_broker(mqs: impl IntoIterator<Item = MessageQueue>) -> BTreeMap<String, Vec<MessageQueue>> {
    let mut map: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
    for mq in mqs {
        map.entry(mq.broker_name.clone()).or_default().push(mq);
    }
    map
}

/// LOCK_BATCH_MQ to the master of each broker of `mqs`; returns the queues granted. A broker
/// that cannot be asked grants nothing.
pub(crate) async fn lock(inner: &Inner, mqs: &[MessageQueue]) -> HashSet<MessageQueue> {
    let mut granted = HashSet::new();
    for (broker, mqs) in by_broker(mqs.iter().cloned()) {
        match lock_on(inner, &mqs).await {
            Ok(ok) => granted.extend(ok),
            Err(e) => tracing::warn!(group = %inner.group, broker, error = %e, "LOCK_BATCH_MQ failed"),
        }
    }
    granted
}

async fn lock_on(inner: &Inner, mqs: &[MessageQueue]) -> Result<Vec<MessageQueue>, ClientError> {
    let client = &inner.client;
    let addr = client.master_addr_or_fetch(&mqs[0]).await?;
    let cmd = client
        .request(request_code::LOCK_BATCH_MQ)
        .with_body(lock_body(inner, mqs));
    let resp = client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await?;
    let granted: LockBatchResponseBody = body::from_fastjson(&resp.body)?;
    Ok(granted.lock_ok_mq_set.into_iter().map(Into::into).collect())
}

/// UNLOCK_BATCH_MQ to the master of each broker of `mqs`: oneway, or awaited (shutdown).
pub(crate) async fn unlock(inner: &Inner, mqs: Vec<MessageQueue>, oneway: bool) {
    let client = &inner.client;
    for (broker, mqs) in by_broker(mqs) {
        let result = async {
            let addr = client.master_addr_or_fetch(&mqs[0]).await?;
            let cmd = client
                .request(request_code::UNLOCK_BATCH_MQ)
                .with_body(lock_body(inner, &mqs));
            if oneway {
                client.invoke_oneway(&addr, cmd).await
            } else {
                client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await.map(drop)
            }
        }
        .await;
        match result {
            Ok(()) => {
                tracing::info!(group = %inner.group, broker, queues = mqs.len(), "queue locks released")
            }
            Err(e) => tracing::warn!(group = %inner.group, broker, error = %e, "UNLOCK_BATCH_MQ failed"),
        }
    }
}

/// `lockAll`: renews the lock of every owned queue; queues not granted stop being consumed
/// until a later renewal gets them back.
pub(crate) async fn renew_locks(inner: &Inner) {
    let owned = inner.owned_queues();
    if owned.is_empty() {
        return;
    }
    let mqs: Vec<MessageQueue> = owned.iter().map(|(mq, _)| mq.clone()).collect();
    let granted = lock(inner, &mqs).await;
    let now = inner.now_ms();
    for (mq, pq) in owned {
        let ok = granted.contains(&mq);
        if !ok && pq.is_lock_valid(now) {
            tracing::warn!(group = %inner.group, %mq, "queue lock lost");
        }
        pq.set_locked(ok, now);
    }
}

/// Gives up the lock of a removed queue once no batch of it is in the listener (waiting at
/// most [`UNLOCK_DELAY`]; the broker lock would expire anyway).
pub(crate) fn unlock_when_idle(inner: Arc<Inner>, mq: MessageQueue, pq: Arc<ProcessQueue>) {
    tokio::spawn(async move {
        let idle = tokio::time::timeout(UNLOCK_DELAY, pq.consume_lock.lock()).await;
        if idle.is_err() {
            tracing::warn!(group = %inner.group, %mq, "a batch is still in the listener; unlocking anyway");
        }
        unlock(&inner, vec![mq], true).await;
    });
}

/// The consume task of one queue: one batch at a time, in offset order, until the queue is
/// dropped. Clustering consumers wait while the queue's lock is not valid.
pub(crate) async fn consume_loop(inner: Arc<Inner>, mq: MessageQueue, pq: Arc<ProcessQueue>) {
    let needs_lock = inner.config.message_model == MessageModel::Clustering;
    let batch_size = inner.config.consume_message_batch_max_size.max(1);
    let max_reconsume = match inner.config.max_reconsume_times {
        t if t < 0 => i32::MAX,
        t => t,
    };
    // The batch being retried after a suspend, with its local reconsume counts.
    let mut batch: Vec<MessageExt> = Vec::new();
    loop {
        if pq.is_dropped() {
            return;
        }
        if needs_lock && !pq.is_lock_valid(inner.now_ms()) {
            tokio::time::sleep(LOCK_WAIT).await;
            continue;
        }
        if batch.is_empty() {
            batch = pq.first(batch_size);
            if batch.is_empty() {
                pq.changed.notified().await;
                continue;
            }
        }
        let Some(status) = run_listener(&inner, &mq, &pq, &mut batch).await else {
            return;
        };
        match status {
            ConsumeOrderlyStatus::Success => {
                commit(&inner, &mq, &pq, &batch);
                batch.clear();
            }
            ConsumeOrderlyStatus::SuspendCurrentQueueAMoment => {
                // `checkReconsumeTimes`: what has been retried enough goes to the DLQ; the
                // rest (and whatever the broker would not take) is retried after a pause.
                let mut retry = Vec::new();
                let mut dead = Vec::new();
                for mut m in std::mem::take(&mut batch) {
                    if m.reconsume_times >= max_reconsume {
                        match send_back::send_back(&inner, &mq, &m, DELAY_LEVEL_DLQ).await {
                            Ok(()) => {
                                tracing::warn!(%mq, offset = m.queue_offset, "orderly: retries used up; message sent to the DLQ");
                                dead.push(m);
                                continue;
                            }
                            Err(e) => {
                                tracing::warn!(%mq, offset = m.queue_offset, error = %e, "orderly: sending to the DLQ failed")
                            }
                        }
                    }
                    m.reconsume_times += 1;
                    retry.push(m);
                }
                if pq.is_dropped() {
                    return;
                }
                commit(&inner, &mq, &pq, &dead);
                batch = retry;
                if !batch.is_empty() {
                    tokio::time::sleep(SUSPEND_DELAY).await;
                }
            }
        }
    }
}

/// Runs the listener on `batch` under the queue's consume lock. `None` when the queue was
/// dropped meanwhile (the outcome no longer counts) or the consumer is gone.
async fn run_listener(
    inner: &Inner,
    mq: &MessageQueue,
    pq: &ProcessQueue,
    batch: &mut Vec<MessageExt>,
) -> Option<ConsumeOrderlyStatus> {
    let permit = inner.consume_permits.clone().acquire_owned().await.ok()?;
    let listener = inner.orderly_listener()?;
    let _consuming = pq.consume_lock.lock().await;
    if pq.is_dropped() {
        return None;
    }
    pq.last_consume_ms.store(inner.now_ms(), Ordering::Relaxed);
    let msgs = std::mem::take(batch);
    let joined = tokio::task::spawn_blocking(move || {
        let status = std::panic::catch_unwind(AssertUnwindSafe(|| listener(&msgs)));
        (status, msgs)
    })
    .await;
    drop(permit);
    let (status, msgs) = match joined {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(%mq, error = %e, "orderly consume task failed");
            return None;
        }
    };
    *batch = msgs;
    if pq.is_dropped() {
        return None;
    }
    Some(status.unwrap_or_else(|_| {
        tracing::warn!(%mq, "orderly listener panicked; suspending the queue a moment");
        ConsumeOrderlyStatus::SuspendCurrentQueueAMoment
    }))
}
