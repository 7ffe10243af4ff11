//! The timer store's metrics (Java 5's `DefaultStoreMetricsManager`, registered there only with
//! `timerWheelEnable`): per real topic, timers read into the wheel and delivered, timers pending,
//! and the delay each was set with; and at scrape time how far the timer task is behind.
//!
//! The per-topic counts are kept by the timer task (crate::timer), which reads every timer's
//! record when it takes it into the wheel, as Java's enqueue does; nothing is counted on the send
//! path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rmq_remoting::prom::{escape, Histogram};

use super::Text;
use crate::timer::TIMER_TOPIC;
use crate::BrokerState;

/// `rocketmq_delay_message_latency`'s buckets, in seconds (`DefaultStoreMetricsManager
/// .getMetricsView`: 1 min, 10 min, 1 h, 12 h, 1 day, 3 days).
const DELAY_BUCKETS: &[u64] = &[60, 600, 3600, 43_200, 86_400, 259_200];

/// The labels Java's store metrics all carry (`newAttributesBuilder`).
pub(super) const STORE_LABELS: &str = "storage_type=\"local\",storage_medium=\"disk\"";

/// One real topic's timers.
#[derive(Debug)]
pub struct TimerTopic {
    /// Read into the wheel (cancel markers included, as Java counts them).
    enqueued: AtomicU64,
    /// Delivered to the real topic.
    dequeued: AtomicU64,
    /// In the wheel or fired and not yet delivered (cancel markers not counted).
    timing: AtomicI64,
    /// Seconds from birth to the deliver time asked, one observation per enqueued timer.
    delay_s: Histogram,
}

impl Default for TimerTopic {
    fn default() -> Self {
        TimerTopic {
            enqueued: AtomicU64::new(0),
            dequeued: AtomicU64::new(0),
            timing: AtomicI64::new(0),
            delay_s: Histogram::new(DELAY_BUCKETS),
        }
    }
}

/// Per real topic, created on first use.
#[derive(Debug, Default)]
pub struct TimerMetrics {
    topics: RwLock<HashMap<String, Arc<TimerTopic>>>,
}

impl TimerMetrics {
    fn topic(&self, topic: &str) -> Arc<TimerTopic> {
        if let Some(t) = self.topics.read().get(topic) {
            return t.clone();
        }
        self.topics.write().entry(topic.to_string()).or_default().clone()
    }

    /// A timer-queue entry read into the wheel: its real topic, whether it is a timer (not a
    /// cancel marker), and the seconds from its birth to the deliver time it asked for (Java's
    /// `(TIMER_OUT_MS - bornTimestamp) / 1000`).
    pub fn enqueued(&self, topic: &str, is_timer: bool, delay_s: i64) {
        let t = self.topic(topic);
        t.enqueued.fetch_add(1, Ordering::Relaxed);
        t.delay_s.record(u64::try_from(delay_s).unwrap_or(0));
        if is_timer {
            t.timing.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A timer still pending found again when the task starts (after a restart): timing only.
    pub fn recovered(&self, topic: &str) {
        self.topic(topic).timing.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` timers of `topic` delivered.
    pub fn dequeued(&self, topic: &str, n: u64) {
        let t = self.topic(topic);
        t.dequeued.fetch_add(n, Ordering::Relaxed);
        t.timing
            .fetch_sub(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// `n` timers of `topic` that will not be delivered (cancelled, or refused by the store).
    pub fn dropped(&self, topic: &str, n: u64) {
        self.topic(topic)
            .timing
            .fetch_sub(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    fn sorted(&self) -> Vec<(String, Arc<TimerTopic>)> {
        let mut out: Vec<_> = self
            .topics
            .read()
            .iter()
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The timer families (none with `timerWheelEnable=false`, as Java registers none).
    pub(super) fn render(&self, s: &BrokerState, t: &mut Text) {
        if !s.timer.settings().enable {
            return;
        }
        let stats = &s.timer.stats;
        let now = s.clock.now_ms();
        let one = |v: i64| vec![(STORE_LABELS.to_string(), u64::try_from(v).unwrap_or(0))];
        let enqueue_offset = stats.enqueue_offset.load(Ordering::Relaxed);
        let waiting = (s.store.max_offset_in_queue(TIMER_TOPIC, 0) - enqueue_offset).max(0);
        t.family(
            "rocketmq_timer_enqueue_lag",
            "gauge",
            "Timer messages stored and not yet read into the timer wheel.",
            one(waiting),
        );
        // Java's getEnqueueBehindMillis divides by 1000: seconds, despite the unit it declares.
        let oldest_waiting = if waiting > 0 {
            s.store
                .message_store_timestamp(TIMER_TOPIC, 0, enqueue_offset)
                .map_or(0, |stored| (now - stored) / 1000)
        } else {
            0
        };
        t.family(
            "rocketmq_timer_enqueue_latency",
            "gauge",
            "Seconds since the oldest timer message not yet read into the wheel was stored (0 when none waits).",
            one(oldest_waiting),
        );
        t.family(
            "rocketmq_timer_dequeue_lag",
            "gauge",
            "Timer messages in the wheel, not yet delivered.",
            one(i64::try_from(stats.pending.load(Ordering::Relaxed)).unwrap_or(i64::MAX)),
        );
        let read_time = stats.read_time_ms.load(Ordering::Relaxed);
        t.family(
            "rocketmq_timer_dequeue_latency",
            "gauge",
            "Seconds the delivery is behind: now minus the time before which every timer was delivered.",
            one(if read_time > 0 {
                (now - read_time) / 1000
            } else {
                0
            }),
        );
        let topics = self.sorted();
        let labels = |topic: &str| format!("{STORE_LABELS},topic=\"{}\"", escape(topic));
        let rows = |f: &dyn Fn(&TimerTopic) -> u64| -> Vec<(String, u64)> {
            topics.iter().map(|(k, v)| (labels(k), f(v))).collect()
        };
        t.family(
            "rocketmq_timing_messages",
            "gauge",
            "Timer messages pending (in the wheel or fired and not yet delivered), by real topic.",
            rows(&|v| u64::try_from(v.timing.load(Ordering::Relaxed)).unwrap_or(0)),
        );
        t.family(
            "rocketmq_timer_enqueue_total",
            "counter",
            "Timer messages read into the wheel (cancel markers included), by real topic.",
            rows(&|v| v.enqueued.load(Ordering::Relaxed)),
        );
        t.family(
            "rocketmq_timer_dequeue_total",
            "counter",
            "Timer messages delivered to their real topic.",
            rows(&|v| v.dequeued.load(Ordering::Relaxed)),
        );
        let mut delays = Vec::new();
        for (k, v) in &topics {
            v.delay_s.rows(&labels(k), &mut delays);
        }
        t.histogram(
            "rocketmq_delay_message_latency",
            "Timer message set latency: seconds from birth to the deliver time asked, per timer read into the wheel.",
            delays,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_follows_enqueues_deliveries_and_drops() {
        let m = TimerMetrics::default();
        m.enqueued("T", true, 5);
        m.enqueued("T", true, 90);
        m.enqueued("T", false, 90); // a cancel marker
        m.recovered("U");
        m.dequeued("T", 1);
        m.dropped("T", 1);
        let rows = m.sorted();
        let t = &rows[0].1;
        assert_eq!(rows[0].0, "T");
        assert_eq!(t.enqueued.load(Ordering::Relaxed), 3);
        assert_eq!(t.dequeued.load(Ordering::Relaxed), 1);
        assert_eq!(t.timing.load(Ordering::Relaxed), 0);
        assert_eq!(t.delay_s.cumulative(), (vec![1, 3, 3, 3, 3, 3, 3], 185));
        assert_eq!(rows[1].1.timing.load(Ordering::Relaxed), 1);
    }
}
