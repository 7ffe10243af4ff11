//! `broker.conf`: the keys RocketMQ users already write, parsed as Java does (unknown keys and
//! unparsable values are ignored, with a warning here).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use rmq_remoting::TlsSettings;
pub use rmq_store::BrokerRole;
use rmq_store::{FlushDiskType, StoreConfig};

/// Broker configuration (BrokerConfig + NettyServerConfig + the store keys).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub broker_cluster_name: String,
    pub broker_name: String,
    pub broker_id: i64,
    /// `namesrvAddr`: `host:port;host:port`.
    pub namesrv_addr: Vec<String>,
    /// `listenPort`; 0 picks a free port (the advertised address then carries the real one).
    pub listen_port: u16,
    /// `serverChannelMaxIdleTimeSeconds` (120): a connection silent this long is closed; 0 never.
    pub server_channel_max_idle_time_seconds: u64,
    /// The `tls.*` keys: `tls.server.mode` (permissive) for the listen port, client certificates
    /// (`tls.server.need.client.auth`, `tls.server.trustCertPath`) and encrypted keys
    /// (`tls.server.keyPassword`); `tls.enable` and `tls.client.*` for the broker's own
    /// connections to the name servers (docs/broker/tls.md#keys). The HA port stays plain, as in
    /// Java.
    pub tls: TlsSettings,
    pub broker_ip1: String,
    pub broker_ip2: String,
    pub broker_role: BrokerRole,
    pub broker_permission: i32,
    pub auto_create_topic_enable: bool,
    pub auto_create_subscription_group: bool,
    pub default_topic_queue_nums: i32,
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    pub register_name_server_period_ms: u64,
    pub region_id: String,
    pub trace_on: bool,
    pub flush_consumer_offset_interval_ms: u64,
    /// `transactionMetricFlushInterval`: how often `config/transactionMetrics` is written.
    pub transaction_metric_flush_interval_ms: u64,
    /// `enablePropertyFilter`: accept SQL92 subscriptions.
    pub enable_property_filter: bool,
    /// `rejectTransactionMessage`: refuse half messages with NO_PERMISSION.
    pub reject_transaction_message: bool,
    /// `transactionCheckInterval`: period of the transaction check-back rounds.
    pub transaction_check_interval_ms: u64,
    /// `transactionTimeOut`: a half message younger than this is not checked yet.
    pub transaction_timeout_ms: u64,
    /// `transactionCheckMax`: checks before a half message is discarded.
    pub transaction_check_max: i32,
    /// Send NOTIFY_CONSUMER_IDS_CHANGED on membership changes (the group flag must agree).
    pub notify_consumer_ids_changed_enable: bool,
    /// Hold pulls that find nothing for `suspendTimeoutMillis`; otherwise for `short_polling_time_ms`.
    pub long_polling_enable: bool,
    pub short_polling_time_ms: u64,
    /// rmq's cap on a pull's hold time, whatever the client asks (Java clients ask 15 s or 20 s).
    pub broker_suspend_max_time_ms: u64,
    /// Pulls held at once; a pull beyond this is answered PULL_NOT_FOUND at once.
    pub max_held_pulls: usize,
    /// A client connection without a heartbeat for this long is dropped (Java: 120 s).
    pub channel_expired_timeout_ms: u64,
    /// Let consumers read from a slave (`suggestWhichBrokerId`,
    /// docs/protocol/pull.md#suggest-which-broker-id).
    pub slave_read_enable: bool,
    /// `offsetCheckInSlave` (false): a slave answers an out-of-range pull offset like a master
    /// (OFFSET_MOVED with the corrected offset) instead of PULL_RETRY_IMMEDIATELY.
    pub offset_check_in_slave: bool,
    /// `litePullMessageEnable` (true, 5.x): serve LITE_PULL_MESSAGE.
    pub lite_pull_message_enable: bool,
    /// `aclEnable`: check every request against ACL 1.0 rules (docs/broker/acl.md).
    pub acl_enable: bool,
    /// `rocketmqHome` (default: the `ROCKETMQ_HOME` environment variable): where
    /// `conf/plain_acl.yml` and `conf/acl/*.yml` are read from.
    pub rocketmq_home: Option<PathBuf>,
    /// ACL 2.0: `authenticationEnabled`, `authorizationEnabled` and the other `AuthConfig` keys.
    pub auth: rmq_acl::v2::AuthSettings,
    /// `enableMixedMessageType` (false, 5.x): allow topics with `message.type=MIXED`.
    pub enable_mixed_message_type: bool,
    /// `sendMessageThreadPoolNums`: sends processed at once (the permits of the send queue).
    /// rmq default 1 (Java 4.9.0's value; 4.9.8: min(cores, 4)): a permit covers the checks and
    /// the append under the store's put lock, not the flush wait, so more permits only add
    /// threads blocked on that lock.
    pub send_message_thread_pool_nums: usize,
    /// `sendThreadPoolQueueCapacity`: sends waiting for a permit; beyond it `[OVERLOAD]`.
    pub send_thread_pool_queue_capacity: usize,
    /// `waitTimeMillsInSendQueue`: a send that waited this long gets `[TIMEOUT_CLEAN_QUEUE]`.
    pub wait_time_mills_in_send_queue: u64,
    /// `brokerFastFailureEnable`: the two checks above that answer SYSTEM_BUSY early.
    pub broker_fast_failure_enable: bool,
    /// `haMasterAddress`: a slave's fixed master HA address (otherwise learned from the name
    /// server).
    pub ha_master_address: Option<String>,
    /// The HA port actually bound: `listenPort + 1` (set at start; Java ignores the key too).
    pub ha_listen_port: u16,
    /// The `timer*` keys (5.x timer messages, docs/broker/timer.md#keys).
    pub timer: crate::timer::TimerSettings,
    /// `grpcServerPort` (8081): where the 5.x gRPC protocol is served (docs/protocol/grpc.md); 0
    /// takes a free port, as does a broker whose `listenPort` is 0. `enableGrpcServer=false`
    /// (rmq) turns it off.
    pub grpc_server_port: u16,
    pub enable_grpc_server: bool,
    /// The Proxy's `grpcMaxInboundMessageSize` (130 MiB): a larger gRPC message is refused with
    /// RESOURCE_EXHAUSTED on its own stream.
    pub grpc_max_inbound_message_size: usize,
    /// `metricsExporterType` (DISABLE): PROM serves Prometheus metrics at `/metrics` on
    /// `metricsPromExporterHost`:`metricsPromExporterPort` (5557; 0 takes a free port).
    pub metrics_exporter_type: String,
    pub metrics_prom_exporter_host: String,
    pub metrics_prom_exporter_port: u16,
    /// The Proxy's auto-renew keys for gRPC push consumers (`renewAheadTimeMillis`, ...).
    pub grpc_renew: crate::grpc::renew::RenewSettings,
    /// The POP keys (`reviveQueueNum`, `popPollingSize`, ..., docs/broker/pop.md#keys).
    pub pop: crate::pop::PopSettings,
    /// The controller-mode keys (`enableControllerMode`, `controllerAddr`, ...,
    /// docs/controller/broker.md#keys).
    pub controller: crate::replicas::ControllerModeSettings,
    pub store: StoreConfig,
    /// Java's `brokerConfigPath`: the `-c` file, where UPDATE_BROKER_CONFIG persists its keys.
    pub config_path: Option<PathBuf>,
    /// `configBlackList` (5.x: `configBlackList;brokerConfigPath`): keys UPDATE_BROKER_CONFIG
    /// refuses with NO_PERMISSION.
    pub config_black_list: String,
    /// Every key given (broker.conf, then updates) as written, so that GET_BROKER_CONFIG shows
    /// the keys rmq accepts without a use as the operator set them.
    pub given: BTreeMap<String, String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let ip = local_ip().to_string();
        let namesrv_addr = std::env::var("NAMESRV_ADDR")
            .ok()
            .map(|s| split_addrs(&s))
            .unwrap_or_default();
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: hostname(),
            broker_id: 0,
            namesrv_addr,
            listen_port: 10911,
            server_channel_max_idle_time_seconds: 120,
            tls: TlsSettings::default(),
            broker_ip1: ip.clone(),
            broker_ip2: ip,
            broker_role: BrokerRole::AsyncMaster,
            broker_permission: 6,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            register_name_server_period_ms: 30_000,
            region_id: "DefaultRegion".into(),
            trace_on: true,
            flush_consumer_offset_interval_ms: 5_000,
            transaction_metric_flush_interval_ms: 3_000,
            enable_property_filter: false,
            reject_transaction_message: false,
            transaction_check_interval_ms: 60_000,
            transaction_timeout_ms: 6_000,
            transaction_check_max: 15,
            notify_consumer_ids_changed_enable: true,
            long_polling_enable: true,
            short_polling_time_ms: 1_000,
            broker_suspend_max_time_ms: 15_000,
            max_held_pulls: 100_000,
            channel_expired_timeout_ms: 120_000,
            slave_read_enable: false,
            offset_check_in_slave: false,
            enable_mixed_message_type: false,
            lite_pull_message_enable: true,
            acl_enable: false,
            auth: rmq_acl::v2::AuthSettings::default(),
            rocketmq_home: std::env::var_os("ROCKETMQ_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            send_message_thread_pool_nums: 1,
            send_thread_pool_queue_capacity: 10_000,
            wait_time_mills_in_send_queue: 200,
            broker_fast_failure_enable: true,
            ha_master_address: None,
            ha_listen_port: 10912,
            timer: crate::timer::TimerSettings::default(),
            pop: crate::pop::PopSettings::default(),
            controller: Default::default(),
            grpc_renew: crate::grpc::renew::RenewSettings::default(),
            grpc_server_port: 8081,
            enable_grpc_server: true,
            grpc_max_inbound_message_size: 130 << 20,
            metrics_exporter_type: "DISABLE".into(),
            metrics_prom_exporter_host: String::new(),
            metrics_prom_exporter_port: 5557,
            store: StoreConfig {
                store_path_root_dir: home.join("store"),
                ..StoreConfig::default()
            },
            config_path: None,
            config_black_list: "configBlackList;brokerConfigPath".into(),
            given: BTreeMap::new(),
        }
    }
}

/// Splits `a:1;b:2` into addresses.
pub fn split_addrs(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "broker-a".into())
}

/// The first non-loopback IPv4 address, found by asking the kernel which source address it would
/// use (no packet is sent); loopback when there is none.
pub fn local_ip() -> IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

impl BrokerConfig {
    /// Applies a properties map. Returns the keys that were not understood (Java ignores them).
    pub fn apply(&mut self, props: &HashMap<String, String>) -> Vec<String> {
        let mut ignored = Vec::new();
        for (k, v) in props {
            if !self.apply_one(k, v) {
                ignored.push(k.clone());
            }
            self.given.insert(k.clone(), v.clone());
        }
        ignored
    }

    /// Applies one key as UPDATE_BROKER_CONFIG does and remembers it; false when the key is not
    /// one rmq reads or the value does not parse.
    pub fn update_one(&mut self, k: &str, v: &str) -> bool {
        let known = self.apply_one(k, v);
        self.given.insert(k.to_string(), v.to_string());
        known
    }

    /// Whether `configBlackList` names `k`.
    pub fn black_listed(&self, k: &str) -> bool {
        rmq_protocol::body::properties::listed(&self.config_black_list, k)
    }

    /// GET_BROKER_CONFIG's pairs: the effective value of every key rmq reads (TLS and ACL 2.0
    /// keys, system properties or secrets in Java, left out), the Java keys rmq has no use for
    /// with Java's defaults (tools read them: `mqadmin exportConfigs` fails without
    /// `filterServerNums`), then every other key given, as given.
    pub fn export(&self) -> Vec<(String, String)> {
        let s = &self.store;
        let mut out: Vec<(String, String)> = Vec::with_capacity(96);
        let mut put = |k: &str, v: String| out.push((k.to_string(), v));
        put("brokerClusterName", self.broker_cluster_name.clone());
        put("brokerName", self.broker_name.clone());
        put("brokerId", self.broker_id.to_string());
        put("namesrvAddr", self.namesrv_addr.join(";"));
        put("listenPort", self.listen_port.to_string());
        put("grpcServerPort", self.grpc_server_port.to_string());
        put("enableGrpcServer", self.enable_grpc_server.to_string());
        put(
            "grpcMaxInboundMessageSize",
            self.grpc_max_inbound_message_size.to_string(),
        );
        put("metricsExporterType", self.metrics_exporter_type.clone());
        put("metricsPromExporterHost", self.metrics_prom_exporter_host.clone());
        put(
            "metricsPromExporterPort",
            self.metrics_prom_exporter_port.to_string(),
        );
        put(
            "serverChannelMaxIdleTimeSeconds",
            self.server_channel_max_idle_time_seconds.to_string(),
        );
        put("brokerIP1", self.broker_ip1.clone());
        put("brokerIP2", self.broker_ip2.clone());
        put("brokerRole", self.broker_role.as_str().to_string());
        if let Some(a) = &self.ha_master_address {
            put("haMasterAddress", a.clone());
        }
        put("slaveTimeout", s.slave_timeout_ms.to_string());
        put("allAckInSyncStateSet", s.all_ack_in_sync_state_set.to_string());
        put("inSyncReplicas", s.in_sync_replicas.to_string());
        put("minInSyncReplicas", s.min_in_sync_replicas.to_string());
        put(
            "haMaxTimeSlaveNotCatchup",
            s.ha_max_time_slave_not_catchup_ms.to_string(),
        );
        put("syncFromLastFile", s.sync_from_last_file.to_string());
        self.controller.export(&mut put);
        put("haSlaveFallbehindMax", s.ha_slave_fallbehind_max.to_string());
        put(
            "haSendHeartbeatInterval",
            s.ha_send_heartbeat_interval_ms.to_string(),
        );
        put(
            "haHousekeepingInterval",
            s.ha_housekeeping_interval_ms.to_string(),
        );
        put("haTransferBatchSize", s.ha_transfer_batch_size.to_string());
        put("brokerPermission", self.broker_permission.to_string());
        put("autoCreateTopicEnable", self.auto_create_topic_enable.to_string());
        put(
            "autoCreateSubscriptionGroup",
            self.auto_create_subscription_group.to_string(),
        );
        put("defaultTopicQueueNums", self.default_topic_queue_nums.to_string());
        put("clusterTopicEnable", self.cluster_topic_enable.to_string());
        put("brokerTopicEnable", self.broker_topic_enable.to_string());
        put(
            "registerNameServerPeriod",
            self.register_name_server_period_ms.to_string(),
        );
        put("regionId", self.region_id.clone());
        put("traceOn", self.trace_on.to_string());
        put(
            "flushConsumerOffsetInterval",
            self.flush_consumer_offset_interval_ms.to_string(),
        );
        put(
            "transactionMetricFlushInterval",
            self.transaction_metric_flush_interval_ms.to_string(),
        );
        put("enablePropertyFilter", self.enable_property_filter.to_string());
        put(
            "rejectTransactionMessage",
            self.reject_transaction_message.to_string(),
        );
        put(
            "transactionCheckInterval",
            self.transaction_check_interval_ms.to_string(),
        );
        put("transactionTimeOut", self.transaction_timeout_ms.to_string());
        put("transactionCheckMax", self.transaction_check_max.to_string());
        put(
            "notifyConsumerIdsChangedEnable",
            self.notify_consumer_ids_changed_enable.to_string(),
        );
        put("longPollingEnable", self.long_polling_enable.to_string());
        put("shortPollingTimeMills", self.short_polling_time_ms.to_string());
        put(
            "brokerSuspendMaxTimeMillis",
            self.broker_suspend_max_time_ms.to_string(),
        );
        put("maxHeldPulls", self.max_held_pulls.to_string());
        put(
            "channelExpiredTimeout",
            self.channel_expired_timeout_ms.to_string(),
        );
        put("slaveReadEnable", self.slave_read_enable.to_string());
        put("offsetCheckInSlave", self.offset_check_in_slave.to_string());
        put(
            "enableMixedMessageType",
            self.enable_mixed_message_type.to_string(),
        );
        put("litePullMessageEnable", self.lite_pull_message_enable.to_string());
        put("aclEnable", self.acl_enable.to_string());
        if let Some(home) = &self.rocketmq_home {
            put("rocketmqHome", home.display().to_string());
        }
        if let Some(path) = &self.config_path {
            put("brokerConfigPath", path.display().to_string());
        }
        put("configBlackList", self.config_black_list.clone());
        put(
            "sendMessageThreadPoolNums",
            self.send_message_thread_pool_nums.to_string(),
        );
        put(
            "sendThreadPoolQueueCapacity",
            self.send_thread_pool_queue_capacity.to_string(),
        );
        put(
            "waitTimeMillsInSendQueue",
            self.wait_time_mills_in_send_queue.to_string(),
        );
        put(
            "brokerFastFailureEnable",
            self.broker_fast_failure_enable.to_string(),
        );
        put(
            "osPageCacheBusyTimeOutMills",
            s.os_page_cache_busy_timeout_ms.to_string(),
        );
        put("messageIndexEnable", s.message_index_enable.to_string());
        put("maxHashSlotNum", s.max_hash_slot_num.to_string());
        put("maxIndexNum", s.max_index_num.to_string());
        put("fileReservedTime", s.file_reserved_time_hours.to_string());
        put("deleteWhen", s.delete_when.clone());
        put("diskMaxUsedSpaceRatio", s.disk_max_used_space_ratio.to_string());
        put(
            "cleanFileForciblyEnable",
            s.clean_file_forcibly_enable.to_string(),
        );
        put("cleanResourceInterval", s.clean_resource_interval_ms.to_string());
        put(
            "deleteCommitLogFilesInterval",
            s.delete_commit_log_files_interval_ms.to_string(),
        );
        put(
            "diskSpaceWarningLevelRatio",
            s.disk_space_warning_level_ratio.to_string(),
        );
        put(
            "diskSpaceCleanForciblyRatio",
            s.disk_space_clean_forcibly_ratio.to_string(),
        );
        put("cleanResourceFirstDelay", s.clean_first_delay_ms.to_string());
        put("diskCheckInterval", s.disk_check_interval_ms.to_string());
        put("storePathRootDir", s.store_path_root_dir.display().to_string());
        put("flushDiskType", s.flush_disk_type.as_str().to_string());
        put(
            "mappedFileSizeCommitLog",
            s.mapped_file_size_commit_log.to_string(),
        );
        put("dataReadAheadEnable", s.data_read_ahead_enable.to_string());
        put(
            "mappedFileSizeConsumeQueue",
            s.mapped_file_size_consume_queue.to_string(),
        );
        put("maxMessageSize", s.max_message_size.to_string());
        put("syncFlushTimeout", s.sync_flush_timeout_ms.to_string());
        put(
            "flushIntervalCommitLog",
            s.flush_interval_commit_log_ms.to_string(),
        );
        put(
            "flushIntervalConsumeQueue",
            s.flush_interval_consume_queue_ms.to_string(),
        );
        put(
            "flushCommitLogLeastPages",
            s.flush_commit_log_least_pages.to_string(),
        );
        put("messageDelayLevel", s.message_delay_level.clone());
        put(
            "flushCommitLogThoroughInterval",
            s.flush_commit_log_thorough_interval_ms.to_string(),
        );
        put(
            "flushConsumeQueueLeastPages",
            s.flush_consume_queue_least_pages.to_string(),
        );
        put(
            "flushConsumeQueueThoroughInterval",
            s.flush_consume_queue_thorough_interval_ms.to_string(),
        );
        put(
            "accessMessageInMemoryMaxRatio",
            s.access_message_in_memory_max_ratio.to_string(),
        );
        put(
            "maxTransferBytesOnMessageInMemory",
            s.max_transfer_bytes_on_message_in_memory.to_string(),
        );
        put(
            "maxTransferCountOnMessageInMemory",
            s.max_transfer_count_on_message_in_memory.to_string(),
        );
        put(
            "maxTransferBytesOnMessageInDisk",
            s.max_transfer_bytes_on_message_in_disk.to_string(),
        );
        put(
            "maxTransferCountOnMessageInDisk",
            s.max_transfer_count_on_message_in_disk.to_string(),
        );
        put("checkCRCOnRecover", s.check_crc_on_recover.to_string());
        put("messageIndexSafe", s.message_index_safe.to_string());
        put("haListenPort", self.ha_listen_port.to_string());
        self.timer.export(&mut out);
        self.pop.export(&mut out);
        self.grpc_renew.export(&mut out);
        let mut exported: std::collections::HashSet<String> = out.iter().map(|(k, _)| k.clone()).collect();
        for (k, v) in crate::java_defaults::BROKER {
            if !exported.contains(*k) && !self.given.contains_key(*k) {
                out.push((k.to_string(), v.to_string()));
                exported.insert(k.to_string());
            }
        }
        let secret = |k: &str| k.starts_with("tls.") || rmq_acl::v2::AuthSettings::default().apply(k, "");
        for (k, v) in &self.given {
            if !exported.contains(k) && !secret(k) {
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }

    fn apply_one(&mut self, k: &str, v: &str) -> bool {
        fn num<T: std::str::FromStr>(k: &str, v: &str, slot: &mut T) -> bool {
            match v.trim().parse() {
                Ok(n) => {
                    *slot = n;
                    true
                }
                Err(_) => {
                    tracing::warn!(key = k, value = v, "ignoring unparsable config value");
                    false
                }
            }
        }
        if let Some(ok) = self.controller.apply(k, v) {
            if k == "enableControllerMode" {
                self.store.controller_mode = self.controller.enable;
            }
            return ok;
        }
        let b = rmq_protocol::header::parse_bool;
        let s = &mut self.store;
        match k {
            "brokerClusterName" => self.broker_cluster_name = v.to_string(),
            "brokerName" => self.broker_name = v.to_string(),
            "brokerId" => return num(k, v, &mut self.broker_id),
            "namesrvAddr" => self.namesrv_addr = split_addrs(v),
            "listenPort" => return num(k, v, &mut self.listen_port),
            "grpcServerPort" => return num(k, v, &mut self.grpc_server_port),
            "enableGrpcServer" => self.enable_grpc_server = b(v),
            "metricsExporterType" => self.metrics_exporter_type = v.trim().to_string(),
            "metricsPromExporterHost" => self.metrics_prom_exporter_host = v.trim().to_string(),
            "metricsPromExporterPort" => return num(k, v, &mut self.metrics_prom_exporter_port),
            "grpcMaxInboundMessageSize" => return num(k, v, &mut self.grpc_max_inbound_message_size),
            "serverChannelMaxIdleTimeSeconds" => {
                return num(k, v, &mut self.server_channel_max_idle_time_seconds)
            }
            k if k.starts_with("tls.") => return self.tls.apply(k, v),
            "brokerIP1" => self.broker_ip1 = v.to_string(),
            "brokerIP2" => self.broker_ip2 = v.to_string(),
            "brokerRole" => match v.trim().parse() {
                Ok(role) => {
                    self.broker_role = role;
                    s.broker_role = role;
                }
                Err(_) => return false,
            },
            "haMasterAddress" => self.ha_master_address = Some(v.trim().to_string()),
            // bound at listenPort + 1 whatever the key says (as Java 4.9)
            "haListenPort" => {}
            "slaveTimeout" => return num(k, v, &mut s.slave_timeout_ms),
            "haSlaveFallbehindMax" => return num(k, v, &mut s.ha_slave_fallbehind_max),
            "haSendHeartbeatInterval" => return num(k, v, &mut s.ha_send_heartbeat_interval_ms),
            "haHousekeepingInterval" => return num(k, v, &mut s.ha_housekeeping_interval_ms),
            "haTransferBatchSize" => return num(k, v, &mut s.ha_transfer_batch_size),
            "allAckInSyncStateSet" => s.all_ack_in_sync_state_set = b(v),
            "inSyncReplicas" => return num(k, v, &mut s.in_sync_replicas),
            "minInSyncReplicas" => return num(k, v, &mut s.min_in_sync_replicas),
            "haMaxTimeSlaveNotCatchup" => return num(k, v, &mut s.ha_max_time_slave_not_catchup_ms),
            "syncFromLastFile" => s.sync_from_last_file = b(v),
            "brokerPermission" => return num(k, v, &mut self.broker_permission),
            "autoCreateTopicEnable" => self.auto_create_topic_enable = b(v),
            "autoCreateSubscriptionGroup" => self.auto_create_subscription_group = b(v),
            "defaultTopicQueueNums" => return num(k, v, &mut self.default_topic_queue_nums),
            "clusterTopicEnable" => self.cluster_topic_enable = b(v),
            "brokerTopicEnable" => self.broker_topic_enable = b(v),
            "registerNameServerPeriod" => return num(k, v, &mut self.register_name_server_period_ms),
            "regionId" => self.region_id = v.to_string(),
            "traceOn" => self.trace_on = b(v),
            "flushConsumerOffsetInterval" => return num(k, v, &mut self.flush_consumer_offset_interval_ms),
            "transactionMetricFlushInterval" => {
                return num(k, v, &mut self.transaction_metric_flush_interval_ms)
            }
            "enablePropertyFilter" => self.enable_property_filter = b(v),
            "rejectTransactionMessage" => self.reject_transaction_message = b(v),
            "transactionCheckInterval" => return num(k, v, &mut self.transaction_check_interval_ms),
            "transactionTimeOut" => return num(k, v, &mut self.transaction_timeout_ms),
            "transactionCheckMax" => return num(k, v, &mut self.transaction_check_max),
            "notifyConsumerIdsChangedEnable" => self.notify_consumer_ids_changed_enable = b(v),
            "longPollingEnable" => self.long_polling_enable = b(v),
            "shortPollingTimeMills" => return num(k, v, &mut self.short_polling_time_ms),
            "brokerSuspendMaxTimeMillis" => return num(k, v, &mut self.broker_suspend_max_time_ms),
            "maxHeldPulls" => return num(k, v, &mut self.max_held_pulls),
            "channelExpiredTimeout" => return num(k, v, &mut self.channel_expired_timeout_ms),
            "slaveReadEnable" => self.slave_read_enable = b(v),
            "offsetCheckInSlave" => self.offset_check_in_slave = b(v),
            "enableMixedMessageType" => self.enable_mixed_message_type = b(v),
            "litePullMessageEnable" => self.lite_pull_message_enable = b(v),
            "aclEnable" => self.acl_enable = b(v),
            "configBlackList" => self.config_black_list = v.trim().to_string(),
            "brokerConfigPath" => self.config_path = Some(PathBuf::from(v.trim())),
            k if self.auth.apply(k, v) => {}
            k if k.starts_with("timer") || k == "mappedFileSizeTimerLog" => return self.timer.apply(k, v),
            k if crate::pop::PopSettings::owns(k) => return self.pop.apply(k, v),
            "rocketmqHome" => self.rocketmq_home = Some(PathBuf::from(v.trim())),
            "sendMessageThreadPoolNums" => return num(k, v, &mut self.send_message_thread_pool_nums),
            "sendThreadPoolQueueCapacity" => return num(k, v, &mut self.send_thread_pool_queue_capacity),
            "waitTimeMillsInSendQueue" => return num(k, v, &mut self.wait_time_mills_in_send_queue),
            "brokerFastFailureEnable" => self.broker_fast_failure_enable = b(v),
            "osPageCacheBusyTimeOutMills" => return num(k, v, &mut s.os_page_cache_busy_timeout_ms),
            "messageIndexEnable" => s.message_index_enable = b(v),
            "flushCommitLogThoroughInterval" => {
                return num(k, v, &mut s.flush_commit_log_thorough_interval_ms)
            }
            "flushConsumeQueueLeastPages" => return num(k, v, &mut s.flush_consume_queue_least_pages),
            "flushConsumeQueueThoroughInterval" => {
                return num(k, v, &mut s.flush_consume_queue_thorough_interval_ms)
            }
            "accessMessageInMemoryMaxRatio" => return num(k, v, &mut s.access_message_in_memory_max_ratio),
            "maxTransferBytesOnMessageInMemory" => {
                return num(k, v, &mut s.max_transfer_bytes_on_message_in_memory)
            }
            "maxTransferCountOnMessageInMemory" => {
                return num(k, v, &mut s.max_transfer_count_on_message_in_memory)
            }
            "maxTransferBytesOnMessageInDisk" => {
                return num(k, v, &mut s.max_transfer_bytes_on_message_in_disk)
            }
            "maxTransferCountOnMessageInDisk" => {
                return num(k, v, &mut s.max_transfer_count_on_message_in_disk)
            }
            "checkCRCOnRecover" => s.check_crc_on_recover = b(v),
            "messageIndexSafe" => s.message_index_safe = b(v),
            "maxHashSlotNum" => return num(k, v, &mut s.max_hash_slot_num),
            "maxIndexNum" => return num(k, v, &mut s.max_index_num),
            "fileReservedTime" => return num(k, v, &mut s.file_reserved_time_hours),
            "deleteWhen" => s.delete_when = v.trim().to_string(),
            "diskMaxUsedSpaceRatio" => return num(k, v, &mut s.disk_max_used_space_ratio),
            "cleanFileForciblyEnable" => s.clean_file_forcibly_enable = b(v),
            "cleanResourceInterval" => return num(k, v, &mut s.clean_resource_interval_ms),
            "deleteCommitLogFilesInterval" => return num(k, v, &mut s.delete_commit_log_files_interval_ms),
            // JVM system properties in Java (rocketmq.broker.*); broker.conf keys here.
            "diskSpaceWarningLevelRatio" => return num(k, v, &mut s.disk_space_warning_level_ratio),
            "diskSpaceCleanForciblyRatio" => return num(k, v, &mut s.disk_space_clean_forcibly_ratio),
            // rmq only (fixed in Java: 60 s and 10 s).
            "cleanResourceFirstDelay" => return num(k, v, &mut s.clean_first_delay_ms),
            "diskCheckInterval" => return num(k, v, &mut s.disk_check_interval_ms),
            "storePathRootDir" => s.store_path_root_dir = PathBuf::from(v.trim()),
            "flushDiskType" => match v.trim() {
                "ASYNC_FLUSH" => s.flush_disk_type = FlushDiskType::AsyncFlush,
                "SYNC_FLUSH" => s.flush_disk_type = FlushDiskType::SyncFlush,
                _ => return false,
            },
            "mappedFileSizeCommitLog" => return num(k, v, &mut s.mapped_file_size_commit_log),
            "dataReadAheadEnable" => s.data_read_ahead_enable = rmq_protocol::header::parse_bool(v.trim()),
            "mappedFileSizeConsumeQueue" => return num(k, v, &mut s.mapped_file_size_consume_queue),
            "maxMessageSize" => return num(k, v, &mut s.max_message_size),
            "syncFlushTimeout" => return num(k, v, &mut s.sync_flush_timeout_ms),
            "flushIntervalCommitLog" => return num(k, v, &mut s.flush_interval_commit_log_ms),
            "flushIntervalConsumeQueue" => return num(k, v, &mut s.flush_interval_consume_queue_ms),
            "flushCommitLogLeastPages" => return num(k, v, &mut s.flush_commit_log_least_pages),
            "messageDelayLevel" => {
                if !v.is_ascii() {
                    return false;
                }
                let mut c = s.clone();
                c.message_delay_level = v.trim().to_string();
                let n = c.delay_levels_ms().len();
                if n == 0 || n != c.message_delay_level.split(' ').filter(|t| !t.is_empty()).count() {
                    tracing::warn!(key = k, value = v, "ignoring unparsable messageDelayLevel");
                    return false;
                }
                s.message_delay_level = c.message_delay_level;
            }
            k => return self.grpc_renew.apply(k, v).unwrap_or(false),
        }
        true
    }

    /// `brokerIP1:listenPort` with the port actually bound.
    pub fn advertised_addr(&self, port: u16) -> String {
        format!("{}:{}", self.broker_ip1, port)
    }

    /// The store host written into records: the advertised address.
    pub fn store_host(&self, port: u16) -> SocketAddr {
        let ip: IpAddr = self.broker_ip1.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        SocketAddr::new(ip, port)
    }

    pub fn is_master(&self) -> bool {
        self.broker_role != BrokerRole::Slave
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exported key is one `apply_one` reads (or a Java key rmq has no use for), and
    /// applying the export changes nothing.
    #[test]
    fn export_round_trips() {
        let c = BrokerConfig {
            config_path: Some(PathBuf::from("/etc/broker.conf")),
            ha_master_address: Some("10.0.0.1:10912".into()),
            ..Default::default()
        };
        let exported = c.export();
        let mut again = BrokerConfig::default();
        let java_only = |k: &str| crate::java_defaults::BROKER.iter().any(|(j, _)| *j == k);
        for (k, v) in &exported {
            assert!(
                again.apply_one(k, v) || java_only(k),
                "{k}={v} is exported but not read back"
            );
        }
        for (k, _) in crate::java_defaults::BROKER {
            assert!(
                !again.apply_one(k, "1"),
                "{k} is read by rmq: take it out of java_defaults"
            );
        }
        assert_eq!(again.export(), exported);
        let mut keys: Vec<_> = exported.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), exported.len(), "a key is exported twice");
    }

    #[test]
    fn export_keeps_given_keys_and_hides_secrets() {
        let mut c = BrokerConfig::default();
        let props: HashMap<String, String> = [
            ("useReentrantLockWhenPutMessage", "true"),
            ("tls.server.keyPassword", "hunter2"),
            ("innerClientAuthenticationCredentials", "{}"),
            ("fileReservedTime", "48"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        c.apply(&props);
        let exported: HashMap<_, _> = c.export().into_iter().collect();
        assert_eq!(exported["useReentrantLockWhenPutMessage"], "true");
        assert_eq!(exported["fileReservedTime"], "48");
        assert!(!exported.contains_key("tls.server.keyPassword"));
        assert!(!exported.contains_key("innerClientAuthenticationCredentials"));
        assert!(c.black_listed("brokerConfigPath"));
        assert!(!c.black_listed("brokerPermission"));
    }

    #[test]
    fn keys_users_write() {
        let mut c = BrokerConfig::default();
        let props: HashMap<String, String> = [
            ("brokerClusterName", "DefaultCluster"),
            ("brokerName", "broker-a"),
            ("brokerId", "0"),
            ("deleteWhen", "04"),
            ("flushDiskType", "SYNC_FLUSH"),
            ("brokerRole", "SYNC_MASTER"),
            ("namesrvAddr", "127.0.0.1:9876;127.0.0.1:9877"),
            ("listenPort", "10911 "),
            ("autoCreateTopicEnable", "false"),
            ("mappedFileSizeCommitLog", "1048576"),
            ("maxMessageSize", "nope"),
            ("messageDelayLevel", "1s 2s 3s"),
            ("fileReservedTime", "48"),
            ("diskMaxUsedSpaceRatio", "88"),
            ("waitTimeMillsInSendQueue", "300"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let ignored = c.apply(&props);
        assert_eq!(c.broker_name, "broker-a");
        assert_eq!(c.store.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.broker_role, BrokerRole::SyncMaster);
        assert_eq!(c.namesrv_addr.len(), 2);
        assert_eq!(c.listen_port, 10911);
        assert!(!c.auto_create_topic_enable);
        assert_eq!(c.store.mapped_file_size_commit_log, 1048576);
        assert_eq!(c.store.max_message_size, 4 * 1024 * 1024);
        assert_eq!(c.store.delete_when, "04");
        assert_eq!(c.store.file_reserved_time_hours, 48);
        assert_eq!(c.store.disk_max_used_space_ratio, 88);
        assert_eq!(c.wait_time_mills_in_send_queue, 300);
        assert!(ignored.contains(&"maxMessageSize".to_string()));
        assert_eq!(c.store.delay_levels_ms(), vec![1000, 2000, 3000]);
        let mut bad = HashMap::new();
        bad.insert("messageDelayLevel".to_string(), "1s 2x".to_string());
        assert_eq!(c.apply(&bad), vec!["messageDelayLevel".to_string()]);
        assert_eq!(c.store.delay_levels_ms().len(), 3);
    }

    #[test]
    fn ha_keys() {
        let mut c = BrokerConfig::default();
        let props: HashMap<String, String> = [
            ("brokerRole", "SLAVE"),
            ("brokerId", "2"),
            ("haMasterAddress", "10.0.0.1:10912"),
            ("slaveTimeout", "1500"),
            ("haSlaveFallbehindMax", "1024"),
            ("slaveReadEnable", "true"),
            ("offsetCheckInSlave", "true"),
            ("brokerIP2", "10.0.0.9"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(c.apply(&props).is_empty());
        assert_eq!(c.broker_role, BrokerRole::Slave);
        assert_eq!(c.store.broker_role, BrokerRole::Slave);
        assert!(!c.is_master());
        assert_eq!(c.broker_id, 2);
        assert_eq!(c.ha_master_address.as_deref(), Some("10.0.0.1:10912"));
        assert_eq!(c.store.slave_timeout_ms, 1500);
        assert_eq!(c.store.ha_slave_fallbehind_max, 1024);
        assert!(c.slave_read_enable);
        assert!(c.offset_check_in_slave);
        assert_eq!(c.broker_ip2, "10.0.0.9");
        let mut bad = HashMap::new();
        bad.insert("brokerRole".to_string(), "slave".to_string());
        assert_eq!(c.apply(&bad), vec!["brokerRole".to_string()]);
        assert_eq!(c.broker_role, BrokerRole::Slave);
    }
}
