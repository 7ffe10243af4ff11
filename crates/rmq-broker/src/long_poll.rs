//! Long polling (docs/protocol/pull.md#long-polling): pulls that found nothing wait here, keyed by (topic,
//! queue id), until a message they can use is dispatched, their hold time ends, or their connection closes.
//!
//! One background task ([`dispatch_arrivals`]) reads the store's arrival broadcast and wakes the
//! waiters of that queue whose cursor the new message reaches and whose tag filter it passes. A
//! lagging receiver wakes everyone (each waiter re-checks the queue itself).
//!
//! No lost wake-ups: a waiter registers first and only then re-reads the queue's max offset;
//! `Notify` keeps a permit for a wake that lands between the two.
//!
//! The number of held pulls is capped; [`PullWaiters::register`] refuses beyond the cap.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use rmq_store::Arrival;
use tokio::sync::{broadcast, Notify};

use crate::filter::TagFilter;

struct Slot {
    id: u64,
    /// Wake for a message at this queue offset or later.
    cursor: i64,
    filter: Arc<TagFilter>,
    wake: Arc<Notify>,
}

type Table = HashMap<String, HashMap<i32, Vec<Slot>>>;

/// Held pulls by queue.
pub struct PullWaiters {
    table: Mutex<Table>,
    held: AtomicUsize,
    next_id: AtomicU64,
    max_held: usize,
}

/// One held pull; dropping it unregisters.
pub struct Registration<'a> {
    waiters: &'a PullWaiters,
    topic: String,
    queue_id: i32,
    id: u64,
    wake: Arc<Notify>,
}

impl PullWaiters {
    pub fn new(max_held: usize) -> PullWaiters {
        PullWaiters {
            table: Mutex::new(HashMap::new()),
            held: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            max_held,
        }
    }

    /// Pulls held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Registers a pull waiting for a message at `cursor` or later; `None` when the cap is
    /// reached.
    pub fn register(
        &self,
        topic: &str,
        queue_id: i32,
        cursor: i64,
        filter: Arc<TagFilter>,
    ) -> Option<Registration<'_>> {
        let reserved = self.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < self.max_held).then_some(n + 1)
        });
        if reserved.is_err() {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        self.table
            .lock()
            .entry(topic.to_string())
            .or_default()
            .entry(queue_id)
            .or_default()
            .push(Slot {
                id,
                cursor,
                filter,
                wake: wake.clone(),
            });
        Some(Registration {
            waiters: self,
            topic: topic.to_string(),
            queue_id,
            id,
            wake,
        })
    }

    /// Wakes the waiters the arrived message is for.
    pub fn on_arrival(&self, a: &Arrival) {
        if self.held() == 0 {
            return;
        }
        let table = self.table.lock();
        let Some(slots) = table.get(&*a.topic).and_then(|q| q.get(&a.queue_id)) else {
            return;
        };
        for s in slots {
            if a.queue_offset >= s.cursor && s.filter.matches(a.tags_code) {
                s.wake.notify_one();
            }
        }
    }

    /// Wakes every waiter (after lost arrivals); each re-checks its queue.
    pub fn wake_all(&self) {
        for queues in self.table.lock().values() {
            for s in queues.values().flatten() {
                s.wake.notify_one();
            }
        }
    }

    fn unregister(&self, topic: &str, queue_id: i32, id: u64) {
        let mut table = self.table.lock();
        if let Some(queues) = table.get_mut(topic) {
            if let Some(slots) = queues.get_mut(&queue_id) {
                slots.retain(|s| s.id != id);
                if slots.is_empty() {
                    queues.remove(&queue_id);
                }
            }
            if queues.is_empty() {
                table.remove(topic);
            }
        }
        self.held.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Registration<'_> {
    /// Resolves at the next wake (immediately if one arrived since the last call).
    pub async fn notified(&self) {
        self.wake.notified().await
    }

    /// Moves the wake threshold forward (messages before it did not match).
    pub fn advance(&self, cursor: i64) {
        let mut table = self.waiters.table.lock();
        let slot = table
            .get_mut(&self.topic)
            .and_then(|q| q.get_mut(&self.queue_id))
            .and_then(|slots| slots.iter_mut().find(|s| s.id == self.id));
        if let Some(s) = slot {
            s.cursor = cursor;
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.waiters.unregister(&self.topic, self.queue_id, self.id);
    }
}

/// Forwards store arrivals to the waiters until the store's broadcast closes.
pub async fn dispatch_arrivals(
    waiters: &PullWaiters,
    pops: &crate::pop::waiters::PopWaiters,
    mut rx: broadcast::Receiver<Arrival>,
) {
    loop {
        match rx.recv().await {
            Ok(a) => {
                waiters.on_arrival(&a);
                pops.wake_topic(&a.topic);
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!(lost = n, "arrival notifications lagged; waking every held pull");
                waiters.wake_all();
                pops.wake_all();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn arrival(topic: &str, queue_id: i32, queue_offset: i64, tags_code: i64) -> Arrival {
        Arrival {
            topic: topic.into(),
            queue_id,
            queue_offset,
            tags_code,
        }
    }

    /// Whether a wake is pending: `Notify` keeps the permit of a `notify_one`, so the first poll
    /// of `notified()` is ready exactly then (no waiting to see that nothing came).
    async fn woken(r: &Registration<'_>) -> bool {
        r.notified().now_or_never().is_some()
    }

    #[tokio::test]
    async fn wakes_by_queue_cursor_and_filter() {
        let w = PullWaiters::new(2);
        let only_7 = Arc::new(TagFilter::Codes([7].into()));
        let r = w.register("T", 1, 5, only_7).unwrap();
        let r2 = w.register("T", 1, 0, Arc::new(TagFilter::All)).unwrap();
        assert!(w.register("T", 2, 0, Arc::new(TagFilter::All)).is_none(), "cap");
        w.on_arrival(&arrival("T", 1, 4, 7)); // before the cursor
        w.on_arrival(&arrival("T", 1, 5, 8)); // filtered out
        w.on_arrival(&arrival("T", 0, 5, 7)); // other queue
        assert!(!woken(&r).await);
        assert!(woken(&r2).await);
        w.on_arrival(&arrival("T", 1, 5, 7));
        assert!(woken(&r).await);
        r.advance(10);
        w.on_arrival(&arrival("T", 1, 9, 7));
        assert!(!woken(&r).await);
        drop(r);
        drop(r2);
        assert_eq!(w.held(), 0);
        assert!(w.table.lock().is_empty());
    }
}
