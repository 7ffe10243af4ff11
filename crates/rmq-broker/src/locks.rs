//! Queue locks of orderly consumers (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, docs/protocol/client.md#orderly, Java
//! `RebalanceLockManager`): group → queue → holder. A lock not renewed within 60 s expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmq_protocol::body::MessageQueue;

/// `rocketmq.broker.rebalance.lockMaxLiveTime`.
pub const LOCK_MAX_LIVE: Duration = Duration::from_secs(60);

struct Holder {
    client_id: String,
    renewed: Instant,
}

/// The lock table.
pub struct RebalanceLocks {
    max_live: Duration,
    table: Mutex<HashMap<String, HashMap<MessageQueue, Holder>>>,
}

impl Default for RebalanceLocks {
    fn default() -> Self {
        Self::new(LOCK_MAX_LIVE)
    }
}

impl RebalanceLocks {
    pub fn new(max_live: Duration) -> RebalanceLocks {
        RebalanceLocks {
            max_live,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Locks what it can for `client_id`: free or expired queues, and queues it already holds
    /// (renewed). Returns the queues the client now holds.
    pub fn try_lock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) -> Vec<MessageQueue> {
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
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
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
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

    #[test]
    fn exclusive_renew_unlock_expire() {
        let mq = |q| MessageQueue::new("T", "b", q);
        let l = RebalanceLocks::new(Duration::from_millis(50));
        assert_eq!(l.try_lock_batch("g", &[mq(0), mq(1)], "a"), vec![mq(0), mq(1)]);
        assert_eq!(l.try_lock_batch("g", &[mq(1), mq(2)], "b"), vec![mq(2)]);
        assert_eq!(l.try_lock_batch("other", &[mq(1)], "b"), vec![mq(1)], "per group");
        assert_eq!(l.try_lock_batch("g", &[mq(1)], "a"), vec![mq(1)], "renew");
        l.unlock_batch("g", &[mq(1), mq(2)], "a"); // mq(2) is b's: untouched
        assert_eq!(l.try_lock_batch("g", &[mq(1), mq(2)], "c"), vec![mq(1)]);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(
            l.try_lock_batch("g", &[mq(0), mq(2)], "c"),
            vec![mq(0), mq(2)],
            "expired"
        );
    }
}
