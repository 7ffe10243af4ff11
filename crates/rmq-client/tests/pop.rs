//! [`SimpleConsumer`] (POP) against a real in-process name server and broker (port 0, temp dirs,
//! the system clock): receive → ack, unacked messages coming back after their invisible time,
//! a changed invisible time, and two members of a group sharing a topic.
//!
//! "Nothing came back" is never concluded from waiting: the broker's count of open checkpoints
//! says nothing can come back, and a control message that does come back shows the revive ran
//! past the time the others would have.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait::{wait_for, wait_until};
use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{
    Admin, ClientConfig, ConsumeFromWhere, Message, PoppedMessage, Producer, SimpleConsumer, TopicConfig,
};
use rmq_namesrv::{NameServer, NamesrvConfig};
use rmq_protocol::pop::{ReceiptHandle, TopicKind};

const DEADLINE: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_secs(1);
/// Long enough to ack a batch in time on a loaded machine.
const MID: Duration = Duration::from_secs(3);
const LONG: Duration = Duration::from_secs(60);
/// Poll time of the receives that wait for something to come.
const POLL: Duration = Duration::from_secs(2);

struct Env {
    _dir: tempfile::TempDir,
    namesrv: NameServer,
    broker: Broker,
    namesrv_addr: String,
    producer: Producer,
}

impl Env {
    async fn start(topic: &str, queues: i32) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let namesrv = NameServer::start(NamesrvConfig {
            listen_port: 0,
            listen_addr: "127.0.0.1".into(),
            kv_config_path: None,
            ..Default::default()
        })
        .await
        .expect("namesrv");
        let namesrv_addr = format!("127.0.0.1:{}", namesrv.local_addr().port());
        let mut config = BrokerConfig {
            broker_name: "broker-a".into(),
            broker_ip1: "127.0.0.1".into(),
            listen_port: 0,
            namesrv_addr: vec![namesrv_addr.clone()],
            ..Default::default()
        };
        config.store.store_path_root_dir = dir.path().to_path_buf();
        config.store.mapped_file_size_commit_log = 4 * 1024 * 1024;
        config.store.mapped_file_size_consume_queue = 1000 * 20;
        config.store.max_hash_slot_num = 1000;
        config.store.max_index_num = 4000;
        let broker = Broker::start(config).await.expect("broker");
        let admin = Admin::new(client_config(&namesrv_addr, "admin"));
        let topic_config = TopicConfig {
            read_queue_nums: queues,
            write_queue_nums: queues,
            ..TopicConfig::new(topic)
        };
        admin
            .create_topic(
                &format!("127.0.0.1:{}", broker.local_addr().port()),
                &topic_config,
            )
            .await
            .expect("create topic");
        wait_for("the topic at the name server", DEADLINE, || async {
            admin.topic_route(topic).await.ok()
        })
        .await;
        let producer = Producer::new("PG", client_config(&namesrv_addr, "producer"));
        producer.start().await.expect("producer");
        Env {
            _dir: dir,
            namesrv,
            broker,
            namesrv_addr,
            producer,
        }
    }

    async fn send(&self, topic: &str, bodies: &[String]) {
        for body in bodies {
            self.producer
                .send(Message::new(topic, body.clone()).with_tags("TagA"))
                .await
                .expect("send");
        }
    }

    async fn consumer(&self, group: &str, instance: &str, topic: &str) -> SimpleConsumer {
        let c = SimpleConsumer::new(group, client_config(&self.namesrv_addr, instance))
            .with_consume_from_where(ConsumeFromWhere::FirstOffset);
        c.subscribe(topic, "*").unwrap();
        c.start().await.expect("start");
        c
    }

    /// Checkpoints the broker holds open: popped messages neither acked nor revived yet.
    fn unacked(&self) -> usize {
        self.broker.state().pop.unacked_messages()
    }

    /// Messages revived into the group's pop retry topic so far.
    fn revived(&self, group: &str, topic: &str) -> i64 {
        let retry = rmq_protocol::pop::retry_topic_v1(group, topic);
        self.broker.state().store.max_offset_in_queue(&retry, 0)
    }

    async fn shutdown(self) {
        self.producer.shutdown().await;
        self.broker.shutdown().await.expect("broker shutdown");
        self.namesrv.shutdown().await;
    }
}

fn client_config(namesrv: &str, instance: &str) -> ClientConfig {
    ClientConfig {
        namesrv_addr: vec![namesrv.to_owned()],
        client_ip: "127.0.0.1".into(),
        instance_name: instance.into(),
        ..Default::default()
    }
}

fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn body(m: &PoppedMessage) -> String {
    String::from_utf8_lossy(&m.message.body).into_owned()
}

/// Receives until `n` messages came (each receive may bring some).
async fn receive_n(c: &SimpleConsumer, n: usize, invisible: Duration) -> Vec<PoppedMessage> {
    let got = Mutex::new(Vec::new());
    wait_for("messages to be received", DEADLINE, || async {
        let more = c.receive(32, invisible, POLL).await.unwrap();
        let mut got = got.lock().unwrap();
        got.extend(more);
        (got.len() >= n).then_some(())
    })
    .await;
    let got = got.into_inner().unwrap();
    assert_eq!(got.len(), n, "more than asked for");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn received_and_acked_messages_do_not_come_back() {
    let env = Env::start("PopAck", 2).await;
    env.send("PopAck", &bodies("a", 3)).await;
    let c = env.consumer("PopAckG", "c1", "PopAck").await;
    let got = receive_n(&c, 3, MID).await;
    let names: BTreeSet<String> = got.iter().map(body).collect();
    assert_eq!(names, bodies("a", 3).into_iter().collect());
    for m in &got {
        assert_eq!(m.message.topic, "PopAck");
        assert_eq!(m.real_topic, "PopAck");
        assert_eq!(m.message.reconsume_times, 0);
        assert_eq!((m.broker_name.as_str(), m.invisible_time), ("broker-a", 3000));
        let handle = ReceiptHandle::parse(&m.receipt_handle).unwrap();
        assert_eq!(handle.kind, TopicKind::Normal);
        assert_eq!(
            (handle.queue_id, handle.msg_offset),
            (m.message.queue_id, m.message.queue_offset)
        );
        c.ack(m).await.expect("ack");
    }
    assert_eq!(env.unacked(), 0, "every checkpoint closed by the acks");

    // A control message popped later for as long and left unacked comes back; the acked
    // ones, due earlier, did not.
    env.send("PopAck", &["control".to_owned()]).await;
    let control = receive_n(&c, 1, MID).await;
    assert_eq!(body(&control[0]), "control");
    let back = receive_n(&c, 1, MID).await;
    assert_eq!(body(&back[0]), "control");
    assert_eq!(back[0].message.reconsume_times, 1);
    assert_eq!(
        env.revived("PopAckG", "PopAck"),
        1,
        "only the control was revived"
    );
    c.ack(&back[0]).await.expect("ack");
    assert_eq!(env.unacked(), 0);
    c.shutdown().await;
    assert!(
        c.receive(1, SHORT, POLL).await.is_err(),
        "no receive after shutdown"
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unacked_message_comes_back_after_its_invisible_time() {
    let env = Env::start("PopBack", 4).await;
    env.send("PopBack", &["once".to_owned()]).await;
    let c = env.consumer("PopBackG", "c1", "PopBack").await;
    let first = receive_n(&c, 1, SHORT).await.remove(0);
    assert_eq!(first.message.reconsume_times, 0);
    let back = receive_n(&c, 1, SHORT).await.remove(0);
    assert_eq!(body(&back), "once");
    assert_eq!(back.message.reconsume_times, 1);
    assert!(
        back.pop_time >= first.pop_time + first.invisible_time,
        "not before the invisible time: popped at {} then {}",
        first.pop_time,
        back.pop_time
    );
    // Shown under the topic it was sent to; acked in the pop retry topic it now sits in.
    assert_eq!(back.message.topic, "PopBack");
    assert_eq!(back.real_topic, "%RETRY%PopBackG_PopBack");
    assert_eq!(
        ReceiptHandle::parse(&back.receipt_handle).unwrap().kind,
        TopicKind::RetryV1
    );
    assert_eq!(
        back.message.properties.get("1ST_POP_TIME"),
        Some(&first.pop_time.to_string())
    );
    c.ack(&back).await.expect("ack of a retried message");
    assert_eq!(env.unacked(), 0);
    c.shutdown().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_invisible_duration_replaces_the_old_one() {
    let env = Env::start("PopChange", 1).await;
    env.send("PopChange", &["slow".to_owned(), "kept".to_owned()])
        .await;
    let c = env.consumer("PopChangeG", "c1", "PopChange").await;
    let got = receive_n(&c, 2, LONG).await;
    let by_body: BTreeMap<String, &PoppedMessage> = got.iter().map(|m| (body(m), m)).collect();

    // "kept": a new handle, which the ack must use.
    let kept = c
        .change_invisible_duration(by_body["kept"], LONG)
        .await
        .expect("change");
    assert_ne!(kept.receipt_handle, by_body["kept"].receipt_handle);
    c.ack(&kept).await.expect("ack with the new handle");

    // "slow": back after 1 s instead of 60.
    let slow = c
        .change_invisible_duration(by_body["slow"], SHORT)
        .await
        .expect("change");
    assert_eq!(slow.invisible_time, 1000);
    assert!(slow.pop_time >= by_body["slow"].pop_time);
    let back = receive_n(&c, 1, LONG).await.remove(0);
    assert_eq!(body(&back), "slow");
    assert_eq!(back.message.reconsume_times, 1);
    assert!(back.pop_time >= slow.pop_time + 1000);
    assert!(back.pop_time < by_body["slow"].pop_time + 60_000);
    c.ack(&back).await.expect("ack");
    // Both old checkpoints were closed by the changes, the new ones by the acks.
    assert_eq!(env.unacked(), 0);
    assert_eq!(env.revived("PopChangeG", "PopChange"), 1);
    c.shutdown().await;
    env.shutdown().await;
}

/// One receive as a member saw it: what, when popped and for how long, and when acked.
#[derive(Clone)]
struct Acked {
    body: String,
    pop_time: i64,
    invisible_time: i64,
    acked_at_ms: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_members_of_a_group_share_a_topic_and_each_message_is_acked_once() {
    const N: usize = 200;
    let env = Env::start("PopShare", 4).await;
    let c1 = Arc::new(env.consumer("PopShareG", "c1", "PopShare").await);
    let c2 = Arc::new(env.consumer("PopShareG", "c2", "PopShare").await);
    let acks: Arc<Mutex<Vec<(usize, Acked)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (member, c) in [(1, c1.clone()), (2, c2.clone())] {
        let (acks, stop) = (acks.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for m in c.receive(8, Duration::from_secs(20), SHORT).await.unwrap() {
                    c.ack(&m).await.unwrap();
                    let acked = Acked {
                        body: body(&m),
                        pop_time: m.pop_time,
                        invisible_time: m.invisible_time,
                        acked_at_ms: rmq_protocol::time::now_ms(),
                    };
                    acks.lock().unwrap().push((member, acked));
                }
            }
        }));
    }
    let sent = bodies("s", N);
    env.send("PopShare", &sent).await;
    wait_until("every message acked", DEADLINE, || {
        let acks = acks.lock().unwrap();
        acks.iter().map(|(_, a)| &a.body).collect::<BTreeSet<_>>().len() == N
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    let mut per_body: BTreeMap<&str, Vec<&Acked>> = BTreeMap::new();
    for (_, a) in &acks {
        per_body.entry(&a.body).or_default().push(a);
    }
    assert_eq!(per_body.keys().map(|b| b.to_string()).collect::<Vec<_>>(), {
        let mut s = sent.clone();
        s.sort();
        s
    });
    for (b, receipts) in &per_body {
        // A second delivery only after an ack that came too late.
        for earlier in &receipts[..receipts.len() - 1] {
            assert!(
                earlier.acked_at_ms > earlier.pop_time + earlier.invisible_time,
                "{b} delivered {} times though acked in time",
                receipts.len()
            );
        }
    }
    for member in [1, 2] {
        assert!(
            acks.iter().any(|(m, _)| *m == member),
            "member {member} got nothing"
        );
    }
    assert_eq!(env.unacked(), 0);
    c1.shutdown().await;
    c2.shutdown().await;
    env.shutdown().await;
}
