//! Requests a broker sends to a push consumer on its connections
//! (docs/protocol/headers.md#heartbeat-and-consumer-list, docs/protocol/client.md#requests-to-clients).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Weak};

use rmq_protocol::body::{
    self, ConsumeMessageDirectlyResult, ConsumerRunningInfo, ProcessQueueInfo, ResetOffsetBody,
};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::ResetOffsetRequestHeader;
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler};

use super::config::MessageModel;
use super::orderly::ConsumeOrderlyStatus;
use super::push::{ConsumeStatus, Inner};

const MIB: u64 = 1024 * 1024;

/// Serves NOTIFY_CONSUMER_IDS_CHANGED, RESET_CONSUMER_CLIENT_OFFSET, GET_CONSUMER_RUNNING_INFO
/// and CONSUME_MESSAGE_DIRECTLY; anything else is REQUEST_CODE_NOT_SUPPORTED.
pub(crate) struct BrokerRequests {
    consumer: Weak<Inner>,
}

impl BrokerRequests {
    pub fn new(consumer: Weak<Inner>) -> Self {
        BrokerRequests { consumer }
    }
}

impl RequestHandler for BrokerRequests {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            let Some(inner) = self.consumer.upgrade() else {
                return Some(error(response_code::SYSTEM_ERROR, "consumer is gone".into()));
            };
            match req.code {
                request_code::NOTIFY_CONSUMER_IDS_CHANGED => {
                    tracing::info!(group = %inner.group, "consumer ids changed; rebalancing");
                    inner.wake_rebalance();
                    None
                }
                request_code::RESET_CONSUMER_CLIENT_OFFSET => {
                    reset_offset(&inner, &req).await;
                    None
                }
                request_code::GET_CONSUMER_RUNNING_INFO => Some(running_info(&inner)),
                request_code::CONSUME_MESSAGE_DIRECTLY => Some(consume_directly(&inner, &req).await),
                code => Some(error(
                    response_code::REQUEST_CODE_NOT_SUPPORTED,
                    format!(" request type {code} not supported"),
                )),
            }
        })
    }
}

fn error(code: i32, remark: String) -> RemotingCommand {
    RemotingCommand::response(code).with_remark(remark)
}

async fn reset_offset(inner: &Arc<Inner>, req: &RemotingCommand) {
    let header: ResetOffsetRequestHeader = match req.header() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "bad RESET_CONSUMER_CLIENT_OFFSET header");
            return;
        }
    };
    if header.group != inner.group {
        return;
    }
    let reset: ResetOffsetBody = match body::from_fastjson(&req.body) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "bad RESET_CONSUMER_CLIENT_OFFSET body");
            return;
        }
    };
    let table: HashMap<_, _> = reset
        .offset_table
        .into_iter()
        .map(|(mq, o)| (mq.into(), o))
        .collect();
    inner.reset_offsets(&header.topic, table).await;
}

/// GET_CONSUMER_RUNNING_INFO body (spec A.6).
fn running_info(inner: &Inner) -> RemotingCommand {
    let mut info = ConsumerRunningInfo::default();
    let client_config = &inner.client.config;
    let cfg = &inner.config;
    for (k, v) in [
        ("PROP_NAMESERVER_ADDR", client_config.namesrv_addr.join(";")),
        ("PROP_CONSUME_TYPE", "CONSUME_PASSIVELY".to_owned()),
        ("PROP_CONSUMEORDERLY", inner.is_orderly().to_string()),
        ("PROP_CLIENT_VERSION", "V4_9_8".to_owned()),
        ("PROP_THREADPOOL_CORE_SIZE", cfg.consume_thread_max.to_string()),
        ("PROP_CONSUMER_START_TIMESTAMP", inner.start_ms.to_string()),
        ("consumerGroup", inner.group.clone()),
        ("messageModel", cfg.message_model.name().to_owned()),
        ("consumeFromWhere", cfg.consume_from_where.name().to_owned()),
        ("pullBatchSize", cfg.pull_batch_size.to_string()),
        ("pullThresholdForQueue", cfg.pull_threshold_for_queue.to_string()),
        (
            "pullThresholdSizeForQueue",
            cfg.pull_threshold_size_for_queue_mib.to_string(),
        ),
        (
            "consumeConcurrentlyMaxSpan",
            cfg.consume_concurrently_max_span.to_string(),
        ),
    ] {
        info.properties.insert(k.to_owned(), v);
    }
    info.subscription_set = inner.subscriptions_snapshot().into_values().collect();
    for sub in &info.subscription_set {
        info.status_table.insert(sub.topic.clone(), Default::default());
    }
    for (mq, pq) in inner.owned_queues() {
        let stats = pq.stats();
        let queue = ProcessQueueInfo {
            cached_msg_count: stats.count as i64,
            cached_msg_min_offset: stats.min_offset,
            cached_msg_max_offset: stats.max_offset,
            cached_msg_size_in_mib: (stats.size_bytes / MIB) as i64,
            commit_offset: inner.offsets().read(&mq).unwrap_or(0),
            droped: pq.is_dropped(),
            last_pull_timestamp: pq.last_pull_ms.load(std::sync::atomic::Ordering::Relaxed),
            last_consume_timestamp: pq.last_consume_ms.load(std::sync::atomic::Ordering::Relaxed),
            ..Default::default()
        };
        info.mq_table.insert(mq.into(), queue);
    }
    if inner.config.message_model == MessageModel::Broadcasting {
        info.properties.insert("PROP_BROADCASTING".into(), "true".into());
    }
    RemotingCommand::response(response_code::SUCCESS).with_body(body::to_json(&info))
}

/// CONSUME_MESSAGE_DIRECTLY: run the listener on the one message in the body (spec A.7).
async fn consume_directly(inner: &Inner, req: &RemotingCommand) -> RemotingCommand {
    let msgs = match message::decode_messages(&req.body) {
        Ok(m) if !m.is_empty() => m,
        Ok(_) => return error(response_code::SYSTEM_ERROR, "no message in the body".into()),
        Err(e) => return error(response_code::SYSTEM_ERROR, format!("bad message: {e}")),
    };
    let started = inner.now_ms();
    let order = inner.is_orderly();
    let outcome = match (inner.orderly_listener(), inner.listener()) {
        (Some(orderly), _) => {
            tokio::task::spawn_blocking(move || {
                std::panic::catch_unwind(AssertUnwindSafe(|| match orderly(&msgs) {
                    ConsumeOrderlyStatus::Success => "CR_SUCCESS",
                    ConsumeOrderlyStatus::SuspendCurrentQueueAMoment => "CR_LATER",
                }))
            })
            .await
        }
        (None, Some(listener)) => {
            tokio::task::spawn_blocking(move || {
                std::panic::catch_unwind(AssertUnwindSafe(|| match listener(&msgs) {
                    ConsumeStatus::ConsumeSuccess => "CR_SUCCESS",
                    ConsumeStatus::ReconsumeLater => "CR_LATER",
                }))
            })
            .await
        }
        (None, None) => return error(response_code::SYSTEM_ERROR, "no listener".into()),
    };
    let (consume_result, remark) = match outcome {
        Ok(Ok(result)) => (result, None),
        _ => ("CR_THROW_EXCEPTION", Some("the listener panicked".to_owned())),
    };
    let result = ConsumeMessageDirectlyResult {
        auto_commit: true,
        consume_result: consume_result.to_owned(),
        order,
        remark,
        spent_time_mills: inner.now_ms() - started,
    };
    RemotingCommand::response(response_code::SUCCESS).with_body(body::to_json(&result))
}
