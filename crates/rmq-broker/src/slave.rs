//! The slave's links to its master (docs/store/ha.md#ports, docs/store/ha.md#slave-metadata-sync): the
//! master's HA address (fixed by `haMasterAddress`, or learned from every register response) that the store's
//! HA client follows, the master's remoting address, and the metadata sync that copies topics, consumer
//! offsets, delay offsets and subscription groups from it every 10 s (first after 3 s).

use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::{
    self, ConsumerOffsetSerializeWrapper, SubscriptionGroupWrapper, TopicConfigSerializeWrapper,
};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::RemotingCommand;
use tokio::sync::watch;

use crate::{BrokerError, BrokerState};

const SYNC_FIRST_DELAY: Duration = Duration::from_secs(3);
const SYNC_PERIOD: Duration = Duration::from_secs(10);
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the master is, as far as this slave knows.
pub struct MasterLinks {
    ha_addr: watch::Sender<Option<String>>,
    /// `haMasterAddress` was configured: never replaced by the name server's answer.
    ha_addr_fixed: bool,
    master_addr: Mutex<Option<String>>,
    /// The master's flushed commitlog offset as last told by RESET_MASTER_FLUSH_OFFSET
    /// (`mqadmin resetMasterFlushOffset`); 0 until then (a classic master does not send it).
    master_flush_offset: AtomicI64,
}

impl MasterLinks {
    /// `haMasterAddress` counts when it has at least 6 characters (Java's check).
    pub fn new(ha_master_address: Option<&str>) -> MasterLinks {
        let fixed = ha_master_address
            .map(str::trim)
            .filter(|a| a.len() >= 6)
            .map(String::from);
        MasterLinks {
            ha_addr_fixed: fixed.is_some(),
            ha_addr: watch::channel(fixed).0,
            master_addr: Mutex::new(None),
            master_flush_offset: AtomicI64::new(0),
        }
    }

    /// The master's flushed offset as last told (`haStatus`'s `masterFlushOffset`).
    pub fn master_flush_offset(&self) -> i64 {
        self.master_flush_offset.load(Ordering::Relaxed)
    }

    /// RESET_MASTER_FLUSH_OFFSET on a slave.
    pub fn set_master_flush_offset(&self, offset: i64) {
        self.master_flush_offset.store(offset, Ordering::Relaxed);
    }

    /// What the store's HA client connects to.
    pub fn ha_addr(&self) -> watch::Receiver<Option<String>> {
        self.ha_addr.subscribe()
    }

    /// Whether the HA client has an address to connect to.
    pub fn has_ha_addr(&self) -> bool {
        self.ha_addr.borrow().as_deref().is_some_and(|a| !a.is_empty())
    }

    /// The master's `ip:port` for the metadata sync, if live (per the last register response).
    pub fn master_addr(&self) -> Option<String> {
        self.master_addr.lock().clone()
    }

    /// Controller mode: the master the controller named (`None` as master) and its HA address
    /// (`None`: not known yet, the HA client waits).
    pub fn set(&self, master_addr: Option<String>, ha_addr: Option<String>) {
        *self.master_addr.lock() = master_addr;
        self.ha_addr.send_if_modified(|cur| {
            let changed = *cur != ha_addr;
            *cur = ha_addr;
            changed
        });
    }

    /// A REGISTER_BROKER response: `haServerAddr` (when present and not fixed by config) and
    /// `masterAddr` (absent = no live master) as `BrokerController.registerBrokerAll` applies them.
    pub fn on_register_response(&self, resp: &RemotingCommand) {
        if let Some(ha) = resp.ext("haServerAddr").filter(|a| !a.is_empty()) {
            if !self.ha_addr_fixed {
                self.ha_addr.send_if_modified(|cur| {
                    let changed = cur.as_deref() != Some(ha);
                    if changed {
                        tracing::info!(ha_master = ha, "master HA address updated");
                        *cur = Some(ha.to_string());
                    }
                    changed
                });
            }
        }
        let master = resp.ext("masterAddr").filter(|a| !a.is_empty()).map(String::from);
        *self.master_addr.lock() = master;
    }
}

/// The metadata sync task (SLAVE role only).
pub fn spawn_sync(state: Arc<BrokerState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(SYNC_FIRST_DELAY).await;
        loop {
            if !state.is_master() {
                sync_all(&state).await;
            }
            tokio::time::sleep(SYNC_PERIOD).await;
        }
    })
}

/// `SlaveSynchronize.syncAll`: each step fails on its own (logged).
pub async fn sync_all(s: &BrokerState) {
    let Some(master) = s.master.master_addr() else {
        return;
    };
    if master == s.addr {
        return;
    }
    if let Err(e) = sync_topics(s, &master).await {
        tracing::warn!(master, error = %e, "slave sync of topic configs failed");
    }
    if let Err(e) = sync_offsets(s, &master).await {
        tracing::warn!(master, error = %e, "slave sync of consumer offsets failed");
    }
    if let Err(e) = sync_delay_offsets(s, &master).await {
        tracing::warn!(master, error = %e, "slave sync of delay offsets failed");
    }
    if let Err(e) = sync_groups(s, &master).await {
        tracing::warn!(master, error = %e, "slave sync of subscription groups failed");
    }
}

async fn fetch(s: &BrokerState, master: &str, code: i32) -> Result<bytes::Bytes, BrokerError> {
    let resp = s
        .namesrv
        .invoke(master, RemotingCommand::request(code), SYNC_TIMEOUT)
        .await?;
    if resp.code != response_code::SUCCESS {
        return Err(BrokerError::MasterRefused {
            code: resp.code,
            remark: resp.remark,
        });
    }
    Ok(resp.body)
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, BrokerError> {
    body::from_fastjson(bytes).map_err(BrokerError::MasterBody)
}

async fn sync_topics(s: &BrokerState, master: &str) -> Result<(), BrokerError> {
    let b = fetch(s, master, request_code::GET_ALL_TOPIC_CONFIG).await?;
    if s.topics
        .replace_from_master(parse::<TopicConfigSerializeWrapper>(&b)?)?
    {
        tracing::info!(master, "topic configs updated from master");
    }
    Ok(())
}

async fn sync_offsets(s: &BrokerState, master: &str) -> Result<(), BrokerError> {
    let b = fetch(s, master, request_code::GET_ALL_CONSUMER_OFFSET).await?;
    s.offsets
        .merge_from_master(parse::<ConsumerOffsetSerializeWrapper>(&b)?);
    s.offsets.persist()
}

async fn sync_delay_offsets(s: &BrokerState, master: &str) -> Result<(), BrokerError> {
    let b = fetch(s, master, request_code::GET_ALL_DELAY_OFFSET).await?;
    s.schedule.replace_from_master(&b)
}

async fn sync_groups(s: &BrokerState, master: &str) -> Result<(), BrokerError> {
    let b = fetch(s, master, request_code::GET_ALL_SUBSCRIPTIONGROUP_CONFIG).await?;
    if s.groups
        .replace_from_master(parse::<SubscriptionGroupWrapper>(&b)?)?
    {
        tracing::info!(master, "subscription groups updated from master");
    }
    Ok(())
}
