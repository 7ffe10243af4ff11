//! [`PushConsumer`]: subscriptions, lifecycle, rebalance, heartbeat and offset persistence.
//! The per-queue pull loops and consume tasks are in `pull_loop`; broker → client requests in
//! `requests`.
//!
//! Tasks while running: one rebalance task (every `rebalance_interval_ms` and on wake-up), one
//! heartbeat task, one offset-persist task, one pull task per assigned queue, and one short task
//! per consume batch. Listener calls run on tokio's blocking pool, at most
//! `consume_thread_max` at a time.
//!
//! With an orderly listener each queue also has a consume task (see `orderly`), and clustering
//! consumers renew their queue locks every 20 s.
//!
//! Lock order: `rebalance` (async, held across `.await`) before any std mutex; std mutexes
//! (`state`, `queues`, `subscriptions`, `listener`, the offset table) are never held together
//! and never across an `.await`. A process queue's `consume_lock` (async, orderly only) is held
//! only around one listener call and taken by nothing else that holds another lock.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use rmq_protocol::body::{
    self, ConsumerData, GetConsumerListByGroupResponseBody, HeartbeatData, ProducerData, SubscriptionData,
    TopicRouteData,
};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::{GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};
use rmq_protocol::message::{self, MessageExt};
use rmq_remoting::RemotingClient;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::periodic::spawn_periodic;

use super::allocate::allocate_averagely;
use super::config::{ConsumerConfig, MessageModel};
use super::offset_store::OffsetStore;
use super::orderly::{self, ConsumeOrderlyStatus, OrderlyListener};
use super::process_queue::ProcessQueue;
use super::pull::retry_topic;
use super::rebalance::{start_offset, subscribe_queues};
use super::requests::BrokerRequests;
use crate::client::{check, Client, DEFAULT_TIMEOUT};
use crate::config::ClientConfig;
use crate::message::MessageQueue;
use crate::ClientError;

/// First retry of a rebalance round that left a topic or queue out.
const INCOMPLETE_REBALANCE_RETRY: Duration = Duration::from_secs(1);
/// Producer group every Java client instance registers (`MixAll.CLIENT_INNER_PRODUCER_GROUP`).
const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";

/// What the listener answers for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeStatus {
    /// The batch is done; its offsets may be committed.
    ConsumeSuccess,
    /// Hand the batch over again later. The messages stay un-acked (the committed offset
    /// cannot pass them) and are retried locally after `reconsume_later_delay_ms`.
    ReconsumeLater,
}

/// The message listener: a plain (blocking) function, run on tokio's blocking pool so it may
/// block, sleep or do synchronous I/O. A panic counts as [`ConsumeStatus::ReconsumeLater`].
pub type MessageListener = Arc<dyn Fn(&[MessageExt]) -> ConsumeStatus + Send + Sync + 'static>;

/// A push consumer (`DefaultMQPushConsumer`) with a concurrent listener
/// ([`register_listener`](Self::register_listener)) or an orderly one
/// ([`register_orderly_listener`](Self::register_orderly_listener)).
///
/// ```no_run
/// use rmq_client::consumer::{ConsumeStatus, ConsumerConfig, PushConsumer};
/// use rmq_client::ClientConfig;
///
/// # async fn run() -> Result<(), rmq_client::ClientError> {
/// let consumer = PushConsumer::new("CG", ClientConfig::with_namesrv("127.0.0.1:9876"), ConsumerConfig::default());
/// consumer.subscribe("TopicTest", "TagA || TagC")?;
/// consumer.register_listener(|msgs| {
///     for m in msgs {
///         println!("{}", String::from_utf8_lossy(&m.body));
///     }
///     ConsumeStatus::ConsumeSuccess
/// });
/// consumer.start().await?;
/// # Ok(())
/// # }
/// ```
///
/// Dropping a running consumer stops it without committing anything (like a killed process);
/// call [`shutdown`](Self::shutdown) to persist offsets and unregister.
pub struct PushConsumer {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub group: String,
    pub config: ConsumerConfig,
    pub client: Client,
    pub retry_topic: String,
    /// topic → subscription; `%RETRY%<group>` included in clustering mode once started.
    subscriptions: Mutex<BTreeMap<String, SubscriptionData>>,
    listener: Mutex<Option<MessageListener>>,
    orderly_listener: Mutex<Option<OrderlyListener>>,
    offsets: OnceLock<OffsetStore>,
    /// The queues this consumer owns now.
    queues: Mutex<HashMap<MessageQueue, Assigned>>,
    pub consume_permits: Arc<Semaphore>,
    pub flow_control_hits: AtomicU64,
    /// When a pull's SUBSCRIPTION_NOT_EXIST last sent heartbeats at once (clock ms).
    unknown_group_heartbeat_ms: AtomicU64,
    /// Serializes rebalances and offset resets.
    rebalance: tokio::sync::Mutex<()>,
    rebalance_wakeup: Notify,
    state: Mutex<State>,
    pub start_ms: i64,
    /// Batches handed to the listener and not finished (consumed and committed, or given up).
    pub in_flight: AtomicUsize,
    /// Notified when `in_flight` drops to 0.
    pub idle: Notify,
}

struct Assigned {
    pq: Arc<ProcessQueue>,
    task: JoinHandle<()>,
    /// Orderly consumers: the queue's consume task.
    consume_task: Option<JoinHandle<()>>,
}

impl Assigned {
    fn stop(&self) {
        self.pq.set_dropped();
        self.task.abort();
        if let Some(t) = &self.consume_task {
            t.abort();
        }
    }
}

enum State {
    Created,
    Running(Vec<JoinHandle<()>>),
    Shutdown,
}

impl PushConsumer {
    pub fn new(group: impl Into<String>, client_config: ClientConfig, config: ConsumerConfig) -> Self {
        let group = group.into();
        // Java replaces the DEFAULT instance name for clustering consumers only, so a
        // broadcasting consumer keeps a stable id (and offsets file) across restarts.
        let client_id = match config.message_model {
            MessageModel::Clustering => client_config.client_id(),
            MessageModel::Broadcasting => {
                format!("{}@{}", client_config.client_ip, client_config.instance_name)
            }
        };
        let start_ms = client_config.clock.now_ms();
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let remoting = RemotingClient::new().with_handler(Arc::new(BrokerRequests::new(weak.clone())));
            Inner {
                retry_topic: retry_topic(&group),
                group,
                consume_permits: Arc::new(Semaphore::new(config.consume_thread_max.max(1))),
                config,
                client: Client::with_remoting(client_config, client_id, remoting),
                subscriptions: Mutex::new(BTreeMap::new()),
                listener: Mutex::new(None),
                orderly_listener: Mutex::new(None),
                offsets: OnceLock::new(),
                queues: Mutex::new(HashMap::new()),
                flow_control_hits: AtomicU64::new(0),
                unknown_group_heartbeat_ms: AtomicU64::new(0),
                rebalance: tokio::sync::Mutex::new(()),
                rebalance_wakeup: Notify::new(),
                state: Mutex::new(State::Created),
                start_ms,
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
            }
        });
        PushConsumer { inner }
    }

    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The id this consumer heartbeats with (and is allocated queues by).
    pub fn client_id(&self) -> &str {
        &self.inner.client.client_id
    }

    /// Subscribes to `topic` with a TAG expression: `"*"`, `"TagA"`, `"TagA || TagC"`.
    /// Replaces an earlier subscription to the same topic.
    pub fn subscribe(&self, topic: &str, expression: &str) -> Result<(), ClientError> {
        message::validate_topic(topic).map_err(ClientError::InvalidArgument)?;
        let sub = SubscriptionData::from_tag_expression(topic, expression, self.inner.now_ms());
        self.inner.subscriptions.lock().insert(topic.to_owned(), sub);
        self.inner.rebalance_wakeup.notify_one();
        Ok(())
    }

    /// Sets the listener (see [`MessageListener`]). Must be called before [`start`](Self::start).
    pub fn register_listener<F>(&self, listener: F)
    where
        F: Fn(&[MessageExt]) -> ConsumeStatus + Send + Sync + 'static,
    {
        *self.inner.listener.lock() = Some(Arc::new(listener));
    }

    /// Sets an orderly listener instead (`MessageListenerOrderly`): each queue is consumed by one
    /// task, one batch at a time in offset order, and — in clustering mode — only while this
    /// consumer holds the queue's broker lock (LOCK_BATCH_MQ), so no two members of the group
    /// consume a queue at once. A suspended batch is retried after a second, up to
    /// `max_reconsume_times` times, then sent to `%DLQ%<group>`. Must be called before
    /// [`start`](Self::start).
    pub fn register_orderly_listener<F>(&self, listener: F)
    where
        F: Fn(&[MessageExt]) -> ConsumeOrderlyStatus + Send + Sync + 'static,
    {
        *self.inner.orderly_listener.lock() = Some(Arc::new(listener));
    }

    /// Fetches routes, heartbeats, and starts the rebalance (immediately, then every
    /// `rebalance_interval_ms`), heartbeat and offset-persist tasks.
    pub async fn start(&self) -> Result<(), ClientError> {
        let inner = &self.inner;
        message::validate_group(&inner.group).map_err(ClientError::InvalidArgument)?;
        if inner.client.config.namesrv_addr.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        if inner.listener.lock().is_none() && inner.orderly_listener.lock().is_none() {
            return Err(ClientError::InvalidArgument(
                "no message listener registered".into(),
            ));
        }
        if inner.subscriptions.lock().is_empty() {
            return Err(ClientError::InvalidArgument("no subscription".into()));
        }
        match *inner.state.lock() {
            State::Running(_) => return Ok(()),
            State::Shutdown => return Err(ClientError::NotRunning("shut down")),
            State::Created => {}
        }
        let store = match inner.config.message_model {
            MessageModel::Clustering => OffsetStore::remote(),
            MessageModel::Broadcasting => OffsetStore::local(OffsetStore::local_path(
                inner.config.offset_store_dir.as_deref(),
                &inner.client.client_id,
                &inner.group,
            ))?,
        };
        let _ = inner.offsets.set(store);
        if inner.config.message_model == MessageModel::Clustering {
            let retry = SubscriptionData::from_tag_expression(&inner.retry_topic, "*", inner.now_ms());
            inner
                .subscriptions
                .lock()
                .insert(inner.retry_topic.clone(), retry);
        }
        for topic in inner.topics() {
            if let Err(e) = inner.client.fetch_route(&topic).await {
                tracing::warn!(topic, error = %e, "no route for subscribed topic yet");
            }
        }
        inner.send_heartbeat(&inner.subscriptions_snapshot()).await;

        let weak = Arc::downgrade(inner);
        let cfg = &inner.config;
        let rebalance = tokio::spawn(rebalance_loop(weak.clone(), ms(cfg.rebalance_interval_ms)));
        // Each job first runs one period after start.
        let hb = ms(cfg.heartbeat_interval_ms);
        let heartbeat = spawn_periodic(weak.clone(), hb, hb, |inner| async move {
            inner.send_heartbeat(&inner.subscriptions_snapshot()).await
        });
        let persist_every = ms(cfg.persist_offset_interval_ms);
        let persist = spawn_periodic(weak.clone(), persist_every, persist_every, |inner| async move {
            inner.persist_offsets().await
        });
        let mut tasks = vec![rebalance, heartbeat, persist];
        if inner.needs_locks() {
            tasks.push(spawn_periodic(
                weak,
                orderly::LOCK_RENEW_INTERVAL,
                orderly::LOCK_RENEW_INTERVAL,
                |inner| async move { orderly::renew_locks(&inner).await },
            ));
        }
        let mut state = inner.state.lock();
        if !matches!(*state, State::Created) {
            // Raced with another start or a shutdown; keep the first outcome.
            tasks.iter().for_each(JoinHandle::abort);
            return Ok(());
        }
        *state = State::Running(tasks);
        tracing::info!(group = %inner.group, client_id = %inner.client.client_id, "push consumer started");
        Ok(())
    }

    /// Stops pulling, persists every owned queue's offset, sends UNREGISTER_CLIENT to every
    /// known broker and closes the connections. In-flight listener calls finish on their own;
    /// their results are not committed.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        let previous = std::mem::replace(&mut *inner.state.lock(), State::Shutdown);
        let State::Running(tasks) = previous else { return };
        tasks.iter().for_each(JoinHandle::abort);
        let _guard = inner.rebalance.lock().await;
        let wait = inner.config.await_termination_ms_when_shutdown;
        if wait > 0 {
            // stop pulling, let the batches in the listener finish and commit
            inner.stop_pulling();
            let drained = async {
                while inner.in_flight.load(Ordering::Acquire) > 0 {
                    let idle = inner.idle.notified();
                    if inner.in_flight.load(Ordering::Acquire) == 0 {
                        break;
                    }
                    idle.await;
                }
            };
            if tokio::time::timeout(Duration::from_millis(wait), drained)
                .await
                .is_err()
            {
                tracing::warn!(group = %inner.group, wait_ms = wait, "shutdown: batches still consuming; their progress is not committed");
            }
        }
        let owned: Vec<MessageQueue> = inner.drop_all_queues();
        inner.offsets().persist(&inner.client, &inner.group, &owned).await;
        if inner.needs_locks() && !owned.is_empty() {
            orderly::unlock(inner, owned, false).await;
        }
        let client = &inner.client;
        for addr in client.all_broker_addrs() {
            let header = UnregisterClientRequestHeader {
                client_id: client.client_id.clone(),
                producer_group: None,
                consumer_group: Some(inner.group.clone()),
            };
            let cmd = client
                .request(request_code::UNREGISTER_CLIENT)
                .with_header(&header);
            if let Err(e) = client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await {
                tracing::warn!(broker = %addr, error = %e, "unregister client failed");
            }
        }
        client.remoting.close_all();
        tracing::info!(group = %inner.group, "push consumer shut down");
    }

    /// The queues owned now, sorted.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut mqs: Vec<MessageQueue> = self.inner.queues.lock().keys().cloned().collect();
        mqs.sort();
        mqs
    }

    /// Messages of `mq` pulled but not yet consumed successfully; `None` if `mq` is not owned.
    pub fn cached_msg_count(&self, mq: &MessageQueue) -> Option<usize> {
        self.inner.process_queue(mq).map(|pq| pq.stats().count)
    }

    /// Body bytes of those messages.
    pub fn cached_msg_size(&self, mq: &MessageQueue) -> Option<u64> {
        self.inner.process_queue(mq).map(|pq| pq.stats().size_bytes)
    }

    /// How many times a pull was postponed by flow control (count, size or span).
    pub fn flow_control_hits(&self) -> u64 {
        self.inner.flow_control_hits.load(Ordering::Relaxed)
    }

    /// The offset that would be committed for `mq` now (the smallest offset still in flight).
    pub fn consume_offset(&self, mq: &MessageQueue) -> Option<i64> {
        self.inner.offsets.get().and_then(|s| s.read(mq))
    }

    /// Triggers a rebalance now (as NOTIFY_CONSUMER_IDS_CHANGED does).
    pub fn rebalance_now(&self) {
        self.inner.rebalance_wakeup.notify_one();
    }
}

impl Drop for PushConsumer {
    /// Stops everything without persisting or unregistering (a crash, as far as the broker
    /// can tell: it sees the connections close).
    fn drop(&mut self) {
        let previous = std::mem::replace(&mut *self.inner.state.lock(), State::Shutdown);
        if let State::Running(tasks) = previous {
            tasks.iter().for_each(JoinHandle::abort);
            self.inner.drop_all_queues();
            self.inner.client.remoting.close_all();
        }
    }
}

/// The rebalance task: now, then every `period` or when woken — or sooner when a round left
/// something out (a topic without a route yet, typically `%RETRY%<group>`, which the broker
/// creates on the first heartbeat and registers a moment later; or a queue whose lock was
/// refused): after [`INCOMPLETE_REBALANCE_RETRY`], doubling up to `period`. Java simply waits
/// for the next periodic round.
async fn rebalance_loop(weak: Weak<Inner>, period: Duration) {
    let mut retry = INCOMPLETE_REBALANCE_RETRY;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let complete = inner.do_rebalance().await;
        let next = if complete {
            retry = INCOMPLETE_REBALANCE_RETRY;
            period
        } else {
            let next = period.min(retry);
            retry = retry.saturating_mul(2);
            next
        };
        let wakeup = async {
            tokio::select! {
                _ = inner.rebalance_wakeup.notified() => {}
                _ = tokio::time::sleep(next) => {}
            }
        };
        wakeup.await;
    }
}

impl Inner {
    /// Wall time by the client's clock (`ClientConfig::clock`).
    pub(crate) fn now_ms(&self) -> i64 {
        self.client.config.clock.now_ms()
    }

    pub fn is_running(&self) -> bool {
        matches!(*self.state.lock(), State::Running(_))
    }

    pub fn offsets(&self) -> &OffsetStore {
        // Set in `start` before any task that reads it exists.
        self.offsets.get_or_init(OffsetStore::remote)
    }

    pub fn listener(&self) -> Option<MessageListener> {
        self.listener.lock().clone()
    }

    pub fn orderly_listener(&self) -> Option<OrderlyListener> {
        self.orderly_listener.lock().clone()
    }

    /// Whether an orderly listener is registered (it takes precedence over a concurrent one).
    pub fn is_orderly(&self) -> bool {
        self.orderly_listener.lock().is_some()
    }

    /// Orderly clustering consumers take queues only under a broker lock.
    fn needs_locks(&self) -> bool {
        self.is_orderly() && self.config.message_model == MessageModel::Clustering
    }

    pub fn subscription(&self, topic: &str) -> Option<SubscriptionData> {
        self.subscriptions.lock().get(topic).cloned()
    }

    pub fn subscriptions_snapshot(&self) -> BTreeMap<String, SubscriptionData> {
        self.subscriptions.lock().clone()
    }

    fn topics(&self) -> Vec<String> {
        self.subscriptions.lock().keys().cloned().collect()
    }

    pub fn process_queue(&self, mq: &MessageQueue) -> Option<Arc<ProcessQueue>> {
        self.queues.lock().get(mq).map(|a| a.pq.clone())
    }

    pub fn owned_queues(&self) -> Vec<(MessageQueue, Arc<ProcessQueue>)> {
        self.queues
            .lock()
            .iter()
            .map(|(mq, a)| (mq.clone(), a.pq.clone()))
            .collect()
    }

    pub fn wake_rebalance(&self) {
        self.rebalance_wakeup.notify_one();
    }

    /// Marks every owned queue dropped and stops its pull task; returns the queues.
    /// Stops every queue's pull loop, keeping the queues (and what they hold) owned.
    fn stop_pulling(&self) {
        for a in self.queues.lock().values() {
            a.task.abort();
        }
    }

    fn drop_all_queues(&self) -> Vec<MessageQueue> {
        let drained: Vec<(MessageQueue, Assigned)> = self.queues.lock().drain().collect();
        drained
            .into_iter()
            .map(|(mq, a)| {
                a.stop();
                mq
            })
            .collect()
    }

    /// Stops owning `mq` if its process queue is still `pq`; returns whether it did.
    pub fn release_queue(&self, mq: &MessageQueue, pq: &Arc<ProcessQueue>) -> bool {
        let mut queues = self.queues.lock();
        match queues.get(mq) {
            Some(a) if Arc::ptr_eq(&a.pq, pq) => {
                queues.remove(mq);
                true
            }
            _ => false,
        }
    }

    /// Starts pulling `mq` from `offset` with a fresh process queue (replacing any old one).
    pub fn start_queue(self: &Arc<Self>, mq: MessageQueue, offset: i64) {
        if !self.is_running() {
            return;
        }
        let pq = Arc::new(ProcessQueue::default());
        // Queues of an orderly clustering consumer are started once their lock was granted.
        pq.set_locked(self.needs_locks(), self.now_ms());
        let task = tokio::spawn(super::pull_loop::run(
            self.clone(),
            mq.clone(),
            pq.clone(),
            offset,
        ));
        let consume_task = self
            .is_orderly()
            .then(|| tokio::spawn(orderly::consume_loop(self.clone(), mq.clone(), pq.clone())));
        tracing::info!(group = %self.group, %mq, offset, "start pulling");
        let assigned = Assigned {
            pq,
            task,
            consume_task,
        };
        if let Some(old) = self.queues.lock().insert(mq, assigned) {
            old.stop();
        }
    }

    /// Stops owning `mq`: its process queue is dropped and its offset persisted then forgotten;
    /// an orderly queue's lock is given up once its in-flight batch is done.
    async fn remove_queue(self: &Arc<Self>, mq: &MessageQueue) {
        let Some(a) = self.queues.lock().remove(mq) else {
            return;
        };
        a.pq.set_dropped();
        a.task.abort();
        let store = self.offsets();
        store
            .persist(&self.client, &self.group, std::slice::from_ref(mq))
            .await;
        if store.is_remote() {
            store.remove(mq);
        }
        if self.needs_locks() {
            // The consume task ends by itself once idle; aborting it mid-listener would
            // release the consume lock while the listener still runs.
            orderly::unlock_when_idle(self.clone(), mq.clone(), a.pq.clone());
        } else if let Some(t) = &a.consume_task {
            t.abort();
        }
        tracing::info!(group = %self.group, %mq, "queue released");
    }

    /// One rebalance round over every subscribed topic (docs/protocol/client.md#rebalance).
    /// Returns whether every subscribed topic could be rebalanced.
    pub async fn do_rebalance(self: &Arc<Self>) -> bool {
        let _guard = self.rebalance.lock().await;
        if !self.is_running() {
            return true;
        }
        let mut complete = true;
        let mut changed_topics = Vec::new();
        let mut to_start = Vec::new();
        for topic in self.topics() {
            let route = match self.client.fetch_route(&topic).await {
                Ok(route) => route,
                Err(e) => {
                    tracing::debug!(topic, error = %e, "rebalance: no route");
                    complete = false;
                    continue;
                }
            };
            let mq_all = subscribe_queues(&topic, &route);
            let mine = match self.config.message_model {
                MessageModel::Broadcasting => mq_all,
                MessageModel::Clustering => match self.consumer_ids(&route).await {
                    Ok(cids) => allocate_averagely(&self.client.client_id, &mq_all, &cids),
                    Err(e) => {
                        tracing::debug!(topic, error = %e, "rebalance: consumer list unavailable");
                        complete = false;
                        continue;
                    }
                },
            };
            let (removed, added) = self.update_queues(&topic, &mine).await;
            {
                // A queue not taken (lock refused, offset unreadable) is retried soon.
                let queues = self.queues.lock();
                if mine
                    .iter()
                    .any(|mq| !queues.contains_key(mq) && !added.iter().any(|(a, _)| a == mq))
                {
                    complete = false;
                }
            }
            if removed || !added.is_empty() {
                changed_topics.push(topic);
            }
            to_start.extend(added);
        }
        if !changed_topics.is_empty() {
            // New subVersions reach the broker (heartbeat) before any pull carries them.
            let mut subs = self.subscriptions_snapshot();
            let now = self.now_ms();
            for topic in &changed_topics {
                if let Some(sub) = subs.get_mut(topic) {
                    sub.sub_version = sub.sub_version.max(now);
                }
            }
            self.send_heartbeat(&subs).await;
            let mut current = self.subscriptions.lock();
            for topic in &changed_topics {
                if let (Some(cur), Some(new)) = (current.get_mut(topic), subs.get(topic)) {
                    cur.sub_version = cur.sub_version.max(new.sub_version);
                }
            }
        }
        for (mq, offset) in to_start {
            self.start_queue(mq, offset);
        }
        complete
    }

    /// Drops owned queues of `topic` not in `mine`; returns whether any was dropped and the new
    /// queues with their start offsets (queues whose offset could not be read are retried at
    /// the next round).
    async fn update_queues(
        self: &Arc<Self>,
        topic: &str,
        mine: &[MessageQueue],
    ) -> (bool, Vec<(MessageQueue, i64)>) {
        let mine_set: HashSet<&MessageQueue> = mine.iter().collect();
        let (stale, owned): (Vec<MessageQueue>, HashSet<MessageQueue>) = {
            let queues = self.queues.lock();
            let stale = queues
                .keys()
                .filter(|mq| mq.topic == topic && !mine_set.contains(mq))
                .cloned()
                .collect();
            (stale, queues.keys().cloned().collect())
        };
        for mq in &stale {
            self.remove_queue(mq).await;
        }
        let store = self.offsets();
        let mut new: Vec<MessageQueue> = mine.iter().filter(|mq| !owned.contains(*mq)).cloned().collect();
        if self.needs_locks() && !new.is_empty() {
            // Lock first, then read the offset the previous owner left.
            let granted = orderly::lock(self, &new).await;
            new.retain(|mq| {
                let ok = granted.contains(mq);
                if !ok {
                    tracing::info!(group = %self.group, %mq, "queue locked by another consumer; not taken this round");
                }
                ok
            });
        }
        let mut added = Vec::new();
        for mq in &new {
            if store.is_remote() {
                store.remove(mq);
            }
            match start_offset(
                &self.client,
                store,
                &self.group,
                mq,
                self.config.consume_from_where,
            )
            .await
            {
                Ok(offset) => added.push((mq.clone(), offset)),
                Err(e) => tracing::warn!(%mq, error = %e, "cannot compute the start offset; retrying later"),
            }
        }
        (!stale.is_empty(), added)
    }

    /// GET_CONSUMER_LIST_BY_GROUP from one broker of the route (a master if there is one),
    /// sorted.
    async fn consumer_ids(&self, route: &TopicRouteData) -> Result<Vec<String>, ClientError> {
        let mut datas: Vec<_> = route.broker_datas.iter().collect();
        datas.sort_by_key(|bd| bd.master_addr().is_none());
        let addr = datas
            .first()
            .and_then(|bd| {
                bd.master_addr()
                    .or_else(|| bd.broker_addrs.values().next().map(String::as_str))
            })
            .ok_or_else(|| ClientError::NoRoute(self.group.clone()))?
            .to_owned();
        let header = GetConsumerListByGroupRequestHeader {
            consumer_group: self.group.clone(),
        };
        let cmd = self
            .client
            .request(request_code::GET_CONSUMER_LIST_BY_GROUP)
            .with_header(&header);
        let resp = check(self.client.invoke(&addr, cmd, DEFAULT_TIMEOUT).await?)?;
        let mut ids = body::from_fastjson::<GetConsumerListByGroupResponseBody>(&resp.body)?.consumer_id_list;
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn heartbeat_data(&self, subs: &BTreeMap<String, SubscriptionData>) -> HeartbeatData {
        HeartbeatData {
            client_id: self.client.client_id.clone(),
            consumer_data_set: vec![ConsumerData {
                consume_from_where: self.config.consume_from_where.name().to_owned(),
                consume_type: "CONSUME_PASSIVELY".to_owned(),
                group_name: self.group.clone(),
                message_model: self.config.message_model.name().to_owned(),
                subscription_data_set: subs.values().cloned().collect(),
                unit_mode: false,
            }],
            producer_data_set: vec![ProducerData {
                group_name: CLIENT_INNER_PRODUCER_GROUP.to_owned(),
            }],
            ..Default::default()
        }
    }

    /// A broker answered a pull with SUBSCRIPTION_NOT_EXIST: it has not had this group's
    /// heartbeat (a new master after a failover, or a restarted broker). Heartbeats go out now,
    /// at most once a second, instead of at the next heartbeat period.
    pub(crate) fn group_unknown_to_broker(self: &Arc<Self>) {
        let now = u64::try_from(self.client.config.clock.now_ms()).unwrap_or(0);
        let last = self.unknown_group_heartbeat_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 1000
            || self
                .unknown_group_heartbeat_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let inner = self.clone();
        tokio::spawn(async move {
            inner.send_heartbeat(&inner.subscriptions_snapshot()).await;
        });
    }

    /// HEART_BEAT to every known broker address (a consumer heartbeats slaves too).
    async fn send_heartbeat(&self, subs: &BTreeMap<String, SubscriptionData>) {
        let body = body::to_json(&self.heartbeat_data(subs));
        for addr in self.client.all_broker_addrs() {
            let cmd = self
                .client
                .request(request_code::HEART_BEAT)
                .with_body(body.clone());
            match self.client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await {
                Ok(_) => tracing::debug!(broker = %addr, "heartbeat sent"),
                Err(e) => tracing::warn!(broker = %addr, error = %e, "heartbeat failed"),
            }
        }
    }

    async fn persist_offsets(&self) {
        let mqs: Vec<MessageQueue> = self.queues.lock().keys().cloned().collect();
        self.offsets().persist(&self.client, &self.group, &mqs).await;
    }

    /// RESET_CONSUMER_CLIENT_OFFSET: every owned queue of `topic` in `table` forgets its cache
    /// and restarts from the given offset, which is also stored and persisted.
    pub async fn reset_offsets(self: &Arc<Self>, topic: &str, table: HashMap<MessageQueue, i64>) {
        let _guard = self.rebalance.lock().await;
        let store = self.offsets();
        for (mq, offset) in table {
            if mq.topic != topic {
                continue;
            }
            let Some(pq) = self.process_queue(&mq) else {
                continue;
            };
            pq.set_dropped();
            pq.clear();
            store.update(&mq, offset, false);
            store
                .persist(&self.client, &self.group, std::slice::from_ref(&mq))
                .await;
            tracing::info!(group = %self.group, %mq, offset, "offset reset by the broker");
            self.start_queue(mq, offset);
        }
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v.max(1))
}
