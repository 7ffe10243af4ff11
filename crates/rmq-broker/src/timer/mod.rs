//! Timer messages: any delivery time, to the millisecond (docs/broker/timer.md).
//!
//! - [`TimerService::apply_timer`]: the put-time rewrite. A message with `TIMER_DELIVER_MS`,
//!   `TIMER_DELAY_SEC` or `TIMER_DELAY_MS` whose time is still ahead is parked in
//!   `rmq_sys_wheel_timer` queue 0 with `TIMER_OUT_MS` (the deliver time, rounded down to the
//!   precision as the 5.x broker does), `REAL_TOPIC` and `REAL_QID`; the store makes
//!   `TIMER_OUT_MS` that queue's tags code. So the commitlog is where a pending timer lives: it is
//!   acknowledged, and survives a crash, exactly like any message under the flush mode.
//! - One task per master ([`run`]) reads the timer queue from its enqueue offset into the
//!   [`wheel::Wheel`] (16 bytes per pending timer: deliver time and queue offset), fires what
//!   is due and re-puts it into its real topic with the properties a 5.x broker sets.
//! - Progress ([`checkpoint::Checkpoint`]) says which timers are done: every entry below the
//!   enqueue offset whose due time is before the read time was delivered. It is written only once
//!   the commitlog is flushed past the deliveries it covers. A restart rescans the timer queue from
//!   the oldest pending entry and puts back what is not done: nothing acknowledged is lost, and a
//!   timer delivered in the last flush interval before a crash may be delivered again.

pub mod checkpoint;
pub mod wheel;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rmq_protocol::message::{self, property, sys_flag};
use rmq_protocol::time::Clock;
use rmq_store::PutMessage;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::schedule::{property_value, remove_property, set_property};
use crate::BrokerState;
use checkpoint::Checkpoint;
use wheel::{Timer, Wheel};

pub use rmq_store::record::TIMER_TOPIC;

/// Most timer-queue entries read per pass, so a backlog cannot hold up delivery for long.
const ENQUEUE_BATCH: i64 = 32 * 1024;
/// Wait after a failed re-put before trying again.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The longest sleep with nothing due (the wake-up also comes on every new timer).
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// Most messages re-put in one append.
const MAX_PER_APPEND: usize = 256;
/// Pending timers are counted per this many consecutive queue offsets, to know the oldest one.
const CHUNK_SHIFT: u32 = 12;

/// The `timer*` keys of `broker.conf` (Java's `MessageStoreConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerSettings {
    /// `timerWheelEnable` (true): accept timer messages.
    pub enable: bool,
    /// `timerPrecisionMs`: deliver times are rounded down to a multiple of it and a timer fires
    /// at the first multiple at or after the time asked. rmq default 1 ms (Java: 1000, and it
    /// snaps other values to 100/200/500/1000; rmq takes any value from 1 ms).
    pub precision_ms: i64,
    /// `timerMaxDelaySec` (259 200, 3 days): a later deliver time is refused.
    pub max_delay_sec: i64,
    /// `timerFlushIntervalMs` (1000): how often progress is written.
    pub flush_interval_ms: u64,
    /// `timerStopEnqueue` (false): timers are accepted and stored but not read into the wheel.
    pub stop_enqueue: bool,
    /// `timerStopDequeue` (false): nothing is delivered (the wheel keeps filling).
    pub stop_dequeue: bool,
}

impl Default for TimerSettings {
    fn default() -> Self {
        TimerSettings {
            enable: true,
            precision_ms: 1,
            max_delay_sec: 259_200,
            flush_interval_ms: 1000,
            stop_enqueue: false,
            stop_dequeue: false,
        }
    }
}

impl TimerSettings {
    /// The keys with a use here and their values (GET_BROKER_CONFIG).
    pub fn export(&self, out: &mut Vec<(String, String)>) {
        for (k, v) in [
            ("timerWheelEnable", self.enable.to_string()),
            ("timerPrecisionMs", self.precision_ms.to_string()),
            ("timerMaxDelaySec", self.max_delay_sec.to_string()),
            ("timerFlushIntervalMs", self.flush_interval_ms.to_string()),
            ("timerStopEnqueue", self.stop_enqueue.to_string()),
            ("timerStopDequeue", self.stop_dequeue.to_string()),
        ] {
            out.push((k.to_string(), v));
        }
    }

    /// Applies one key; false when it is not a timer key or its value does not parse.
    pub fn apply(&mut self, k: &str, v: &str) -> bool {
        let v = v.trim();
        let b = rmq_protocol::header::parse_bool;
        match k {
            "timerWheelEnable" => self.enable = b(v),
            "timerPrecisionMs" => match v.parse::<i64>() {
                Ok(p) if p >= 1 => self.precision_ms = p,
                _ => return false,
            },
            "timerMaxDelaySec" => match v.parse::<i64>() {
                Ok(s) if s >= 1 => self.max_delay_sec = s,
                _ => return false,
            },
            "timerFlushIntervalMs" => match v.parse::<u64>() {
                Ok(ms) if ms >= 1 => self.flush_interval_ms = ms,
                _ => return false,
            },
            "timerStopEnqueue" => self.stop_enqueue = b(v),
            "timerStopDequeue" => self.stop_dequeue = b(v),
            // Java's tuning of its own wheel and threads: nothing to tune here.
            "timerRollWindowSlot"
            | "timerGetMessageThreadNum"
            | "timerPutMessageThreadNum"
            | "timerEnableDisruptor"
            | "timerEnableCheckMetrics"
            | "timerCheckMetricsWhen"
            | "timerMetricSmallThreshold"
            | "timerSkipUnknownError"
            | "timerWarmEnable"
            | "timerCongestNumEachSlot"
            | "timerProgressLogIntervalMs"
            | "timerInterceptDelayLevel"
            | "mappedFileSizeTimerLog" => {}
            _ => return false,
        }
        true
    }
}

/// Why a timer message is refused at put time (the code and remark of Java's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// MESSAGE_ILLEGAL (13).
    Illegal(String),
    /// SYSTEM_ERROR (1): `timerWheelEnable=false`.
    NotEnabled(String),
}

impl Refused {
    pub fn code(&self) -> i32 {
        use rmq_protocol::codes::response_code as code;
        match self {
            Refused::Illegal(_) => code::MESSAGE_ILLEGAL,
            Refused::NotEnabled(_) => code::SYSTEM_ERROR,
        }
    }

    pub fn remark(&self) -> &str {
        match self {
            Refused::Illegal(r) | Refused::NotEnabled(r) => r,
        }
    }
}

/// Counters for GET_BROKER_RUNTIME_INFO and the logs.
#[derive(Debug, Default)]
pub struct TimerStats {
    pub enqueued: AtomicU64,
    pub delivered: AtomicU64,
    pub cancelled: AtomicU64,
    pub pending: AtomicU64,
    /// Every timer due before this time (ms) has been delivered.
    pub read_time_ms: AtomicI64,
    /// The next timer-queue offset to read into the wheel.
    pub enqueue_offset: AtomicI64,
}

/// Timer messages: settings, progress and the delivery task.
pub struct TimerService {
    settings: TimerSettings,
    path: PathBuf,
    /// Progress as loaded at start, taken by the task.
    loaded: Mutex<Option<Checkpoint>>,
    /// Progress the stopped task could not write yet (the commitlog was not flushed that far).
    final_progress: Mutex<Option<Checkpoint>>,
    pub stats: TimerStats,
    /// Woken on every new timer, so a short one does not wait for the next pass.
    wake: Notify,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    clock: Clock,
}

impl TimerService {
    /// Reads `config/timerCheckpoint.json` (or its `.bak`).
    pub fn load(config: &crate::BrokerConfig) -> Result<TimerService, crate::BrokerError> {
        let path = config.store.config_dir().join(checkpoint::FILE_NAME);
        let loaded = Checkpoint::load(&path)?;
        let (stop, _) = watch::channel(false);
        let stats = TimerStats::default();
        if let Some(c) = &loaded {
            stats.read_time_ms.store(c.read_time_ms, Ordering::Relaxed);
            stats.enqueue_offset.store(c.enqueue_offset, Ordering::Relaxed);
        }
        Ok(TimerService {
            settings: config.timer.clone(),
            path,
            loaded: Mutex::new(loaded),
            final_progress: Mutex::new(None),
            stats,
            wake: Notify::new(),
            stop,
            task: Mutex::new(None),
            clock: config.store.clock.clone(),
        })
    }

    pub fn settings(&self) -> &TimerSettings {
        &self.settings
    }

    /// The put-time rewrite (Java 5.x `HookUtils.handleScheduleMessage` and
    /// `transformTimerMessage`; docs/broker/timer.md#sending). `Ok(true)` when the message was
    /// parked in the timer topic; `Ok(false)` when it goes on as it is (no timer, a time already
    /// past, a delay level, a transactional half message).
    pub fn apply_timer(&self, msg: &mut PutMessage) -> Result<bool, Refused> {
        let ty = sys_flag::transaction_type(msg.sys_flag);
        if ty != sys_flag::TRANSACTION_NOT_TYPE && ty != sys_flag::TRANSACTION_COMMIT_TYPE {
            return Ok(false);
        }
        if msg.topic == TIMER_TOPIC {
            return Ok(false);
        }
        let delay_level = property_value(&msg.properties, property::DELAY)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if delay_level > 0 {
            // The delay level wins; its timer properties go.
            for key in [
                property::TIMER_DELIVER_MS,
                property::TIMER_DELAY_SEC,
                property::TIMER_DELAY_MS,
            ] {
                if property_value(&msg.properties, key).is_some() {
                    msg.properties = remove_property(&msg.properties, key);
                }
            }
            return Ok(false);
        }
        if property_value(&msg.properties, property::TIMER_OUT_MS).is_some() {
            // Already timed once (a delivered timer put again): never re-timed.
            return Ok(false);
        }
        let sec = property_value(&msg.properties, property::TIMER_DELAY_SEC);
        let ms = property_value(&msg.properties, property::TIMER_DELAY_MS);
        let at = property_value(&msg.properties, property::TIMER_DELIVER_MS);
        if sec.is_none() && ms.is_none() && at.is_none() {
            return Ok(false);
        }
        if !self.settings.enable {
            return Err(Refused::NotEnabled(
                "accurate timer message is not enabled, timerWheelEnable is false".into(),
            ));
        }
        let now = self.clock.now_ms();
        let parse = |v: &str| v.trim().parse::<i64>().map_err(|_| self.illegal());
        let deliver_ms = if let Some(v) = sec {
            now.saturating_add(parse(v)?.saturating_mul(1000))
        } else if let Some(v) = ms {
            now.saturating_add(parse(v)?)
        } else {
            parse(at.unwrap_or_default())?
        };
        if deliver_ms <= now {
            if property_value(&msg.properties, property::TIMER_DEL_UNIQKEY).is_some() {
                return Err(self.illegal());
            }
            // Due already: stored in its own topic at once, properties untouched.
            return Ok(false);
        }
        if deliver_ms - now > self.settings.max_delay_sec.saturating_mul(1000) {
            return Err(self.illegal());
        }
        let p = self.settings.precision_ms;
        // The largest multiple of the precision strictly below the time asked; the timer fires
        // one precision later, i.e. at the first multiple at or after it.
        let out_ms = if deliver_ms % p == 0 {
            deliver_ms - p
        } else {
            deliver_ms / p * p
        };
        let mut props = set_property(&msg.properties, property::TIMER_OUT_MS, &out_ms.to_string());
        props = set_property(&props, property::REAL_TOPIC, &msg.topic);
        props = set_property(&props, property::REAL_QID, &msg.queue_id.to_string());
        msg.properties = props;
        msg.topic = TIMER_TOPIC.to_string();
        msg.queue_id = 0;
        msg.tags_code = out_ms;
        self.wake.notify_one();
        Ok(true)
    }

    fn illegal(&self) -> Refused {
        Refused::Illegal(format!(
            "timer message illegal, the delay time should not be bigger than the max delay {}ms; or if set del msg, the delay time should be bigger than the current time",
            self.settings.max_delay_sec.saturating_mul(1000)
        ))
    }

    /// Starts the delivery task (masters with `timerWheelEnable` only).
    pub fn start(state: &Arc<BrokerState>) {
        if !state.is_master() || !state.timer.settings.enable {
            return;
        }
        let rx = state.timer.stop.subscribe();
        let handle = tokio::spawn(run(state.clone(), rx));
        *state.timer.task.lock() = Some(handle);
    }

    fn take_task(&self) -> Option<JoinHandle<()>> {
        self.task.lock().take()
    }

    /// Stops the task between passes (never in the middle of a delivery); it writes its progress
    /// as it stops.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        self.wake.notify_one();
        if let Some(task) = self.take_task() {
            let _ = task.await;
        }
    }

    /// After the store's last flush at shutdown: the progress the task stopped with.
    pub fn write_final(&self) -> Result<(), crate::BrokerError> {
        if let Some(c) = self.final_progress.lock().take() {
            c.write(&self.path)?;
        }
        Ok(())
    }

    /// Aborts the task without waiting (a dropped broker).
    pub fn abort(&self) {
        if let Some(task) = self.take_task() {
            task.abort();
        }
    }

    /// Kills the task without writing progress (crash simulation; see `Broker::crash`).
    pub async fn halt(&self) {
        if let Some(task) = self.take_task() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// The delivery task's state.
struct Runner {
    wheel: Wheel,
    /// Pending timers per chunk of queue offsets (offset >> CHUNK_SHIFT): the first key is where
    /// a restart has to rescan from.
    chunks: BTreeMap<i64, u32>,
    enqueue_offset: i64,
    /// Fired (or overdue at enqueue) and not yet delivered: retried after a failed put.
    due: Vec<Timer>,
    /// A checkpoint waiting for the commitlog to be flushed up to `.1`.
    unflushed: Option<(Checkpoint, i64)>,
    /// The last checkpoint written.
    written: Option<Checkpoint>,
}

impl Runner {
    fn add(&mut self, t: Timer) {
        match self.wheel.insert(t) {
            Some(overdue) => self.due.push(overdue),
            None => *self.chunks.entry(t.cq_offset >> CHUNK_SHIFT).or_default() += 1,
        }
    }

    fn fired(&mut self, t: &Timer) {
        let key = t.cq_offset >> CHUNK_SHIFT;
        if let Some(n) = self.chunks.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.chunks.remove(&key);
            }
        }
    }

    /// What is done now: valid only when nothing fired is still waiting for delivery.
    fn progress(&self, read_time_ms: i64) -> Checkpoint {
        let scan_from = self
            .chunks
            .keys()
            .next()
            .map_or(self.enqueue_offset, |c| c << CHUNK_SHIFT)
            .min(self.enqueue_offset);
        Checkpoint {
            enqueue_offset: self.enqueue_offset,
            scan_from,
            read_time_ms,
        }
    }
}

/// When a timer of this timer-queue entry is due: `TIMER_OUT_MS` + one precision.
fn due_ms(tags_code: i64, precision_ms: i64) -> i64 {
    tags_code.saturating_add(precision_ms)
}

async fn run(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let timer = &state.timer;
    let store = &state.store;
    let p = timer.settings.precision_ms;
    let now = timer.clock.now_ms();
    let loaded = timer.loaded.lock().take();
    let mut r = Runner {
        wheel: Wheel::new(u64::try_from(p).unwrap_or(1), now),
        chunks: BTreeMap::new(),
        enqueue_offset: 0,
        due: Vec::new(),
        unflushed: None,
        written: loaded.clone(),
    };
    let min = store.min_offset_in_queue(TIMER_TOPIC, 0);
    let max = store.max_offset_in_queue(TIMER_TOPIC, 0);
    match loaded {
        Some(c) => {
            // Rescan what may still be pending; entries below the enqueue offset that were due
            // before the read time are done.
            let from = c.scan_from.clamp(min, max.max(min));
            let upto = c.enqueue_offset.clamp(from, max.max(from));
            if c.scan_from < min {
                tracing::warn!(
                    scan_from = c.scan_from,
                    min,
                    "timer queue entries were cleaned up before delivery; they are lost"
                );
            }
            let mut kept = 0u64;
            for offset in from..upto {
                let Some(e) = store.consume_queue_entry(TIMER_TOPIC, 0, offset) else {
                    continue;
                };
                let due = due_ms(e.tags_code, p);
                if due >= c.read_time_ms {
                    count_entry(&state, &e, false);
                    r.add(Timer {
                        deliver_ms: due,
                        cq_offset: offset,
                    });
                    kept += 1;
                }
            }
            r.enqueue_offset = upto;
            tracing::info!(
                scan_from = from,
                enqueue_offset = upto,
                read_time_ms = c.read_time_ms,
                pending = kept,
                "timer: progress loaded"
            );
        }
        None => r.enqueue_offset = min,
    }
    timer.stats.pending.store(r.wheel.len() as u64, Ordering::Relaxed);

    let flush_every = Duration::from_millis(timer.settings.flush_interval_ms);
    let mut last_flush = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            break;
        }
        // 1. New timers into the wheel. `backlog`: the batch limit stopped the read, so more
        // entries are there to read at once.
        let mut backlog = false;
        if !timer.settings.stop_enqueue {
            let max = store.max_offset_in_queue(TIMER_TOPIC, 0);
            let end = max.min(r.enqueue_offset + ENQUEUE_BATCH);
            let mut offset = r.enqueue_offset.max(store.min_offset_in_queue(TIMER_TOPIC, 0));
            while offset < end {
                let Some(e) = store.consume_queue_entry(TIMER_TOPIC, 0, offset) else {
                    break;
                };
                count_entry(&state, &e, true);
                r.add(Timer {
                    deliver_ms: due_ms(e.tags_code, p),
                    cq_offset: offset,
                });
                offset += 1;
            }
            backlog = offset == end && end < max;
            let added = offset - r.enqueue_offset;
            r.enqueue_offset = offset;
            if added > 0 {
                timer
                    .stats
                    .enqueued
                    .fetch_add(u64::try_from(added).unwrap_or(0), Ordering::Relaxed);
            }
        }
        // 2. What is due, then 3. its delivery.
        let now = timer.clock.now_ms();
        let mut failed = false;
        if !timer.settings.stop_dequeue {
            let mut fired = Vec::new();
            r.wheel.advance(now, &mut fired);
            for t in &fired {
                r.fired(t);
            }
            r.due.extend(fired);
            if !r.due.is_empty() {
                let batch = std::mem::take(&mut r.due);
                r.due = deliver(&state, batch, now).await;
                failed = !r.due.is_empty();
            }
        }
        timer
            .stats
            .pending
            .store((r.wheel.len() + r.due.len()) as u64, Ordering::Relaxed);
        timer
            .stats
            .enqueue_offset
            .store(r.enqueue_offset, Ordering::Relaxed);
        // 4. Progress: a candidate once everything fired is delivered, written once the
        // commitlog is flushed past those deliveries.
        if r.due.is_empty() && !timer.settings.stop_dequeue {
            let read_time = r.wheel.cursor_ms();
            timer.stats.read_time_ms.store(read_time, Ordering::Relaxed);
            let c = r.progress(read_time);
            if r.written.as_ref() != Some(&c) {
                r.unflushed = Some((c, store.max_phy_offset()));
            }
        }
        if last_flush.elapsed() >= flush_every {
            last_flush = tokio::time::Instant::now();
            write_progress(&state, &mut r).await;
        }
        // 5. Sleep until the next timer is due, a new timer arrives, or the next flush.
        let wait = if failed {
            RETRY_BACKOFF
        } else if timer.settings.stop_dequeue {
            IDLE_WAIT
        } else {
            let until_due = r
                .wheel
                .next_due_ms()
                .map(|d| Duration::from_millis(u64::try_from(d - timer.clock.now_ms()).unwrap_or(0)));
            let until_flush = flush_every.saturating_sub(last_flush.elapsed());
            let mut w = until_due.unwrap_or(IDLE_WAIT).min(IDLE_WAIT);
            if r.unflushed.is_some() {
                w = w.min(until_flush);
            }
            w
        };
        // A zero wait means a timer fell due while this pass ran; a backlog is read at once. Neither
        // repeats without progress (a queue that stops being readable, or timerStopEnqueue /
        // timerStopDequeue, sleeps like an idle wheel).
        if wait.is_zero() || backlog {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = timer.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Stopping: write what is done if the commitlog already has it on disk; otherwise the
    // broker writes it after the store's final flush (`TimerService::write_final`).
    write_progress(&state, &mut r).await;
    *timer.final_progress.lock() = r.unflushed.map(|(c, _)| c);
}

/// Writes the waiting checkpoint if the commitlog is flushed far enough.
async fn write_progress(state: &Arc<BrokerState>, r: &mut Runner) {
    let Some((c, needs)) = r.unflushed.clone() else {
        return;
    };
    if state.store.flushed_phy_offset() < needs {
        return;
    }
    let path = state.timer.path.clone();
    let to_write = c.clone();
    // fsync: off the async workers.
    match tokio::task::spawn_blocking(move || to_write.write(&path)).await {
        Ok(Ok(())) => {
            r.written = Some(c);
            r.unflushed = None;
        }
        Ok(Err(e)) => tracing::error!(error = %e, "timer: could not write the checkpoint"),
        Err(e) => tracing::error!(error = %e, "timer: checkpoint task failed"),
    }
}

/// Counts a timer-queue entry in the metrics (`crate::metrics::timer`) from its record, read as
/// Java's enqueue reads it: the real topic, whether it is a cancel marker, the born time.
/// `enqueued`: read into the wheel now; else found pending again as the task starts.
fn count_entry(state: &BrokerState, e: &rmq_store::consume_queue::CqEntry, enqueued: bool) {
    let Some(record) = state.store.read_record(e.phy_offset) else {
        return;
    };
    let Ok(message::Record::Message(r)) = message::parse_record(&record, false) else {
        return;
    };
    let Some(topic) =
        message::find_property(r.properties, property::REAL_TOPIC).and_then(|v| std::str::from_utf8(v).ok())
    else {
        return;
    };
    let is_timer = message::find_property(r.properties, property::TIMER_DEL_UNIQKEY).is_none();
    let m = &state.metrics.timer;
    if enqueued {
        // `tags_code` is TIMER_OUT_MS, the deliver time asked (Java's delayedTime).
        m.enqueued(topic, is_timer, (e.tags_code - r.born_timestamp) / 1000);
    } else if is_timer {
        m.recovered(topic);
    }
}

/// A delivered message's topic and queue.
type RealQueue = (String, i32);

/// What one fired timer-queue entry turned out to be.
enum Fired {
    Deliver {
        tick: i64,
        uniq: Option<String>,
        msg: PutMessage,
    },
    Cancel {
        tick: i64,
        uniq: String,
    },
}

/// Re-puts the fired timers into their topics; returns those whose put failed (to retry).
/// Cancel markers (`TIMER_DEL_UNIQKEY`) drop the timers of their tick with that `UNIQ_KEY`.
async fn deliver(state: &BrokerState, batch: Vec<Timer>, now: i64) -> Vec<Timer> {
    let store = &state.store;
    let timer = &state.timer;
    let p = timer.settings.precision_ms;
    let mut out: Vec<(Timer, Fired)> = Vec::with_capacity(batch.len());
    for t in batch {
        let record = store
            .consume_queue_entry(TIMER_TOPIC, 0, t.cq_offset)
            .and_then(|e| store.read_record(e.phy_offset));
        let Some(record) = record else {
            tracing::warn!(
                cq_offset = t.cq_offset,
                "timer: the timer's record is gone from the commitlog; skipped"
            );
            continue;
        };
        match to_fired(&record, now, p) {
            Ok(f) => out.push((t, f)),
            Err(e) => {
                tracing::warn!(cq_offset = t.cq_offset, error = %e, "timer: dropping an undecodable timer record")
            }
        }
    }
    let cancels: HashSet<(i64, String)> = out
        .iter()
        .filter_map(|(_, f)| match f {
            Fired::Cancel { tick, uniq } => Some((*tick, uniq.clone())),
            Fired::Deliver { .. } => None,
        })
        .collect();
    // Kept timers grouped by topic and queue (in firing order within each), so that each group
    // goes to the store as one append under its lock.
    let mut groups: std::collections::HashMap<RealQueue, Vec<(Timer, PutMessage)>> =
        std::collections::HashMap::new();
    let mut cancelled = 0u64;
    for (t, f) in out {
        if let Fired::Deliver { tick, uniq, msg } = f {
            let is_cancelled = !cancels.is_empty() && uniq.is_some_and(|u| cancels.contains(&(tick, u)));
            if is_cancelled {
                cancelled += 1;
                state.metrics.timer.dropped(&msg.topic, 1);
                continue;
            }
            groups
                .entry((msg.topic.clone(), msg.queue_id))
                .or_default()
                .push((t, msg));
        }
    }
    let max_body = state.config.store.max_message_size;
    let mut failed = Vec::new();
    let mut delivered = 0u64;
    for ((topic, _), group) in groups {
        let mut rest = group.into_iter().peekable();
        while rest.peek().is_some() {
            // A batch stays under the store's limit for one append.
            let mut timers = Vec::new();
            let mut msgs = Vec::new();
            let mut bytes = 0usize;
            while let Some((_, m)) = rest.peek() {
                if !msgs.is_empty() && (bytes + m.body.len() > max_body || msgs.len() >= MAX_PER_APPEND) {
                    break;
                }
                let Some((t, m)) = rest.next() else { break };
                bytes += m.body.len();
                timers.push(t);
                msgs.push(m);
            }
            // Not waiting for the flush (Java: setWaitStoreMsgOK(false)); the checkpoint waits
            // for the commitlog to be flushed past the deliveries instead.
            let r = store.append_messages(msgs).appended();
            if r.is_stored() {
                delivered += timers.len() as u64;
                state.metrics.timer.dequeued(&topic, timers.len() as u64);
                continue;
            }
            match r.status {
                rmq_store::PutStatus::MessageIllegal | rmq_store::PutStatus::PropertiesSizeExceeded
                    if timers.len() == 1 =>
                {
                    tracing::warn!(cq_offset = timers[0].cq_offset, topic = %topic, status = ?r.status, "timer: the delivered message is refused by the store; dropped");
                    state.metrics.timer.dropped(&topic, 1);
                }
                rmq_store::PutStatus::MessageIllegal | rmq_store::PutStatus::PropertiesSizeExceeded => {
                    // One of the batch is refused: retried one by one, to find it.
                    tracing::warn!(topic = %topic, status = ?r.status, "timer: a batched re-put was refused; retrying one by one");
                    failed.extend(timers);
                }
                _ => {
                    tracing::warn!(topic = %topic, status = ?r.status, "timer: re-put failed; will retry");
                    failed.extend(timers);
                }
            }
        }
    }
    timer.stats.delivered.fetch_add(delivered, Ordering::Relaxed);
    timer.stats.cancelled.fetch_add(cancelled, Ordering::Relaxed);
    failed
}

/// The delivery of one timer record (Java `TimerMessageStore.convert` / `convertMessage`): the
/// real topic and queue back, `TIMER_ENQUEUE_MS` (when the timer was stored, floored to the
/// precision) and `TIMER_DEQUEUE_MS` (now) added; body, flag, sysFlag, born time and host,
/// reconsume times and every property kept — `REAL_TOPIC`, `REAL_QID` and `WAIT` included: the
/// 5.3.1 broker drops them from its properties map only after the stored string was built (seen on
/// the oracle), so its delivered messages carry them.
fn to_fired(record: &bytes::Bytes, now: i64, precision_ms: i64) -> Result<Fired, String> {
    let r = match message::parse_record(record, false).map_err(|e| e.to_string())? {
        message::Record::Message(r) => r,
        message::Record::Blank => return Err("blank record".into()),
    };
    let raw = std::str::from_utf8(r.properties).map_err(|_| "properties are not UTF-8")?;
    let get = |k: &str| message::find_property_str(raw, k);
    let out_ms = get(property::TIMER_OUT_MS)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .ok_or("no TIMER_OUT_MS property")?;
    let p = precision_ms.max(1);
    let tick = out_ms / p;
    let uniq = get(property::UNIQ_KEY).map(str::to_string);
    if let Some(target) = get(property::TIMER_DEL_UNIQKEY) {
        return Ok(Fired::Cancel {
            tick,
            uniq: target.to_string(),
        });
    }
    let real_topic = get(property::REAL_TOPIC).ok_or("no REAL_TOPIC property")?;
    let real_qid: i32 = get(property::REAL_QID)
        .and_then(|q| q.trim().parse().ok())
        .ok_or("no REAL_QID property")?;
    let born_host = message::host_addr(r.born_host, "born host").map_err(|e| e.to_string())?;
    let mut props = set_property(
        raw,
        property::TIMER_ENQUEUE_MS,
        &(r.store_timestamp / p * p).to_string(),
    );
    props = set_property(&props, property::TIMER_DEQUEUE_MS, &now.to_string());
    let tags_code = message::tags_code_of(props.as_bytes());
    Ok(Fired::Deliver {
        tick,
        uniq,
        msg: PutMessage {
            topic: real_topic.to_string(),
            queue_id: real_qid,
            flag: r.flag,
            // The stored bytes as they are (a compressed body stays compressed, with its flag).
            body: record.slice_ref(r.body),
            properties: props,
            tags_code,
            sys_flag: r.sys_flag,
            born_timestamp: r.born_timestamp,
            born_host,
            reconsume_times: r.reconsume_times,
            prepared_transaction_offset: r.prepared_transaction_offset,
        },
    })
}

#[cfg(test)]
mod tests;
