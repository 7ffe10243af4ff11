//! Waiting on positive signals: poll a condition until it holds, fail with what was awaited once
//! a deadline passes. Tests never sleep to let something (not) happen; they wait for a state
//! that proves it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a condition is re-checked.
const POLL: Duration = Duration::from_millis(10);

/// Polls `cond` until it holds; panics naming `what` once `within` has passed.
pub async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Milliseconds since the epoch: the clock the store stamps records with.
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Returns once the wall clock reads at least `ms` (a few milliseconds away at most: spins).
pub fn wait_for_wall_ms(ms: i64) {
    while wall_ms() < ms {
        std::thread::yield_now();
    }
}
