//! Route → publish queues (docs/protocol/name-server.md#route) and round-robin queue selection.

use std::sync::atomic::{AtomicUsize, Ordering};

use rmq_protocol::body::{perm, TopicRouteData};

use crate::fault::FaultTable;
use crate::message::MessageQueue;

/// The queues a producer may send a topic's messages to.
#[derive(Debug)]
pub(crate) struct PublishInfo {
    pub queues: Vec<MessageQueue>,
    /// Some broker group has writable queues for the topic but no master in the route (its
    /// master died; in controller mode a successor registers within seconds).
    pub masterless: bool,
    /// Round-robin position; starts at a random value like Java's `ThreadLocalIndex`.
    next: AtomicUsize,
}

impl PublishInfo {
    /// `topicRouteData2TopicPublishInfo`.
    pub fn from_route(topic: &str, route: &TopicRouteData) -> Self {
        let order_conf = route.order_topic_conf.as_deref().filter(|c| !c.is_empty());
        let queues = match order_conf {
            Some(conf) => order_queues(topic, conf),
            None => writable_queues(topic, route),
        };
        let masterless = order_conf.is_none()
            && route.queue_datas.iter().any(|qd| {
                perm::is_writeable(qd.perm)
                    && !route
                        .broker_datas
                        .iter()
                        .any(|bd| bd.broker_name == qd.broker_name && bd.master_addr().is_some())
            });
        PublishInfo {
            queues,
            masterless,
            next: AtomicUsize::new(random_start()),
        }
    }

    /// Keeps the round-robin position of `previous` (so a route refresh does not reset it).
    pub fn continuing(mut self, previous: &PublishInfo) -> Self {
        self.next = AtomicUsize::new(previous.next.load(Ordering::Relaxed));
        self
    }

    #[cfg(test)]
    pub fn with_start(self, start: usize) -> Self {
        PublishInfo {
            next: AtomicUsize::new(start),
            ..self
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Whether some broker of `previous` has no queue here (its group lost its master; with the
    /// arguments swapped: a group is back).
    pub fn lost_brokers_of(&self, previous: &PublishInfo) -> bool {
        previous
            .queues
            .iter()
            .any(|q| !self.queues.iter().any(|m| m.broker_name == q.broker_name))
    }

    /// The next queue round-robin, skipping queues of `avoid_broker` (the broker that just
    /// failed) when another broker has one (`selectOneMessageQueue(lastBrokerName)`).
    pub fn select(&self, avoid_broker: Option<&str>) -> Option<&MessageQueue> {
        if self.queues.is_empty() {
            return None;
        }
        if let Some(avoid) = avoid_broker {
            for _ in 0..self.queues.len() {
                let mq = self.next_queue();
                if mq.broker_name != avoid {
                    return Some(mq);
                }
            }
        }
        Some(self.next_queue())
    }

    /// `MQFaultStrategy.selectOneMessageQueue` with `sendLatencyFaultEnable`: the next queue
    /// round-robin whose broker is available; when none is, a queue of the least bad broker
    /// (or plain round robin when that broker has no queue of this topic).
    pub fn select_avoiding_faults(&self, faults: &FaultTable) -> Option<MessageQueue> {
        if self.queues.is_empty() {
            return None;
        }
        // One step of the shared position per call (Java's local `index++`), so that callers
        // keep rotating over the queues whatever this call skipped.
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.queues.len() {
            let mq = &self.queues[(start + i) % self.queues.len()];
            if faults.is_available(&mq.broker_name) {
                return Some(mq.clone());
            }
        }
        if let Some(broker) = faults.pick_one_at_least() {
            let mut own = self.queues.iter().filter(|q| q.broker_name == broker).peekable();
            if own.peek().is_some() {
                let count = self.queues.iter().filter(|q| q.broker_name == broker).count();
                return own.nth(start % count).cloned();
            }
            faults.remove(&broker);
        }
        Some(self.queues[start % self.queues.len()].clone())
    }

    fn next_queue(&self) -> &MessageQueue {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.queues[i % self.queues.len()]
    }
}

/// `brokerName:n;brokerName:n` → queues `0..n` per broker, in that order.
fn order_queues(topic: &str, conf: &str) -> Vec<MessageQueue> {
    let mut queues = Vec::new();
    for pair in conf.split(';') {
        let Some((broker, n)) = pair.split_once(':') else {
            continue;
        };
        let n: i32 = n.trim().parse().unwrap_or(0);
        queues.extend((0..n).map(|id| MessageQueue::new(topic, broker.trim(), id)));
    }
    queues
}

/// Sorted by broker name; only writable queue data whose broker has a master.
fn writable_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    let mut datas: Vec<_> = route.queue_datas.iter().collect();
    datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let mut queues = Vec::new();
    for qd in datas {
        if !perm::is_writeable(qd.perm) {
            continue;
        }
        let has_master = route
            .broker_datas
            .iter()
            .any(|bd| bd.broker_name == qd.broker_name && bd.master_addr().is_some());
        if !has_master {
            continue;
        }
        queues.extend((0..qd.write_queue_nums).map(|id| MessageQueue::new(topic, &qd.broker_name, id)));
    }
    queues
}

/// The `TBW102` route used for a topic that does not exist yet: queue counts clamped to
/// `default_topic_queue_nums` (Java `updateTopicRouteInfoFromNameServer(topic, true, …)`).
pub(crate) fn clamp_default_route(
    mut route: TopicRouteData,
    default_topic_queue_nums: i32,
) -> TopicRouteData {
    for qd in &mut route.queue_datas {
        let n = default_topic_queue_nums.min(qd.read_queue_nums);
        qd.read_queue_nums = n;
        qd.write_queue_nums = n;
    }
    route
}

fn random_start() -> usize {
    use std::hash::{BuildHasher, Hasher};
    let h = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // Small enough that fetch_add never wraps in practice.
    (h % 1_000_000) as usize
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rmq_protocol::body::{BrokerData, QueueData};

    use super::*;

    fn qd(broker: &str, read: i32, write: i32, perm: i32) -> QueueData {
        QueueData {
            broker_name: broker.into(),
            read_queue_nums: read,
            write_queue_nums: write,
            perm,
            topic_sys_flag: 0,
        }
    }

    fn bd(broker: &str, ids: &[i64]) -> BrokerData {
        BrokerData {
            cluster: "DefaultCluster".into(),
            broker_name: broker.into(),
            broker_addrs: ids
                .iter()
                .map(|id| (*id, format!("10.0.0.{id}:10911")))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        }
    }

    fn route(queue_datas: Vec<QueueData>, broker_datas: Vec<BrokerData>) -> TopicRouteData {
        TopicRouteData {
            queue_datas,
            broker_datas,
            ..Default::default()
        }
    }

    fn names(info: &PublishInfo) -> Vec<(String, i32)> {
        info.queues
            .iter()
            .map(|q| (q.broker_name.clone(), q.queue_id))
            .collect()
    }

    #[test]
    fn sorted_by_broker_name_and_skips_unwritable_and_masterless() {
        let r = route(
            vec![
                qd("broker-c", 2, 2, 6),
                qd("broker-a", 4, 2, 6),
                qd("broker-b", 4, 4, 4),
                qd("broker-d", 1, 1, 6),
            ],
            vec![
                bd("broker-a", &[0, 1]),
                bd("broker-b", &[0]),
                bd("broker-c", &[0]),
                bd("broker-d", &[1]),
            ],
        );
        let info = PublishInfo::from_route("T", &r);
        let expected: Vec<(String, i32)> =
            [("broker-a", 0), ("broker-a", 1), ("broker-c", 0), ("broker-c", 1)]
                .iter()
                .map(|(b, i)| (b.to_string(), *i))
                .collect();
        assert_eq!(names(&info), expected);
        assert!(info.queues.iter().all(|q| q.topic == "T"));
        assert!(info.masterless, "broker-d has writable queues and only a slave");
        let whole = route(vec![qd("broker-a", 2, 2, 6)], vec![bd("broker-a", &[0, 1])]);
        assert!(!PublishInfo::from_route("T", &whole).masterless);
        let read_only = route(vec![qd("broker-a", 2, 2, 4)], vec![bd("broker-a", &[1])]);
        assert!(
            !PublishInfo::from_route("T", &read_only).masterless,
            "a read-only group is not waited for"
        );
    }

    #[test]
    fn order_topic_conf_wins() {
        let mut r = route(vec![qd("broker-a", 4, 4, 6)], vec![bd("broker-a", &[0])]);
        r.order_topic_conf = Some("broker-b:2;broker-a:1".into());
        let info = PublishInfo::from_route("T", &r);
        let expected: Vec<(String, i32)> = [("broker-b", 0), ("broker-b", 1), ("broker-a", 0)]
            .iter()
            .map(|(b, i)| (b.to_string(), *i))
            .collect();
        assert_eq!(names(&info), expected);
    }

    #[test]
    fn tbw102_route_is_clamped() {
        let r = route(
            vec![qd("broker-a", 8, 8, 7), qd("broker-b", 2, 2, 7)],
            vec![bd("broker-a", &[0]), bd("broker-b", &[0])],
        );
        let clamped = clamp_default_route(r, 4);
        assert_eq!(
            (
                clamped.queue_datas[0].read_queue_nums,
                clamped.queue_datas[0].write_queue_nums
            ),
            (4, 4)
        );
        assert_eq!(
            (
                clamped.queue_datas[1].read_queue_nums,
                clamped.queue_datas[1].write_queue_nums
            ),
            (2, 2)
        );
        let info = PublishInfo::from_route("NewTopic", &clamped);
        assert_eq!(info.queues.len(), 6);
        assert_eq!(info.queues[0], MessageQueue::new("NewTopic", "broker-a", 0));
    }

    #[test]
    fn round_robin_and_avoids_failed_broker() {
        let r = route(
            vec![qd("broker-a", 2, 2, 6), qd("broker-b", 2, 2, 6)],
            vec![bd("broker-a", &[0]), bd("broker-b", &[0])],
        );
        let info = PublishInfo::from_route("T", &r).with_start(0);
        let picked: Vec<i32> = (0..5).map(|_| info.select(None).unwrap().queue_id).collect();
        assert_eq!(picked, vec![0, 1, 0, 1, 0]);
        // Position is now 5 → broker-a:1 would be next; avoiding broker-a must give broker-b.
        let info = PublishInfo::from_route("T", &r).with_start(1);
        let mq = info.select(Some("broker-a")).unwrap();
        assert_eq!(mq.broker_name, "broker-b");
        for _ in 0..8 {
            assert_eq!(info.select(Some("broker-b")).unwrap().broker_name, "broker-a");
        }
    }

    #[test]
    fn fault_aware_selection_skips_unavailable_brokers() {
        use crate::fault::{DEFAULT_LATENCY_MAX_MS, DEFAULT_NOT_AVAILABLE_DURATION_MS};
        let r = route(
            vec![qd("broker-a", 2, 2, 6), qd("broker-b", 3, 3, 6)],
            vec![bd("broker-a", &[0]), bd("broker-b", &[0])],
        );
        let info = PublishInfo::from_route("T", &r).with_start(0);
        let faults = FaultTable::new(
            &DEFAULT_LATENCY_MAX_MS,
            &DEFAULT_NOT_AVAILABLE_DURATION_MS,
            rmq_protocol::time::Clock::System,
        );
        // Nothing known: plain round robin over both brokers.
        let picked: Vec<String> = (0..5)
            .map(|_| info.select_avoiding_faults(&faults).unwrap().broker_name)
            .collect();
        assert_eq!(picked.iter().filter(|b| *b == "broker-a").count(), 2);
        faults.update("broker-a", 3, true);
        for _ in 0..10 {
            assert_eq!(
                info.select_avoiding_faults(&faults).unwrap().broker_name,
                "broker-b"
            );
        }
        // Both out: the least bad one (lower latency) still gets the messages, on its own queues.
        faults.update("broker-b", 2600, false);
        let mut ids = Vec::new();
        for _ in 0..4 {
            let mq = info.select_avoiding_faults(&faults).unwrap();
            assert_eq!(mq.broker_name, "broker-a");
            ids.push(mq.queue_id);
        }
        assert!(
            ids.iter().all(|id| *id < 2) && ids.contains(&0) && ids.contains(&1),
            "{ids:?}"
        );
        // The least bad broker is not in this topic's route: forgotten, round robin instead.
        let only_b = PublishInfo::from_route(
            "T",
            &route(vec![qd("broker-b", 1, 1, 6)], vec![bd("broker-b", &[0])]),
        );
        faults.update("broker-b", 3, true);
        assert_eq!(
            only_b.select_avoiding_faults(&faults).unwrap().broker_name,
            "broker-b"
        );
        assert!(
            faults.is_available("broker-a"),
            "broker-a was removed from the table"
        );
    }

    #[test]
    fn avoiding_the_only_broker_still_selects() {
        let r = route(vec![qd("broker-a", 2, 2, 6)], vec![bd("broker-a", &[0])]);
        let info = PublishInfo::from_route("T", &r);
        assert_eq!(info.select(Some("broker-a")).unwrap().broker_name, "broker-a");
        assert!(PublishInfo::from_route("T", &TopicRouteData::default())
            .select(None)
            .is_none());
    }
}
