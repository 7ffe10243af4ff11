//! The controller over real sockets: fake brokers (a remoting client each, and a server to
//! receive NOTIFY_BROKER_ROLE_CHANGED) walk id allocation, registration, heartbeats, the first
//! election, SyncStateSet changes and their fencing, failover on a closed connection and on an
//! expired heartbeat, a restart that replays the log, and the config verbs.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rmq_controller::node::{Controller, ControllerConfig};
use rmq_protocol::body::{self, BrokerReplicasInfo, ElectMasterResponseBody, SyncStateSetBody};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RemotingClient, RequestHandler, Server, ServerHandle};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);
const CLUSTER: &str = "DefaultCluster";
const GROUP: &str = "broker-a";

/// Records the NOTIFY_BROKER_ROLE_CHANGED requests a fake broker receives.
struct Notified(mpsc::UnboundedSender<RemotingCommand>);

impl RequestHandler for Notified {
    fn handle(
        self: Arc<Self>,
        _c: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let _ = self.0.send(req);
        Box::pin(async { None })
    }
}

struct FakeBroker {
    id: u64,
    addr: String,
    client: RemotingClient,
    notified: mpsc::UnboundedReceiver<RemotingCommand>,
    _server: ServerHandle,
}

impl FakeBroker {
    async fn start(id: u64) -> FakeBroker {
        let (tx, notified) = mpsc::unbounded_channel();
        let server = Server::bind("127.0.0.1:0", Arc::new(Notified(tx))).await.unwrap();
        FakeBroker {
            id,
            addr: server.local_addr().to_string(),
            client: RemotingClient::new(),
            notified,
            _server: server,
        }
    }

    async fn heartbeat(&self, ctl: &str, timeout_ms: i64) {
        beat(
            &self.client,
            ctl,
            self.id,
            &self.addr,
            0,
            100 * self.id as i64,
            timeout_ms,
        )
        .await;
    }

    /// The next notify, waited for.
    async fn next_notify(&mut self) -> RemotingCommand {
        tokio::time::timeout(T, self.notified.recv())
            .await
            .expect("a NOTIFY_BROKER_ROLE_CHANGED")
            .unwrap()
    }
}

/// One BROKER_HEARTBEAT (oneway).
async fn beat(
    c: &RemotingClient,
    ctl: &str,
    id: u64,
    addr: &str,
    epoch: i32,
    max_offset: i64,
    timeout_ms: i64,
) {
    let h = BrokerHeartbeatRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_addr: Some(addr.to_string()),
        broker_name: Some(GROUP.into()),
        broker_id: Some(id as i64),
        epoch: Some(epoch),
        max_offset: Some(max_offset),
        confirm_offset: Some(0),
        heartbeat_timeout_mills: Some(timeout_ms),
        election_priority: None,
    };
    c.invoke_oneway(ctl, req(rc::BROKER_HEARTBEAT, &h)).await.unwrap();
}

/// Heartbeats of `(id, addr, max_offset)` every 100 ms on their own connections until dropped.
fn keep_beating(ctl: String, brokers: Vec<(u64, String, i64)>, epoch: i32, timeout_ms: i64) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let clients: Vec<RemotingClient> = brokers.iter().map(|_| RemotingClient::new()).collect();
        loop {
            for (c, (id, addr, max)) in clients.iter().zip(&brokers) {
                beat(c, &ctl, *id, addr, epoch, *max, timeout_ms).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn call(client: &RemotingClient, ctl: &str, cmd: RemotingCommand) -> RemotingCommand {
    client.invoke(ctl, cmd, T).await.unwrap()
}

fn req<H: CommandHeader>(code: i32, h: &H) -> RemotingCommand {
    RemotingCommand::request(code).with_header(h)
}

async fn start(dir: &std::path::Path) -> Controller {
    let mut config = ControllerConfig::default();
    config
        .apply(
            &[
                ("controllerDLegerPeers", "n0-127.0.0.1:0"),
                ("controllerDLegerSelfId", "n0"),
                ("controllerStorePath", dir.to_str().unwrap()),
                ("scanNotActiveBrokerInterval", "100"),
                ("scanInactiveMasterInterval", "200"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap();
    Controller::start(config, None).await.unwrap()
}

async fn replica_info(client: &RemotingClient, ctl: &str) -> (Option<i64>, i32, SyncStateSetBody) {
    let r = call(
        client,
        ctl,
        req(
            rc::CONTROLLER_GET_REPLICA_INFO,
            &GetReplicaInfoRequestHeader {
                broker_name: Some(GROUP.into()),
            },
        ),
    )
    .await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let h: GetReplicaInfoResponseHeader = r.header().unwrap();
    (
        h.master_broker_id,
        h.master_epoch.unwrap(),
        body::from_fastjson(&r.body).unwrap(),
    )
}

async fn sync_state_data(client: &RemotingClient, ctl: &str) -> BrokerReplicasInfo {
    let r = call(
        client,
        ctl,
        RemotingCommand::request(rc::CONTROLLER_GET_SYNC_STATE_DATA).with_body(body::to_json(&[GROUP])),
    )
    .await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    body::from_fastjson(&r.body).unwrap()
}

/// Polls until `f` holds, up to 10 s.
async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn alter(
    client: &RemotingClient,
    ctl: &str,
    master: u64,
    master_epoch: i32,
    set: &[i64],
    sse_epoch: i32,
) -> RemotingCommand {
    let h = AlterSyncStateSetRequestHeader {
        broker_name: Some(GROUP.into()),
        master_broker_id: Some(master as i64),
        master_epoch: Some(master_epoch),
        invoke_time: Some(0),
    };
    let body = SyncStateSetBody {
        sync_state_set: set.iter().copied().collect(),
        sync_state_set_epoch: sse_epoch,
    };
    call(
        client,
        ctl,
        req(rc::CONTROLLER_ALTER_SYNC_STATE_SET, &h).with_body(body::to_json(&body)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_over_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let controller = start(dir.path()).await;
    let ctl = controller.local_addr().to_string();
    let admin = RemotingClient::new();
    let mut brokers = Vec::new();
    for id in 1..=3 {
        brokers.push(FakeBroker::start(id).await);
    }

    // Ids: next, apply; an id claimed by someone else's check code is refused.
    for b in &brokers {
        let r = call(
            &b.client,
            &ctl,
            req(
                rc::CONTROLLER_GET_NEXT_BROKER_ID,
                &GetNextBrokerIdRequestHeader {
                    cluster_name: Some(CLUSTER.into()),
                    broker_name: Some(GROUP.into()),
                },
            ),
        )
        .await;
        let h: GetNextBrokerIdResponseHeader = r.header().unwrap();
        assert_eq!(h.next_broker_id, Some(b.id as i64));
        let apply = ApplyBrokerIdRequestHeader {
            cluster_name: Some(CLUSTER.into()),
            broker_name: Some(GROUP.into()),
            applied_broker_id: Some(b.id as i64),
            register_check_code: Some(format!("{};{}", b.addr, 1000 + b.id)),
        };
        let r = call(&b.client, &ctl, req(rc::CONTROLLER_APPLY_BROKER_ID, &apply)).await;
        assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    }
    let stolen = ApplyBrokerIdRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_name: Some(GROUP.into()),
        applied_broker_id: Some(2),
        register_check_code: Some("10.0.0.9:10911;5".into()),
    };
    let r = call(&admin, &ctl, req(rc::CONTROLLER_APPLY_BROKER_ID, &stolen)).await;
    assert_eq!(r.code, 2014, "{:?}", r.remark);

    // Registration: no master yet, so no master fields.
    for b in &brokers {
        let h = RegisterBrokerToControllerRequestHeader {
            cluster_name: Some(CLUSTER.into()),
            broker_name: Some(GROUP.into()),
            broker_id: Some(b.id as i64),
            broker_address: Some(b.addr.clone()),
            invoke_time: Some(0),
        };
        let r = call(&b.client, &ctl, req(rc::CONTROLLER_REGISTER_BROKER, &h)).await;
        assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
        let resp: RegisterBrokerToControllerResponseHeader = r.header().unwrap();
        assert_eq!(resp.master_broker_id, None);
    }
    let unknown = RegisterBrokerToControllerRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_name: Some(GROUP.into()),
        broker_id: Some(9),
        broker_address: Some("10.0.0.9:10911".into()),
        invoke_time: Some(0),
    };
    let r = call(&admin, &ctl, req(rc::CONTROLLER_REGISTER_BROKER, &unknown)).await;
    assert_eq!(r.code, 2010, "{:?}", r.remark);

    // Heartbeats (oneway): the controller lists all three alive.
    for b in &brokers {
        b.heartbeat(&ctl, 1500).await;
    }
    until("three live replicas", || async {
        let info = sync_state_data(&admin, &ctl).await;
        let g = &info.replicas_info_table[GROUP];
        g.not_in_sync_replicas.iter().filter(|r| r.alive).count() == 3
    })
    .await;

    // Broker 1 asks for the first election: it becomes master, epoch 1.
    let elect = ElectMasterRequestHeader {
        cluster_name: Some(CLUSTER.into()),
        broker_name: Some(GROUP.into()),
        broker_id: Some(1),
        designate_elect: Some(false),
        invoke_time: Some(0),
    };
    let r = call(&brokers[0].client, &ctl, req(rc::CONTROLLER_ELECT_MASTER, &elect)).await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let h: ElectMasterResponseHeader = r.header().unwrap();
    assert_eq!((h.master_broker_id, h.master_epoch), (Some(1), Some(1)));
    assert_eq!(h.master_address.as_deref(), Some(brokers[0].addr.as_str()));
    let b: ElectMasterResponseBody = body::from_fastjson(&r.body).unwrap();
    assert_eq!(b.broker_member_group.unwrap().broker_addrs.len(), 3);
    assert_eq!(b.sync_state_set, BTreeSet::from([1]));
    let sse = h.sync_state_set_epoch.unwrap();
    for b in brokers.iter_mut() {
        let n = b.next_notify().await;
        let h: NotifyBrokerRoleChangedRequestHeader = n.header().unwrap();
        assert_eq!(
            (h.master_broker_id, h.master_epoch),
            (Some(1), Some(1)),
            "broker {}",
            b.id
        );
    }
    // Asking again: the master still exists (2011), nothing changes.
    let r = call(
        &brokers[1].client,
        &ctl,
        req(
            rc::CONTROLLER_ELECT_MASTER,
            &ElectMasterRequestHeader {
                broker_id: Some(2),
                ..elect.clone()
            },
        ),
    )
    .await;
    assert_eq!(r.code, 2011, "{:?}", r.remark);

    // The master grows the SyncStateSet; stale or foreign alters are fenced.
    let r = alter(&brokers[0].client, &ctl, 1, 1, &[1, 2, 3], sse).await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let grown: AlterSyncStateSetResponseHeader = r.header().unwrap();
    assert_eq!(grown.new_sync_state_set_epoch, Some(sse + 1));
    assert_eq!(alter(&admin, &ctl, 1, 0, &[1, 2], sse + 1).await.code, 2000);
    assert_eq!(alter(&admin, &ctl, 1, 1, &[1, 2], sse).await.code, 2001);
    assert_eq!(alter(&admin, &ctl, 2, 1, &[1, 2], sse + 1).await.code, 2002);
    let (master, epoch, set) = replica_info(&admin, &ctl).await;
    assert_eq!((master, epoch), (Some(1), 1));
    assert_eq!(set.sync_state_set, BTreeSet::from([1, 2, 3]));
    let r = call(
        &admin,
        &ctl,
        req(
            rc::CONTROLLER_GET_REPLICA_INFO,
            &GetReplicaInfoRequestHeader {
                broker_name: Some("nope".into()),
            },
        ),
    )
    .await;
    assert_eq!(r.code, 2008);

    // Metadata: a single node is its own leader.
    let r = call(
        &admin,
        &ctl,
        RemotingCommand::request(rc::CONTROLLER_GET_METADATA_INFO),
    )
    .await;
    let meta: GetMetaDataResponseHeader = r.header().unwrap();
    assert!(meta.is_leader);
    assert_eq!(
        meta.controller_leader_address.as_deref(),
        Some(controller.address())
    );

    // Failover 1: the master's connection closes (a crash). Brokers 2 and 3 keep beating.
    let beating = keep_beating(
        ctl.clone(),
        vec![
            (2, brokers[1].addr.clone(), 200),
            (3, brokers[2].addr.clone(), 300),
        ],
        0,
        1500,
    );
    brokers[0].client.close_all();
    until("a new master after the old one's connection closed", || async {
        let (m, e, _) = replica_info(&admin, &ctl).await;
        m.is_some_and(|m| m != 1) && e == 2
    })
    .await;
    let (new_master, _, set) = replica_info(&admin, &ctl).await;
    // Broker 3 reports the higher max offset (300 > 200): the policy picks it.
    assert_eq!(new_master, Some(3));
    assert_eq!(set.sync_state_set, BTreeSet::from([3]));
    let n = brokers[2].next_notify().await;
    let h: NotifyBrokerRoleChangedRequestHeader = n.header().unwrap();
    assert_eq!((h.master_broker_id, h.master_epoch), (Some(3), Some(2)));

    // Restart: the log brings the same state back. (The controller stops before the heartbeats
    // do: the master's connection closing would rightly cost it its mastership.)
    controller.shutdown().await;
    drop(beating);
    let controller = start(dir.path()).await;
    let ctl = controller.local_addr().to_string();
    let admin = RemotingClient::new();
    let (m, e, set) = replica_info(&admin, &ctl).await;
    assert_eq!((m, e), (Some(3), 2));
    assert_eq!(set.sync_state_set, BTreeSet::from([3]));

    // Failover 2, by heartbeat expiry: 2 and 3 beat, master 3 grows the set to {2,3}, then 3
    // stops beating while its connection stays open.
    let two = keep_beating(ctl.clone(), vec![(2, brokers[1].addr.clone(), 500)], 2, 1500);
    let three = keep_beating(ctl.clone(), vec![(3, brokers[2].addr.clone(), 500)], 2, 1500);
    until("both alive after the restart", || async {
        let info = sync_state_data(&admin, &ctl).await;
        let g = &info.replicas_info_table[GROUP];
        g.in_sync_replicas
            .iter()
            .chain(&g.not_in_sync_replicas)
            .filter(|r| r.alive)
            .count()
            == 2
    })
    .await;
    let r = alter(&admin, &ctl, 3, 2, &[2, 3], set.sync_state_set_epoch).await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    drop(three);
    until("broker 2 elected after broker 3's heartbeat expired", || async {
        replica_info(&admin, &ctl).await.0 == Some(2)
    })
    .await;
    let (_, e, set) = replica_info(&admin, &ctl).await;
    assert_eq!(e, 3);
    assert_eq!(set.sync_state_set, BTreeSet::from([2]));
    drop(two);

    // Config: an update shows in GET_CONTROLLER_CONFIG; a black-listed key is refused.
    let update = RemotingCommand::request(rc::UPDATE_CONTROLLER_CONFIG)
        .with_body(b"enableElectUncleanMaster=true\n".to_vec());
    assert_eq!(call(&admin, &ctl, update).await.code, code::SUCCESS);
    let r = call(&admin, &ctl, RemotingCommand::request(rc::GET_CONTROLLER_CONFIG)).await;
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(text.contains("enableElectUncleanMaster=true"), "{text}");
    let update = RemotingCommand::request(rc::UPDATE_CONTROLLER_CONFIG)
        .with_body(b"configStorePath=/tmp/x\n".to_vec());
    assert_eq!(call(&admin, &ctl, update).await.code, code::NO_PERMISSION);
    controller.shutdown().await;
}
