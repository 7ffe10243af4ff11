//! Broker id allocation and registration.
//!
//! A broker gets its id in two steps so that a crash between them is harmless: it asks for the
//! next free id (GET_NEXT_BROKER_ID, a read), writes it to a temp file together with a fresh
//! `registerCheckCode`, then claims it (APPLY_BROKER_ID). A claim that repeats the same check code
//! is the same broker retrying and is accepted again. Once the id is its own, the broker sends
//! REGISTER_BROKER on every start to learn the master and to update its address.

use crate::error::ControllerError;
use crate::event::{Event, Proposal};
use crate::liveness::Liveness;
use crate::state::ControllerState;
use crate::sync_state::SyncStateSetView;
use crate::{BrokerId, FIRST_BROKER_ID};

/// APPLY_BROKER_ID (1013).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyBrokerIdRequest {
    pub cluster_name: String,
    pub broker_name: String,
    pub broker_id: BrokerId,
    /// `<brokerAddr>;<millis>`; the address part is recorded as the broker's address.
    pub register_check_code: String,
}

/// REGISTER_BROKER (1003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterBrokerRequest {
    pub cluster_name: String,
    pub broker_name: String,
    pub broker_id: BrokerId,
    pub broker_address: String,
}

/// The master as a broker learns it from the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterView {
    pub broker_id: BrokerId,
    pub address: Option<String>,
    pub master_epoch: i32,
    pub sync_state_set_epoch: i32,
}

/// The answer to REGISTER_BROKER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterReply {
    /// Set only when the group has a master and it is alive, so that a broker never follows a
    /// dead master; without one the broker asks for an election.
    pub master: Option<MasterView>,
    pub sync_state_set: SyncStateSetView,
}

impl ControllerState {
    /// GET_NEXT_BROKER_ID (1012): the id a new broker of this group should claim.
    pub fn next_broker_id(&self, broker_name: &str) -> BrokerId {
        self.group(broker_name)
            .map_or(FIRST_BROKER_ID, |g| g.next_broker_id())
    }

    /// APPLY_BROKER_ID (1013). A new group accepts only the first id; a known group accepts an
    /// id that was never handed out (at least [`crate::BrokerGroup::next_broker_id`]) or a retry
    /// with the same check code.
    pub fn apply_broker_id(&self, req: &ApplyBrokerIdRequest) -> Result<Proposal<()>, ControllerError> {
        let event = Event::ApplyBrokerId {
            cluster_name: req.cluster_name.clone(),
            broker_name: req.broker_name.clone(),
            broker_id: req.broker_id,
            broker_address: address_of(&req.register_check_code).to_string(),
            register_check_code: req.register_check_code.clone(),
        };
        let Some(group) = self.group(&req.broker_name) else {
            if req.broker_id == FIRST_BROKER_ID {
                return Ok(Proposal::new((), vec![event]));
            }
            return Err(ControllerError::BrokerIdForUnknownGroup {
                broker_name: req.broker_name.clone(),
                broker_id: req.broker_id,
            });
        };
        let accepted = match group.replicas().get(&req.broker_id) {
            Some(owner) => owner.register_check_code == req.register_check_code,
            // Java takes any unused id. An unused id below the next one was cleaned (or skipped),
            // and the group may still name it as master: a new, empty broker claiming it would
            // be taken for that master without an election.
            None => req.broker_id >= group.next_broker_id(),
        };
        if accepted {
            Ok(Proposal::new((), vec![event]))
        } else {
            Err(ControllerError::BrokerIdTaken {
                broker_name: req.broker_name.clone(),
                broker_id: req.broker_id,
            })
        }
    }

    /// REGISTER_BROKER (1003): the broker must already own its id. Proposes an address update
    /// when the broker comes back on another address.
    pub fn register_broker(
        &self,
        req: &RegisterBrokerRequest,
        live: &dyn Liveness,
    ) -> Result<Proposal<RegisterReply>, ControllerError> {
        let group = self
            .group(&req.broker_name)
            .ok_or_else(|| ControllerError::GroupNotRegistered {
                broker_name: req.broker_name.clone(),
            })?;
        let Some(replica) = group.replicas().get(&req.broker_id) else {
            return Err(ControllerError::BrokerNotRegistered {
                broker_name: req.broker_name.clone(),
                broker_id: req.broker_id,
            });
        };
        // Java asks with the request's cluster name; the stored one is the heartbeat table's key
        // for every other check, so use it here too.
        let master = group
            .master()
            .filter(|&id| live.is_alive(group.cluster_name(), &req.broker_name, id))
            .map(|id| MasterView {
                broker_id: id,
                address: group.address(id).map(str::to_string),
                master_epoch: group.master_epoch(),
                sync_state_set_epoch: group.sync_state_set_epoch(),
            });
        let reply = RegisterReply {
            master,
            sync_state_set: SyncStateSetView {
                members: group.sync_state_set().clone(),
                epoch: group.sync_state_set_epoch(),
            },
        };
        let mut events = Vec::new();
        if replica.address != req.broker_address {
            events.push(Event::UpdateBrokerAddress {
                broker_name: req.broker_name.clone(),
                broker_id: req.broker_id,
                broker_address: req.broker_address.clone(),
            });
        }
        Ok(Proposal::new(reply, events))
    }
}

/// The address part of a `registerCheckCode` (everything before the first `;`).
fn address_of(register_check_code: &str) -> &str {
    register_check_code
        .split_once(';')
        .map_or(register_check_code, |(address, _)| address)
}

#[cfg(test)]
mod tests {
    use super::address_of;

    #[test]
    fn address_is_the_part_before_the_first_semicolon() {
        assert_eq!(address_of("127.0.0.1:10911;1700000000000"), "127.0.0.1:10911");
        assert_eq!(address_of("127.0.0.1:10911"), "127.0.0.1:10911");
        assert_eq!(address_of("a;b;c"), "a");
        assert_eq!(address_of(""), "");
    }
}
