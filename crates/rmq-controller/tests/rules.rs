//! The operation rules of docs/controller/java-reference.md 3.1 and 3.2 that Java's own tests do
//! not pin, and the places where rmq chose differently (docs/controller/state-machine.md).

use std::collections::BTreeSet;

use rmq_controller::{
    code, AlterSyncStateSetRequest, ApplyBrokerIdRequest, BrokerId, CleanBrokerDataRequest, ControllerError,
    ControllerState, ElectConfig, ElectRequest, ElectTrigger, Election, Event, Proposal,
    RegisterBrokerRequest,
};

const CLUSTER: &str = "c";
const GROUP: &str = "g";

fn all_alive(_: &str, _: &str, _: BrokerId) -> bool {
    true
}

fn none_alive(_: &str, _: &str, _: BrokerId) -> bool {
    false
}

fn ids(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
    ids.iter().copied().collect()
}

fn commit<R>(state: &mut ControllerState, proposal: Result<Proposal<R>, ControllerError>) -> R {
    let proposal = proposal.expect("accepted");
    for event in &proposal.events {
        state.apply(event);
    }
    proposal.reply
}

fn apply_id(id: BrokerId, check_code: &str) -> ApplyBrokerIdRequest {
    ApplyBrokerIdRequest {
        cluster_name: CLUSTER.to_string(),
        broker_name: GROUP.to_string(),
        broker_id: id,
        register_check_code: check_code.to_string(),
    }
}

fn elect(trigger: ElectTrigger) -> ElectRequest {
    ElectRequest {
        broker_name: GROUP.to_string(),
        trigger,
    }
}

fn alter(master: BrokerId, master_epoch: i32, set: &[BrokerId], sse_epoch: i32) -> AlterSyncStateSetRequest {
    AlterSyncStateSetRequest {
        broker_name: GROUP.to_string(),
        master_id: master,
        master_epoch,
        new_sync_state_set: ids(set),
        sync_state_set_epoch: sse_epoch,
    }
}

fn clean(ids: Option<&[BrokerId]>, clean_living: bool) -> CleanBrokerDataRequest {
    CleanBrokerDataRequest {
        broker_name: GROUP.to_string(),
        broker_ids: ids.map(self::ids),
        clean_living,
    }
}

/// Brokers 1..=n registered, no election yet.
fn registered(n: BrokerId) -> ControllerState {
    let mut state = ControllerState::new();
    for id in 1..=n {
        let req = apply_id(id, &format!("10.0.0.{id}:10911;{id}"));
        let proposal = state.apply_broker_id(&req);
        commit(&mut state, proposal);
    }
    state
}

/// Brokers 1..=3, 1 master (epoch 1), SyncStateSet {1,2,3} (epoch 2).
fn running() -> ControllerState {
    let mut state = registered(3);
    let proposal = state.elect_master(
        &elect(ElectTrigger::Broker(1)),
        &all_alive,
        ElectConfig::default(),
    );
    commit(&mut state, proposal);
    let proposal = state.alter_sync_state_set(&alter(1, 1, &[1, 2, 3], 1), &all_alive);
    commit(&mut state, proposal);
    state
}

fn code_of<R: std::fmt::Debug>(result: Result<R, ControllerError>) -> i32 {
    result.expect_err("refused").code()
}

#[test]
fn broker_ids_are_handed_out_from_one() {
    let mut state = ControllerState::new();
    assert_eq!(state.next_broker_id(GROUP), 1);
    // A new group accepts only the first id.
    assert_eq!(
        code_of(state.apply_broker_id(&apply_id(2, "a;1"))),
        code::CONTROLLER_BROKER_ID_INVALID
    );
    let proposal = state.apply_broker_id(&apply_id(1, "10.0.0.1:10911;5"));
    commit(&mut state, proposal);
    let group = state.group(GROUP).expect("created");
    assert_eq!(group.cluster_name(), CLUSTER);
    assert_eq!(group.address(1), Some("10.0.0.1:10911"));
    assert_eq!(
        (group.master(), group.master_epoch(), group.sync_state_set_epoch()),
        (None, 0, 0)
    );
    assert_eq!(state.next_broker_id(GROUP), 2);
}

#[test]
fn apply_broker_id_retry_with_same_check_code_is_accepted() {
    let mut state = registered(2);
    let retry = state.apply_broker_id(&apply_id(2, "10.0.0.2:10911;2"));
    let events = retry.expect("same broker retrying").events;
    for event in &events {
        state.apply(event);
    }
    // Applying it again changes nothing, not even the next id.
    assert_eq!(state.next_broker_id(GROUP), 3);
    let err = state
        .apply_broker_id(&apply_id(2, "10.0.0.9:10911;7"))
        .expect_err("taken");
    assert_eq!(err.code(), code::CONTROLLER_BROKER_ID_INVALID);
    assert_eq!(err.remark(), "Fail to apply brokerId: 2 in broker-set: g");
}

#[test]
fn next_id_never_falls_behind_an_id_applied_out_of_order() {
    // Deviation: Java adds one, so after 1 and 7 it would hand out 3..7 and then 7 forever.
    let mut state = registered(1);
    let proposal = state.apply_broker_id(&apply_id(7, "x;1"));
    commit(&mut state, proposal);
    assert_eq!(state.next_broker_id(GROUP), 8);
}

#[test]
fn a_cleaned_id_cannot_be_claimed_again() {
    // Deviation: Java accepts any unused id, so a new broker could take the id of a cleaned
    // master that the group still names, and be taken for that master.
    let mut state = running();
    let proposal = state.clean_broker_data(&clean(Some(&[1]), true), &all_alive);
    commit(&mut state, proposal);
    assert_eq!(state.group(GROUP).and_then(|g| g.master()), Some(1));
    let err = state
        .apply_broker_id(&apply_id(1, "10.0.0.7:10911;9"))
        .expect_err("cleaned id");
    assert_eq!(err.code(), code::CONTROLLER_BROKER_ID_INVALID);
    assert_eq!(state.next_broker_id(GROUP), 4);
}

#[test]
fn register_needs_a_known_group_and_id() {
    let state = registered(1);
    let req = |group: &str, id| RegisterBrokerRequest {
        cluster_name: CLUSTER.to_string(),
        broker_name: group.to_string(),
        broker_id: id,
        broker_address: "10.0.0.1:10911".to_string(),
    };
    let err = state
        .register_broker(&req("other", 1), &all_alive)
        .expect_err("unknown group");
    assert_eq!(err.code(), code::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED);
    let err = state
        .register_broker(&req(GROUP, 2), &all_alive)
        .expect_err("unknown id");
    assert_eq!(err.code(), code::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED);
    assert_eq!(
        err.remark(),
        "BrokerId: 2 hasn't been registered in broker-set: g"
    );
}

#[test]
fn register_reports_only_a_live_master_and_updates_a_changed_address() {
    let mut state = running();
    let req = RegisterBrokerRequest {
        cluster_name: CLUSTER.to_string(),
        broker_name: GROUP.to_string(),
        broker_id: 2,
        broker_address: "10.9.9.9:10911".to_string(),
    };
    let proposal = state.register_broker(&req, &all_alive).expect("registered");
    let master = proposal.reply.master.clone().expect("master alive");
    assert_eq!(
        (master.broker_id, master.master_epoch, master.sync_state_set_epoch),
        (1, 1, 2)
    );
    assert_eq!(master.address.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(proposal.reply.sync_state_set.members, ids(&[1, 2, 3]));
    assert_eq!(
        proposal.events,
        vec![Event::UpdateBrokerAddress {
            broker_name: GROUP.to_string(),
            broker_id: 2,
            broker_address: "10.9.9.9:10911".to_string()
        }]
    );
    commit(&mut state, Ok(proposal));
    let group = state.group(GROUP).expect("group");
    assert_eq!(group.address(2), Some("10.9.9.9:10911"));
    // The check code is kept: a retried APPLY_BROKER_ID from the old temp file still matches.
    assert_eq!(group.replicas()[&2].register_check_code, "10.0.0.2:10911;2");

    let master_dead = |_: &str, _: &str, id: BrokerId| id != 1;
    let proposal = state.register_broker(&req, &master_dead).expect("registered");
    assert_eq!(proposal.reply.master, None);
    assert!(proposal.events.is_empty(), "address unchanged now");
}

#[test]
fn alter_checks_run_in_java_order() {
    let state = running();
    let other = ControllerState::new();
    let alive = &all_alive;
    let code_for =
        |s: &ControllerState, req: AlterSyncStateSetRequest, live: &dyn rmq_controller::Liveness| {
            code_of(s.alter_sync_state_set(&req, live))
        };
    // 1. unknown group
    assert_eq!(
        code_for(&other, alter(1, 1, &[1], 2), alive),
        code::CONTROLLER_ALTER_SYNC_STATE_SET_FAILED
    );
    // 2. unchanged set, checked before the master and both epochs
    assert_eq!(
        code_for(&state, alter(9, 9, &[1, 2, 3], 9), alive),
        code::CONTROLLER_ALTER_SYNC_STATE_SET_FAILED
    );
    // 3. not the master
    assert_eq!(
        code_for(&state, alter(2, 1, &[1, 2], 2), alive),
        code::CONTROLLER_INVALID_MASTER
    );
    // 4. stale master epoch
    assert_eq!(
        code_for(&state, alter(1, 0, &[1, 2], 2), alive),
        code::CONTROLLER_FENCED_MASTER_EPOCH
    );
    // 5. stale sync-state-set epoch
    assert_eq!(
        code_for(&state, alter(1, 1, &[1, 2], 1), alive),
        code::CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH
    );
    // 6. unknown member, then dead member
    assert_eq!(
        code_for(&state, alter(1, 1, &[1, 4], 2), alive),
        code::CONTROLLER_INVALID_REPLICAS
    );
    let two_dead = |_: &str, _: &str, id: BrokerId| id != 2;
    assert_eq!(
        code_for(&state, alter(1, 1, &[1, 2], 2), &two_dead),
        code::CONTROLLER_BROKER_NOT_ALIVE
    );
    // 7. the set must keep the master
    assert_eq!(
        code_for(&state, alter(1, 1, &[2, 3], 2), alive),
        code::CONTROLLER_ALTER_SYNC_STATE_SET_FAILED
    );

    let err = state
        .alter_sync_state_set(&alter(1, 0, &[1, 2], 2), alive)
        .expect_err("fenced");
    assert_eq!(
        err.remark(),
        "Rejecting alter syncStateSet request because the current master epoch is:{1}, not {0}"
    );

    let proposal = state
        .alter_sync_state_set(&alter(1, 1, &[1, 2], 2), alive)
        .expect("valid");
    assert_eq!(proposal.reply.epoch, 3);
    assert_eq!(proposal.reply.members, ids(&[1, 2]));
}

#[test]
fn alter_without_a_master_is_invalid_master() {
    let state = registered(2);
    let err = state
        .alter_sync_state_set(&alter(1, 0, &[1], 0), &all_alive)
        .expect_err("no master");
    assert_eq!(err.code(), code::CONTROLLER_INVALID_MASTER);
    assert_eq!(
        err.remark(),
        "Rejecting alter syncStateSet request because the current leader is:{null}, not {1}"
    );
}

#[test]
fn elect_in_unknown_group_needs_registration() {
    let state = ControllerState::new();
    let err = state
        .elect_master(
            &elect(ElectTrigger::Broker(1)),
            &all_alive,
            ElectConfig::default(),
        )
        .expect_err("unknown group");
    assert_eq!(err.code(), code::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED);
}

#[test]
fn first_election_takes_the_asking_broker_even_if_dead() {
    let state = registered(3);
    let proposal = state
        .elect_master(
            &elect(ElectTrigger::Broker(3)),
            &none_alive,
            ElectConfig::default(),
        )
        .expect("first election");
    let Election::NewMaster {
        master,
        members,
        sync_state_set,
        ..
    } = &proposal.reply
    else {
        panic!("expected a new master");
    };
    assert_eq!(*master, 3);
    assert_eq!(*sync_state_set, ids(&[3]));
    assert_eq!(members.addresses.len(), 3);
    assert_eq!(members.cluster_name, CLUSTER);
}

#[test]
fn first_election_of_an_unregistered_id_is_refused() {
    // Deviation: Java would make id 9 master, with no address.
    let state = registered(2);
    let err = state
        .elect_master(&elect(ElectTrigger::Admin(9)), &all_alive, ElectConfig::default())
        .expect_err("9 is not registered");
    assert_eq!(err.code(), code::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED);
}

#[test]
fn controller_election_without_a_master_proposes_nothing() {
    // Deviation: Java would propose ElectMaster(None) and bump the epoch to 1, after which the
    // first-election rule no longer applies and the group can never elect from its empty set.
    let mut state = registered(2);
    let proposal = state
        .elect_master(
            &elect(ElectTrigger::Controller),
            &all_alive,
            ElectConfig::default(),
        )
        .expect("accepted");
    assert_eq!(proposal.reply, Election::NoMasterAvailable);
    assert!(proposal.events.is_empty());
    commit(&mut state, Ok(proposal));
    let proposal = state.elect_master(
        &elect(ElectTrigger::Broker(2)),
        &all_alive,
        ElectConfig::default(),
    );
    assert_eq!(commit(&mut state, proposal).code(), code::SUCCESS);
}

#[test]
fn broker_trigger_does_not_prefer_the_asking_broker() {
    let state = running();
    let master_dead = |_: &str, _: &str, id: BrokerId| id != 1;
    let proposal = state
        .elect_master(
            &elect(ElectTrigger::Broker(3)),
            &master_dead,
            ElectConfig::default(),
        )
        .expect("elected");
    let Election::NewMaster {
        master,
        master_epoch,
        sync_state_set_epoch,
        ..
    } = proposal.reply
    else {
        panic!("expected a new master");
    };
    // Without reports the lowest live id wins, not the asking broker.
    assert_eq!((master, master_epoch, sync_state_set_epoch), (2, 2, 3));
}

#[test]
fn clean_some_ids_removes_them_from_replicas_and_set_but_keeps_the_master_id() {
    let mut state = running();
    let proposal = state.clean_broker_data(&clean(Some(&[1, 3]), true), &all_alive);
    commit(&mut state, proposal);
    let group = state.group(GROUP).expect("group kept");
    assert_eq!(
        group.replicas().keys().copied().collect::<BTreeSet<_>>(),
        ids(&[2])
    );
    assert_eq!(*group.sync_state_set(), ids(&[2]));
    assert_eq!(group.master(), Some(1), "Java keeps the cleaned master id");
    assert_eq!(group.master_address(), None);
    // The sync-state-set epoch does not move on clean-up.
    assert_eq!(group.sync_state_set_epoch(), 2);
    // Master 1 sends no heartbeat, 2 does: the scan asks for an election, which elects 2.
    let only_2 = |_: &str, _: &str, id: BrokerId| id == 2;
    assert_eq!(state.groups_needing_reelection(&only_2), vec![GROUP.to_string()]);
    let proposal = state.elect_master(&elect(ElectTrigger::Controller), &only_2, ElectConfig::default());
    assert_eq!(commit(&mut state, proposal).code(), code::SUCCESS);
    assert_eq!(state.group(GROUP).map(|g| g.master()), Some(Some(2)));
}

#[test]
fn clean_living_honours_the_id_list() {
    // Deviation: Java drops the list when isCleanLivingBroker is set and removes the group.
    let mut state = running();
    let proposal = state.clean_broker_data(&clean(Some(&[3]), true), &all_alive);
    commit(&mut state, proposal);
    assert!(state.group(GROUP).is_some());
    assert!(!state.group(GROUP).is_some_and(|g| g.is_registered(3)));
}

#[test]
fn cleaning_the_last_in_sync_member_keeps_the_group() {
    // Deviation: Java removes the group's sync half once its set is empty, after which the
    // remaining brokers can neither register nor be cleaned, and a new APPLY_BROKER_ID resets
    // the epochs to 0.
    let mut state = running();
    let proposal = state.alter_sync_state_set(&alter(1, 1, &[1], 2), &all_alive);
    commit(&mut state, proposal);
    let only_2_3 = |_: &str, _: &str, id: BrokerId| id != 1;
    let proposal = state.elect_master(
        &elect(ElectTrigger::Controller),
        &only_2_3,
        ElectConfig::default(),
    );
    commit(&mut state, proposal);
    let proposal = state.clean_broker_data(&clean(Some(&[1]), false), &only_2_3);
    commit(&mut state, proposal);

    let group = state.group(GROUP).expect("group kept");
    assert!(group.sync_state_set().is_empty());
    assert_eq!((group.master(), group.master_epoch()), (None, 2));
    let req = RegisterBrokerRequest {
        cluster_name: CLUSTER.to_string(),
        broker_name: GROUP.to_string(),
        broker_id: 2,
        broker_address: "10.0.0.2:10911".to_string(),
    };
    assert!(state.register_broker(&req, &only_2_3).is_ok());
    // Only an unclean election can give this group a master again.
    let unclean = ElectConfig {
        enable_elect_unclean_master: true,
    };
    let proposal = state.elect_master(&elect(ElectTrigger::Broker(2)), &only_2_3, unclean);
    assert_eq!(commit(&mut state, proposal).code(), code::SUCCESS);
}

#[test]
fn clean_without_ids_removes_the_whole_group() {
    let mut state = registered(2);
    let proposal = state.clean_broker_data(&clean(None, false), &all_alive);
    commit(&mut state, proposal);
    assert!(state.group(GROUP).is_none());
    assert_eq!(state.next_broker_id(GROUP), 1);
    assert_eq!(
        state.replica_info(GROUP).expect_err("gone").code(),
        code::CONTROLLER_BROKER_METADATA_NOT_EXIST
    );
}

#[test]
fn events_about_vanished_groups_change_nothing() {
    let mut state = registered(1);
    let before = state.clone();
    for event in [
        Event::AlterSyncStateSet {
            broker_name: "x".into(),
            new_sync_state_set: ids(&[1]),
        },
        Event::ElectMaster {
            broker_name: "x".into(),
            new_master: Some(1),
        },
        Event::CleanBrokerData {
            broker_name: "x".into(),
            broker_ids: Some(ids(&[1])),
        },
        Event::UpdateBrokerAddress {
            broker_name: "x".into(),
            broker_id: 1,
            broker_address: "a".into(),
        },
        Event::UpdateBrokerAddress {
            broker_name: GROUP.into(),
            broker_id: 5,
            broker_address: "a".into(),
        },
    ] {
        state.apply(&event);
    }
    assert_eq!(state, before);
}

#[test]
fn events_serialize_with_a_type_tag() {
    let event = Event::ElectMaster {
        broker_name: "g".into(),
        new_master: None,
    };
    let json = serde_json::to_string(&event).expect("serialize");
    assert_eq!(
        json,
        r#"{"type":"ElectMaster","broker_name":"g","new_master":null}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&json).expect("deserialize"), event);
    assert_eq!(event.java_type_id(), 3);
}

#[test]
fn sync_state_data_splits_members_and_skips_unknown_names() {
    let mut state = running();
    let proposal = state.alter_sync_state_set(&alter(1, 1, &[1, 3], 2), &all_alive);
    commit(&mut state, proposal);
    let two_dead = |_: &str, _: &str, id: BrokerId| id != 2;
    let data = state.sync_state_data(&[GROUP, "unknown"], &two_dead);
    assert_eq!(data.len(), 1);
    let g = &data[GROUP];
    let in_sync: Vec<_> = g.in_sync.iter().map(|r| (r.broker_id, r.alive)).collect();
    let not_in_sync: Vec<_> = g.not_in_sync.iter().map(|r| (r.broker_id, r.alive)).collect();
    assert_eq!(in_sync, vec![(1, true), (3, true)]);
    assert_eq!(not_in_sync, vec![(2, false)]);
    assert_eq!((g.master_epoch, g.sync_state_set_epoch), (1, 3));
}
