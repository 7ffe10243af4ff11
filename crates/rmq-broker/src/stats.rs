//! Moving per-minute rates, the part of Java's `BrokerStatsManager` that tools show: messages
//! pulled per `topic@group` (`GROUP_GET_NUMS`), read back as the `consumeTps` of
//! GET_CONSUME_STATS (`mqadmin consumerProgress`).
//!
//! Like Java's `StatsItem`, a counter keeps a sample every 10 s; the rate is the growth since
//! the newest sample that is at least a minute old (or the oldest one), per second. Sampling
//! happens when the counter is touched, so there is no background task.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Counter {
    total: u64,
    /// (time, total then), oldest first.
    samples: VecDeque<(Instant, u64)>,
}

impl Counter {
    fn sample(&mut self, now: Instant) {
        if self
            .samples
            .back()
            .is_none_or(|(t, _)| now.duration_since(*t) >= SAMPLE_EVERY)
        {
            self.samples.push_back((now, self.total));
        }
        while self.samples.len() > 1 && now.duration_since(self.samples[1].0) >= WINDOW {
            self.samples.pop_front();
        }
    }
}

/// Counters by key, each with its per-minute rate.
#[derive(Debug, Default)]
pub struct MinuteRates {
    counters: Mutex<HashMap<String, Counter>>,
}

impl MinuteRates {
    /// Adds `n` to the counter of `key`.
    pub fn add(&self, key: &str, n: u64) {
        self.add_at(key, n, Instant::now());
    }

    /// Per-second growth of `key` over about the last minute; 0 for an unknown key.
    pub fn per_second(&self, key: &str) -> f64 {
        self.per_second_at(key, Instant::now())
    }

    fn add_at(&self, key: &str, n: u64, now: Instant) {
        let mut counters = self.counters.lock();
        let c = match counters.get_mut(key) {
            Some(c) => c,
            None => counters.entry(key.to_owned()).or_insert_with(|| Counter {
                total: 0,
                samples: VecDeque::from([(now, 0)]),
            }),
        };
        c.total += n;
        c.sample(now);
    }

    fn per_second_at(&self, key: &str, now: Instant) -> f64 {
        let mut counters = self.counters.lock();
        let Some(c) = counters.get_mut(key) else {
            return 0.0;
        };
        c.sample(now);
        let (since, base) = c.samples[0];
        let secs = now.duration_since(since).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        (c.total - base) as f64 / secs
    }
}

/// The `topic@group` key of Java's group statistics.
pub fn group_key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_the_last_minute() {
        let rates = MinuteRates::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(rates.per_second_at("T@G", t0), 0.0);
        // 100 messages a second for two minutes, in 1-s steps.
        for s in 1..=120 {
            rates.add_at("T@G", 100, at(s));
        }
        let r = rates.per_second_at("T@G", at(120));
        assert!((r - 100.0).abs() < 1.0, "{r}");
        // Nothing for two minutes: the rate falls to 0.
        rates.per_second_at("T@G", at(180));
        assert_eq!(rates.per_second_at("T@G", at(240)), 0.0);
        // Other keys are separate.
        assert_eq!(rates.per_second_at("T@Other", at(240)), 0.0);
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
