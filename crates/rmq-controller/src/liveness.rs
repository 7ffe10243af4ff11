//! What the heartbeat table tells the state machine.
//!
//! The controller decides liveness from broker heartbeats and a clock; the state machine must not
//! read either, so proposals take the answer as an input. Java passes the same two things as
//! `BrokerValidPredicate` and `BrokerLiveInfoGetter`.

use std::collections::BTreeMap;

use crate::BrokerId;

/// What a broker said in its most recent heartbeat that matters for an election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerReport {
    /// The last epoch in the broker's epoch file; -1 when it has none.
    pub epoch: i32,
    /// The broker's max commitlog offset; -1 when unknown.
    pub max_offset: i64,
    /// `brokerElectionPriority`: lower wins a tie. Java's default is `i32::MAX`.
    pub election_priority: i32,
}

impl Default for BrokerReport {
    /// What Java assumes for a heartbeat that leaves the fields out.
    fn default() -> Self {
        Self {
            epoch: -1,
            max_offset: -1,
            election_priority: i32::MAX,
        }
    }
}

/// The liveness view a proposal reads. Brokers are identified as the heartbeat table keys them.
pub trait Liveness {
    /// Whether the broker's heartbeat has not expired.
    fn is_alive(&self, cluster_name: &str, broker_name: &str, broker_id: BrokerId) -> bool;

    /// The broker's last report. `None` makes the broker rank below every broker that has one,
    /// which is also how a view without reports (Java's policy without a live-info getter) works.
    fn report(&self, _cluster_name: &str, _broker_name: &str, _broker_id: BrokerId) -> Option<BrokerReport> {
        None
    }
}

/// A plain predicate is a liveness view without reports; tests and simple callers use closures.
impl<F> Liveness for F
where
    F: Fn(&str, &str, BrokerId) -> bool,
{
    fn is_alive(&self, cluster_name: &str, broker_name: &str, broker_id: BrokerId) -> bool {
        self(cluster_name, broker_name, broker_id)
    }
}

/// A snapshot of the live part of a heartbeat table: a broker is alive exactly when it has an
/// entry, and the entry is its last report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveBrokers {
    /// cluster name, then broker name, then broker id; nested so lookups borrow their keys.
    brokers: BTreeMap<String, BTreeMap<String, BTreeMap<BrokerId, BrokerReport>>>,
}

impl LiveBrokers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a live broker, replacing any earlier report for it.
    pub fn insert(
        &mut self,
        cluster_name: &str,
        broker_name: &str,
        broker_id: BrokerId,
        report: BrokerReport,
    ) {
        self.brokers
            .entry(cluster_name.to_string())
            .or_default()
            .entry(broker_name.to_string())
            .or_default()
            .insert(broker_id, report);
    }

    /// Forget a broker (its heartbeat expired).
    pub fn remove(&mut self, cluster_name: &str, broker_name: &str, broker_id: BrokerId) {
        if let Some(group) = self
            .brokers
            .get_mut(cluster_name)
            .and_then(|c| c.get_mut(broker_name))
        {
            group.remove(&broker_id);
        }
    }

    fn get(&self, cluster_name: &str, broker_name: &str, broker_id: BrokerId) -> Option<BrokerReport> {
        self.brokers
            .get(cluster_name)?
            .get(broker_name)?
            .get(&broker_id)
            .copied()
    }
}

impl Liveness for LiveBrokers {
    fn is_alive(&self, cluster_name: &str, broker_name: &str, broker_id: BrokerId) -> bool {
        self.get(cluster_name, broker_name, broker_id).is_some()
    }

    fn report(&self, cluster_name: &str, broker_name: &str, broker_id: BrokerId) -> Option<BrokerReport> {
        self.get(cluster_name, broker_name, broker_id)
    }
}
