//! Prometheus metrics (docs/broker/metrics.md): `metricsExporterType=PROM` serves `/metrics` on
//! `metricsPromExporterPort` (5557) in the Prometheus text format, with RocketMQ 5's metric names
//! and labels (`BrokerMetricsConstant`): messages and bytes in per topic, out per topic and
//! consumer group, sends to the dead-letter queue per group, and at scrape time the consumer lag
//! per group and topic, the store's size and its flush backlog.
//!
//! Counting is two atomic adds under a read lock per request (a write lock only the first time a
//! topic or group is seen); the lag is computed when scraped, never on the message path.
//!
//! # Layout
//!
//! - this module: the counters of the message path, the admin histograms, the scrape's text.
//! - [`timer`]: the timer store's metrics, counted by the timer task.

mod timer;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rmq_remoting::prom::{escape, Histogram, HistogramTable, RpcLatency};

use crate::BrokerState;

/// Upper bounds of `rocketmq_message_size`'s buckets, in bytes (Java 5's
/// `BrokerMetricsManager`: 1 KiB, 4 KiB, 512 KiB, 1, 2 and 4 MiB), then +Inf.
const SIZE_BUCKETS: &[u64] = &[1 << 10, 4 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20];

/// `rocketmq_finish_message_latency`'s buckets: Java records the time from a half message's birth
/// to its commit in whole *seconds* (5 s, 1 min, 10 min, 1 h, 12 h, 24 h).
const FINISH_LATENCY_BUCKETS: &[u64] = &[5, 60, 600, 3600, 43_200, 86_400];

/// `rocketmq_topic_create_execution_time` and `rocketmq_consumer_group_create_execution_time`'s
/// buckets, in ms (Java 5's `BrokerMetricsManager`: 10 ms, 100 ms, 1 s, 3 s, 5 s).
const CREATE_TIME_BUCKETS: &[u64] = &[10, 100, 1000, 3000, 5000];

/// The Prometheus text being written: every sample gets the common labels.
pub(crate) struct Text {
    out: String,
    /// `cluster`, `node_type` and `node_id`.
    common: String,
}

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str, rows: Vec<(String, u64)>) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in rows {
            let sep = if labels.is_empty() { "" } else { "," };
            let _ = writeln!(self.out, "{name}{{{}{sep}{labels}}} {value}", self.common);
        }
    }

    /// Rows from [`Histogram::rows`].
    fn histogram(&mut self, name: &str, help: &str, rows: Vec<(String, &str, u64)>) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} histogram");
        for (labels, suffix, value) in rows {
            let sep = if labels.is_empty() { "" } else { "," };
            let _ = writeln!(self.out, "{name}{suffix}{{{}{sep}{labels}}} {value}", self.common);
        }
    }
}

/// Messages and bytes, and for stored messages the size histogram.
#[derive(Debug)]
struct Flow {
    messages: AtomicU64,
    bytes: AtomicU64,
    sizes: Histogram,
}

impl Default for Flow {
    fn default() -> Self {
        Flow {
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            sizes: Histogram::new(SIZE_BUCKETS),
        }
    }
}

impl Flow {
    fn add(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn load(&self) -> (u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Counters by (topic, second key: a consumer group or a message type), created on first use
/// and looked up without building a key.
#[derive(Debug, Default)]
struct PairTable {
    rows: RwLock<HashMap<String, HashMap<String, Arc<Flow>>>>,
}

impl PairTable {
    /// Calls `each` with the row of (`topic`, `group`), made on first use. The common case runs
    /// under the read lock, without taking a reference count (two atomic writes per call less on
    /// the send path).
    fn with(&self, topic: &str, group: &str, each: impl FnOnce(&Flow)) {
        if let Some(f) = self.rows.read().get(topic).and_then(|g| g.get(group)) {
            return each(f);
        }
        let flow = self
            .rows
            .write()
            .entry(topic.to_string())
            .or_default()
            .entry(group.to_string())
            .or_default()
            .clone();
        each(&flow);
    }

    fn add(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        self.with(topic, group, |f| f.add(messages, bytes));
    }

    /// Rows in (topic, group) order.
    fn rows(&self) -> Vec<((String, String), u64, u64)> {
        self.flows()
            .into_iter()
            .map(|(k, f)| {
                let (m, b) = f.load();
                (k, m, b)
            })
            .collect()
    }

    /// The flows in (topic, group) order.
    fn flows(&self) -> Vec<((String, String), Arc<Flow>)> {
        let mut out = Vec::new();
        for (topic, groups) in self.rows.read().iter() {
            for (group, f) in groups {
                out.push(((topic.clone(), group.clone()), f.clone()));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Java 5's message type of a send (`BrokerMetricsManager.getMessageType`), the
/// `message_type` label: `transaction` for a prepared message, else `fifo` with a sharding key,
/// else `delay` with any delay or timer property, else `normal`. One pass over the encoded
/// properties.
pub fn message_type(properties: &[u8]) -> &'static str {
    let mut kind = 0;
    for pair in properties.split(|&b| b == 2) {
        let Some(sep) = pair.iter().position(|&b| b == 1) else {
            continue;
        };
        let (key, value) = (&pair[..sep], &pair[sep + 1..]);
        match key {
            b"TRAN_MSG" if value.eq_ignore_ascii_case(b"true") => kind = kind.max(3),
            b"__SHARDINGKEY" => kind = kind.max(2),
            b"__STARTDELIVERTIME"
            | b"DELAY"
            | b"TIMER_DELIVER_MS"
            | b"TIMER_DELAY_SEC"
            | b"TIMER_DELAY_MS" => {
                kind = kind.max(1);
            }
            _ => {}
        }
    }
    ["normal", "delay", "fifo", "transaction"][kind]
}

/// The broker's counters.
#[derive(Debug)]
pub struct Metrics {
    /// By (topic, message type).
    incoming: PairTable,
    /// By (topic, consumer group).
    outgoing: PairTable,
    /// By (original topic, consumer group); bytes unused.
    to_dlq: PairTable,
    /// Answered requests (`rocketmq_rpc_latency`).
    rpc: RpcLatency,
    /// Ended transactions by (real topic, "commit" | "rollback"); bytes unused.
    tx_ends: PairTable,
    /// Seconds from a committed half message's birth to its commit, by real topic.
    tx_finish: HistogramTable<String>,
    /// Topic create/update requests: ms by (success, is_system).
    topic_create: HistogramTable<(bool, bool)>,
    /// Subscription group create/update requests: ms by success.
    group_create: HistogramTable<bool>,
    /// The timer store's counts, kept by the timer task.
    pub timer: timer::TimerMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            incoming: PairTable::default(),
            outgoing: PairTable::default(),
            to_dlq: PairTable::default(),
            rpc: RpcLatency::default(),
            tx_ends: PairTable::default(),
            tx_finish: HistogramTable::new(FINISH_LATENCY_BUCKETS),
            topic_create: HistogramTable::new(CREATE_TIME_BUCKETS),
            group_create: HistogramTable::new(CREATE_TIME_BUCKETS),
            timer: timer::TimerMetrics::default(),
        }
    }
}

impl Metrics {
    /// Messages stored by a send to `topic` (a batch counts each of its messages), of
    /// `message_type` ([`message_type`]). The size histogram gets one observation per send, the
    /// average record size, as Java records it.
    pub fn messages_in(&self, topic: &str, message_type: &str, messages: u64, bytes: u64) {
        self.incoming.with(topic, message_type, |flow| {
            flow.add(messages, bytes);
            if let Some(average) = bytes.checked_div(messages) {
                flow.sizes.record(average);
            }
        });
    }

    /// Messages handed to `group` from `topic` (a pull or a pop).
    pub fn messages_out(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        if messages > 0 {
            self.outgoing.add(topic, group, messages, bytes);
        }
    }

    /// One message of `topic` moved to `group`'s dead-letter queue.
    pub fn sent_to_dlq(&self, topic: &str, group: &str) {
        self.to_dlq.add(topic, group, 1, 0);
    }

    /// One answered request (`writeResponse`'s recording of `rocketmq_rpc_latency`, in ms).
    pub fn rpc(&self, served: &rmq_remoting::Served) {
        self.rpc.record(served);
    }

    /// A half message of `topic` was committed (`commit`) or rolled back; a commit also records
    /// the seconds since the half message was born (`EndTransactionProcessor`).
    pub fn transaction_ended(&self, topic: &str, commit: bool, born_ms: i64, now_ms: i64) {
        self.tx_ends
            .add(topic, if commit { "commit" } else { "rollback" }, 1, 0);
        if commit {
            let seconds = u64::try_from((now_ms - born_ms) / 1000).unwrap_or(0);
            self.tx_finish.record(topic, seconds);
        }
    }

    /// One UPDATE_AND_CREATE_TOPIC or UPDATE_AND_CREATE_TOPIC_LIST answered (Java's
    /// `topicCreateExecuteTime`): `is_system` is Java's `TopicValidator.isSystemTopic` of the
    /// topic (for a list, of the names joined with `;`).
    pub fn topic_create(&self, elapsed: std::time::Duration, success: bool, is_system: bool) {
        self.topic_create.record(&(success, is_system), millis(elapsed));
    }

    /// One UPDATE_AND_CREATE_SUBSCRIPTIONGROUP or UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST
    /// answered (Java's `consumerGroupCreateExecuteTime`).
    pub fn group_create(&self, elapsed: std::time::Duration, success: bool) {
        self.group_create.record(&success, millis(elapsed));
    }

    /// The Prometheus text exposition of everything, with the gauges read now.
    pub fn render(&self, s: &BrokerState) -> String {
        let common = format!(
            "cluster=\"{}\",node_type=\"broker\",node_id=\"{}\"",
            escape(&s.config.broker_cluster_name),
            escape(&s.config.broker_name)
        );
        let system = |t: &str| crate::topic::is_system_topic(t) || t.starts_with('%');
        let retry = |t: &str| t.starts_with(crate::topic::RETRY_GROUP_TOPIC_PREFIX);
        let topic_labels = |t: &str| format!("topic=\"{}\",is_system=\"{}\"", escape(t), system(t));
        let group_labels = |t: &str, g: &str| {
            format!(
                "topic=\"{}\",consumer_group=\"{}\",is_retry=\"{}\",is_system=\"{}\"",
                escape(t),
                escape(g),
                retry(t),
                system(t)
            )
        };
        let mut t = Text {
            out: String::new(),
            common,
        };
        let incoming = self.incoming.rows();
        let in_labels = |(t, kind): &(String, String)| format!("{},message_type=\"{kind}\"", topic_labels(t));
        let outgoing = self.outgoing.rows();
        t.family(
            "rocketmq_messages_in_total",
            "counter",
            "Messages stored by sends.",
            incoming.iter().map(|(k, n, _)| (in_labels(k), *n)).collect(),
        );
        t.family(
            "rocketmq_throughput_in_total",
            "counter",
            "Bytes stored by sends (whole records, as Java's wrote bytes).",
            incoming.iter().map(|(k, _, b)| (in_labels(k), *b)).collect(),
        );
        let mut sizes = Vec::new();
        for (k, flow) in self.incoming.flows() {
            flow.sizes.rows(&in_labels(&k), &mut sizes);
        }
        t.family(
            "rocketmq_messages_out_total",
            "counter",
            "Messages delivered by pulls and pops.",
            outgoing
                .iter()
                .map(|((t, g), n, _)| (group_labels(t, g), *n))
                .collect(),
        );
        t.family(
            "rocketmq_throughput_out_total",
            "counter",
            "Bytes delivered (whole stored records).",
            outgoing
                .iter()
                .map(|((t, g), _, b)| (group_labels(t, g), *b))
                .collect(),
        );
        t.family(
            "rocketmq_send_to_dlq_messages_total",
            "counter",
            "Messages moved to a dead-letter queue.",
            self.to_dlq
                .rows()
                .into_iter()
                .map(|((t, g), n, _)| {
                    (
                        format!("topic=\"{}\",consumer_group=\"{}\"", escape(&t), escape(&g)),
                        n,
                    )
                })
                .collect(),
        );
        let lags = lags(s);
        t.family(
            "rocketmq_consumer_lag_messages",
            "gauge",
            "Messages stored but not yet committed by the group.",
            lags.iter()
                .map(|l| (group_labels(&l.topic, &l.group), l.lag))
                .collect(),
        );
        t.family(
            "rocketmq_consumer_inflight_messages",
            "gauge",
            "Messages handed to the group and not yet committed.",
            lags.iter()
                .map(|l| (group_labels(&l.topic, &l.group), l.inflight))
                .collect(),
        );
        t.family(
            "rocketmq_consumer_ready_messages",
            "gauge",
            "Messages stored and not yet handed to the group.",
            lags.iter()
                .map(|l| (group_labels(&l.topic, &l.group), l.ready))
                .collect(),
        );
        t.family(
            "rocketmq_consumer_lag_latency",
            "gauge",
            "Milliseconds since the oldest message the group has not committed was stored (0 without lag).",
            lags.iter()
                .map(|l| (group_labels(&l.topic, &l.group), l.lag_latency_ms))
                .collect(),
        );
        let crate::clients::ConnectionCounts { consumers, producers } = s.clients.connection_counts();
        let version = |v: i32| rmq_protocol::version::version_desc(v).to_lowercase();
        t.family(
            "rocketmq_producer_connections",
            "gauge",
            "Producer connections by client language and version.",
            producers
                .into_iter()
                .map(|((lang, v, protocol), n)| {
                    (
                        format!(
                            "language=\"{}\",version=\"{}\",protocol_type=\"{protocol}\"",
                            escape(&lang.to_lowercase()),
                            version(v)
                        ),
                        n,
                    )
                })
                .collect(),
        );
        t.family(
            "rocketmq_consumer_connections",
            "gauge",
            "Consumer connections by group, client language and version, and consume mode.",
            consumers
                .into_iter()
                .map(|((g, lang, v, mode, protocol), n)| {
                    let mode = if mode.contains("PASSIVELY") { "push" } else { "pull" };
                    (
                        format!(
                            "consumer_group=\"{}\",language=\"{}\",version=\"{}\",consume_mode=\"{mode}\",protocol_type=\"{protocol}\",is_system=\"{}\"",
                            escape(&g),
                            escape(&lang.to_lowercase()),
                            version(v),
                            crate::subscription::is_system_group(&g)
                        ),
                        n,
                    )
                })
                .collect(),
        );
        t.family(
            "rocketmq_processor_watermark",
            "gauge",
            "Requests waiting in a processor's queue (rmq queues sends only).",
            vec![("processor=\"send\"".to_string(), s.send_queue.len() as u64)],
        );
        t.family(
            "rocketmq_broker_permission",
            "gauge",
            "brokerPermission (6 read-write, 4 read-only, 2 write-only).",
            vec![(String::new(), u64::try_from(s.runtime.permission()).unwrap_or(0))],
        );
        t.family(
            "rocketmq_topic_number",
            "gauge",
            "Topics in the broker's topic table.",
            vec![(String::new(), s.topics.names().len() as u64)],
        );
        t.family(
            "rocketmq_consumer_group_number",
            "gauge",
            "Subscription groups in the broker's table.",
            vec![(String::new(), s.groups.names().len() as u64)],
        );
        let (max, min, flushed) = (
            s.store.max_phy_offset(),
            s.store.min_phy_offset(),
            s.store.flushed_phy_offset(),
        );
        t.family(
            "rocketmq_storage_size",
            "gauge",
            "Bytes of the commit log in use.",
            vec![(
                timer::STORE_LABELS.to_string(),
                u64::try_from(max - min).unwrap_or(0),
            )],
        );
        t.family(
            "rocketmq_storage_flush_behind_bytes",
            "gauge",
            "Bytes written to the commit log and not yet flushed.",
            vec![(
                timer::STORE_LABELS.to_string(),
                u64::try_from(max - flushed).unwrap_or(0),
            )],
        );
        t.family(
            "rocketmq_storage_dispatch_behind_bytes",
            "gauge",
            "Bytes of the commit log not yet in the consume queues (in controller mode: not yet confirmed by the SyncStateSet).",
            vec![(
                timer::STORE_LABELS.to_string(),
                u64::try_from(max - s.store.dispatched_offset()).unwrap_or(0),
            )],
        );
        t.family(
            "rocketmq_storage_message_reserve_time",
            "gauge",
            "Milliseconds since the oldest message kept was stored.",
            s.store
                .earliest_store_time()
                .map(|t| {
                    (
                        timer::STORE_LABELS.to_string(),
                        u64::try_from(s.clock.now_ms() - t).unwrap_or(0),
                    )
                })
                .into_iter()
                .collect(),
        );
        let ends = self.tx_ends.rows();
        let ended = |kind: &str| -> Vec<(String, u64)> {
            ends.iter()
                .filter(|((_, k), ..)| k == kind)
                .map(|((t, _), n, _)| (format!("topic=\"{}\"", escape(t)), *n))
                .collect()
        };
        t.family(
            "rocketmq_commit_messages_total",
            "counter",
            "Total number of commit messages.",
            ended("commit"),
        );
        t.family(
            "rocketmq_rollback_messages_total",
            "counter",
            "Total number of rollback messages.",
            ended("rollback"),
        );
        t.family(
            "rocketmq_half_messages",
            "gauge",
            "Half messages of all topics (not yet committed, rolled back or discarded), by real topic.",
            s.transactions
                .half_counts()
                .into_iter()
                .map(|(t, n)| (format!("topic=\"{}\"", escape(&t)), u64::try_from(n).unwrap_or(0)))
                .collect(),
        );
        t.family(
            "rocketmq_consumer_queueing_latency",
            "gauge",
            "Milliseconds since the oldest message not yet handed to the group was stored (0 when none waits).",
            lags.iter()
                .map(|l| (group_labels(&l.topic, &l.group), l.queueing_latency_ms))
                .collect(),
        );
        let mut rpc = Vec::new();
        self.rpc.rows(&mut rpc);
        let mut finish = Vec::new();
        for (topic, h) in self.tx_finish.sorted() {
            h.rows(&format!("topic=\"{}\"", escape(&topic)), &mut finish);
        }
        t.histogram("rocketmq_message_size", "Incoming messages size (bytes).", sizes);
        t.histogram(
            "rocketmq_rpc_latency",
            "Rpc latency (milliseconds, from a request's arrival to its answer).",
            rpc,
        );
        t.histogram(
            "rocketmq_finish_message_latency",
            "Transaction finish latency (seconds from a half message's birth to its commit, as Java records it).",
            finish,
        );
        let status = |ok: bool| if ok { "success" } else { "failure" };
        let mut created = Vec::new();
        for ((ok, system), h) in self.topic_create.sorted() {
            h.rows(
                &format!("invocation_status=\"{}\",is_system=\"{system}\"", status(ok)),
                &mut created,
            );
        }
        t.histogram(
            "rocketmq_topic_create_execution_time",
            "The distribution of create topic time (milliseconds).",
            created,
        );
        let mut created = Vec::new();
        for (ok, h) in self.group_create.sorted() {
            h.rows(&format!("invocation_status=\"{}\"", status(ok)), &mut created);
        }
        t.histogram(
            "rocketmq_consumer_group_create_execution_time",
            "The distribution of create subscription time (milliseconds).",
            created,
        );
        self.timer.render(s, &mut t);
        t.out
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One (group, topic) with committed offsets here, over its queues.
#[derive(Debug, Default)]
struct Lag {
    group: String,
    topic: String,
    /// Stored and not committed.
    lag: u64,
    /// Handed out (pull offset) and not committed.
    inflight: u64,
    /// Stored and not handed out.
    ready: u64,
    /// Now minus the store time of the oldest uncommitted message.
    lag_latency_ms: u64,
    /// Now minus the store time of the oldest message not yet handed out.
    queueing_latency_ms: u64,
}

/// Per (group, topic) with committed offsets here (read at scrape time).
fn lags(s: &BrokerState) -> Vec<Lag> {
    let snapshot = s.offsets.snapshot();
    let now = s.clock.now_ms();
    let mut by_pair: HashMap<(String, String), Lag> = HashMap::new();
    for (key, queues) in &snapshot.offset_table {
        let Some((topic, group)) = key.split_once('@') else {
            continue;
        };
        let l = by_pair
            .entry((group.to_string(), topic.to_string()))
            .or_insert_with(|| Lag {
                group: group.to_string(),
                topic: topic.to_string(),
                ..Lag::default()
            });
        for (queue_id, committed) in queues {
            let max = s.store.max_offset_in_queue(topic, *queue_id);
            let pulled = s
                .offsets
                .query_pull(group, topic, *queue_id)
                .map_or(*committed, |p| p.max(*committed))
                .min(max);
            l.lag += u64::try_from(max - committed).unwrap_or(0);
            l.inflight += u64::try_from(pulled - committed).unwrap_or(0);
            l.ready += u64::try_from(max - pulled).unwrap_or(0);
            let age = |offset: i64| {
                s.store
                    .message_store_timestamp(topic, *queue_id, offset)
                    .map_or(0, |stored| u64::try_from(now - stored).unwrap_or(0))
            };
            if max > *committed {
                l.lag_latency_ms = l.lag_latency_ms.max(age(*committed));
            }
            if max > pulled {
                l.queueing_latency_ms = l.queueing_latency_ms.max(age(pulled));
            }
        }
    }
    let mut out: Vec<Lag> = by_pair.into_values().collect();
    out.sort_by(|a, b| (&a.group, &a.topic).cmp(&(&b.group, &b.topic)));
    out
}

/// Serves `GET /metrics` on `listener` until the task is aborted.
pub(crate) async fn serve(state: Arc<BrokerState>, listener: tokio::net::TcpListener) {
    rmq_remoting::prom::serve(listener, Arc::new(move || state.metrics.render(&state))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_per_key() {
        let m = Metrics::default();
        m.messages_in("T", "normal", 1, 10);
        m.messages_in("T", "normal", 2, 20);
        m.messages_in("U", "delay", 1, 5000);
        let key = |t: &str, k: &str| (t.to_string(), k.to_string());
        assert_eq!(
            m.incoming.rows(),
            [(key("T", "normal"), 3, 30), (key("U", "delay"), 1, 5000)]
        );
        // one observation per send, its average size; cumulative buckets
        let flows = m.incoming.flows();
        assert_eq!(flows[0].1.sizes.cumulative(), (vec![2, 2, 2, 2, 2, 2, 2], 20));
        assert_eq!(flows[1].1.sizes.cumulative(), (vec![0, 0, 1, 1, 1, 1, 1], 5000));
        m.messages_out("T", "G", 0, 0);
        assert!(m.outgoing.rows().is_empty(), "an empty pull counts nothing");
    }

    #[test]
    fn message_types_as_java() {
        let props = |pairs: &[(&str, &str)]| -> Vec<u8> {
            pairs
                .iter()
                .flat_map(|(k, v)| [k.as_bytes(), b"\x01", v.as_bytes(), b"\x02"].concat())
                .collect()
        };
        assert_eq!(message_type(b""), "normal");
        assert_eq!(message_type(&props(&[("TAGS", "a"), ("DELAY", "3")])), "delay");
        assert_eq!(message_type(&props(&[("TIMER_DELIVER_MS", "1")])), "delay");
        assert_eq!(
            message_type(&props(&[("__SHARDINGKEY", "k"), ("DELAY", "3")])),
            "fifo"
        );
        assert_eq!(
            message_type(&props(&[("__SHARDINGKEY", "k"), ("TRAN_MSG", "true")])),
            "transaction"
        );
        assert_eq!(message_type(&props(&[("TRAN_MSG", "false")])), "normal");
    }
}
