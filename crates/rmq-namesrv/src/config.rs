//! Name server configuration, read from a Java-properties file with the keys RocketMQ users know.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rmq_remoting::TlsSettings;

use crate::NamesrvError;

/// `NamesrvConfig` + `NettyServerConfig` keys that matter here.
#[derive(Debug, Clone)]
pub struct NamesrvConfig {
    /// `listenPort` (9876). 0 picks a free port.
    pub listen_port: u16,
    /// Address to bind (`0.0.0.0`).
    pub listen_addr: String,
    /// `kvConfigPath` (`~/namesrv/kvConfig.json`); `None` keeps KV in memory.
    pub kv_config_path: Option<PathBuf>,
    /// `orderMessageEnable` (false).
    pub order_message_enable: bool,
    /// How often dead brokers are looked for (10 s).
    pub scan_not_active_broker_interval_ms: u64,
    /// A broker is dead after this long without registering (120 s).
    pub broker_channel_expired_ms: u64,
    /// `serverChannelMaxIdleTimeSeconds` (120): a connection silent this long is closed; 0 never.
    pub server_channel_max_idle_time_seconds: u64,
    /// The `tls.*` keys (`tls.server.mode` permissive by default, as Java).
    pub tls: TlsSettings,
    /// ACL 2.0 (`authenticationEnabled`, `authorizationEnabled`, ...; rmq checks the name
    /// server's own requests too, which Apache RocketMQ's name server does not).
    pub auth: rmq_acl::v2::AuthSettings,
    /// `clusterName`: the `Cluster:` resource of cluster-wide requests (DefaultCluster).
    pub cluster_name: String,
    /// Java's `configStorePath`: the `-c` file, where UPDATE_NAMESRV_CONFIG persists its keys.
    pub config_store_path: Option<PathBuf>,
    /// `configBlackList` (5.x: `configBlackList;configStorePath;kvConfigPath`): keys
    /// UPDATE_NAMESRV_CONFIG refuses with NO_PERMISSION.
    pub config_black_list: String,
    /// `metricsExporterType` (the broker's key; `DISABLE`): `PROM` serves Prometheus text at
    /// `/metrics` (Apache RocketMQ's name server has no metrics).
    pub metrics_exporter_type: String,
    /// `metricsPromExporterHost` (empty: every address).
    pub metrics_prom_exporter_host: String,
    /// `metricsPromExporterPort` (5557, the broker's default; 0 takes a free port).
    pub metrics_prom_exporter_port: u16,
    /// Every key given (file, then updates) as written, shown by GET_NAMESRV_CONFIG.
    pub given: BTreeMap<String, String>,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        NamesrvConfig {
            listen_port: 9876,
            listen_addr: "0.0.0.0".into(),
            kv_config_path: Some(home.join("namesrv").join("kvConfig.json")),
            order_message_enable: false,
            scan_not_active_broker_interval_ms: 10_000,
            broker_channel_expired_ms: 120_000,
            server_channel_max_idle_time_seconds: 120,
            tls: TlsSettings::default(),
            auth: rmq_acl::v2::AuthSettings::default(),
            cluster_name: "DefaultCluster".into(),
            config_store_path: None,
            config_black_list: "configBlackList;configStorePath;kvConfigPath".into(),
            metrics_exporter_type: "DISABLE".into(),
            metrics_prom_exporter_host: String::new(),
            metrics_prom_exporter_port: 5557,
            given: BTreeMap::new(),
        }
    }
}

impl NamesrvConfig {
    /// Applies the known keys of a properties map; unknown keys are ignored (logged).
    pub fn apply(&mut self, props: &HashMap<String, String>) -> Result<(), NamesrvError> {
        for (k, v) in props {
            let bad = || NamesrvError::Config(format!("invalid value {v:?} for {k}"));
            match k.as_str() {
                "listenPort" => self.listen_port = v.parse().map_err(|_| bad())?,
                "kvConfigPath" => self.kv_config_path = Some(PathBuf::from(v)),
                "orderMessageEnable" => self.order_message_enable = rmq_protocol::header::parse_bool(v),
                "scanNotActiveBrokerInterval" => {
                    self.scan_not_active_broker_interval_ms = v.parse().map_err(|_| bad())?
                }
                "brokerChannelExpiredTime" => {
                    self.broker_channel_expired_ms = v.parse().map_err(|_| bad())?
                }
                "serverChannelMaxIdleTimeSeconds" => {
                    self.server_channel_max_idle_time_seconds = v.trim().parse().map_err(|_| bad())?
                }
                k if k.starts_with("tls.") && self.tls.apply(k, v) => {}
                "clusterName" => self.cluster_name = v.trim().to_string(),
                "configStorePath" => self.config_store_path = Some(PathBuf::from(v.trim())),
                "configBlackList" => self.config_black_list = v.trim().to_string(),
                "metricsExporterType" => self.metrics_exporter_type = v.trim().to_string(),
                "metricsPromExporterHost" => self.metrics_prom_exporter_host = v.trim().to_string(),
                "metricsPromExporterPort" => {
                    self.metrics_prom_exporter_port = v.trim().parse().map_err(|_| bad())?
                }
                k if self.auth.apply(k, v) => {}
                _ => tracing::debug!(key = %k, "ignoring unknown namesrv config key"),
            }
            self.given.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    /// Whether `configBlackList` names `k`.
    pub fn black_listed(&self, k: &str) -> bool {
        rmq_protocol::body::properties::listed(&self.config_black_list, k)
    }

    /// GET_NAMESRV_CONFIG's pairs: the value of every key read here (TLS and ACL 2.0 keys left
    /// out), then every other key given, as given.
    pub fn export(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = vec![
            ("listenPort".into(), self.listen_port.to_string()),
            ("orderMessageEnable".into(), self.order_message_enable.to_string()),
            (
                "scanNotActiveBrokerInterval".into(),
                self.scan_not_active_broker_interval_ms.to_string(),
            ),
            (
                "brokerChannelExpiredTime".into(),
                self.broker_channel_expired_ms.to_string(),
            ),
            (
                "serverChannelMaxIdleTimeSeconds".into(),
                self.server_channel_max_idle_time_seconds.to_string(),
            ),
            ("clusterName".into(), self.cluster_name.clone()),
            ("configBlackList".into(), self.config_black_list.clone()),
            ("metricsExporterType".into(), self.metrics_exporter_type.clone()),
            (
                "metricsPromExporterPort".into(),
                self.metrics_prom_exporter_port.to_string(),
            ),
        ];
        if let Some(p) = &self.kv_config_path {
            out.push(("kvConfigPath".into(), p.display().to_string()));
        }
        if let Some(p) = &self.config_store_path {
            out.push(("configStorePath".into(), p.display().to_string()));
        }
        let secret = |k: &str| k.starts_with("tls.") || rmq_acl::v2::AuthSettings::default().apply(k, "");
        for (k, v) in &self.given {
            if !out.iter().any(|(o, _)| o == k) && !secret(k) {
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties() {
        let p: HashMap<String, String> = [
            ("listenPort", "9877"),
            ("orderMessageEnable", "true"),
            ("tls.server.mode", "enforcing"),
            ("bogus", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut c = NamesrvConfig::default();
        c.apply(&p).unwrap();
        assert_eq!(c.listen_port, 9877);
        assert!(c.order_message_enable);
        assert_eq!(c.tls.server_mode, rmq_remoting::TlsMode::Enforcing);
        assert!(c
            .apply(&HashMap::from([("listenPort".to_string(), "x".to_string())]))
            .is_err());
        let exported: HashMap<_, _> = c.export().into_iter().collect();
        assert_eq!(exported["orderMessageEnable"], "true");
        assert_eq!(exported["bogus"], "");
        assert!(!exported.contains_key("tls.server.mode"));
        assert!(c.black_listed("kvConfigPath"));
    }
}
