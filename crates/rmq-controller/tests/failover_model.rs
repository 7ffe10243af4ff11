//! A deterministic model of one failover, no sockets, no clock (issue #16, must-show 4): the
//! controller state machine elects, each replica keeps a commitlog length and its epoch file
//! (`rmq_store::ha::epoch`), and an old master that comes back with a tail its group never
//! confirmed truncates exactly that tail — never an acknowledged byte.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use rmq_controller::{
    AlterSyncStateSetRequest, ApplyBrokerIdRequest, BrokerId, BrokerReport, ControllerState, ElectConfig,
    ElectRequest, ElectTrigger, Election, Event, LiveBrokers, Proposal, RegisterBrokerRequest,
};
use rmq_store::ha::epoch::EpochCache;

const CLUSTER: &str = "c";
const GROUP: &str = "broker-a";

/// One replica: how much commitlog it has and which epoch wrote which range.
#[derive(Debug, Clone)]
struct Replica {
    id: BrokerId,
    max_offset: i64,
    epochs: EpochCache,
    alive: bool,
}

struct Model {
    controller: ControllerState,
    replicas: Vec<Replica>,
    unclean: bool,
}

impl Model {
    fn new(n: u64) -> Model {
        let mut m = Model {
            controller: ControllerState::new(),
            replicas: (1..=n)
                .map(|id| Replica {
                    id,
                    max_offset: 0,
                    epochs: EpochCache::default(),
                    alive: true,
                })
                .collect(),
            unclean: false,
        };
        for id in 1..=n {
            let apply = ApplyBrokerIdRequest {
                cluster_name: CLUSTER.into(),
                broker_name: GROUP.into(),
                broker_id: id,
                register_check_code: format!("10.0.0.{id}:10911;1"),
            };
            let p = m.controller.apply_broker_id(&apply);
            m.commit(p.map(|p| Proposal {
                reply: (),
                events: p.events,
            }));
            let live = m.live();
            let register = RegisterBrokerRequest {
                cluster_name: CLUSTER.into(),
                broker_name: GROUP.into(),
                broker_id: id,
                broker_address: format!("10.0.0.{id}:10911"),
            };
            let p = m.controller.register_broker(&register, &live);
            m.commit(p.map(|p| Proposal {
                reply: (),
                events: p.events,
            }));
        }
        m
    }

    fn commit(&mut self, p: Result<Proposal<()>, rmq_controller::ControllerError>) {
        let p = p.expect("proposal accepted");
        for e in &p.events {
            self.controller.apply(e);
        }
    }

    fn replica(&mut self, id: BrokerId) -> &mut Replica {
        self.replicas.iter_mut().find(|r| r.id == id).expect("replica")
    }

    /// The heartbeat table: the live replicas and their last epoch and max offset.
    fn live(&self) -> LiveBrokers {
        let mut live = LiveBrokers::new();
        for r in self.replicas.iter().filter(|r| r.alive) {
            live.insert(
                CLUSTER,
                GROUP,
                r.id,
                BrokerReport {
                    epoch: r.epochs.last_epoch(),
                    max_offset: r.max_offset,
                    election_priority: i32::MAX,
                },
            );
        }
        live
    }

    /// An election; a new master starts its epoch at its own max offset (Java's changeToMaster).
    fn elect(&mut self, trigger: ElectTrigger) -> Election {
        let live = self.live();
        let req = ElectRequest {
            broker_name: GROUP.into(),
            trigger,
        };
        let config = ElectConfig {
            enable_elect_unclean_master: self.unclean,
        };
        let p = self
            .controller
            .elect_master(&req, &live, config)
            .expect("election runs");
        let events: Vec<Event> = p.events.clone();
        for e in &events {
            self.controller.apply(e);
        }
        if let Election::NewMaster {
            master, master_epoch, ..
        } = &p.reply
        {
            let r = self.replica(*master);
            let start = r.max_offset;
            assert!(r.epochs.append(*master_epoch, start).unwrap(), "epochs go up");
        }
        p.reply
    }

    fn master(&self) -> Option<BrokerId> {
        self.controller.group(GROUP).and_then(|g| g.master())
    }

    fn grow_sync_state_set(&mut self, members: &[BrokerId]) {
        let g = self.controller.group(GROUP).expect("group");
        let req = AlterSyncStateSetRequest {
            broker_name: GROUP.into(),
            master_id: g.master().expect("master"),
            master_epoch: g.master_epoch(),
            new_sync_state_set: members.iter().copied().collect(),
            sync_state_set_epoch: g.sync_state_set_epoch(),
        };
        let live = self.live();
        let p = self.controller.alter_sync_state_set(&req, &live);
        self.commit(p.map(|p| Proposal {
            reply: (),
            events: p.events,
        }));
    }

    /// The master appends `bytes`; `to` copy them (and the master's epoch list, as a slave does).
    fn write(&mut self, bytes: i64, to: &[BrokerId]) {
        let master = self.master().expect("master");
        let m = self.replica(master);
        m.max_offset += bytes;
        let (end, epochs) = (m.max_offset, m.epochs.entries());
        for &id in to {
            let r = self.replica(id);
            r.max_offset = end;
            r.epochs = EpochCache::from_entries(epochs.iter().map(|e| (e.epoch, e.start_offset)));
        }
    }

    /// A replica rejoins under `master`: both lists end at their max offsets, the consistent
    /// point is found from the joiner's side, the joiner truncates to it and copies the rest.
    /// Returns the offset it truncated to.
    fn rejoin(&mut self, id: BrokerId) -> i64 {
        let master = self.master().expect("master");
        let mut master_epochs = self.replica(master).epochs.clone();
        let master_max = self.replica(master).max_offset;
        master_epochs.set_last_end_offset(master_max);
        let r = self.replica(id);
        r.alive = true;
        r.epochs.set_last_end_offset(r.max_offset);
        let point = r.epochs.find_consistent_point(&master_epochs);
        assert!(point >= 0, "a replica of the group always shares the first epoch");
        r.max_offset = point;
        r.epochs.truncate_suffix_by_offset(point).unwrap();
        r.max_offset = master_max;
        r.epochs =
            EpochCache::from_entries(master_epochs.entries().iter().map(|e| (e.epoch, e.start_offset)));
        point
    }
}

#[test]
fn returning_master_truncates_its_unconfirmed_tail() {
    let mut m = Model::new(3);
    // Broker 1 asks first and becomes master (epoch 1); the set grows to all three.
    assert!(matches!(
        m.elect(ElectTrigger::Broker(1)),
        Election::NewMaster {
            master: 1,
            master_epoch: 1,
            ..
        }
    ));
    m.grow_sync_state_set(&[1, 2, 3]);
    // 1000 bytes reach every replica: acknowledged (allAckInSyncStateSet).
    m.write(1000, &[2, 3]);
    let acknowledged = 1000;
    // 500 more reach only the master: never acknowledged.
    m.write(500, &[]);
    // The master dies; the controller elects from the set. 2 and 3 tie on epoch and offset: the
    // lower id wins.
    m.replica(1).alive = false;
    assert!(matches!(
        m.elect(ElectTrigger::Controller),
        Election::NewMaster {
            master: 2,
            master_epoch: 2,
            ..
        }
    ));
    assert_eq!(m.replica(2).epochs.entry(2).map(|e| e.start_offset), Some(1000));
    // The new master writes 300 bytes that 3 copies.
    m.write(300, &[3]);
    // The old master comes back with 1500 bytes: it keeps the first 1000, drops its own 500.
    assert_eq!(m.replica(1).max_offset, 1500);
    let point = m.rejoin(1);
    assert_eq!(point, 1000);
    assert!(point >= acknowledged, "an acknowledged byte was truncated");
    assert_eq!(m.replica(1).epochs.last_epoch(), 2);
    let master_max = m.replica(2).max_offset;
    assert_eq!(m.replica(1).max_offset, master_max);
    // Asking for an election now changes nothing: the master still exists.
    assert!(matches!(
        m.elect(ElectTrigger::Broker(1)),
        Election::MasterStillExists { master: 2, .. }
    ));
}

#[test]
fn unclean_election_only_when_enabled() {
    let mut m = Model::new(3);
    m.elect(ElectTrigger::Broker(1));
    m.grow_sync_state_set(&[1, 2]);
    m.write(800, &[2]);
    // 3 lags (not in the set) with 0 bytes; 1 and 2 die.
    m.replica(1).alive = false;
    m.replica(2).alive = false;
    // Clean only: nobody may be master; the master epoch still moves on (Java's behaviour).
    assert_eq!(m.elect(ElectTrigger::Controller), Election::NoMasterAvailable);
    assert_eq!(m.master(), None);
    assert_eq!(m.controller.group(GROUP).unwrap().master_epoch(), 2);
    // With enableElectUncleanMaster the lagging replica takes over: availability over data.
    m.unclean = true;
    assert!(matches!(
        m.elect(ElectTrigger::Controller),
        Election::NewMaster {
            master: 3,
            master_epoch: 3,
            ..
        }
    ));
    m.write(100, &[]);
    // 2 returns: 3's list is (3, 0) only, 2's is (1, 0): no epoch in common, so the consistent
    // point is -1, and 2 must drop everything it has (its 800 bytes were lost by the unclean
    // election, which is what enabling it accepts).
    let mut master_epochs = m.replica(3).epochs.clone();
    master_epochs.set_last_end_offset(100);
    let mut two = m.replica(2).epochs.clone();
    two.set_last_end_offset(800);
    assert_eq!(two.find_consistent_point(&master_epochs), -1);
}
