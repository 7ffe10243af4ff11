//! Issue #5 client features against a real in-process name server and broker: send-back,
//! retry and DLQ, resend from the DLQ, message queries, transactions, orderly consumption.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait::{wait_for, wait_until};
use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{
    Admin, ClientConfig, ConsumeFromWhere, ConsumeOrderlyStatus, ConsumeStatus, ConsumerConfig, Message,
    MessageExt, Producer, PushConsumer, TopicConfig,
};
use rmq_client::{LocalTransactionState, TransactionListener, TransactionProducer};
use rmq_namesrv::{NameServer, NamesrvConfig};

const DEADLINE: Duration = Duration::from_secs(60);

struct Env {
    _dir: tempfile::TempDir,
    namesrv: NameServer,
    broker: Broker,
    namesrv_addr: String,
    broker_addr: String,
    admin: Admin,
}

impl Env {
    /// A broker whose delay levels are all one second and whose transaction checks run every
    /// second on half messages older than a second.
    async fn start() -> Env {
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
            transaction_check_interval_ms: 1000,
            transaction_timeout_ms: 1000,
            ..Default::default()
        };
        config.store.store_path_root_dir = dir.path().to_path_buf();
        config.store.mapped_file_size_commit_log = 4 * 1024 * 1024;
        config.store.mapped_file_size_consume_queue = 1000 * 20;
        config.store.max_hash_slot_num = 1000;
        config.store.max_index_num = 4000;
        config.store.message_delay_level = vec!["1s"; 18].join(" ");
        let broker = Broker::start(config).await.expect("broker");
        let broker_addr = format!("127.0.0.1:{}", broker.local_addr().port());
        let admin = Admin::new(client_config(&namesrv_addr, "admin"));
        Env {
            _dir: dir,
            namesrv,
            broker,
            namesrv_addr,
            broker_addr,
            admin,
        }
    }

    async fn create_topic(&self, topic: &str, queues: i32) {
        let tc = TopicConfig {
            read_queue_nums: queues,
            write_queue_nums: queues,
            ..TopicConfig::new(topic)
        };
        self.admin
            .create_topic(&self.broker_addr, &tc)
            .await
            .expect("create topic");
        wait_for("the topic at the name server", DEADLINE, || async {
            self.admin.topic_route(topic).await.ok()
        })
        .await;
    }

    async fn producer(&self, group: &str) -> Producer {
        let p = Producer::new(group, client_config(&self.namesrv_addr, group));
        p.start().await.expect("producer");
        p
    }

    fn config(&self, instance: &str) -> ClientConfig {
        client_config(&self.namesrv_addr, instance)
    }

    async fn shutdown(self) {
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

fn consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        consume_from_where: ConsumeFromWhere::FirstOffset,
        rebalance_interval_ms: 1000,
        ..Default::default()
    }
}

async fn eventually(what: &str, cond: impl FnMut() -> bool) {
    wait_until(what, DEADLINE, cond).await;
}

async fn eventually_async<F, Fut, T>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_for(what, DEADLINE, f).await
}

/// Whether `c` owns `queues` queues of `topic` and its offset in each is the broker's max offset:
/// every message there has been through its listener, so nothing more is on its way from them.
fn caught_up(env: &Env, c: &PushConsumer, topic: &str, queues: usize) -> bool {
    let store = &env.broker.state().store;
    let owned = owned(c, topic);
    owned.len() == queues
        && owned
            .iter()
            .all(|q| c.consume_offset(q).unwrap_or(0) == store.max_offset_in_queue(topic, q.queue_id))
}

/// Whether the delay service has re-put every parked message (its offset at the end of every
/// level's queue; a level's offset moves only after its re-puts are stored).
fn schedule_drained(env: &Env) -> bool {
    let state = env.broker.state();
    let offsets = state.schedule.offsets();
    (1..=state.schedule.max_level()).all(|level| {
        let parked = state.store.max_offset_in_queue("SCHEDULE_TOPIC_XXXX", level - 1);
        offsets.get(&level).copied().unwrap_or(0) >= parked
    })
}

fn body(m: &MessageExt) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

/// (topic, body, reconsume times) of every delivery.
type Deliveries = Arc<Mutex<Vec<(String, String, i32)>>>;

fn recording_consumer(
    env: &Env,
    group: &str,
    instance: &str,
    topic: &str,
    status: ConsumeStatus,
) -> (PushConsumer, Deliveries) {
    let config = ConsumerConfig {
        max_reconsume_times: 2,
        ..consumer_config()
    };
    let c = PushConsumer::new(group, env.config(instance), config);
    c.subscribe(topic, "*").unwrap();
    let seen: Deliveries = Arc::default();
    let sink = seen.clone();
    c.register_listener(move |msgs| {
        let mut sink = sink.lock().unwrap();
        sink.extend(msgs.iter().map(|m| (m.topic.clone(), body(m), m.reconsume_times)));
        status
    });
    (c, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_listener_retries_then_dead_letters_and_resend_brings_it_back() {
    let env = Env::start().await;
    env.create_topic("TR", 2).await;
    let producer = env.producer("PG_R").await;
    let sent = producer
        .send(Message::new("TR", "poison").with_keys("K1"))
        .await
        .expect("send");

    let (failing, seen) = recording_consumer(&env, "CG_R", "c1", "TR", ConsumeStatus::ReconsumeLater);
    failing.start().await.expect("start");
    eventually("3 deliveries", || seen.lock().unwrap().len() >= 3).await;
    let dlq = eventually_async("the message in the DLQ", || async {
        env.admin
            .query_message_by_unique_key("%DLQ%CG_R", &sent.msg_id)
            .await
            .ok()
    })
    .await;
    // No fourth delivery: the third failure went to the DLQ. Once the delay service has re-put
    // everything parked and the consumer stands at the end of the topic and of its retry topic,
    // no delivery is on its way anywhere.
    eventually("nothing in flight", || {
        schedule_drained(&env)
            && caught_up(&env, &failing, "TR", 2)
            && caught_up(&env, &failing, "%RETRY%CG_R", 1)
    })
    .await;
    let got = seen.lock().unwrap().clone();
    let want: Vec<(String, String, i32)> = (0..=2)
        .map(|n| ("TR".to_string(), "poison".to_string(), n))
        .collect();
    assert_eq!(
        got, want,
        "max_reconsume_times + 1 deliveries, original topic restored"
    );
    assert_eq!(body(&dlq), "poison");
    assert_eq!(dlq.properties.get("RETRY_TOPIC").map(String::as_str), Some("TR"));
    failing.shutdown().await;

    // By key, on the original topic.
    let by_key = env
        .admin
        .query_message_by_key("TR", "K1", 32, 0, i64::MAX)
        .await
        .expect("query by key");
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key[0].client_msg_id(), sent.msg_id);
    let by_uniq = env
        .admin
        .query_message_by_unique_key("TR", &sent.msg_id)
        .await
        .expect("query by unique key");
    assert_eq!(by_uniq.msg_id, sent.offset_msg_id);
    assert!(env
        .admin
        .query_message_by_key("TR", "nope", 32, 0, i64::MAX)
        .await
        .unwrap()
        .is_empty());

    // Resend, and a healthy consumer of another group sees it on the original topic.
    let (healthy, got) = recording_consumer(&env, "CG_R2", "c2", "TR", ConsumeStatus::ConsumeSuccess);
    healthy.start().await.expect("start healthy");
    eventually("the original", || !got.lock().unwrap().is_empty()).await;
    let resent = env.admin.resend_from_dlq(&dlq.msg_id).await.expect("resend");
    assert_eq!(resent.message_queue.topic, "TR");
    assert_eq!(resent.msg_id, sent.msg_id, "the copy keeps its UNIQ_KEY");
    eventually("the resent copy", || got.lock().unwrap().len() >= 2).await;
    assert_eq!(
        got.lock().unwrap()[1],
        ("TR".to_string(), "poison".to_string(), 0)
    );
    healthy.shutdown().await;
    producer.shutdown().await;
    env.shutdown().await;
}

struct Decide {
    checks: Arc<Mutex<Vec<String>>>,
}

impl TransactionListener for Decide {
    fn execute_local(&self, msg: &Message) -> LocalTransactionState {
        assert!(msg.uniq_key().is_some(), "the message carries its id");
        match &msg.body[..] {
            b"commit" => LocalTransactionState::CommitMessage,
            b"rollback" => LocalTransactionState::RollbackMessage,
            _ => LocalTransactionState::Unknow,
        }
    }

    fn check_local(&self, msg: &MessageExt) -> LocalTransactionState {
        self.checks.lock().unwrap().push(body(msg));
        assert_eq!(msg.topic, "TX", "the check carries the real topic");
        LocalTransactionState::CommitMessage
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_commit_rollback_and_check_back() {
    let env = Env::start().await;
    env.create_topic("TX", 2).await;
    let checks: Arc<Mutex<Vec<String>>> = Arc::default();
    let producer = TransactionProducer::new(
        "PG_TX",
        env.config("tx"),
        Decide {
            checks: checks.clone(),
        },
    );
    producer.start().await.expect("start");
    let (consumer, seen) = recording_consumer(&env, "CG_TX", "c1", "TX", ConsumeStatus::ConsumeSuccess);
    consumer.start().await.expect("start consumer");

    let mut states = Vec::new();
    for b in ["commit", "rollback", "unknown"] {
        let r = producer
            .send_message_in_transaction(Message::new("TX", b))
            .await
            .expect("send in transaction");
        assert_eq!(r.send_result.message_queue.topic, "TX");
        states.push(r.local_state);
    }
    assert_eq!(
        states,
        [
            LocalTransactionState::CommitMessage,
            LocalTransactionState::RollbackMessage,
            LocalTransactionState::Unknow
        ]
    );
    eventually("the committed and the checked message", || {
        seen.lock().unwrap().len() >= 2
    })
    .await;
    // Anything wrong (a rollback delivered, a duplicate) shows once nothing is in flight: the
    // check service has decided every half message (its progress at the end of the half queue,
    // the copies made for checks included) and the consumer stands at the end of TX.
    let state = env.broker.state();
    eventually_async("every half message decided", || async {
        let progress = state.transactions.progress(state).await;
        let halves = state.store.max_offset_in_queue("RMQ_SYS_TRANS_HALF_TOPIC", 0);
        (progress.half_offset >= halves).then_some(())
    })
    .await;
    eventually("the consumer at the end of TX", || {
        caught_up(&env, &consumer, "TX", 2)
    })
    .await;
    let mut bodies: Vec<String> = seen.lock().unwrap().iter().map(|(_, b, _)| b.clone()).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        ["commit", "unknown"],
        "commit once, rollback never, unknown after the check"
    );
    assert!(checks.lock().unwrap().iter().all(|b| b == "unknown"));
    assert!(!checks.lock().unwrap().is_empty());
    consumer.shutdown().await;
    producer.shutdown().await;
    env.shutdown().await;
}

/// (consumer, queue id, order, step, reconsume times) of every delivery, in delivery order.
type OrderlyLog = Arc<Mutex<Vec<(String, i32, u32, u32, i32)>>>;

fn orderly_consumer(
    env: &Env,
    instance: &str,
    log: &OrderlyLog,
    suspended: &Arc<Mutex<bool>>,
) -> PushConsumer {
    let c = PushConsumer::new("CG_O", env.config(instance), consumer_config());
    c.subscribe("TO", "*").unwrap();
    let (log, suspended, me) = (log.clone(), suspended.clone(), instance.to_owned());
    c.register_orderly_listener(move |msgs| {
        assert_eq!(msgs.len(), 1, "one message per batch");
        let m = &msgs[0];
        let text = body(m);
        let (order, step) = text.split_once(':').unwrap();
        let (order, step): (u32, u32) = (order.parse().unwrap(), step.parse().unwrap());
        log.lock()
            .unwrap()
            .push((me.clone(), m.queue_id, order, step, m.reconsume_times));
        std::thread::sleep(Duration::from_millis(5));
        let mut suspended = suspended.lock().unwrap();
        if (order, step) == (0, 1) && !*suspended {
            *suspended = true;
            return ConsumeOrderlyStatus::SuspendCurrentQueueAMoment;
        }
        ConsumeOrderlyStatus::Success
    });
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orderly_consumers_keep_each_order_in_sequence() {
    let env = Env::start().await;
    env.create_topic("TO", 4).await;
    let log: OrderlyLog = Arc::default();
    let suspended = Arc::new(Mutex::new(false));
    let c1 = orderly_consumer(&env, "o1", &log, &suspended);
    let c2 = orderly_consumer(&env, "o2", &log, &suspended);
    c1.start().await.expect("start c1");
    eventually("c1 owns every queue", || owned(&c1, "TO").len() == 4).await;
    c2.start().await.expect("start c2");
    // c2 gets its half only once c1 has let the locks go.
    eventually("the split", || {
        owned(&c1, "TO").len() == 2 && owned(&c2, "TO").len() == 2
    })
    .await;
    let (q1, q2) = (owned(&c1, "TO"), owned(&c2, "TO"));
    assert!(q1.iter().all(|q| !q2.contains(q)), "no queue owned twice");

    let producer = env.producer("PG_O").await;
    for step in 0..3u32 {
        for order in 0..20u32 {
            let msg = Message::new("TO", format!("{order}:{step}")).with_keys(format!("ORDER-{order}"));
            producer
                .send_with_selector(msg, |queues, _| order as usize % queues.len())
                .await
                .expect("send");
        }
    }
    eventually("every step (and one redelivery)", || {
        log.lock().unwrap().len() >= 61
    })
    .await;
    // Both consumers at the end of their queues: every message went through a listener, so
    // whatever was delivered twice is in the log by now.
    eventually("the consumers at the end of TO", || {
        caught_up(&env, &c1, "TO", 2) && caught_up(&env, &c2, "TO", 2)
    })
    .await;
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 61, "no duplicates: {log:?}");
    let mut per_order: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut consumer_of_queue: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
    for (who, queue, order, step, _) in &log {
        per_order.entry(*order).or_default().push(*step);
        consumer_of_queue.entry(*queue).or_default().insert(who.clone());
    }
    for (order, steps) in &per_order {
        let want: &[u32] = if *order == 0 { &[0, 1, 1, 2] } else { &[0, 1, 2] };
        assert_eq!(steps, want, "order {order}");
    }
    assert_eq!(per_order.len(), 20);
    assert!(
        consumer_of_queue.values().all(|who| who.len() == 1),
        "{consumer_of_queue:?}"
    );
    let who: BTreeSet<&String> = consumer_of_queue.values().flatten().collect();
    assert_eq!(who.len(), 2, "both consumers took part");
    let retried: Vec<i32> = log
        .iter()
        .filter(|(_, _, o, s, _)| (*o, *s) == (0, 1))
        .map(|e| e.4)
        .collect();
    assert_eq!(
        retried,
        [0, 1],
        "the suspended message comes back with reconsume_times 1"
    );

    c1.shutdown().await;
    c2.shutdown().await;
    producer.shutdown().await;
    env.shutdown().await;
}

fn owned(c: &PushConsumer, topic: &str) -> Vec<rmq_client::MessageQueue> {
    c.assigned_queues()
        .into_iter()
        .filter(|q| q.topic == topic)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orderly_suspends_then_dead_letters_and_moves_on() {
    let env = Env::start().await;
    env.create_topic("TOD", 1).await;
    let producer = env.producer("PG_OD").await;
    let poison = producer.send(Message::new("TOD", "poison")).await.expect("send");
    producer.send(Message::new("TOD", "next")).await.expect("send");
    let config = ConsumerConfig {
        max_reconsume_times: 1,
        ..consumer_config()
    };
    let c = PushConsumer::new("CG_OD", env.config("od"), config);
    c.subscribe("TOD", "*").unwrap();
    let seen: Arc<Mutex<Vec<(String, i32)>>> = Arc::default();
    let sink = seen.clone();
    c.register_orderly_listener(move |msgs| {
        let m = &msgs[0];
        sink.lock().unwrap().push((body(m), m.reconsume_times));
        if body(m) == "poison" {
            ConsumeOrderlyStatus::SuspendCurrentQueueAMoment
        } else {
            ConsumeOrderlyStatus::Success
        }
    });
    c.start().await.expect("start");
    eventually("next", || seen.lock().unwrap().iter().any(|(b, _)| b == "next")).await;
    let want = [
        ("poison".to_string(), 0),
        ("poison".to_string(), 1),
        ("next".to_string(), 0),
    ];
    assert_eq!(seen.lock().unwrap().clone(), want);
    let dead = eventually_async("poison in the DLQ", || async {
        env.admin
            .query_message_by_unique_key("%DLQ%CG_OD", &poison.msg_id)
            .await
            .ok()
    })
    .await;
    assert_eq!(body(&dead), "poison");
    c.shutdown().await;
    producer.shutdown().await;
    env.shutdown().await;
}
