//! Log entries and what a write proposes.
//!
//! An [`Event`] is the only thing that crosses the replicated log, so it names ids and addresses
//! explicitly and never a "current" value: applying it must not depend on anything the replicas
//! could disagree about (liveness, time). Sets are `BTreeSet`s so that the serialized form, and
//! anything derived from it, is the same on every replica.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::BrokerId;

/// One state change, as Java's `EventMessage` subclasses describe them.
///
/// Java's fifth kind, `ReadEvent`, is an empty entry used for linearizable reads; it changes no
/// state, so it belongs to the log layer and is not modelled here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// Replace the group's SyncStateSet; the sync-state-set epoch goes up by one.
    AlterSyncStateSet {
        broker_name: String,
        new_sync_state_set: BTreeSet<BrokerId>,
    },
    /// Record a broker id for a group, creating the group when it is new.
    ApplyBrokerId {
        cluster_name: String,
        broker_name: String,
        broker_id: BrokerId,
        broker_address: String,
        register_check_code: String,
    },
    /// Set the group's master; the master epoch goes up by one. With a new master the SyncStateSet
    /// becomes just that master (and its epoch goes up too). `None` records that the old master is
    /// gone and nobody could replace it; the SyncStateSet is kept so that one of its members can
    /// become master when it comes back.
    ElectMaster {
        broker_name: String,
        new_master: Option<BrokerId>,
    },
    /// Forget a whole group (`broker_ids: None`) or some of its brokers.
    CleanBrokerData {
        broker_name: String,
        broker_ids: Option<BTreeSet<BrokerId>>,
    },
    /// A registered broker came back with another address.
    UpdateBrokerAddress {
        broker_name: String,
        broker_id: BrokerId,
        broker_address: String,
    },
}

impl Event {
    /// Java's `EventType` id for this kind, for a log format that wants to stay close to Java's.
    pub fn java_type_id(&self) -> u16 {
        match self {
            Event::AlterSyncStateSet { .. } => 1,
            Event::ApplyBrokerId { .. } => 2,
            Event::ElectMaster { .. } => 3,
            Event::CleanBrokerData { .. } => 5,
            Event::UpdateBrokerAddress { .. } => 6,
        }
    }

    /// The group the event changes.
    pub fn broker_name(&self) -> &str {
        match self {
            Event::AlterSyncStateSet { broker_name, .. }
            | Event::ApplyBrokerId { broker_name, .. }
            | Event::ElectMaster { broker_name, .. }
            | Event::CleanBrokerData { broker_name, .. }
            | Event::UpdateBrokerAddress { broker_name, .. } => broker_name,
        }
    }
}

/// An accepted write: the answer for the caller, and the events to append to the log before
/// answering. The caller must not send `reply` until every event has been committed and applied,
/// otherwise a client could observe a reply that a new controller leader never heard of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal<R> {
    pub reply: R,
    pub events: Vec<Event>,
}

impl<R> Proposal<R> {
    pub(crate) fn new(reply: R, events: Vec<Event>) -> Self {
        Self { reply, events }
    }
}
