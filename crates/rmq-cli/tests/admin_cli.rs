//! `rmq admin` verbs that change a cluster's topics and groups, against `rmq namesrv` /
//! `rmq broker` processes, printing what mqadmin prints: `updateSubGroup`, `deleteSubGroup` (with
//! `-c`, the group's retry and dead-letter topics too) and `deleteTopic`.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use common::{ok, rmq, text};
use rmq_protocol::body::{self, SubscriptionGroupWrapper};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "AdminCliTopic";
const GROUP: &str = "AdminCliGroup";

/// The subscription groups the broker has.
async fn groups(client: &RemotingClient, broker: &str) -> Vec<String> {
    let req = RemotingCommand::request(request_code::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
    let resp = common::invoke(client, broker, req).await;
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    let w: SubscriptionGroupWrapper = body::from_fastjson(&resp.body).unwrap();
    w.subscription_group_table.into_keys().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_topics_created_and_deleted() {
    let dir = common::temp_dir();
    let (_ns, ns) = common::namesrv(dir.path());
    let (_broker, broker) = common::broker(dir.path(), &ns, "");
    let client = RemotingClient::new();

    let out = ok(&[
        "admin",
        "updateSubGroup",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-g",
        GROUP,
        "-r",
        "3",
        "-s",
        "false",
    ]);
    assert!(
        out.contains(&format!("create subscription group to {broker} success.")),
        "{out}"
    );
    assert!(out.contains("\"retryMaxTimes\":3"), "{out}");
    assert!(out.contains("\"consumeEnable\":false"), "{out}");
    assert!(groups(&client, &broker).await.contains(&GROUP.to_string()));
    let bad = rmq(&["admin", "updateSubGroup", "-n", &ns, "-g", GROUP]);
    assert!(!bad.status.success(), "neither -b nor -c: {}", text(&bad));

    // a retry topic for the group, so that deleteSubGroup -c has one to delete
    ok(&[
        "admin",
        "updateTopic",
        "-n",
        &ns,
        "-b",
        &broker,
        "-t",
        &format!("%RETRY%{GROUP}"),
        "-r",
        "1",
        "-w",
        "1",
    ]);
    let out = ok(&[
        "admin",
        "deleteSubGroup",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-g",
        GROUP,
        "-r",
        "true",
    ]);
    assert!(
        out.contains(&format!(
            "delete subscription group [{GROUP}] from broker [{broker}] in cluster [DefaultCluster] success."
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("delete topic [%RETRY%{GROUP}] from NameServer success.")),
        "{out}"
    );
    assert!(!groups(&client, &broker).await.contains(&GROUP.to_string()));
    let route = rmq(&["admin", "topicRoute", "-n", &ns, "-t", &format!("%RETRY%{GROUP}")]);
    assert!(
        !route.status.success(),
        "the retry topic is gone: {}",
        text(&route)
    );

    ok(&[
        "admin",
        "updateTopic",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-t",
        TOPIC,
    ]);
    ok(&["admin", "topicRoute", "-n", &ns, "-t", TOPIC]);
    let out = ok(&[
        "admin",
        "deleteTopic",
        "-n",
        &ns,
        "-t",
        TOPIC,
        "-c",
        "DefaultCluster",
    ]);
    assert!(
        out.contains(&format!(
            "delete topic [{TOPIC}] from cluster [DefaultCluster] success."
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("delete topic [{TOPIC}] from NameServer success.")),
        "{out}"
    );
    let route = rmq(&["admin", "topicRoute", "-n", &ns, "-t", TOPIC]);
    assert!(!route.status.success(), "{}", text(&route));
    let bad = rmq(&["admin", "deleteTopic", "-n", &ns, "-t", TOPIC]);
    assert!(!bad.status.success(), "no -c: {}", text(&bad));
}
