//! ALTER_SYNC_STATE_SET: the master grows or shrinks the set of replicas that are in sync.
//!
//! Two epochs fence stale requests. The master epoch rejects a request from a master that has
//! since been replaced; the sync-state-set epoch rejects a request computed from an old set (two
//! alters in flight, or one crossing an election), so that a change is never applied on top of a
//! set the master did not see.

use std::collections::BTreeSet;

use crate::error::ControllerError;
use crate::event::{Event, Proposal};
use crate::liveness::Liveness;
use crate::state::ControllerState;
use crate::BrokerId;

/// ALTER_SYNC_STATE_SET (1001): header plus the `SyncStateSet` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterSyncStateSetRequest {
    pub broker_name: String,
    /// The broker asking, which must be the current master.
    pub master_id: BrokerId,
    pub master_epoch: i32,
    pub new_sync_state_set: BTreeSet<BrokerId>,
    /// The sync-state-set epoch the master currently holds (the body's `syncStateSetEpoch`).
    pub sync_state_set_epoch: i32,
}

/// A SyncStateSet with its epoch, as the `SyncStateSet` body carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStateSetView {
    pub members: BTreeSet<BrokerId>,
    pub epoch: i32,
}

impl ControllerState {
    /// ALTER_SYNC_STATE_SET (1001). The checks run in Java's order, so the same bad request gets
    /// the same code. The reply is the new set with the epoch it will have once applied.
    pub fn alter_sync_state_set(
        &self,
        req: &AlterSyncStateSetRequest,
        live: &dyn Liveness,
    ) -> Result<Proposal<SyncStateSetView>, ControllerError> {
        let group = self
            .group(&req.broker_name)
            .ok_or_else(|| ControllerError::AlterUnknownGroup {
                broker_name: req.broker_name.clone(),
            })?;
        if group.sync_state_set() == &req.new_sync_state_set {
            return Err(ControllerError::AlterUnchanged);
        }
        let master = match group.master() {
            Some(master) if master == req.master_id => master,
            current => {
                return Err(ControllerError::InvalidMaster {
                    current,
                    requested: req.master_id,
                })
            }
        };
        if req.master_epoch != group.master_epoch() {
            return Err(ControllerError::FencedMasterEpoch {
                current: group.master_epoch(),
                requested: req.master_epoch,
            });
        }
        if req.sync_state_set_epoch != group.sync_state_set_epoch() {
            return Err(ControllerError::FencedSyncStateSetEpoch {
                current: group.sync_state_set_epoch(),
                requested: req.sync_state_set_epoch,
            });
        }
        for &id in &req.new_sync_state_set {
            if !group.is_registered(id) {
                return Err(ControllerError::InvalidReplicas { broker_id: id });
            }
            if !live.is_alive(group.cluster_name(), &req.broker_name, id) {
                return Err(ControllerError::BrokerNotAlive { broker_id: id });
            }
        }
        if !req.new_sync_state_set.contains(&master) {
            return Err(ControllerError::AlterDropsMaster { master });
        }
        let reply = SyncStateSetView {
            members: req.new_sync_state_set.clone(),
            epoch: group.sync_state_set_epoch().saturating_add(1),
        };
        let event = Event::AlterSyncStateSet {
            broker_name: req.broker_name.clone(),
            new_sync_state_set: req.new_sync_state_set.clone(),
        };
        Ok(Proposal::new(reply, vec![event]))
    }
}
