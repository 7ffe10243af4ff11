//! The consumers against a real in-process name server and broker (port 0, temp dirs).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::wait::{wait_for, wait_until, Gate};
use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{
    Admin, ClientConfig, ConsumeFromWhere, ConsumeStatus, ConsumerConfig, Message, MessageModel,
    MessageQueue, Producer, PushConsumer, TopicConfig,
};
use rmq_namesrv::{NameServer, NamesrvConfig};

// Generous: some paths wait for the 20 s periodic rebalance on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

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

    async fn send(&self, topic: &str, n: usize, prefix: &str) -> BTreeSet<String> {
        let mut bodies = BTreeSet::new();
        for i in 0..n {
            let body = format!("{prefix}{i}");
            self.producer
                .send(Message::new(topic, body.clone()).with_tags("TagA"))
                .await
                .expect("send");
            bodies.insert(body);
        }
        bodies
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

async fn eventually(what: &str, cond: impl FnMut() -> bool) {
    wait_until(what, DEADLINE, cond).await;
}

type Bodies = Arc<Mutex<Vec<String>>>;

fn consumer(
    env: &Env,
    group: &str,
    instance: &str,
    topic: &str,
    config: ConsumerConfig,
) -> (PushConsumer, Bodies) {
    let consumer = PushConsumer::new(group, client_config(&env.namesrv_addr, instance), config);
    consumer.subscribe(topic, "*").unwrap();
    let bodies: Bodies = Arc::default();
    let sink = bodies.clone();
    consumer.register_listener(move |msgs| {
        let mut sink = sink.lock().unwrap();
        sink.extend(msgs.iter().map(|m| String::from_utf8_lossy(&m.body).into_owned()));
        ConsumeStatus::ConsumeSuccess
    });
    (consumer, bodies)
}

fn first() -> ConsumerConfig {
    ConsumerConfig {
        consume_from_where: ConsumeFromWhere::FirstOffset,
        ..Default::default()
    }
}

fn set(bodies: &Bodies) -> BTreeSet<String> {
    bodies.lock().unwrap().iter().cloned().collect()
}

fn owned(c: &PushConsumer, topic: &str) -> Vec<MessageQueue> {
    c.assigned_queues()
        .into_iter()
        .filter(|q| q.topic == topic)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_consumer_receives_every_message() {
    let env = Env::start("T1", 4).await;
    let sent = env.send("T1", 100, "m").await;
    let (c, got) = consumer(&env, "CG1", "c1", "T1", first());
    c.start().await.expect("start");
    eventually("100 messages", || got.lock().unwrap().len() >= 100).await;
    assert_eq!(set(&got), sent);
    // Later messages arrive through long polling.
    let more = env.send("T1", 10, "late").await;
    eventually("10 more", || got.lock().unwrap().len() >= 110).await;
    assert!(more.is_subset(&set(&got)));
    // The listener sees a batch before its offsets advance: wait for the consumer's own offsets
    // (a fresh topic, so the offsets of all queues add up to the number consumed).
    eventually("offsets to cover all 110", || {
        let queues = owned(&c, "T1");
        queues
            .iter()
            .map(|q| c.consume_offset(q).unwrap_or(0))
            .sum::<i64>()
            == 110
    })
    .await;
    c.shutdown().await;
    // The final commit is oneway: poll the broker until it has applied it.
    let admin = Admin::new(client_config(&env.namesrv_addr, "a"));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stats = admin
            .consume_stats("CG1", Some("T1"))
            .await
            .expect("consume stats");
        let lag: i64 = stats
            .offset_table
            .values()
            .map(|o| o.broker_offset - o.consumer_offset)
            .sum();
        if lag == 0 {
            // Pulled within the last minute: the group's consume TPS is not 0 (Java's
            // GROUP_GET_NUMS per-minute rate).
            assert!(stats.consume_tps > 0.0, "consumeTps {}", stats.consume_tps);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "offsets committed on shutdown leave a lag of {lag}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consumers_split_queues_and_get_each_message_once() {
    let env = Env::start("T2", 4).await;
    let (c1, got1) = consumer(&env, "CG2", "c1", "T2", first());
    let (c2, got2) = consumer(&env, "CG2", "c2", "T2", first());
    c1.start().await.expect("start c1");
    c2.start().await.expect("start c2");
    eventually("the split", || {
        owned(&c1, "T2").len() == 2 && owned(&c2, "T2").len() == 2
    })
    .await;
    let sent = env.send("T2", 200, "m").await;
    eventually("200 messages", || {
        got1.lock().unwrap().len() + got2.lock().unwrap().len() >= 200
    })
    .await;
    // The consumers' offsets cover all 200 (a fresh topic): every message went through a
    // listener, so whatever was delivered twice is in the lists by now.
    eventually("the offsets to cover all 200", || {
        let consumed = |c: &PushConsumer| {
            owned(c, "T2")
                .iter()
                .map(|q| c.consume_offset(q).unwrap_or(0))
                .sum::<i64>()
        };
        consumed(&c1) + consumed(&c2) == 200
    })
    .await;
    let (a, b) = (got1.lock().unwrap().clone(), got2.lock().unwrap().clone());
    assert_eq!(a.len() + b.len(), 200, "each message exactly once");
    let all: BTreeSet<String> = a.iter().chain(b.iter()).cloned().collect();
    assert_eq!(all, sent);
    assert!(!a.is_empty() && !b.is_empty());
    c1.shutdown().await;
    c2.shutdown().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcasting_consumers_each_receive_everything() {
    let env = Env::start("T3", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let config = ConsumerConfig {
        message_model: MessageModel::Broadcasting,
        offset_store_dir: Some(dir.path().to_path_buf()),
        ..first()
    };
    let (b1, got1) = consumer(&env, "BG3", "b1", "T3", config.clone());
    let (b2, got2) = consumer(&env, "BG3", "b2", "T3", config);
    b1.start().await.expect("start b1");
    b2.start().await.expect("start b2");
    let sent = env.send("T3", 50, "m").await;
    eventually("both got 50", || {
        got1.lock().unwrap().len() >= 50 && got2.lock().unwrap().len() >= 50
    })
    .await;
    assert_eq!(set(&got1), sent);
    assert_eq!(set(&got2), sent);
    b1.shutdown().await;
    b2.shutdown().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocked_listener_caches_at_most_the_threshold() {
    let env = Env::start("T4", 2).await;
    let sent = env.send("T4", 300, "m").await;
    let config = ConsumerConfig {
        pull_threshold_for_queue: 50,
        ..first()
    };
    let consumer = PushConsumer::new("CG4", client_config(&env.namesrv_addr, "c1"), config);
    consumer.subscribe("T4", "*").unwrap();
    let gate = Gate::default();
    let _unblock = gate.open_on_drop();
    let got: Bodies = Arc::default();
    let (g, sink) = (gate.clone(), got.clone());
    consumer.register_listener(move |msgs| {
        g.wait();
        sink.lock()
            .unwrap()
            .extend(msgs.iter().map(|m| String::from_utf8_lossy(&m.body).into_owned()));
        ConsumeStatus::ConsumeSuccess
    });
    consumer.start().await.expect("start");
    let queues: Vec<MessageQueue> = (0..2).map(|q| MessageQueue::new("T4", "broker-a", q)).collect();
    eventually("both caches full", || {
        queues.iter().all(|q| consumer.cached_msg_count(q) == Some(50))
    })
    .await;
    eventually("flow control", || consumer.flow_control_hits() > 2).await;
    // Each new flow-control hit is a pull postponed after a look at a full cache.
    for _ in 0..20 {
        let hits = consumer.flow_control_hits();
        eventually("another flow-control hit", || consumer.flow_control_hits() > hits).await;
        for q in &queues {
            assert!(consumer.cached_msg_count(q).unwrap() <= 50);
        }
    }
    gate.open();
    eventually("all 300", || got.lock().unwrap().len() >= 300).await;
    assert_eq!(set(&got), sent);
    consumer.shutdown().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_consumer_loses_nothing() {
    let env = Env::start("T5", 4).await;
    let sent = env.send("T5", 200, "m").await;
    let config = || ConsumerConfig {
        persist_offset_interval_ms: 200,
        ..first()
    };
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let listener = |seen: Arc<Mutex<HashMap<String, u32>>>| {
        move |msgs: &[rmq_client::MessageExt]| {
            std::thread::sleep(Duration::from_millis(2));
            let mut seen = seen.lock().unwrap();
            for m in msgs {
                *seen
                    .entry(String::from_utf8_lossy(&m.body).into_owned())
                    .or_default() += 1;
            }
            ConsumeStatus::ConsumeSuccess
        }
    };
    let c1 = PushConsumer::new("CG5", client_config(&env.namesrv_addr, "c1"), config());
    c1.subscribe("T5", "*").unwrap();
    c1.register_listener(listener(seen.clone()));
    c1.start().await.expect("start c1");
    eventually("some progress", || seen.lock().unwrap().len() >= 60).await;
    drop(c1); // a crash: no final persist, no unregister
    let c2 = PushConsumer::new("CG5", client_config(&env.namesrv_addr, "c2"), config());
    c2.subscribe("T5", "*").unwrap();
    c2.register_listener(listener(seen.clone()));
    c2.start().await.expect("start c2");
    eventually("every message at least once", || {
        seen.lock().unwrap().len() >= 200
    })
    .await;
    let keys: BTreeSet<String> = seen.lock().unwrap().keys().cloned().collect();
    assert_eq!(keys, sent);
    c2.shutdown().await;
    env.shutdown().await;
}
