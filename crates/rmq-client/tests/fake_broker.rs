//! The producer against in-test servers over real sockets: one fake name server and two fake
//! brokers (`broker-a`, `broker-b`), all `rmq_remoting::Server`s on port 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_client::{ClientConfig, ClientError, Message, MessageQueue, Producer, SendStatus};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::SendMessageRequestHeader;
use rmq_protocol::message::{self, property};
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler, Server, ServerHandle};

/// One request as a fake broker saw it.
#[derive(Debug, Clone)]
struct Seen {
    code: i32,
    header: Option<SendMessageRequestHeader>,
    body: bytes::Bytes,
}

impl Seen {
    fn uniq_key(&self) -> Option<String> {
        let props = self.header.as_ref()?.properties.as_deref()?;
        message::decode_properties(props).get(property::UNIQ_KEY).cloned()
    }
}

struct FakeBroker {
    addr: Mutex<Option<SocketAddr>>,
    /// Answer the next send with SYSTEM_ERROR (once).
    fail_next_send: AtomicBool,
    /// Answer every send with this code instead of SUCCESS.
    send_code: Mutex<i32>,
    next_offset: AtomicI64,
    seen: Mutex<Vec<Seen>>,
}

impl FakeBroker {
    fn new() -> Arc<Self> {
        Arc::new(FakeBroker {
            addr: Mutex::new(None),
            fail_next_send: AtomicBool::new(false),
            send_code: Mutex::new(response_code::SUCCESS),
            next_offset: AtomicI64::new(0),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn sends(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.header.is_some()).collect()
    }

    fn answer_send(&self, req: &RemotingCommand, header: &SendMessageRequestHeader) -> RemotingCommand {
        if self.fail_next_send.swap(false, Ordering::SeqCst) {
            return RemotingCommand::response(response_code::SYSTEM_ERROR).with_remark("injected failure");
        }
        let code = *self.send_code.lock().unwrap();
        if code != response_code::SUCCESS {
            return RemotingCommand::response(code).with_remark("injected error");
        }
        let count = if header.batch {
            message::decode_batch(&req.body).map_or(1, |b| b.len())
        } else {
            1
        };
        let host = self.addr.lock().unwrap().expect("bound");
        let first = self.next_offset.fetch_add(count as i64, Ordering::SeqCst);
        let ids: Vec<String> = (0..count as i64)
            .map(|i| message::offset_msg_id(host, (first + i) * 100))
            .collect();
        RemotingCommand::response(response_code::SUCCESS)
            .with_ext("msgId", ids.join(","))
            .with_ext("queueId", header.queue_id.to_string())
            .with_ext("queueOffset", first.to_string())
            .with_ext("MSG_REGION", "DefaultRegion")
            .with_ext("TRACE_ON", "true")
    }
}

impl RequestHandler for FakeBroker {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            let is_send = matches!(
                req.code,
                request_code::SEND_MESSAGE_V2 | request_code::SEND_BATCH_MESSAGE
            );
            let header = if is_send {
                Some(SendMessageRequestHeader::decode_v2(&req.ext_fields).expect("send header"))
            } else {
                None
            };
            self.seen.lock().unwrap().push(Seen {
                code: req.code,
                header: header.clone(),
                body: req.body.clone(),
            });
            Some(match header {
                Some(h) => self.answer_send(&req, &h),
                None => RemotingCommand::response(response_code::SUCCESS),
            })
        })
    }
}

/// Answers GET_ROUTEINFO_BY_TOPIC from a fixed table of fastjson-style route bodies.
struct FakeNamesrv {
    routes: HashMap<String, String>,
    route_requests: Mutex<Vec<String>>,
}

impl RequestHandler for FakeNamesrv {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            if req.code != request_code::GET_ROUTEINFO_BY_TOPIC {
                return Some(RemotingCommand::response(
                    response_code::REQUEST_CODE_NOT_SUPPORTED,
                ));
            }
            let topic = req.ext("topic").unwrap_or_default().to_owned();
            self.route_requests.lock().unwrap().push(topic.clone());
            Some(match self.routes.get(&topic) {
                Some(json) => {
                    RemotingCommand::response(response_code::SUCCESS).with_body(json.clone().into_bytes())
                }
                None => RemotingCommand::response(response_code::TOPIC_NOT_EXIST).with_remark(format!(
                    "No topic route info in name server for the topic: {topic}"
                )),
            })
        })
    }
}

/// A route in the form a 4.9.3 Java name server writes: bare numeric `brokerAddrs` keys.
fn route_json(brokers: &[(&str, SocketAddr, i32, i32)]) -> String {
    let broker_datas: Vec<String> = brokers
        .iter()
        .map(|(name, addr, _, _)| {
            format!(r#"{{"brokerAddrs":{{0:"{addr}"}},"brokerName":"{name}","cluster":"DefaultCluster"}}"#)
        })
        .collect();
    let queue_datas: Vec<String> = brokers
        .iter()
        .map(|(name, _, queues, perm)| {
            format!(r#"{{"brokerName":"{name}","perm":{perm},"readQueueNums":{queues},"topicSysFlag":0,"writeQueueNums":{queues}}}"#)
        })
        .collect();
    format!(
        r#"{{"brokerDatas":[{}],"filterServerTable":{{}},"queueDatas":[{}]}}"#,
        broker_datas.join(","),
        queue_datas.join(",")
    )
}

struct Cluster {
    a: Arc<FakeBroker>,
    b: Arc<FakeBroker>,
    namesrv: Arc<FakeNamesrv>,
    servers: Vec<ServerHandle>,
    producer: Producer,
}

impl Cluster {
    async fn shutdown(self) {
        self.producer.shutdown().await;
        for s in self.servers {
            s.shutdown().await;
        }
    }
}

async fn bind(broker: &Arc<FakeBroker>) -> ServerHandle {
    let server = Server::bind("127.0.0.1:0", broker.clone())
        .await
        .expect("bind broker");
    *broker.addr.lock().unwrap() = Some(server.local_addr());
    server
}

/// `TopicTest` on both brokers (4 queues each); `TBW102` on broker-a only (8 queues, perm 7).
async fn cluster() -> Cluster {
    let (a, b) = (FakeBroker::new(), FakeBroker::new());
    let (sa, sb) = (bind(&a).await, bind(&b).await);
    let (addr_a, addr_b) = (sa.local_addr(), sb.local_addr());
    let mut routes = HashMap::new();
    routes.insert(
        "TopicTest".to_owned(),
        route_json(&[("broker-b", addr_b, 4, 6), ("broker-a", addr_a, 4, 6)]),
    );
    routes.insert("TBW102".to_owned(), route_json(&[("broker-a", addr_a, 8, 7)]));
    let namesrv = Arc::new(FakeNamesrv {
        routes,
        route_requests: Mutex::new(Vec::new()),
    });
    let sn = Server::bind("127.0.0.1:0", namesrv.clone())
        .await
        .expect("bind namesrv");
    let config = ClientConfig {
        namesrv_addr: vec![sn.local_addr().to_string()],
        client_ip: "127.0.0.1".into(),
        send_timeout_ms: 3000,
        ..Default::default()
    };
    let producer = Producer::new("PG_TEST", config);
    producer.start().await.expect("start");
    Cluster {
        a,
        b,
        namesrv,
        servers: vec![sa, sb, sn],
        producer,
    }
}

#[tokio::test]
async fn failed_send_on_broker_a_is_retried_on_broker_b() {
    let c = cluster().await;
    c.a.fail_next_send.store(true, Ordering::SeqCst);
    let mut results = Vec::new();
    // Round robin over 8 queues: within 8 sends broker-a is picked at least once.
    for i in 0..8 {
        let r = c
            .producer
            .send(Message::new("TopicTest", format!("m{i}")).with_tags("TagA"))
            .await
            .expect("send");
        assert_eq!(r.send_status, SendStatus::SendOk);
        results.push(r);
    }
    let a_sends = c.a.sends();
    let failed_key = a_sends[0].uniq_key().expect("UNIQ_KEY sent");
    let retried =
        c.b.sends()
            .into_iter()
            .find(|s| s.uniq_key().as_deref() == Some(failed_key.as_str()));
    assert!(
        retried.is_some(),
        "the message that failed on broker-a was not resent to broker-b"
    );
    let result = results
        .iter()
        .find(|r| r.msg_id == failed_key)
        .expect("result of the retried message");
    assert_eq!(result.message_queue.broker_name, "broker-b");
    assert_eq!(result.offset_msg_id.len(), 32);
    // Every message was stored exactly once.
    let stored = c.a.sends().len() - 1 + c.b.sends().len();
    assert_eq!(stored, 8);
    c.shutdown().await;
}

#[tokio::test]
async fn headers_and_results_follow_the_protocol() {
    let c = cluster().await;
    let r = c
        .producer
        .send(Message::new("TopicTest", "Hello").with_keys("K1"))
        .await
        .expect("send");
    let seen =
        c.a.sends()
            .into_iter()
            .chain(c.b.sends())
            .next()
            .expect("one send");
    assert_eq!(seen.code, request_code::SEND_MESSAGE_V2);
    let h = seen.header.clone().expect("header");
    assert_eq!(
        (
            h.producer_group.as_str(),
            h.topic.as_str(),
            h.default_topic.as_str()
        ),
        ("PG_TEST", "TopicTest", "TBW102")
    );
    assert_eq!(
        (h.default_topic_queue_nums, h.batch, &seen.body[..]),
        (4, false, &b"Hello"[..])
    );
    assert_eq!(h.bname.as_deref(), Some(r.message_queue.broker_name.as_str()));
    assert_eq!(h.queue_id, r.message_queue.queue_id);
    assert_eq!(seen.uniq_key().as_deref(), Some(r.msg_id.as_str()));
    assert!(r
        .to_string()
        .starts_with("SendResult [sendStatus=SEND_OK, msgId="));

    let mut queues = c
        .producer
        .fetch_publish_queues("TopicTest")
        .await
        .expect("queues");
    assert_eq!(queues.len(), 8);
    assert_eq!(queues[0], MessageQueue::new("TopicTest", "broker-a", 0));
    queues.sort();
    assert_eq!(queues[7], MessageQueue::new("TopicTest", "broker-b", 3));
    c.shutdown().await;
}

#[tokio::test]
async fn unknown_topic_uses_clamped_tbw102_route() {
    let c = cluster().await;
    for _ in 0..8 {
        c.producer
            .send(Message::new("NewTopic", "x"))
            .await
            .expect("send");
    }
    let sends = c.a.sends();
    assert_eq!(sends.len(), 8);
    let mut queue_ids: Vec<i32> = sends
        .iter()
        .map(|s| s.header.as_ref().unwrap().queue_id)
        .collect();
    queue_ids.sort();
    queue_ids.dedup();
    assert_eq!(queue_ids, vec![0, 1, 2, 3], "TBW102's 8 queues are clamped to 4");
    assert!(sends
        .iter()
        .all(|s| s.header.as_ref().unwrap().topic == "NewTopic"));
    let asked = c.namesrv.route_requests.lock().unwrap().clone();
    assert!(asked.contains(&"NewTopic".to_owned()) && asked.contains(&"TBW102".to_owned()));
    c.shutdown().await;
}

#[tokio::test]
async fn non_retryable_broker_error_is_returned_at_once() {
    let c = cluster().await;
    *c.a.send_code.lock().unwrap() = response_code::MESSAGE_ILLEGAL;
    *c.b.send_code.lock().unwrap() = response_code::MESSAGE_ILLEGAL;
    let err = c.producer.send(Message::new("TopicTest", "x")).await.unwrap_err();
    assert!(matches!(err, ClientError::Broker { code: 13, .. }), "{err:?}");
    assert_eq!(c.a.sends().len() + c.b.sends().len(), 1);

    // A store-but-degraded code is a result, not an error.
    *c.a.send_code.lock().unwrap() = response_code::SUCCESS;
    *c.b.send_code.lock().unwrap() = response_code::SUCCESS;
    let mq = MessageQueue::new("TopicTest", "broker-b", 2);
    let r = c
        .producer
        .send_to_queue(Message::new("TopicTest", "y"), &mq)
        .await
        .expect("send_to_queue");
    assert_eq!(r.message_queue, mq);
    c.shutdown().await;
}

#[tokio::test]
async fn batch_oneway_async_and_selector() {
    let c = cluster().await;
    let batch = vec![
        Message::new("TopicTest", "one"),
        Message::new("TopicTest", "two"),
        Message::new("TopicTest", "three"),
    ];
    let r = c.producer.send_batch(batch).await.expect("batch");
    let ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(r.offset_msg_id.split(',').count(), 3);
    let seen =
        c.a.sends()
            .into_iter()
            .chain(c.b.sends())
            .next()
            .expect("batch request");
    assert_eq!(seen.code, request_code::SEND_BATCH_MESSAGE);
    assert!(seen.header.as_ref().unwrap().batch);
    let entries = message::decode_batch(&seen.body).expect("batch body");
    assert_eq!(entries.len(), 3);

    let r = c
        .producer
        .send_with_selector(Message::new("TopicTest", "ordered"), |queues, _| queues.len() - 1)
        .await
        .expect("selector");
    assert_eq!(r.message_queue, MessageQueue::new("TopicTest", "broker-b", 3));

    let r = c
        .producer
        .send_async(Message::new("TopicTest", "async"))
        .await
        .expect("join")
        .expect("async send");
    assert_eq!(r.send_status, SendStatus::SendOk);

    c.producer
        .send_oneway(Message::new("TopicTest", "oneway"))
        .await
        .expect("oneway");
    let total = || c.a.sends().len() + c.b.sends().len();
    for _ in 0..100 {
        if total() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(total(), 4);
    c.shutdown().await;
}

#[tokio::test]
async fn heartbeat_to_masters_and_unregister_on_shutdown() {
    let c = cluster().await;
    // The heartbeat task runs 1 s after start, to the masters of the TBW102 route (broker-a).
    let mut beat = None;
    for _ in 0..50 {
        beat =
            c.a.seen()
                .into_iter()
                .find(|s| s.code == request_code::HEART_BEAT);
        if beat.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let beat = beat.expect("HEART_BEAT within 5 s");
    let body: serde_json::Value = serde_json::from_slice(&beat.body).expect("heartbeat JSON");
    assert_eq!(body["clientID"], c.producer.client_id());
    let groups: Vec<&str> = body["producerDataSet"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["groupName"].as_str())
        .collect();
    assert!(
        groups.contains(&"PG_TEST") && groups.contains(&"CLIENT_INNER_PRODUCER"),
        "{groups:?}"
    );

    let producer = c.producer.clone();
    let a = c.a.clone();
    c.shutdown().await;
    assert!(a.seen().iter().any(|s| s.code == request_code::UNREGISTER_CLIENT));
    let err = producer
        .send(Message::new("TopicTest", "late"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotRunning(_)));
}
