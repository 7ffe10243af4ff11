//! Queue locks of orderly consumers (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, docs/protocol/client.md#orderly, Java
//! `RebalanceLockManager`): group → queue → holder. A lock not renewed within 60 s expires.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use rmq_protocol::body::MessageQueue;
use rmq_protocol::time::Clock;

/// `rocketmq.broker.rebalance.lockMaxLiveTime`.
pub const LOCK_MAX_LIVE: Duration = Duration::from_secs(60);

struct Holder {
    client_id: String,
    renewed: Instant,
}

/// The lock table.
pub struct RebalanceLocks {
    max_live: Duration,
    /// Measures how long ago a lock was renewed.
    clock: Clock,
    table: Mutex<HashMap<String, HashMap<MessageQueue, Holder>>>,
}

impl Default for RebalanceLocks {
    fn default() -> Self {
        Self::new(LOCK_MAX_LIVE, Clock::System)
    }
}

impl RebalanceLocks {
    pub fn new(max_live: Duration, clock: Clock) -> RebalanceLocks {
        RebalanceLocks {
            max_live,
            clock,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Locks what it can for `client_id`: free or expired queues, and queues it already holds
    /// (renewed). Returns the queues the client now holds.
    pub fn try_lock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) -> Vec<MessageQueue> {
        let now = self.clock.instant();
        let mut table = self.table.lock();
        let locks = table.entry(group.to_string()).or_default();
        let mut ok = Vec::new();
        for mq in mqs {
            let granted = match locks.get_mut(mq) {
                Some(h) if h.client_id == client_id || now.duration_since(h.renewed) > self.max_live => {
                    if h.client_id != client_id {
                        tracing::info!(group, ?mq, old = %h.client_id, new = client_id, "expired queue lock taken over");
                        h.client_id = client_id.to_string();
                    }
                    h.renewed = now;
                    true
                }
                Some(_) => false,
                None => {
                    locks.insert(
                        mq.clone(),
                        Holder {
                            client_id: client_id.to_string(),
                            renewed: now,
                        },
                    );
                    true
                }
            };
            if granted && !ok.contains(mq) {
                ok.push(mq.clone());
            }
        }
        ok
    }

    /// Releases the queues held by `client_id`; others' locks are left alone.
    pub fn unlock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) {
        let mut table = self.table.lock();
        if let Some(locks) = table.get_mut(group) {
            for mq in mqs {
                if locks.get(mq).is_some_and(|h| h.client_id == client_id) {
                    locks.remove(mq);
                }
            }
            if locks.is_empty() {
                table.remove(group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::time::ManualClock;

    #[test]
    fn exclusive_renew_unlock_expire() {
        let mq = |q| MessageQueue::new("T", "b", q);
        let time = ManualClock::new(0);
        let l = RebalanceLocks::new(Duration::from_millis(50), time.clock());
        assert_eq!(l.try_lock_batch("g", &[mq(0), mq(1)], "a"), vec![mq(0), mq(1)]);
        assert_eq!(l.try_lock_batch("g", &[mq(1), mq(2)], "b"), vec![mq(2)]);
        assert_eq!(l.try_lock_batch("other", &[mq(1)], "b"), vec![mq(1)], "per group");
        assert_eq!(l.try_lock_batch("g", &[mq(1)], "a"), vec![mq(1)], "renew");
        l.unlock_batch("g", &[mq(1), mq(2)], "a"); // mq(2) is b's: untouched
        assert_eq!(l.try_lock_batch("g", &[mq(1), mq(2)], "c"), vec![mq(1)]);
        // Exactly the max live time: still held (expiry is strictly after it).
        time.advance(Duration::from_millis(50));
        assert_eq!(
            l.try_lock_batch("g", &[mq(0), mq(2)], "c"),
            vec![],
            "not yet expired"
        );
        time.advance(Duration::from_millis(1));
        assert_eq!(
            l.try_lock_batch("g", &[mq(0), mq(2)], "c"),
            vec![mq(0), mq(2)],
            "expired"
        );
        assert_eq!(l.try_lock_batch("g", &[mq(0)], "a"), vec![], "taken over by c");
    }

    #[test]
    fn renewal_keeps_a_lock_alive_past_its_first_max_live() {
        let mq = MessageQueue::new("T", "b", 0);
        let time = ManualClock::new(0);
        let l = RebalanceLocks::new(Duration::from_millis(50), time.clock());
        assert_eq!(
            l.try_lock_batch("g", std::slice::from_ref(&mq), "a"),
            vec![mq.clone()]
        );
        for _ in 0..3 {
            time.advance(Duration::from_millis(40));
            assert_eq!(
                l.try_lock_batch("g", std::slice::from_ref(&mq), "a"),
                vec![mq.clone()],
                "renew"
            );
            assert_eq!(
                l.try_lock_batch("g", std::slice::from_ref(&mq), "b"),
                vec![],
                "still a's"
            );
        }
    }
}
