//! Producers and consumers known from heartbeats, per connection. A closed connection removes
//! its client from every group.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use rmq_protocol::body::{ConsumerData, HeartbeatData};
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

/// A consumer group: its members and their (latest) subscriptions.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    pub members: HashMap<u64, ClientConn>,
    pub data: Option<ConsumerData>,
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
}

impl ClientRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a heartbeat. Returns the consumer groups whose membership changed.
    pub fn heartbeat(
        &self,
        channel: &Channel,
        language: String,
        version: i32,
        hb: &HeartbeatData,
    ) -> Vec<String> {
        let conn = ClientConn {
            channel: channel.clone(),
            client_id: hb.client_id.clone(),
            language,
            version,
            last_update: Instant::now(),
        };
        let mut t = self.lock();
        for p in &hb.producer_data_set {
            t.producers
                .entry(p.group_name.clone())
                .or_default()
                .insert(channel.id(), conn.clone());
        }
        let mut changed = Vec::new();
        for c in &hb.consumer_data_set {
            let group = t.consumers.entry(c.group_name.clone()).or_default();
            if group.members.insert(channel.id(), conn.clone()).is_none() {
                changed.push(c.group_name.clone());
            }
            group.data = Some(c.clone());
        }
        changed
    }

    /// `UNREGISTER_CLIENT` for one group pair.
    pub fn unregister(
        &self,
        channel: &Channel,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) -> bool {
        let mut t = self.lock();
        if let Some(g) = producer_group {
            if let Some(m) = t.producers.get_mut(g) {
                m.remove(&channel.id());
            }
        }
        let mut changed = false;
        if let Some(g) = consumer_group {
            if let Some(group) = t.consumers.get_mut(g) {
                changed = group.members.remove(&channel.id()).is_some();
            }
        }
        changed
    }

    /// Drops a closed connection everywhere. Returns the consumer groups that lost a member.
    pub fn channel_closed(&self, channel: &Channel) -> Vec<String> {
        let mut t = self.lock();
        for m in t.producers.values_mut() {
            m.remove(&channel.id());
        }
        t.producers.retain(|_, m| !m.is_empty());
        let mut changed = Vec::new();
        for (name, group) in t.consumers.iter_mut() {
            if group.members.remove(&channel.id()).is_some() {
                changed.push(name.clone());
            }
        }
        t.consumers.retain(|_, g| !g.members.is_empty());
        changed
    }

    /// Client ids of a consumer group's members, sorted.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let t = self.lock();
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
        let t = self.lock();
        t.consumers
            .get(group)
            .map(|g| g.members.values().map(|c| c.channel.clone()).collect())
            .unwrap_or_default()
    }

    /// The connections of a producer group (transaction check-back targets).
    pub fn producer_channels(&self, group: &str) -> Vec<Channel> {
        let t = self.lock();
        t.producers
            .get(group)
            .map(|m| m.values().map(|c| c.channel.clone()).collect())
            .unwrap_or_default()
    }

    /// A group's latest consumer data (subscriptions) from heartbeats.
    pub fn consumer_data(&self, group: &str) -> Option<ConsumerData> {
        self.lock().consumers.get(group).and_then(|g| g.data.clone())
    }
}
