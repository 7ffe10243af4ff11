//! The consumers against a fake consume-path broker over real sockets.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::consume::{consume_cluster, ConsumeCluster};
use common::wait::{wait_until, Gate};
use rmq_client::{
    ConsumeFromWhere, ConsumeStatus, ConsumerConfig, MessageModel, MessageQueue, PullConsumer, PullStatus,
    PushConsumer,
};
use rmq_protocol::codes::request_code;
use rmq_protocol::message::pull_sys_flag;

const TOPIC: &str = "TopicTest";

/// Waits up to 10 s for `cond`.
async fn eventually(what: &str, cond: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(10), cond).await;
}

type Received = Arc<Mutex<Vec<(i32, i64, String)>>>;

/// A consumer recording (queueId, queueOffset, body) of every message it is handed.
fn consumer(
    c: &ConsumeCluster,
    group: &str,
    instance: &str,
    config: ConsumerConfig,
    expr: &str,
) -> (PushConsumer, Received) {
    let consumer = PushConsumer::new(group, c.config(instance), config);
    consumer.subscribe(TOPIC, expr).unwrap();
    let received: Received = Arc::default();
    let sink = received.clone();
    consumer.register_listener(move |msgs| {
        let mut sink = sink.lock().unwrap();
        for m in msgs {
            sink.push((
                m.queue_id,
                m.queue_offset,
                String::from_utf8_lossy(&m.body).into_owned(),
            ));
        }
        ConsumeStatus::ConsumeSuccess
    });
    (consumer, received)
}

fn from_first() -> ConsumerConfig {
    ConsumerConfig {
        consume_from_where: ConsumeFromWhere::FirstOffset,
        ..Default::default()
    }
}

/// The owned queues of `TOPIC` (the retry topic's queue is owned too).
fn owned(consumer: &PushConsumer) -> Vec<MessageQueue> {
    consumer
        .assigned_queues()
        .into_iter()
        .filter(|q| q.topic == TOPIC)
        .collect()
}

fn mq(queue_id: i32) -> MessageQueue {
    MessageQueue::new(TOPIC, "broker-a", queue_id)
}

#[tokio::test]
async fn push_consumer_gets_every_matching_message_and_commits() {
    let c = consume_cluster(TOPIC, 4, &["CG"]).await;
    let mut expected = BTreeSet::new();
    for i in 0..40 {
        let tag = ["TagA", "TagB", "TagC"][i % 3];
        let q = (i % 4) as i32;
        let offset = c.broker.put(TOPIC, q, &format!("m{i}"), tag);
        if tag != "TagB" {
            expected.insert((q, offset, format!("m{i}")));
        }
    }
    let (consumer, received) = consumer(&c, "CG", "c1", from_first(), "TagA || TagC");
    consumer.start().await.expect("start");
    // The fake broker does not filter: TagB messages only disappear through the client check.
    eventually("all TagA/TagC messages", || {
        received.lock().unwrap().len() >= expected.len()
    })
    .await;
    // Every queue's consume offset at its end proves each of its messages went through the
    // listener (or the tag check): nothing more can be handed over for them.
    for q in 0..4 {
        // A queue whose last message was filtered out catches up on the next empty pull.
        eventually("offset 10", || consumer.consume_offset(&mq(q)) == Some(10)).await;
    }
    let got: BTreeSet<_> = received.lock().unwrap().iter().cloned().collect();
    assert_eq!(got, expected);
    assert_eq!(received.lock().unwrap().len(), expected.len(), "no duplicates");
    assert_eq!(owned(&consumer), (0..4).map(mq).collect::<Vec<_>>());

    // Heartbeat: passive clustering consumer with the retry subscription.
    let hb = c.broker.state.lock().unwrap().heartbeats[0].clone();
    let cd = &hb.consumer_data_set[0];
    assert_eq!(
        (cd.consume_type.as_str(), cd.message_model.as_str()),
        ("CONSUME_PASSIVELY", "CLUSTERING")
    );
    assert_eq!(cd.consume_from_where, "CONSUME_FROM_FIRST_OFFSET");
    let topics: BTreeSet<&str> = cd
        .subscription_data_set
        .iter()
        .map(|s| s.topic.as_str())
        .collect();
    assert_eq!(topics, BTreeSet::from(["%RETRY%CG", TOPIC]));
    // Pulls: long polling, 32 at a time, commit flag once something was consumed. The committing
    // pull is the one after the offsets advanced: it may still be on its way.
    eventually("a pull that commits an offset", || {
        let state = c.broker.state.lock().unwrap();
        state
            .pulls
            .iter()
            .any(|p| p.sys_flag & pull_sys_flag::COMMIT_OFFSET != 0 && p.commit_offset > 0)
    })
    .await;
    let pulls = c.broker.state.lock().unwrap().pulls.clone();
    assert!(pulls
        .iter()
        .all(|p| p.sys_flag & pull_sys_flag::SUSPEND != 0 && p.suspend_timeout_millis == 15000));
    assert!(pulls
        .iter()
        .any(|p| p.sys_flag & pull_sys_flag::COMMIT_OFFSET != 0 && p.commit_offset > 0));
    assert!(pulls.iter().all(|p| p.max_msg_nums == 32));

    consumer.shutdown().await;
    for q in 0..4 {
        assert_eq!(
            c.broker.committed("CG", TOPIC, q),
            Some(10),
            "queue {q} persisted on shutdown"
        );
    }
    assert!(c
        .broker
        .state
        .lock()
        .unwrap()
        .codes
        .contains(&request_code::UNREGISTER_CLIENT));
    assert!(c.broker.consumer_ids("CG").is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn blocked_listener_is_flow_controlled_and_nothing_is_lost() {
    let c = consume_cluster(TOPIC, 1, &["CG"]).await;
    for i in 0..100 {
        c.broker.put(TOPIC, 0, &format!("m{i}"), "TagA");
    }
    let config = ConsumerConfig {
        pull_threshold_for_queue: 20,
        pull_batch_size: 8,
        consume_thread_max: 4,
        ..from_first()
    };
    let consumer = PushConsumer::new("CG", c.config("c1"), config);
    consumer.subscribe(TOPIC, "*").unwrap();
    let gate = Gate::default();
    // Unblocks the listener even when an assertion fails (the runtime waits for it).
    let _unblock = gate.open_on_drop();
    let count = Arc::new(AtomicUsize::new(0));
    let (g, n) = (gate.clone(), count.clone());
    consumer.register_listener(move |_msgs| {
        g.wait();
        n.fetch_add(1, Ordering::SeqCst);
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await.expect("start");
    eventually("a full cache", || consumer.cached_msg_count(&mq(0)) == Some(20)).await;
    eventually("flow control", || consumer.flow_control_hits() >= 3).await;
    // Each new flow-control hit is a pull postponed after a look at the full cache.
    for _ in 0..10 {
        let hits = consumer.flow_control_hits();
        eventually("another flow-control hit", || consumer.flow_control_hits() > hits).await;
        assert!(consumer.cached_msg_count(&mq(0)).unwrap() <= 20);
    }
    assert_eq!(
        consumer.cached_msg_size(&mq(0)),
        Some(10 * 2 + 10 * 3),
        "bodies m0..m19"
    );
    // At-least-once: nothing consumed yet, so the offset has not moved.
    assert_eq!(consumer.consume_offset(&mq(0)), None);
    gate.open();
    eventually("every message", || count.load(Ordering::SeqCst) == 100).await;
    eventually("offset 100", || consumer.consume_offset(&mq(0)) == Some(100)).await;
    assert_eq!(consumer.cached_msg_count(&mq(0)), Some(0));
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn committed_offset_waits_for_the_slowest_message() {
    let c = consume_cluster(TOPIC, 1, &["CG"]).await;
    for i in 0..10 {
        c.broker.put(TOPIC, 0, &format!("m{i}"), "TagA");
    }
    let config = ConsumerConfig {
        reconsume_later_delay_ms: 300,
        ..from_first()
    };
    let consumer = PushConsumer::new("CG", c.config("c1"), config);
    consumer.subscribe(TOPIC, "*").unwrap();
    let attempts = Arc::new(Mutex::new(HashMap::<i64, u32>::new()));
    // Holds the local retry of offset 3 until the test has looked at the offset.
    let retry = Gate::default();
    let _release = retry.open_on_drop();
    let (seen, held) = (attempts.clone(), retry.clone());
    consumer.register_listener(move |msgs| {
        let m = &msgs[0];
        let n = {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(m.queue_offset).or_default();
            *n += 1;
            *n
        };
        // Offset 3 fails once; the send-back is refused, so it is retried locally and holds
        // the commit back meanwhile.
        if m.queue_offset == 3 && n == 1 {
            assert_eq!(m.reconsume_times, 0);
            return ConsumeStatus::ReconsumeLater;
        }
        if m.queue_offset == 3 {
            held.wait();
        }
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await.expect("start");
    eventually("nine successes", || attempts.lock().unwrap().len() == 10).await;
    // The nine others committed: offset 3 alone is left in the process queue.
    eventually("the nine commits", || {
        consumer.cached_msg_count(&mq(0)) == Some(1)
    })
    .await;
    assert_eq!(
        consumer.consume_offset(&mq(0)),
        Some(3),
        "offset 3 is still in flight"
    );
    eventually("the retry", || attempts.lock().unwrap()[&3] == 2).await;
    assert_eq!(
        consumer.consume_offset(&mq(0)),
        Some(3),
        "offset 3 is still in flight during its retry"
    );
    retry.open();
    assert!(c
        .broker
        .state
        .lock()
        .unwrap()
        .codes
        .contains(&rmq_protocol::codes::request_code::CONSUMER_SEND_MSG_BACK));
    eventually("offset 10", || consumer.consume_offset(&mq(0)) == Some(10)).await;
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn reset_offset_from_the_broker_redelivers() {
    let c = consume_cluster(TOPIC, 2, &["CG"]).await;
    for i in 0..10 {
        c.broker.put(TOPIC, 0, &format!("a{i}"), "TagA");
        c.broker.put(TOPIC, 1, &format!("b{i}"), "TagA");
    }
    let (consumer, received) = consumer(&c, "CG", "c1", from_first(), "*");
    consumer.start().await.expect("start");
    eventually("20 messages", || received.lock().unwrap().len() == 20).await;
    eventually("offset 10", || consumer.consume_offset(&mq(0)) == Some(10)).await;
    c.broker
        .reset_offset("CG", TOPIC, &[("broker-a".into(), 0, 4)])
        .await;
    eventually("6 redelivered", || received.lock().unwrap().len() == 26).await;
    let again: Vec<i64> = received.lock().unwrap()[20..]
        .iter()
        .map(|(q, o, _)| {
            assert_eq!(*q, 0);
            *o
        })
        .collect();
    assert_eq!(again.iter().copied().collect::<BTreeSet<_>>(), (4..10).collect());
    assert_eq!(c.broker.committed("CG", TOPIC, 0).map(|o| o >= 4), Some(true));
    consumer.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn two_consumers_split_the_queues() {
    let c = consume_cluster(TOPIC, 4, &["CG"]).await;
    let (c1, r1) = consumer(&c, "CG", "c1", from_first(), "*");
    c1.start().await.expect("start c1");
    eventually("c1 owns all", || owned(&c1).len() == 4).await;
    let (c2, r2) = consumer(&c, "CG", "c2", from_first(), "*");
    c2.start().await.expect("start c2");
    // The broker's NOTIFY_CONSUMER_IDS_CHANGED makes c1 give up half at once.
    eventually("the split", || owned(&c1).len() == 2 && owned(&c2).len() == 2).await;
    assert_eq!(owned(&c1), vec![mq(0), mq(1)], "127.0.0.1@c1 sorts first");
    for i in 0..40 {
        c.broker.put(TOPIC, i % 4, &format!("m{i}"), "TagA");
    }
    eventually("40 messages", || {
        r1.lock().unwrap().len() + r2.lock().unwrap().len() == 40
    })
    .await;
    // Each queue's consume offset at its end on its owner: every message went through a listener.
    eventually("every queue consumed", || {
        (0..2).all(|q| c1.consume_offset(&mq(q)) == Some(10))
            && (2..4).all(|q| c2.consume_offset(&mq(q)) == Some(10))
    })
    .await;
    assert_eq!(
        r1.lock().unwrap().len() + r2.lock().unwrap().len(),
        40,
        "no message twice"
    );
    let mut all: Vec<String> = r1
        .lock()
        .unwrap()
        .iter()
        .chain(r2.lock().unwrap().iter())
        .map(|m| m.2.clone())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "each message exactly once");
    assert!(r1.lock().unwrap().iter().all(|(q, _, _)| *q < 2));
    c2.shutdown().await;
    eventually("c1 takes everything back", || owned(&c1).len() == 4).await;
    c1.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn broadcasting_consumers_each_get_everything_and_keep_offsets_locally() {
    let c = consume_cluster(TOPIC, 2, &[]).await;
    for i in 0..10 {
        c.broker.put(TOPIC, i % 2, &format!("m{i}"), "TagA");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = ConsumerConfig {
        message_model: MessageModel::Broadcasting,
        offset_store_dir: Some(dir.path().to_path_buf()),
        ..from_first()
    };
    let (b1, r1) = consumer(&c, "BG", "b1", config.clone(), "*");
    let (b2, r2) = consumer(&c, "BG", "b2", config.clone(), "*");
    assert_eq!(
        b1.client_id(),
        "127.0.0.1@b1",
        "broadcasting keeps the instance name"
    );
    b1.start().await.expect("start b1");
    b2.start().await.expect("start b2");
    eventually("both got 10", || {
        r1.lock().unwrap().len() == 10 && r2.lock().unwrap().len() == 10
    })
    .await;
    // The listener sees a batch before its offsets advance: wait until b1's offsets cover all 10,
    // or the file written at shutdown may miss the last batch and the restart would see it again.
    eventually("b1's offsets to cover all 10", || {
        b1.assigned_queues()
            .iter()
            .map(|q| b1.consume_offset(q).unwrap_or(0))
            .sum::<i64>()
            == 10
    })
    .await;
    b1.shutdown().await;
    b2.shutdown().await;
    let file = dir.path().join("127.0.0.1@b1").join("BG").join("offsets.json");
    let text = std::fs::read_to_string(&file).expect("offsets file");
    assert!(text.contains("offsetTable"), "{text}");
    assert_eq!(
        c.broker.committed("BG", TOPIC, 0),
        None,
        "no offsets on the broker"
    );
    assert!(!c
        .broker
        .state
        .lock()
        .unwrap()
        .codes
        .contains(&request_code::UPDATE_CONSUMER_OFFSET));
    // A restart resumes from the file: nothing is delivered again.
    c.broker.put(TOPIC, 0, "late", "TagA");
    let (b1, r1) = consumer(&c, "BG", "b1", config, "*");
    b1.start().await.expect("restart b1");
    eventually("the new message", || !r1.lock().unwrap().is_empty()).await;
    // b1's offsets at the end of both queues: whatever the restart would deliver again has
    // been through the listener by now.
    eventually("b1's offsets at the ends of the queues", || {
        b1.consume_offset(&mq(0)) == Some(6) && b1.consume_offset(&mq(1)) == Some(5)
    })
    .await;
    assert_eq!(
        r1.lock()
            .unwrap()
            .iter()
            .map(|m| m.2.as_str())
            .collect::<Vec<_>>(),
        vec!["late"]
    );
    b1.shutdown().await;
    c.shutdown().await;
}

#[tokio::test]
async fn pull_consumer_assign_poll_commit_seek() {
    let c = consume_cluster(TOPIC, 2, &[]).await;
    for i in 0..15 {
        c.broker.put(
            TOPIC,
            0,
            &format!("m{i}"),
            if i % 2 == 0 { "TagA" } else { "TagB" },
        );
    }
    let consumer =
        PullConsumer::new("PCG", c.config("p1")).with_consume_from_where(ConsumeFromWhere::FirstOffset);
    let queues = consumer.fetch_subscribe_queues(TOPIC).await.expect("queues");
    assert_eq!(queues, vec![mq(0), mq(1)]);
    assert_eq!(consumer.max_offset(&mq(0)).await.unwrap(), 15);
    assert_eq!(
        consumer.search_offset(&mq(0), 1_700_000_000_005).await.unwrap(),
        5
    );

    // Low level: SUBSCRIPTION flag, tags re-checked on the client.
    let r = consumer.pull(&mq(0), "TagA", 0, 4).await.expect("pull");
    assert_eq!(
        (r.status, r.next_begin_offset, r.max_offset),
        (PullStatus::Found, 4, 15)
    );
    assert_eq!(
        r.messages.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
        vec![0, 2]
    );
    let p = c.broker.state.lock().unwrap().pulls.last().cloned().unwrap();
    assert_eq!(
        (p.sys_flag, p.sub_version, p.subscription.as_deref()),
        (pull_sys_flag::SUBSCRIPTION, 0, Some("TagA"))
    );
    let r = consumer.pull(&mq(0), "*", 15, 4).await.expect("pull at the end");
    assert_eq!(r.status, PullStatus::NoNewMsg);

    consumer.assign(queues).await.expect("assign");
    assert_eq!(consumer.position(&mq(0)), Some(0));
    let mut got = Vec::new();
    while got.len() < 15 {
        let msgs = consumer.poll(Duration::from_millis(500)).await.expect("poll");
        assert!(!msgs.is_empty(), "poll timed out with {} of 15", got.len());
        got.extend(msgs.into_iter().map(|m| m.queue_offset));
    }
    assert_eq!(got, (0..15).collect::<Vec<_>>());
    assert!(consumer
        .poll(Duration::from_millis(100))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(consumer.committed(&mq(0)).await.unwrap(), None);
    consumer.commit().await.expect("commit");
    assert_eq!(consumer.committed(&mq(0)).await.unwrap(), Some(15));
    assert_eq!(c.broker.committed("PCG", TOPIC, 1), Some(0));
    consumer.seek(&mq(0), 13).unwrap();
    let again = consumer.poll(Duration::from_millis(500)).await.unwrap();
    assert_eq!(
        again.iter().map(|m| m.queue_offset).collect::<Vec<_>>(),
        vec![13, 14]
    );
    assert!(consumer
        .seek(&MessageQueue::new(TOPIC, "broker-x", 0), 1)
        .is_err());
    // A second consumer of the group starts from the committed offset.
    let other = PullConsumer::new("PCG", c.config("p2"));
    other.assign(vec![mq(0)]).await.unwrap();
    assert_eq!(other.position(&mq(0)), Some(15));
    consumer.shutdown().await;
    c.shutdown().await;
}

/// A broker that does not know the group (a new master after a failover answers pulls with
/// SUBSCRIPTION_NOT_EXIST until the group's heartbeat): the consumer heartbeats at once instead of
/// at its 30 s heartbeat period, and the next pull gets the message.
#[tokio::test]
async fn a_broker_that_lost_the_group_gets_a_heartbeat_at_once() {
    let c = consume_cluster(TOPIC, 1, &["CG"]).await;
    c.broker.put(TOPIC, 0, "first", "TagA");
    let (consumer, received) = consumer(
        &c,
        "CG",
        "c1",
        ConsumerConfig {
            pull_exception_delay_ms: 100,
            ..from_first()
        },
        "*",
    );
    consumer.start().await.expect("start");
    eventually("the first message", || received.lock().unwrap().len() == 1).await;
    let heartbeats = {
        let mut state = c.broker.state.lock().unwrap();
        state.forget_groups = true;
        state.heartbeats.len()
    };
    // The pull held when the flag was set may still answer normally; wait for a refused one.
    eventually("a refused pull", || {
        c.broker.state.lock().unwrap().refused_pulls > 0
    })
    .await;
    c.broker.put(TOPIC, 0, "second", "TagA");
    // Well inside the 30 s heartbeat period: only the answer to SUBSCRIPTION_NOT_EXIST can do it.
    wait_until("the second message", Duration::from_secs(15), || {
        received.lock().unwrap().len() == 2
    })
    .await;
    assert!(c.broker.state.lock().unwrap().heartbeats.len() > heartbeats);
    consumer.shutdown().await;
    c.shutdown().await;
}
