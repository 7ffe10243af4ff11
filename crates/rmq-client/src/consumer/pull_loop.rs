//! One assigned queue at work: the pull loop (long polling, flow control, status handling,
//! docs/protocol/codes.md#pull-status / docs/protocol/pull.md) and the consume tasks that run the listener
//! and commit offsets.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::codes::response_code;
use rmq_protocol::message::MessageExt;

use super::config::MessageModel;
use super::process_queue::{FlowLimits, ProcessQueue};
use super::pull::{self, PullArgs, PullResult, PullStatus};
use super::push::{ConsumeStatus, Inner};
use super::send_back;
use crate::message::MessageQueue;
use crate::ClientError;

/// Delay after PULL_OFFSET_MOVED before the corrected offset is stored and the queue released.
const OFFSET_MOVED_DELAY: Duration = Duration::from_secs(10);
/// Delay after a FLOW_CONTROL (215) answer.
const BROKER_FLOW_CONTROL_DELAY: Duration = Duration::from_millis(20);
/// Delay of a pull of an orderly queue whose lock is not valid.
const ORDERLY_UNLOCKED_PULL_DELAY: Duration = Duration::from_millis(1000);
/// Log every this many flow-control hits (Java: every 1000th).
const FLOW_CONTROL_LOG_EVERY: u64 = 1000;

/// Pulls `mq` from `offset` until its process queue is dropped (or the task is aborted).
pub(crate) async fn run(inner: Arc<Inner>, mq: MessageQueue, pq: Arc<ProcessQueue>, mut offset: i64) {
    let cfg = &inner.config;
    let limits = FlowLimits {
        pull_batch_size: cfg.pull_batch_size,
        threshold_count: cfg.pull_threshold_for_queue,
        threshold_size_mib: cfg.pull_threshold_size_for_queue_mib,
        max_span: cfg.consume_concurrently_max_span,
    };
    loop {
        if pq.is_dropped() {
            return;
        }
        if inner.is_orderly()
            && cfg.message_model == MessageModel::Clustering
            && !pq.is_lock_valid(inner.now_ms())
        {
            // Java: pull again in 3 s; the lock renewal may bring the queue back.
            tokio::time::sleep(ORDERLY_UNLOCKED_PULL_DELAY).await;
            continue;
        }
        let max_nums = match limits.check(&pq.stats()) {
            Ok(n) => n,
            Err(reason) => {
                let hits = inner.flow_control_hits.fetch_add(1, Ordering::Relaxed) + 1;
                if hits % FLOW_CONTROL_LOG_EVERY == 1 {
                    tracing::warn!(%mq, ?reason, hits, stats = ?pq.stats(), "flow control: pull postponed");
                }
                tokio::time::sleep(Duration::from_millis(cfg.flow_control_delay_ms)).await;
                continue;
            }
        };
        let Some(sub) = inner.subscription(&mq.topic) else {
            tokio::time::sleep(Duration::from_millis(cfg.pull_exception_delay_ms)).await;
            continue;
        };
        let committed = match cfg.message_model {
            MessageModel::Clustering => inner.offsets().read(&mq).filter(|o| *o > 0),
            MessageModel::Broadcasting => None,
        };
        let args = PullArgs {
            group: &inner.group,
            mq: &mq,
            offset,
            max_nums,
            sys_flag: pull::sys_flag(committed.is_some(), true, false, false),
            commit_offset: committed.unwrap_or(0),
            suspend_timeout_ms: cfg.suspend_timeout_ms as i64,
            sub: &sub,
        };
        pq.last_pull_ms.store(inner.now_ms(), Ordering::Relaxed);
        match pull_once(&inner, &args).await {
            Ok(result) => {
                if pq.is_dropped() {
                    return;
                }
                match result.status {
                    PullStatus::Found => {
                        offset = result.next_begin_offset;
                        let mut msgs = result.messages;
                        if msgs.is_empty() {
                            continue;
                        }
                        for m in &mut msgs {
                            pull::reset_retry_topic(m, &inner.retry_topic);
                        }
                        pq.put(&msgs);
                        // An orderly queue's consume task takes them from the cache itself.
                        if !inner.is_orderly() {
                            submit(&inner, &mq, &pq, msgs);
                        }
                        if cfg.pull_interval_ms > 0 {
                            tokio::time::sleep(Duration::from_millis(cfg.pull_interval_ms)).await;
                        }
                    }
                    PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                        offset = result.next_begin_offset;
                        // `correctTagsOffset`: nothing in flight, so everything before is done.
                        if pq.stats().count == 0 {
                            inner.offsets().update(&mq, offset, true);
                        }
                    }
                    PullStatus::OffsetIllegal => {
                        tracing::warn!(%mq, requested = offset, next = result.next_begin_offset, "pull offset illegal; releasing the queue");
                        pq.set_dropped();
                        tokio::spawn(release_after_offset_moved(
                            inner.clone(),
                            mq,
                            pq,
                            result.next_begin_offset,
                        ));
                        return;
                    }
                }
            }
            Err(e) => {
                if e.broker_code() == Some(response_code::SUBSCRIPTION_NOT_EXIST) {
                    inner.group_unknown_to_broker();
                }
                let delay = if e.broker_code() == Some(response_code::FLOW_CONTROL) {
                    BROKER_FLOW_CONTROL_DELAY
                } else {
                    Duration::from_millis(cfg.pull_exception_delay_ms)
                };
                tracing::warn!(%mq, offset, error = %e, "pull failed; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn pull_once(inner: &Inner, args: &PullArgs<'_>) -> Result<PullResult, ClientError> {
    let client = &inner.client;
    let (addr, slave) = client.pull_addr(args.mq).await?;
    let mut args = args.clone();
    if slave {
        // A slave does not store commit offsets (Java clears the flag for slave targets).
        args.sys_flag &= !rmq_protocol::message::pull_sys_flag::COMMIT_OFFSET;
    }
    let cmd = pull::build_request(&args, client.config.language);
    let timeout = Duration::from_millis(inner.config.pull_timeout_ms);
    let resp = client.invoke(&addr, cmd, timeout).await?;
    let result = pull::read_response(&resp, args.sub)?;
    client.suggest_pull_from(args.mq, result.suggest_which_broker_id);
    Ok(result)
}

/// PULL_OFFSET_MOVED: after a pause, store the broker's offset, persist it and release the
/// queue; the next rebalance takes it up again from there.
async fn release_after_offset_moved(inner: Arc<Inner>, mq: MessageQueue, pq: Arc<ProcessQueue>, next: i64) {
    tokio::time::sleep(OFFSET_MOVED_DELAY).await;
    if !inner.release_queue(&mq, &pq) {
        return;
    }
    let store = inner.offsets();
    store.update(&mq, next, false);
    store
        .persist(&inner.client, &inner.group, std::slice::from_ref(&mq))
        .await;
    if store.is_remote() {
        store.remove(&mq);
    }
    inner.wake_rebalance();
}

/// Hands `msgs` to the listener in batches of `consume_message_batch_max_size`.
fn submit(inner: &Arc<Inner>, mq: &MessageQueue, pq: &Arc<ProcessQueue>, msgs: Vec<MessageExt>) {
    let batch_size = inner.config.consume_message_batch_max_size.max(1);
    let mut msgs = msgs.into_iter().peekable();
    while msgs.peek().is_some() {
        let batch: Vec<MessageExt> = msgs.by_ref().take(batch_size).collect();
        tokio::spawn(consume(inner.clone(), mq.clone(), pq.clone(), batch));
    }
}

/// Counts a batch in `Inner::in_flight` while it lives (shutdown waits for them).
struct InFlight(Arc<Inner>);

impl InFlight {
    fn enter(inner: &Arc<Inner>) -> InFlight {
        inner.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(inner.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Runs the listener on one batch until it succeeds or the queue is dropped, then commits.
async fn consume(inner: Arc<Inner>, mq: MessageQueue, pq: Arc<ProcessQueue>, mut batch: Vec<MessageExt>) {
    let _in_flight = InFlight::enter(&inner);
    loop {
        let Ok(permit) = inner.consume_permits.clone().acquire_owned().await else {
            return;
        };
        if pq.is_dropped() {
            return;
        }
        let Some(listener) = inner.listener() else { return };
        pq.last_consume_ms.store(inner.now_ms(), Ordering::Relaxed);
        let joined = tokio::task::spawn_blocking(move || {
            let status = std::panic::catch_unwind(AssertUnwindSafe(|| listener(&batch)));
            (status, batch)
        })
        .await;
        drop(permit);
        let (status, returned) = match joined {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(%mq, error = %e, "consume task failed");
                return;
            }
        };
        batch = returned;
        let status = status.unwrap_or_else(|_| {
            tracing::warn!(%mq, "listener panicked; the batch will be consumed again");
            ConsumeStatus::ReconsumeLater
        });
        if pq.is_dropped() {
            return;
        }
        match status {
            ConsumeStatus::ConsumeSuccess => {
                commit(&inner, &mq, &pq, &batch);
                return;
            }
            ConsumeStatus::ReconsumeLater if inner.config.message_model == MessageModel::Broadcasting => {
                // Java drops failed broadcast messages: there is no retry topic for them.
                for m in &batch {
                    tracing::warn!(%mq, offset = m.queue_offset, msg_id = m.client_msg_id(), "broadcasting: dropping a message the listener failed on");
                }
                commit(&inner, &mq, &pq, &batch);
                return;
            }
            ConsumeStatus::ReconsumeLater => {
                // Send each message back (a delayed copy lands in the retry topic); what the
                // broker took counts as consumed. The rest stay un-acked and are retried here.
                let mut failed = Vec::new();
                let mut sent = Vec::new();
                for m in batch {
                    match send_back::send_back(&inner, &mq, &m, send_back::DELAY_LEVEL_BROKER_DECIDES).await {
                        Ok(()) => sent.push(m),
                        Err(e) => {
                            tracing::warn!(%mq, offset = m.queue_offset, error = %e, "send-back failed; retrying locally");
                            failed.push(m);
                        }
                    }
                }
                if pq.is_dropped() {
                    return;
                }
                commit(&inner, &mq, &pq, &sent);
                if failed.is_empty() {
                    return;
                }
                batch = failed;
                for m in &mut batch {
                    m.reconsume_times += 1;
                }
                tokio::time::sleep(Duration::from_millis(inner.config.reconsume_later_delay_ms)).await;
            }
        }
    }
}

/// Removes `done` from the process queue and moves the queue's offset to the smallest offset
/// still in flight.
pub(crate) fn commit(inner: &Inner, mq: &MessageQueue, pq: &ProcessQueue, done: &[MessageExt]) {
    if done.is_empty() {
        return;
    }
    let offsets: Vec<i64> = done.iter().map(|m| m.queue_offset).collect();
    if let Some(offset) = pq.remove(&offsets) {
        inner.offsets().update(mq, offset, true);
    }
}
