//! Java's controller state-machine tests, ported as vectors: same inputs, same expected codes,
//! epochs and masters.
//!
//! Sources (RocketMQ 5.3.1, `controller/src/test/java/org/apache/rocketmq/controller/`):
//! `impl/manager/ReplicasInfoManagerTest.java` (every test) and the state-machine part of
//! `impl/DLedgerControllerTest.java` (the Raft part is not this crate's). Test names keep the
//! Java names in snake case.

use std::collections::BTreeSet;

use rmq_controller::{
    code, AlterSyncStateSetRequest, ApplyBrokerIdRequest, BrokerId, BrokerReport, CleanBrokerDataRequest,
    ControllerError, ControllerState, ElectConfig, ElectRequest, ElectTrigger, Election, Event, LiveBrokers,
    Liveness, Proposal, RegisterBrokerRequest, SyncStateData,
};

const CLUSTER: &str = "cluster-a";
const BROKER: &str = "broker-set-a";
const IP: [&str; 3] = ["127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"];

fn all_alive(_: &str, _: &str, _: BrokerId) -> bool {
    true
}

fn ids(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
    ids.iter().copied().collect()
}

/// A controller without Raft: every proposal's events are applied at once, as a single node
/// would after commit. `log` keeps them, to replay on another state.
struct Harness {
    state: ControllerState,
    config: ElectConfig,
    log: Vec<Event>,
}

impl Harness {
    fn new(enable_elect_unclean_master: bool) -> Self {
        Self {
            state: ControllerState::new(),
            config: ElectConfig {
                enable_elect_unclean_master,
            },
            log: Vec::new(),
        }
    }

    fn commit<R>(&mut self, proposal: Result<Proposal<R>, ControllerError>) -> Result<R, ControllerError> {
        let proposal = proposal?;
        for event in &proposal.events {
            self.state.apply(event);
            self.log.push(event.clone());
        }
        Ok(proposal.reply)
    }

    fn data(&self) -> SyncStateData {
        let mut all = self.state.sync_state_data(&[BROKER], &all_alive);
        all.remove(BROKER).expect("group exists")
    }

    fn elect(
        &self,
        trigger: ElectTrigger,
        live: &dyn Liveness,
    ) -> Result<Proposal<Election>, ControllerError> {
        let req = ElectRequest {
            broker_name: BROKER.to_string(),
            trigger,
        };
        self.state.elect_master(&req, live, self.config)
    }

    /// `registerNewBroker`: next id, apply it, register, checking each answer.
    fn register_new_broker(&mut self, address: &str, expect_id: BrokerId, expect_master: Option<BrokerId>) {
        let next = self.state.next_broker_id(BROKER);
        assert_eq!(next, expect_id);
        let apply = ApplyBrokerIdRequest {
            cluster_name: CLUSTER.to_string(),
            broker_name: BROKER.to_string(),
            broker_id: next,
            register_check_code: format!("{address};1700000000000"),
        };
        let proposal = self.state.apply_broker_id(&apply);
        self.commit(proposal).expect("apply broker id");

        let data = self.data();
        let me = data
            .not_in_sync
            .iter()
            .find(|r| r.broker_id == next)
            .expect("new broker is listed as not in sync");
        assert_eq!(me.broker_name, BROKER);
        assert_eq!(me.address, address);

        let register = RegisterBrokerRequest {
            cluster_name: CLUSTER.to_string(),
            broker_name: BROKER.to_string(),
            broker_id: next,
            broker_address: address.to_string(),
        };
        let proposal = self.state.register_broker(&register, &all_alive);
        let reply = self.commit(proposal).expect("register");
        assert_eq!(reply.master.map(|m| m.broker_id), expect_master);
    }

    /// `brokerElectMaster`: a broker asks to be elected; the expectations are Java's.
    fn broker_elect(
        &mut self,
        id: BrokerId,
        address: &str,
        first_try: bool,
        expect_elected: bool,
        live: &dyn Liveness,
    ) {
        let before = self.state.replica_info(BROKER).expect("group");
        let sync_before = before.sync_state_set.clone();
        let proposal = self.elect(ElectTrigger::Broker(id), live);
        let outcome = self.commit(proposal);
        let after = self.state.replica_info(BROKER).expect("group");

        if first_try {
            let Ok(Election::NewMaster {
                master,
                address: got,
                master_epoch,
                sync_state_set_epoch,
                ..
            }) = outcome
            else {
                panic!("first election must succeed: {outcome:?}");
            };
            assert_eq!((master, got.as_deref()), (id, Some(address)));
            assert_eq!((master_epoch, sync_state_set_epoch), (1, 1));
            assert_eq!(after.master_address.as_deref(), Some(address));
            assert_eq!((after.master, after.master_epoch), (Some(id), 1));
            return;
        }
        if let Some(old) = before.master.filter(|&m| live.is_alive(CLUSTER, BROKER, m)) {
            let Ok(Election::MasterStillExists {
                master,
                address: got,
                master_epoch,
                ..
            }) = outcome
            else {
                panic!("expected 2011: {outcome:?}");
            };
            assert_eq!(master, old);
            assert_eq!(got, before.master_address);
            assert_eq!(master_epoch, before.master_epoch);
            assert_eq!(after.master, before.master);
            return;
        }
        if sync_before.contains(&id) || self.config.enable_elect_unclean_master {
            let Ok(Election::NewMaster {
                master, address: got, ..
            }) = outcome
            else {
                panic!("expected a new master: {outcome:?}");
            };
            assert_eq!(after.master_epoch, before.master_epoch + 1);
            if expect_elected {
                assert_eq!((master, got.as_deref()), (id, Some(address)));
                assert_eq!(
                    (after.master, after.master_address.as_deref()),
                    (Some(id), Some(address))
                );
            }
        } else {
            let err = outcome.expect_err("expected 2012");
            assert_eq!(err.code(), code::CONTROLLER_ELECT_MASTER_FAILED);
        }
    }

    /// `alterNewInSyncSet`: must succeed; the stored set and epoch must follow.
    fn alter(&mut self, master: BrokerId, master_epoch: i32, set: &[BrokerId], sync_state_set_epoch: i32) {
        let req = AlterSyncStateSetRequest {
            broker_name: BROKER.to_string(),
            master_id: master,
            master_epoch,
            new_sync_state_set: ids(set),
            sync_state_set_epoch,
        };
        let proposal = self.state.alter_sync_state_set(&req, &all_alive);
        let reply = self.commit(proposal).expect("alter");
        assert_eq!(reply.epoch, sync_state_set_epoch + 1);
        let info = self.state.replica_info(BROKER).expect("group");
        assert_eq!(info.sync_state_set, ids(set));
        assert_eq!(info.sync_state_set_epoch, sync_state_set_epoch + 1);
    }

    fn clean(
        &self,
        ids: Option<&str>,
        clean_living: bool,
        live: &dyn Liveness,
    ) -> Result<Proposal<()>, ControllerError> {
        self.clean_group(BROKER, ids, clean_living, live)
    }

    fn clean_group(
        &self,
        group: &str,
        ids: Option<&str>,
        clean_living: bool,
        live: &dyn Liveness,
    ) -> Result<Proposal<()>, ControllerError> {
        let req = CleanBrokerDataRequest {
            broker_name: group.to_string(),
            broker_ids: CleanBrokerDataRequest::parse_ids(ids)?,
            clean_living,
        };
        self.state.clean_broker_data(&req, live)
    }
}

/// `mockMetaData`: three brokers, 1 elected first, the others told 1 is master, then the
/// SyncStateSet grown to {1,2,3}. Ends with masterEpoch 1, syncStateSetEpoch 2.
fn mock_metadata(enable_elect_unclean_master: bool) -> Harness {
    let mut h = Harness::new(enable_elect_unclean_master);
    h.register_new_broker(IP[0], 1, None);
    h.register_new_broker(IP[1], 2, None);
    h.register_new_broker(IP[2], 3, None);
    h.broker_elect(1, IP[0], true, true, &all_alive);
    h.broker_elect(2, IP[1], false, false, &all_alive);
    h.broker_elect(3, IP[2], false, false, &all_alive);
    h.alter(1, 1, &[1, 2, 3], 1);
    h
}

/// Heartbeats as Java's tests send them: (id, alive, epoch, maxOffset, electionPriority). A dead
/// broker is one whose timeout Java sets to -10000 ms.
fn heartbeats(entries: &[(BrokerId, bool, i32, i64, i32)]) -> LiveBrokers {
    let mut live = LiveBrokers::new();
    for &(id, alive, epoch, max_offset, election_priority) in entries {
        if alive {
            let report = BrokerReport {
                epoch,
                max_offset,
                election_priority,
            };
            live.insert(CLUSTER, BROKER, id, report);
        }
    }
    live
}

fn new_master(outcome: &Result<Proposal<Election>, ControllerError>) -> (BrokerId, Option<&str>, i32) {
    match outcome {
        Ok(Proposal {
            reply:
                Election::NewMaster {
                    master,
                    address,
                    master_epoch,
                    ..
                },
            ..
        }) => (*master, address.as_deref(), *master_epoch),
        other => panic!("expected a new master: {other:?}"),
    }
}

// ---- ReplicasInfoManagerTest ----

#[test]
fn test_register_broker_success() {
    let h = mock_metadata(false);
    let data = h.data();
    assert_eq!(data.master, Some(1));
    assert_eq!(data.master_address.as_deref(), Some(IP[0]));
    assert_eq!(data.master_epoch, 1);
    assert_eq!(data.sync_state_set_epoch, 2);
    assert_eq!(data.in_sync.len(), 3);
    assert_eq!(data.not_in_sync.len(), 0);
}

#[test]
fn test_register_with_master_exist_resp() {
    let mut h = Harness::new(false);
    h.register_new_broker(IP[0], 1, None);
    h.register_new_broker(IP[1], 2, None);
    h.broker_elect(1, IP[0], true, true, &all_alive);
    h.broker_elect(2, IP[1], false, false, &all_alive);
    h.register_new_broker(IP[2], 3, Some(1));
    h.broker_elect(3, IP[2], false, false, &all_alive);

    let data = h.data();
    assert_eq!(data.master, Some(1));
    assert_eq!(data.master_address.as_deref(), Some(IP[0]));
    assert_eq!(data.master_epoch, 1);
    assert_eq!(data.sync_state_set_epoch, 1);
    assert_eq!(data.in_sync.len(), 1);
    assert_eq!(data.not_in_sync.len(), 2);
}

#[test]
fn test_register_with_old_master_inactive() {
    let mut h = mock_metadata(false);
    let only_3 = |_: &str, _: &str, id: BrokerId| id == 3;
    h.broker_elect(3, IP[2], false, true, &only_3);

    let data = h.data();
    assert_eq!(data.master, Some(3));
    assert_eq!(data.master_address.as_deref(), Some(IP[2]));
    assert_eq!(data.master_epoch, 2);
    assert_eq!(data.sync_state_set_epoch, 3);
    assert_eq!(data.in_sync.len(), 1);
    assert_eq!(data.not_in_sync.len(), 2);
}

#[test]
fn test_elect_master_old_master_still_alive() {
    let h = mock_metadata(false);
    let live = heartbeats(&[(1, true, 1, 1, 0), (2, true, 1, 2, 0), (3, true, 1, 3, 0)]);
    let outcome = h.elect(ElectTrigger::Controller, &live).expect("accepted");
    assert_eq!(outcome.reply.code(), code::CONTROLLER_MASTER_STILL_EXIST);
    assert!(outcome.events.is_empty());
}

#[test]
fn test_elect_master_prefer_higher_epoch() {
    let h = mock_metadata(false);
    let live = heartbeats(&[(1, false, 1, 3, 0), (2, true, 1, 2, 0), (3, true, 0, 3, 0)]);
    let outcome = h.elect(ElectTrigger::Controller, &live);
    assert_eq!(new_master(&outcome), (2, Some(IP[1]), 2));
}

#[test]
fn test_elect_master_prefer_higher_offset_when_epoch_equals() {
    let h = mock_metadata(false);
    let live = heartbeats(&[(1, false, 1, 3, 0), (2, true, 1, 2, 0), (3, true, 1, 3, 0)]);
    let outcome = h.elect(ElectTrigger::Controller, &live);
    assert_eq!(new_master(&outcome), (3, Some(IP[2]), 2));
}

#[test]
fn test_elect_master_prefer_higher_priority_when_epoch_and_offset_equals() {
    let h = mock_metadata(false);
    let live = heartbeats(&[(1, false, 1, 3, 3), (2, true, 1, 3, 2), (3, true, 1, 3, 1)]);
    // Java builds this request with `new ElectMasterRequestHeader(brokerName)`: brokerId -1.
    let outcome = h.elect(ElectTrigger::Controller, &live);
    assert_eq!(new_master(&outcome), (3, Some(IP[2]), 2));
}

#[test]
fn test_elect_master() {
    let mut h = mock_metadata(false);
    let not_1 = |_: &str, _: &str, id: BrokerId| id != 1;
    let proposal = h.elect(ElectTrigger::Controller, &not_1);
    let (master, address, master_epoch) = new_master(&proposal);
    assert_eq!(master_epoch, 2);
    assert_ne!(master, 1);
    assert_ne!(address, Some(IP[0]));
    // Java's policy without a live-info getter takes "any" member; here the lowest id.
    assert_eq!(master, 2);
    let reply = h.commit(proposal).expect("elected");
    let Election::NewMaster {
        sync_state_set_epoch, ..
    } = reply
    else {
        unreachable!()
    };
    h.alter(master, master_epoch, &[1, 2, 3], sync_state_set_epoch);

    // The admin designates 1, which is dead: nobody else is taken instead.
    let err = h
        .elect(ElectTrigger::Admin(1), &not_1)
        .expect_err("designated broker is dead");
    assert_eq!(err.code(), code::CONTROLLER_ELECT_MASTER_FAILED);

    // The admin designates the current, living master.
    let outcome = h
        .elect(ElectTrigger::Admin(master), &all_alive)
        .expect("accepted");
    assert_eq!(outcome.reply.code(), code::CONTROLLER_MASTER_STILL_EXIST);

    // The admin designates 1 while the master is dead.
    let not_master = move |_: &str, _: &str, id: BrokerId| id != master;
    let outcome = h.elect(ElectTrigger::Admin(1), &not_master);
    assert_eq!(new_master(&outcome), (1, Some(IP[0]), 3));
}

#[test]
fn test_all_replicas_shutdown_and_restart() {
    let mut h = mock_metadata(false);
    h.alter(1, 1, &[1], 2);

    // The master is gone and the SyncStateSet holds only it: nobody can be elected, but the dead
    // master is still removed.
    let not_1 = |_: &str, _: &str, id: BrokerId| id != 1;
    let proposal = h.elect(ElectTrigger::Controller, &not_1).expect("accepted");
    assert_eq!(proposal.reply, Election::NoMasterAvailable);
    assert_eq!(proposal.reply.code(), code::CONTROLLER_MASTER_NOT_AVAILABLE);
    assert_eq!(
        proposal.events,
        vec![Event::ElectMaster {
            broker_name: BROKER.to_string(),
            new_master: None
        }]
    );
    h.commit(Ok(proposal)).expect("applied");

    let info = h.state.replica_info(BROKER).expect("group");
    assert_eq!(info.master_address, None);
    assert_eq!(info.master_epoch, 2);
}

#[test]
fn test_clean_broker_data() {
    let h = mock_metadata(false);

    let err = h.clean(Some("1"), false, &all_alive).expect_err("1 is alive");
    assert_eq!(err.code(), code::CONTROLLER_INVALID_CLEAN_BROKER_METADATA);

    let err = h
        .clean(None, false, &all_alive)
        .expect_err("the group has a master");
    assert_eq!(err.code(), code::CONTROLLER_INVALID_CLEAN_BROKER_METADATA);
    assert_eq!(
        err.remark(),
        "Broker broker-set-a is still alive, clean up failure"
    );

    let none_alive = |_: &str, _: &str, _: BrokerId| false;
    assert!(h.clean(Some("1"), false, &none_alive).is_ok());
    assert!(h.clean(Some("1;2;3"), false, &none_alive).is_ok());

    let err = h
        .clean_group("broker12", Some("1;2;3"), true, &none_alive)
        .expect_err("unknown group");
    assert_eq!(err.code(), code::CONTROLLER_INVALID_CLEAN_BROKER_METADATA);
    assert_eq!(
        err.remark(),
        "Broker broker12 is not existed,clean broker data failure."
    );

    // Java's header6 and header7 leave the cluster name out; this request has no cluster field.
    let err = h
        .clean_group("broker12", Some("1;2;3"), true, &all_alive)
        .expect_err("unknown group");
    assert_eq!(err.code(), code::CONTROLLER_INVALID_CLEAN_BROKER_METADATA);
    assert!(h.clean(Some("1;2;3"), true, &none_alive).is_ok());
}

#[test]
fn test_serialize() {
    // Java round-trips the state through Hessian for jRaft snapshots; here through serde.
    let h = mock_metadata(false);
    let snapshot = serde_json::to_string(&h.state).expect("serialize");
    let restored: ControllerState = serde_json::from_str(&snapshot).expect("deserialize");
    assert_eq!(restored, h.state);
}

// ---- DLedgerControllerTest, state-machine part ----

#[test]
fn dledger_test_elect_master() {
    let h = mock_metadata(false);
    let info = h.state.replica_info(BROKER).expect("group");
    assert_eq!(
        (info.master_epoch, info.master_address.as_deref()),
        (1, Some(IP[0]))
    );
    let not_1 = |_: &str, _: &str, id: BrokerId| id != 1;
    let outcome = h.elect(ElectTrigger::Controller, &not_1);
    let (master, address, master_epoch) = new_master(&outcome);
    assert_eq!(master_epoch, 2);
    assert_ne!(master, 1);
    assert_ne!(address, Some(IP[0]));
}

#[test]
fn dledger_test_all_replicas_shutdown_and_restart_with_un_enable_elect_un_clean_master() {
    let mut h = mock_metadata(false);
    h.alter(1, 1, &[1], 2);
    let not_1 = |_: &str, _: &str, id: BrokerId| id != 1;
    let proposal = h.elect(ElectTrigger::Controller, &not_1);
    h.commit(proposal).expect("accepted");

    let info = h.state.replica_info(BROKER).expect("group");
    assert_eq!(info.sync_state_set, ids(&[1]));
    assert_eq!(info.master_address, None);
    assert_eq!(info.master_epoch, 2);

    // Broker 2 restarts and asks; it is not in the SyncStateSet, so no master.
    let err = h
        .elect(ElectTrigger::Broker(2), &not_1)
        .expect_err("2 is not in sync");
    assert_eq!(err.code(), code::CONTROLLER_ELECT_MASTER_FAILED);

    // Broker 1 restarts and asks; it is elected.
    let outcome = h.elect(ElectTrigger::Broker(1), &all_alive);
    assert_eq!(new_master(&outcome), (1, Some(IP[0]), 3));
}

#[test]
fn dledger_test_enable_elect_un_clean_master() {
    let mut h = mock_metadata(true);
    h.alter(1, 1, &[1], 2);
    let not_1 = |_: &str, _: &str, id: BrokerId| id != 1;
    let proposal = h.elect(ElectTrigger::Controller, &not_1);
    h.commit(proposal).expect("accepted");

    let info = h.state.replica_info(BROKER).expect("group");
    let master = info.master.expect("an unclean master");
    assert_eq!(info.sync_state_set, ids(&[master]));
    assert_ne!(master, 1);
    assert_ne!(info.master_address.as_deref(), Some(IP[0]));
    assert_eq!(info.master_epoch, 2);
}

#[test]
fn dledger_test_change_controller_leader() {
    // A new leader rebuilds the state by replaying the log; it must see what the old one saw.
    let h = mock_metadata(false);
    let mut replica = ControllerState::new();
    for event in &h.log {
        let wire = serde_json::to_string(event).expect("serialize");
        replica.apply(&serde_json::from_str(&wire).expect("deserialize"));
    }
    assert_eq!(replica, h.state);
    let info = replica.replica_info(BROKER).expect("group");
    assert_eq!(info.master_address.as_deref(), Some(IP[0]));
    assert_eq!(info.master_epoch, 1);
    assert_eq!(info.sync_state_set, ids(&[1, 2, 3]));
}

#[test]
fn dledger_test_broker_lifecycle_listener() {
    // The new leader's inactive-master scan finds the group whose master 1 is dead.
    let h = mock_metadata(false);
    let not_1 = |_: &str, _: &str, id: BrokerId| id != 1;
    assert_eq!(
        h.state.groups_needing_reelection(&not_1),
        vec![BROKER.to_string()]
    );
    assert!(h.state.groups_needing_reelection(&all_alive).is_empty());
    // Nobody alive: an election could only fail, so none is asked for.
    let none_alive = |_: &str, _: &str, _: BrokerId| false;
    assert!(h.state.groups_needing_reelection(&none_alive).is_empty());
}
