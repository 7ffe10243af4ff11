//! [`SimpleConsumer`]: POP consumption as the 5.x `SimpleConsumer` does it, over remoting
//! (docs/protocol/pop.md, docs/broker/pop.md): receive (POP_MESSAGE), ack (ACK_MESSAGE) and
//! change invisible duration (CHANGE_MESSAGE_INVISIBLETIME). The broker hands messages out and
//! takes them back when they are not acknowledged in time, so there is no rebalance and no
//! offset on the client.
//!
//! `read_response` is the pure half: the POP body decoded as a pull body is, and each message's
//! receipt handle built as `MQClientAPIImpl.processPopResponse` builds it.
//!
//! Tasks while running: a route refresh and a heartbeat, both every 30 s.
//! Lock order: `subscriptions`, `brokers`, `from` and `state` are never held together and never
//! across an `.await`.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::{
    self, perm, ConsumerData, HeartbeatData, SubscriptionData, TopicRouteData, EXPRESSION_TYPE_SQL92,
};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    PopMessageRequestHeader, PopMessageResponseHeader, UnregisterClientRequestHeader,
};
use rmq_protocol::message::{self, MessageExt};
use rmq_protocol::pop::{PopHandles, ReceiptHandle, TopicKind, FIRST_POP_TIME, POP_CK};
use rmq_protocol::{RemotingCommand, WireError};
use tokio::task::JoinHandle;

use super::config::{ConsumeFromWhere, MessageModel};
use super::pull::tag_matches;
use crate::client::{broker_error, Client, DEFAULT_TIMEOUT};
use crate::config::ClientConfig;
use crate::periodic::spawn_periodic;
use crate::ClientError;

/// `maxMsgNums` of one pop may not exceed this (the broker refuses more).
pub const MAX_POP_NUMS: u32 = 32;
/// A held pop's RPC timeout is its poll time plus this (`MQClientAPIImpl.popMessageAsync`).
const POP_RPC_MARGIN: Duration = Duration::from_secs(10);
/// `pollNameServerInterval` and `heartbeatBrokerInterval`.
const ROUTE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// `ConsumeInitMode`: where a group's first pop of a queue starts.
const INIT_MODE_MIN: i32 = 0;
const INIT_MODE_MAX: i32 = 1;

/// A message received by a [`SimpleConsumer`], with what acknowledging it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct PoppedMessage {
    /// The message, under the subscribed topic (a retried message too, as the Java client
    /// shows it), with `POP_CK` and `1ST_POP_TIME` among its properties.
    pub message: MessageExt,
    /// `POP_CK`: the broker's when it put one (retried messages), else built as the Java
    /// client builds it from the response's offset summaries.
    pub receipt_handle: String,
    pub broker_name: String,
    pub broker_addr: String,
    /// The topic the message is stored in, which acks name: the pop retry topic for a retried
    /// message (`ExtraInfoUtil.getRealTopic`).
    pub real_topic: String,
    /// When it was popped (broker time, ms).
    pub pop_time: i64,
    /// For how long (ms) after `pop_time` nobody else receives it.
    pub invisible_time: i64,
}

impl PoppedMessage {
    /// The queue the message is stored in (of `real_topic`), as its receipt handle says.
    fn queue_id(&self) -> i32 {
        ReceiptHandle::parse(&self.receipt_handle)
            .map(|h| h.queue_id)
            .filter(|q| *q >= 0)
            .unwrap_or(self.message.queue_id)
    }
}

/// Receives messages by POP: each [`receive`](Self::receive) pops from the next master broker
/// of the next subscribed topic (round robin), from any of its queues. A received message is
/// invisible to the group for the given time; [`ack`](Self::ack) it within that time, or it
/// comes back (with `reconsume_times` + 1) to whichever member receives next.
///
/// ```no_run
/// use std::time::Duration;
/// use rmq_client::{ClientConfig, SimpleConsumer};
///
/// # async fn run() -> Result<(), rmq_client::ClientError> {
/// let consumer = SimpleConsumer::new("CG", ClientConfig::with_namesrv("127.0.0.1:9876"));
/// consumer.subscribe("TopicTest", "TagA || TagB")?;
/// consumer.start().await?;
/// for m in consumer.receive(16, Duration::from_secs(30), Duration::from_secs(15)).await? {
///     println!("{}", String::from_utf8_lossy(&m.message.body));
///     consumer.ack(&m).await?;
/// }
/// consumer.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct SimpleConsumer {
    inner: Arc<Inner>,
}

struct Inner {
    group: String,
    client: Client,
    /// topic → subscription.
    subscriptions: Mutex<BTreeMap<String, SubscriptionData>>,
    /// topic → names of the brokers with readable queues of it and a master (last route seen).
    brokers: Mutex<BTreeMap<String, Vec<String>>>,
    /// Round-robin position over (topic, broker).
    next: AtomicUsize,
    from: Mutex<ConsumeFromWhere>,
    state: Mutex<State>,
}

enum State {
    Created,
    Running(Vec<JoinHandle<()>>),
    Shutdown,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let State::Running(tasks) = &*self.state.lock() {
            tasks.iter().for_each(JoinHandle::abort);
        }
    }
}

impl SimpleConsumer {
    pub fn new(group: impl Into<String>, config: ClientConfig) -> SimpleConsumer {
        SimpleConsumer {
            inner: Arc::new(Inner {
                group: group.into(),
                client: Client::new(config),
                subscriptions: Mutex::new(BTreeMap::new()),
                brokers: Mutex::new(BTreeMap::new()),
                next: AtomicUsize::new(0),
                from: Mutex::new(ConsumeFromWhere::LastOffset),
                state: Mutex::new(State::Created),
            }),
        }
    }

    /// Where the group's first pop of a queue starts: `FirstOffset` from the queue's first
    /// message (`initMode` MIN), anything else from its last (MAX, the default; the broker
    /// starts a queue whose first message is still in memory at 0). As
    /// `RebalancePushImpl.getConsumeInitMode`.
    pub fn with_consume_from_where(self, from: ConsumeFromWhere) -> Self {
        *self.inner.from.lock() = from;
        self
    }

    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The id this consumer heartbeats with.
    pub fn client_id(&self) -> &str {
        &self.inner.client.client_id
    }

    /// Subscribes to `topic` with a TAG expression: `"*"`, `"TagA"`, `"TagA || TagC"`.
    /// Replaces an earlier subscription to the same topic.
    pub fn subscribe(&self, topic: &str, expression: &str) -> Result<(), ClientError> {
        message::validate_topic(topic).map_err(ClientError::InvalidArgument)?;
        let sub = SubscriptionData::from_tag_expression(topic, expression, self.inner.now_ms());
        self.inner.subscriptions.lock().insert(topic.to_owned(), sub);
        Ok(())
    }

    /// Subscribes to `topic` with an SQL92 expression on message properties (the broker needs
    /// `enablePropertyFilter=true`). Replaces an earlier subscription to the same topic.
    pub fn subscribe_sql(&self, topic: &str, sql: &str) -> Result<(), ClientError> {
        message::validate_topic(topic).map_err(ClientError::InvalidArgument)?;
        let sub = SubscriptionData {
            topic: topic.to_owned(),
            sub_string: sql.to_owned(),
            expression_type: EXPRESSION_TYPE_SQL92.to_owned(),
            sub_version: self.inner.now_ms(),
            ..SubscriptionData::default()
        };
        self.inner.subscriptions.lock().insert(topic.to_owned(), sub);
        Ok(())
    }

    /// Fetches the routes of the subscribed topics, heartbeats (consume type `CONSUME_POP`),
    /// and starts the route-refresh and heartbeat tasks. Starting twice is a no-op.
    pub async fn start(&self) -> Result<(), ClientError> {
        let inner = &self.inner;
        message::validate_group(&inner.group).map_err(ClientError::InvalidArgument)?;
        if inner.client.config.namesrv_addr.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        if inner.subscriptions.lock().is_empty() {
            return Err(ClientError::InvalidArgument("no subscription".into()));
        }
        match *inner.state.lock() {
            State::Running(_) => return Ok(()),
            State::Shutdown => return Err(ClientError::NotRunning("shut down")),
            State::Created => {}
        }
        inner.refresh_routes().await;
        inner.send_heartbeat().await;
        let weak = Arc::downgrade(inner);
        let routes = spawn_periodic(
            weak.clone(),
            ROUTE_REFRESH_INTERVAL,
            ROUTE_REFRESH_INTERVAL,
            |inner| async move { inner.refresh_routes().await },
        );
        let heartbeat = spawn_periodic(weak, HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL, |inner| async move {
            inner.send_heartbeat().await
        });
        let mut state = inner.state.lock();
        if !matches!(*state, State::Created) {
            // Raced with another start or a shutdown; keep the first outcome.
            routes.abort();
            heartbeat.abort();
            return Ok(());
        }
        *state = State::Running(vec![routes, heartbeat]);
        tracing::info!(group = %inner.group, client_id = %inner.client.client_id, "simple consumer started");
        Ok(())
    }

    /// Pops up to `max` (1..=32) messages from the next master broker of the next subscribed
    /// topic (round robin over both), from any of its queues, holding the request at the broker
    /// up to `poll` when nothing is there. The messages stay invisible to the group for
    /// `invisible`. An empty `Vec` when nothing came (POLLING_TIMEOUT or PULL_NOT_FOUND);
    /// POLLING_FULL and any other code are errors.
    ///
    /// A message whose tag the subscription does not list (the broker filters on tag hash
    /// codes only) is acknowledged and not returned, as the Java consumer does.
    pub async fn receive(
        &self,
        max: u32,
        invisible: Duration,
        poll: Duration,
    ) -> Result<Vec<PoppedMessage>, ClientError> {
        let inner = &self.inner;
        inner.ensure_running()?;
        if !(1..=MAX_POP_NUMS).contains(&max) {
            return Err(ClientError::InvalidArgument(format!(
                "max {max} is not in 1..={MAX_POP_NUMS}"
            )));
        }
        let (topic, broker_name) = inner.next_target().await?;
        let sub = inner
            .subscriptions
            .lock()
            .get(&topic)
            .cloned()
            .ok_or_else(|| ClientError::InvalidArgument(format!("not subscribed to {topic}")))?;
        let addr = inner
            .client
            .master_addr(&broker_name)
            .ok_or_else(|| ClientError::NoBrokerAddr(broker_name.clone()))?;
        let header = PopMessageRequestHeader {
            consumer_group: inner.group.clone(),
            topic: topic.clone(),
            queue_id: -1,
            max_msg_nums: max as i32,
            invisible_time: millis(invisible),
            poll_time: millis(poll),
            born_time: inner.now_ms(),
            init_mode: inner.init_mode(),
            exp_type: Some(sub.expression_type.clone()),
            exp: Some(sub.sub_string.clone()),
            order: Some(false),
            attempt_id: None,
            bname: Some(broker_name.clone()),
        };
        let cmd = inner
            .client
            .request(request_code::POP_MESSAGE)
            .with_header(&header);
        let resp = inner
            .client
            .invoke(&addr, cmd, poll.saturating_add(POP_RPC_MARGIN))
            .await?;
        let source = PopSource {
            topic: &topic,
            group: &inner.group,
            broker_name: &broker_name,
            broker_addr: &addr,
        };
        let (wanted, unwanted): (Vec<_>, Vec<_>) = read_response(&resp, &source)?
            .into_iter()
            .partition(|m| tag_matches(&sub, m.message.tags()));
        for m in &unwanted {
            if let Err(e) = self.ack(m).await {
                tracing::warn!(topic, tags = ?m.message.tags(), error = %e, "ack of a filtered-out message failed");
            }
        }
        Ok(wanted)
    }

    /// ACK_MESSAGE: the message is done and never comes back. Fails (NO_MESSAGE, ...) when the
    /// broker cannot take the ack; an ack after the invisible time passed is accepted but too
    /// late to stop the message coming back.
    pub async fn ack(&self, m: &PoppedMessage) -> Result<(), ClientError> {
        let inner = &self.inner;
        inner.ensure_running()?;
        let header = AckMessageRequestHeader {
            consumer_group: inner.group.clone(),
            topic: m.real_topic.clone(),
            queue_id: m.queue_id(),
            extra_info: m.receipt_handle.clone(),
            offset: m.message.queue_offset,
            bname: Some(m.broker_name.clone()),
        };
        let cmd = inner
            .client
            .request(request_code::ACK_MESSAGE)
            .with_header(&header);
        inner
            .client
            .invoke_ok(&inner.addr_of(m), cmd, DEFAULT_TIMEOUT)
            .await?;
        Ok(())
    }

    /// CHANGE_MESSAGE_INVISIBLETIME: the message becomes visible again `invisible` from now
    /// (instead of at its old time). Returns the message with its new receipt handle, which
    /// later acks and changes must use; the old one is spent.
    pub async fn change_invisible_duration(
        &self,
        m: &PoppedMessage,
        invisible: Duration,
    ) -> Result<PoppedMessage, ClientError> {
        let inner = &self.inner;
        inner.ensure_running()?;
        let header = ChangeInvisibleTimeRequestHeader {
            consumer_group: inner.group.clone(),
            topic: m.real_topic.clone(),
            queue_id: m.queue_id(),
            extra_info: m.receipt_handle.clone(),
            offset: m.message.queue_offset,
            invisible_time: millis(invisible),
            bname: Some(m.broker_name.clone()),
        };
        let cmd = inner
            .client
            .request(request_code::CHANGE_MESSAGE_INVISIBLETIME)
            .with_header(&header);
        let resp = inner
            .client
            .invoke_ok(&inner.addr_of(m), cmd, DEFAULT_TIMEOUT)
            .await?;
        let changed: ChangeInvisibleTimeResponseHeader = resp.header()?;
        Ok(with_new_handle(m, &header, &changed))
    }

    /// Stops the background tasks, sends UNREGISTER_CLIENT to every known broker and closes the
    /// connections. Messages received and not acknowledged come back after their invisible time.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        let previous = std::mem::replace(&mut *inner.state.lock(), State::Shutdown);
        let State::Running(tasks) = previous else { return };
        tasks.iter().for_each(JoinHandle::abort);
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
        tracing::info!(group = %inner.group, "simple consumer shut down");
    }
}

impl Inner {
    fn now_ms(&self) -> i64 {
        self.client.config.clock.now_ms()
    }

    fn ensure_running(&self) -> Result<(), ClientError> {
        match *self.state.lock() {
            State::Running(_) => Ok(()),
            State::Created => Err(ClientError::NotRunning("not started")),
            State::Shutdown => Err(ClientError::NotRunning("shut down")),
        }
    }

    fn init_mode(&self) -> i32 {
        match *self.from.lock() {
            ConsumeFromWhere::FirstOffset => INIT_MODE_MIN,
            ConsumeFromWhere::LastOffset | ConsumeFromWhere::Timestamp(_) => INIT_MODE_MAX,
        }
    }

    fn topics(&self) -> Vec<String> {
        self.subscriptions.lock().keys().cloned().collect()
    }

    /// Where acks and changes of `m` go: its broker's master now, else where it came from.
    fn addr_of(&self, m: &PoppedMessage) -> String {
        self.client
            .master_addr(&m.broker_name)
            .unwrap_or_else(|| m.broker_addr.clone())
    }

    async fn refresh_route(&self, topic: &str) -> Result<(), ClientError> {
        let route = self.client.fetch_route(topic).await?;
        self.brokers.lock().insert(topic.to_owned(), pop_brokers(&route));
        Ok(())
    }

    async fn refresh_routes(&self) {
        for topic in self.topics() {
            if let Err(e) = self.refresh_route(&topic).await {
                tracing::warn!(topic, error = %e, "no route for subscribed topic");
            }
        }
    }

    /// The next (topic, broker name) to pop from, fetching the route of a topic not seen yet.
    async fn next_target(&self) -> Result<(String, String), ClientError> {
        let topics = self.topics();
        for topic in &topics {
            let known = self.brokers.lock().contains_key(topic);
            if !known {
                if let Err(e) = self.refresh_route(topic).await {
                    tracing::debug!(topic, error = %e, "no route for subscribed topic");
                }
            }
        }
        let mut targets: Vec<(String, String)> = {
            let brokers = self.brokers.lock();
            topics
                .iter()
                .flat_map(|t| {
                    brokers
                        .get(t)
                        .into_iter()
                        .flatten()
                        .map(move |b| (t.clone(), b.clone()))
                })
                .collect()
        };
        if targets.is_empty() {
            return Err(ClientError::NoRoute(topics.join(",")));
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % targets.len();
        Ok(targets.swap_remove(i))
    }

    fn heartbeat_data(&self) -> HeartbeatData {
        HeartbeatData {
            client_id: self.client.client_id.clone(),
            consumer_data_set: vec![ConsumerData {
                consume_from_where: self.from.lock().name().to_owned(),
                consume_type: "CONSUME_POP".to_owned(),
                group_name: self.group.clone(),
                message_model: MessageModel::Clustering.name().to_owned(),
                subscription_data_set: self.subscriptions.lock().values().cloned().collect(),
                unit_mode: false,
            }],
            ..Default::default()
        }
    }

    /// HEART_BEAT to every known broker address.
    async fn send_heartbeat(&self) {
        let body = body::to_json(&self.heartbeat_data());
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
}

/// Milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The brokers a topic can be popped from: readable queues and a master, sorted.
fn pop_brokers(route: &TopicRouteData) -> Vec<String> {
    let mut names: Vec<String> = route
        .queue_datas
        .iter()
        .filter(|qd| perm::is_readable(qd.perm) && qd.read_queue_nums > 0)
        .filter(|qd| {
            route
                .broker_datas
                .iter()
                .any(|bd| bd.broker_name == qd.broker_name && bd.master_addr().is_some())
        })
        .map(|qd| qd.broker_name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Where a POP response came from.
pub(crate) struct PopSource<'a> {
    /// The topic popped (the subscribed one).
    pub topic: &'a str,
    pub group: &'a str,
    pub broker_name: &'a str,
    pub broker_addr: &'a str,
}

fn bad_field(field: &'static str, value: &str) -> ClientError {
    ClientError::Wire(WireError::BadField {
        field,
        value: value.to_owned(),
    })
}

/// `MQClientAPIImpl.processPopResponse`: SUCCESS → the body's messages, each with a receipt
/// handle (its own `POP_CK`, else built from `startOffsetInfo`, or from the first offset of its
/// queue in the body when a legacy broker sent no summary), `1ST_POP_TIME` set if absent and
/// the topic set back to the one popped; POLLING_TIMEOUT and PULL_NOT_FOUND → nothing; any
/// other code → [`ClientError::Broker`].
pub(crate) fn read_response(
    resp: &RemotingCommand,
    from: &PopSource<'_>,
) -> Result<Vec<PoppedMessage>, ClientError> {
    match resp.code {
        response_code::SUCCESS => {}
        response_code::POLLING_TIMEOUT | response_code::PULL_NOT_FOUND => return Ok(Vec::new()),
        _ => return Err(broker_error(resp)),
    }
    let header: PopMessageResponseHeader = resp.header()?;
    let mut handles = PopHandles::new(&header, from.broker_name).map_err(|(f, v)| bad_field(f, &v))?;
    let mut out = Vec::new();
    for mut m in message::decode_messages(&resp.body)? {
        let parsed = handles.handle(&mut m).map_err(|(f, v)| bad_field(f, &v))?;
        // A message's own POP_CK is kept as it came.
        let handle = m
            .properties
            .get(POP_CK)
            .cloned()
            .unwrap_or_else(|| parsed.encode());
        m.properties
            .entry(FIRST_POP_TIME.to_owned())
            .or_insert_with(|| header.pop_time.to_string());
        m.topic = from.topic.to_owned();
        out.push(PoppedMessage {
            message: m,
            real_topic: parsed.kind.real_topic(from.topic, from.group),
            receipt_handle: handle,
            broker_name: from.broker_name.to_owned(),
            broker_addr: from.broker_addr.to_owned(),
            pop_time: parsed.pop_time,
            invisible_time: parsed.invisible_time,
        });
    }
    Ok(out)
}

/// The message after a change of its invisible time, with the handle
/// `MQClientAPIImpl.changeInvisibleTimeAsync` builds: the checkpoint is now the message's own,
/// so it starts at the message's offset.
fn with_new_handle(
    m: &PoppedMessage,
    sent: &ChangeInvisibleTimeRequestHeader,
    changed: &ChangeInvisibleTimeResponseHeader,
) -> PoppedMessage {
    let handle = ReceiptHandle {
        ck_offset: sent.offset,
        pop_time: changed.pop_time,
        invisible_time: changed.invisible_time,
        revive_qid: changed.revive_qid,
        kind: TopicKind::of(&sent.topic),
        broker_name: m.broker_name.clone(),
        queue_id: sent.queue_id,
        msg_offset: sent.offset,
    }
    .encode();
    let mut out = m.clone();
    out.message.properties.insert(POP_CK.to_owned(), handle.clone());
    out.receipt_handle = handle;
    out.pop_time = changed.pop_time;
    out.invisible_time = changed.invisible_time;
    out
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use rmq_protocol::body::{BrokerData, QueueData};

    use super::*;
    use crate::consumer::process_queue::tests::msg;

    const SOURCE: PopSource<'static> = PopSource {
        topic: "T",
        group: "G",
        broker_name: "broker-a",
        broker_addr: "127.0.0.1:10911",
    };

    fn body(msgs: &[MessageExt]) -> bytes::Bytes {
        let mut out = BytesMut::new();
        for m in msgs {
            message::encode_message(m, &mut out);
        }
        out.freeze()
    }

    fn found(msgs: &[MessageExt], start_offset_info: Option<&str>) -> RemotingCommand {
        let header = PopMessageResponseHeader {
            pop_time: 1_700_000_000_000,
            invisible_time: 30_000,
            revive_qid: 3,
            rest_num: 0,
            start_offset_info: start_offset_info.map(str::to_owned),
            msg_offset_info: None,
            order_count_info: None,
        };
        RemotingCommand::response(response_code::SUCCESS)
            .with_header(&header)
            .with_body(body(msgs))
    }

    fn at(queue_id: i32, offset: i64) -> MessageExt {
        let mut m = msg(offset, 2);
        m.queue_id = queue_id;
        m
    }

    #[test]
    fn receipt_handles_are_built_from_the_start_offsets() {
        let resp = found(&[at(1, 12), at(1, 14), at(2, 7)], Some("0 1 10;0 2 7"));
        let got = read_response(&resp, &SOURCE).unwrap();
        let handles: Vec<&str> = got.iter().map(|m| m.receipt_handle.as_str()).collect();
        assert_eq!(
            handles,
            [
                "10 1700000000000 30000 3 0 broker-a 1 12",
                "10 1700000000000 30000 3 0 broker-a 1 14",
                "7 1700000000000 30000 3 0 broker-a 2 7",
            ]
        );
        let m = &got[0];
        assert_eq!((m.real_topic.as_str(), m.message.topic.as_str()), ("T", "T"));
        assert_eq!((m.pop_time, m.invisible_time), (1_700_000_000_000, 30_000));
        assert_eq!(
            (m.broker_name.as_str(), m.broker_addr.as_str()),
            ("broker-a", "127.0.0.1:10911")
        );
        assert_eq!(m.message.properties.get(POP_CK), Some(&m.receipt_handle));
        assert_eq!(
            m.message.properties.get(FIRST_POP_TIME).map(String::as_str),
            Some("1700000000000")
        );
    }

    #[test]
    fn a_retried_message_keeps_the_brokers_handle_and_acks_name_the_retry_topic() {
        let mut retried = at(0, 5);
        retried.reconsume_times = 1;
        retried
            .properties
            .insert(POP_CK.into(), "5 1700000000000 30000 3 1 broker-a 0 5".into());
        retried
            .properties
            .insert(FIRST_POP_TIME.into(), "1600000000000".into());
        let got = read_response(&found(&[retried], Some("1 0 5")), &SOURCE).unwrap();
        assert_eq!(got[0].receipt_handle, "5 1700000000000 30000 3 1 broker-a 0 5");
        assert_eq!(got[0].real_topic, "%RETRY%G_T");
        assert_eq!(got[0].message.topic, "T");
        assert_eq!(
            got[0].message.properties.get(FIRST_POP_TIME).map(String::as_str),
            Some("1600000000000"),
            "set once"
        );
        // Shown under its retry topic (popResponseReturnActualRetryTopic): built with flag 1.
        let mut actual = at(0, 6);
        actual.topic = "%RETRY%G_T".into();
        let got = read_response(&found(&[actual], Some("1 0 6")), &SOURCE).unwrap();
        assert_eq!(got[0].receipt_handle, "6 1700000000000 30000 3 1 broker-a 0 6");
        assert_eq!(
            (got[0].real_topic.as_str(), got[0].message.topic.as_str()),
            ("%RETRY%G_T", "T")
        );
    }

    #[test]
    fn without_start_offsets_the_checkpoint_starts_at_the_queues_first_message() {
        let got = read_response(&found(&[at(1, 12), at(1, 14)], None), &SOURCE).unwrap();
        assert!(got.iter().all(|m| m.receipt_handle.starts_with("12 ")));
        // A queue missing from the summary is a bad response.
        let err = read_response(&found(&[at(3, 1)], Some("0 1 10")), &SOURCE).unwrap_err();
        assert!(matches!(err, ClientError::Wire(_)), "{err}");
    }

    #[test]
    fn nothing_found_is_empty_and_other_codes_are_errors() {
        for code in [response_code::POLLING_TIMEOUT, response_code::PULL_NOT_FOUND] {
            let resp = RemotingCommand::response(code);
            assert!(read_response(&resp, &SOURCE).unwrap().is_empty());
        }
        for code in [response_code::POLLING_FULL, response_code::SYSTEM_ERROR] {
            let resp = RemotingCommand::response(code).with_remark("no");
            let err = read_response(&resp, &SOURCE).unwrap_err();
            assert_eq!(err.broker_code(), Some(code));
        }
    }

    #[test]
    fn a_changed_invisible_time_gives_the_message_its_own_checkpoint() {
        let got = read_response(&found(&[at(1, 12)], Some("0 1 10")), &SOURCE).unwrap();
        let m = &got[0];
        let sent = ChangeInvisibleTimeRequestHeader {
            consumer_group: "G".into(),
            topic: m.real_topic.clone(),
            queue_id: m.queue_id(),
            extra_info: m.receipt_handle.clone(),
            offset: 12,
            invisible_time: 5_000,
            bname: None,
        };
        let changed = ChangeInvisibleTimeResponseHeader {
            pop_time: 1_700_000_001_000,
            invisible_time: 5_000,
            revive_qid: 3,
        };
        let after = with_new_handle(m, &sent, &changed);
        assert_eq!(after.receipt_handle, "12 1700000001000 5000 3 0 broker-a 1 12");
        assert_eq!(after.message.properties.get(POP_CK), Some(&after.receipt_handle));
        assert_eq!((after.pop_time, after.invisible_time), (1_700_000_001_000, 5_000));
        let retry = ChangeInvisibleTimeRequestHeader {
            topic: "%RETRY%G_T".into(),
            queue_id: 0,
            ..sent
        };
        assert_eq!(
            with_new_handle(m, &retry, &changed).receipt_handle,
            "12 1700000001000 5000 3 1 broker-a 0 12"
        );
    }

    #[test]
    fn pops_go_to_readable_brokers_with_a_master() {
        let qd = |name: &str, read: i32, perm: i32| QueueData {
            broker_name: name.into(),
            read_queue_nums: read,
            write_queue_nums: 1,
            perm,
            topic_sys_flag: 0,
        };
        let bd = |name: &str, ids: &[i64]| BrokerData {
            cluster: "C".into(),
            broker_name: name.into(),
            broker_addrs: ids.iter().map(|i| (*i, format!("{name}:{i}"))).collect(),
            ..Default::default()
        };
        let route = TopicRouteData {
            queue_datas: vec![
                qd("broker-b", 4, 6),
                qd("broker-a", 4, 4),
                qd("broker-c", 4, 2),
                qd("broker-d", 0, 6),
                qd("broker-e", 4, 6),
            ],
            broker_datas: vec![
                bd("broker-a", &[0, 1]),
                bd("broker-b", &[0]),
                bd("broker-c", &[0]),
                bd("broker-d", &[0]),
                bd("broker-e", &[1]),
            ],
            ..Default::default()
        };
        assert_eq!(pop_brokers(&route), ["broker-a", "broker-b"]);
    }
}
