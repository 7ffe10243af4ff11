//! CLEAN_BROKER_DATA: an admin removes brokers, or a whole group, from the controller.
//!
//! Used after a broker is decommissioned, so its id stops counting for elections and the
//! SyncStateSet. Unless the admin insists (`clean_living`), only dead brokers can be removed, and
//! a whole group only when it has no master.

use std::collections::BTreeSet;

use crate::error::ControllerError;
use crate::event::{Event, Proposal};
use crate::liveness::Liveness;
use crate::state::ControllerState;
use crate::BrokerId;

/// CLEAN_BROKER_DATA (1011).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanBrokerDataRequest {
    pub broker_name: String,
    /// The brokers to remove; `None` (or an empty set) removes the whole group. The wire field
    /// `brokerControllerIdsToClean` is parsed with [`CleanBrokerDataRequest::parse_ids`].
    pub broker_ids: Option<BTreeSet<BrokerId>>,
    /// `isCleanLivingBroker`: skip the liveness checks.
    pub clean_living: bool,
}

impl CleanBrokerDataRequest {
    /// Parse `brokerControllerIdsToClean` (`1;2;3`). Blank means "no list". Like Java's
    /// `split(";")`, trailing empty parts are ignored; any other part that is not an id is an
    /// error, and so is a list that names no id at all (Java would take `";"` as "clean the whole
    /// group" without the has-a-master check).
    pub fn parse_ids(raw: Option<&str>) -> Result<Option<BTreeSet<BrokerId>>, ControllerError> {
        let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let bad = || ControllerError::CleanBadIdList {
            input: raw.to_string(),
        };
        let parts = raw.trim_end_matches(';');
        if parts.is_empty() {
            return Err(bad());
        }
        parts
            .split(';')
            .map(|part| part.parse::<BrokerId>().map_err(|_| bad()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Some)
    }
}

impl ControllerState {
    /// CLEAN_BROKER_DATA (1011).
    pub fn clean_broker_data(
        &self,
        req: &CleanBrokerDataRequest,
        live: &dyn Liveness,
    ) -> Result<Proposal<()>, ControllerError> {
        let ids = req.broker_ids.clone().filter(|ids| !ids.is_empty());
        let group = self.group(&req.broker_name);
        if !req.clean_living {
            if let Some(group) = group {
                match &ids {
                    None if group.master().is_some() => {
                        return Err(ControllerError::CleanGroupHasMaster {
                            broker_name: req.broker_name.clone(),
                        })
                    }
                    None => {}
                    Some(ids) => {
                        // Java asks with the request's cluster name, which the admin tool may
                        // leave out, and then every broker looks dead; the stored name cannot.
                        let alive = ids
                            .iter()
                            .copied()
                            .find(|&id| live.is_alive(group.cluster_name(), &req.broker_name, id));
                        if let Some(broker_id) = alive {
                            return Err(ControllerError::CleanBrokerAlive {
                                broker_name: req.broker_name.clone(),
                                broker_id,
                            });
                        }
                    }
                }
            }
        }
        if group.is_none() {
            return Err(ControllerError::CleanUnknownGroup {
                broker_name: req.broker_name.clone(),
            });
        }
        // Java drops the id list when `clean_living` is set and so removes the whole group;
        // the list is honoured here either way.
        let event = Event::CleanBrokerData {
            broker_name: req.broker_name.clone(),
            broker_ids: ids,
        };
        Ok(Proposal::new((), vec![event]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ids_follows_java_split() {
        let parse = CleanBrokerDataRequest::parse_ids;
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some("")), Ok(None));
        assert_eq!(parse(Some("  ")), Ok(None));
        assert_eq!(parse(Some("1")), Ok(Some(BTreeSet::from([1]))));
        assert_eq!(parse(Some("1;2;3")), Ok(Some(BTreeSet::from([1, 2, 3]))));
        assert_eq!(parse(Some("1;2;")), Ok(Some(BTreeSet::from([1, 2]))));
        for bad in [";", ";1", "1;;2", "x", "1; 2", "-1"] {
            let err = parse(Some(bad)).expect_err(bad);
            assert_eq!(err.code(), crate::code::CONTROLLER_INVALID_CLEAN_BROKER_METADATA);
        }
    }
}
