//! ELECT_MASTER: choose a group's master.
//!
//! Three parties ask for an election. A broker asks when it knows of no master (at start-up, or
//! when the controller reports a newer master epoch with no master); the controller asks itself
//! when the master's heartbeat expires; an admin asks to move mastership to a named broker. All
//! three go through the same policy ([`crate::policy::choose_master`]); they differ in whom they
//! prefer and in what a failure leaves behind.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{code, ControllerError};
use crate::event::{Event, Proposal};
use crate::liveness::Liveness;
use crate::policy::{choose_master, GroupKey};
use crate::state::{BrokerGroup, ControllerState};
use crate::BrokerId;

/// Who asked for the election. The wire layer derives it from `ElectMasterRequestHeader`:
/// `designateElect=true` is [`ElectTrigger::Admin`], a `brokerId` of null or -1 is
/// [`ElectTrigger::Controller`], anything else [`ElectTrigger::Broker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectTrigger {
    /// The controller, after the master's heartbeat expired (`ofControllerTrigger`).
    Controller,
    /// A broker that knows of no master (`ofBrokerTrigger`). At a group's very first election
    /// this broker becomes master as it is: there is no SyncStateSet yet to pick from.
    Broker(BrokerId),
    /// An admin naming the broker to elect (`ofAdminTrigger`). Nobody else is chosen.
    Admin(BrokerId),
}

/// ELECT_MASTER (1002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectRequest {
    pub broker_name: String,
    pub trigger: ElectTrigger,
}

/// The controller settings the election reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ElectConfig {
    /// `enableElectUncleanMaster`: when the SyncStateSet has nobody alive, elect any live
    /// registered broker, accepting lost messages over unavailability.
    pub enable_elect_unclean_master: bool,
}

/// Every registered broker of a group (`BrokerMemberGroup`), sent with a new master so the caller
/// can notify each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberGroup {
    pub cluster_name: String,
    pub broker_name: String,
    pub addresses: BTreeMap<BrokerId, String>,
}

/// How an accepted election came out. Each outcome has its own response code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Election {
    /// SUCCESS: a new master. The epochs are the values after the proposed event is applied.
    NewMaster {
        master: BrokerId,
        address: Option<String>,
        master_epoch: i32,
        sync_state_set_epoch: i32,
        /// The new SyncStateSet: just the new master.
        sync_state_set: BTreeSet<BrokerId>,
        members: MemberGroup,
    },
    /// CONTROLLER_MASTER_STILL_EXIST (2011): the policy picked the current master. Nothing is
    /// proposed; brokers treat this like SUCCESS and follow the master given here.
    MasterStillExists {
        master: BrokerId,
        address: Option<String>,
        master_epoch: i32,
        sync_state_set_epoch: i32,
        sync_state_set: BTreeSet<BrokerId>,
    },
    /// CONTROLLER_MASTER_NOT_AVAILABLE (2004): a controller-triggered election found nobody.
    /// When the group still had a master the proposal carries an event that removes it, so that
    /// brokers stop following a dead master.
    NoMasterAvailable,
}

impl Election {
    pub fn code(&self) -> i32 {
        match self {
            Election::NewMaster { .. } => code::SUCCESS,
            Election::MasterStillExists { .. } => code::CONTROLLER_MASTER_STILL_EXIST,
            Election::NoMasterAvailable => code::CONTROLLER_MASTER_NOT_AVAILABLE,
        }
    }
}

impl ControllerState {
    /// ELECT_MASTER (1002).
    pub fn elect_master(
        &self,
        req: &ElectRequest,
        live: &dyn Liveness,
        config: ElectConfig,
    ) -> Result<Proposal<Election>, ControllerError> {
        let group = self
            .group(&req.broker_name)
            .ok_or_else(|| ControllerError::GroupNotRegistered {
                broker_name: req.broker_name.clone(),
            })?;
        let chosen = pick(group, req, live, config)?;
        match chosen {
            Some(master) if Some(master) == group.master() => {
                Ok(Proposal::new(still_master(group, master), Vec::new()))
            }
            Some(master) => {
                let event = Event::ElectMaster {
                    broker_name: req.broker_name.clone(),
                    new_master: Some(master),
                };
                let reply = new_master(group, &req.broker_name, master);
                Ok(Proposal::new(reply, vec![event]))
            }
            None => match req.trigger {
                ElectTrigger::Controller => {
                    // Java proposes the removal even when there is no master to remove, which
                    // only bumps the master epoch; at a group's first election that would make
                    // the next broker-triggered election skip the first-election rule and fail.
                    let events = group
                        .master()
                        .map(|_| Event::ElectMaster {
                            broker_name: req.broker_name.clone(),
                            new_master: None,
                        })
                        .into_iter()
                        .collect();
                    Ok(Proposal::new(Election::NoMasterAvailable, events))
                }
                ElectTrigger::Broker(_) | ElectTrigger::Admin(_) => Err(ControllerError::ElectMasterFailed {
                    broker_name: req.broker_name.clone(),
                }),
            },
        }
    }
}

/// The broker to make (or keep as) master, before comparing it with the current one.
fn pick(
    group: &BrokerGroup,
    req: &ElectRequest,
    live: &dyn Liveness,
    config: ElectConfig,
) -> Result<Option<BrokerId>, ControllerError> {
    let (requested, preferred) = match req.trigger {
        ElectTrigger::Controller => (None, None),
        ElectTrigger::Broker(id) => (Some(id), None),
        ElectTrigger::Admin(id) => (Some(id), Some(id)),
    };
    if let Some(id) = requested.filter(|_| group.is_first_election()) {
        // Java takes any id here; a master that is not registered has no address and could
        // never be replaced through the SyncStateSet, so refuse it.
        if !group.is_registered(id) {
            return Err(ControllerError::BrokerNotRegistered {
                broker_name: req.broker_name.clone(),
                broker_id: id,
            });
        }
        return Ok(Some(id));
    }
    let everyone: BTreeSet<BrokerId> = group.replicas().keys().copied().collect();
    let unclean_pool = config.enable_elect_unclean_master.then_some(&everyone);
    let key = GroupKey {
        cluster_name: group.cluster_name(),
        broker_name: &req.broker_name,
    };
    Ok(choose_master(
        key,
        group.sync_state_set(),
        unclean_pool,
        group.master(),
        preferred,
        live,
    ))
}

fn still_master(group: &BrokerGroup, master: BrokerId) -> Election {
    Election::MasterStillExists {
        master,
        address: group.address(master).map(str::to_string),
        master_epoch: group.master_epoch(),
        sync_state_set_epoch: group.sync_state_set_epoch(),
        sync_state_set: group.sync_state_set().clone(),
    }
}

fn new_master(group: &BrokerGroup, broker_name: &str, master: BrokerId) -> Election {
    Election::NewMaster {
        master,
        address: group.address(master).map(str::to_string),
        master_epoch: group.master_epoch().saturating_add(1),
        sync_state_set_epoch: group.sync_state_set_epoch().saturating_add(1),
        sync_state_set: BTreeSet::from([master]),
        members: MemberGroup {
            cluster_name: group.cluster_name().to_string(),
            broker_name: broker_name.to_string(),
            addresses: group
                .replicas()
                .iter()
                .map(|(&id, r)| (id, r.address.clone()))
                .collect(),
        },
    }
}
