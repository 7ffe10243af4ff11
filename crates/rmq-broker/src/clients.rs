//! Producers and consumers known from heartbeats, per connection (docs/protocol/client.md#heartbeat). A
//! consumer group keeps its members and one subscription table shared by them. A closed, unregistered or
//! expired connection leaves every group; an empty group is removed.
//!
//! Membership changes are reported to the caller, which sends NOTIFY_CONSUMER_IDS_CHANGED
//! ([`notify_ids_changed`]) outside the lock.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use rmq_protocol::body::{ConsumerData, HeartbeatData, SubscriptionData};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::NotifyConsumerIdsChangedRequestHeader;
use rmq_protocol::time::Clock;
use rmq_protocol::RemotingCommand;
use rmq_remoting::Channel;

/// One client connection as seen by the broker.
#[derive(Debug, Clone)]
pub struct ClientConn {
    pub channel: Channel,
    pub client_id: String,
    pub language: String,
    pub version: i32,
    pub last_update: Instant,
}

/// (group, language, version, consume type, protocol) of a consumer connection.
pub type ConsumerKind = (String, String, i32, String, &'static str);
/// (language, version, protocol) of a producer connection.
pub type ProducerKind = (String, i32, &'static str);

/// `protocol_type`: `grpc` for a gRPC client's detached channel, else `remoting`.
fn protocol_of(channel: &Channel) -> &'static str {
    if channel.is_detached() {
        "grpc"
    } else {
        "remoting"
    }
}

/// Connections by kind, sorted (see `ClientRegistry::connection_counts`).
#[derive(Debug, Default)]
pub struct ConnectionCounts {
    pub consumers: Vec<(ConsumerKind, u64)>,
    pub producers: Vec<(ProducerKind, u64)>,
}

/// A consumer group: its members and their shared subscriptions.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    pub members: HashMap<u64, ClientConn>,
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
    /// topic → subscription; a newer `subVersion` replaces an older one.
    pub subscriptions: HashMap<String, SubscriptionData>,
    /// The `heartbeatFingerprint` of the group's last heartbeat (0 for a v1 heartbeat).
    pub fingerprint: Option<i32>,
}

impl ConsumerGroup {
    /// Applies one heartbeat's subscriptions. True when the topic set changed.
    fn update_subscriptions(&mut self, subs: &[SubscriptionData]) -> bool {
        let mut changed = false;
        for sub in subs {
            match self.subscriptions.get_mut(&sub.topic) {
                None => {
                    self.subscriptions.insert(sub.topic.clone(), sub.clone());
                    changed = true;
                }
                Some(old) if sub.sub_version > old.sub_version => *old = sub.clone(),
                Some(_) => {}
            }
        }
        let before = self.subscriptions.len();
        self.subscriptions
            .retain(|topic, _| subs.iter().any(|s| &s.topic == topic));
        changed || self.subscriptions.len() != before
    }

    pub fn channels(&self) -> Vec<Channel> {
        self.members.values().map(|c| c.channel.clone()).collect()
    }

    pub fn is_broadcasting(&self) -> bool {
        self.message_model == "BROADCASTING"
    }
}

/// A consumer group whose membership or topic set changed, with the connections to notify.
#[derive(Debug, Clone)]
pub struct GroupChange {
    pub group: String,
    pub channels: Vec<Channel>,
}

#[derive(Default)]
struct Tables {
    producers: HashMap<String, HashMap<u64, ClientConn>>,
    consumers: HashMap<String, ConsumerGroup>,
}

/// Registry of producer and consumer connections.
#[derive(Default)]
pub struct ClientRegistry {
    tables: Mutex<Tables>,
    /// Stamps heartbeats and measures their age.
    clock: Clock,
}

impl Tables {
    /// Removes the connection from every group; returns the consumer groups that lost it, with
    /// their remaining members (empty groups are removed and not reported).
    fn remove_channel(&mut self, channel_id: u64) -> Vec<GroupChange> {
        for m in self.producers.values_mut() {
            m.remove(&channel_id);
        }
        self.producers.retain(|_, m| !m.is_empty());
        let mut changed = Vec::new();
        for (name, group) in self.consumers.iter_mut() {
            if group.members.remove(&channel_id).is_some() && !group.members.is_empty() {
                changed.push(GroupChange {
                    group: name.clone(),
                    channels: group.channels(),
                });
            }
        }
        self.consumers.retain(|_, g| !g.members.is_empty());
        changed
    }
}

impl ClientRegistry {
    /// An empty registry reading time from `clock`.
    pub fn new(clock: Clock) -> ClientRegistry {
        ClientRegistry {
            tables: Mutex::default(),
            clock,
        }
    }

    /// Records a heartbeat. Returns the consumer groups that gained a member or changed their
    /// topic set, and the 5.x `IS_SUB_CHANGE` answer: for a v2 heartbeat (non-zero
    /// `heartbeatFingerprint`), true when a group's fingerprint differs from its last one, or
    /// when a heartbeat without subscriptions names a group whose subscriptions the broker does
    /// not have (after a broker restart): the client then sends them in full.
    pub fn heartbeat(
        &self,
        channel: &Channel,
        language: String,
        version: i32,
        hb: &HeartbeatData,
    ) -> (Vec<GroupChange>, bool) {
        let conn = ClientConn {
            channel: channel.clone(),
            client_id: hb.client_id.clone(),
            language,
            version,
            last_update: self.clock.instant(),
        };
        let mut t = self.tables.lock();
        for p in &hb.producer_data_set {
            t.producers
                .entry(p.group_name.clone())
                .or_default()
                .insert(channel.id(), conn.clone());
        }
        let mut changed = Vec::new();
        let mut sub_change = false;
        let v2 = hb.heartbeat_fingerprint != 0;
        for c in &hb.consumer_data_set {
            let group = t.consumers.entry(c.group_name.clone()).or_default();
            if v2 {
                sub_change |= group.fingerprint.is_some_and(|f| f != hb.heartbeat_fingerprint);
            }
            group.fingerprint = Some(hb.heartbeat_fingerprint);
            let new_member = group.members.insert(channel.id(), conn.clone()).is_none();
            group.consume_type = c.consume_type.clone();
            group.message_model = c.message_model.clone();
            group.consume_from_where = c.consume_from_where.clone();
            let topics_changed = if v2 && hb.without_sub {
                sub_change |= group.subscriptions.is_empty();
                false
            } else {
                group.update_subscriptions(&c.subscription_data_set)
            };
            if new_member || topics_changed {
                changed.push(GroupChange {
                    group: c.group_name.clone(),
                    channels: group.channels(),
                });
            }
        }
        (changed, sub_change)
    }

    /// `UNREGISTER_CLIENT` for one group pair. Returns the consumer group change to announce.
    pub fn unregister(
        &self,
        channel: &Channel,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) -> Option<GroupChange> {
        let mut t = self.tables.lock();
        if let Some(g) = producer_group {
            if let Some(m) = t.producers.get_mut(g) {
                m.remove(&channel.id());
                if m.is_empty() {
                    t.producers.remove(g);
                }
            }
        }
        let g = consumer_group?;
        let group = t.consumers.get_mut(g)?;
        group.members.remove(&channel.id())?;
        if group.members.is_empty() {
            t.consumers.remove(g);
            return None;
        }
        Some(GroupChange {
            group: g.to_string(),
            channels: group.channels(),
        })
    }

    /// Drops a closed connection everywhere. Returns the consumer groups that lost a member.
    pub fn channel_closed(&self, channel: &Channel) -> Vec<GroupChange> {
        self.tables.lock().remove_channel(channel.id())
    }

    /// Drops connections without a heartbeat for `timeout`. Returns them (to be closed) and the
    /// consumer groups that lost members.
    pub fn expire(&self, timeout: Duration) -> (Vec<Channel>, Vec<GroupChange>) {
        let now = self.clock.instant();
        let mut t = self.tables.lock();
        let mut stale: HashMap<u64, Channel> = HashMap::new();
        let conns = t
            .producers
            .values()
            .flat_map(|m| m.values())
            .chain(t.consumers.values().flat_map(|g| g.members.values()));
        for c in conns {
            if now.duration_since(c.last_update) > timeout {
                stale.insert(c.channel.id(), c.channel.clone());
            }
        }
        let mut changes: Vec<GroupChange> = Vec::new();
        for id in stale.keys() {
            for change in t.remove_channel(*id) {
                changes.retain(|c| c.group != change.group);
                changes.push(change);
            }
        }
        (stale.into_values().collect(), changes)
    }

    /// Client ids of a consumer group's members, sorted.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let t = self.tables.lock();
        let mut ids: Vec<String> = t
            .consumers
            .get(group)
            .map(|g| g.members.values().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The connections of a consumer group.
    pub fn consumer_channels(&self, group: &str) -> Vec<Channel> {
        self.tables
            .lock()
            .consumers
            .get(group)
            .map(ConsumerGroup::channels)
            .unwrap_or_default()
    }

    /// A consumer group as known from heartbeats.
    /// The connection of consumer `client_id` in `group` (`ConsumerManager.findChannel`).
    pub fn find_consumer(&self, group: &str, client_id: &str) -> Option<ClientConn> {
        self.tables
            .lock()
            .consumers
            .get(group)?
            .members
            .values()
            .find(|c| c.client_id == client_id)
            .cloned()
    }

    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroup> {
        self.tables.lock().consumers.get(group).cloned()
    }

    /// The group's subscription to `topic`.
    pub fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        self.tables
            .lock()
            .consumers
            .get(group)
            .and_then(|g| g.subscriptions.get(topic).cloned())
    }

    /// For a pull without its own expression: `None` when the group is unknown, else whether
    /// it consumes by broadcasting and its subscription to `topic`.
    pub fn pull_subscription(&self, group: &str, topic: &str) -> Option<(bool, Option<SubscriptionData>)> {
        let t = self.tables.lock();
        let g = t.consumers.get(group)?;
        Some((g.is_broadcasting(), g.subscriptions.get(topic).cloned()))
    }

    /// Connection counts by (group, language, version, consume type) for consumers and by
    /// (language, version) for producers (the metrics' connection gauges).
    pub fn connection_counts(&self) -> ConnectionCounts {
        let t = self.tables.lock();
        let mut consumers: HashMap<ConsumerKind, u64> = HashMap::new();
        for (name, g) in &t.consumers {
            for c in g.members.values() {
                *consumers
                    .entry((
                        name.clone(),
                        c.language.clone(),
                        c.version,
                        g.consume_type.clone(),
                        protocol_of(&c.channel),
                    ))
                    .or_default() += 1;
            }
        }
        let mut producers: HashMap<ProducerKind, u64> = HashMap::new();
        for members in t.producers.values() {
            for c in members.values() {
                *producers
                    .entry((c.language.clone(), c.version, protocol_of(&c.channel)))
                    .or_default() += 1;
            }
        }
        let mut c: Vec<_> = consumers.into_iter().collect();
        c.sort();
        let mut p: Vec<_> = producers.into_iter().collect();
        p.sort();
        ConnectionCounts {
            consumers: c,
            producers: p,
        }
    }

    /// Every producer group and its members (GET_ALL_PRODUCER_INFO).
    pub fn all_producers(&self) -> Vec<(String, Vec<ClientConn>)> {
        self.tables
            .lock()
            .producers
            .iter()
            .map(|(g, m)| (g.clone(), m.values().cloned().collect()))
            .collect()
    }

    /// The members of a producer group.
    pub fn producer_conns(&self, group: &str) -> Option<Vec<ClientConn>> {
        self.tables
            .lock()
            .producers
            .get(group)
            .map(|m| m.values().cloned().collect())
    }

    /// Groups with a live subscription to `topic` (`queryTopicConsumeByWho`).
    pub fn groups_subscribed_to(&self, topic: &str) -> Vec<String> {
        self.tables
            .lock()
            .consumers
            .iter()
            .filter(|(_, g)| g.subscriptions.contains_key(topic))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A group's consumer data as a heartbeat would carry it (subscriptions in no order).
    pub fn consumer_data(&self, group: &str) -> Option<ConsumerData> {
        self.tables.lock().consumers.get(group).map(|g| ConsumerData {
            consume_from_where: g.consume_from_where.clone(),
            consume_type: g.consume_type.clone(),
            group_name: group.to_string(),
            message_model: g.message_model.clone(),
            subscription_data_set: g.subscriptions.values().cloned().collect(),
            unit_mode: false,
        })
    }
}

/// How long one NOTIFY_CONSUMER_IDS_CHANGED may wait for a congested connection's queue.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// Sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to every connection of a changed group, in a
/// background task. Must run inside a tokio runtime.
pub fn notify_ids_changed(change: GroupChange) {
    if change.channels.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let header = NotifyConsumerIdsChangedRequestHeader {
            consumer_group: change.group.clone(),
        };
        let request =
            RemotingCommand::request(request_code::NOTIFY_CONSUMER_IDS_CHANGED).with_header(&header);
        for ch in change.channels {
            match tokio::time::timeout(NOTIFY_TIMEOUT, ch.invoke_oneway(request.clone())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(peer = %ch.peer_addr(), error = %e, "notify consumer ids changed failed")
                }
                Err(_) => tracing::warn!(peer = %ch.peer_addr(), "notify consumer ids changed timed out"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::body::{ConsumerData, ProducerData};
    use rmq_protocol::time::ManualClock;

    /// A channel over an in-memory pipe (the registry only keeps and compares channels).
    fn channel() -> (Channel, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(1024);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        (Channel::spawn_io(ours, addr, addr, None), theirs)
    }

    fn heartbeat(client_id: &str) -> HeartbeatData {
        HeartbeatData {
            client_id: client_id.into(),
            producer_data_set: vec![ProducerData {
                group_name: "pg".into(),
            }],
            consumer_data_set: vec![ConsumerData {
                group_name: "cg".into(),
                message_model: "CLUSTERING".into(),
                ..ConsumerData::default()
            }],
            ..HeartbeatData::default()
        }
    }

    /// Producers and consumers expire `timeout` after their last heartbeat by the registry's
    /// clock (strictly after), and the group that lost a member is reported with the rest.
    #[tokio::test]
    async fn connections_expire_by_the_clock_after_their_last_heartbeat() {
        let time = ManualClock::new(0);
        let registry = ClientRegistry::new(time.clock());
        let timeout = Duration::from_secs(120);
        let ((a, _pa), (b, _pb)) = (channel(), channel());
        registry.heartbeat(&a, "JAVA".into(), 409, &heartbeat("a"));
        registry.heartbeat(&b, "JAVA".into(), 409, &heartbeat("b"));
        time.advance(Duration::from_secs(60));
        registry.heartbeat(&b, "JAVA".into(), 409, &heartbeat("b"));

        time.advance(Duration::from_secs(60));
        let (expired, changes) = registry.expire(timeout);
        assert!(
            expired.is_empty() && changes.is_empty(),
            "a is exactly 120 s old: kept"
        );
        assert_eq!(registry.consumer_ids("cg"), ["a", "b"]);

        time.advance(Duration::from_millis(1));
        let (expired, changes) = registry.expire(timeout);
        assert_eq!(expired.iter().map(Channel::id).collect::<Vec<_>>(), [a.id()]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].group, "cg");
        assert_eq!(
            changes[0].channels.iter().map(Channel::id).collect::<Vec<_>>(),
            [b.id()]
        );
        assert_eq!(registry.consumer_ids("cg"), ["b"]);
        assert_eq!(
            registry.producer_conns("pg").map(|c| c.len()),
            Some(1),
            "a's producer gone too"
        );

        time.advance(timeout);
        let (expired, changes) = registry.expire(timeout);
        assert_eq!(expired.iter().map(Channel::id).collect::<Vec<_>>(), [b.id()]);
        assert!(changes.is_empty(), "an emptied group is removed, not reported");
        assert!(registry.consumer_group("cg").is_none());
        assert!(registry.producer_conns("pg").is_none());
    }
}
