//! Controller mode (`enableControllerMode=true`, docs/controller/broker.md): the broker's side
//! of RocketMQ 5's automatic failover (Java's `ReplicasManager`).
//!
//! The broker starts fenced (puts refused) and a slave. One task ([`run`]) finds the controller
//! leader, gets a broker id (`identity`: the `brokerIdentity` file), registers, and takes the
//! role the controller gives it (or asks for an election when there is no master); then it
//! unfences and keeps going: heartbeats to every controller, a GET_REPLICA_INFO poll, the
//! SyncStateSet check of a master and the reports of its changes. NOTIFY_BROKER_ROLE_CHANGED
//! from the controller takes the same path as the poll ([`role`]).

mod identity;
pub mod role;
pub mod serve;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rmq_protocol::body::{self, SyncStateSetBody};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_store::ha::HaService;

use crate::BrokerState;

/// How long one controller request may take.
pub(crate) const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between two failed start attempts (Java: 5 s).
const START_RETRY: Duration = Duration::from_secs(2);

/// The controller's "not the leader" (2007), "no such group" (2008) and "master still alive"
/// (2011) answers.
pub mod code {
    pub const CONTROLLER_NOT_LEADER: i32 = 2007;
    pub const CONTROLLER_BROKER_METADATA_NOT_EXIST: i32 = 2008;
    pub const CONTROLLER_MASTER_STILL_EXIST: i32 = 2011;
}

/// The controller-mode keys of `broker.conf`, with Java 5.3.1's defaults.
#[derive(Debug, Clone)]
pub struct ControllerModeSettings {
    /// `enableControllerMode`.
    pub enable: bool,
    /// `controllerAddr`: `host:port;host:port`.
    pub controller_addr: Vec<String>,
    /// `syncBrokerMetadataPeriod`: the GET_REPLICA_INFO poll.
    pub sync_broker_metadata_period_ms: u64,
    /// `checkSyncStateSetPeriod`: a master's SyncStateSet shrink check.
    pub check_sync_state_set_period_ms: u64,
    /// `syncControllerMetadataPeriod`: the leader lookup.
    pub sync_controller_metadata_period_ms: u64,
    /// `controllerHeartBeatTimeoutMills`: how long the controllers wait for the next heartbeat.
    pub controller_heart_beat_timeout_ms: u64,
    /// `brokerHeartbeatInterval`.
    pub broker_heartbeat_interval_ms: u64,
    /// `brokerElectionPriority`: lower wins among equally up-to-date replicas.
    pub broker_election_priority: i32,
}

impl Default for ControllerModeSettings {
    fn default() -> Self {
        ControllerModeSettings {
            enable: false,
            controller_addr: Vec::new(),
            sync_broker_metadata_period_ms: 5000,
            check_sync_state_set_period_ms: 5000,
            sync_controller_metadata_period_ms: 10_000,
            controller_heart_beat_timeout_ms: 10_000,
            broker_heartbeat_interval_ms: 1000,
            broker_election_priority: i32::MAX,
        }
    }
}

impl ControllerModeSettings {
    /// Applies one key; `None` when the key is not one of these, `Some(false)` for a value that
    /// does not parse.
    pub fn apply(&mut self, k: &str, v: &str) -> Option<bool> {
        fn num<T: std::str::FromStr>(v: &str, slot: &mut T) -> bool {
            v.trim().parse().map(|n| *slot = n).is_ok()
        }
        Some(match k {
            "enableControllerMode" => {
                self.enable = rmq_protocol::header::parse_bool(v);
                true
            }
            "controllerAddr" => {
                self.controller_addr = v
                    .split(';')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(String::from)
                    .collect();
                true
            }
            "syncBrokerMetadataPeriod" => num(v, &mut self.sync_broker_metadata_period_ms),
            "checkSyncStateSetPeriod" => num(v, &mut self.check_sync_state_set_period_ms),
            "syncControllerMetadataPeriod" => num(v, &mut self.sync_controller_metadata_period_ms),
            "controllerHeartBeatTimeoutMills" => num(v, &mut self.controller_heart_beat_timeout_ms),
            "brokerHeartbeatInterval" => num(v, &mut self.broker_heartbeat_interval_ms),
            "brokerElectionPriority" => num(v, &mut self.broker_election_priority),
            _ => return None,
        })
    }

    /// The keys as GET_BROKER_CONFIG shows them.
    pub fn export(&self, put: &mut dyn FnMut(&str, String)) {
        put("enableControllerMode", self.enable.to_string());
        put("controllerAddr", self.controller_addr.join(";"));
        put(
            "syncBrokerMetadataPeriod",
            self.sync_broker_metadata_period_ms.to_string(),
        );
        put(
            "checkSyncStateSetPeriod",
            self.check_sync_state_set_period_ms.to_string(),
        );
        put(
            "syncControllerMetadataPeriod",
            self.sync_controller_metadata_period_ms.to_string(),
        );
        put(
            "controllerHeartBeatTimeoutMills",
            self.controller_heart_beat_timeout_ms.to_string(),
        );
        put(
            "brokerHeartbeatInterval",
            self.broker_heartbeat_interval_ms.to_string(),
        );
        put(
            "brokerElectionPriority",
            self.broker_election_priority.to_string(),
        );
    }
}

/// What the broker knows of its group (controller mode).
pub struct Replicas {
    /// The id the controller gave this broker (`brokerControllerId`), -1 before.
    controller_id: AtomicI64,
    /// The id in routes: 0 as master, the controller id as slave.
    route_id: AtomicI64,
    master_epoch: AtomicI32,
    sync_state_set_epoch: AtomicI32,
    /// The master's controller id and address, once known.
    master: Mutex<Option<(i64, String)>>,
    leader: Mutex<Option<String>>,
    /// Serializes role changes; holds the HA client while a slave.
    ha_client: tokio::sync::Mutex<Option<HaService>>,
    /// Registered and given a role: puts are no longer fenced.
    running: AtomicBool,
}

impl Default for Replicas {
    fn default() -> Self {
        Replicas {
            controller_id: AtomicI64::new(-1),
            route_id: AtomicI64::new(-1),
            master_epoch: AtomicI32::new(-1),
            sync_state_set_epoch: AtomicI32::new(-1),
            master: Mutex::new(None),
            leader: Mutex::new(None),
            ha_client: tokio::sync::Mutex::new(None),
            running: AtomicBool::new(false),
        }
    }
}

impl Replicas {
    pub fn controller_id(&self) -> i64 {
        self.controller_id.load(Ordering::Acquire)
    }

    /// The broker id in routes (0 as master).
    pub fn route_id(&self) -> i64 {
        self.route_id.load(Ordering::Acquire)
    }

    pub fn master_epoch(&self) -> i32 {
        self.master_epoch.load(Ordering::Acquire)
    }

    pub fn sync_state_set_epoch(&self) -> i32 {
        self.sync_state_set_epoch.load(Ordering::Acquire)
    }

    /// The master's controller id and address, once known.
    pub fn master(&self) -> Option<(i64, String)> {
        self.master.lock().clone()
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Stops the HA client (the broker is stopping); a role change in progress keeps its own.
    pub fn stop_ha_client(&self) {
        if let Ok(mut client) = self.ha_client.try_lock() {
            client.take();
        }
    }
}

/// What the controller says about the group (REGISTER, ELECT_MASTER, GET_REPLICA_INFO, notify).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupView {
    pub master_id: Option<i64>,
    pub master_addr: Option<String>,
    pub master_epoch: i32,
    pub sync_state_set_epoch: i32,
    pub sync_state_set: BTreeSet<i64>,
}

/// The controller-mode task: start, then the periodic work, until the broker stops.
pub async fn run(state: Arc<BrokerState>) {
    while let Err(e) = start(&state).await {
        tracing::warn!(error = %e, "controller mode: start failed; retrying");
        tokio::time::sleep(START_RETRY).await;
    }
    state.replicas.running.store(true, Ordering::Release);
    let settings = &state.config.controller;
    let mut heartbeat = interval(settings.broker_heartbeat_interval_ms);
    let mut poll = interval(settings.sync_broker_metadata_period_ms);
    let mut check = interval(settings.check_sync_state_set_period_ms);
    let mut leader = interval(settings.sync_controller_metadata_period_ms);
    let mut proposals = state.store.ha().replicas.proposals();
    let mut lease_watch = LeaseLog::default();
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                send_heartbeats(&state).await;
                role::ensure_master_ha_addr(&state).await;
                // Acks, SyncStateSet changes and the master's pushes dispatch what they confirm;
                // this only catches a confirm offset moved without any of them.
                state.store.dispatch_confirmed();
                // A master renews its lease at the heartbeat's pace.
                if state.is_master() {
                    if let Err(e) = role::sync_replica_info(&state).await {
                        tracing::debug!(error = %e, "controller mode: lease renewal failed");
                    }
                    lease_watch.observe(state.store.ha().replicas.lease_valid());
                }
            }
            _ = poll.tick() => {
                if let Err(e) = role::sync_replica_info(&state).await {
                    tracing::warn!(error = %e, "controller mode: replica info poll failed");
                }
            }
            _ = check.tick() => {
                if state.is_master() {
                    let now = state.clock.now_ms();
                    state.store.ha().replicas.shrink(state.store.config(), now);
                }
            }
            _ = leader.tick() => { refresh_leader(&state).await; }
            changed = proposals.changed() => {
                if changed.is_err() {
                    return;
                }
                let proposal = proposals.borrow_and_update().clone();
                if let Some(set) = proposal {
                    if state.is_master() {
                        role::report_sync_state_set(&state, set).await;
                    }
                }
            }
        }
    }
}

/// Logs a master's lease lapsing and coming back once each, not per put.
#[derive(Default)]
struct LeaseLog {
    lapsed: bool,
}

impl LeaseLog {
    fn observe(&mut self, valid: bool) {
        if !valid && !self.lapsed {
            tracing::warn!("controller mode: no word from the controller for the lease; refusing puts");
        } else if valid && self.lapsed {
            tracing::info!("controller mode: lease renewed; taking puts again");
        }
        self.lapsed = !valid;
    }
}

impl ControllerModeSettings {
    /// How long a master takes puts after the controller last confirmed it: it must end
    /// before the controller can elect another master, which happens
    /// `controllerHeartBeatTimeoutMills` after the last heartbeat it received; renewals come
    /// every `brokerHeartbeatInterval`, so two of those are taken off (at least 1 s remains).
    pub fn lease_ms(&self) -> i64 {
        let timeout = self.controller_heart_beat_timeout_ms as i64;
        (timeout - 2 * self.broker_heartbeat_interval_ms as i64).max(1000)
    }
}

fn interval(ms: u64) -> tokio::time::Interval {
    let mut i = tokio::time::interval(Duration::from_millis(ms.max(100)));
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// Leader, id, registration, role.
async fn start(state: &Arc<BrokerState>) -> Result<(), String> {
    refresh_leader(state)
        .await
        .ok_or_else(|| "no controller leader".to_string())?;
    let id = identity::obtain_id(state).await?;
    state.replicas.controller_id.store(id, Ordering::Release);
    // The id in routes is set by the role change (0 as master): a retry of this start must
    // not undo a role the controller's notification already gave.
    state.store.ha().replicas.set_local_id(id);
    let view = register(state, id).await?;
    send_heartbeats(state).await;
    if view.master_id.is_some() {
        role::apply(state, view).await;
    } else {
        role::elect(state).await?;
    }
    // A NOTIFY_BROKER_ROLE_CHANGED may be applying the same role right now: wait for it.
    drop(state.replicas.ha_client.lock().await);
    if state.replicas.master().is_none() {
        return Err("no master elected yet".into());
    }
    state.store.set_fenced(false);
    tracing::info!(
        broker_id = id,
        master = ?state.replicas.master(),
        epoch = state.replicas.master_epoch(),
        "controller mode: registered"
    );
    Ok(())
}

/// CONTROLLER_REGISTER_BROKER.
pub(crate) async fn register(state: &BrokerState, id: i64) -> Result<GroupView, String> {
    let c = &state.config;
    let header = RegisterBrokerToControllerRequestHeader {
        cluster_name: Some(c.broker_cluster_name.clone()),
        broker_name: Some(c.broker_name.clone()),
        broker_id: Some(id),
        broker_address: Some(state.addr.clone()),
        invoke_time: Some(state.clock.now_ms()),
    };
    let resp = to_leader(
        state,
        RemotingCommand::request(request_code::CONTROLLER_REGISTER_BROKER).with_header(&header),
    )
    .await?;
    let h: RegisterBrokerToControllerResponseHeader = resp.header().map_err(|e| e.to_string())?;
    let set = sync_state_set(&resp.body);
    Ok(GroupView {
        master_id: h.master_broker_id,
        master_addr: h.master_address,
        master_epoch: h.master_epoch.unwrap_or(0),
        sync_state_set_epoch: h.sync_state_set_epoch.unwrap_or(set.sync_state_set_epoch),
        sync_state_set: set.sync_state_set,
    })
}

pub(crate) fn sync_state_set(body: &[u8]) -> SyncStateSetBody {
    if body.is_empty() {
        return SyncStateSetBody::default();
    }
    body::from_fastjson(body).unwrap_or_default()
}

/// Sends `request` to the controller leader; a refusal is an error naming the code. A
/// CONTROLLER_NOT_LEADER answer or a failed connection looks the leader up again.
pub(crate) async fn to_leader(
    state: &BrokerState,
    request: RemotingCommand,
) -> Result<RemotingCommand, String> {
    let known = state.replicas.leader.lock().clone();
    let leader = match known {
        Some(l) => l,
        None => refresh_leader(state)
            .await
            .ok_or_else(|| "no controller leader".to_string())?,
    };
    let code = request.code;
    match state.namesrv.invoke(&leader, request, CONTROLLER_TIMEOUT).await {
        Ok(resp) if resp.code == response_code::SUCCESS => Ok(resp),
        Ok(resp) => {
            if resp.code == code::CONTROLLER_NOT_LEADER {
                refresh_leader(state).await;
            }
            Err(format!(
                "controller {leader} answered {} to {code}: {}",
                resp.code,
                resp.remark.unwrap_or_default()
            ))
        }
        Err(e) => {
            *state.replicas.leader.lock() = None;
            Err(format!("controller {leader}: {e}"))
        }
    }
}

/// CONTROLLER_GET_METADATA_INFO to each controller until one names a leader.
async fn refresh_leader(state: &BrokerState) -> Option<String> {
    for addr in &state.config.controller.controller_addr {
        let req = RemotingCommand::request(request_code::CONTROLLER_GET_METADATA_INFO);
        let Ok(resp) = state.namesrv.invoke(addr, req, CONTROLLER_TIMEOUT).await else {
            continue;
        };
        let Ok(h) = resp.header::<GetMetaDataResponseHeader>() else {
            continue;
        };
        if let Some(leader) = h.controller_leader_address.filter(|a| !a.is_empty()) {
            *state.replicas.leader.lock() = Some(leader.clone());
            return Some(leader);
        }
    }
    None
}

/// BROKER_HEARTBEAT (oneway) to every controller: epoch, max and confirm offsets, priority.
/// Sent from a task of its own, so a controller that does not answer the connect delays
/// nothing else.
async fn send_heartbeats(state: &Arc<BrokerState>) {
    let id = state.replicas.controller_id();
    if id < 0 {
        return;
    }
    let c = &state.config;
    let header = BrokerHeartbeatRequestHeader {
        cluster_name: Some(c.broker_cluster_name.clone()),
        broker_addr: Some(state.addr.clone()),
        broker_name: Some(c.broker_name.clone()),
        broker_id: Some(id),
        epoch: Some(state.store.ha().replicas.last_epoch()),
        max_offset: Some(state.store.max_phy_offset()),
        confirm_offset: Some(state.store.confirm_offset()),
        heartbeat_timeout_mills: Some(c.controller.controller_heart_beat_timeout_ms as i64),
        election_priority: Some(c.controller.broker_election_priority),
    };
    for addr in &c.controller.controller_addr {
        let req = RemotingCommand::request(request_code::BROKER_HEARTBEAT).with_header(&header);
        let (state, addr) = (state.clone(), addr.clone());
        tokio::spawn(async move {
            if let Err(e) = state.namesrv.invoke_oneway(&addr, req).await {
                tracing::debug!(controller = %addr, error = %e, "heartbeat to controller failed");
            }
        });
    }
}
