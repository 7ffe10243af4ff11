//! The broker's configuration at run time: GET_BROKER_CONFIG and UPDATE_BROKER_CONFIG.
//!
//! The configuration a broker started with stays in [`crate::BrokerState::config`]; this holds
//! the current one (started with, plus updates), its data version, and the values the request
//! paths read on every request, so that an update of those takes effect at once:
//! `brokerPermission` (and a registration with the new permission, as Java's
//! `AdminBrokerProcessor.updateBrokerConfig`), `slaveReadEnable`, `autoCreateTopicEnable` and
//! `autoCreateSubscriptionGroup`. Every other key is stored and persisted and takes effect at the
//! next start (docs/broker/admin.md "Broker configuration at run time").

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use parking_lot::Mutex;
use rmq_protocol::body::properties;
use rmq_protocol::body::DataVersion;

use crate::config::BrokerConfig;

/// What [`RuntimeConfig::update`] refuses.
#[derive(Debug, thiserror::Error)]
pub enum UpdateRefused {
    /// 5.x `configBlackList`: NO_PERMISSION, "Can not update config in black list."
    #[error("Can not update config in black list.")]
    BlackListed(String),
}

struct Current {
    config: BrokerConfig,
    version: DataVersion,
}

pub struct RuntimeConfig {
    current: Mutex<Current>,
    permission: AtomicI32,
    slave_read: AtomicBool,
}

/// The outcome of an update.
#[derive(Debug, Default)]
pub struct Updated {
    /// The keys given that rmq does not read (stored and shown, without an effect).
    pub unused: Vec<String>,
    pub permission_changed: bool,
    pub auto_create_topic: Option<bool>,
    pub auto_create_group: Option<bool>,
}

impl RuntimeConfig {
    pub fn new(config: &BrokerConfig, now_ms: i64) -> RuntimeConfig {
        RuntimeConfig {
            permission: AtomicI32::new(config.broker_permission),
            slave_read: AtomicBool::new(config.slave_read_enable),
            current: Mutex::new(Current {
                config: config.clone(),
                version: DataVersion {
                    counter: 0,
                    timestamp: now_ms,
                    state_version: 0,
                },
            }),
        }
    }

    /// `brokerPermission` now.
    pub fn permission(&self) -> i32 {
        self.permission.load(Ordering::Relaxed)
    }

    /// `slaveReadEnable` now.
    pub fn slave_read(&self) -> bool {
        self.slave_read.load(Ordering::Relaxed)
    }

    /// GET_BROKER_CONFIG: the properties text and the data version.
    pub fn snapshot(&self) -> (String, DataVersion) {
        let c = self.current.lock();
        (properties::format(c.config.export()), c.version)
    }

    /// The current value of `key` as GET_BROKER_CONFIG shows it (keys rmq does not read: as
    /// given), if any.
    pub fn value(&self, key: &str) -> Option<String> {
        let c = self.current.lock();
        c.config
            .export()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// UPDATE_BROKER_CONFIG: applies `props` (nothing if a key is black-listed), bumps the
    /// version and writes the keys into the config file, when the broker has one (in place:
    /// comments and other lines kept; Java rewrites the whole file).
    pub fn update(&self, props: &[(String, String)], now_ms: i64) -> Result<Updated, UpdateRefused> {
        let mut c = self.current.lock();
        if let Some((k, _)) = props.iter().find(|(k, _)| c.config.black_listed(k)) {
            return Err(UpdateRefused::BlackListed(k.clone()));
        }
        let mut out = Updated::default();
        for (k, v) in props {
            if !c.config.update_one(k, v) {
                out.unused.push(k.clone());
            }
            match k.as_str() {
                "brokerPermission" => out.permission_changed = true,
                "autoCreateTopicEnable" => out.auto_create_topic = Some(c.config.auto_create_topic_enable),
                "autoCreateSubscriptionGroup" => {
                    out.auto_create_group = Some(c.config.auto_create_subscription_group)
                }
                _ => {}
            }
        }
        self.permission
            .store(c.config.broker_permission, Ordering::Relaxed);
        self.slave_read
            .store(c.config.slave_read_enable, Ordering::Relaxed);
        c.version = c.version.next(now_ms);
        if let Some(path) = c.config.config_path.clone() {
            if let Err(e) = rmq_store::config_file::update_properties(&path, props) {
                tracing::error!(path = %path.display(), error = %e, "cannot persist the updated broker config");
            }
        }
        Ok(out)
    }
}
