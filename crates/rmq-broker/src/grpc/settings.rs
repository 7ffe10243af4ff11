//! QueryRoute's queues and the Telemetry Settings exchange (docs/protocol/grpc.md, sections 5
//! and 6).

use std::sync::Arc;
use std::time::Duration;

use rmq_grpc_proto::prost_types;
use rmq_grpc_proto::tonic::codegen::BoxStream;
use rmq_grpc_proto::tonic::{self, Streaming};
use rmq_grpc_proto::v2::{self, *};
use rmq_protocol::body::{self, QueueData, TopicRouteData};

use super::{ok_status, status, validate_topic, Clients, KnownClient};
use crate::topic::{PERM_READ, PERM_WRITE};
use crate::BrokerState;

/// The topic's queues for a 5.x client: every broker of its route (from the name server; this
/// broker alone when none answers), each named with the gRPC endpoint of its host. `None` when
/// the topic has no route.
pub(super) async fn route(
    s: &BrokerState,
    ports: &super::endpoints::GrpcPorts,
    topic: &str,
) -> Option<Vec<MessageQueue>> {
    let route = route_data(s, topic).await?;
    let accept = accept_types(s, topic);
    let mut out = Vec::new();
    for q in &route.queue_datas {
        let Some(bd) = route.broker_datas.iter().find(|b| b.broker_name == q.broker_name) else {
            continue;
        };
        for (&id, addr) in &bd.broker_addrs {
            let port = ports.port_of(s, addr).await;
            let broker = grpc_broker(&q.broker_name, id, addr, port);
            out.extend(queues_of(topic, q, &broker, &accept));
        }
    }
    Some(out)
}

/// The topic's route from the name server, or this broker's own view when none answers.
pub(super) async fn route_data(s: &BrokerState, topic: &str) -> Option<TopicRouteData> {
    match crate::register::topic_route(s, topic).await {
        Some(r) => Some(r),
        None => local_route(s, topic),
    }
}

/// A broker of a route as a 5.x client sees it: its remoting host with its gRPC port.
pub(super) fn grpc_broker(name: &str, id: i64, remoting_addr: &str, grpc_port: u16) -> Broker {
    let host = remoting_addr
        .rsplit_once(':')
        .map_or(remoting_addr, |(h, _)| h)
        .to_string();
    Broker {
        name: name.to_string(),
        id: id as i32,
        endpoints: Some(Endpoints {
            scheme: AddressScheme::IPv4 as i32,
            addresses: vec![Address {
                host,
                port: i32::from(grpc_port),
            }],
        }),
    }
}

/// A queue's permission from the route's perm bits.
pub(super) fn permission(perm: i32) -> Permission {
    match (perm & PERM_READ != 0, perm & PERM_WRITE != 0) {
        (true, true) => Permission::ReadWrite,
        (true, false) => Permission::Read,
        (false, true) => Permission::Write,
        (false, false) => Permission::None,
    }
}

/// This broker's own view when no name server answers (a broker without one, tests).
fn local_route(s: &BrokerState, topic: &str) -> Option<TopicRouteData> {
    let tc = s.topics.get(topic)?;
    Some(TopicRouteData {
        broker_datas: vec![body::BrokerData {
            broker_addrs: [(s.broker_id(), s.addr.clone())].into_iter().collect(),
            broker_name: s.config.broker_name.clone(),
            cluster: s.config.broker_cluster_name.clone(),
            ..body::BrokerData::default()
        }],
        queue_datas: vec![QueueData {
            broker_name: s.config.broker_name.clone(),
            perm: tc.perm & s.runtime.permission(),
            read_queue_nums: tc.read_queue_nums,
            write_queue_nums: tc.write_queue_nums,
            topic_sys_flag: tc.topic_sys_flag,
        }],
        ..TopicRouteData::default()
    })
}

/// `accept_message_types` from the topic's `message.type` attribute (MIXED takes every type; no
/// topic config here: UNSPECIFIED).
fn accept_types(s: &BrokerState, topic: &str) -> Vec<i32> {
    let Some(tc) = s.topics.get(topic) else {
        return vec![MessageType::Unspecified as i32];
    };
    let ty = tc.attributes.get("message.type").map_or("NORMAL", String::as_str);
    let all = [
        MessageType::Normal,
        MessageType::Fifo,
        MessageType::Delay,
        MessageType::Transaction,
    ];
    match ty {
        "FIFO" => vec![MessageType::Fifo as i32],
        "DELAY" => vec![MessageType::Delay as i32],
        "TRANSACTION" => vec![MessageType::Transaction as i32],
        "MIXED" => all.iter().map(|t| *t as i32).collect(),
        _ => vec![MessageType::Normal as i32],
    }
}

/// `genMessageQueueFromQueueData`: first the read-only queues, then the write-only ones, then
/// the read-write ones, numbered from 0.
fn queues_of(topic: &str, q: &QueueData, broker: &Broker, accept: &[i32]) -> Vec<MessageQueue> {
    let readable = q.perm & PERM_READ != 0;
    let writable = q.perm & PERM_WRITE != 0;
    let (r, w) = (q.read_queue_nums.max(0), q.write_queue_nums.max(0));
    let (read_only, write_only, read_write) = match (readable, writable) {
        (true, true) => {
            let rw = r.min(w);
            (r - rw, w - rw, rw)
        }
        (true, false) => (r, 0, 0),
        (false, true) => (0, w, 0),
        (false, false) => (0, 0, 0),
    };
    let mut out = Vec::new();
    let mut id = 0;
    for (n, perm) in [
        (read_only, Permission::Read),
        (write_only, Permission::Write),
        (read_write, Permission::ReadWrite),
    ] {
        for _ in 0..n {
            out.push(MessageQueue {
                topic: Some(Resource {
                    resource_namespace: String::new(),
                    name: topic.to_string(),
                }),
                id,
                permission: perm as i32,
                broker: Some(broker.clone()),
                accept_message_types: accept.to_vec(),
            });
            id += 1;
        }
    }
    out
}

fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// The settings the server answers a client's Settings with (`GrpcClientSettingsManager`):
/// producers get the exponential backoff and the body limit, consumers their group's retry
/// policy, batch size, long polling timeout and FIFO flag. `Err` is the refusal.
pub(super) fn answer(s: &BrokerState, client: &Settings) -> Result<Settings, v2::Status> {
    let mut out = client.clone();
    out.metric = Some(Metric {
        on: false,
        endpoints: None,
    });
    match &client.pub_sub {
        Some(settings::PubSub::Publishing(p)) => {
            for t in &p.topics {
                validate_topic(&t.name)?;
            }
            out.backoff_policy = Some(RetryPolicy {
                max_attempts: 3,
                strategy: Some(retry_policy::Strategy::ExponentialBackoff(ExponentialBackoff {
                    initial: Some(duration(Duration::from_millis(10))),
                    max: Some(duration(Duration::from_millis(1000))),
                    multiplier: 2.0,
                })),
            });
            out.pub_sub = Some(settings::PubSub::Publishing(Publishing {
                topics: p.topics.clone(),
                max_body_size: s.config.store.max_message_size.min(i32::MAX as usize) as i32,
                validate_message_type: true,
            }));
        }
        Some(settings::PubSub::Subscription(sub)) => {
            let group = sub.group.as_ref().map_or("", |g| g.name.as_str());
            super::send::validate_group(group)?;
            let config = s.groups.get(group).unwrap_or_default();
            // The 5.x default retry policy: 1s 5s 10s 30s 1m 2m ... 10m 20m 30m 1h 2h.
            let next = [
                1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
            ]
            .iter()
            .map(|s| duration(Duration::from_secs(*s)))
            .collect();
            out.backoff_policy = Some(RetryPolicy {
                max_attempts: config.retry_max_times + 1,
                strategy: Some(retry_policy::Strategy::CustomizedBackoff(CustomizedBackoff {
                    next,
                })),
            });
            out.pub_sub = Some(settings::PubSub::Subscription(Subscription {
                group: sub.group.clone(),
                subscriptions: sub.subscriptions.clone(),
                fifo: Some(config.consume_message_orderly),
                receive_batch_size: Some(32),
                long_polling_timeout: Some(duration(Duration::from_secs(20))),
            }));
        }
        None => {
            return Err(status(
                Code::BadRequest,
                "there is no publishing or subscription data in settings",
            ))
        }
    }
    Ok(out)
}

/// The Telemetry stream of one client: each Settings is answered with the server's (and puts the
/// client in the broker's client registry, [`super::registry`]); a refused one ends the stream
/// (INVALID_ARGUMENT for a 400xx code, as the Proxy), as does the client's end, which takes the
/// client out of the registry. What the broker asks the client (transaction check-backs, running
/// info, message verification) is relayed on the stream.
pub(super) fn telemetry(
    state: Arc<BrokerState>,
    clients: Clients,
    transactions: super::transaction::Transactions,
    client: super::registry::Caller,
    caller: super::auth::Caller,
    mut incoming: Streaming<TelemetryCommand>,
) -> BoxStream<TelemetryCommand> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<TelemetryCommand, tonic::Status>>(16);
    tokio::spawn(async move {
        let questions = super::registry::Questions::default();
        let mut membership = super::registry::Membership::new(questions.clone());
        loop {
            let cmd = match incoming.message().await {
                Ok(Some(cmd)) => cmd,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(client = %client.id, error = %e, "telemetry stream ended");
                    break;
                }
            };
            // Every command is checked, against the headers the stream opened with.
            match caller.check(&state, &cmd) {
                Ok(()) => {}
                Err(super::auth::Refusal::Body(status)) => {
                    let _ = tx
                        .send(Ok(TelemetryCommand {
                            status: Some(status),
                            command: None,
                        }))
                        .await;
                    break;
                }
                Err(super::auth::Refusal::Call(status)) => {
                    let _ = tx.send(Err(status)).await;
                    break;
                }
            }
            let cmd = match cmd.command {
                Some(telemetry_command::Command::Settings(settings)) => settings,
                // Thread stack traces and verify results answer questions the broker relayed.
                _ => {
                    questions.answer(cmd);
                    continue;
                }
            };
            match answer(&state, &cmd) {
                Ok(answer) => {
                    let member = membership.join(&state, &client, &answer, &tx, &transactions);
                    clients
                        .lock()
                        .entry(client.id.clone())
                        .and_modify(|c| {
                            c.settings = answer.clone();
                            c.member = Some(member.clone());
                        })
                        .or_insert_with(|| KnownClient {
                            settings: answer.clone(),
                            gone: Arc::default(),
                            member: Some(member),
                        });
                    let reply = TelemetryCommand {
                        status: Some(ok_status()),
                        command: Some(telemetry_command::Command::Settings(answer)),
                    };
                    if tx.send(Ok(reply)).await.is_err() {
                        break;
                    }
                }
                Err(refused) => {
                    let text = format!("process client telemetryCommand failed. {}", refused.message);
                    let status = if (40000..50000).contains(&refused.code) {
                        tonic::Status::invalid_argument(text)
                    } else {
                        tonic::Status::internal(text)
                    };
                    let _ = tx.send(Err(status)).await;
                    break;
                }
            }
        }
        membership.end(&state);
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}
