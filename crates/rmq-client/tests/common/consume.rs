//! A fake broker with just enough of the consume path: stored queues, PULL_MESSAGE with a
//! short hold instead of long polling (and no tag filtering, so the client's re-check is what
//! filters), consumer offsets, heartbeat-learned consumer lists with NOTIFY_CONSUMER_IDS_CHANGED,
//! and RESET_CONSUMER_CLIENT_OFFSET pushed to clients.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rmq_protocol::body::{self, HeartbeatData, ResetOffsetBody};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{
    PullMessageRequestHeader, QueryConsumerOffsetRequestHeader, ResetOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::message::{self, property, pull_sys_flag, MessageExt};
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler, Server, ServerHandle};

use super::{route_json, FakeNamesrv};

type QueueKey = (String, i32);

#[derive(Default)]
pub struct State {
    pub queues: HashMap<QueueKey, Vec<MessageExt>>,
    /// (group, topic, queueId) → committed offset.
    pub offsets: HashMap<(String, String, i32), i64>,
    /// group → client id → channel.
    pub consumers: HashMap<String, BTreeMap<String, Channel>>,
    /// Every heartbeat body seen.
    pub heartbeats: Vec<HeartbeatData>,
    /// Every pull header seen.
    pub pulls: Vec<PullMessageRequestHeader>,
    pub codes: Vec<i32>,
    /// Set: pulls are answered SUBSCRIPTION_NOT_EXIST (a new master that has had no heartbeat
    /// of the group yet) until the next heartbeat.
    pub forget_groups: bool,
    /// Pulls answered SUBSCRIPTION_NOT_EXIST.
    pub refused_pulls: usize,
}

pub struct ConsumeBroker {
    pub addr: Mutex<Option<SocketAddr>>,
    pub state: Mutex<State>,
}

impl ConsumeBroker {
    pub fn new() -> Arc<Self> {
        Arc::new(ConsumeBroker {
            addr: Mutex::new(None),
            state: Mutex::new(State::default()),
        })
    }

    /// Appends a message with `tag` to `topic`/`queue_id`; returns its queue offset.
    pub fn put(&self, topic: &str, queue_id: i32, body: &str, tag: &str) -> i64 {
        let host = self.addr.lock().unwrap().expect("bound");
        let mut state = self.state.lock().unwrap();
        let queue = state.queues.entry((topic.to_owned(), queue_id)).or_default();
        let offset = queue.len() as i64;
        let mut properties = HashMap::new();
        properties.insert(property::TAGS.to_owned(), tag.to_owned());
        properties.insert(
            property::UNIQ_KEY.to_owned(),
            format!("{topic}-{queue_id}-{offset}"),
        );
        let body = Bytes::copy_from_slice(body.as_bytes());
        queue.push(MessageExt {
            store_size: 0,
            body_crc: message::body_crc(&body),
            queue_id,
            flag: 0,
            queue_offset: offset,
            commit_log_offset: offset * 1000 + i64::from(queue_id),
            sys_flag: 0,
            born_timestamp: 1,
            born_host: host,
            store_timestamp: 1_700_000_000_000 + offset,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body,
            topic: topic.to_owned(),
            properties,
            msg_id: String::new(),
        });
        offset
    }

    pub fn committed(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let key = (group.to_owned(), topic.to_owned(), queue_id);
        self.state.lock().unwrap().offsets.get(&key).copied()
    }

    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .consumers
            .get(group)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Sends RESET_CONSUMER_CLIENT_OFFSET (oneway) to every consumer of `group`.
    pub async fn reset_offset(&self, group: &str, topic: &str, table: &[(String, i32, i64)]) {
        let body = ResetOffsetBody {
            offset_table: table
                .iter()
                .map(|(broker, q, o)| (body::MessageQueue::new(topic, broker.clone(), *q), *o))
                .collect(),
        };
        let header = ResetOffsetRequestHeader {
            topic: topic.to_owned(),
            group: group.to_owned(),
            timestamp: 0,
            is_force: false,
        };
        let channels: Vec<Channel> = {
            let state = self.state.lock().unwrap();
            state
                .consumers
                .get(group)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default()
        };
        for ch in channels {
            let cmd = RemotingCommand::request(request_code::RESET_CONSUMER_CLIENT_OFFSET)
                .with_header(&header)
                .with_body(body::to_json(&body));
            ch.invoke_oneway(cmd).await.expect("reset sent");
        }
    }

    async fn notify_group(&self, group: &str) {
        let channels: Vec<Channel> = {
            let state = self.state.lock().unwrap();
            state
                .consumers
                .get(group)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default()
        };
        for ch in channels {
            let cmd = RemotingCommand::request(request_code::NOTIFY_CONSUMER_IDS_CHANGED)
                .with_ext("consumerGroup", group);
            let _ = ch.invoke_oneway(cmd).await;
        }
    }

    fn pull_once(&self, h: &PullMessageRequestHeader) -> RemotingCommand {
        let state = self.state.lock().unwrap();
        let queue = state.queues.get(&(h.topic.clone(), h.queue_id));
        let max = queue.map_or(0, |q| q.len() as i64);
        let response = |code: i32, next: i64| {
            RemotingCommand::response(code)
                .with_ext("suggestWhichBrokerId", "0")
                .with_ext("nextBeginOffset", next.to_string())
                .with_ext("minOffset", "0")
                .with_ext("maxOffset", max.to_string())
        };
        if h.queue_offset > max {
            return response(response_code::PULL_OFFSET_MOVED, max);
        }
        if h.queue_offset == max {
            return response(response_code::PULL_NOT_FOUND, max);
        }
        let queue = queue.expect("non-empty queue");
        let end = (h.queue_offset + i64::from(h.max_msg_nums)).min(max);
        let mut body = BytesMut::new();
        for m in &queue[h.queue_offset as usize..end as usize] {
            message::encode_message(m, &mut body);
        }
        response(response_code::SUCCESS, end).with_body(body.freeze())
    }

    async fn pull(&self, h: PullMessageRequestHeader) -> RemotingCommand {
        if h.sys_flag & pull_sys_flag::COMMIT_OFFSET != 0 {
            let key = (h.consumer_group.clone(), h.topic.clone(), h.queue_id);
            self.state.lock().unwrap().offsets.insert(key, h.commit_offset);
        }
        // A short hold stands in for long polling.
        let hold = if h.sys_flag & pull_sys_flag::SUSPEND != 0 {
            10
        } else {
            0
        };
        let mut resp = self.pull_once(&h);
        for _ in 0..hold {
            if resp.code != response_code::PULL_NOT_FOUND {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            resp = self.pull_once(&h);
        }
        resp
    }
}

impl RequestHandler for ConsumeBroker {
    fn handle(
        self: Arc<Self>,
        channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            self.state.lock().unwrap().codes.push(req.code);
            let ok = || RemotingCommand::response(response_code::SUCCESS);
            Some(match req.code {
                request_code::HEART_BEAT => {
                    let hb: HeartbeatData = body::from_fastjson(&req.body).expect("heartbeat body");
                    let mut changed = Vec::new();
                    {
                        let mut state = self.state.lock().unwrap();
                        for cd in &hb.consumer_data_set {
                            let members = state.consumers.entry(cd.group_name.clone()).or_default();
                            if members.insert(hb.client_id.clone(), channel.clone()).is_none() {
                                changed.push(cd.group_name.clone());
                            }
                        }
                        state.heartbeats.push(hb);
                        state.forget_groups = false;
                    }
                    for g in changed {
                        self.notify_group(&g).await;
                    }
                    ok()
                }
                request_code::UNREGISTER_CLIENT => {
                    let id = req.ext("clientID").unwrap_or_default().to_owned();
                    let group = req.ext("consumerGroup").map(str::to_owned);
                    if let Some(g) = group {
                        let removed = {
                            let mut state = self.state.lock().unwrap();
                            state.consumers.get_mut(&g).and_then(|m| m.remove(&id)).is_some()
                        };
                        if removed {
                            self.notify_group(&g).await;
                        }
                    }
                    ok()
                }
                request_code::GET_CONSUMER_LIST_BY_GROUP => {
                    let ids = self.consumer_ids(req.ext("consumerGroup").unwrap_or_default());
                    if ids.is_empty() {
                        RemotingCommand::response(response_code::SYSTEM_ERROR).with_remark("no consumer")
                    } else {
                        ok().with_body(
                            serde_json::json!({ "consumerIdList": ids })
                                .to_string()
                                .into_bytes(),
                        )
                    }
                }
                request_code::QUERY_CONSUMER_OFFSET => {
                    let h: QueryConsumerOffsetRequestHeader = req.header().expect("header");
                    match self.committed(&h.consumer_group, &h.topic, h.queue_id) {
                        Some(o) => ok().with_ext("offset", o.to_string()),
                        None => {
                            RemotingCommand::response(response_code::QUERY_NOT_FOUND).with_remark("Not found")
                        }
                    }
                }
                request_code::UPDATE_CONSUMER_OFFSET => {
                    let h: UpdateConsumerOffsetRequestHeader = req.header().expect("header");
                    let key = (h.consumer_group, h.topic, h.queue_id);
                    self.state.lock().unwrap().offsets.insert(key, h.commit_offset);
                    ok()
                }
                request_code::GET_MAX_OFFSET
                | request_code::GET_MIN_OFFSET
                | request_code::SEARCH_OFFSET_BY_TIMESTAMP => {
                    let topic = req.ext("topic").unwrap_or_default().to_owned();
                    let q: i32 = req.ext("queueId").unwrap_or("0").parse().unwrap();
                    let state = self.state.lock().unwrap();
                    let queue = state.queues.get(&(topic, q));
                    let offset = match req.code {
                        request_code::GET_MAX_OFFSET => queue.map_or(0, |q| q.len() as i64),
                        request_code::GET_MIN_OFFSET => 0,
                        _ => {
                            let ts: i64 = req.ext("timestamp").unwrap_or("0").parse().unwrap();
                            queue.map_or(0, |q| {
                                q.iter().position(|m| m.store_timestamp >= ts).unwrap_or(q.len()) as i64
                            })
                        }
                    };
                    ok().with_ext("offset", offset.to_string())
                }
                request_code::PULL_MESSAGE => {
                    let h: PullMessageRequestHeader = req.header().expect("pull header");
                    let forgot = {
                        let mut state = self.state.lock().unwrap();
                        state.pulls.push(h.clone());
                        state.refused_pulls += usize::from(state.forget_groups);
                        state.forget_groups
                    };
                    if forgot {
                        RemotingCommand::response(response_code::SUBSCRIPTION_NOT_EXIST)
                            .with_remark("the consumer's group info not exist")
                    } else {
                        self.pull(h).await
                    }
                }
                // No retry topic here: the consumer must fall back to retrying locally.
                request_code::CONSUMER_SEND_MSG_BACK => {
                    RemotingCommand::response(response_code::SYSTEM_ERROR)
                        .with_remark("fake broker: no send-back")
                }
                _ => ok(),
            })
        })
    }

    fn on_channel_closed(&self, channel: &Channel) {
        let mut state = self.state.lock().unwrap();
        for members in state.consumers.values_mut() {
            members.retain(|_, ch| ch != channel);
        }
    }
}

pub struct ConsumeCluster {
    pub broker: Arc<ConsumeBroker>,
    pub namesrv_addr: String,
    servers: Vec<ServerHandle>,
}

impl ConsumeCluster {
    pub fn config(&self, instance: &str) -> rmq_client::ClientConfig {
        rmq_client::ClientConfig {
            namesrv_addr: vec![self.namesrv_addr.clone()],
            client_ip: "127.0.0.1".into(),
            instance_name: instance.into(),
            ..Default::default()
        }
    }

    pub async fn shutdown(self) {
        for s in self.servers {
            s.shutdown().await;
        }
    }
}

/// `broker-a` with `topic` (`queues` queues) and the retry topics of `groups`.
pub async fn consume_cluster(topic: &str, queues: i32, groups: &[&str]) -> ConsumeCluster {
    let broker = ConsumeBroker::new();
    let sb = Server::bind("127.0.0.1:0", broker.clone())
        .await
        .expect("bind broker");
    let addr = sb.local_addr();
    *broker.addr.lock().unwrap() = Some(addr);
    let mut routes = HashMap::new();
    routes.insert(topic.to_owned(), route_json(&[("broker-a", addr, queues, 6)]));
    for g in groups {
        routes.insert(format!("%RETRY%{g}"), route_json(&[("broker-a", addr, 1, 6)]));
    }
    let namesrv = Arc::new(FakeNamesrv {
        routes,
        bodies: HashMap::new(),
        route_requests: Mutex::new(Vec::new()),
    });
    let sn = Server::bind("127.0.0.1:0", namesrv).await.expect("bind namesrv");
    ConsumeCluster {
        broker,
        namesrv_addr: sn.local_addr().to_string(),
        servers: vec![sb, sn],
    }
}
