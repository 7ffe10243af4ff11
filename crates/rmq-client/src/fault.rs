//! Latency-based broker fault avoidance (`sendLatencyFaultEnable`, Java `MQFaultStrategy` +
//! `LatencyFaultToleranceImpl`).
//!
//! Every send attempt reports its broker and latency. A latency of at least `latency_max_ms[i]`
//! makes the broker unavailable for `not_available_duration_ms[i]`; a failed attempt is an
//! "isolation" and counts as a latency of 30 000 ms, which with the default tables means
//! 600 s (the Java client does exactly this: `computeNotAvailableDuration(30000)`).
//! Queue selection then skips unavailable brokers; when every broker of the topic is
//! unavailable it falls back to the "least bad" one.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmq_protocol::time::Clock;

/// The latency a failed attempt is charged with (`MQFaultStrategy.updateFaultItem(.., true)`).
pub const ISOLATION_LATENCY_MS: u64 = 30_000;
/// `MQFaultStrategy.latencyMax`.
pub const DEFAULT_LATENCY_MAX_MS: [u64; 7] = [50, 100, 550, 1000, 2000, 3000, 15000];
/// `MQFaultStrategy.notAvailableDuration`.
pub const DEFAULT_NOT_AVAILABLE_DURATION_MS: [u64; 7] = [0, 0, 30_000, 60_000, 120_000, 180_000, 600_000];

#[derive(Debug, Clone, Copy)]
struct FaultItem {
    latency_ms: u64,
    available_at: Instant,
}

impl FaultItem {
    fn is_available(&self, now: Instant) -> bool {
        now >= self.available_at
    }
}

/// brokerName → last latency and the instant it is available again. The lock is never held
/// across an `.await`.
#[derive(Debug)]
pub(crate) struct FaultTable {
    latency_max_ms: Vec<u64>,
    not_available_duration_ms: Vec<u64>,
    items: Mutex<HashMap<String, FaultItem>>,
    /// Rotates among the better half in [`pick_one_at_least`](Self::pick_one_at_least).
    which_worst: AtomicUsize,
    /// Measures how long a broker stays unavailable.
    clock: Clock,
}

impl FaultTable {
    pub fn new(latency_max_ms: &[u64], not_available_duration_ms: &[u64], clock: Clock) -> Self {
        FaultTable {
            clock,
            latency_max_ms: latency_max_ms.to_vec(),
            not_available_duration_ms: not_available_duration_ms.to_vec(),
            items: Mutex::new(HashMap::new()),
            which_worst: AtomicUsize::new(0),
        }
    }

    /// Records one attempt on `broker`: `isolation` for a failed one.
    pub fn update(&self, broker: &str, latency_ms: u64, isolation: bool) {
        let charged = if isolation {
            ISOLATION_LATENCY_MS
        } else {
            latency_ms
        };
        let duration = Duration::from_millis(self.not_available_duration(charged));
        let item = FaultItem {
            latency_ms,
            available_at: self.clock.instant() + duration,
        };
        self.items.lock().insert(broker.to_owned(), item);
    }

    /// The duration of the largest `latency_max_ms` step `latency_ms` reaches (0 below all).
    pub fn not_available_duration(&self, latency_ms: u64) -> u64 {
        self.latency_max_ms
            .iter()
            .zip(&self.not_available_duration_ms)
            .rev()
            .find(|(max, _)| latency_ms >= **max)
            .map_or(0, |(_, d)| *d)
    }

    /// Brokers never reported are available.
    pub fn is_available(&self, broker: &str) -> bool {
        self.items
            .lock()
            .get(broker)
            .is_none_or(|i| i.is_available(self.clock.instant()))
    }

    pub fn remove(&self, broker: &str) {
        self.items.lock().remove(broker);
    }

    /// The least bad broker known: available ones first, then lower latency, then the one
    /// available soonest; rotates over the better half when there are several.
    pub fn pick_one_at_least(&self) -> Option<String> {
        let now = self.clock.instant();
        let mut items: Vec<(String, FaultItem)> = self
            .items
            .lock()
            .iter()
            .map(|(name, item)| (name.clone(), *item))
            .collect();
        if items.is_empty() {
            return None;
        }
        items.sort_by_key(|(_, i)| (!i.is_available(now), i.latency_ms, i.available_at));
        let half = items.len() / 2;
        let index = if half == 0 {
            0
        } else {
            self.which_worst.fetch_add(1, Ordering::Relaxed) % half
        };
        Some(items.swap_remove(index).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FaultTable {
        FaultTable::new(
            &DEFAULT_LATENCY_MAX_MS,
            &DEFAULT_NOT_AVAILABLE_DURATION_MS,
            Clock::System,
        )
    }

    #[test]
    fn latency_steps_map_to_durations() {
        let t = table();
        for (latency, expected) in [
            (0, 0),
            (49, 0),
            (100, 0),
            (549, 0),
            (550, 30_000),
            (1000, 60_000),
            (2999, 120_000),
            (3000, 180_000),
            (15_000, 600_000),
            (ISOLATION_LATENCY_MS, 600_000),
        ] {
            assert_eq!(t.not_available_duration(latency), expected, "latency {latency}");
        }
    }

    #[test]
    fn isolation_makes_a_broker_unavailable_and_success_clears_it() {
        let t = table();
        assert!(t.is_available("a"));
        t.update("a", 5, true);
        assert!(!t.is_available("a"));
        assert!(t.is_available("b"));
        t.update("a", 20, false);
        assert!(t.is_available("a"));
        t.update("a", 700, false); // slow: 30 s out
        assert!(!t.is_available("a"));
        t.remove("a");
        assert!(t.is_available("a"));
    }

    #[test]
    fn pick_one_at_least_prefers_available_then_fast() {
        let t = table();
        assert_eq!(t.pick_one_at_least(), None);
        t.update("slow", 2500, false);
        t.update("dead", 10, true);
        // Both unavailable: the lower latency wins (only one in the better half of 2).
        assert_eq!(t.pick_one_at_least().as_deref(), Some("dead"));
        t.update("ok", 10, false);
        t.update("ok2", 30, false);
        // 4 items, half = 2: rotates between the two available ones.
        let picks: Vec<String> = (0..4).filter_map(|_| t.pick_one_at_least()).collect();
        assert!(picks.iter().all(|p| p == "ok" || p == "ok2"), "{picks:?}");
        assert!(picks.contains(&"ok".to_owned()) && picks.contains(&"ok2".to_owned()));
    }

    #[test]
    fn custom_tables_expire() {
        let time = rmq_protocol::time::ManualClock::new(0);
        let t = FaultTable::new(&[0], &[30], time.clock());
        t.update("a", 1, true);
        assert!(!t.is_available("a"));
        time.advance(Duration::from_millis(29));
        assert!(!t.is_available("a"), "29 ms of 30");
        time.advance(Duration::from_millis(1));
        assert!(t.is_available("a"), "available again after 30 ms");
    }
}
