//! POP consumption (5.x; docs/broker/pop.md, the protocol in docs/protocol/pop.md).
//!
//! A pop takes messages from a queue, commits the group's offset past them at once, and
//! writes a checkpoint (`PopCheckPoint`, tag "ck") into the revive log
//! `rmq_sys_REVIVE_LOG_{cluster}`. Each ack writes an ack record (tag "ack" / "bAck") there
//! too. A checkpoint whose messages are not all acknowledged by its invisible time is revived:
//! the unacked messages are copied into the group's pop retry topic (`%RETRY%{group}_{topic}`)
//! with reconsume times + 1, and a "bAck" record marks them done.
//!
//! Unlike the Java broker, the checkpoints are not parked in the timer wheel and rescanned:
//! every open checkpoint is kept in memory ([`inflight::Inflight`], a timing wheel of revive
//! times), so a message comes back at its invisible time (to 10 ms), not 1-3 s later. The
//! revive log is the durable copy: the offset of the oldest open checkpoint per revive queue is
//! committed as `CID_RMQ_SYS_REVIVE_GROUP`'s consumer offset, and a start replays the log from
//! there (checkpoints, then their acks) — nothing acknowledged comes back, nothing unacked is
//! lost, whatever the way the broker stopped.
//!
//! - [`inflight`]: open checkpoints, acks, revive times.
//! - [`order`]: orderly pop's held batches.
//! - [`mode`]: message request modes and QUERY_ASSIGNMENT's allocation.
//! - [`waiters`]: held POP / NOTIFICATION requests.

pub mod inflight;
pub mod mode;
pub mod order;
pub mod waiters;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rmq_protocol::body::pop::{AckMsg, PopCheckPoint};
use rmq_protocol::message::{self, property};
use rmq_protocol::pop::{self as popfmt, TopicKind};
use rmq_store::{GetStatus, PutMessage, PutStatus};
use tokio::sync::Notify;

use crate::schedule::{property_value, remove_property, set_property};
use crate::topic::{PERM_READ, PERM_WRITE};
use crate::{BrokerError, BrokerState};
use inflight::{Acked, CkKey, Inflight};

/// The revive log's consumer group (its committed offsets are the replay starts).
pub const REVIVE_GROUP: &str = "CID_RMQ_SYS_REVIVE_GROUP";
pub const CK_TAG: &str = "ck";
pub const ACK_TAG: &str = "ack";
pub const BATCH_ACK_TAG: &str = "bAck";
/// rmq only: an orderly ack's offset commit (`AckMsg` with `so` = the group's next offset), so a
/// restart never pops an acknowledged orderly message again, however old the offsets file.
pub const ORDER_ACK_TAG: &str = "oAck";
/// Wait after a revive that could not store its messages.
const REVIVE_RETRY: Duration = Duration::from_secs(1);
/// The longest the revive task sleeps with nothing due.
const REVIVE_IDLE: Duration = Duration::from_secs(1);

/// `rmq_sys_REVIVE_LOG_{cluster}`.
pub fn revive_topic(cluster: &str) -> String {
    format!("rmq_sys_REVIVE_LOG_{cluster}")
}

/// The pop keys of `broker.conf` (Java's `BrokerConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopSettings {
    /// `reviveQueueNum` (8): queues of the revive log.
    pub revive_queue_num: i32,
    /// `popPollingSize` (1024): most POP requests held per `topic@group@queueId`.
    pub pop_polling_size: usize,
    /// `maxPopPollingSize` (100 000): most POP requests held in all.
    pub max_pop_polling_size: usize,
    /// `popFromRetryProbability` (20): percent of pops that read the retry topic first.
    pub pop_from_retry_probability: u32,
    /// `enableRetryTopicV2` (false): revive into `%RETRY%{group}+{topic}`.
    pub enable_retry_topic_v2: bool,
    /// `retrieveMessageFromPopRetryTopicV1` (true): with V2 on, still read the V1 topic.
    pub retrieve_from_retry_topic_v1: bool,
    /// `popResponseReturnActualRetryTopic` (false): retried messages keep their retry topic.
    pub return_actual_retry_topic: bool,
    /// `defaultMessageRequestMode` (PULL).
    pub default_message_request_mode: String,
    /// `defaultPopShareQueueNum` (-1).
    pub default_pop_share_queue_num: i32,
    /// `serverLoadBalancerEnable` (true): QUERY_ASSIGNMENT allocates; false gives every queue.
    pub server_load_balancer_enable: bool,
    /// `initPopOffsetByCheckMsgInMem` (true).
    pub init_offset_by_check_msg_in_mem: bool,
}

impl Default for PopSettings {
    fn default() -> Self {
        PopSettings {
            revive_queue_num: 8,
            pop_polling_size: 1024,
            max_pop_polling_size: 100_000,
            pop_from_retry_probability: 20,
            enable_retry_topic_v2: false,
            retrieve_from_retry_topic_v1: true,
            return_actual_retry_topic: false,
            default_message_request_mode: mode::PULL.into(),
            default_pop_share_queue_num: -1,
            server_load_balancer_enable: true,
            init_offset_by_check_msg_in_mem: true,
        }
    }
}

impl PopSettings {
    /// The keys with a use here and their values (GET_BROKER_CONFIG).
    pub fn export(&self, out: &mut Vec<(String, String)>) {
        for (k, v) in [
            ("reviveQueueNum", self.revive_queue_num.to_string()),
            ("popPollingSize", self.pop_polling_size.to_string()),
            ("maxPopPollingSize", self.max_pop_polling_size.to_string()),
            (
                "popFromRetryProbability",
                self.pop_from_retry_probability.to_string(),
            ),
            ("enableRetryTopicV2", self.enable_retry_topic_v2.to_string()),
            (
                "retrieveMessageFromPopRetryTopicV1",
                self.retrieve_from_retry_topic_v1.to_string(),
            ),
            (
                "popResponseReturnActualRetryTopic",
                self.return_actual_retry_topic.to_string(),
            ),
            (
                "defaultMessageRequestMode",
                self.default_message_request_mode.clone(),
            ),
            (
                "defaultPopShareQueueNum",
                self.default_pop_share_queue_num.to_string(),
            ),
            (
                "serverLoadBalancerEnable",
                self.server_load_balancer_enable.to_string(),
            ),
            (
                "initPopOffsetByCheckMsgInMem",
                self.init_offset_by_check_msg_in_mem.to_string(),
            ),
        ] {
            out.push((k.to_string(), v));
        }
    }

    /// Applies one key; false when it is not a pop key or its value does not parse.
    pub fn apply(&mut self, k: &str, v: &str) -> bool {
        fn num<T: std::str::FromStr>(v: &str, slot: &mut T) -> bool {
            match v.trim().parse() {
                Ok(n) => {
                    *slot = n;
                    true
                }
                Err(_) => false,
            }
        }
        let b = rmq_protocol::header::parse_bool;
        match k {
            "reviveQueueNum" => match v.trim().parse::<i32>() {
                Ok(n) if n >= 1 => self.revive_queue_num = n,
                _ => return false,
            },
            "popPollingSize" => return num(v, &mut self.pop_polling_size),
            "maxPopPollingSize" => return num(v, &mut self.max_pop_polling_size),
            "popFromRetryProbability" => return num(v, &mut self.pop_from_retry_probability),
            "enableRetryTopicV2" => self.enable_retry_topic_v2 = b(v),
            "retrieveMessageFromPopRetryTopicV1" => self.retrieve_from_retry_topic_v1 = b(v),
            "popResponseReturnActualRetryTopic" => self.return_actual_retry_topic = b(v),
            "defaultMessageRequestMode" => match v.trim() {
                m @ (mode::PULL | mode::POP) => self.default_message_request_mode = m.to_string(),
                _ => return false,
            },
            "defaultPopShareQueueNum" => return num(v, &mut self.default_pop_share_queue_num),
            "serverLoadBalancerEnable" => self.server_load_balancer_enable = b(v),
            "initPopOffsetByCheckMsgInMem" => self.init_offset_by_check_msg_in_mem = b(v),
            // Java's revive scan, ck buffer and thread tuning: checkpoints live in memory here
            // and are revived at their time, so there is nothing to tune.
            "reviveInterval"
            | "reviveMaxSlow"
            | "reviveScanTime"
            | "enableSkipLongAwaitingAck"
            | "reviveAckWaitMs"
            | "enablePopLog"
            | "enablePopBufferMerge"
            | "popCkStayBufferTime"
            | "popCkStayBufferTimeOut"
            | "popCkMaxBufferSize"
            | "popCkOffsetMaxQueueSize"
            | "enablePopBatchAck"
            | "popPollingMapSize"
            | "enableNotifyAfterPopOrderLockRelease"
            | "popInflightMessageThreshold"
            | "enablePopMessageThreshold"
            | "skipWhenCKRePutReachMaxTimes"
            | "ackMessageThreadPoolNums"
            | "ackThreadPoolQueueCapacity"
            | "popMessageThreadPoolNums" => {}
            _ => return false,
        }
        true
    }

    /// Whether `k` is one of these keys.
    pub fn owns(k: &str) -> bool {
        PopSettings::default().apply(k, "1") || matches!(k, "defaultMessageRequestMode" | "reviveQueueNum")
    }
}

/// Everything POP shares.
pub struct PopService {
    pub settings: PopSettings,
    pub revive_topic: String,
    broker_name: String,
    inflight: Mutex<Inflight>,
    pub orders: Mutex<order::OrderTable>,
    queue_locks: Mutex<HashSet<String>>,
    pub waiters: waiters::PopWaiters,
    pub modes: mode::RequestModes,
    /// Woken when a checkpoint falls due earlier than the revive task's sleep.
    revive_wake: Notify,
    ck_counter: AtomicU64,
}

/// A queue taken by one pop (`QueueLockManager.tryLock`); released when dropped.
pub struct QueueLock<'a> {
    pop: &'a PopService,
    key: String,
}

impl Drop for QueueLock<'_> {
    fn drop(&mut self) {
        self.pop.queue_locks.lock().remove(&self.key);
    }
}

impl PopService {
    pub fn load(config: &crate::BrokerConfig, now_ms: i64) -> Result<PopService, BrokerError> {
        let settings = config.pop.clone();
        Ok(PopService {
            revive_topic: revive_topic(&config.broker_cluster_name),
            broker_name: config.broker_name.clone(),
            inflight: Mutex::new(Inflight::new(settings.revive_queue_num as usize, now_ms)),
            orders: Mutex::new(order::OrderTable::default()),
            queue_locks: Mutex::new(HashSet::new()),
            waiters: waiters::PopWaiters::new(settings.pop_polling_size, settings.max_pop_polling_size),
            modes: mode::RequestModes::load(&config.store.store_path_root_dir)?,
            revive_wake: Notify::new(),
            ck_counter: AtomicU64::new(0),
            settings,
        })
    }

    pub fn broker_name(&self) -> &str {
        &self.broker_name
    }

    /// The revive queue of the next checkpoint (round robin, as Java's `ckMessageNumber`).
    pub fn next_revive_qid(&self) -> i32 {
        let n = self.settings.revive_queue_num.max(1) as u64;
        (self.ck_counter.fetch_add(1, Ordering::Relaxed) % n) as i32
    }

    /// Takes `topic@group@queueId` for one pop, unless another pop has it.
    pub fn try_lock_queue(&self, key: String) -> Option<QueueLock<'_>> {
        if self.queue_locks.lock().insert(key.clone()) {
            Some(QueueLock { pop: self, key })
        } else {
            None
        }
    }

    /// The pop retry topic revived messages of `topic` go to.
    pub fn retry_topic(&self, group: &str, topic: &str) -> String {
        if self.settings.enable_retry_topic_v2 {
            popfmt::retry_topic_v2(group, topic)
        } else {
            popfmt::retry_topic_v1(group, topic)
        }
    }

    /// Popped messages neither acknowledged nor revived yet.
    pub fn unacked_messages(&self) -> usize {
        self.inflight.lock().unacked_messages()
    }

    /// Stores a checkpoint in revive queue `revive_qid` and opens it. `Err` when the revive log
    /// refused the record (the pop then returns nothing).
    pub async fn open_checkpoint(
        &self,
        s: &BrokerState,
        mut ck: PopCheckPoint,
        revive_qid: i32,
    ) -> Result<(), PutStatus> {
        let uniq = format!(
            "{}@{}@{}@{}@{}@{}@{CK_TAG}",
            ck.topic, ck.queue_id, ck.start_offset, ck.cid, ck.pop_time, self.broker_name
        );
        let body = serde_json::to_vec(&ck.clone().with_revive_time()).unwrap_or_default();
        let record = self.record(s, revive_qid, CK_TAG, &uniq, body);
        let pending = {
            // Appended and opened under one lock: the committed revive offset (the oldest open
            // checkpoint, else the log's end) can never pass a checkpoint not yet opened.
            let mut f = self.inflight.lock();
            let pending = s.store.append_messages(vec![record]);
            let r = pending.result();
            if r.status != PutStatus::PutOk {
                return Err(r.status);
            }
            ck.revive_offset = r.queue_offset;
            if f.insert(ck, revive_qid) {
                self.revive_wake.notify_one();
            }
            self.commit_revive_offset(s, &f, revive_qid);
            pending
        };
        // FLUSH_DISK_TIMEOUT and the slave waits do not undo the pop (as Java).
        let _ = pending.wait().await;
        Ok(())
    }

    /// Acknowledges `ack`'s offsets and records them in revive queue `revive_qid` (only those
    /// that closed a bit: a late or repeated ack writes nothing). Returns how many were set.
    pub async fn acknowledge(&self, s: &BrokerState, revive_qid: i32, ack: AckMsg) -> usize {
        let key = CkKey {
            topic: ack.topic.clone(),
            group: ack.consumer_group.clone(),
            queue_id: ack.queue_id,
            start_offset: ack.start_offset,
            pop_time: ack.pop_time,
        };
        let pending = {
            let mut f = self.inflight.lock();
            let set: Vec<i64> = ack
                .offsets()
                .into_iter()
                .filter(|o| matches!(f.ack(&key, *o), Acked::Set { .. }))
                .collect();
            if set.is_empty() {
                return 0;
            }
            let n = set.len();
            let (tag, record) = if n == 1 {
                (
                    ACK_TAG,
                    AckMsg {
                        ack_offset: set[0],
                        ack_offset_list: Vec::new(),
                        ..ack
                    },
                )
            } else {
                (
                    BATCH_ACK_TAG,
                    AckMsg {
                        ack_offset: -1,
                        ack_offset_list: set,
                        ..ack
                    },
                )
            };
            let uniq = format!(
                "{}@{}@{}@{}@{}@{}@{ACK_TAG}",
                record.topic,
                record.queue_id,
                record.ack_offset,
                record.consumer_group,
                record.pop_time,
                record.broker_name.as_deref().unwrap_or_default()
            );
            let body = serde_json::to_vec(&record).unwrap_or_default();
            let msg = self.record(s, revive_qid, tag, &uniq, body);
            let pending = s.store.append_messages(vec![msg]);
            self.commit_revive_offset(s, &f, revive_qid);
            (pending, n)
        };
        let (pending, n) = pending;
        let _ = pending.wait().await;
        n
    }

    /// Records an orderly ack's commit (`next_offset` for the group's queue) in the revive log.
    pub async fn record_order_commit(
        &self,
        s: &BrokerState,
        group: &str,
        topic: &str,
        queue_id: i32,
        acked_offset: i64,
        next_offset: i64,
    ) {
        let record = AckMsg {
            ack_offset: acked_offset,
            ack_offset_list: Vec::new(),
            broker_name: Some(self.broker_name.clone()),
            consumer_group: group.to_string(),
            pop_time: s.clock.now_ms(),
            queue_id,
            start_offset: next_offset,
            topic: topic.to_string(),
        };
        let uniq = format!("{topic}@{queue_id}@{acked_offset}@{group}@{next_offset}@{ORDER_ACK_TAG}");
        let body = serde_json::to_vec(&record).unwrap_or_default();
        let revive_qid = self.next_revive_qid();
        let msg = self.record(s, revive_qid, ORDER_ACK_TAG, &uniq, body);
        let pending = {
            let f = self.inflight.lock();
            let pending = s.store.append_messages(vec![msg]);
            self.commit_revive_offset(s, &f, revive_qid);
            pending
        };
        let _ = pending.wait().await;
    }

    /// Commits the revive log offset of `revive_qid`: its oldest open checkpoint, else its end.
    /// Only a move is committed, as Java's `PopReviveService` does: an empty revive log leaves the
    /// revive group out of the offset table (so `mqadmin topicList -c` / `consumerProgress` do not
    /// show it before the first POP).
    fn commit_revive_offset(&self, s: &BrokerState, f: &Inflight, revive_qid: i32) {
        let offset = f
            .oldest_unresolved(revive_qid)
            .unwrap_or_else(|| s.store.max_offset_in_queue(&self.revive_topic, revive_qid));
        let committed = s.offsets.query(REVIVE_GROUP, &self.revive_topic, revive_qid);
        if committed.unwrap_or(0) == offset {
            return;
        }
        s.offsets
            .commit(REVIVE_GROUP, &self.revive_topic, revive_qid, offset);
    }

    /// A revive-log record.
    fn record(&self, s: &BrokerState, revive_qid: i32, tag: &str, uniq: &str, body: Vec<u8>) -> PutMessage {
        let properties = message::encode_properties(&[
            (property::TAGS, tag),
            (property::UNIQ_KEY, uniq),
            (property::WAIT, "true"),
        ]);
        PutMessage {
            topic: self.revive_topic.clone(),
            queue_id: revive_qid,
            flag: 0,
            body: Bytes::from(body),
            properties,
            tags_code: message::tag_hash(tag),
            sys_flag: 0,
            born_timestamp: s.clock.now_ms(),
            born_host: s.config.store.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    /// Start-up: replays each revive queue from its committed offset — checkpoints are opened
    /// again, acks close them — and moves every group's offset past the messages those
    /// checkpoints took (the offsets file may be older than the log). Due ones revive at once.
    pub fn replay(&self, s: &BrokerState) {
        let mut f = self.inflight.lock();
        let mut acks = 0usize;
        let mut cks = 0usize;
        for rq in 0..self.settings.revive_queue_num {
            let min = s.store.min_offset_in_queue(&self.revive_topic, rq);
            let mut offset = s
                .offsets
                .query(REVIVE_GROUP, &self.revive_topic, rq)
                .unwrap_or(min)
                .max(min);
            loop {
                let r = s
                    .store
                    .get_message(&self.revive_topic, rq, offset, 256, 8 << 20, &|_| true);
                if r.status != GetStatus::Found {
                    if r.next_begin_offset > offset && r.status != GetStatus::OffsetOverflowOne {
                        offset = r.next_begin_offset;
                        continue;
                    }
                    break;
                }
                for raw in &r.messages {
                    let Ok((m, _)) = message::decode_message(raw) else {
                        continue;
                    };
                    match m.properties.get(property::TAGS).map(String::as_str) {
                        Some(CK_TAG) => {
                            let Ok(mut ck) = serde_json::from_slice::<PopCheckPoint>(&m.body) else {
                                tracing::warn!(
                                    offset = m.queue_offset,
                                    "unreadable checkpoint in the revive log"
                                );
                                continue;
                            };
                            ck.revive_offset = m.queue_offset;
                            let end = (0..ck.len()).filter_map(|i| ck.offset_at(i)).max().map(|o| o + 1);
                            if let Some(end) = end {
                                if s.offsets
                                    .query(&ck.cid, &ck.topic, ck.queue_id)
                                    .is_none_or(|c| c < end)
                                {
                                    s.offsets.commit(&ck.cid, &ck.topic, ck.queue_id, end);
                                }
                            }
                            f.insert(ck, rq);
                            cks += 1;
                        }
                        Some(ORDER_ACK_TAG) => {
                            let Ok(ack) = serde_json::from_slice::<AckMsg>(&m.body) else {
                                continue;
                            };
                            let (g, t, q) = (&ack.consumer_group, &ack.topic, ack.queue_id);
                            if s.offsets.query(g, t, q).is_none_or(|c| c < ack.start_offset) {
                                s.offsets.commit(g, t, q, ack.start_offset);
                            }
                        }
                        Some(ACK_TAG | BATCH_ACK_TAG) => {
                            let Ok(ack) = serde_json::from_slice::<AckMsg>(&m.body) else {
                                continue;
                            };
                            let key = CkKey {
                                topic: ack.topic.clone(),
                                group: ack.consumer_group.clone(),
                                queue_id: ack.queue_id,
                                start_offset: ack.start_offset,
                                pop_time: ack.pop_time,
                            };
                            for o in ack.offsets() {
                                f.ack(&key, o);
                            }
                            acks += 1;
                        }
                        _ => {}
                    }
                }
                offset = r.next_begin_offset;
            }
            self.commit_revive_offset(s, &f, rq);
        }
        if cks > 0 {
            tracing::info!(
                checkpoints = cks,
                acks,
                open = f.len(),
                unacked = f.unacked_messages(),
                "pop checkpoints replayed from the revive log"
            );
        }
    }

    /// The revive task: copies the unacked messages of each due checkpoint into the pop retry
    /// topic, then marks them done in the revive log.
    pub async fn run_revive(state: Arc<BrokerState>) {
        let pop = &state.pop;
        loop {
            let now = state.clock.now_ms();
            let due = pop.inflight.lock().take_due(now);
            for open in due {
                match revive(&state, &open).await {
                    Ok(()) => {
                        let marker = AckMsg {
                            ack_offset: -1,
                            ack_offset_list: open.unacked(),
                            broker_name: open.ck.broker_name.clone(),
                            consumer_group: open.ck.cid.clone(),
                            pop_time: open.ck.pop_time,
                            queue_id: open.ck.queue_id,
                            start_offset: open.ck.start_offset,
                            topic: open.ck.topic.clone(),
                        };
                        let uniq = format!(
                            "{}@{}@{}@{}@{}@revive",
                            marker.topic,
                            marker.queue_id,
                            marker.start_offset,
                            marker.consumer_group,
                            marker.pop_time
                        );
                        let body = serde_json::to_vec(&marker).unwrap_or_default();
                        let msg = pop.record(&state, open.revive_qid, BATCH_ACK_TAG, &uniq, body);
                        let mut f = pop.inflight.lock();
                        let _ = state.store.append_messages(vec![msg]).appended();
                        f.revived(open.revive_qid, open.ck.revive_offset);
                        pop.commit_revive_offset(&state, &f, open.revive_qid);
                    }
                    Err(e) => {
                        tracing::warn!(topic = %open.ck.topic, group = %open.ck.cid, error = %e, "revive failed; retrying");
                        let at = state.clock.now_ms() + REVIVE_RETRY.as_millis() as i64;
                        pop.inflight.lock().put_back(open, at);
                    }
                }
            }
            let next = pop.inflight.lock().next_due_ms();
            let wait = next.map_or(REVIVE_IDLE, |t| {
                Duration::from_millis(
                    (t - state.clock.now_ms()).clamp(0, REVIVE_IDLE.as_millis() as i64) as u64,
                )
            });
            if wait.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = pop.revive_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Copies a due checkpoint's unacked messages into the pop retry topic (5.x `reviveRetry`):
/// body, tags, flag, properties as stored, reconsume times + 1, `1ST_POP_TIME` set once.
async fn revive(s: &BrokerState, open: &inflight::Open) -> Result<(), String> {
    let ck = &open.ck;
    let target = if TopicKind::of(&ck.topic) == TopicKind::Normal {
        s.pop.retry_topic(&ck.cid, &ck.topic)
    } else {
        ck.topic.clone()
    };
    let mut batch = Vec::new();
    for offset in open.unacked() {
        let Some(entry) = s.store.consume_queue_entry(&ck.topic, ck.queue_id, offset) else {
            continue; // gone with its file: nothing to bring back
        };
        let Some(raw) = s.store.read_record(entry.phy_offset) else {
            continue;
        };
        let Ok((m, _)) = message::decode_message(&raw) else {
            continue;
        };
        let stored = match rmq_protocol::message::parse_record(&raw, false) {
            Ok(rmq_protocol::message::Record::Message(v)) => {
                String::from_utf8_lossy(v.properties).into_owned()
            }
            _ => continue,
        };
        let mut props = remove_property(&stored, popfmt::POP_CK);
        if m.reconsume_times == 0 || property_value(&props, popfmt::FIRST_POP_TIME).is_none() {
            props = set_property(&props, popfmt::FIRST_POP_TIME, &ck.pop_time.to_string());
        }
        batch.push(PutMessage {
            topic: target.clone(),
            queue_id: 0,
            flag: m.flag,
            tags_code: m.tags().map_or(0, message::tag_hash),
            body: m.body,
            properties: props,
            sys_flag: m.sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            reconsume_times: m.reconsume_times + 1,
            prepared_transaction_offset: 0,
        });
    }
    if batch.is_empty() {
        return Ok(());
    }
    ensure_retry_topic(s, &target, &ck.cid).await?;
    let n = batch.len();
    let r = s.store.append_messages(batch).wait().await;
    match r.status {
        PutStatus::PutOk
        | PutStatus::FlushDiskTimeout
        | PutStatus::FlushSlaveTimeout
        | PutStatus::SlaveNotAvailable => {
            tracing::debug!(topic = %target, messages = n, "pop messages revived");
            Ok(())
        }
        other => Err(format!("put into {target}: {other:?}")),
    }
}

/// Creates a pop retry topic on first use (1 queue, RW) with the group's offset at 0.
pub async fn ensure_retry_topic(s: &BrokerState, topic: &str, group: &str) -> Result<(), String> {
    let (_, created) = s
        .topics
        .ensure(topic, 1, PERM_READ | PERM_WRITE)
        .map_err(|e| format!("creating {topic}: {e}"))?;
    if s.offsets.query(group, topic, 0).is_none() {
        s.offsets.commit(group, topic, 0, 0);
    }
    if created {
        tracing::info!(topic, "pop retry topic created");
        crate::register::register_all(s, true).await;
    }
    Ok(())
}
