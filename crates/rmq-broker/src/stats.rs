//! The statistics of Java's `BrokerStatsManager` that tools read: per-key counters with their
//! growth over the last minute, hour and day, served by VIEW_BROKER_STATS_DATA (`mqadmin
//! statsAll`, `BrokerStatsData`) and, for messages pulled per `topic@group`, as the
//! `consumeTps` of GET_CONSUME_STATS (`mqadmin consumerProgress`).
//!
//! The items are Java's: `TOPIC_PUT_NUMS` / `TOPIC_PUT_SIZE` by topic, `GROUP_GET_NUMS` /
//! `GROUP_GET_SIZE` and `SNDBCK_PUT_NUMS` by `topic@group`, `BROKER_PUT_NUMS` /
//! `BROKER_GET_NUMS` by cluster name. Each counts a value (messages, bytes) and the times it was
//! added to, so `avgpt` (value per addition) is Java's too: messages per send, bytes per pull.
//! The broker-wide counts add no times, as Java's, so their `avgpt` is 0.
//!
//! Like Java's `StatsItem`, a counter keeps samples 10 s apart for its minute, 10 min apart for
//! its hour and an hour apart for its day. Java samples on timers and misses the growth since
//! its newest sample; here a counter samples when it is touched (added to or read), before the
//! addition, so there is no background task and the figures include the last seconds.

use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Messages stored per topic (times: sends).
pub const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
/// Bytes stored per topic (times: sends).
pub const TOPIC_PUT_SIZE: &str = "TOPIC_PUT_SIZE";
/// Messages handed out per `topic@group` (times: pulls and pops).
pub const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";
/// Bytes handed out per `topic@group` (times: pulls and pops).
pub const GROUP_GET_SIZE: &str = "GROUP_GET_SIZE";
/// Messages sent back for a later retry, per original `topic@group`.
pub const SNDBCK_PUT_NUMS: &str = "SNDBCK_PUT_NUMS";
/// Messages stored, keyed by the cluster name.
pub const BROKER_PUT_NUMS: &str = "BROKER_PUT_NUMS";
/// Messages handed out, keyed by the cluster name.
pub const BROKER_GET_NUMS: &str = "BROKER_GET_NUMS";

/// Growth of a counter over one window (Java's `StatsSnapshot` as `BrokerStatsItem` sends it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    /// Value added in the window.
    pub sum: u64,
    /// `sum` per second.
    pub tps: f64,
    /// `sum` per addition (0 without additions).
    pub avgpt: f64,
}

/// A counter's last minute, hour and day (Java's `BrokerStatsData`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Windows {
    pub minute: Snapshot,
    pub hour: Snapshot,
    pub day: Snapshot,
}

#[derive(Debug, Clone, Copy)]
struct Sample<const N: usize> {
    at: Instant,
    values: [u64; N],
    times: u64,
}

/// Samples `step` apart, reaching a bit more than `span` back.
#[derive(Debug)]
struct Window<const N: usize> {
    step: Duration,
    span: Duration,
    /// Oldest first. A sample is taken at the first touch `step` after the newest, so what was
    /// added between two samples was added within `step` of the older one.
    samples: VecDeque<Sample<N>>,
}

impl<const N: usize> Window<N> {
    fn new(step: Duration, span: Duration, first: Sample<N>) -> Window<N> {
        Window {
            step,
            span,
            samples: VecDeque::from([first]),
        }
    }

    fn sample(&mut self, now: Sample<N>) {
        if self
            .samples
            .back()
            .is_none_or(|last| now.at.duration_since(last.at) >= self.step)
        {
            self.samples.push_back(now);
        }
        // Drop the oldest sample while all that grew after it grew before the span began.
        while self.samples.len() > 1 && now.at.duration_since(self.samples[0].at) >= self.span + self.step {
            self.samples.pop_front();
        }
    }

    /// The growth of value `i`.
    fn snapshot(&self, now: Sample<N>, i: usize) -> Snapshot {
        let base = self.samples[0];
        let sum = now.values[i] - base.values[i];
        let times = now.times - base.times;
        let secs = now.at.duration_since(base.at).as_secs_f64().max(1.0);
        Snapshot {
            sum,
            tps: sum as f64 / secs,
            avgpt: if times > 0 { sum as f64 / times as f64 } else { 0.0 },
        }
    }
}

/// `N` values counted together (Java's `*_NUMS` and `*_SIZE` items of one key), how many times
/// they were added to, and one set of three windows for all of them: one sample check per
/// addition whatever `N`.
#[derive(Debug)]
struct Counter<const N: usize> {
    values: [u64; N],
    times: u64,
    windows: [Window<N>; 3],
}

impl<const N: usize> Counter<N> {
    fn new(now: Instant) -> Counter<N> {
        let first = Sample {
            at: now,
            values: [0; N],
            times: 0,
        };
        let (minute, hour) = (Duration::from_secs(60), Duration::from_secs(3600));
        Counter {
            values: [0; N],
            times: 0,
            windows: [
                Window::new(Duration::from_secs(10), minute, first),
                Window::new(Duration::from_secs(600), hour, first),
                Window::new(hour, 24 * hour, first),
            ],
        }
    }

    fn now(&self, at: Instant) -> Sample<N> {
        Sample {
            at,
            values: self.values,
            times: self.times,
        }
    }

    fn add(&mut self, values: [u64; N], times: u64, at: Instant) {
        let now = self.now(at);
        self.windows.iter_mut().for_each(|w| w.sample(now));
        for (v, add) in self.values.iter_mut().zip(values) {
            *v += add;
        }
        self.times += times;
    }

    /// The windows of value `i`.
    fn windows(&mut self, at: Instant, i: usize) -> Windows {
        let now = self.now(at);
        self.windows.iter_mut().for_each(|w| w.sample(now));
        let [minute, hour, day] = &self.windows;
        Windows {
            minute: minute.snapshot(now, i),
            hour: hour.snapshot(now, i),
            day: day.snapshot(now, i),
        }
    }
}

/// A count and a size per key, as Java's `*_NUMS` / `*_SIZE` pairs.
type Pair = Counter<2>;
const NUMS: usize = 0;
const SIZE: usize = 1;

/// Pairs by key. Lookups share a read lock; only a new key takes the write lock.
#[derive(Debug, Default)]
struct Table {
    items: RwLock<HashMap<String, Mutex<Pair>, foldhash::fast::RandomState>>,
}

impl Table {
    fn add(&self, key: &str, nums: u64, size: u64, at: Instant) {
        if let Some(p) = self.items.read().get(key) {
            return p.lock().add([nums, size], 1, at);
        }
        let mut items = self.items.write();
        let p = items
            .entry(key.to_owned())
            .or_insert_with(|| Mutex::new(Pair::new(at)));
        p.get_mut().add([nums, size], 1, at);
    }

    fn windows(&self, key: &str, size: bool, at: Instant) -> Option<Windows> {
        let items = self.items.read();
        let mut p = items.get(key)?.lock();
        Some(p.windows(at, if size { SIZE } else { NUMS }))
    }

    fn forget(&self, keep: impl Fn(&str) -> bool) {
        self.items.write().retain(|k, _| keep(k));
    }
}

/// The broker's statistics (Java's `BrokerStatsManager`, the items tools read).
#[derive(Debug)]
pub struct BrokerStats {
    cluster: String,
    topic_put: Table,
    group_get: Table,
    /// `SNDBCK_PUT_NUMS`; the size side is unused.
    send_back: Table,
    broker_put: Mutex<Counter<1>>,
    broker_get: Mutex<Counter<1>>,
}

impl BrokerStats {
    /// Statistics of a broker of `cluster` (the key of the broker-wide items).
    pub fn new(cluster: &str) -> BrokerStats {
        let now = Instant::now();
        BrokerStats {
            cluster: cluster.to_owned(),
            topic_put: Table::default(),
            group_get: Table::default(),
            send_back: Table::default(),
            broker_put: Mutex::new(Counter::new(now)),
            broker_get: Mutex::new(Counter::new(now)),
        }
    }

    /// One send stored `messages` messages of `bytes` bytes in `topic`.
    pub fn put(&self, topic: &str, messages: u64, bytes: u64) {
        let now = Instant::now();
        self.topic_put.add(topic, messages, bytes, now);
        self.broker_put.lock().add([messages], 0, now);
    }

    /// One pull or pop handed `messages` messages of `bytes` bytes of `topic` to `group`.
    pub fn get(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        let now = Instant::now();
        self.group_get.add(&group_key(topic, group), messages, bytes, now);
        self.broker_get.lock().add([messages], 0, now);
    }

    /// `group` sent a message of `topic` back for a later retry.
    pub fn send_back(&self, topic: &str, group: &str) {
        self.send_back.add(&group_key(topic, group), 1, 0, Instant::now());
    }

    /// Messages per second pulled by `group` from `topic` over the last minute (`consumeTps`); 0
    /// for a pair never seen.
    pub fn get_tps(&self, topic: &str, group: &str) -> f64 {
        self.group_get
            .windows(&group_key(topic, group), false, Instant::now())
            .map_or(0.0, |w| w.minute.tps)
    }

    /// The item `name` of `key` (VIEW_BROKER_STATS_DATA), or None for a name this broker does not
    /// keep or a key never counted, where Java answers "The stats <name> <key> not exist".
    pub fn windows(&self, name: &str, key: &str) -> Option<Windows> {
        self.windows_at(name, key, Instant::now())
    }

    fn windows_at(&self, name: &str, key: &str, at: Instant) -> Option<Windows> {
        match name {
            TOPIC_PUT_NUMS => self.topic_put.windows(key, false, at),
            TOPIC_PUT_SIZE => self.topic_put.windows(key, true, at),
            GROUP_GET_NUMS => self.group_get.windows(key, false, at),
            GROUP_GET_SIZE => self.group_get.windows(key, true, at),
            SNDBCK_PUT_NUMS => self.send_back.windows(key, false, at),
            BROKER_PUT_NUMS if key == self.cluster => Some(self.broker_put.lock().windows(at, 0)),
            BROKER_GET_NUMS if key == self.cluster => Some(self.broker_get.lock().windows(at, 0)),
            _ => None,
        }
    }

    /// Drops the items of a deleted topic (Java's `onTopicDeleted`).
    pub fn forget_topic(&self, topic: &str) {
        self.topic_put.forget(|k| k != topic);
        let of_topic = |k: &str| k.strip_prefix(topic).is_some_and(|rest| rest.starts_with('@'));
        self.group_get.forget(|k| !of_topic(k));
        self.send_back.forget(|k| !of_topic(k));
    }
}

/// The `topic@group` key of Java's group statistics.
pub fn group_key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within 3 %: the samples are a step apart and the additions here are whole seconds.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b * 0.03
    }

    #[test]
    fn minute_hour_and_day_of_a_steady_stream() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut c = Counter::<1>::new(t0);
        // 100 messages a second in sends of 10, for two hours, in 1-s steps.
        for s in 1..=7200 {
            c.add([100], 10, at(s));
        }
        let w = c.windows(at(7200), 0);
        // The minute: about 60 s of growth (up to one 10-s step more), 100 a second, 10 per send.
        assert!((6000..=7000).contains(&w.minute.sum), "{w:?}");
        assert!(close(w.minute.tps, 100.0), "{w:?}");
        assert!(close(w.minute.avgpt, 10.0), "{w:?}");
        // The hour: 3600 s (up to one 10-min step more).
        assert!((360_000..=420_000).contains(&w.hour.sum), "{w:?}");
        assert!(close(w.hour.tps, 100.0), "{w:?}");
        // The day: everything so far (two hours).
        assert_eq!(w.day.sum, 720_000);
        assert!(close(w.day.tps, 100.0), "{w:?}");
        // Two idle minutes: the minute is empty, the hour still counts.
        let w = c.windows(at(7200 + 130), 0);
        assert_eq!(w.minute, Snapshot::default());
        assert!(w.hour.sum >= 360_000, "{w:?}");
        // A burst after a long pause counts in the minute only what it added.
        c.add([50], 1, at(7200 + 4000));
        let w = c.windows(at(7200 + 4001), 0);
        assert_eq!(w.minute.sum, 50);
        assert_eq!(w.minute.avgpt, 50.0);
        // The hour's oldest sample is kept while what followed it may fall in the hour: the
        // send at 7200 s, a little more than an hour ago, still counts.
        assert_eq!(w.hour.sum, 150);
        assert_eq!(w.day.sum, 720_050);
    }

    #[test]
    fn items_by_name_and_key() {
        let stats = BrokerStats::new("DefaultCluster");
        let t0 = Instant::now();
        assert_eq!(stats.windows(TOPIC_PUT_NUMS, "T"), None);
        stats.put("T", 3, 300);
        stats.put("T", 1, 100);
        stats.get("T", "G", 4, 400);
        stats.send_back("T", "G");
        let later = t0 + Duration::from_secs(5);
        let w = |name, key| stats.windows_at(name, key, later).unwrap().minute;
        assert_eq!(w(TOPIC_PUT_NUMS, "T").sum, 4);
        assert_eq!(w(TOPIC_PUT_NUMS, "T").avgpt, 2.0);
        assert_eq!(w(TOPIC_PUT_SIZE, "T").sum, 400);
        assert_eq!(w(GROUP_GET_NUMS, "T@G").sum, 4);
        assert_eq!(w(GROUP_GET_SIZE, "T@G").sum, 400);
        assert_eq!(w(SNDBCK_PUT_NUMS, "T@G").sum, 1);
        assert_eq!(w(BROKER_PUT_NUMS, "DefaultCluster").sum, 4);
        assert_eq!(w(BROKER_PUT_NUMS, "DefaultCluster").avgpt, 0.0);
        assert_eq!(w(BROKER_GET_NUMS, "DefaultCluster").sum, 4);
        assert_eq!(stats.windows_at(BROKER_PUT_NUMS, "Other", later), None);
        assert_eq!(stats.windows_at("NO_SUCH_ITEM", "T", later), None);
        assert!(stats.get_tps("T", "G") > 0.0);
        assert_eq!(stats.get_tps("T", "Other"), 0.0);
        // A deleted topic's items go; a topic whose name starts with it stays.
        stats.put("T2", 1, 1);
        stats.get("T2", "G", 1, 1);
        stats.forget_topic("T");
        assert_eq!(stats.windows(TOPIC_PUT_NUMS, "T"), None);
        assert_eq!(stats.windows(GROUP_GET_NUMS, "T@G"), None);
        assert_eq!(stats.windows(SNDBCK_PUT_NUMS, "T@G"), None);
        assert!(stats.windows(TOPIC_PUT_NUMS, "T2").is_some());
        assert!(stats.windows(GROUP_GET_NUMS, "T2@G").is_some());
    }
}

/// `BrokerStats`: the put and get totals recorded at the last two midnights (UTC here; Java's
/// are local midnights), for `msgPutTotalTodayMorning` and friends. Recorded by the broker's
/// 10-second housekeeping, so within 10 s of midnight.
#[derive(Debug, Default)]
pub struct DailyTotals {
    inner: Mutex<Daily>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Daily {
    day: i64,
    pub put_today_morning: u64,
    pub put_yesterday_morning: u64,
    pub get_today_morning: u64,
    pub get_yesterday_morning: u64,
}

impl DailyTotals {
    /// Starts counting days at `now_ms`: the mornings stay 0 until the first midnight, as Java's.
    pub fn new(now_ms: i64) -> DailyTotals {
        DailyTotals {
            inner: Mutex::new(Daily {
                day: now_ms.div_euclid(86_400_000),
                ..Daily::default()
            }),
        }
    }

    /// Records the totals as the morning's when a new day began since the last call.
    pub fn observe(&self, now_ms: i64, put_total: u64, get_total: u64) -> Daily {
        let mut d = self.inner.lock();
        let day = now_ms.div_euclid(86_400_000);
        if day > d.day {
            d.put_yesterday_morning = if day == d.day + 1 {
                d.put_today_morning
            } else {
                put_total
            };
            d.get_yesterday_morning = if day == d.day + 1 {
                d.get_today_morning
            } else {
                get_total
            };
            d.put_today_morning = put_total;
            d.get_today_morning = get_total;
            d.day = day;
        }
        *d
    }
}
