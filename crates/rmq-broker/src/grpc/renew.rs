//! Auto-renew of the invisible time of messages a push consumer received (`auto_renew`), as the
//! Proxy's `DefaultReceiptHandleManager` does (docs/protocol/grpc.md section 9): a 5.x push
//! consumer takes as long as its listener takes, and its messages must not come back meanwhile.
//!
//! Each handle handed out with `auto_renew` is tracked by (client, group, message id). Every
//! `renewSchedulePeriodMillis` a handle whose invisible time ends within `renewAheadTimeMillis`
//! gets a CHANGE_MESSAGE_INVISIBLETIME of the next step (1 min, 3, 5, 10, 30 min, then 1 h) and
//! its new handle replaces the old; after `renewMaxTimeMillis` from the first receive it is left
//! to lapse (the message comes back and is retried). Ack, change and forward look the client's
//! handle up and use the renewed one, and stop tracking it. A client that terminates gets its
//! tracked messages back after `invisibleTimeMillisWhenClear`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::BrokerState;

/// The Proxy's renew keys (ProxyConfig), read from broker.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewSettings {
    /// `defaultInvisibleTimeMills`: the invisible time of an auto-renewed receive.
    pub default_invisible_ms: i64,
    /// `renewSchedulePeriodMillis`.
    pub period_ms: u64,
    /// `renewAheadTimeMillis`.
    pub ahead_ms: i64,
    /// `renewMaxTimeMillis`.
    pub max_ms: i64,
    /// `invisibleTimeMillisWhenClear`.
    pub when_clear_ms: i64,
}

impl Default for RenewSettings {
    fn default() -> Self {
        RenewSettings {
            default_invisible_ms: 60_000,
            period_ms: 5_000,
            ahead_ms: 10_000,
            max_ms: 3 * 3_600_000,
            when_clear_ms: 1_000,
        }
    }
}

impl RenewSettings {
    /// The keys and their values (GET_BROKER_CONFIG).
    pub fn export(&self, out: &mut Vec<(String, String)>) {
        for (k, v) in [
            ("defaultInvisibleTimeMills", self.default_invisible_ms.to_string()),
            ("renewSchedulePeriodMillis", self.period_ms.to_string()),
            ("renewAheadTimeMillis", self.ahead_ms.to_string()),
            ("renewMaxTimeMillis", self.max_ms.to_string()),
            ("invisibleTimeMillisWhenClear", self.when_clear_ms.to_string()),
        ] {
            out.push((k.to_string(), v));
        }
    }

    /// Applies one broker.conf key; `None` when it is not one of these.
    pub fn apply(&mut self, key: &str, value: &str) -> Option<bool> {
        fn set<T: std::str::FromStr>(slot: &mut T, v: &str) -> bool {
            v.trim().parse().map(|n| *slot = n).is_ok()
        }
        Some(match key {
            "defaultInvisibleTimeMills" => set(&mut self.default_invisible_ms, value),
            "renewSchedulePeriodMillis" => set(&mut self.period_ms, value),
            "renewAheadTimeMillis" => set(&mut self.ahead_ms, value),
            "renewMaxTimeMillis" => set(&mut self.max_ms, value),
            "invisibleTimeMillisWhenClear" => set(&mut self.when_clear_ms, value),
            _ => return None,
        })
    }
}

/// `RenewStrategyPolicy`: the invisible time of the n-th renewal.
fn next_invisible_ms(renewals: u32) -> i64 {
    const STEPS_MIN: [i64; 5] = [1, 3, 5, 10, 30];
    STEPS_MIN.get(renewals as usize).map_or(3_600_000, |m| m * 60_000)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    client: String,
    group: String,
    message_id: String,
}

#[derive(Debug, Clone)]
struct Tracked {
    topic: String,
    /// The handle the client was given (what it will ack with).
    original: String,
    /// The handle now valid at the broker.
    current: String,
    /// When the current handle's invisible time ends (ms).
    visible_at: i64,
    first_pop_ms: i64,
    renewals: u32,
    peer: SocketAddr,
}

/// The tracked handles of every client.
#[derive(Debug, Clone, Default)]
pub(crate) struct Renewals {
    tracked: Arc<Mutex<HashMap<Key, Tracked>>>,
}

impl Renewals {
    /// Tracks a handle handed out by an auto-renewed receive.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn track(
        &self,
        client: &str,
        group: &str,
        topic: &str,
        message_id: &str,
        handle: &str,
        visible_at: i64,
        now_ms: i64,
        peer: SocketAddr,
    ) {
        self.tracked.lock().insert(
            Key {
                client: client.to_string(),
                group: group.to_string(),
                message_id: message_id.to_string(),
            },
            Tracked {
                topic: topic.to_string(),
                original: handle.to_string(),
                current: handle.to_string(),
                visible_at,
                first_pop_ms: now_ms,
                renewals: 0,
                peer,
            },
        );
    }

    /// Stops tracking the client's message and returns the handle to use for `sent`: the renewed
    /// one when `sent` is the handle it was given (or is already the current one).
    pub(crate) fn take(&self, client: &str, group: &str, message_id: &str, sent: &str) -> String {
        let key = Key {
            client: client.to_string(),
            group: group.to_string(),
            message_id: message_id.to_string(),
        };
        let mut tracked = self.tracked.lock();
        match tracked.get(&key) {
            Some(t) if t.original == sent || t.current == sent => {
                let current = t.current.clone();
                tracked.remove(&key);
                current
            }
            _ => sent.to_string(),
        }
    }

    /// One pass: renews what is about to become visible, forgets what ran past the limit.
    pub(crate) async fn renew_due(&self, s: &BrokerState) {
        let settings = &s.config.grpc_renew;
        let now = s.clock.now_ms();
        let due: Vec<(Key, Tracked)> = self
            .tracked
            .lock()
            .iter()
            .filter(|(_, t)| t.visible_at - now <= settings.ahead_ms)
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        for (key, t) in due {
            if now - t.first_pop_ms >= settings.max_ms {
                // Renewed long enough: let it come back and be retried.
                self.tracked.lock().remove(&key);
                continue;
            }
            let ms = next_invisible_ms(t.renewals);
            match super::consume::change(s, t.peer, &key.group, &t.topic, &t.current, ms).await {
                Ok((handle, visible_at)) => {
                    let mut tracked = self.tracked.lock();
                    // Acked meanwhile: the entry is gone (or handed back) and stays so.
                    if let Some(entry) = tracked.get_mut(&key).filter(|e| e.current == t.current) {
                        entry.current = handle;
                        entry.visible_at = visible_at;
                        entry.renewals += 1;
                    }
                }
                Err(status) => {
                    tracing::debug!(client = %key.client, group = %key.group, message = %key.message_id,
                        code = status.code, message_text = %status.message, "renewing a handle failed; it lapses");
                    self.tracked.lock().remove(&key);
                }
            }
        }
    }

    /// A client that terminated: its tracked messages come back after `when_clear_ms`.
    pub(crate) async fn clear_client(&self, s: &BrokerState, client: &str) {
        let gone: Vec<(Key, Tracked)> = {
            let mut tracked = self.tracked.lock();
            let keys: Vec<Key> = tracked.keys().filter(|k| k.client == client).cloned().collect();
            keys.into_iter()
                .filter_map(|k| tracked.remove(&k).map(|t| (k, t)))
                .collect()
        };
        let ms = s.config.grpc_renew.when_clear_ms;
        for (key, t) in gone {
            if let Err(status) = super::consume::change(s, t.peer, &key.group, &t.topic, &t.current, ms).await
            {
                tracing::debug!(
                    client,
                    code = status.code,
                    "could not hand back a terminated client's message"
                );
            }
        }
    }

    /// Renews every `renewSchedulePeriodMillis` until the task is dropped.
    pub(crate) async fn run(self, s: Arc<BrokerState>) {
        let period = Duration::from_millis(s.config.grpc_renew.period_ms.max(10));
        loop {
            tokio::time::sleep(period).await;
            self.renew_due(&s).await;
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tracked.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_steps_as_the_proxy() {
        let steps: Vec<i64> = (0..8).map(next_invisible_ms).collect();
        assert_eq!(
            steps,
            [60_000, 180_000, 300_000, 600_000, 1_800_000, 3_600_000, 3_600_000, 3_600_000]
        );
    }

    #[test]
    fn a_tracked_handle_is_swapped_once_then_forgotten() {
        let r = Renewals::default();
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        r.track("c", "g", "t", "m1", "h-old", 10, 0, peer);
        r.tracked
            .lock()
            .values_mut()
            .for_each(|t| t.current = "h-new".into());
        assert_eq!(r.take("c", "g", "m1", "h-old"), "h-new");
        assert_eq!(r.len(), 0);
        assert_eq!(r.take("c", "g", "m1", "h-old"), "h-old", "untracked: as sent");
        r.track("c", "g", "t", "m2", "h2", 10, 0, peer);
        assert_eq!(r.take("c", "g", "m2", "someone-else"), "someone-else");
        assert_eq!(
            r.take("other", "g", "m2", "h2"),
            "h2",
            "another client's handle is not swapped"
        );
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn settings_read_the_proxy_keys() {
        let mut s = RenewSettings::default();
        assert_eq!(s.apply("renewAheadTimeMillis", "2000"), Some(true));
        assert_eq!(s.apply("defaultInvisibleTimeMills", "x"), Some(false));
        assert_eq!(s.apply("brokerName", "b"), None);
        assert_eq!(s.ahead_ms, 2000);
    }
}
