//! Held POP_MESSAGE and NOTIFICATION requests (5.x `PopLongPollingService`): each waits on
//! its topic and on the group's pop retry topic until a message arrives on either, its poll time
//! ends, or its connection closes. An arrival wakes every waiter of the topic; each re-tries its
//! pop and parks again if another took the message.
//!
//! No lost wake-ups: a request registers first and only then tries its pop (`Notify` keeps a
//! permit for a wake in between).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

struct Slot {
    id: u64,
    wake: Arc<Notify>,
}

/// Why a request could not be held (POLLING_FULL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

pub struct PopWaiters {
    /// Topic (normal or retry) → waiters.
    by_topic: Mutex<HashMap<String, Vec<Slot>>>,
    per_key: Mutex<HashMap<String, usize>>,
    held: AtomicUsize,
    next_id: AtomicU64,
    /// `popPollingSize`: most requests held per `topic@group@queueId`.
    max_per_key: usize,
    /// `maxPopPollingSize`: most requests held in all.
    max_total: usize,
}

/// A held request; dropping it unregisters.
pub struct Held<'a> {
    waiters: &'a PopWaiters,
    id: u64,
    key: String,
    topics: Vec<String>,
    wake: Arc<Notify>,
}

impl PopWaiters {
    pub fn new(max_per_key: usize, max_total: usize) -> PopWaiters {
        PopWaiters {
            by_topic: Mutex::new(HashMap::new()),
            per_key: Mutex::new(HashMap::new()),
            held: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            max_per_key,
            max_total,
        }
    }

    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Requests held under `topic@group@queueId` (POLLING_INFO).
    pub fn held_for(&self, key: &str) -> usize {
        self.per_key.lock().get(key).copied().unwrap_or(0)
    }

    /// Holds a request for `key`, woken by arrivals on any of `topics`.
    pub fn hold(&self, key: String, topics: Vec<String>) -> Result<Held<'_>, Full> {
        {
            let mut per_key = self.per_key.lock();
            let n = per_key.entry(key.clone()).or_default();
            if *n >= self.max_per_key || self.held() >= self.max_total {
                if *n == 0 {
                    per_key.remove(&key);
                }
                return Err(Full);
            }
            *n += 1;
        }
        self.held.fetch_add(1, Ordering::AcqRel);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        {
            let mut by_topic = self.by_topic.lock();
            for t in &topics {
                by_topic.entry(t.clone()).or_default().push(Slot {
                    id,
                    wake: wake.clone(),
                });
            }
        }
        Ok(Held {
            waiters: self,
            id,
            key,
            topics,
            wake,
        })
    }

    /// Wakes every request held on `topic`.
    pub fn wake_topic(&self, topic: &str) {
        if self.held() == 0 {
            return;
        }
        if let Some(slots) = self.by_topic.lock().get(topic) {
            for s in slots {
                s.wake.notify_one();
            }
        }
    }

    /// Wakes everything (after lost arrival notifications).
    pub fn wake_all(&self) {
        for slots in self.by_topic.lock().values() {
            for s in slots {
                s.wake.notify_one();
            }
        }
    }
}

impl Held<'_> {
    pub async fn notified(&self) {
        self.wake.notified().await
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        {
            let mut by_topic = self.waiters.by_topic.lock();
            for t in &self.topics {
                if let Some(slots) = by_topic.get_mut(t) {
                    slots.retain(|s| s.id != self.id);
                    if slots.is_empty() {
                        by_topic.remove(t);
                    }
                }
            }
        }
        let mut per_key = self.waiters.per_key.lock();
        if let Some(n) = per_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_key.remove(&self.key);
            }
        }
        self.waiters.held.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn held_per_key_and_woken_by_either_topic() {
        let w = PopWaiters::new(1, 2);
        let a = w
            .hold("T@G@-1".into(), vec!["T".into(), "%RETRY%G_T".into()])
            .unwrap();
        assert_eq!(
            w.hold("T@G@-1".into(), vec!["T".into()]).err(),
            Some(Full),
            "per key"
        );
        let b = w.hold("T@H@-1".into(), vec!["T".into()]).unwrap();
        assert_eq!(
            w.hold("U@G@-1".into(), vec!["U".into()]).err(),
            Some(Full),
            "in all"
        );
        assert_eq!(w.held_for("T@G@-1"), 1);
        w.wake_topic("%RETRY%G_T");
        assert!(a.notified().now_or_never().is_some());
        assert!(b.notified().now_or_never().is_none());
        w.wake_topic("T");
        assert!(b.notified().now_or_never().is_some());
        drop(a);
        drop(b);
        assert_eq!((w.held(), w.held_for("T@G@-1")), (0, 0));
        assert!(w.by_topic.lock().is_empty());
    }
}
