//! In-test servers over real sockets: one fake name server and two fake brokers (`broker-a`,
//! `broker-b`), all `rmq_remoting::Server`s on port 0.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmq_client::{ClientConfig, Producer};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::SendMessageRequestHeader;
use rmq_protocol::message::{self, property};
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler, Server, ServerHandle};

pub mod consume;
pub mod wait;

/// One request as a fake broker saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub code: i32,
    pub header: Option<SendMessageRequestHeader>,
    pub ext: HashMap<String, String>,
    pub body: bytes::Bytes,
}

impl Seen {
    pub fn uniq_key(&self) -> Option<String> {
        let props = self.header.as_ref()?.properties.as_deref()?;
        message::decode_properties(props).get(property::UNIQ_KEY).cloned()
    }
}

pub struct FakeBroker {
    pub addr: Mutex<Option<SocketAddr>>,
    /// Answer the next send with SYSTEM_ERROR (once).
    pub fail_next_send: AtomicBool,
    /// Answer every send with this code instead of SUCCESS.
    pub send_code: Mutex<i32>,
    /// Answer sends after this many milliseconds.
    pub send_delay_ms: AtomicU64,
    next_offset: AtomicI64,
    seen: Mutex<Vec<Seen>>,
    /// Canned answers to other request codes (default: SUCCESS with nothing).
    pub canned: Mutex<HashMap<i32, RemotingCommand>>,
}

impl FakeBroker {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeBroker {
            addr: Mutex::new(None),
            fail_next_send: AtomicBool::new(false),
            send_code: Mutex::new(response_code::SUCCESS),
            send_delay_ms: AtomicU64::new(0),
            next_offset: AtomicI64::new(0),
            seen: Mutex::new(Vec::new()),
            canned: Mutex::new(HashMap::new()),
        })
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn sends(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.header.is_some()).collect()
    }

    fn answer_send(&self, req: &RemotingCommand, header: &SendMessageRequestHeader) -> RemotingCommand {
        if self.fail_next_send.swap(false, Ordering::SeqCst) {
            return RemotingCommand::response(response_code::SYSTEM_ERROR).with_remark("injected failure");
        }
        let code = *self.send_code.lock().unwrap();
        let storing = [
            response_code::FLUSH_DISK_TIMEOUT,
            response_code::FLUSH_SLAVE_TIMEOUT,
            response_code::SLAVE_NOT_AVAILABLE,
        ];
        if code != response_code::SUCCESS && !storing.contains(&code) {
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
        RemotingCommand::response(code)
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
                ext: req.ext_fields.clone(),
                body: req.body.clone(),
            });
            let canned = self.canned.lock().unwrap().get(&req.code).cloned();
            let delay_ms = self.send_delay_ms.load(Ordering::SeqCst);
            if header.is_some() && delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            }
            Some(match header {
                Some(h) => self.answer_send(&req, &h),
                None => canned.unwrap_or_else(|| RemotingCommand::response(response_code::SUCCESS)),
            })
        })
    }
}

/// Answers GET_ROUTEINFO_BY_TOPIC from a fixed table of fastjson-style route bodies, and other
/// codes from `bodies`.
pub struct FakeNamesrv {
    pub routes: HashMap<String, String>,
    pub bodies: HashMap<i32, String>,
    pub route_requests: Mutex<Vec<String>>,
}

impl RequestHandler for FakeNamesrv {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            if req.code != request_code::GET_ROUTEINFO_BY_TOPIC {
                return Some(match self.bodies.get(&req.code) {
                    Some(body) => {
                        RemotingCommand::response(response_code::SUCCESS).with_body(body.clone().into_bytes())
                    }
                    None => RemotingCommand::response(response_code::REQUEST_CODE_NOT_SUPPORTED),
                });
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
pub fn route_json(brokers: &[(&str, SocketAddr, i32, i32)]) -> String {
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

pub struct Cluster {
    pub a: Arc<FakeBroker>,
    pub b: Arc<FakeBroker>,
    pub namesrv: Arc<FakeNamesrv>,
    pub servers: Vec<ServerHandle>,
    pub producer: Producer,
    pub config: ClientConfig,
}

impl Cluster {
    pub async fn shutdown(self) {
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
/// The name server also answers GET_BROKER_CLUSTER_INFO (fastjson form) and the topic list.
pub async fn cluster() -> Cluster {
    cluster_with(|_| {}).await
}

/// [`cluster`] with the producer's configuration adjusted by `tune`.
pub async fn cluster_with(tune: impl FnOnce(&mut ClientConfig)) -> Cluster {
    let (a, b) = (FakeBroker::new(), FakeBroker::new());
    let (sa, sb) = (bind(&a).await, bind(&b).await);
    let (addr_a, addr_b) = (sa.local_addr(), sb.local_addr());
    let mut routes = HashMap::new();
    routes.insert(
        "TopicTest".to_owned(),
        route_json(&[("broker-b", addr_b, 4, 6), ("broker-a", addr_a, 4, 6)]),
    );
    routes.insert("TBW102".to_owned(), route_json(&[("broker-a", addr_a, 8, 7)]));
    let mut bodies = HashMap::new();
    bodies.insert(
        request_code::GET_BROKER_CLUSTER_INFO,
        format!(
            r#"{{"brokerAddrTable":{{"broker-a":{{"brokerAddrs":{{0:"{addr_a}"}},"brokerName":"broker-a","cluster":"DefaultCluster"}},"broker-b":{{"brokerAddrs":{{0:"{addr_b}",1:"127.0.0.1:1"}},"brokerName":"broker-b","cluster":"DefaultCluster"}}}},"clusterAddrTable":{{"DefaultCluster":["broker-a","broker-b"]}}}}"#
        ),
    );
    bodies.insert(
        request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
        r#"{"topicList":["TopicTest","TBW102"]}"#.to_owned(),
    );
    let namesrv = Arc::new(FakeNamesrv {
        routes,
        bodies,
        route_requests: Mutex::new(Vec::new()),
    });
    let sn = Server::bind("127.0.0.1:0", namesrv.clone())
        .await
        .expect("bind namesrv");
    let mut config = ClientConfig {
        namesrv_addr: vec![sn.local_addr().to_string()],
        client_ip: "127.0.0.1".into(),
        send_timeout_ms: 3000,
        ..Default::default()
    };
    tune(&mut config);
    let producer = Producer::new("PG_TEST", config.clone());
    producer.start().await.expect("start");
    Cluster {
        a,
        b,
        namesrv,
        servers: vec![sa, sb, sn],
        producer,
        config,
    }
}
