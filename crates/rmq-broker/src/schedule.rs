//! Delay (scheduled) messages: the put-time rewrite into `SCHEDULE_TOPIC_XXXX` and the service
//! that re-puts due messages into their real topic (docs/broker/schedule.md).
//!
//! - [`ScheduleService::apply_delay`]: a NOT/COMMIT message with `DELAY > 0` gets `REAL_TOPIC` /
//!   `REAL_QID`, topic `SCHEDULE_TOPIC_XXXX` and queue `level − 1` (level clamped to the max).
//!   The store computes that queue's tags code as the deliver time.
//! - One tokio task walks every level's queue from its offset every 100 ms and re-puts what is
//!   due: real topic/queue restored, every property kept (DELAY, UNIQ_KEY, KEYS, REAL_TOPIC,
//!   REAL_QID…: Java 4.9.7 delivers `DELAY` too), body, flag, sysFlag, born time/host and
//!   reconsume times kept.
//! - Progress (`offsetTable {level: next offset}`) is written to
//!   `<storePathRootDir>/config/delayOffset.json` right after each pass that delivered something,
//!   i.e. only after the re-puts succeeded, and on shutdown. A restart resumes from it, so a clean
//!   stop neither loses nor duplicates; after a crash at most the re-puts of the pass in flight
//!   can repeat (Java: up to 10 s worth).

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::message::{self, property, sys_flag};
use rmq_protocol::time::Clock;
use rmq_store::{MessageStore, PutMessage};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::topic::{SCHEDULE_TOPIC, TRANS_HALF_TOPIC};
use crate::{BrokerConfig, BrokerError, BrokerState};

/// Poll period of the delivery task (Java: 100 ms between runs of a level's timer).
const TICK: Duration = Duration::from_millis(100);
/// Wait after an unexpected failure (Java: 10 s); kept short so a full disk recovers quickly.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);
/// Most messages re-put per level per pass, so one level cannot starve the others.
const MAX_PER_PASS: usize = 1024;

/// `delayOffset.json` (Java `DelayOffsetSerializeWrapper`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct DelayOffsetWrapper {
    #[serde(rename = "offsetTable", default)]
    offset_table: BTreeMap<i32, i64>,
}

/// Delay levels, per-level progress, and the delivery task.
pub struct ScheduleService {
    /// Delay of level `i + 1` in ms.
    levels_ms: Vec<i64>,
    path: PathBuf,
    offsets: Mutex<BTreeMap<i32, i64>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Decides which parked messages are due.
    clock: Clock,
}

impl ScheduleService {
    /// Parses `messageDelayLevel` and loads `delayOffset.json` (falling back to its `.bak`).
    pub fn load(config: &BrokerConfig) -> Result<ScheduleService, BrokerError> {
        let levels_ms = config.store.delay_levels_ms();
        if levels_ms.is_empty() {
            return Err(BrokerError::Config(format!(
                "messageDelayLevel {:?} has no valid level",
                config.store.message_delay_level
            )));
        }
        let path = config.store.config_dir().join("delayOffset.json");
        let loaded = rmq_store::config_file::load_with_backup(&path, |b| {
            rmq_protocol::body::from_fastjson::<DelayOffsetWrapper>(b).ok()
        })?;
        let offsets = loaded.map(|w| w.offset_table).unwrap_or_default();
        let (stop, _) = watch::channel(false);
        Ok(ScheduleService {
            levels_ms,
            path,
            offsets: Mutex::new(offsets),
            stop,
            task: Mutex::new(None),
            clock: config.store.clock.clone(),
        })
    }

    /// `maxDelayLevel`: the number of configured levels.
    pub fn max_level(&self) -> i32 {
        self.levels_ms.len() as i32
    }

    /// The delay of `level` (1-based) in ms.
    pub fn delay_ms(&self, level: i32) -> Option<i64> {
        let i = usize::try_from(level).ok()?.checked_sub(1)?;
        self.levels_ms.get(i).copied()
    }

    /// Next offset to deliver per level (the `delayOffset.json` table).
    pub fn offsets(&self) -> BTreeMap<i32, i64> {
        self.offsets.lock().clone()
    }

    /// The `delayOffset.json` content (also the GET_ALL_DELAY_OFFSET body).
    pub fn encode(&self) -> Vec<u8> {
        let w = DelayOffsetWrapper {
            offset_table: self.offsets(),
        };
        serde_json::to_vec(&w).unwrap_or_default()
    }

    /// Slave metadata sync: the master's `delayOffset.json` content, written verbatim (and
    /// taken as the in-memory table when it parses).
    pub fn replace_from_master(&self, content: &[u8]) -> Result<(), BrokerError> {
        if let Ok(w) = rmq_protocol::body::from_fastjson::<DelayOffsetWrapper>(content) {
            *self.offsets.lock() = w.offset_table;
        }
        rmq_store::config_file::write_atomic(&self.path, content)?;
        Ok(())
    }

    pub fn persist(&self) -> Result<(), BrokerError> {
        rmq_store::config_file::write_atomic(&self.path, &self.encode())?;
        Ok(())
    }

    /// The put-time delay rewrite (docs/broker/schedule.md#put-time-rewrite). `Ok(true)` when the message was
    /// parked in `SCHEDULE_TOPIC_XXXX`; `Err` with a remark when `DELAY` is not a number.
    pub fn apply_delay(&self, msg: &mut PutMessage) -> Result<bool, String> {
        let ty = sys_flag::transaction_type(msg.sys_flag);
        if ty != sys_flag::TRANSACTION_NOT_TYPE && ty != sys_flag::TRANSACTION_COMMIT_TYPE {
            return Ok(false);
        }
        let Some(raw) = property_value(&msg.properties, property::DELAY) else {
            return Ok(false);
        };
        let level: i32 = raw
            .trim()
            .parse()
            .map_err(|_| format!("the delay level {raw:?} is not a number"))?;
        if level <= 0 {
            return Ok(false);
        }
        let mut props = msg.properties.clone();
        let level = if level > self.max_level() {
            props = set_property(&props, property::DELAY, &self.max_level().to_string());
            self.max_level()
        } else {
            level
        };
        props = set_property(&props, property::REAL_TOPIC, &msg.topic);
        props = set_property(&props, property::REAL_QID, &msg.queue_id.to_string());
        msg.properties = props;
        msg.topic = SCHEDULE_TOPIC.to_string();
        msg.queue_id = level - 1;
        Ok(true)
    }

    /// Starts the delivery task (masters only).
    pub fn start(state: &Arc<BrokerState>) {
        if !state.is_master() {
            return;
        }
        let rx = state.schedule.stop.subscribe();
        let handle = tokio::spawn(run(state.clone(), rx));
        *state.schedule.task.lock() = Some(handle);
    }

    fn take_task(&self) -> Option<JoinHandle<()>> {
        self.task.lock().take()
    }

    /// Stops the task between passes (never in the middle of a re-put) and persists progress.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        if let Some(task) = self.take_task() {
            let _ = task.await;
        }
        if let Err(e) = self.persist() {
            tracing::error!(error = %e, "could not persist delayOffset.json");
        }
    }

    /// Aborts the task without waiting or persisting (a dropped broker).
    pub fn abort(&self) {
        if let Some(task) = self.take_task() {
            task.abort();
        }
    }

    /// Kills the task without persisting (crash simulation; see `Broker::crash`).
    pub async fn halt(&self) {
        if let Some(task) = self.take_task() {
            task.abort();
            let _ = task.await;
        }
    }
}

async fn run(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let sched = &state.schedule;
    loop {
        let mut backoff = TICK;
        let mut delivered = false;
        for level in 1..=sched.max_level() {
            if *stop.borrow() {
                break;
            }
            match deliver_level(&state.store, sched, level).await {
                Ok(moved) => delivered |= moved,
                Err(moved) => {
                    delivered |= moved;
                    backoff = ERROR_BACKOFF;
                }
            }
        }
        if delivered {
            // fsyncs: off the async workers.
            let st = state.clone();
            match tokio::task::spawn_blocking(move || st.schedule.persist()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "could not persist delayOffset.json"),
                Err(e) => tracing::error!(error = %e, "delayOffset.json persist task failed"),
            }
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(backoff) => {}
        }
    }
}

/// Re-puts the due messages of one level. `Ok(moved)`, or `Err(moved)` when a put failed (the
/// message stays and is retried after a backoff). `moved` = the level's offset advanced.
async fn deliver_level(store: &MessageStore, sched: &ScheduleService, level: i32) -> Result<bool, bool> {
    let queue_id = level - 1;
    let delay = sched.delay_ms(level).unwrap_or(0);
    let min = store.min_offset_in_queue(SCHEDULE_TOPIC, queue_id);
    let max = store.max_offset_in_queue(SCHEDULE_TOPIC, queue_id);
    let stored = sched.offsets.lock().get(&level).copied().unwrap_or(0);
    // `correctDelayOffset`: a queue cut by recovery or cleaned up moves the offset into range.
    let start = stored.clamp(min, max.max(min));
    let mut offset = start;
    let now = sched.clock.now_ms();
    let mut failed = false;
    for _ in 0..MAX_PER_PASS {
        let Some(entry) = store.consume_queue_entry(SCHEDULE_TOPIC, queue_id, offset) else {
            break;
        };
        if !is_due(entry.tags_code, now, delay) {
            break;
        }
        match store.read_record(entry.phy_offset).map(|r| real_message(&r)) {
            Some(Ok(Some(msg))) => {
                let topic = msg.topic.clone();
                let r = store.put_message(msg).await;
                if !r.is_stored() {
                    tracing::warn!(level, offset, topic = %topic, status = ?r.status, "delay re-put failed; will retry");
                    failed = true;
                    break;
                }
            }
            Some(Ok(None)) => {}
            Some(Err(e)) => {
                tracing::warn!(level, offset, error = %e, "dropping undecodable delay message");
            }
            None => tracing::warn!(
                level,
                offset,
                phy = entry.phy_offset,
                "delay message not in the commitlog; skipped"
            ),
        }
        offset += 1;
    }
    let moved = offset != stored;
    if moved {
        sched.offsets.lock().insert(level, offset);
    }
    if failed {
        Err(moved)
    } else {
        Ok(moved)
    }
}

/// Whether a parked message whose consume-queue tags code (its deliver time) is `deliver_at` is
/// due at `now`. A deliver time more than `delay_ms` ahead means the clock jumped back (or a
/// foreign tags code): due at once, as in Java.
fn is_due(deliver_at: i64, now: i64, delay_ms: i64) -> bool {
    deliver_at <= now || deliver_at > now + delay_ms
}

/// The message to re-put for a parked record; `None` for transactional half messages (dropped
/// as in Java).
fn real_message(record: &[u8]) -> Result<Option<PutMessage>, String> {
    let (m, _) = message::decode_message(record).map_err(|e| e.to_string())?;
    let raw_props = match rmq_store::record::check(record, false) {
        rmq_store::record::RecordCheck::Message(info) => {
            String::from_utf8_lossy(info.properties).into_owned()
        }
        _ => return Err("bad record".into()),
    };
    let real_topic = m
        .properties
        .get(property::REAL_TOPIC)
        .cloned()
        .ok_or("no REAL_TOPIC property")?;
    let real_qid: i32 = m
        .properties
        .get(property::REAL_QID)
        .and_then(|q| q.parse().ok())
        .ok_or("no REAL_QID property")?;
    if real_topic == TRANS_HALF_TOPIC {
        return Ok(None);
    }
    // 4.9.7 keeps DELAY: `messageTimeup` clears it from the properties map only after
    // `setPropertiesString`, and the store writes the string (observed on the oracle).
    let properties = raw_props;
    let tags_code = m.tags_code();
    Ok(Some(PutMessage {
        topic: real_topic,
        queue_id: real_qid,
        flag: m.flag,
        body: m.body,
        properties,
        tags_code,
        sys_flag: m.sys_flag,
        born_timestamp: m.born_timestamp,
        born_host: m.born_host,
        reconsume_times: m.reconsume_times,
        prepared_transaction_offset: m.prepared_transaction_offset,
    }))
}

// ---------------------------------------------------------------- properties strings
// Order-preserving edits of an encoded `k\x01v\x02…` string (docs/format/message.md#properties).

fn segments(props: &str) -> impl Iterator<Item = (&str, Option<(&str, &str)>)> {
    props.split(message::PROPERTY_SEPARATOR).map(|seg| {
        let kv = seg
            .find(message::NAME_VALUE_SEPARATOR)
            .map(|i| (&seg[..i], &seg[i + 1..]));
        (seg, kv)
    })
}

/// The value of `key`, by Java's decoding rules (empty keys and values do not count).
pub use rmq_protocol::message::find_property_str as property_value;

/// `props` without `key`.
pub fn remove_property(props: &str, key: &str) -> String {
    let kept: Vec<&str> = segments(props)
        .filter(|(seg, kv)| !seg.is_empty() && !matches!(kv, Some((k, _)) if *k == key))
        .map(|(seg, _)| seg)
        .collect();
    kept.join(&message::PROPERTY_SEPARATOR.to_string())
}

/// `props` with `key` set to `value` (appended at the end, any old value dropped).
pub fn set_property(props: &str, key: &str, value: &str) -> String {
    let mut out = remove_property(props, key);
    if !out.is_empty() {
        out.push(message::PROPERTY_SEPARATOR);
    }
    out.push_str(key);
    out.push(message::NAME_VALUE_SEPARATOR);
    out.push_str(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(levels: &str) -> (tempfile::TempDir, ScheduleService) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = BrokerConfig::default();
        c.store.store_path_root_dir = dir.path().to_path_buf();
        c.store.message_delay_level = levels.into();
        let s = ScheduleService::load(&c).unwrap();
        (dir, s)
    }

    fn msg(props: &str, sys_flag: i32) -> PutMessage {
        PutMessage {
            topic: "T".into(),
            queue_id: 3,
            flag: 0,
            body: bytes::Bytes::from_static(b"x"),
            properties: props.into(),
            tags_code: 0,
            sys_flag,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn property_edits_keep_order() {
        let p = "KEYS\u{1}k\u{2}DELAY\u{1}2\u{2}UNIQ_KEY\u{1}U";
        assert_eq!(property_value(p, "DELAY"), Some("2"));
        assert_eq!(remove_property(p, "DELAY"), "KEYS\u{1}k\u{2}UNIQ_KEY\u{1}U");
        assert_eq!(
            set_property(p, "DELAY", "3"),
            "KEYS\u{1}k\u{2}UNIQ_KEY\u{1}U\u{2}DELAY\u{1}3"
        );
        assert_eq!(set_property("", "A", "1"), "A\u{1}1");
        assert_eq!(remove_property("A\u{1}1\u{2}", "B"), "A\u{1}1");
        assert_eq!(property_value("DELAY\u{1}", "DELAY"), None);
    }

    #[test]
    fn delay_rewrite() {
        let (_d, s) = service("1s 2s 3s");
        assert_eq!(s.max_level(), 3);
        assert_eq!(s.delay_ms(2), Some(2000));
        assert_eq!(s.delay_ms(0), None);

        let mut m = msg("KEYS\u{1}k\u{2}DELAY\u{1}2", 0);
        assert_eq!(s.apply_delay(&mut m), Ok(true));
        assert_eq!((m.topic.as_str(), m.queue_id), (SCHEDULE_TOPIC, 1));
        assert_eq!(property_value(&m.properties, "REAL_TOPIC"), Some("T"));
        assert_eq!(property_value(&m.properties, "REAL_QID"), Some("3"));
        assert_eq!(property_value(&m.properties, "DELAY"), Some("2"));

        let mut m = msg("DELAY\u{1}99", sys_flag::TRANSACTION_COMMIT_TYPE);
        assert_eq!(s.apply_delay(&mut m), Ok(true));
        assert_eq!(m.queue_id, 2);
        assert_eq!(property_value(&m.properties, "DELAY"), Some("3"));

        for (props, flag) in [
            ("DELAY\u{1}0", 0),
            ("KEYS\u{1}k", 0),
            ("DELAY\u{1}1", sys_flag::TRANSACTION_PREPARED_TYPE),
        ] {
            let mut m = msg(props, flag);
            assert_eq!(s.apply_delay(&mut m), Ok(false));
            assert_eq!(m.topic, "T");
        }
        assert!(s.apply_delay(&mut msg("DELAY\u{1}x", 0)).is_err());
    }

    #[test]
    fn due_times() {
        // Due from its deliver time on, not a millisecond before.
        assert!(!is_due(10_000, 9_999, 1_000));
        assert!(is_due(10_000, 10_000, 1_000));
        assert!(is_due(10_000, 12_000, 1_000));
        // Further ahead than the level's delay: the clock went back; due at once.
        assert!(
            !is_due(10_000, 9_000, 1_000),
            "exactly one delay ahead is still waited for"
        );
        assert!(is_due(10_001, 9_000, 1_000));
    }

    /// A parked message is re-put when the service's clock reaches its deliver time (stamped by
    /// the store at put time), not before — driven by a manual clock, no sleeping.
    #[tokio::test]
    async fn delivers_when_the_clock_reaches_the_deliver_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = BrokerConfig::default();
        c.store.store_path_root_dir = dir.path().to_path_buf();
        c.store.mapped_file_size_commit_log = 64 * 1024;
        c.store.mapped_file_size_consume_queue = 50 * 20;
        c.store.message_delay_level = "1s 5s".into();
        let store = MessageStore::open(c.store.clone()).unwrap();
        let mut m = msg("KEYS\u{1}k\u{2}DELAY\u{1}2", 0);
        // Parked with the store's clock (the system's): deliver time = store time + 5 s.
        let plain = ScheduleService::load(&c).unwrap();
        assert_eq!(plain.apply_delay(&mut m), Ok(true));
        assert!(store.put_message(m).await.is_stored());

        // Taken after the put, so it reads no earlier than the store time.
        let time = rmq_protocol::time::ManualClock::starting_now();
        c.store.clock = time.clock();
        let sched = ScheduleService::load(&c).unwrap();
        assert_eq!(deliver_level(&store, &sched, 2).await, Ok(false), "not due yet");
        assert_eq!(store.max_offset_in_queue("T", 3), 0);
        time.advance(Duration::from_millis(4_000));
        assert_eq!(deliver_level(&store, &sched, 2).await, Ok(false), "4 s of 5");
        time.advance(Duration::from_millis(1_000));
        assert_eq!(deliver_level(&store, &sched, 2).await, Ok(true), "due");
        assert_eq!(sched.offsets(), BTreeMap::from([(2, 1)]));
        assert_eq!(store.max_offset_in_queue("T", 3), 1, "re-put into its real queue");
        store.shutdown().unwrap();
    }

    #[test]
    fn offsets_round_trip() {
        let (dir, s) = service("1s");
        s.offsets.lock().insert(1, 7);
        s.persist().unwrap();
        let text = std::fs::read_to_string(dir.path().join("config/delayOffset.json")).unwrap();
        assert_eq!(text, r#"{"offsetTable":{"1":7}}"#);
        std::fs::write(
            dir.path().join("config/delayOffset.json"),
            "{\"offsetTable\":{1:9,2:3}}",
        )
        .unwrap();
        let mut c = BrokerConfig::default();
        c.store.store_path_root_dir = dir.path().to_path_buf();
        let s = ScheduleService::load(&c).unwrap();
        assert_eq!(s.offsets(), BTreeMap::from([(1, 9), (2, 3)]));
    }
}
