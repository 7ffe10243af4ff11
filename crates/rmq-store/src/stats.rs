//! Put and get statistics of the store (Java's `StoreStatsService`): totals, the put time
//! distribution, and the TPS over the last 10 s, 60 s and 600 s that `mqadmin brokerStatus` and
//! `clusterList` print (GET_BROKER_RUNTIME_INFO).
//!
//! Java samples the counters on a thread once a second. Here a sample is taken lazily: whoever
//! touches the stats first in a new second (a put, a get, a runtime-info read) records the
//! counters as they stood at every whole second since the last sample. No event happened in
//! between, so those values are exact, and an idle store costs nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;

/// Samples kept: 600 s and the one before (`MAX_RECORDS_OF_SAMPLING + 1`).
const MAX_SAMPLES: usize = 601;
/// The put time distribution's buckets (`PUT_MESSAGE_ENTIRE_TIME_MAX_DESC`), upper bounds in ms.
const DISTRIBUTION: [(&str, u64); 13] = [
    ("[<=0ms]", 1),
    ("[0~10ms]", 10),
    ("[10~50ms]", 50),
    ("[50~100ms]", 100),
    ("[100~200ms]", 200),
    ("[200~500ms]", 500),
    ("[500ms~1s]", 1_000),
    ("[1~2s]", 2_000),
    ("[2~3s]", 3_000),
    ("[3~4s]", 4_000),
    ("[4~5s]", 5_000),
    ("[5~10s]", 10_000),
    ("[10s~]", u64::MAX),
];

#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    ms: i64,
    put: u64,
    found: u64,
    miss: u64,
    transferred: u64,
}

#[derive(Default)]
struct Window {
    samples: VecDeque<Sample>,
    /// The put time distribution of the last whole minute (what Java prints).
    last: [u64; 13],
    minute: i64,
}

pub struct StoreStats {
    boot_ms: i64,
    put_times: AtomicU64,
    put_bytes: AtomicU64,
    put_failed: AtomicU64,
    put_time_max_ms: AtomicU64,
    get_found: AtomicU64,
    get_miss: AtomicU64,
    get_transferred: AtomicU64,
    get_time_max_ms: AtomicU64,
    /// The put time distribution of the current minute.
    distribution: [AtomicU64; 13],
    last_second: AtomicI64,
    window: Mutex<Window>,
}

/// TPS between two samples, as `CallSnapshot.getTPS`.
fn tps(begin: u64, end: u64, begin_ms: i64, end_ms: i64) -> f64 {
    let dt = (end_ms - begin_ms).max(1) as f64;
    end.saturating_sub(begin) as f64 / dt * 1000.0
}

/// A Java `double` as `String.valueOf` prints it for the values these take (`0.0`, `12.5`).
pub fn java_double(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

impl StoreStats {
    pub fn new(now_ms: i64) -> StoreStats {
        StoreStats {
            boot_ms: now_ms,
            put_times: AtomicU64::new(0),
            put_bytes: AtomicU64::new(0),
            put_failed: AtomicU64::new(0),
            put_time_max_ms: AtomicU64::new(0),
            get_found: AtomicU64::new(0),
            get_miss: AtomicU64::new(0),
            get_transferred: AtomicU64::new(0),
            get_time_max_ms: AtomicU64::new(0),
            distribution: Default::default(),
            last_second: AtomicI64::new(now_ms.div_euclid(1000)),
            window: Mutex::new(Window {
                minute: now_ms.div_euclid(60_000),
                ..Window::default()
            }),
        }
    }

    pub fn boot_ms(&self) -> i64 {
        self.boot_ms
    }

    /// Records the counters at every whole second up to `now_ms` not sampled yet; called before
    /// an event changes them.
    pub fn tick(&self, now_ms: i64) {
        let second = now_ms.div_euclid(1000);
        let last = self.last_second.load(Ordering::Relaxed);
        if second <= last
            || self
                .last_second
                .compare_exchange(last, second, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let now = Sample {
            ms: 0,
            put: self.put_times.load(Ordering::Relaxed),
            found: self.get_found.load(Ordering::Relaxed),
            miss: self.get_miss.load(Ordering::Relaxed),
            transferred: self.get_transferred.load(Ordering::Relaxed),
        };
        let mut w = self.window.lock();
        let from = (last + 1).max(second - MAX_SAMPLES as i64 + 1);
        for s in from..=second {
            w.samples.push_back(Sample { ms: s * 1000, ..now });
        }
        while w.samples.len() > MAX_SAMPLES {
            w.samples.pop_front();
        }
        let minute = now_ms.div_euclid(60_000);
        if minute > w.minute {
            let ended = self.distribution.each_ref().map(|n| n.swap(0, Ordering::Relaxed));
            w.last = if minute == w.minute + 1 { ended } else { [0; 13] };
            w.minute = minute;
        }
    }

    /// A put of `msgs` messages (`bytes` in the commitlog) that took `took_ms` to append.
    pub fn on_put(&self, now_ms: i64, msgs: u64, bytes: u64, took_ms: u64) {
        self.tick(now_ms);
        self.put_times.fetch_add(msgs, Ordering::Relaxed);
        self.put_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.put_time_max_ms.fetch_max(took_ms, Ordering::Relaxed);
        let bucket = DISTRIBUTION
            .iter()
            .position(|(_, upper)| took_ms < *upper)
            .unwrap_or(DISTRIBUTION.len() - 1);
        if let Some(n) = self.distribution.get(bucket) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn on_put_failed(&self) {
        self.put_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A get that found `msgs` messages (0: a miss).
    pub fn on_get(&self, now_ms: i64, msgs: u64, took_ms: u64) {
        self.tick(now_ms);
        if msgs > 0 {
            self.get_found.fetch_add(1, Ordering::Relaxed);
            self.get_transferred.fetch_add(msgs, Ordering::Relaxed);
        } else {
            self.get_miss.fetch_add(1, Ordering::Relaxed);
        }
        self.get_time_max_ms.fetch_max(took_ms, Ordering::Relaxed);
    }

    pub fn put_times(&self) -> u64 {
        self.put_times.load(Ordering::Relaxed)
    }

    /// Messages handed to consumers.
    pub fn get_transferred(&self) -> u64 {
        self.get_transferred.load(Ordering::Relaxed)
    }

    /// `"a b c"`: the TPS of `pick` over 10, 60 and 600 s, each empty until that many seconds
    /// were sampled (as Java prints them).
    fn tps3(w: &Window, pick: impl Fn(&Sample) -> u64) -> String {
        [10usize, 60, 600]
            .iter()
            .map(
                |&t| match (w.samples.len().checked_sub(t + 1), w.samples.back()) {
                    (Some(i), Some(last)) => w
                        .samples
                        .get(i)
                        .map(|b| java_double(tps(pick(b), pick(last), b.ms, last.ms)))
                        .unwrap_or_default(),
                    _ => String::new(),
                },
            )
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The TPS of puts over the last `seconds` (0.0 until that long was sampled).
    pub fn put_tps(&self, now_ms: i64, seconds: usize) -> f64 {
        self.tick(now_ms);
        let w = self.window.lock();
        match (w.samples.len().checked_sub(seconds + 1), w.samples.back()) {
            (Some(i), Some(last)) => w
                .samples
                .get(i)
                .map_or(0.0, |b| tps(b.put, last.put, b.ms, last.ms)),
            _ => 0.0,
        }
    }

    /// The keys `StoreStatsService.getRuntimeInfo` adds to GET_BROKER_RUNTIME_INFO.
    pub fn runtime_info(&self, now_ms: i64, out: &mut Vec<(String, String)>) {
        self.tick(now_ms);
        let total = self.put_times.load(Ordering::Relaxed).max(1);
        let bytes = self.put_bytes.load(Ordering::Relaxed);
        let w = self.window.lock();
        let up = (now_ms - self.boot_ms).max(0) / 1000;
        let mut put = |k: &str, v: String| out.push((k.to_string(), v));
        put("bootTimestamp", self.boot_ms.to_string());
        put(
            "runtime",
            format!(
                "[ {} days, {} hours, {} minutes, {} seconds ]",
                up / 86_400,
                up % 86_400 / 3_600,
                up % 3_600 / 60,
                up % 60
            ),
        );
        put(
            "putMessageEntireTimeMax",
            self.put_time_max_ms.load(Ordering::Relaxed).to_string(),
        );
        put("putMessageTimesTotal", total.to_string());
        put(
            "putMessageFailedTimes",
            self.put_failed.load(Ordering::Relaxed).to_string(),
        );
        put("putMessageSizeTotal", bytes.to_string());
        put(
            "putMessageDistributeTime",
            DISTRIBUTION
                .iter()
                .zip(w.last)
                .map(|((desc, _), n)| format!("{desc}:{n} "))
                .collect(),
        );
        put("putMessageAverageSize", java_double(bytes as f64 / total as f64));
        put("dispatchMaxBuffer", "0".into());
        put(
            "getMessageEntireTimeMax",
            self.get_time_max_ms.load(Ordering::Relaxed).to_string(),
        );
        put("putTps", Self::tps3(&w, |s| s.put));
        put("getFoundTps", Self::tps3(&w, |s| s.found));
        put("getMissTps", Self::tps3(&w, |s| s.miss));
        put("getTotalTps", {
            let both = |t: usize| match (w.samples.len().checked_sub(t + 1), w.samples.back()) {
                (Some(i), Some(last)) => w.samples.get(i).map_or(0.0, |b| {
                    tps(b.found, last.found, b.ms, last.ms) + tps(b.miss, last.miss, b.ms, last.ms)
                }),
                _ => 0.0,
            };
            [10, 60, 600].map(|t| java_double(both(t))).join(" ")
        });
        put("getTransferedTps", Self::tps3(&w, |s| s.transferred));
        let (p99, p999) = percentiles(&w.last);
        put("putLatency99", format!("{p99:.2}"));
        put("putLatency999", format!("{p999:.2}"));
    }
}

/// The 99th and 99.9th percentile put time (ms) of the last whole minute, interpolated inside
/// the distribution's buckets (Java interpolates inside finer ones).
fn percentiles(d: &[u64; 13]) -> (f64, f64) {
    let total: u64 = d.iter().sum();
    let at = |px: f64| {
        let index = (total as f64 * px) as u64;
        let mut passed = 0;
        let mut lower = 0.0;
        for ((_, upper), &n) in DISTRIBUTION.iter().zip(d) {
            let upper = if *upper == u64::MAX {
                20_000.0
            } else {
                *upper as f64
            };
            if index <= passed + n {
                return if n == 0 {
                    lower
                } else {
                    lower + (upper - lower) * (index - passed) as f64 / n as f64
                };
            }
            passed += n;
            lower = upper;
        }
        lower
    };
    if total == 0 {
        (0.0, 0.0)
    } else {
        (at(0.99), at(0.999))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(s: &StoreStats, now: i64) -> std::collections::HashMap<String, String> {
        let mut out = Vec::new();
        s.runtime_info(now, &mut out);
        out.into_iter().collect()
    }

    #[test]
    fn tps_windows_fill_as_seconds_pass() {
        let t0 = 1_000_000_000_000;
        let s = StoreStats::new(t0);
        // 100 puts a second for 15 s, one get per second finding 10
        for sec in 0..15 {
            let now = t0 + sec * 1000 + 500;
            s.on_put(now, 100, 100 * 200, 3);
            s.on_get(now, 10, 1);
        }
        let i = info(&s, t0 + 15_500);
        let put_tps: Vec<&str> = i["putTps"].split(' ').collect();
        assert_eq!(put_tps.len(), 3);
        assert_eq!(put_tps[0], "100.0");
        assert_eq!(put_tps[1], "", "60 s not sampled yet");
        assert_eq!(i["getTransferedTps"].split(' ').next(), Some("10.0"));
        assert_eq!(i["putMessageTimesTotal"], "1500");
        assert_eq!(i["putMessageSizeTotal"], "300000");
        assert_eq!(i["putMessageAverageSize"], "200.0");
        assert_eq!(i["putMessageEntireTimeMax"], "3");
        assert_eq!(i["runtime"], "[ 0 days, 0 hours, 0 minutes, 15 seconds ]");
        assert_eq!(s.put_tps(t0 + 15_500, 10), 100.0);
    }

    #[test]
    fn distribution_is_the_last_whole_minute() {
        let t0 = 60_000 * 1_000_000;
        let s = StoreStats::new(t0);
        s.on_put(t0 + 1, 1, 10, 0);
        s.on_put(t0 + 2, 1, 10, 12);
        assert!(info(&s, t0 + 3)["putMessageDistributeTime"].starts_with("[<=0ms]:0 [0~10ms]:0"));
        let i = info(&s, t0 + 60_001);
        assert!(
            i["putMessageDistributeTime"].starts_with("[<=0ms]:1 [0~10ms]:0 [10~50ms]:1 "),
            "{}",
            i["putMessageDistributeTime"]
        );
        assert_eq!(i["putLatency99"], "1.00");
        // an idle minute later the distribution is empty again
        assert!(info(&s, t0 + 180_000)["putMessageDistributeTime"]
            .starts_with("[<=0ms]:0 [0~10ms]:0 [10~50ms]:0"));
    }

    #[test]
    fn doubles_print_as_java() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(12.0), "12.0");
        assert_eq!(java_double(12.5), "12.5");
    }
}
