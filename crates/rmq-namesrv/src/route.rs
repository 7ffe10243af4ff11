//! The route table: which brokers are alive, which clusters they form, and which queues each
//! topic has on each broker.
//!
//! Everything sits behind one `parking_lot::Mutex` (no poisoning) that is never held across an `.await`; every
//! operation is a short, synchronous critical section.

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rmq_protocol::body::static_topic::TopicQueueMappingInfo;
use rmq_protocol::body::{BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData};

/// `PermName.PERM_WRITE`.
pub const PERM_WRITE: i32 = 2;
/// `PermName.PERM_READ`.
pub const PERM_READ: i32 = 4;

/// What a broker tells us when it registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub cluster_name: String,
    pub broker_name: String,
    pub broker_addr: String,
    pub broker_id: i64,
    pub ha_server_addr: String,
    pub data_version: DataVersion,
    pub topics: Vec<TopicConfig>,
    pub filter_servers: Vec<String>,
    /// The connection the registration arrived on, so a closed connection unregisters the broker.
    pub channel_id: Option<u64>,
    /// 5.x `enableActingMaster` header; absent (a 4.x broker) counts as false.
    pub enable_acting_master: bool,
    /// 5.x `zoneName` ext field.
    pub zone_name: Option<String>,
    /// 5.x `heartbeatTimeoutMillis`: this broker's own expiry instead of the default 120 s.
    pub heartbeat_timeout: Option<Duration>,
    /// 5.x static topics this broker leads queues of (`topicQueueMappingInfoMap`), by topic.
    pub queue_mappings: HashMap<String, TopicQueueMappingInfo>,
}

/// Answer to a registration: for a slave, where its master is.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RegisterOutcome {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

#[derive(Debug, Clone)]
struct LiveBroker {
    last_update: Instant,
    data_version: DataVersion,
    channel_id: Option<u64>,
    ha_server_addr: String,
    heartbeat_timeout: Option<Duration>,
}

#[derive(Default)]
struct Tables {
    topic_queues: HashMap<String, BTreeMap<String, QueueData>>,
    brokers: HashMap<String, BrokerData>,
    clusters: HashMap<String, BTreeSet<String>>,
    live: HashMap<String, LiveBroker>,
    filter_servers: HashMap<String, Vec<String>>,
    /// Static topics: topic → broker name → its mapping (`topicQueueMappingInfoTable`).
    queue_mappings: HashMap<String, BTreeMap<String, TopicQueueMappingInfo>>,
}

/// The name server's routing state.
#[derive(Default)]
pub struct RouteTable {
    tables: Mutex<Tables>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a broker registration (`RouteInfoManager.registerBroker` semantics).
    pub fn register(&self, reg: Registration) -> RegisterOutcome {
        let mut guard = self.tables.lock();
        let t = &mut *guard;
        t.clusters
            .entry(reg.cluster_name.clone())
            .or_default()
            .insert(reg.broker_name.clone());

        let broker = t
            .brokers
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: reg.cluster_name.clone(),
                broker_name: reg.broker_name.clone(),
                ..BrokerData::default()
            });
        // As 5.x: every registration of the group sets both (the last one wins).
        broker.enable_acting_master = reg.enable_acting_master;
        broker.zone_name = reg.zone_name.clone();
        // A slave promoted to master re-registers the same address under a new id.
        broker
            .broker_addrs
            .retain(|id, addr| *addr != reg.broker_addr || *id == reg.broker_id);
        // 5.x: the id is held by another live address of a newer master epoch (stateVersion):
        // a deposed master's registration is ignored and its live entry dropped.
        if let Some(holder) = broker.broker_addrs.get(&reg.broker_id) {
            if *holder != reg.broker_addr {
                let newer = t
                    .live
                    .get(holder)
                    .is_some_and(|l| l.data_version.state_version > reg.data_version.state_version);
                if newer {
                    tracing::warn!(
                        broker_name = %reg.broker_name,
                        broker_id = reg.broker_id,
                        holder = %holder,
                        refused = %reg.broker_addr,
                        "registration conflicts with a newer master epoch; ignored"
                    );
                    t.live.remove(&reg.broker_addr);
                    return RegisterOutcome::default();
                }
            }
        }
        let first_time = broker
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone())
            .is_none();

        if reg.broker_id == 0 {
            let changed = match t.live.get(&reg.broker_addr) {
                Some(prev) => prev.data_version != reg.data_version,
                None => true,
            };
            if changed || first_time {
                for tc in &reg.topics {
                    let qd = QueueData {
                        broker_name: reg.broker_name.clone(),
                        read_queue_nums: tc.read_queue_nums,
                        write_queue_nums: tc.write_queue_nums,
                        perm: tc.perm,
                        topic_sys_flag: tc.topic_sys_flag,
                    };
                    t.topic_queues
                        .entry(tc.topic_name.clone())
                        .or_default()
                        .insert(reg.broker_name.clone(), qd);
                }
                // As 5.x, keyed by the mapping's own broker name; a broker's mappings are
                // replaced as a whole, so a topic it no longer maps loses it.
                t.queue_mappings.retain(|_, per_broker| {
                    per_broker.remove(&reg.broker_name);
                    !per_broker.is_empty()
                });
                for (topic, info) in &reg.queue_mappings {
                    let bname = info.bname.clone().unwrap_or_else(|| reg.broker_name.clone());
                    t.queue_mappings
                        .entry(topic.clone())
                        .or_default()
                        .insert(bname, info.clone());
                }
            }
        }

        t.live.insert(
            reg.broker_addr.clone(),
            LiveBroker {
                last_update: Instant::now(),
                data_version: reg.data_version,
                channel_id: reg.channel_id,
                ha_server_addr: reg.ha_server_addr.clone(),
                heartbeat_timeout: reg.heartbeat_timeout,
            },
        );
        if reg.filter_servers.is_empty() {
            t.filter_servers.remove(&reg.broker_addr);
        } else {
            t.filter_servers
                .insert(reg.broker_addr.clone(), reg.filter_servers.clone());
        }

        let mut outcome = RegisterOutcome::default();
        if reg.broker_id != 0 {
            let master = t
                .brokers
                .get(&reg.broker_name)
                .and_then(|b| b.broker_addrs.get(&0))
                .cloned();
            if let Some(master) = master {
                if let Some(live) = t.live.get(&master) {
                    outcome.ha_server_addr = Some(live.ha_server_addr.clone());
                    outcome.master_addr = Some(master);
                }
            }
        }
        outcome
    }

    /// `QUERY_DATA_VERSION`: true when the broker's version differs from ours. An equal version
    /// counts as a heartbeat.
    pub fn data_version_changed(
        &self,
        broker_addr: &str,
        version: &DataVersion,
    ) -> (bool, Option<DataVersion>) {
        let mut t = self.tables.lock();
        match t.live.get_mut(broker_addr) {
            Some(live) if live.data_version == *version => {
                live.last_update = Instant::now();
                (false, Some(live.data_version))
            }
            Some(live) => (true, Some(live.data_version)),
            None => (true, None),
        }
    }

    /// Removes one broker address (`UNREGISTER_BROKER`, expiry, closed connection).
    pub fn unregister(&self, cluster_name: &str, broker_name: &str, broker_addr: &str, broker_id: i64) {
        let mut t = self.tables.lock();
        t.live.remove(broker_addr);
        t.filter_servers.remove(broker_addr);
        let mut now_empty = false;
        if let Some(b) = t.brokers.get_mut(broker_name) {
            if b.broker_addrs.get(&broker_id).map(String::as_str) == Some(broker_addr) {
                b.broker_addrs.remove(&broker_id);
            }
            now_empty = b.broker_addrs.is_empty();
        }
        if now_empty {
            t.brokers.remove(broker_name);
            if let Some(names) = t.clusters.get_mut(cluster_name) {
                names.remove(broker_name);
                if names.is_empty() {
                    t.clusters.remove(cluster_name);
                }
            }
            t.topic_queues.retain(|_, per_broker| {
                per_broker.remove(broker_name);
                !per_broker.is_empty()
            });
            t.queue_mappings.retain(|_, per_broker| {
                per_broker.remove(broker_name);
                !per_broker.is_empty()
            });
        }
        tracing::info!(broker_name, broker_addr, broker_id, "broker unregistered");
    }

    fn find_by(&self, pred: impl Fn(&str, &LiveBroker) -> bool) -> Vec<(String, String, String, i64)> {
        let t = self.tables.lock();
        let mut found = Vec::new();
        for (addr, live) in &t.live {
            if !pred(addr, live) {
                continue;
            }
            for b in t.brokers.values() {
                for (id, a) in &b.broker_addrs {
                    if a == addr {
                        found.push((b.cluster.clone(), b.broker_name.clone(), addr.clone(), *id));
                    }
                }
            }
            if !t
                .brokers
                .values()
                .any(|b| b.broker_addrs.values().any(|a| a == addr))
            {
                found.push((String::new(), String::new(), addr.clone(), -1));
            }
        }
        found
    }

    fn remove_all(&self, victims: Vec<(String, String, String, i64)>) -> usize {
        let n = victims.len();
        for (cluster, name, addr, id) in victims {
            if id < 0 {
                let mut t = self.tables.lock();
                t.live.remove(&addr);
                t.filter_servers.remove(&addr);
            } else {
                self.unregister(&cluster, &name, &addr, id);
            }
        }
        n
    }

    /// Drops brokers that have not registered within `expiry` (or the timeout the broker asked
    /// for in its registration). Returns how many were dropped.
    pub fn expire(&self, expiry: Duration) -> usize {
        let now = Instant::now();
        let victims = self.find_by(|_, live| {
            now.duration_since(live.last_update) > live.heartbeat_timeout.unwrap_or(expiry)
        });
        for (_, name, addr, _) in &victims {
            tracing::warn!(broker_name = %name, broker_addr = %addr, "broker expired: no registration for {:?}", expiry);
        }
        self.remove_all(victims)
    }

    /// Drops the brokers that registered over a connection that has now closed.
    pub fn channel_closed(&self, channel_id: u64) -> usize {
        let victims = self.find_by(|_, live| live.channel_id == Some(channel_id));
        self.remove_all(victims)
    }

    /// `GET_ROUTEINFO_BY_TOPIC`; `None` when the topic has no live queue or broker.
    pub fn topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        let t = self.tables.lock();
        let per_broker = t.topic_queues.get(topic)?;
        let queue_datas: Vec<QueueData> = per_broker.values().cloned().collect();
        let broker_datas: Vec<BrokerData> = per_broker
            .keys()
            .filter_map(|name| t.brokers.get(name).cloned())
            .collect();
        if queue_datas.is_empty() || broker_datas.is_empty() {
            return None;
        }
        let mut filter_server_table = HashMap::new();
        for b in &broker_datas {
            for addr in b.broker_addrs.values() {
                if let Some(list) = t.filter_servers.get(addr) {
                    filter_server_table.insert(addr.clone(), list.clone());
                }
            }
        }
        Some(TopicRouteData {
            order_topic_conf: None,
            queue_datas,
            broker_datas,
            filter_server_table,
            topic_queue_mapping_by_broker: t.queue_mappings.get(topic).cloned(),
        })
    }

    /// `GET_BROKER_CLUSTER_INFO`.
    pub fn cluster_info(&self) -> ClusterInfo {
        let t = self.tables.lock();
        ClusterInfo {
            broker_addr_table: t.brokers.clone(),
            cluster_addr_table: t.clusters.clone(),
        }
    }

    /// Every topic with route data, sorted.
    pub fn topics(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tables.lock().topic_queues.keys().cloned().collect();
        v.sort();
        v
    }

    /// Topics with a queue on any broker of `cluster`.
    pub fn topics_of_cluster(&self, cluster: &str) -> Vec<String> {
        let t = self.tables.lock();
        let Some(names) = t.clusters.get(cluster) else {
            return Vec::new();
        };
        let mut v: Vec<String> = t
            .topic_queues
            .iter()
            .filter(|(_, per)| per.keys().any(|n| names.contains(n)))
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// Topics whose queue data matches `pred` on some broker.
    pub fn topics_where(&self, pred: impl Fn(&QueueData) -> bool) -> Vec<String> {
        let t = self.tables.lock();
        let mut v: Vec<String> = t
            .topic_queues
            .iter()
            .filter(|(_, per)| per.values().any(&pred))
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// Cluster names and broker names, plus one broker address (GET_SYSTEM_TOPIC_LIST_FROM_NS).
    pub fn system_topics(&self) -> (Vec<String>, Option<String>) {
        let t = self.tables.lock();
        let mut names: Vec<String> = t.clusters.keys().cloned().collect();
        names.extend(t.brokers.keys().cloned());
        names.sort();
        let addr = t
            .brokers
            .values()
            .find_map(|b| b.broker_addrs.values().next().cloned());
        (names, addr)
    }

    /// `DELETE_TOPIC_IN_NAMESRV`; with a cluster name, only that cluster's brokers lose the topic.
    pub fn delete_topic(&self, topic: &str, cluster: Option<&str>) {
        let mut t = self.tables.lock();
        match cluster.filter(|c| !c.is_empty()) {
            None => {
                t.topic_queues.remove(topic);
            }
            Some(c) => {
                let names = t.clusters.get(c).cloned().unwrap_or_default();
                if let Some(per) = t.topic_queues.get_mut(topic) {
                    per.retain(|n, _| !names.contains(n));
                    if per.is_empty() {
                        t.topic_queues.remove(topic);
                    }
                }
            }
        }
    }

    /// WIPE_WRITE_PERM_OF_BROKER (`add = false`) / ADD_WRITE_PERM_OF_BROKER (`add = true`).
    /// Returns the number of topics changed.
    pub fn set_write_perm(&self, broker_name: &str, add: bool) -> i32 {
        let mut t = self.tables.lock();
        let mut n = 0;
        for per in t.topic_queues.values_mut() {
            if let Some(qd) = per.get_mut(broker_name) {
                qd.perm = if add {
                    PERM_READ | PERM_WRITE
                } else {
                    qd.perm & !PERM_WRITE
                };
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str, addr: &str, id: i64, topics: &[&str], counter: i64) -> Registration {
        Registration {
            cluster_name: "DefaultCluster".into(),
            broker_name: name.into(),
            broker_addr: addr.into(),
            broker_id: id,
            ha_server_addr: format!("{addr}-ha"),
            data_version: DataVersion {
                counter,
                timestamp: 1,
                state_version: 0,
            },
            topics: topics
                .iter()
                .map(|t| TopicConfig {
                    topic_name: t.to_string(),
                    read_queue_nums: 4,
                    write_queue_nums: 4,
                    perm: 6,
                    ..Default::default()
                })
                .collect(),
            filter_servers: vec![],
            channel_id: Some(id as u64 + 100),
            enable_acting_master: false,
            zone_name: None,
            heartbeat_timeout: None,
            queue_mappings: HashMap::new(),
        }
    }

    #[test]
    fn static_topic_mappings_reach_routes_and_go_with_their_broker() {
        let rt = RouteTable::new();
        let info = TopicQueueMappingInfo {
            topic: Some("S".into()),
            bname: Some("broker-a".into()),
            total_queues: 2,
            epoch: 7,
            curr_id_map: BTreeMap::from([(0, 0), (1, 1)]),
            ..TopicQueueMappingInfo::default()
        };
        rt.register(Registration {
            queue_mappings: HashMap::from([("S".to_owned(), info.clone())]),
            ..reg("broker-a", "a:1", 0, &["S", "T"], 1)
        });
        rt.register(reg("broker-b", "b:1", 0, &["T"], 1));
        let route = rt.topic_route("S").unwrap();
        assert_eq!(
            route.topic_queue_mapping_by_broker,
            Some(BTreeMap::from([("broker-a".to_owned(), info)]))
        );
        assert_eq!(rt.topic_route("T").unwrap().topic_queue_mapping_by_broker, None);
        // a newer registration without the mapping drops it
        rt.register(reg("broker-a", "a:1", 0, &["S", "T"], 2));
        assert_eq!(rt.topic_route("S").unwrap().topic_queue_mapping_by_broker, None);
    }

    #[test]
    fn five_x_registration_fields_reach_routes_and_expiry() {
        let rt = RouteTable::new();
        rt.register(Registration {
            enable_acting_master: true,
            zone_name: Some("zone-1".into()),
            heartbeat_timeout: Some(Duration::from_secs(3600)),
            ..reg("broker-a", "a:1", 0, &["T"], 1)
        });
        rt.register(reg("broker-b", "b:1", 0, &["T"], 1));
        let route = rt.topic_route("T").unwrap();
        let a = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == "broker-a")
            .unwrap();
        assert!(a.enable_acting_master);
        assert_eq!(a.zone_name.as_deref(), Some("zone-1"));
        let json = String::from_utf8(rmq_protocol::body::to_json(&route).to_vec()).unwrap();
        assert!(json.contains(r#""enableActingMaster":false"#), "{json}");
        assert!(
            !json.contains("topicQueueMappingByBroker"),
            "absent as from Java: {json}"
        );
        // broker-a asked for an hour: only broker-b is past a zero default.
        assert_eq!(rt.expire(Duration::ZERO), 1);
        assert_eq!(rt.cluster_info().broker_addr_table.len(), 1);
        assert!(rt.cluster_info().broker_addr_table.contains_key("broker-a"));
    }

    #[test]
    fn register_route_and_unregister() {
        let rt = RouteTable::new();
        assert_eq!(
            rt.register(reg("broker-a", "127.0.0.1:10911", 0, &["T1", "TBW102"], 1)),
            RegisterOutcome::default()
        );
        let out = rt.register(reg("broker-a", "127.0.0.1:20911", 1, &["ignored"], 1));
        assert_eq!(out.master_addr.as_deref(), Some("127.0.0.1:10911"));
        assert_eq!(out.ha_server_addr.as_deref(), Some("127.0.0.1:10911-ha"));

        let route = rt.topic_route("T1").unwrap();
        assert_eq!(route.queue_datas.len(), 1);
        assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
        assert!(rt.topic_route("ignored").is_none(), "slaves never change routes");

        rt.register(reg("broker-b", "127.0.0.1:30911", 0, &["T1"], 1));
        assert_eq!(rt.topic_route("T1").unwrap().queue_datas.len(), 2);
        assert_eq!(rt.cluster_info().cluster_addr_table["DefaultCluster"].len(), 2);

        rt.unregister("DefaultCluster", "broker-b", "127.0.0.1:30911", 0);
        assert_eq!(rt.topic_route("T1").unwrap().queue_datas.len(), 1);
        assert_eq!(rt.channel_closed(100), 1);
        assert_eq!(rt.channel_closed(101), 1);
        assert!(rt.topic_route("T1").is_none());
        assert!(rt.cluster_info().cluster_addr_table.is_empty());
    }

    /// 5.x `stateVersion`: a deposed master (older epoch) cannot take brokerId 0 back from the
    /// new one, and loses its live entry; a newer epoch takes it over.
    #[test]
    fn a_deposed_master_does_not_take_broker_id_0_back() {
        let rt = RouteTable::new();
        let with_epoch = |addr: &str, epoch: i64| {
            let mut r = reg("broker-a", addr, 0, &["T"], epoch);
            r.data_version.state_version = epoch;
            r
        };
        rt.register(with_epoch("old:1", 1));
        rt.register(with_epoch("new:1", 2));
        let master = |rt: &RouteTable| rt.topic_route("T").unwrap().broker_datas[0].broker_addrs[&0].clone();
        assert_eq!(master(&rt), "new:1", "a newer epoch takes brokerId 0");
        let out = rt.register(with_epoch("old:1", 1));
        assert!(out.master_addr.is_none() && out.ha_server_addr.is_none());
        assert_eq!(master(&rt), "new:1", "the deposed master is ignored");
        assert!(
            !rt.tables.lock().live.contains_key("old:1"),
            "and its live entry dropped"
        );
        // Without controller mode every stateVersion is 0: the last registration wins, as before.
        rt.register(reg("broker-b", "b1:1", 0, &["T"], 1));
        rt.register(reg("broker-b", "b2:1", 0, &["T"], 1));
        let b = rt.topic_route("T").unwrap();
        let b = b
            .broker_datas
            .iter()
            .find(|d| d.broker_name == "broker-b")
            .unwrap();
        assert_eq!(b.broker_addrs[&0], "b2:1");
    }

    #[test]
    fn expiry_and_data_version() {
        let rt = RouteTable::new();
        rt.register(reg("broker-a", "a:1", 0, &["T"], 3));
        let v = DataVersion {
            counter: 3,
            timestamp: 1,
            state_version: 0,
        };
        assert!(!rt.data_version_changed("a:1", &v).0);
        assert!(
            rt.data_version_changed(
                "a:1",
                &DataVersion {
                    counter: 4,
                    timestamp: 1,
                    state_version: 0,
                }
            )
            .0
        );
        assert_eq!(rt.expire(Duration::from_secs(60)), 0);
        assert_eq!(rt.expire(Duration::ZERO), 1);
        assert!(rt.topics().is_empty());
    }

    #[test]
    fn write_perm_and_delete() {
        let rt = RouteTable::new();
        rt.register(reg("broker-a", "a:1", 0, &["T", "U"], 1));
        assert_eq!(rt.set_write_perm("broker-a", false), 2);
        assert_eq!(rt.topic_route("T").unwrap().queue_datas[0].perm, PERM_READ);
        assert_eq!(rt.set_write_perm("broker-a", true), 2);
        assert_eq!(rt.topic_route("T").unwrap().queue_datas[0].perm, 6);
        rt.delete_topic("T", Some("OtherCluster"));
        assert!(rt.topic_route("T").is_some());
        rt.delete_topic("T", None);
        assert!(rt.topic_route("T").is_none());
        assert_eq!(rt.topics_of_cluster("DefaultCluster"), vec!["U".to_string()]);
    }
}
