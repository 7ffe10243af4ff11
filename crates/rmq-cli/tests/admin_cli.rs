//! `rmq admin` verbs that change a cluster's topics and groups, against `rmq namesrv` /
//! `rmq broker` processes, printing what mqadmin prints: `updateSubGroup`, `deleteSubGroup` (with
//! `-c`, the group's retry and dead-letter topics too) and `deleteTopic`; and
//! `setCommitLogReadAheadMode`, checked in the broker's own mappings (`/proc/<pid>/smaps`); and
//! the static-topic verbs (`updateStaticTopic`, `remappingStaticTopic`) over two brokers.
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

/// How many mappings of the broker's first commitlog segment carry the kernel's random-read
/// advice (`rr` in `/proc/<pid>/smaps` VmFlags). Each segment is mapped twice: the write mapping
/// always random, the read mapping as setCommitLogReadAheadMode says.
fn random_read_mappings(pid: u32, segment: &std::path::Path) -> usize {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let name = segment.to_str().unwrap();
    let mut count = 0;
    let mut in_segment = false;
    for line in smaps.lines() {
        // A mapping starts with "start-end perms offset dev inode [path]".
        let first = line.split_whitespace().next().unwrap_or("");
        if first
            .split_once('-')
            .is_some_and(|(a, b)| !a.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_hexdigit()))
        {
            in_segment = line.ends_with(name);
        }
        if in_segment && line.starts_with("VmFlags:") && line.split_whitespace().any(|f| f == "rr") {
            count += 1;
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_log_read_ahead_mode() {
    let dir = common::temp_dir();
    let (_ns, ns) = common::namesrv(dir.path());
    let (broker_proc, broker) = common::broker(dir.path(), &ns, "");
    let client = RemotingClient::new();
    // One message, so that the first commitlog segment exists.
    ok(&["admin", "updateTopic", "-n", &ns, "-b", &broker, "-t", TOPIC]);
    let resp = common::invoke(&client, &broker, common::send_request(TOPIC, 0, b"x", "")).await;
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    let segment = dir.path().join("store/commitlog/00000000000000000000");
    let pid = broker_proc.child.id();
    assert_eq!(random_read_mappings(pid, &segment), 1, "read-ahead on by default");

    let out = ok(&[
        "admin",
        "setCommitLogReadAheadMode",
        "-n",
        &ns,
        "-b",
        &broker,
        "-m",
        "1",
    ]);
    assert!(
        out.contains(&format!("============{broker}============")),
        "{out}"
    );
    assert!(
        out.contains("commitLog set readAhead mode rstStrset commitlog readahead mode success, mode: 1"),
        "{out}"
    );
    assert_eq!(
        random_read_mappings(pid, &segment),
        2,
        "random reads on both mappings"
    );

    let out = ok(&[
        "admin",
        "setCommitLogReadAheadMode",
        "-n",
        &ns,
        "-c",
        "DefaultCluster",
        "-m",
        "0",
    ]);
    assert!(out.contains("mode: 0"), "{out}");
    assert_eq!(random_read_mappings(pid, &segment), 1, "read-ahead back on");

    let out = ok(&[
        "admin",
        "setCommitLogReadAheadMode",
        "-n",
        &ns,
        "-b",
        &broker,
        "-m",
        "3",
    ]);
    assert!(
        out.contains("set the read mode error; 0 is default, 1 random read"),
        "{out}"
    );
    // Straight to the broker, a bad mode is refused with Java's remark.
    let req =
        RemotingCommand::request(request_code::SET_COMMITLOG_READ_MODE).with_ext("READ_AHEAD_MODE", "7");
    let resp = common::invoke(&client, &broker, req).await;
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some("set commitlog readahead mode param value error")
    );
}

/// The logic queues broker-a hosts in the new mapping file an `updateStaticTopic` printed.
fn hosted_on_a(out: &str) -> Vec<i32> {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("The old mapping data is written to file "),
        "{out}"
    );
    let after = lines[1]
        .strip_prefix("The new mapping data is written to file ")
        .unwrap();
    assert!(after.ends_with(".after"), "{out}");
    let plan: rmq_protocol::body::static_topic::TopicRemappingDetailWrapper =
        body::from_fastjson(&std::fs::read(after).unwrap()).unwrap();
    assert_eq!(plan.broker_config_map.len(), 2, "{plan:?}");
    let detail = plan.broker_config_map["broker-a"]
        .mapping_detail
        .as_ref()
        .unwrap();
    detail.hosted_queues.keys().copied().collect()
}

/// The logic queue id and offset a send to logic queue `queue` of a static topic is answered with.
async fn send_logic(client: &RemotingClient, broker: &str, topic: &str, queue: i32) -> (i32, i64) {
    let resp = common::invoke(client, broker, common::send_request(topic, queue, b"s", "")).await;
    assert_eq!(
        resp.code,
        response_code::SUCCESS,
        "logic queue {queue}: {:?}",
        resp.remark
    );
    let h: rmq_protocol::header::SendMessageResponseHeader = resp.header().unwrap();
    (h.queue_id, h.queue_offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_topic_created_grown_and_remapped() {
    const STATIC: &str = "StaticCliTopic";
    let dir = common::temp_dir();
    let (_ns, ns) = common::namesrv(dir.path());
    let (_a, broker_a) = common::broker(dir.path(), &ns, "");
    let dir_b = common::temp_dir();
    let conf_b = dir_b.path().join("broker.conf");
    std::fs::write(
        &conf_b,
        format!(
            "brokerClusterName=DefaultCluster\nbrokerName=broker-b\nbrokerId=0\nlistenPort=0\n\
             brokerIP1=127.0.0.1\nstorePathRootDir={}\nmappedFileSizeCommitLog=1048576\n",
            dir_b.path().join("store").display()
        ),
    )
    .unwrap();
    let (_b, broker_b) = common::spawn_broker(dir_b.path(), &ns, &conf_b);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ok(&["admin", "clusterList", "-n", &ns]).contains("broker-b") {
        assert!(std::time::Instant::now() < deadline, "broker-b never registered");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let client = RemotingClient::new();
    let update_static = |qn| {
        [
            "admin",
            "updateStaticTopic",
            "-n",
            ns.as_str(),
            "-c",
            "DefaultCluster",
            "-t",
            STATIC,
            "-qn",
            qn,
        ]
    };

    let out = ok(&update_static("8"));
    let on_a = hosted_on_a(&out);
    assert_eq!(on_a.len(), 4, "{out}");
    // broker-a leads its four logic queues: sends answer the logic id from offset 0
    for queue in &on_a {
        assert_eq!(send_logic(&client, &broker_a, STATIC, *queue).await, (*queue, 0));
    }
    let out = rmq(&update_static("8"));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("The topic queue num is equal the existed queue num, do nothing"),
        "{}",
        text(&out)
    );
    let out = ok(&update_static("10"));
    let grown = hosted_on_a(&out);
    assert_eq!(grown.len(), 5, "{out}");
    assert!(
        on_a.iter().all(|q| grown.contains(q)),
        "queues stay where they are: {out}"
    );

    // broker-b does not lead broker-a's logic queues: NOT_LEADER_FOR_QUEUE with Java's remark
    let resp = common::invoke(
        &client,
        &broker_b,
        common::send_request(STATIC, on_a[0], b"s", ""),
    )
    .await;
    assert_eq!(resp.code, response_code::NOT_LEADER_FOR_QUEUE);
    assert_eq!(
        resp.remark.as_deref(),
        Some(
            format!(
                "{STATIC}-{} does not exit in request process of current broker broker-b",
                on_a[0]
            )
            .as_str()
        )
    );

    // every logic queue onto broker-a: broker-b's five get second generations from logic 10000
    let out = ok(&[
        "admin",
        "remappingStaticTopic",
        "-n",
        &ns,
        "-b",
        "broker-a",
        "-t",
        STATIC,
    ]);
    assert_eq!(out.lines().count(), 2, "{out}");
    for queue in 0..10 {
        let (id, offset) = send_logic(&client, &broker_a, STATIC, queue).await;
        assert_eq!(id, queue);
        // sent to once before, new on broker-a with the growth, or moved from broker-b
        let expected = match (on_a.contains(&queue), grown.contains(&queue)) {
            (true, _) => 1,
            (false, true) => 0,
            (false, false) => 10_000,
        };
        assert_eq!(offset, expected, "logic queue {queue}");
    }
    // the same targets again: nothing to move, the mapping rewritten as it is
    ok(&[
        "admin",
        "remappingStaticTopic",
        "-n",
        &ns,
        "-b",
        "broker-a",
        "-t",
        STATIC,
    ]);
    let expected = match (on_a.contains(&9), grown.contains(&9)) {
        (true, _) => 2,
        (false, true) => 1,
        (false, false) => 10_001,
    };
    assert_eq!(send_logic(&client, &broker_a, STATIC, 9).await.1, expected);
}
