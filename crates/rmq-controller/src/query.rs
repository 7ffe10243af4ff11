//! Reads: they answer from the state and propose nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ControllerError;
use crate::liveness::Liveness;
use crate::state::{BrokerGroup, ControllerState};
use crate::BrokerId;

/// The answer to GET_REPLICA_INFO, which brokers poll to follow elections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    pub master: Option<BrokerId>,
    pub master_address: Option<String>,
    pub master_epoch: i32,
    pub sync_state_set: BTreeSet<BrokerId>,
    pub sync_state_set_epoch: i32,
}

/// One registered broker as GET_SYNC_STATE_DATA lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaIdentity {
    pub broker_name: String,
    pub broker_id: BrokerId,
    pub address: String,
    pub alive: bool,
}

/// One group as GET_SYNC_STATE_DATA reports it (`BrokerReplicasInfo.ReplicasInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStateData {
    pub master: Option<BrokerId>,
    pub master_address: Option<String>,
    pub master_epoch: i32,
    pub sync_state_set_epoch: i32,
    /// Registered brokers in the SyncStateSet, by id.
    pub in_sync: Vec<ReplicaIdentity>,
    /// Registered brokers outside it, by id.
    pub not_in_sync: Vec<ReplicaIdentity>,
}

impl ControllerState {
    /// GET_REPLICA_INFO (1004).
    pub fn replica_info(&self, broker_name: &str) -> Result<ReplicaInfo, ControllerError> {
        let group = self
            .group(broker_name)
            .ok_or_else(|| ControllerError::BrokerMetadataNotExist {
                broker_name: broker_name.to_string(),
            })?;
        Ok(ReplicaInfo {
            master: group.master(),
            master_address: group.master_address().map(str::to_string),
            master_epoch: group.master_epoch(),
            sync_state_set: group.sync_state_set().clone(),
            sync_state_set_epoch: group.sync_state_set_epoch(),
        })
    }

    /// GET_SYNC_STATE_DATA (1006): the named groups that exist; unknown names are skipped.
    pub fn sync_state_data<S: AsRef<str>>(
        &self,
        broker_names: &[S],
        live: &dyn Liveness,
    ) -> BTreeMap<String, SyncStateData> {
        broker_names
            .iter()
            .filter_map(|name| {
                let name = name.as_ref();
                let group = self.group(name)?;
                Some((name.to_string(), group_data(name, group, live)))
            })
            .collect()
    }

    /// Groups whose master is set but dead while some registered broker is alive: the leader
    /// triggers a controller election for each (Java's `scanNeedReelectBrokerSets`). Groups with
    /// nobody alive are left alone, since an election could only fail.
    pub fn groups_needing_reelection(&self, live: &dyn Liveness) -> Vec<String> {
        self.groups()
            .filter(|(name, group)| {
                let alive = |id| live.is_alive(group.cluster_name(), name, id);
                group.master().is_some_and(|master| !alive(master))
                    && group.replicas().keys().any(|&id| alive(id))
            })
            .map(|(name, _)| name.to_string())
            .collect()
    }
}

fn group_data(broker_name: &str, group: &BrokerGroup, live: &dyn Liveness) -> SyncStateData {
    let (in_sync, not_in_sync) = group
        .replicas()
        .iter()
        .map(|(&id, replica)| ReplicaIdentity {
            broker_name: broker_name.to_string(),
            broker_id: id,
            address: replica.address.clone(),
            alive: live.is_alive(group.cluster_name(), broker_name, id),
        })
        .partition(|r| group.sync_state_set().contains(&r.broker_id));
    SyncStateData {
        master: group.master(),
        master_address: group.master_address().map(str::to_string),
        master_epoch: group.master_epoch(),
        sync_state_set_epoch: group.sync_state_set_epoch(),
        in_sync,
        not_in_sync,
    }
}
