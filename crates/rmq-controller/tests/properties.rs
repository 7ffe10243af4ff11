//! Invariants over random operation sequences: whatever brokers, admins and the controller ask,
//! in any order and under any liveness, the committed state stays sane.
//!
//! - every group has a registered broker, its SyncStateSet holds only registered brokers, and
//!   GET_NEXT_BROKER_ID never names a registered broker;
//! - a registered master is always in the SyncStateSet;
//! - a group's master epoch and sync-state-set epoch never decrease;
//! - an elected master is registered and alive and comes from the SyncStateSet, except at a
//!   group's first election (the asking broker) or with unclean election on;
//! - a reply's epochs are the ones the state has after its events are applied;
//! - proposing twice gives the same answer, and replaying the serialized log (or a serialized
//!   snapshot) gives the same state.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rmq_controller::{
    AlterSyncStateSetRequest, ApplyBrokerIdRequest, BrokerId, BrokerReport, CleanBrokerDataRequest,
    ControllerState, ElectConfig, ElectRequest, ElectTrigger, Election, Event, LiveBrokers, Liveness as _,
    RegisterBrokerRequest,
};

const CLUSTER: &str = "c";
const GROUPS: [&str; 2] = ["a", "b"];
const MAX_ID: BrokerId = 5;

#[derive(Debug, Clone)]
enum Op {
    /// Claim the next id (`next: true`) or a given one, with one of two check codes.
    ApplyId {
        group: usize,
        next: bool,
        id: BrokerId,
        code: u8,
    },
    Register {
        group: usize,
        id: BrokerId,
        addr: u8,
    },
    /// `honest`: use the current master and epochs, as a real master would.
    Alter {
        group: usize,
        honest: bool,
        master: BrokerId,
        set: u8,
        epoch_skew: i32,
    },
    Elect {
        group: usize,
        trigger: u8,
        id: BrokerId,
    },
    Clean {
        group: usize,
        ids: Option<u8>,
        clean_living: bool,
    },
}

/// One step: an operation under a liveness view (bit i alive = broker i+1 alive) with reports.
#[derive(Debug, Clone)]
struct Step {
    op: Op,
    alive: u8,
    reports: [(i32, i64, i32); MAX_ID as usize],
}

fn op() -> impl Strategy<Value = Op> {
    let group = 0..GROUPS.len();
    let id = 1..=MAX_ID;
    prop_oneof![
        3 => (group.clone(), any::<bool>(), id.clone(), 0..2u8)
            .prop_map(|(group, next, id, code)| Op::ApplyId { group, next, id, code }),
        2 => (group.clone(), id.clone(), 0..2u8).prop_map(|(group, id, addr)| Op::Register { group, id, addr }),
        3 => (group.clone(), any::<bool>(), id.clone(), any::<u8>(), -1..=1i32).prop_map(
            |(group, honest, master, set, epoch_skew)| Op::Alter { group, honest, master, set, epoch_skew }
        ),
        3 => (group.clone(), 0..3u8, id).prop_map(|(group, trigger, id)| Op::Elect { group, trigger, id }),
        1 => (group, proptest::option::of(any::<u8>()), any::<bool>())
            .prop_map(|(group, ids, clean_living)| Op::Clean { group, ids, clean_living }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let report = (0..3i32, 0..4i64, 0..3i32);
    (op(), any::<u8>(), proptest::array::uniform5(report)).prop_map(|(op, alive, reports)| Step {
        op,
        alive,
        reports,
    })
}

fn bits(mask: u8) -> BTreeSet<BrokerId> {
    (1..=MAX_ID).filter(|id| mask & (1 << (id - 1)) != 0).collect()
}

fn live_view(step: &Step) -> LiveBrokers {
    let mut live = LiveBrokers::new();
    for id in bits(step.alive) {
        let (epoch, max_offset, election_priority) = step.reports[(id - 1) as usize];
        let report = BrokerReport {
            epoch,
            max_offset,
            election_priority,
        };
        for group in GROUPS {
            live.insert(CLUSTER, group, id, report);
        }
    }
    live
}

struct Run {
    state: ControllerState,
    config: ElectConfig,
    log: Vec<Event>,
    /// (master epoch, sync-state-set epoch) last seen per group, forgotten when a group goes.
    epochs: BTreeMap<String, (i32, i32)>,
}

impl Run {
    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let live = live_view(step);
        let events = match &step.op {
            Op::ApplyId {
                group,
                next,
                id,
                code,
            } => {
                let name = GROUPS[*group];
                let id = if *next {
                    self.state.next_broker_id(name)
                } else {
                    *id
                };
                let req = ApplyBrokerIdRequest {
                    cluster_name: CLUSTER.into(),
                    broker_name: name.into(),
                    broker_id: id,
                    register_check_code: format!("10.0.{code}.{id}:10911;{code}"),
                };
                let first = self.state.apply_broker_id(&req);
                prop_assert_eq!(&first, &self.state.apply_broker_id(&req), "deterministic");
                first.map(|p| p.events).unwrap_or_default()
            }
            Op::Register { group, id, addr } => {
                let req = RegisterBrokerRequest {
                    cluster_name: CLUSTER.into(),
                    broker_name: GROUPS[*group].into(),
                    broker_id: *id,
                    broker_address: format!("10.1.{addr}.{id}:10911"),
                };
                let first = self.state.register_broker(&req, &live);
                prop_assert_eq!(&first, &self.state.register_broker(&req, &live), "deterministic");
                first.map(|p| p.events).unwrap_or_default()
            }
            Op::Alter {
                group,
                honest,
                master,
                set,
                epoch_skew,
            } => self.alter(GROUPS[*group], *honest, *master, *set, *epoch_skew, &live)?,
            Op::Elect { group, trigger, id } => self.elect(GROUPS[*group], *trigger, *id, &live)?,
            Op::Clean {
                group,
                ids,
                clean_living,
            } => {
                let req = CleanBrokerDataRequest {
                    broker_name: GROUPS[*group].into(),
                    broker_ids: ids.map(bits),
                    clean_living: *clean_living,
                };
                let first = self.state.clean_broker_data(&req, &live);
                prop_assert_eq!(
                    &first,
                    &self.state.clean_broker_data(&req, &live),
                    "deterministic"
                );
                first.map(|p| p.events).unwrap_or_default()
            }
        };
        for event in &events {
            self.state.apply(event);
            self.log.push(event.clone());
        }
        self.check_invariants()
    }

    fn alter(
        &mut self,
        name: &str,
        honest: bool,
        master: BrokerId,
        set: u8,
        skew: i32,
        live: &LiveBrokers,
    ) -> Result<Vec<Event>, TestCaseError> {
        let Some(group) = self.state.group(name) else {
            return Ok(Vec::new());
        };
        let (master, master_epoch, sse_epoch) = match (honest, group.master()) {
            (true, Some(m)) => (m, group.master_epoch(), group.sync_state_set_epoch()),
            _ => (
                master,
                group.master_epoch() + skew,
                group.sync_state_set_epoch() - skew,
            ),
        };
        let mut new_set = bits(set);
        if honest {
            new_set.insert(master);
        }
        let req = AlterSyncStateSetRequest {
            broker_name: name.into(),
            master_id: master,
            master_epoch,
            new_sync_state_set: new_set,
            sync_state_set_epoch: sse_epoch,
        };
        let result = self.state.alter_sync_state_set(&req, live);
        prop_assert_eq!(
            &result,
            &self.state.alter_sync_state_set(&req, live),
            "deterministic"
        );
        let Ok(proposal) = result else {
            return Ok(Vec::new());
        };
        // Accepted only from the current master at the current epochs.
        prop_assert_eq!(group.master(), Some(master));
        prop_assert_eq!(group.master_epoch(), master_epoch);
        prop_assert_eq!(group.sync_state_set_epoch(), sse_epoch);
        prop_assert_eq!(proposal.reply.epoch, sse_epoch + 1);
        Ok(proposal.events)
    }

    fn elect(
        &mut self,
        name: &str,
        trigger: u8,
        id: BrokerId,
        live: &LiveBrokers,
    ) -> Result<Vec<Event>, TestCaseError> {
        let trigger = match trigger {
            0 => ElectTrigger::Controller,
            1 => ElectTrigger::Broker(id),
            _ => ElectTrigger::Admin(id),
        };
        let req = ElectRequest {
            broker_name: name.into(),
            trigger,
        };
        let result = self.state.elect_master(&req, live, self.config);
        prop_assert_eq!(
            &result,
            &self.state.elect_master(&req, live, self.config),
            "deterministic"
        );
        let (Ok(proposal), Some(group)) = (result, self.state.group(name)) else {
            return Ok(Vec::new());
        };
        if let Election::NewMaster {
            master,
            master_epoch,
            sync_state_set_epoch,
            ..
        } = &proposal.reply
        {
            let master = *master;
            prop_assert!(group.is_registered(master), "elected {} is registered", master);
            let alive = live.report(CLUSTER, name, master).is_some();
            let first = group.is_first_election() && trigger != ElectTrigger::Controller && master == id;
            let clean = alive && group.sync_state_set().contains(&master);
            let unclean = alive && self.config.enable_elect_unclean_master;
            prop_assert!(
                first || clean || unclean,
                "master {} from outside the SyncStateSet",
                master
            );
            if let ElectTrigger::Admin(designated) = trigger {
                prop_assert_eq!(
                    master,
                    designated,
                    "an admin election elects the designated broker"
                );
            }
            prop_assert_eq!(*master_epoch, group.master_epoch() + 1);
            prop_assert_eq!(*sync_state_set_epoch, group.sync_state_set_epoch() + 1);
        }
        if let Election::MasterStillExists { master, .. } = &proposal.reply {
            prop_assert_eq!(Some(*master), group.master());
            prop_assert!(proposal.events.is_empty());
        }
        Ok(proposal.events)
    }

    fn check_invariants(&mut self) -> Result<(), TestCaseError> {
        let mut seen = BTreeMap::new();
        for (name, group) in self.state.groups() {
            prop_assert!(!group.replicas().is_empty(), "group {} has brokers", name);
            prop_assert!(group.sync_state_set().iter().all(|id| group.is_registered(*id)));
            let max_id = group.replicas().keys().max().copied().unwrap_or(0);
            prop_assert!(group.next_broker_id() > max_id);
            if let Some(master) = group.master().filter(|m| group.is_registered(*m)) {
                prop_assert!(
                    group.sync_state_set().contains(&master),
                    "master {} in sync",
                    master
                );
            }
            let now = (group.master_epoch(), group.sync_state_set_epoch());
            if let Some(&(me, sse)) = self.epochs.get(name) {
                prop_assert!(now.0 >= me && now.1 >= sse, "epochs went back in {}", name);
            }
            seen.insert(name.to_string(), now);
        }
        self.epochs = seen;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_for_any_sequence(
        steps in proptest::collection::vec(step(), 1..60),
        unclean in any::<bool>(),
    ) {
        let mut run = Run {
            state: ControllerState::new(),
            config: ElectConfig { enable_elect_unclean_master: unclean },
            log: Vec::new(),
            epochs: BTreeMap::new(),
        };
        for step in &steps {
            run.step(step)?;
        }

        let mut replayed = ControllerState::new();
        for event in &run.log {
            let wire = serde_json::to_vec(event).expect("serialize event");
            replayed.apply(&serde_json::from_slice(&wire).expect("deserialize event"));
        }
        prop_assert_eq!(&replayed, &run.state);

        let snapshot = serde_json::to_vec(&run.state).expect("serialize state");
        let restored: ControllerState = serde_json::from_slice(&snapshot).expect("deserialize state");
        prop_assert_eq!(&restored, &run.state);
    }
}
