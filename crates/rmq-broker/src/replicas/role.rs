//! Role changes in controller mode (Java's `ReplicasManager.changeToMaster` / `changeToSlave`),
//! and what drives them: the controller's answers (register, election, the replica-info poll)
//! and its NOTIFY_BROKER_ROLE_CHANGED. A change happens only for a master epoch newer than the
//! one this broker knows, one at a time.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::{self, ElectMasterResponseBody};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_store::ha::HaService;

use super::{code, sync_state_set, to_leader, GroupView, CONTROLLER_TIMEOUT};
use crate::BrokerState;

/// Applies what the controller says about the group.
pub async fn apply(state: &Arc<BrokerState>, view: GroupView) {
    let r = &state.replicas;
    let Some(master_id) = view.master_id else {
        return;
    };
    if view.master_epoch > r.master_epoch() {
        if master_id == r.controller_id() {
            change_to_master(state, view).await;
        } else if let Some(addr) = view.master_addr.clone().filter(|a| !a.is_empty()) {
            change_to_slave(state, addr, master_id, view.master_epoch).await;
        }
    } else if view.master_epoch == r.master_epoch()
        && state.is_master()
        && view.sync_state_set_epoch > r.sync_state_set_epoch()
    {
        change_sync_state_set(state, view.sync_state_set, view.sync_state_set_epoch);
    }
}

/// The controller confirmed a SyncStateSet (newer than the one known).
fn change_sync_state_set(state: &BrokerState, set: BTreeSet<i64>, epoch: i32) {
    let r = &state.replicas;
    if epoch <= r.sync_state_set_epoch() {
        return;
    }
    tracing::info!(?set, epoch, "SyncStateSet changed");
    r.sync_state_set_epoch.store(epoch, Ordering::Release);
    state.store.set_sync_state_set(set);
}

async fn change_to_master(state: &Arc<BrokerState>, view: GroupView) {
    let r = &state.replicas;
    let mut client = r.ha_client.lock().await;
    if view.master_epoch <= r.master_epoch() {
        return;
    }
    r.master_epoch.store(view.master_epoch, Ordering::Release);
    if let Some(ha) = client.take() {
        ha.shutdown().await;
    }
    r.sync_state_set_epoch.store(-1, Ordering::Release);
    change_sync_state_set(state, view.sync_state_set, view.sync_state_set_epoch);
    match state.store.change_to_master(view.master_epoch) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(error = %e, "becoming master failed");
            return;
        }
    }
    // The controller just named this broker: it cannot name another before the heartbeats
    // stop for their timeout.
    state.store.ha().replicas.renew_lease(
        rmq_store::ha::auto::monotonic_ms(),
        state.config.controller.lease_ms(),
    );
    r.route_id.store(0, Ordering::Release);
    *r.master.lock() = Some((r.controller_id(), state.addr.clone()));
    state.master.set(None, None);
    state.pop.replay(state);
    drop(client);
    tracing::info!(
        epoch = view.master_epoch,
        "controller mode: this broker is the master"
    );
    crate::register::register_all(state, false).await;
}

async fn change_to_slave(state: &Arc<BrokerState>, master_addr: String, master_id: i64, epoch: i32) {
    let r = &state.replicas;
    let mut client = r.ha_client.lock().await;
    if epoch <= r.master_epoch() {
        return;
    }
    r.master_epoch.store(epoch, Ordering::Release);
    if !state.store.change_to_slave(epoch) {
        return;
    }
    r.route_id.store(r.controller_id(), Ordering::Release);
    *r.master.lock() = Some((master_id, master_addr.clone()));
    let ha_addr = master_ha_addr(state, &master_addr).await;
    // An unknown HA address is cleared (not left at the old master's): asked again each
    // heartbeat interval.
    state.master.set(Some(master_addr.clone()), ha_addr.clone());
    if client.is_none() {
        *client = Some(HaService::start_auto_slave(
            state.store.clone(),
            state.master.ha_addr(),
        ));
    }
    drop(client);
    tracing::info!(epoch, master = %master_addr, ha = ?ha_addr, "controller mode: this broker is a slave");
    // Topics, offsets and groups from the new master now, not at the next sync period: this
    // broker may be the next master.
    let synced = state.clone();
    tokio::spawn(async move { crate::slave::sync_all(&synced).await });
    crate::register::register_all(state, false).await;
}

/// A slave that does not know its master's HA address yet (the master had not taken its role
/// when asked) asks again.
pub async fn ensure_master_ha_addr(state: &BrokerState) {
    if state.is_master() || state.master.has_ha_addr() {
        return;
    }
    if let Some((_, addr)) = state.replicas.master() {
        if let Some(ha) = master_ha_addr(state, &addr).await {
            tracing::info!(master = %addr, ha = %ha, "master HA address learned");
            state.master.set(Some(addr), Some(ha));
        }
    }
}

/// The master's HA address, asked of the master (EXCHANGE_BROKER_HA_INFO); otherwise the name
/// server's register answer brings it later.
async fn master_ha_addr(state: &BrokerState, master_addr: &str) -> Option<String> {
    let req = RemotingCommand::request(request_code::EXCHANGE_BROKER_HA_INFO);
    match state.namesrv.invoke(master_addr, req, CONTROLLER_TIMEOUT).await {
        Ok(resp) if resp.code == response_code::SUCCESS => resp
            .ext("masterHaAddress")
            .filter(|a| !a.is_empty())
            .map(String::from),
        Ok(resp) => {
            tracing::info!(
                master = master_addr,
                code = resp.code,
                "master did not tell its HA address"
            );
            None
        }
        Err(e) => {
            tracing::info!(master = master_addr, error = %e, "asking the master for its HA address failed");
            None
        }
    }
}

/// CONTROLLER_ELECT_MASTER with this broker as the candidate (SUCCESS and "master still
/// alive" are both applied).
pub async fn elect(state: &Arc<BrokerState>) -> Result<(), String> {
    let c = &state.config;
    let header = ElectMasterRequestHeader {
        cluster_name: Some(c.broker_cluster_name.clone()),
        broker_name: Some(c.broker_name.clone()),
        broker_id: Some(state.replicas.controller_id()),
        designate_elect: Some(false),
        invoke_time: Some(state.clock.now_ms()),
    };
    let req = RemotingCommand::request(request_code::CONTROLLER_ELECT_MASTER).with_header(&header);
    let known = state.replicas.leader.lock().clone();
    let resp = match known {
        Some(l) => state
            .namesrv
            .invoke(&l, req, CONTROLLER_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?,
        None => to_leader(state, req).await?,
    };
    if resp.code != response_code::SUCCESS && resp.code != code::CONTROLLER_MASTER_STILL_EXIST {
        return Err(format!(
            "election refused: {} {}",
            resp.code,
            resp.remark.unwrap_or_default()
        ));
    }
    let h: ElectMasterResponseHeader = resp.header().map_err(|e| e.to_string())?;
    let b: ElectMasterResponseBody = if resp.body.is_empty() {
        ElectMasterResponseBody::default()
    } else {
        body::from_fastjson(&resp.body).unwrap_or_default()
    };
    apply(
        state,
        GroupView {
            master_id: h.master_broker_id,
            master_addr: h.master_address,
            master_epoch: h.master_epoch.unwrap_or(0),
            sync_state_set_epoch: h.sync_state_set_epoch.unwrap_or(0),
            sync_state_set: b.sync_state_set,
        },
    )
    .await;
    Ok(())
}

/// The periodic CONTROLLER_GET_REPLICA_INFO: a newer master epoch changes the role (or, with
/// no master, asks for an election); a newer SyncStateSet is taken by the master.
pub async fn sync_replica_info(state: &Arc<BrokerState>) -> Result<(), String> {
    let sent_at = rmq_store::ha::auto::monotonic_ms();
    let header = GetReplicaInfoRequestHeader {
        broker_name: Some(state.config.broker_name.clone()),
    };
    let req = RemotingCommand::request(request_code::CONTROLLER_GET_REPLICA_INFO).with_header(&header);
    let resp = match to_leader(state, req).await {
        Ok(r) => r,
        Err(e)
            if e.contains(&format!(
                "answered {}",
                code::CONTROLLER_BROKER_METADATA_NOT_EXIST
            )) =>
        {
            // The controller lost the group (cleaned): register again.
            let id = state.replicas.controller_id();
            super::register(state, id).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let h: GetReplicaInfoResponseHeader = resp.header().map_err(|e| e.to_string())?;
    let set = sync_state_set(&resp.body);
    let view = GroupView {
        master_id: h.master_broker_id,
        master_addr: h.master_address,
        master_epoch: h.master_epoch.unwrap_or(0),
        sync_state_set_epoch: set.sync_state_set_epoch,
        sync_state_set: set.sync_state_set,
    };
    if view.master_epoch > state.replicas.master_epoch() && view.master_id.is_none() {
        return elect(state).await;
    }
    let confirms_me = view.master_id == Some(state.replicas.controller_id())
        && view.master_epoch == state.replicas.master_epoch();
    apply(state, view).await;
    if confirms_me && state.is_master() {
        state
            .store
            .ha()
            .replicas
            .renew_lease(sent_at, state.config.controller.lease_ms());
    }
    Ok(())
}

/// NOTIFY_BROKER_ROLE_CHANGED from the controller.
pub fn on_notify(state: &Arc<BrokerState>, req: &RemotingCommand) {
    let Ok(h) = req.header::<NotifyBrokerRoleChangedRequestHeader>() else {
        return;
    };
    let set = sync_state_set(&req.body);
    let view = GroupView {
        master_id: h.master_broker_id,
        master_addr: h.master_address,
        master_epoch: h.master_epoch.unwrap_or(0),
        sync_state_set_epoch: h.sync_state_set_epoch.unwrap_or(set.sync_state_set_epoch),
        sync_state_set: set.sync_state_set,
    };
    tracing::info!(?view, "controller notified a role change");
    let state = state.clone();
    tokio::spawn(async move { apply(&state, view).await });
}

/// CONTROLLER_ALTER_SYNC_STATE_SET with a set this master proposes; the controller's answer
/// is the new confirmed set.
pub async fn report_sync_state_set(state: &BrokerState, set: BTreeSet<i64>) {
    let r = &state.replicas;
    let header = AlterSyncStateSetRequestHeader {
        broker_name: Some(state.config.broker_name.clone()),
        master_broker_id: Some(r.controller_id()),
        master_epoch: Some(r.master_epoch()),
        invoke_time: Some(state.clock.now_ms()),
    };
    let body = body::to_json(&rmq_protocol::body::SyncStateSetBody {
        sync_state_set: set.clone(),
        sync_state_set_epoch: r.sync_state_set_epoch(),
    });
    let req = RemotingCommand::request(request_code::CONTROLLER_ALTER_SYNC_STATE_SET)
        .with_header(&header)
        .with_body(body);
    match to_leader(state, req).await {
        Ok(resp) => {
            let confirmed = sync_state_set(&resp.body);
            let epoch = resp
                .header::<AlterSyncStateSetResponseHeader>()
                .ok()
                .and_then(|h| h.new_sync_state_set_epoch)
                .unwrap_or(confirmed.sync_state_set_epoch);
            change_sync_state_set(state, confirmed.sync_state_set, epoch);
        }
        Err(e) => {
            tracing::warn!(?set, error = %e, "reporting the SyncStateSet failed");
            state.store.ha().replicas.proposal_failed(&set);
        }
    }
}
