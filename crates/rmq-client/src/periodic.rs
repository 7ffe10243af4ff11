//! Background jobs that live as long as the client object they serve.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;

/// Runs `job` after `delay`, then every `period`, for as long as `weak` can be upgraded.
pub(crate) fn spawn_periodic<T, F, Fut>(
    weak: Weak<T>,
    delay: Duration,
    period: Duration,
    job: F,
) -> JoinHandle<()>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + delay, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            job(inner).await;
        }
    })
}
