//! Three controllers replicate their state with Raft (issue #16): one leader serves the writes,
//! the others answer CONTROLLER_NOT_LEADER (2007) and name the leader in GET_METADATA_INFO; when
//! the leader stops, the other two elect a new one that has every committed write and keeps
//! accepting them; a controller that comes back catches up and can form the majority again; one
//! controller alone refuses writes instead of hanging.
#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::time::Duration;

use rmq_controller::node::{Controller, ControllerConfig};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const T: Duration = Duration::from_secs(5);
const GROUP: &str = "broker-a";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &std::path::Path, peers: &str, self_id: &str) -> Controller {
    let mut config = ControllerConfig::default();
    config
        .apply(
            &[
                ("controllerDLegerGroup", "g"),
                ("controllerDLegerPeers", peers),
                ("controllerDLegerSelfId", self_id),
                ("controllerStorePath", dir.join(self_id).to_str().unwrap()),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap();
    Controller::start(config, None).await.unwrap()
}

async fn metadata(c: &RemotingClient, addr: &str) -> Option<GetMetaDataResponseHeader> {
    let r = c
        .invoke(
            addr,
            RemotingCommand::request(rc::CONTROLLER_GET_METADATA_INFO),
            T,
        )
        .await
        .ok()?;
    r.header().ok()
}

/// Polls until every address in `addrs` names the same leader, one of them; returns its address.
async fn leader(c: &RemotingClient, addrs: &[String]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut seen = Vec::new();
        for a in addrs {
            seen.push(metadata(c, a).await.and_then(|m| m.controller_leader_address));
        }
        if let Some(Some(l)) = seen.first() {
            if seen.iter().all(|s| s.as_deref() == Some(l.as_str())) && addrs.contains(l) {
                return l.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreed leader among {addrs:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn apply_id(c: &RemotingClient, ctl: &str, id: i64) -> RemotingCommand {
    let h = ApplyBrokerIdRequestHeader {
        cluster_name: Some("c".into()),
        broker_name: Some(GROUP.into()),
        applied_broker_id: Some(id),
        register_check_code: Some(format!("127.0.0.1:{};{id}", 20000 + id)),
    };
    c.invoke(
        ctl,
        RemotingCommand::request(rc::CONTROLLER_APPLY_BROKER_ID).with_header(&h),
        T,
    )
    .await
    .unwrap()
}

/// The next id the leader would hand out: how many ids the replicated state holds, plus one.
async fn next_id(c: &RemotingClient, ctl: &str) -> RemotingCommand {
    let h = GetNextBrokerIdRequestHeader {
        cluster_name: Some("c".into()),
        broker_name: Some(GROUP.into()),
    };
    c.invoke(
        ctl,
        RemotingCommand::request(rc::CONTROLLER_GET_NEXT_BROKER_ID).with_header(&h),
        T,
    )
    .await
    .unwrap()
}

fn next(r: &RemotingCommand) -> Option<i64> {
    r.header::<GetNextBrokerIdResponseHeader>().ok()?.next_broker_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_controllers_survive_the_loss_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let peers = format!("n0-{};n1-{};n2-{}", addrs[0], addrs[1], addrs[2]);
    let mut nodes: Vec<Option<Controller>> = Vec::new();
    for id in ["n0", "n1", "n2"] {
        nodes.push(Some(start(dir.path(), &peers, id).await));
    }
    let c = RemotingClient::new();
    let first = leader(&c, &addrs).await;
    let l = addrs.iter().position(|a| *a == first).unwrap();

    // Writes go to the leader; a follower answers 2007 and names the leader.
    assert_eq!(apply_id(&c, &first, 1).await.code, code::SUCCESS);
    let follower = &addrs[(l + 1) % 3];
    let r = next_id(&c, follower).await;
    assert_eq!(r.code, 2007, "{:?}", r.remark);
    let m = metadata(&c, follower).await.unwrap();
    assert!(!m.is_leader);
    assert_eq!(m.controller_leader_address.as_deref(), Some(first.as_str()));
    assert_eq!(m.peers.unwrap().matches(';').count(), 3);
    assert_eq!(next(&next_id(&c, &first).await), Some(2));

    // The leader stops: the other two elect a leader that has the write and takes new ones.
    nodes[l].take().unwrap().shutdown().await;
    let rest: Vec<String> = (0..3).filter(|&i| i != l).map(|i| addrs[i].clone()).collect();
    let second = leader(&c, &rest).await;
    assert_ne!(second, first);
    assert_eq!(
        next(&next_id(&c, &second).await),
        Some(2),
        "the committed write survived"
    );
    assert_eq!(apply_id(&c, &second, 2).await.code, code::SUCCESS);

    // The old leader comes back on its port and catches up; then the second leader stops, and
    // the returning controller and the third form the majority, with both writes.
    let n = ["n0", "n1", "n2"][l];
    nodes[l] = Some(start(dir.path(), &peers, n).await);
    leader(&c, &addrs).await;
    let s = addrs.iter().position(|a| *a == second).unwrap();
    nodes[s].take().unwrap().shutdown().await;
    let rest: Vec<String> = (0..3).filter(|&i| i != s).map(|i| addrs[i].clone()).collect();
    let third = leader(&c, &rest).await;
    assert_eq!(next(&next_id(&c, &third).await), Some(3), "both writes survived");
    assert_eq!(apply_id(&c, &third, 3).await.code, code::SUCCESS);

    // One of three left: no majority. A write is refused — 2007 from a controller that is not
    // leader, or SYSTEM_ERROR after 5 s from one that still thinks it is — and never hangs.
    let t = addrs.iter().position(|a| *a == third).unwrap();
    let other = (0..3).find(|&i| i != t && nodes[i].is_some()).unwrap();
    nodes[other].take().unwrap().shutdown().await;
    let started = std::time::Instant::now();
    let h = ApplyBrokerIdRequestHeader {
        cluster_name: Some("c".into()),
        broker_name: Some(GROUP.into()),
        applied_broker_id: Some(4),
        register_check_code: Some("127.0.0.1:20004;4".into()),
    };
    let cmd = RemotingCommand::request(rc::CONTROLLER_APPLY_BROKER_ID).with_header(&h);
    let r = c.invoke(&third, cmd, Duration::from_secs(15)).await.unwrap();
    assert!(
        r.code == 2007 || r.code == code::SYSTEM_ERROR,
        "{} {:?}",
        r.code,
        r.remark
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    for node in nodes.into_iter().flatten() {
        node.shutdown().await;
    }
}
