//! `rmq controller` as a process and the `rmq admin` controller verbs in mqadmin's format: two
//! fake brokers (raw remoting) register and heartbeat, then getControllerMetaData,
//! getSyncStateSet, electMaster (and its 2011 refusal), cleanBrokerMetadata (refused for a live
//! broker without -l), getControllerConfig and updateControllerConfig (persisted in the -c file).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::Duration;

use common::*;
use rmq_protocol::body::{self, SyncStateSetBody};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const T: Duration = Duration::from_secs(5);
const CLUSTER: &str = "DefaultCluster";
const GROUP: &str = "broker-a";

async fn call(c: &RemotingClient, ctl: &str, cmd: RemotingCommand) -> RemotingCommand {
    let r = c.invoke(ctl, cmd, T).await.unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    r
}

/// A broker as the controller sees it: its id applied, registered, beating (60 s timeout).
async fn fake_broker(c: &RemotingClient, ctl: &str, id: i64, addr: &str) {
    let apply = ApplyBrokerIdRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_name: Some(GROUP.into()),
        applied_broker_id: Some(id),
        register_check_code: Some(format!("{addr};{id}")),
    };
    call(
        c,
        ctl,
        RemotingCommand::request(rc::CONTROLLER_APPLY_BROKER_ID).with_header(&apply),
    )
    .await;
    let register = RegisterBrokerToControllerRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_name: Some(GROUP.into()),
        broker_id: Some(id),
        broker_address: Some(addr.into()),
        invoke_time: Some(0),
    };
    call(
        c,
        ctl,
        RemotingCommand::request(rc::CONTROLLER_REGISTER_BROKER).with_header(&register),
    )
    .await;
    let beat = BrokerHeartbeatRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_addr: Some(addr.into()),
        broker_name: Some(GROUP.into()),
        broker_id: Some(id),
        epoch: Some(0),
        max_offset: Some(0),
        confirm_offset: Some(0),
        heartbeat_timeout_mills: Some(60_000),
        election_priority: None,
    };
    c.invoke_oneway(
        ctl,
        RemotingCommand::request(rc::BROKER_HEARTBEAT).with_header(&beat),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_verbs() {
    let dir = temp_dir();
    let conf = dir.path().join("controller.conf");
    std::fs::write(
        &conf,
        format!(
            "controllerDLegerGroup=g1\ncontrollerDLegerPeers=n0-127.0.0.1:0\ncontrollerDLegerSelfId=n0\ncontrollerStorePath={}\n",
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let proc = Proc::spawn(
        &["controller", "-c", conf.to_str().unwrap()],
        dir.path(),
        "boot success",
    );
    let port = proc.boot_line.rsplit("port ").next().unwrap().trim().to_string();
    let ctl = format!("127.0.0.1:{port}");

    let (b1, b2) = ("127.0.0.1:20911", "127.0.0.1:20921");
    let c1 = RemotingClient::new();
    let c2 = RemotingClient::new();
    fake_broker(&c1, &ctl, 1, b1).await;
    fake_broker(&c2, &ctl, 2, b2).await;
    // Both alive (heartbeats are oneway): then broker 1 is elected and grows the set to {1,2}.
    let deadline = std::time::Instant::now() + T;
    loop {
        let out = ok(&["admin", "getSyncStateSet", "-a", &ctl, "-b", GROUP]);
        if out.matches("alive=true").count() == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "brokers not alive: {out}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elect = ElectMasterRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_name: Some(GROUP.into()),
        broker_id: Some(1),
        designate_elect: Some(false),
        invoke_time: Some(0),
    };
    let r = call(
        &c1,
        &ctl,
        RemotingCommand::request(rc::CONTROLLER_ELECT_MASTER).with_header(&elect),
    )
    .await;
    let h: ElectMasterResponseHeader = r.header().unwrap();
    let alter = AlterSyncStateSetRequestHeader {
        broker_name: Some(GROUP.into()),
        master_broker_id: Some(1),
        master_epoch: h.master_epoch,
        invoke_time: Some(0),
    };
    let set = SyncStateSetBody {
        sync_state_set: [1, 2].into(),
        sync_state_set_epoch: h.sync_state_set_epoch.unwrap(),
    };
    call(
        &c1,
        &ctl,
        RemotingCommand::request(rc::CONTROLLER_ALTER_SYNC_STATE_SET)
            .with_header(&alter)
            .with_body(body::to_json(&set)),
    )
    .await;

    let out = ok(&["admin", "getControllerMetaData", "-a", &ctl]);
    assert!(out.contains("#ControllerGroup\tg1"), "{out}");
    assert!(out.contains(&format!("#ControllerLeaderAddress\t{ctl}")), "{out}");
    assert!(out.contains(&format!("#Peer:\tn0:{ctl}")), "{out}");

    let out = ok(&["admin", "getSyncStateSet", "-a", &ctl, "-b", GROUP]);
    for line in [
        "#brokerName\tbroker-a",
        "#MasterBrokerId\t1",
        &format!("#MasterAddr\t{b1}"),
        "#MasterEpoch\t1",
        "#SyncStateSetNums\t2",
        &format!("InSyncReplica:\tReplicaIdentity{{brokerName='broker-a', brokerId=2, brokerAddress='{b2}', alive=true}}"),
    ] {
        assert!(out.contains(line), "missing {line:?} in {out}");
    }

    // The admin moves mastership to broker 2 (mqadmin's -bn spelling); asking again is 2011.
    let out = ok(&[
        "admin",
        "electMaster",
        "-a",
        &ctl,
        "-b",
        "2",
        "-bn",
        GROUP,
        "-c",
        CLUSTER,
    ]);
    assert!(out.contains(&format!("#BrokerMasterAddr\t{b2}")), "{out}");
    assert!(out.contains("#MasterEpoch\t2"), "{out}");
    assert!(out.contains(&format!("#Broker\t1\t{b1}")), "{out}");
    let again = rmq(&[
        "admin",
        "electMaster",
        "-a",
        &ctl,
        "-b",
        "2",
        "-bn",
        GROUP,
        "-c",
        CLUSTER,
    ]);
    assert!(!again.status.success());
    assert!(text(&again).contains("2011"), "{}", text(&again));

    // Cleaning a live broker needs -l.
    let refused = rmq(&[
        "admin",
        "cleanBrokerMetadata",
        "-a",
        &ctl,
        "-bn",
        GROUP,
        "-b",
        "1",
    ]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("2009"), "{}", text(&refused));
    let out = ok(&[
        "admin",
        "cleanBrokerMetadata",
        "-a",
        &ctl,
        "-bn",
        GROUP,
        "-b",
        "1",
        "-l",
    ]);
    assert!(
        out.contains("clear broker broker-a metadata from controller success!"),
        "{out}"
    );
    let out = ok(&["admin", "getSyncStateSet", "-a", &ctl, "-b", GROUP]);
    assert!(!out.contains("brokerId=1,"), "{out}");

    // Config: shown in mqadmin's layout; an update is shown and persisted in the -c file.
    let out = ok(&[
        "admin",
        "updateControllerConfig",
        "-a",
        &ctl,
        "-k",
        "notifyBrokerRoleChanged",
        "-v",
        "false",
    ]);
    assert!(out.contains("update controller config success!"), "{out}");
    let out = ok(&["admin", "getControllerConfig", "-a", &ctl]);
    assert!(out.contains(&format!("============{ctl}============")), "{out}");
    assert!(
        out.contains(&format!("{:<50}=  false", "notifyBrokerRoleChanged")),
        "{out}"
    );
    let persisted = std::fs::read_to_string(&conf).unwrap();
    assert!(persisted.contains("notifyBrokerRoleChanged=false"), "{persisted}");
    let refused = rmq(&[
        "admin",
        "updateControllerConfig",
        "-a",
        &ctl,
        "-k",
        "configStorePath",
        "-v",
        "/x",
    ]);
    assert!(!refused.status.success());
    drop(proc);
}

/// `enableControllerInNamesrv=true`: `rmq namesrv -c` runs the controller too, on its peer port.
#[test]
fn controller_embedded_in_the_name_server() {
    let dir = temp_dir();
    let conf = dir.path().join("namesrv.properties");
    std::fs::write(
        &conf,
        format!(
            "enableControllerInNamesrv=true\ncontrollerDLegerGroup=embedded\ncontrollerDLegerPeers=n0-127.0.0.1:0\ncontrollerDLegerSelfId=n0\ncontrollerStorePath={}\nkvConfigPath={}\n",
            dir.path().join("ctl").display(),
            dir.path().join("kv.json").display()
        ),
    )
    .unwrap();
    let proc = Proc::spawn(
        &["namesrv", "--listen-port", "0", "-c", conf.to_str().unwrap()],
        dir.path(),
        "The controller[",
    );
    let port = proc.boot_line.rsplit("port ").next().unwrap().trim().to_string();
    let out = ok(&[
        "admin",
        "getControllerMetaData",
        "-a",
        &format!("127.0.0.1:{port}"),
    ]);
    assert!(out.contains("#ControllerGroup\tembedded"), "{out}");
    drop(proc);
}
