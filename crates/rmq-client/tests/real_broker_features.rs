//! Issue #5 client features against a real in-process name server and broker: send-back,
//! retry and DLQ, resend from the DLQ, message queries, transactions, orderly consumption.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_broker::{Broker, BrokerConfig};
use rmq_client::{
    Admin, ClientConfig, ConsumeFromWhere, ConsumeStatus, ConsumerConfig, Message, MessageExt, Producer,
    PushConsumer, TopicConfig,
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
        let deadline = Instant::now() + DEADLINE;
        while self.admin.topic_route(topic).await.is_err() {
            assert!(Instant::now() < deadline, "topic never reached the name server");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn eventually_async<F, Fut, T>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
    // No fourth delivery: the third failure went to the DLQ.
    tokio::time::sleep(Duration::from_secs(3)).await;
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
    // Time for anything wrong (a rollback delivered, a duplicate) to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
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
