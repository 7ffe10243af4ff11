//! [`Producer`]: route lookup with the `TBW102` fallback, queue selection, retries, and the route-refresh and
//! heartbeat tasks (docs/protocol/client.md#what-a-client-sends, docs/protocol/codes.md#send-status,
//! docs/protocol/name-server.md#route, docs/protocol/client.md#heartbeat).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_protocol::body::{self, HeartbeatData, ProducerData};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::UnregisterClientRequestHeader;
use rmq_protocol::message::{self, UniqIdGenerator};
use rmq_remoting::RemotingClient;
use tokio::task::JoinHandle;

use crate::periodic::spawn_periodic;

use crate::client::{Client, DEFAULT_TIMEOUT};
use crate::config::ClientConfig;
use crate::fault::FaultTable;
use crate::message::{Message, MessageQueue, SendResult, SendStatus};
use crate::route::{clamp_default_route, PublishInfo};
use crate::send::{self, Prepared, RetryPolicy, AUTO_CREATE_TOPIC};
use crate::ClientError;

/// Producer group every Java client instance also registers (docs/protocol/client.md#what-a-client-sends).
const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
/// `pollNameServerInterval` and `heartbeatBrokerInterval`.
/// Least time between two route refreshes caused by failed sends.
const FAILURE_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// How long sends keep refreshing a route that lost a broker group's master.
const DEGRADED_REFRESH_FOR: Duration = Duration::from_secs(120);
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// First runs, as in `MQClientInstance.startScheduledTask`.
const ROUTE_REFRESH_DELAY: Duration = Duration::from_millis(10);
const HEARTBEAT_DELAY: Duration = Duration::from_secs(1);

/// Sends messages for one producer group. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

enum State {
    Created,
    /// The background tasks; aborted on shutdown or when the last clone is dropped.
    Running(Vec<JoinHandle<()>>),
    Shutdown,
}

struct Inner {
    group: String,
    client: Client,
    ids: UniqIdGenerator,
    /// topic → queues to publish to. Lock never held across `.await`.
    publish: Mutex<HashMap<String, Arc<PublishInfo>>>,
    /// Latency and isolation per broker (used with `send_latency_fault_enable`).
    faults: FaultTable,
    state: Mutex<State>,
    /// When a failed send last re-read its topic's route (at most once a second).
    last_failure_refresh: Mutex<Option<Instant>>,
    /// Until when sends keep re-reading the route (at most once a second): a refresh found a
    /// broker group without a master, whose new master the name server names soon.
    degraded_until: Mutex<Option<Instant>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let State::Running(tasks) = &*self.state.lock() {
            tasks.iter().for_each(JoinHandle::abort);
        }
    }
}

impl Producer {
    pub fn new(group: impl Into<String>, config: ClientConfig) -> Self {
        Self::with_remoting(group, config, RemotingClient::new())
    }

    /// A producer whose connections serve broker → client requests with `remoting`'s handler
    /// (the transactional producer answers CHECK_TRANSACTION_STATE).
    pub(crate) fn with_remoting(
        group: impl Into<String>,
        config: ClientConfig,
        remoting: RemotingClient,
    ) -> Self {
        let ids = UniqIdGenerator::with_ip(config.client_ip_addr());
        let client_id = config.client_id();
        let faults = FaultTable::new(
            &config.latency_max_ms,
            &config.not_available_duration_ms,
            config.clock.clone(),
        );
        Producer {
            inner: Arc::new(Inner {
                faults,
                group: group.into(),
                client: Client::with_remoting(config, client_id, remoting),
                ids,
                publish: Mutex::new(HashMap::new()),
                state: Mutex::new(State::Created),
                last_failure_refresh: Mutex::new(None),
                degraded_until: Mutex::new(None),
            }),
        }
    }

    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// `ip@instance` as sent in heartbeats.
    pub fn client_id(&self) -> &str {
        &self.inner.client.client_id
    }

    /// Starts the route-refresh task (TBW102 and every topic sent to) and the heartbeat task
    /// (HEART_BEAT to every known master), both every 30 s. Starting twice is a no-op.
    pub async fn start(&self) -> Result<(), ClientError> {
        message::validate_group(&self.inner.group).map_err(ClientError::InvalidArgument)?;
        if self.inner.client.config.namesrv_addr.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        let mut state = self.inner.state.lock();
        match *state {
            State::Running(_) => return Ok(()),
            State::Shutdown => return Err(ClientError::NotRunning("shut down")),
            State::Created => {}
        }
        let weak = Arc::downgrade(&self.inner);
        let routes = spawn_periodic(
            weak.clone(),
            ROUTE_REFRESH_DELAY,
            Duration::from_millis(self.inner.client.config.poll_name_server_interval_ms.max(100)),
            |inner| async move { inner.refresh_routes().await },
        );
        let heartbeat = spawn_periodic(weak, HEARTBEAT_DELAY, HEARTBEAT_INTERVAL, |inner| async move {
            inner.send_heartbeat().await
        });
        *state = State::Running(vec![routes, heartbeat]);
        tracing::info!(group = %self.inner.group, client_id = %self.inner.client.client_id, "producer started");
        Ok(())
    }

    /// Synchronous send: up to `1 + retry_times_when_send_failed` attempts, each on a queue of
    /// another broker than the one that just failed (or, with `send_latency_fault_enable`, of
    /// a broker not isolated by a recent failure or slow answer), within `send_timeout_ms`
    /// overall.
    pub async fn send(&self, msg: Message) -> Result<SendResult, ClientError> {
        self.inner.ensure_running()?;
        let prepared = send::prepare_single(msg, &self.inner.client.config, &self.inner.ids)?;
        let attempts = 1 + self.inner.client.config.retry_times_when_send_failed;
        self.inner
            .send_with_retry(&prepared, attempts, RetryPolicy::Sync)
            .await
    }

    /// Sends to `mq` once, without retry.
    pub async fn send_to_queue(&self, msg: Message, mq: &MessageQueue) -> Result<SendResult, ClientError> {
        self.inner.ensure_running()?;
        if msg.topic != mq.topic {
            return Err(ClientError::InvalidArgument(format!(
                "message's topic {} not equal mq's topic {}",
                msg.topic, mq.topic
            )));
        }
        let prepared = send::prepare_single(msg, &self.inner.client.config, &self.inner.ids)?;
        self.inner.publish_info(&mq.topic).await?;
        self.inner
            .send_once(&prepared, mq, self.inner.send_timeout())
            .await
    }

    /// Ordered send: `select(queues, msg)` picks the index of the queue; no retry.
    pub async fn send_with_selector<F>(&self, msg: Message, select: F) -> Result<SendResult, ClientError>
    where
        F: Fn(&[MessageQueue], &Message) -> usize,
    {
        self.inner.ensure_running()?;
        let info = self.inner.publish_info(&msg.topic).await?;
        let index = select(&info.queues, &msg);
        let mq = info.queues.get(index).cloned().ok_or_else(|| {
            ClientError::InvalidArgument(format!(
                "selector returned {index} of {} queues",
                info.queues.len()
            ))
        })?;
        let prepared = send::prepare_single(msg, &self.inner.client.config, &self.inner.ids)?;
        self.inner
            .send_once(&prepared, &mq, self.inner.send_timeout())
            .await
    }

    /// Fire and forget: one attempt, no response awaited.
    pub async fn send_oneway(&self, msg: Message) -> Result<(), ClientError> {
        self.inner.ensure_running()?;
        let prepared = send::prepare_single(msg, &self.inner.client.config, &self.inner.ids)?;
        let info = self.inner.publish_info(&prepared.topic).await?;
        let mq = self
            .inner
            .select_queue(&info, None)
            .ok_or_else(|| ClientError::NoRoute(prepared.topic.clone()))?;
        let addr = self.inner.broker_addr(&mq.broker_name)?;
        let cmd = send::build_request(&prepared, &mq, &self.inner.group, &self.inner.client.config);
        self.inner.client.invoke_oneway(&addr, cmd).await
    }

    /// Sends in a task; transport failures are retried `retry_times_when_send_async_failed` times
    /// on another broker. Broker errors and non-SEND_OK results are returned as they are.
    pub fn send_async(&self, msg: Message) -> JoinHandle<Result<SendResult, ClientError>> {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            inner.ensure_running()?;
            let prepared = send::prepare_single(msg, &inner.client.config, &inner.ids)?;
            let attempts = 1 + inner.client.config.retry_times_when_send_async_failed;
            inner
                .send_with_retry(&prepared, attempts, RetryPolicy::Async)
                .await
        })
    }

    /// SEND_BATCH_MESSAGE: all messages of one topic in one request; `msg_id` of the result is
    /// the comma-joined UNIQ_KEYs. Retried like [`send`](Self::send).
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult, ClientError> {
        self.inner.ensure_running()?;
        let prepared = send::prepare_batch(msgs, &self.inner.client.config, &self.inner.ids)?;
        let attempts = 1 + self.inner.client.config.retry_times_when_send_failed;
        self.inner
            .send_with_retry(&prepared, attempts, RetryPolicy::Sync)
            .await
    }

    /// The writable queues of `topic`, straight from the name server.
    pub async fn fetch_publish_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        let route = self.inner.client.fetch_route(topic).await?;
        let info = PublishInfo::from_route(topic, &route);
        if info.is_empty() {
            return Err(ClientError::NoRoute(topic.to_owned()));
        }
        Ok(info.queues)
    }

    /// The master address of `broker_name` known from the routes seen so far.
    pub(crate) fn master_addr(&self, broker_name: &str) -> Result<String, ClientError> {
        self.inner.broker_addr(broker_name)
    }

    /// Sends `cmd` oneway to `addr` over this producer's connections.
    pub(crate) async fn invoke_oneway(
        &self,
        addr: &str,
        cmd: rmq_protocol::RemotingCommand,
    ) -> Result<(), ClientError> {
        self.inner.client.invoke_oneway(addr, cmd).await
    }

    pub(crate) fn language(&self) -> rmq_protocol::LanguageCode {
        self.inner.client.config.language
    }

    /// Stops the background tasks, sends UNREGISTER_CLIENT to every known broker, and closes
    /// the connections. Later sends fail with [`ClientError::NotRunning`].
    pub async fn shutdown(&self) {
        let previous = std::mem::replace(&mut *self.inner.state.lock(), State::Shutdown);
        let State::Running(tasks) = previous else { return };
        tasks.iter().for_each(JoinHandle::abort);
        let client = &self.inner.client;
        for addr in client.all_broker_addrs() {
            let header = UnregisterClientRequestHeader {
                client_id: client.client_id.clone(),
                producer_group: Some(self.inner.group.clone()),
                consumer_group: None,
            };
            let cmd = client
                .request(request_code::UNREGISTER_CLIENT)
                .with_header(&header);
            if let Err(e) = client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await {
                tracing::warn!(broker = %addr, error = %e, "unregister client failed");
            }
        }
        client.remoting.close_all();
        tracing::info!(group = %self.inner.group, "producer shut down");
    }
}

impl Inner {
    fn ensure_running(&self) -> Result<(), ClientError> {
        match *self.state.lock() {
            State::Running(_) => Ok(()),
            State::Created => Err(ClientError::NotRunning("not started")),
            State::Shutdown => Err(ClientError::NotRunning("shut down")),
        }
    }

    fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.client.config.send_timeout_ms)
    }

    fn broker_addr(&self, broker_name: &str) -> Result<String, ClientError> {
        self.client
            .master_addr(broker_name)
            .ok_or_else(|| ClientError::NoBrokerAddr(broker_name.to_owned()))
    }

    /// `sendDefaultImpl`: select, send, and on a retryable failure move to another broker.
    /// With `retry_another_broker_when_not_store_ok`, a synchronous send whose status is not
    /// SEND_OK is sent again too; the last result is returned when no attempt is left.
    async fn send_with_retry(
        &self,
        prepared: &Prepared,
        attempts: u32,
        policy: RetryPolicy,
    ) -> Result<SendResult, ClientError> {
        let timeout = self.send_timeout();
        let deadline = Instant::now() + timeout;
        let mut info = self.publish_info(&prepared.topic).await?;
        if self.degraded_until.lock().is_some_and(|t| Instant::now() < t) {
            if let Some(fresh) = self.refresh_after_failure(&prepared.topic).await {
                info = fresh;
            }
        }
        let retry_not_ok =
            policy == RetryPolicy::Sync && self.client.config.retry_another_broker_when_not_store_ok;
        let mut failed_broker: Option<String> = None;
        let mut last_err = None;
        let mut last_result = None;
        let mut timed_out = false;
        for attempt in 0..attempts {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                timed_out = true;
                break;
            }
            let mq = self
                .select_queue(&info, failed_broker.as_deref())
                .ok_or_else(|| ClientError::NoRoute(prepared.topic.clone()))?;
            let begin = Instant::now();
            let outcome = self.send_once(prepared, &mq, remaining).await;
            self.report_latency(&mq.broker_name, begin, outcome.is_err());
            match outcome {
                Ok(result) if retry_not_ok && result.send_status != SendStatus::SendOk => {
                    tracing::warn!(attempt, broker = %mq.broker_name, status = ?result.send_status, "stored but not SEND_OK, sending again to another broker");
                    failed_broker = Some(mq.broker_name.clone());
                    last_result = Some(result);
                }
                Ok(result) => return Ok(result),
                Err(e) if policy.should_retry(&e) => {
                    tracing::warn!(attempt, broker = %mq.broker_name, queue = mq.queue_id, error = %e, "send failed, trying another broker");
                    failed_broker = Some(mq.broker_name.clone());
                    last_err = Some(e);
                    // The broker may be gone for good (a new master took over its group):
                    // the route tells.
                    if let Some(fresh) = self.refresh_after_failure(&prepared.topic).await {
                        info = fresh;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(result) = last_result {
            return Ok(result);
        }
        let timeout = ClientError::Timeout {
            timeout_ms: self.client.config.send_timeout_ms,
        };
        match last_err {
            Some(e) if !timed_out => Err(e),
            _ => Err(timeout),
        }
    }

    /// The queue of the next attempt: with `send_latency_fault_enable` any queue of an
    /// available broker (`MQFaultStrategy`), else round robin avoiding the broker that just
    /// failed.
    fn select_queue(&self, info: &PublishInfo, failed_broker: Option<&str>) -> Option<MessageQueue> {
        if self.client.config.send_latency_fault_enable {
            info.select_avoiding_faults(&self.faults)
        } else {
            info.select(failed_broker).cloned()
        }
    }

    /// `updateFaultItem`: a failed attempt isolates its broker.
    fn report_latency(&self, broker: &str, begin: Instant, failed: bool) {
        if self.client.config.send_latency_fault_enable {
            let latency_ms = begin.elapsed().as_millis() as u64;
            self.faults.update(broker, latency_ms, failed);
        }
    }

    async fn send_once(
        &self,
        prepared: &Prepared,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<SendResult, ClientError> {
        let addr = self.broker_addr(&mq.broker_name)?;
        let cmd = send::build_request(prepared, mq, &self.group, &self.client.config);
        let resp = self.client.invoke(&addr, cmd, timeout).await?;
        send::read_response(&resp, prepared, &mq.broker_name)
    }

    /// `tryToFindTopicPublishInfo`: the cached queues, else the topic's route, else (when the
    /// name server does not know the topic) the `TBW102` route clamped to
    /// `default_topic_queue_nums`, so the broker auto-creates the topic.
    async fn publish_info(&self, topic: &str) -> Result<Arc<PublishInfo>, ClientError> {
        if let Some(info) = self.publish.lock().get(topic).filter(|i| !i.is_empty()) {
            return Ok(info.clone());
        }
        let route =
            match self.client.fetch_route(topic).await {
                Ok(route) => route,
                Err(e) if e.broker_code() == Some(response_code::TOPIC_NOT_EXIST) => {
                    tracing::debug!(
                        topic,
                        "topic not on the name server; using the {AUTO_CREATE_TOPIC} route"
                    );
                    let default = self.client.fetch_route(AUTO_CREATE_TOPIC).await.map_err(|e| {
                        match e.broker_code() {
                            Some(response_code::TOPIC_NOT_EXIST) => ClientError::NoRoute(topic.to_owned()),
                            _ => e,
                        }
                    })?;
                    clamp_default_route(default, self.client.config.default_topic_queue_nums)
                }
                Err(e) => return Err(e),
            };
        let info = self.install(topic, PublishInfo::from_route(topic, &route));
        if info.is_empty() {
            return Err(ClientError::NoRoute(topic.to_owned()));
        }
        Ok(info)
    }

    /// Takes `info` as `topic`'s queues. A route with a broker group that has queues but no
    /// master — read by any refresh, the periodic one included — makes the producer re-read
    /// routes every second for a while ([`DEGRADED_REFRESH_FOR`]), so a new master is used as
    /// soon as it registers rather than at the next `pollNameServerInterval`.
    fn install(&self, topic: &str, info: PublishInfo) -> Arc<PublishInfo> {
        if info.masterless {
            let mut degraded = self.degraded_until.lock();
            if degraded.is_none_or(|t| Instant::now() >= t) {
                tracing::info!(
                    topic,
                    "a broker group has no master; re-reading the route every second"
                );
                *degraded = Some(Instant::now() + DEGRADED_REFRESH_FOR);
            }
        }
        let mut publish = self.publish.lock();
        let info = match publish.get(topic) {
            Some(previous) => info.continuing(previous),
            None => info,
        };
        let info = Arc::new(info);
        publish.insert(topic.to_owned(), info.clone());
        info
    }

    /// After a failed send: re-reads `topic`'s route, unless that was done less than a second
    /// ago. Returns the new queues when it did.
    async fn refresh_after_failure(&self, topic: &str) -> Option<Arc<PublishInfo>> {
        {
            let mut last = self.last_failure_refresh.lock();
            if last.is_some_and(|t| t.elapsed() < FAILURE_REFRESH_MIN_INTERVAL) {
                return None;
            }
            *last = Some(Instant::now());
        }
        match self.client.fetch_route(topic).await {
            Ok(route) => {
                let info = PublishInfo::from_route(topic, &route);
                if info.is_empty() {
                    return None;
                }
                let previous = self.publish.lock().get(topic).cloned();
                let lost = previous.as_ref().is_some_and(|p| info.lost_brokers_of(p));
                let regained = previous.as_ref().is_some_and(|p| p.lost_brokers_of(&info));
                let mut degraded = self.degraded_until.lock();
                if lost {
                    // Keep looking for a while: in controller mode a new master registers
                    // within seconds.
                    tracing::info!(
                        topic,
                        "a broker group lost its queues; re-reading the route every second"
                    );
                    *degraded = Some(Instant::now() + DEGRADED_REFRESH_FOR);
                } else if regained && !info.masterless {
                    tracing::info!(topic, "every broker group has a master again");
                    *degraded = None;
                }
                drop(degraded);
                Some(self.install(topic, info))
            }
            Err(e) => {
                tracing::debug!(topic, error = %e, "route refresh after a failed send failed");
                None
            }
        }
    }

    /// Re-reads the route of `TBW102` and of every topic sent to. A topic that is still unknown
    /// keeps its current (fallback) queues.
    async fn refresh_routes(&self) {
        let topics: Vec<String> = self.publish.lock().keys().cloned().collect();
        if let Err(e) = self.client.fetch_route(AUTO_CREATE_TOPIC).await {
            tracing::debug!(error = %e, "route refresh of {AUTO_CREATE_TOPIC} failed");
        }
        for topic in topics {
            match self.client.fetch_route(&topic).await {
                Ok(route) => {
                    self.install(&topic, PublishInfo::from_route(&topic, &route));
                }
                Err(e) => tracing::debug!(topic, error = %e, "route refresh failed"),
            }
        }
    }

    async fn send_heartbeat(&self) {
        let data = HeartbeatData {
            client_id: self.client.client_id.clone(),
            producer_data_set: vec![
                ProducerData {
                    group_name: self.group.clone(),
                },
                ProducerData {
                    group_name: CLIENT_INNER_PRODUCER_GROUP.to_owned(),
                },
            ],
            consumer_data_set: vec![],
            ..Default::default()
        };
        let body = body::to_json(&data);
        for addr in self.client.master_addrs() {
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
}
