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

#[cfg(test)]
mod tests {
    use super::*;

    /// The job runs first after `delay`, then every `period` (paused tokio time, advanced by
    /// hand), and the task ends once its owner is dropped.
    #[tokio::test(start_paused = true)]
    async fn runs_after_the_delay_then_every_period_until_the_owner_is_dropped() {
        let (tx, mut runs) = tokio::sync::mpsc::unbounded_channel();
        let owner = Arc::new(tx);
        let start = tokio::time::Instant::now();
        let task = spawn_periodic(
            Arc::downgrade(&owner),
            Duration::from_secs(10),
            Duration::from_secs(20),
            |tx: Arc<tokio::sync::mpsc::UnboundedSender<tokio::time::Instant>>| async move {
                let _ = tx.send(tokio::time::Instant::now());
            },
        );
        for expected in [10, 30, 50] {
            let at = runs.recv().await.expect("a run");
            assert_eq!(at - start, Duration::from_secs(expected));
        }
        drop(owner);
        task.await
            .expect("the task returns at its next tick once the owner is gone");
        assert!(runs.recv().await.is_none(), "no run after the owner was dropped");
    }
}
