//! The heartbeat table: which brokers are alive, from their BROKER_HEARTBEAT (904) and their
//! connection (Java's `DefaultBrokerHeartbeatManager`). Local to each controller, never logged.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::liveness::{BrokerReport, LiveBrokers};
use crate::BrokerId;

/// Java's `DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`, used when a heartbeat names no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// (cluster, brokerName, brokerId).
pub type BrokerKey = (String, String, BrokerId);

/// One broker's last heartbeat.
#[derive(Debug, Clone)]
pub struct LiveInfo {
    pub address: String,
    pub last_update: Instant,
    pub timeout: Duration,
    pub epoch: i32,
    pub max_offset: i64,
    pub confirm_offset: i64,
    pub election_priority: i32,
    /// The connection the last heartbeat came on: its close makes the broker inactive.
    pub channel: u64,
}

/// One heartbeat as received.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub key: BrokerKey,
    pub address: String,
    pub timeout: Option<Duration>,
    pub epoch: Option<i32>,
    pub max_offset: Option<i64>,
    pub confirm_offset: Option<i64>,
    pub election_priority: Option<i32>,
    pub channel: u64,
}

#[derive(Debug, Default)]
pub struct HeartbeatTable {
    brokers: HashMap<BrokerKey, LiveInfo>,
}

impl HeartbeatTable {
    /// Records a heartbeat at `now`. The timestamp, timeout, priority and address always move;
    /// epoch, max and confirm offset only when (epoch, maxOffset) goes up, as Java's.
    pub fn beat(&mut self, hb: Heartbeat, now: Instant) {
        let epoch = hb.epoch.unwrap_or(-1);
        let max_offset = hb.max_offset.unwrap_or(-1);
        let confirm_offset = hb.confirm_offset.unwrap_or(-1);
        let timeout = hb.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let priority = hb.election_priority.unwrap_or(i32::MAX);
        match self.brokers.get_mut(&hb.key) {
            Some(info) => {
                info.last_update = now;
                info.timeout = timeout;
                info.election_priority = priority;
                info.address = hb.address;
                info.channel = hb.channel;
                if epoch > info.epoch || (epoch == info.epoch && max_offset > info.max_offset) {
                    info.epoch = epoch;
                    info.max_offset = max_offset;
                    info.confirm_offset = confirm_offset;
                }
            }
            None => {
                self.brokers.insert(
                    hb.key,
                    LiveInfo {
                        address: hb.address,
                        last_update: now,
                        timeout,
                        epoch,
                        max_offset,
                        confirm_offset,
                        election_priority: priority,
                        channel: hb.channel,
                    },
                );
            }
        }
    }

    /// Removes the brokers whose heartbeat is older than their timeout at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<BrokerKey> {
        let dead: Vec<BrokerKey> = self
            .brokers
            .iter()
            .filter(|(_, i)| i.last_update + i.timeout < now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &dead {
            self.brokers.remove(k);
        }
        dead
    }

    /// Removes the brokers whose heartbeats came on `channel` (it closed).
    pub fn channel_closed(&mut self, channel: u64) -> Vec<BrokerKey> {
        let gone: Vec<BrokerKey> = self
            .brokers
            .iter()
            .filter(|(_, i)| i.channel == channel)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            self.brokers.remove(k);
        }
        gone
    }

    /// The brokers alive at `now`, as the state machine reads them.
    pub fn live(&self, now: Instant) -> LiveBrokers {
        let mut live = LiveBrokers::new();
        for ((cluster, name, id), info) in &self.brokers {
            if info.last_update + info.timeout >= now {
                live.insert(
                    cluster,
                    name,
                    *id,
                    BrokerReport {
                        epoch: info.epoch,
                        max_offset: info.max_offset,
                        election_priority: info.election_priority,
                    },
                );
            }
        }
        live
    }

    pub fn get(&self, key: &BrokerKey) -> Option<&LiveInfo> {
        self.brokers.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::Liveness;

    fn hb(id: BrokerId, epoch: i32, max: i64) -> Heartbeat {
        Heartbeat {
            key: ("c".into(), "a".into(), id),
            address: format!("h:{id}"),
            timeout: Some(Duration::from_millis(1000)),
            epoch: Some(epoch),
            max_offset: Some(max),
            confirm_offset: Some(max),
            election_priority: None,
            channel: id,
        }
    }

    #[test]
    fn expiry_offsets_and_channels() {
        let t0 = Instant::now();
        let mut t = HeartbeatTable::default();
        t.beat(hb(1, 2, 100), t0);
        t.beat(hb(2, 2, 50), t0);
        // A lower (epoch, offset) refreshes liveness but keeps the higher report.
        t.beat(hb(1, 1, 500), t0 + Duration::from_millis(600));
        let live = t.live(t0 + Duration::from_millis(1200));
        assert!(live.is_alive("c", "a", 1));
        assert!(!live.is_alive("c", "a", 2));
        assert_eq!(live.report("c", "a", 1).unwrap().max_offset, 100);
        assert_eq!(live.report("c", "a", 1).unwrap().election_priority, i32::MAX);
        assert_eq!(
            t.expire(t0 + Duration::from_millis(1200)),
            vec![("c".into(), "a".into(), 2)]
        );
        assert_eq!(t.channel_closed(1), vec![("c".into(), "a".into(), 1)]);
        assert!(t.expire(t0 + Duration::from_secs(60)).is_empty());
    }
}
