//! The controller's state and the one function that changes it.
//!
//! Java keeps two maps keyed by brokerName (`replicaInfoTable` and `syncStateSetInfoTable`) and
//! counts a group as existing only when both have it; clean-up can leave one without the other.
//! Here a group is one value holding both halves, and it exists exactly while it has at least one
//! registered broker (docs/controller/state-machine.md explains what that changes).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::{BrokerId, FIRST_BROKER_ID};

/// One registered broker of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    /// The broker's address as it last registered (`ip:port` of its remoting server).
    pub address: String,
    /// `<address>;<millis>` from the broker's temp metadata file. A retried APPLY_BROKER_ID with
    /// the same code is the same broker and is accepted again.
    pub register_check_code: String,
}

/// Everything the controller knows about one broker group (one `brokerName`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerGroup {
    cluster_name: String,
    replicas: BTreeMap<BrokerId, Replica>,
    next_broker_id: BrokerId,
    master: Option<BrokerId>,
    master_epoch: i32,
    sync_state_set: BTreeSet<BrokerId>,
    sync_state_set_epoch: i32,
}

impl BrokerGroup {
    fn new(cluster_name: &str) -> Self {
        Self {
            cluster_name: cluster_name.to_string(),
            replicas: BTreeMap::new(),
            next_broker_id: FIRST_BROKER_ID,
            master: None,
            master_epoch: 0,
            sync_state_set: BTreeSet::new(),
            sync_state_set_epoch: 0,
        }
    }

    /// The cluster the group was created in (by its first APPLY_BROKER_ID).
    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// Registered brokers by id.
    pub fn replicas(&self) -> &BTreeMap<BrokerId, Replica> {
        &self.replicas
    }

    /// The address of a registered broker.
    pub fn address(&self, id: BrokerId) -> Option<&str> {
        self.replicas.get(&id).map(|r| r.address.as_str())
    }

    pub fn is_registered(&self, id: BrokerId) -> bool {
        self.replicas.contains_key(&id)
    }

    /// What GET_NEXT_BROKER_ID answers for this group.
    pub fn next_broker_id(&self) -> BrokerId {
        self.next_broker_id
    }

    /// The current master. It can name a broker that CLEAN_BROKER_DATA has since removed, as in
    /// Java; the inactive-master scan then replaces it.
    pub fn master(&self) -> Option<BrokerId> {
        self.master
    }

    /// The master's address, when the master is still registered.
    pub fn master_address(&self) -> Option<&str> {
        self.master.and_then(|id| self.address(id))
    }

    /// Goes up by one on every ElectMaster event, including one that leaves no master.
    pub fn master_epoch(&self) -> i32 {
        self.master_epoch
    }

    pub fn sync_state_set(&self) -> &BTreeSet<BrokerId> {
        &self.sync_state_set
    }

    /// Goes up by one every time the SyncStateSet is replaced.
    pub fn sync_state_set_epoch(&self) -> i32 {
        self.sync_state_set_epoch
    }

    /// No master was ever elected in this group. The first election then takes the requesting
    /// broker as it is, since there is no SyncStateSet yet to choose from.
    pub fn is_first_election(&self) -> bool {
        self.master_epoch == 0
    }

    fn set_master(&mut self, master: Option<BrokerId>) {
        self.master = master;
        self.master_epoch = bump(self.master_epoch);
    }

    fn set_sync_state_set(&mut self, set: BTreeSet<BrokerId>) {
        self.sync_state_set = set;
        self.sync_state_set_epoch = bump(self.sync_state_set_epoch);
    }

    fn add_replica(&mut self, id: BrokerId, address: &str, register_check_code: &str) {
        self.replicas.insert(
            id,
            Replica {
                address: address.to_string(),
                register_check_code: register_check_code.to_string(),
            },
        );
        // Java only adds one, so an id applied out of order (allowed when unused) would later be
        // handed out again by GET_NEXT_BROKER_ID and refused forever. Never fall behind it.
        self.next_broker_id = self.next_broker_id.saturating_add(1).max(id.saturating_add(1));
    }
}

/// Epochs are Java `int`s on the wire. Two billion elections in one group cannot happen; should
/// it, saturating keeps apply from panicking on a replica.
fn bump(epoch: i32) -> i32 {
    epoch.saturating_add(1)
}

/// All broker groups, keyed by `brokerName`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerState {
    groups: BTreeMap<String, BrokerGroup>,
}

impl ControllerState {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn group(&self, broker_name: &str) -> Option<&BrokerGroup> {
        self.groups.get(broker_name)
    }

    /// Groups in name order.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &BrokerGroup)> {
        self.groups.iter().map(|(name, g)| (name.as_str(), g))
    }

    /// Apply a committed event. Deterministic and total: an event about a group or broker that no
    /// longer exists (an older proposal overtaken by a clean-up) changes nothing.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::AlterSyncStateSet {
                broker_name,
                new_sync_state_set,
            } => {
                if let Some(group) = self.groups.get_mut(broker_name) {
                    group.set_sync_state_set(new_sync_state_set.clone());
                }
            }
            Event::ApplyBrokerId {
                cluster_name,
                broker_name,
                broker_id,
                broker_address,
                register_check_code,
            } => {
                let group = self
                    .groups
                    .entry(broker_name.clone())
                    .or_insert_with(|| BrokerGroup::new(cluster_name));
                if !group.is_registered(*broker_id) {
                    group.add_replica(*broker_id, broker_address, register_check_code);
                }
            }
            Event::ElectMaster {
                broker_name,
                new_master,
            } => {
                if let Some(group) = self.groups.get_mut(broker_name) {
                    group.set_master(*new_master);
                    if let Some(master) = new_master {
                        group.set_sync_state_set(BTreeSet::from([*master]));
                    }
                }
            }
            Event::CleanBrokerData {
                broker_name,
                broker_ids,
            } => self.clean(broker_name, broker_ids.as_ref()),
            Event::UpdateBrokerAddress {
                broker_name,
                broker_id,
                broker_address,
            } => {
                let replica = self
                    .groups
                    .get_mut(broker_name)
                    .and_then(|g| g.replicas.get_mut(broker_id));
                if let Some(replica) = replica {
                    replica.address.clone_from(broker_address);
                }
            }
        }
    }

    fn clean(&mut self, broker_name: &str, ids: Option<&BTreeSet<BrokerId>>) {
        let Some(ids) = ids.filter(|ids| !ids.is_empty()) else {
            self.groups.remove(broker_name);
            return;
        };
        let Some(group) = self.groups.get_mut(broker_name) else {
            return;
        };
        for id in ids {
            group.replicas.remove(id);
            group.sync_state_set.remove(id);
        }
        // The master id is kept even when it was cleaned, as in Java: the group still needs an
        // election, and the inactive-master scan triggers one because that id sends no heartbeat.
        if group.replicas.is_empty() {
            self.groups.remove(broker_name);
        }
    }
}
