//! Name server configuration, read from a Java-properties file with the keys RocketMQ users know.

use std::collections::HashMap;
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
                k if self.auth.apply(k, v) => {}
                _ => tracing::debug!(key = %k, "ignoring unknown namesrv config key"),
            }
        }
        Ok(())
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
    }
}
