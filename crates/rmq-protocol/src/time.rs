//! The one clock: wall time in epoch milliseconds and monotonic instants, readable from a
//! [`Clock`] that production code takes from the system and tests drive by hand.
//!
//! `Clock` is a cheap-clone enum rather than a trait object: there are exactly two clocks, and
//! state that keeps one (`BrokerState`, `StoreConfig`, `ClientConfig`) stays `Clone + Debug`
//! without generics. Wall time ([`Clock::now_ms`]) is what goes on the wire and into records
//! (born/store timestamps, data versions, delay due times); monotonic time ([`Clock::instant`])
//! measures ages where a wall-clock jump must not matter (lock and heartbeat expiry). A
//! [`ManualClock`] moves both together, only when told to.
//!
//! Tokio timers (`sleep`, `interval`) are not driven by this clock: tests control them with
//! tokio's paused time (`#[tokio::test(start_paused = true)]`).
//!
//! Reading the system clock is this crate's only contact with the outside world.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch by the system's wall clock (0 if it reads before 1970).
/// For the few places that truly want the wall (CLI timestamps); state should hold a [`Clock`].
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31), proleptic Gregorian, UTC (Howard
/// Hinnant's `civil_from_days`). The one calendar of the project: message ids, index file names,
/// CLI timestamps.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month 1..=12, day) → days since 1970-01-01, the inverse of [`civil_from_days`].
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where time comes from.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system's wall clock and `Instant::now()`.
    #[default]
    System,
    /// A clock that moves only when its [`ManualClock`] is advanced (tests).
    Manual(ManualClock),
}

impl Clock {
    /// Wall time: milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => now_ms(),
            Clock::Manual(m) => m.now_ms(),
        }
    }

    /// Monotonic time, for measuring ages.
    pub fn instant(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Manual(m) => m.instant(),
        }
    }
}

impl From<ManualClock> for Clock {
    fn from(m: ManualClock) -> Clock {
        Clock::Manual(m)
    }
}

/// A hand-driven clock; clones share the same time. Wall and monotonic time start at the
/// values given to [`ManualClock::new`] / the moment of creation, and advance together.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Manual>,
}

#[derive(Debug)]
struct Manual {
    start_ms: i64,
    start_instant: Instant,
    /// Milliseconds advanced since the start.
    elapsed_ms: AtomicU64,
}

impl ManualClock {
    /// A clock reading `start_ms` (epoch milliseconds) until advanced.
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            inner: Arc::new(Manual {
                start_ms,
                start_instant: Instant::now(),
                elapsed_ms: AtomicU64::new(0),
            }),
        }
    }

    /// A clock starting at the system's current wall time (for code that compares with times
    /// stamped by the system clock, e.g. a store's record timestamps).
    pub fn starting_now() -> ManualClock {
        ManualClock::new(now_ms())
    }

    /// Moves the clock forward by `by` (whole milliseconds).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.inner.elapsed_ms.fetch_add(ms, Ordering::AcqRel);
    }

    /// Wall time: `start_ms` plus what was advanced.
    pub fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.elapsed()).unwrap_or(i64::MAX);
        self.inner.start_ms.saturating_add(elapsed)
    }

    /// Monotonic time: the creation instant plus what was advanced.
    pub fn instant(&self) -> Instant {
        self.inner.start_instant + Duration::from_millis(self.elapsed())
    }

    /// The clock to hand to the code under test.
    pub fn clock(&self) -> Clock {
        Clock::Manual(self.clone())
    }

    fn elapsed(&self) -> u64 {
        self.inner.elapsed_ms.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let m = ManualClock::new(1_000);
        let clock = m.clock();
        let t0 = clock.instant();
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.instant(), t0);
        m.advance(Duration::from_millis(250));
        assert_eq!(clock.now_ms(), 1_250);
        assert_eq!(clock.instant() - t0, Duration::from_millis(250));
        let other = clock.clone();
        m.advance(Duration::from_secs(1));
        assert_eq!(other.now_ms(), 2_250);
    }

    #[test]
    fn system_clock_reads_the_wall() {
        let before = now_ms();
        let read = Clock::System.now_ms();
        assert!(read >= before && read - before < 60_000, "{before} {read}");
        assert!(before > 1_600_000_000_000, "after 2020: {before}");
    }
}
