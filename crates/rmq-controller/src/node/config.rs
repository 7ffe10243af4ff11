//! `ControllerConfig`: the keys of RocketMQ 5's `controller.conf` (and of a name server's file
//! with `enableControllerInNamesrv=true`) that rmq reads (docs/controller/java-reference.md, 1.2).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use super::NodeError;

/// One controller in `controllerDLegerPeers` (`n0-127.0.0.1:9878`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: String,
    pub address: String,
}

#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// `controllerDLegerGroup`.
    pub group: String,
    /// `controllerDLegerPeers`, in the order given.
    pub peers: Vec<Peer>,
    /// `controllerDLegerSelfId`.
    pub self_id: String,
    /// `controllerStorePath` (`~/DLedgerController`): the event log.
    pub store_path: PathBuf,
    /// `scanNotActiveBrokerInterval` (5 s): how often expired heartbeats are looked for.
    pub scan_not_active_broker_interval: Duration,
    /// `scanInactiveMasterInterval` (5 s): how often groups with a dead master are looked for.
    pub scan_inactive_master_interval: Duration,
    /// `electMasterMaxRetryCount` (3): tries of an election the controller starts itself.
    pub elect_master_max_retry_count: u32,
    /// `enableElectUncleanMaster` (false).
    pub enable_elect_unclean_master: bool,
    /// `notifyBrokerRoleChanged` (true): NOTIFY_BROKER_ROLE_CHANGED after an election.
    pub notify_broker_role_changed: bool,
    /// `configStorePath`: where UPDATE_CONTROLLER_CONFIG persists; the `-c` file by default.
    pub config_store_path: Option<PathBuf>,
    /// `configBlackList` (`configBlackList;configStorePath`; `rocketmqHome` always added).
    pub config_black_list: String,
    /// Every key given (file, then updates), shown by GET_CONTROLLER_CONFIG.
    pub given: BTreeMap<String, String>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        ControllerConfig {
            group: "DefaultControllerGroup".into(),
            peers: Vec::new(),
            self_id: "n0".into(),
            store_path: home.join("DLedgerController"),
            scan_not_active_broker_interval: Duration::from_millis(5000),
            scan_inactive_master_interval: Duration::from_millis(5000),
            elect_master_max_retry_count: 3,
            enable_elect_unclean_master: false,
            notify_broker_role_changed: true,
            config_store_path: None,
            config_black_list: "configBlackList;configStorePath".into(),
            given: BTreeMap::new(),
        }
    }
}

/// `n0-127.0.0.1:9878;n1-127.0.0.1:9879`.
pub fn parse_peers(s: &str) -> Result<Vec<Peer>, NodeError> {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((id, addr)) if !id.is_empty() && addr.contains(':') => Ok(Peer {
                id: id.trim().to_string(),
                address: addr.trim().to_string(),
            }),
            _ => Err(NodeError::Config(format!(
                "controllerDLegerPeers: `{p}` is not <id>-<host>:<port>"
            ))),
        })
        .collect()
}

impl ControllerConfig {
    /// Applies the known keys of a properties map; unknown keys are kept for GET_CONTROLLER_CONFIG.
    pub fn apply(&mut self, props: &HashMap<String, String>) -> Result<(), NodeError> {
        for (k, v) in props {
            let v = v.trim();
            let bad = || NodeError::Config(format!("invalid value {v:?} for {k}"));
            let ms = |v: &str| v.parse::<u64>().map(Duration::from_millis).map_err(|_| bad());
            let flag = rmq_protocol::header::parse_bool;
            match k.as_str() {
                "controllerDLegerGroup" => self.group = v.to_string(),
                "controllerDLegerPeers" => self.peers = parse_peers(v)?,
                "controllerDLegerSelfId" => self.self_id = v.to_string(),
                "controllerStorePath" if !v.is_empty() => self.store_path = PathBuf::from(v),
                "scanNotActiveBrokerInterval" => self.scan_not_active_broker_interval = ms(v)?,
                "scanInactiveMasterInterval" => self.scan_inactive_master_interval = ms(v)?,
                "electMasterMaxRetryCount" => {
                    self.elect_master_max_retry_count = v.parse().map_err(|_| bad())?
                }
                "enableElectUncleanMaster" => self.enable_elect_unclean_master = flag(v),
                "notifyBrokerRoleChanged" => self.notify_broker_role_changed = flag(v),
                "configStorePath" if !v.is_empty() => self.config_store_path = Some(PathBuf::from(v)),
                "configBlackList" => self.config_black_list = v.to_string(),
                _ => tracing::debug!(key = %k, "controller: keeping unknown config key as given"),
            }
            self.given.insert(k.clone(), v.to_string());
        }
        Ok(())
    }

    /// This controller's own peer entry: the address it listens on.
    pub fn self_peer(&self) -> Result<&Peer, NodeError> {
        self.peers.iter().find(|p| p.id == self.self_id).ok_or_else(|| {
            NodeError::Config(format!(
                "controllerDLegerSelfId `{}` is not in controllerDLegerPeers",
                self.self_id
            ))
        })
    }

    /// The port of this controller's peer entry (0 when unknown).
    pub fn listen_port(&self) -> u16 {
        self.self_peer()
            .ok()
            .and_then(|p| p.address.rsplit_once(':'))
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(0)
    }

    /// Whether UPDATE_CONTROLLER_CONFIG must refuse `k` (Java adds `rocketmqHome` to the list).
    pub fn black_listed(&self, k: &str) -> bool {
        k == "rocketmqHome" || rmq_protocol::body::properties::listed(&self.config_black_list, k)
    }

    /// GET_CONTROLLER_CONFIG's pairs: every key read here, then every other key given.
    pub fn export(&self) -> Vec<(String, String)> {
        let peers: String = self
            .peers
            .iter()
            .map(|p| format!("{}-{}", p.id, p.address))
            .collect::<Vec<_>>()
            .join(";");
        let ms = |d: Duration| d.as_millis().to_string();
        let mut out: Vec<(String, String)> = vec![
            ("controllerType".into(), "DLedger".into()),
            ("controllerDLegerGroup".into(), self.group.clone()),
            ("controllerDLegerPeers".into(), peers),
            ("controllerDLegerSelfId".into(), self.self_id.clone()),
            (
                "controllerStorePath".into(),
                self.store_path.display().to_string(),
            ),
            (
                "scanNotActiveBrokerInterval".into(),
                ms(self.scan_not_active_broker_interval),
            ),
            (
                "scanInactiveMasterInterval".into(),
                ms(self.scan_inactive_master_interval),
            ),
            (
                "electMasterMaxRetryCount".into(),
                self.elect_master_max_retry_count.to_string(),
            ),
            (
                "enableElectUncleanMaster".into(),
                self.enable_elect_unclean_master.to_string(),
            ),
            (
                "notifyBrokerRoleChanged".into(),
                self.notify_broker_role_changed.to_string(),
            ),
            ("configBlackList".into(), self.config_black_list.clone()),
            // Java's ControllerConfig keys rmq has no use for, at Java's defaults, so that tools
            // reading the config find them.
            ("controllerThreadPoolNums".into(), "16".into()),
            ("controllerRequestThreadPoolQueueCapacity".into(), "50000".into()),
            ("isProcessReadEvent".into(), "false".into()),
            ("mappedFileSize".into(), (1u64 << 30).to_string()),
            ("metricsExporterType".into(), "DISABLE".into()),
            (
                "rocketmqHome".into(),
                std::env::var("ROCKETMQ_HOME").unwrap_or_default(),
            ),
            // The netty part: the port this controller serves on (its peer's).
            ("listenPort".into(), self.listen_port().to_string()),
        ];
        let store = self.config_store_path.as_ref().map_or_else(
            || {
                self.store_path
                    .join("controller.properties")
                    .display()
                    .to_string()
            },
            |p| p.display().to_string(),
        );
        out.push(("configStorePath".into(), store));
        for (k, v) in &self.given {
            if !out.iter().any(|(o, _)| o == k) {
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
    fn keys() {
        let p: HashMap<String, String> = [
            ("controllerDLegerPeers", "n0-127.0.0.1:9878; n1-127.0.0.1:9879"),
            ("controllerDLegerSelfId", "n1"),
            ("enableElectUncleanMaster", "true"),
            ("scanNotActiveBrokerInterval", "500"),
            ("somethingElse", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut c = ControllerConfig::default();
        c.apply(&p).unwrap();
        assert_eq!(c.peers.len(), 2);
        assert_eq!(c.self_peer().unwrap().address, "127.0.0.1:9879");
        assert!(c.enable_elect_unclean_master);
        assert_eq!(c.scan_not_active_broker_interval, Duration::from_millis(500));
        assert!(c.black_listed("rocketmqHome") && c.black_listed("configStorePath"));
        assert!(!c.black_listed("enableElectUncleanMaster"));
        let exported: HashMap<_, _> = c.export().into_iter().collect();
        assert_eq!(exported["somethingElse"], "x");
        assert_eq!(
            exported["controllerDLegerPeers"],
            "n0-127.0.0.1:9878;n1-127.0.0.1:9879"
        );
        assert!(parse_peers("n0:127.0.0.1:9878").is_err());
        assert!(c
            .apply(&HashMap::from([(
                "electMasterMaxRetryCount".to_string(),
                "x".to_string()
            )]))
            .is_err());
    }
}
