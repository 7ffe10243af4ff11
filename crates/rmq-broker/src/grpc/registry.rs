//! gRPC clients as members of the broker's client registry, as the Proxy in local mode keeps them
//! (`ClientActivity`, `GrpcClientChannel`; docs/protocol/grpc.md, "Clients in the registry").
//!
//! A client's Telemetry stream gets a detached [`Channel`] in [`crate::clients::ClientRegistry`]:
//! a producer under each of its topics (the Proxy's producer group is the topic), a consumer
//! under its group (SimpleConsumer CONSUME_ACTIVELY, PushConsumer CONSUME_PASSIVELY, CLUSTERING,
//! CONSUME_FROM_LAST_OFFSET). So `consumerConnection`, `producerConnection`, the group's member
//! list and the transaction check-back see gRPC clients as they see remoting ones. What the
//! broker sends to that channel is relayed on the stream ([`relay`]): CHECK_TRANSACTION_STATE as
//! RecoverOrphanedTransactionCommand, GET_CONSUMER_RUNNING_INFO (with its jstack through
//! PrintThreadStackTraceCommand), CONSUME_MESSAGE_DIRECTLY through VerifyMessageCommand; the rest
//! is dropped. The client leaves the registry when its stream ends or it terminates.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rmq_grpc_proto::tonic;
use rmq_grpc_proto::v2::{settings::PubSub, telemetry_command::Command, *};
use rmq_protocol::body::{
    self, ConsumeMessageDirectlyResult, ConsumerData, ConsumerRunningInfo, HeartbeatData, ProducerData,
    SubscriptionData,
};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{CheckTransactionStateRequestHeader, GetConsumerRunningInfoRequestHeader};
use rmq_protocol::{message, RemotingCommand};
use rmq_remoting::Channel;
use tokio::sync::{mpsc, oneshot};

use crate::BrokerState;

/// How long a relayed question waits for the client's answer (the Proxy's 5 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

type Outbound = mpsc::Sender<Result<TelemetryCommand, tonic::Status>>;

/// A gRPC client's place in the registry.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    channel: Channel,
    heartbeat: HeartbeatData,
    language: String,
}

impl Member {
    /// Registers (again): a Heartbeat RPC keeps the client from expiring.
    pub(crate) fn refresh(&self, s: &BrokerState) {
        let (changed, _) = s.clients.heartbeat(
            &self.channel,
            self.language.clone(),
            rmq_protocol::VERSION,
            &self.heartbeat,
        );
        drop(changed); // the Proxy registers with notify=false: gRPC consumers are not rebalanced
    }

    /// Leaves the registry; the relay ends with the channel.
    pub(crate) fn leave(&self, s: &BrokerState) {
        let _ = s.clients.channel_closed(&self.channel);
        self.channel.close();
    }
}

/// The registry data of a client from the settings the server answered.
fn heartbeat_data(client_id: &str, settings: &Settings, now_ms: i64) -> HeartbeatData {
    let mut hb = HeartbeatData {
        client_id: client_id.to_string(),
        ..HeartbeatData::default()
    };
    match &settings.pub_sub {
        Some(PubSub::Publishing(p)) => {
            hb.producer_data_set = p
                .topics
                .iter()
                .map(|t| ProducerData {
                    group_name: t.name.clone(),
                })
                .collect();
        }
        Some(PubSub::Subscription(sub)) => {
            let consume_type = if settings.client_type == Some(ClientType::PushConsumer as i32) {
                "CONSUME_PASSIVELY"
            } else {
                "CONSUME_ACTIVELY"
            };
            hb.consumer_data_set.push(ConsumerData {
                group_name: sub.group.as_ref().map_or_else(String::new, |g| g.name.clone()),
                consume_type: consume_type.into(),
                message_model: "CLUSTERING".into(),
                consume_from_where: "CONSUME_FROM_LAST_OFFSET".into(),
                subscription_data_set: sub
                    .subscriptions
                    .iter()
                    .map(|e| subscription(e, now_ms))
                    .collect(),
                unit_mode: false,
            });
        }
        None => {}
    }
    hb
}

/// `FilterAPI.build` of a subscription entry.
fn subscription(e: &SubscriptionEntry, now_ms: i64) -> SubscriptionData {
    let topic = e.topic.as_ref().map_or_else(String::new, |t| t.name.clone());
    let (sql, expression) = match &e.expression {
        Some(f) => (f.r#type == FilterType::Sql as i32, f.expression.as_str()),
        None => (false, "*"),
    };
    if sql {
        return SubscriptionData {
            topic,
            sub_string: expression.to_string(),
            expression_type: "SQL92".into(),
            sub_version: now_ms,
            ..SubscriptionData::default()
        };
    }
    SubscriptionData::from_tag_expression(topic, expression, now_ms)
}

/// Questions relayed to a client, waiting for its answer by nonce.
#[derive(Default, Clone)]
pub(crate) struct Questions {
    next: Arc<AtomicU64>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<TelemetryCommand>>>>,
}

impl Questions {
    /// Sends the command `make(nonce)` builds and waits for the answer carrying the nonce.
    async fn ask(&self, out: &Outbound, make: impl FnOnce(String) -> Command) -> Option<TelemetryCommand> {
        let nonce = self.next.fetch_add(1, Ordering::Relaxed).to_string();
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().insert(nonce.clone(), tx);
        let sent = out
            .send(Ok(TelemetryCommand {
                status: None,
                command: Some(make(nonce.clone())),
            }))
            .await;
        let answer = match sent {
            Ok(()) => tokio::time::timeout(ANSWER_TIMEOUT, rx)
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        self.waiting.lock().remove(&nonce);
        answer
    }

    /// Hands a client's answer (ThreadStackTrace, VerifyMessageResult) to its question; false
    /// when `cmd` is not one.
    pub(crate) fn answer(&self, cmd: TelemetryCommand) -> bool {
        let nonce = match &cmd.command {
            Some(Command::ThreadStackTrace(t)) => t.nonce.clone(),
            Some(Command::VerifyMessageResult(v)) => v.nonce.clone(),
            _ => return false,
        };
        if let Some(tx) = self.waiting.lock().remove(&nonce) {
            let _ = tx.send(cmd);
        }
        true
    }
}

/// Who opened a Telemetry stream.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) id: String,
    /// `x-mq-language` (`JAVA`, `GOLANG`, ...).
    pub(crate) language: String,
    pub(crate) peer: std::net::SocketAddr,
}

/// A stream's registry membership: made on its first accepted Settings, updated on later ones.
pub(crate) struct Membership {
    member: Option<Member>,
    questions: Questions,
}

impl Membership {
    pub(crate) fn new(questions: Questions) -> Membership {
        Membership {
            member: None,
            questions,
        }
    }

    /// Registers the client with `settings` (the server's answer), starting the relay of what
    /// the broker sends it onto `out`. Returns the member, for the client table.
    pub(crate) fn join(
        &mut self,
        s: &Arc<BrokerState>,
        client: &Caller,
        settings: &Settings,
        out: &Outbound,
        transactions: &super::transaction::Transactions,
    ) -> Member {
        let heartbeat = heartbeat_data(&client.id, settings, s.clock.now_ms());
        let member = match self.member.take() {
            Some(mut m) => {
                // New settings: the old subscriptions and topics go.
                let _ = s.clients.channel_closed(&m.channel);
                m.heartbeat = heartbeat;
                m
            }
            None => {
                let (channel, asked) = Channel::detached(client.peer, client.peer);
                tokio::spawn(relay(
                    s.clone(),
                    channel.clone(),
                    asked,
                    out.clone(),
                    self.questions.clone(),
                    transactions.clone(),
                    settings.clone(),
                ));
                Member {
                    channel,
                    heartbeat,
                    language: if client.language.is_empty() {
                        "JAVA".into()
                    } else {
                        client.language.to_ascii_uppercase()
                    },
                }
            }
        };
        member.refresh(s);
        self.member = Some(member.clone());
        member
    }

    /// The stream ended.
    pub(crate) fn end(&mut self, s: &BrokerState) {
        if let Some(m) = self.member.take() {
            m.leave(s);
        }
    }
}

/// What the broker sends to a gRPC client's channel, relayed on its Telemetry stream.
async fn relay(
    s: Arc<BrokerState>,
    channel: Channel,
    mut asked: mpsc::Receiver<RemotingCommand>,
    out: Outbound,
    questions: Questions,
    transactions: super::transaction::Transactions,
    settings: Settings,
) {
    let settings = Arc::new(settings);
    loop {
        let cmd = tokio::select! {
            _ = channel.closed() => break,
            cmd = asked.recv() => match cmd { Some(c) => c, None => break },
        };
        match cmd.code {
            request_code::CHECK_TRANSACTION_STATE => match orphan_check(&cmd) {
                Some(check) => {
                    let command = super::transaction::recover_command(&transactions, check, s.clock.now_ms());
                    if out.send(Ok(command)).await.is_err() {
                        break;
                    }
                }
                None => tracing::warn!("a transaction check that does not decode was not relayed"),
            },
            request_code::GET_CONSUMER_RUNNING_INFO | request_code::CONSUME_MESSAGE_DIRECTLY => {
                let (s, channel, out, questions, settings) = (
                    s.clone(),
                    channel.clone(),
                    out.clone(),
                    questions.clone(),
                    settings.clone(),
                );
                tokio::spawn(async move {
                    let mut resp = if cmd.code == request_code::GET_CONSUMER_RUNNING_INFO {
                        running_info(&s, &cmd, &settings, &out, &questions).await
                    } else {
                        verify(&s, &cmd, &out, &questions).await
                    };
                    resp.opaque = cmd.opaque;
                    resp.flag |= rmq_protocol::command::RPC_RESPONSE;
                    channel.answer(resp);
                });
            }
            // NOTIFY_CONSUMER_IDS_CHANGED and the like: gRPC consumers do not rebalance.
            _ => {}
        }
    }
}

/// The half message and its offsets from a CHECK_TRANSACTION_STATE request.
fn orphan_check(cmd: &RemotingCommand) -> Option<super::transaction::OrphanCheck> {
    let h: CheckTransactionStateRequestHeader = cmd.header().ok()?;
    let (m, _) = message::decode_message(&cmd.body).ok()?;
    Some(super::transaction::OrphanCheck {
        transaction_id: h.transaction_id.unwrap_or_default(),
        tran_state_table_offset: h.tran_state_table_offset,
        commit_log_offset: h.commit_log_offset,
        message: m,
    })
}

/// GET_CONSUMER_RUNNING_INFO for a gRPC consumer: its properties and subscriptions as the broker
/// knows them (the Proxy sends none, so `mqadmin consumerStatus` fails on it), and the client's
/// thread dump when asked (PrintThreadStackTraceCommand).
async fn running_info(
    s: &BrokerState,
    cmd: &RemotingCommand,
    settings: &Settings,
    out: &Outbound,
    questions: &Questions,
) -> RemotingCommand {
    let Ok(h) = cmd.header::<GetConsumerRunningInfoRequestHeader>() else {
        return RemotingCommand::response(response_code::SYSTEM_ERROR).with_remark("bad request header");
    };
    let group = s.clients.consumer_group(&h.consumer_group);
    let mut info = ConsumerRunningInfo::default();
    let fifo = matches!(&settings.pub_sub, Some(PubSub::Subscription(sub)) if sub.fifo == Some(true));
    if let Some(g) = &group {
        info.subscription_set = g.subscriptions.values().cloned().collect();
        for sub in &info.subscription_set {
            info.status_table.insert(sub.topic.clone(), Default::default());
        }
        for (k, v) in [
            ("PROP_CONSUME_TYPE", g.consume_type.clone()),
            ("messageModel", g.message_model.clone()),
            ("consumeFromWhere", g.consume_from_where.clone()),
        ] {
            info.properties.insert(k.into(), v);
        }
    }
    for (k, v) in [
        ("PROP_CONSUMEORDERLY", fifo.to_string()),
        ("PROP_CLIENT_VERSION", "V5_3_1".into()),
        ("PROP_CONSUMER_START_TIMESTAMP", "0".into()),
        ("PROP_THREADPOOL_CORE_SIZE", "-1".into()),
        ("consumerGroup", h.consumer_group.clone()),
    ] {
        info.properties.insert(k.into(), v);
    }
    if h.jstack_enable {
        let answer = questions
            .ask(out, |nonce| {
                Command::PrintThreadStackTraceCommand(PrintThreadStackTraceCommand { nonce })
            })
            .await;
        match answer {
            Some(TelemetryCommand {
                command: Some(Command::ThreadStackTrace(t)),
                ..
            }) => info.jstack = t.thread_stack_trace,
            _ => {
                return RemotingCommand::response(response_code::SYSTEM_BUSY)
                    .with_remark("call remote timeout")
            }
        }
    }
    RemotingCommand::response(response_code::SUCCESS).with_body(body::to_json(&info))
}

/// CONSUME_MESSAGE_DIRECTLY for a gRPC consumer: VerifyMessageCommand, its result as the Proxy
/// maps it (OK → CR_SUCCESS, FAILED_TO_CONSUME_MESSAGE → CR_LATER, MESSAGE_CORRUPTED →
/// CR_RETURN_NULL).
async fn verify(
    s: &BrokerState,
    cmd: &RemotingCommand,
    out: &Outbound,
    questions: &Questions,
) -> RemotingCommand {
    let Ok((m, _)) = message::decode_message(&cmd.body) else {
        return RemotingCommand::response(response_code::SYSTEM_ERROR).with_remark("no message to verify");
    };
    let topic = m.topic.clone();
    let message = super::message::to_grpc(&m, &topic, s.clock.now_ms());
    let started = std::time::Instant::now();
    let answer = questions
        .ask(out, |nonce| {
            Command::VerifyMessageCommand(VerifyMessageCommand {
                nonce,
                message: Some(message),
            })
        })
        .await;
    let Some(answer) = answer else {
        return RemotingCommand::response(response_code::SYSTEM_BUSY).with_remark("call remote timeout");
    };
    let code = answer.status.as_ref().map_or(Code::Ok as i32, |st| st.code);
    let consume_result = match Code::try_from(code) {
        Ok(Code::Ok) => "CR_SUCCESS",
        Ok(Code::FailedToConsumeMessage) => "CR_LATER",
        Ok(Code::MessageCorrupted) => "CR_RETURN_NULL",
        _ => "CR_THROW_EXCEPTION",
    };
    let result = ConsumeMessageDirectlyResult {
        consume_result: consume_result.into(),
        remark: Some(match answer.status {
            Some(st) if !st.message.is_empty() => format!("from gRPC client: {}", st.message),
            _ => "from gRPC client".into(),
        }),
        spent_time_mills: started.elapsed().as_millis() as i64,
        ..ConsumeMessageDirectlyResult::default()
    };
    RemotingCommand::response(response_code::SUCCESS).with_body(body::to_json(&result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_registry_data_as_the_proxy_registers_them() {
        let res = |n: &str| {
            Some(Resource {
                resource_namespace: String::new(),
                name: n.into(),
            })
        };
        let push = Settings {
            client_type: Some(ClientType::PushConsumer as i32),
            pub_sub: Some(PubSub::Subscription(Subscription {
                group: res("G"),
                subscriptions: vec![
                    SubscriptionEntry {
                        topic: res("T1"),
                        expression: Some(FilterExpression {
                            r#type: FilterType::Tag as i32,
                            expression: "a || b".into(),
                        }),
                    },
                    SubscriptionEntry {
                        topic: res("T2"),
                        expression: Some(FilterExpression {
                            r#type: FilterType::Sql as i32,
                            expression: "x > 1".into(),
                        }),
                    },
                ],
                ..Subscription::default()
            })),
            ..Settings::default()
        };
        let hb = heartbeat_data("c1", &push, 7);
        let c = &hb.consumer_data_set[0];
        assert_eq!(
            (
                c.group_name.as_str(),
                c.consume_type.as_str(),
                c.message_model.as_str()
            ),
            ("G", "CONSUME_PASSIVELY", "CLUSTERING")
        );
        assert_eq!(c.subscription_data_set[0].tags_set, ["a", "b"]);
        assert_eq!(c.subscription_data_set[1].expression_type, "SQL92");
        let producer = Settings {
            client_type: Some(ClientType::Producer as i32),
            pub_sub: Some(PubSub::Publishing(Publishing {
                topics: vec![res("T1").unwrap(), res("T2").unwrap()],
                ..Publishing::default()
            })),
            ..Settings::default()
        };
        let hb = heartbeat_data("p1", &producer, 7);
        let groups: Vec<&str> = hb
            .producer_data_set
            .iter()
            .map(|p| p.group_name.as_str())
            .collect();
        assert_eq!(groups, ["T1", "T2"]);
    }
}
