//! Controller mode over real sockets: one `rmq controller` (in process) and three brokers of one
//! group with `allAckInSyncStateSet=true`. The controller picks a master, the slaves replicate
//! through the AutoSwitch HA protocol and join the SyncStateSet; acknowledged sends are on every
//! replica; the master is killed (no flush, no unregister) and a slave takes over without a
//! restart and acknowledges sends; the old master comes back from its own directory as a slave
//! of the new one and catches up.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::wait::wait_until;
use common::{addr, config, send_request, TIMEOUT};
use rmq_broker::Broker;
use rmq_controller::node::{Controller, ControllerConfig};
use rmq_protocol::codes::response_code as code;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "FailoverTopic";
/// Long enough for a debug build on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);

async fn start_controller(dir: &std::path::Path) -> Controller {
    let mut config = ControllerConfig::default();
    config
        .apply(
            &[
                ("controllerDLegerPeers", "n0-127.0.0.1:0"),
                ("controllerDLegerSelfId", "n0"),
                ("controllerStorePath", dir.to_str().unwrap()),
                ("scanNotActiveBrokerInterval", "200"),
                ("scanInactiveMasterInterval", "500"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap();
    Controller::start(config, None).await.unwrap()
}

async fn start_broker(dir: &std::path::Path, controller: &str) -> Broker {
    let mut c = config(dir);
    c.broker_name = "broker-a".into();
    let props: HashMap<String, String> = [
        ("enableControllerMode", "true"),
        ("controllerAddr", controller),
        ("allAckInSyncStateSet", "true"),
        ("syncBrokerMetadataPeriod", "500"),
        ("checkSyncStateSetPeriod", "500"),
        ("brokerHeartbeatInterval", "300"),
        ("controllerHeartBeatTimeoutMills", "3000"),
        ("haSendHeartbeatInterval", "500"),
        ("haMaxTimeSlaveNotCatchup", "5000"),
        ("enableGrpcServer", "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let unknown = c.apply(&props);
    assert!(unknown.is_empty(), "keys not taken: {unknown:?}");
    Broker::start(c).await.unwrap()
}

fn running(b: &Broker) -> bool {
    b.state().replicas.is_running()
}

fn masters(brokers: &[Option<Broker>]) -> Vec<usize> {
    (0..brokers.len())
        .filter(|i| {
            brokers[*i]
                .as_ref()
                .is_some_and(|b| running(b) && b.state().is_master())
        })
        .collect()
}

async fn send_ok(client: &RemotingClient, broker: &Broker, n: usize, tag: &str) {
    for i in 0..n {
        let resp = client
            .invoke(
                &addr(broker),
                send_request(TOPIC, &format!("{tag}-{i}"), format!("{tag} {i}").as_bytes()),
                TIMEOUT,
            )
            .await
            .unwrap();
        assert_eq!(resp.code, code::SUCCESS, "send {tag}-{i}: {:?}", resp.remark);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_takes_over_from_a_killed_master_and_the_old_master_rejoins_as_slave() {
    // RUST_LOG=info tells the story of a failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(&dir.path().join("controller")).await;
    let ctl = controller.address().to_string();
    let mut brokers = Vec::new();
    for i in 0..3 {
        brokers.push(Some(start_broker(&dir.path().join(format!("b{i}")), &ctl).await));
    }

    // One master, two slaves, all three in the SyncStateSet.
    wait_until("one master, all registered", WAIT, || {
        masters(&brokers).len() == 1 && brokers.iter().flatten().all(running)
    })
    .await;
    let m = masters(&brokers)[0];
    let master = brokers[m].as_ref().unwrap();
    assert_eq!(master.state().broker_id(), 0, "a master is broker 0 in routes");
    for (i, b) in brokers.iter().flatten().enumerate() {
        if i != m {
            assert!(!b.state().is_master());
            assert!(
                b.state().broker_id() > 0,
                "a slave has its controller id in routes"
            );
        }
    }
    wait_until("all three in the SyncStateSet", WAIT, || {
        master
            .state()
            .store
            .ha()
            .replicas
            .confirmed_sync_state_set()
            .len()
            == 3
    })
    .await;

    // Acknowledged sends are on every replica (allAckInSyncStateSet).
    let client = RemotingClient::new();
    send_ok(&client, master, 20, "before").await;
    let max = master.state().store.max_phy_offset();
    for b in brokers.iter().flatten() {
        assert_eq!(
            b.state().store.max_phy_offset(),
            max,
            "an acknowledged send is on every replica"
        );
    }
    let epoch = master.state().replicas.master_epoch();

    // Kill the master: a slave takes over and acknowledges sends.
    let old_dir = dir.path().join(format!("b{m}"));
    brokers[m].take().unwrap().crash().await;
    let killed = Instant::now();
    wait_until("a new master", WAIT, || masters(&brokers).len() == 1).await;
    let n = masters(&brokers)[0];
    let new_master = brokers[n].as_ref().unwrap();
    assert!(
        new_master.state().replicas.master_epoch() > epoch,
        "a new master epoch"
    );
    send_ok(&client, new_master, 10, "after").await;
    eprintln!(
        "kill -> first acknowledged send on the new master: {:?}",
        killed.elapsed()
    );
    assert!(
        new_master.state().store.max_phy_offset() > max,
        "the new master continues the log"
    );

    // The old master comes back as a slave of the new one and catches up.
    let returning = start_broker(&old_dir, &ctl).await;
    wait_until("the old master back as a slave", WAIT, || {
        running(&returning) && !returning.state().is_master()
    })
    .await;
    let target = new_master.state().store.max_phy_offset();
    wait_until("the returning slave caught up", WAIT, || {
        returning.state().store.max_phy_offset() == target
    })
    .await;
    let epochs = returning.state().store.ha().replicas.epochs();
    assert_eq!(
        epochs.last_epoch(),
        new_master.state().replicas.master_epoch(),
        "the returning broker recorded the new master's epoch"
    );
    // GET_BROKER_EPOCH_CACHE (mqadmin getBrokerEpoch) tells the same history on both.
    for b in [new_master, &returning] {
        let resp = client
            .invoke(
                &addr(b),
                rmq_protocol::RemotingCommand::request(
                    rmq_protocol::codes::request_code::GET_BROKER_EPOCH_CACHE,
                ),
                TIMEOUT,
            )
            .await
            .unwrap();
        assert_eq!(resp.code, code::SUCCESS);
        let cache: rmq_protocol::body::EpochEntryCache =
            rmq_protocol::body::from_fastjson(&resp.body).unwrap();
        assert_eq!(cache.broker_name, "broker-a");
        assert_eq!(cache.broker_id, b.state().broker_id());
        let epochs: Vec<i32> = cache.epoch_list.iter().map(|e| e.epoch).collect();
        assert_eq!(epochs, vec![epoch, new_master.state().replicas.master_epoch()]);
        assert_eq!(
            cache.epoch_list[1].start_offset, max,
            "the new epoch starts where the old master stopped"
        );
    }
    send_ok(&client, new_master, 5, "rejoined").await;
    let target = new_master.state().store.max_phy_offset();
    wait_until("the returning slave caught up", WAIT, || {
        returning.state().store.max_phy_offset() == target
    })
    .await;

    for b in brokers.into_iter().flatten() {
        b.shutdown().await.unwrap();
    }
    returning.shutdown().await.unwrap();
    controller.shutdown().await;
}

/// Fencing: a master that stops hearing from the controller stops acknowledging once its lease
/// ends, and its lease is shorter than the heartbeat timeout after which the controller may
/// elect another master (so two masters never acknowledge at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_cut_off_from_the_controller_stops_acknowledging() {
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(&dir.path().join("controller")).await;
    let ctl = controller.address().to_string();
    let broker = start_broker(&dir.path().join("b0"), &ctl).await;
    wait_until("the broker is master", WAIT, || {
        running(&broker) && broker.state().is_master()
    })
    .await;
    let settings = &broker.state().config.controller;
    assert!(
        settings.lease_ms() < settings.controller_heart_beat_timeout_ms as i64,
        "the lease ends before the controller may elect another master"
    );
    let client = RemotingClient::new();
    send_ok(&client, &broker, 3, "leased").await;

    controller.shutdown().await;
    let mut refused = None;
    let deadline = Instant::now() + WAIT;
    while refused.is_none() {
        assert!(
            Instant::now() < deadline,
            "the master kept acknowledging without the controller"
        );
        let resp = client
            .invoke(
                &addr(&broker),
                send_request(TOPIC, "cut-off", b"cut off"),
                TIMEOUT,
            )
            .await
            .unwrap();
        if resp.code == code::SERVICE_NOT_AVAILABLE {
            refused = Some(resp);
        } else {
            assert_eq!(resp.code, code::SUCCESS);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(!broker.state().store.ha().replicas.lease_valid());
    broker.shutdown().await.unwrap();
}
