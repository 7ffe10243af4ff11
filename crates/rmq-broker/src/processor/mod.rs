//! Request dispatch: one match on the request code. Each area's handlers live in a submodule and
//! return a response; a header that fails to parse gets `SYSTEM_ERROR` with a remark naming the
//! field, an unknown code gets `REQUEST_CODE_NOT_SUPPORTED`.

mod acl;
mod admin;
mod client_config;
mod cold_read;
mod consumer;
mod end_transaction;
mod group;
mod offset;
mod pop;
mod pull;
mod query;
mod retry;
mod send;

pub use rmq_protocol::message::pull_sys_flag;

use std::sync::Arc;

use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler};

use crate::clients::{self, GroupChange};
use crate::BrokerState;

/// Java's `FAQUrl.suggestTodo` suffix.
pub(crate) const FAQ: &str = "\nSee http://rocketmq.apache.org/docs/faq/ for further details.";

pub(crate) const SLAVE_REFUSES_ADMIN: &str =
    "Can't modify topic or subscription group from slave broker, please execute it from master broker.";

/// The broker's [`RequestHandler`].
pub struct Processor {
    pub(crate) state: Arc<BrokerState>,
}

impl RequestHandler for Processor {
    fn handle(
        self: Arc<Self>,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move { self.dispatch(&channel, &request).await })
    }

    fn served(&self, served: &rmq_remoting::Served) {
        self.state.metrics.rpc(served);
    }

    fn on_channel_closed(&self, channel: &Channel) {
        for change in self.state.clients.channel_closed(channel) {
            tracing::info!(peer = %channel.peer_addr(), group = %change.group, "consumer connection closed");
            notify_group_change(&self.state, change);
        }
    }
}

/// Sends NOTIFY_CONSUMER_IDS_CHANGED to the group's members unless the broker or the group
/// turned it off.
pub(crate) fn notify_group_change(s: &BrokerState, change: GroupChange) {
    if !s.config.notify_consumer_ids_changed_enable {
        return;
    }
    if s.groups
        .get(&change.group)
        .is_some_and(|g| !g.notify_consumer_ids_changed_enable)
    {
        return;
    }
    clients::notify_ids_changed(change);
}

pub(crate) fn error(req: &RemotingCommand, c: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req, c).with_remark(remark)
}

/// The put-time rewrites Java runs inside the store's put hook, in its order: a deliver time
/// parks the message in the timer topic (`timer`), otherwise a delay level in the schedule topic
/// (`schedule`). `Err` is the response refusing the message.
#[allow(
    clippy::result_large_err,
    reason = "the error is the response itself, built once"
)]
pub(crate) fn park_for_later(
    s: &crate::BrokerState,
    req: &RemotingCommand,
    msg: &mut rmq_store::PutMessage,
) -> Result<(), RemotingCommand> {
    match s.timer.apply_timer(msg) {
        Ok(true) => Ok(()),
        Ok(false) => s
            .schedule
            .apply_delay(msg)
            .map(drop)
            .map_err(|remark| error(req, code::SYSTEM_ERROR, remark)),
        Err(refused) => Err(error(req, refused.code(), refused.remark().to_string())),
    }
}

/// A request from another front end of the broker (gRPC), handled as the Proxy has the broker
/// handle it, on the same path as a remoting one, without a socket: sends (the send queue, the
/// checks, the store), POP / ACK / CHANGE_MESSAGE_INVISIBLETIME, CONSUMER_SEND_MSG_BACK,
/// END_TRANSACTION, PULL_MESSAGE and the offset requests. `peer` is the client's address (a producer's born host). A POP's long poll
/// ends with the caller's future (a gRPC client that goes away drops it). Other codes get
/// REQUEST_CODE_NOT_SUPPORTED.
pub(crate) async fn in_process(
    s: &BrokerState,
    peer: std::net::SocketAddr,
    req: &RemotingCommand,
) -> RemotingCommand {
    match req.code {
        rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE => {
            match s.send_queue.enter(&s.store, std::time::Instant::now()).await {
                Ok(permit) => send::send(s, peer, req, permit).await,
                Err(busy) => error(req, code::SYSTEM_BUSY, busy.remark()),
            }
        }
        rc::POP_MESSAGE => pop_until(s, req, std::future::pending()).await,
        rc::ACK_MESSAGE => pop::ack(s, req).await,
        rc::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible_time(s, req).await,
        rc::CONSUMER_SEND_MSG_BACK => match s.send_queue.enter(&s.store, std::time::Instant::now()).await {
            Ok(permit) => retry::send_back(s, req, permit).await,
            Err(busy) => error(req, code::SYSTEM_BUSY, busy.remark()),
        },
        rc::END_TRANSACTION => end_transaction::end_transaction(s, req)
            .await
            .unwrap_or_else(|| ok(req)),
        rc::PULL_MESSAGE => pull_until(s, peer, std::future::pending(), req).await,
        rc::UPDATE_CONSUMER_OFFSET => offset::update(s, req).await,
        rc::QUERY_CONSUMER_OFFSET => offset::query(s, req).await,
        rc::GET_MIN_OFFSET => admin::min_offset(s, req).await,
        rc::GET_MAX_OFFSET => admin::max_offset(s, req).await,
        rc::SEARCH_OFFSET_BY_TIMESTAMP => admin::search_offset(s, req).await,
        other => error(
            req,
            code::REQUEST_CODE_NOT_SUPPORTED,
            format!("request code {other} is not served in process"),
        ),
    }
}

/// PULL_MESSAGE from another front end, its hold ending early when `closed` completes.
pub(crate) async fn pull_until(
    s: &BrokerState,
    peer: std::net::SocketAddr,
    closed: impl std::future::Future<Output = ()>,
    req: &RemotingCommand,
) -> RemotingCommand {
    pull::pull_until(s, peer, closed, req).await
}

/// POP_MESSAGE from another front end, its long poll ending early when `closed` completes.
pub(crate) async fn pop_until(
    s: &BrokerState,
    req: &RemotingCommand,
    closed: impl std::future::Future<Output = ()>,
) -> RemotingCommand {
    pop::pop(s, closed, req).await
}

pub(crate) fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, code::SUCCESS)
}

/// Parses a typed header or returns the error response naming the bad field.
macro_rules! header {
    ($req:expr, $ty:ty) => {
        match $req.header::<$ty>() {
            Ok(h) => h,
            Err(e) => {
                return $crate::processor::error(
                    $req,
                    rmq_protocol::codes::response_code::SYSTEM_ERROR,
                    format!("bad request header: {e}"),
                )
            }
        }
    };
}
pub(crate) use header;

impl Processor {
    async fn dispatch(&self, channel: &Channel, req: &RemotingCommand) -> Option<RemotingCommand> {
        let s = &*self.state;
        if let Some(acl) = &s.acl {
            if let Err(denied) = acl.check(req, channel.peer_addr().ip()) {
                return Some(error(req, code::NO_PERMISSION, denied.reason));
            }
        }
        if let Some(auth) = &s.auth {
            if let Err(denied) = auth.check(req, channel.peer_addr().ip()) {
                return Some(error(req, code::NO_PERMISSION, denied.reason));
            }
        }
        let resp = match req.code {
            // Java runs CONSUMER_SEND_MSG_BACK on the send executor: it waits in the same queue.
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE | rc::CONSUMER_SEND_MSG_BACK => {
                in_process(s, channel.peer_addr(), req).await
            }
            rc::END_TRANSACTION => return end_transaction::end_transaction(s, req).await,
            rc::PULL_MESSAGE => pull::pull(s, channel, req).await,
            // 5.x DefaultLitePullConsumer: the same pull under its own code.
            rc::LITE_PULL_MESSAGE if !s.config.lite_pull_message_enable => error(
                req,
                code::NO_PERMISSION,
                format!(
                    "the broker[{}] for lite pull consumer is forbidden",
                    s.config.broker_ip1
                ),
            ),
            rc::LITE_PULL_MESSAGE => pull::pull(s, channel, req).await,
            rc::POP_MESSAGE => pop::pop(s, channel.closed(), req).await,
            rc::ACK_MESSAGE => pop::ack(s, req).await,
            rc::BATCH_ACK_MESSAGE => pop::batch_ack(s, req).await,
            rc::CHANGE_MESSAGE_INVISIBLETIME => pop::change_invisible_time(s, req).await,
            rc::NOTIFICATION => pop::notification(s, channel, req).await,
            rc::POLLING_INFO => pop::polling_info(s, req),
            rc::QUERY_ASSIGNMENT => pop::query_assignment(s, req).await,
            rc::SET_MESSAGE_REQUEST_MODE => pop::set_message_request_mode(s, req),
            rc::GET_ALL_MESSAGE_REQUEST_MODE => pop::all_message_request_mode(s, req),
            rc::HEART_BEAT => consumer::heartbeat(s, channel, req).await,
            rc::UNREGISTER_CLIENT => consumer::unregister_client(s, channel, req),
            rc::GET_CONSUMER_LIST_BY_GROUP => consumer::consumer_list(s, req),
            rc::GET_CONSUMER_CONNECTION_LIST => consumer::consumer_connections(s, req),
            rc::GET_PRODUCER_CONNECTION_LIST => consumer::producer_connections(s, req),
            rc::QUERY_TOPIC_CONSUME_BY_WHO => consumer::consumed_by(s, req),
            rc::LOCK_BATCH_MQ => consumer::lock_batch(s, req),
            rc::GET_CONSUMER_RUNNING_INFO => consumer::running_info(s, req).await,
            rc::QUERY_TOPICS_BY_CONSUMER => consumer::topics_by_consumer(s, req),
            rc::QUERY_SUBSCRIPTION_BY_CONSUMER => consumer::subscription_by_consumer(s, req),
            rc::CONSUME_MESSAGE_DIRECTLY => consumer::consume_directly(s, req).await,
            rc::UNLOCK_BATCH_MQ => consumer::unlock_batch(s, req),
            rc::QUERY_CONSUMER_OFFSET => offset::query(s, req).await,
            rc::UPDATE_CONSUMER_OFFSET => offset::update(s, req).await,
            rc::GET_ALL_CONSUMER_OFFSET => offset::all(s, req),
            rc::GET_CONSUME_STATS => offset::consume_stats(s, req),
            rc::GET_BROKER_CONSUME_STATS => offset::broker_consume_stats(s, req),
            rc::QUERY_CONSUME_QUEUE => admin::query_consume_queue(s, req),
            rc::GET_SYSTEM_TOPIC_LIST_FROM_BROKER => admin::system_topics(req),
            rc::CLEAN_EXPIRED_CONSUMEQUEUE => admin::clean_expired_consume_queues(s, req),
            rc::CLEAN_UNUSED_TOPIC => admin::clean_unused_topics(s, req),
            rc::GET_ALL_PRODUCER_INFO => admin::all_producer_info(s, req),
            rc::INVOKE_BROKER_TO_RESET_OFFSET => offset::reset(s, req).await,
            rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => group::update(s, req),
            rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => group::all(s, req),
            rc::DELETE_SUBSCRIPTIONGROUP => group::delete(s, req),
            rc::GET_SUBSCRIPTIONGROUP_CONFIG => group::get(s, req),
            rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST => group::update_list(s, req),
            rc::GET_TOPIC_CONFIG => admin::topic_config_of(s, req),
            rc::UPDATE_AND_CREATE_TOPIC_LIST => admin::update_topic_list(s, req).await,
            rc::CHECK_CLIENT_CONFIG => client_config::check_client_config(s, req),
            rc::UPDATE_AND_CREATE_TOPIC => admin::update_topic(s, req).await,
            rc::UPDATE_AND_CREATE_STATIC_TOPIC => admin::update_static_topic(s, req).await,
            rc::DELETE_TOPIC_IN_BROKER => admin::delete_topic(s, req),
            rc::GET_ALL_TOPIC_CONFIG => admin::all_topic_config(s, req),
            rc::GET_MAX_OFFSET => admin::max_offset(s, req).await,
            rc::GET_MIN_OFFSET => admin::min_offset(s, req).await,
            rc::SEARCH_OFFSET_BY_TIMESTAMP => admin::search_offset(s, req).await,
            rc::GET_EARLIEST_MSG_STORETIME => admin::earliest_time(s, req).await,
            rc::VIEW_MESSAGE_BY_ID => admin::view_message(s, req),
            rc::GET_TOPIC_STATS_INFO => admin::topic_stats(s, req),
            rc::GET_BROKER_RUNTIME_INFO => admin::runtime_info(s, req),
            rc::VIEW_BROKER_STATS_DATA => admin::broker_stats_data(s, req),
            rc::GET_BROKER_HA_STATUS => admin::ha_status(s, req),
            rc::GET_BROKER_EPOCH_CACHE => crate::replicas::serve::epoch_cache(s, req),
            rc::EXCHANGE_BROKER_HA_INFO => crate::replicas::serve::exchange_ha_info(s, req),
            rc::NOTIFY_BROKER_ROLE_CHANGED => {
                crate::replicas::serve::notify_role_changed(&self.state, req);
                return None;
            }
            rc::SET_COMMITLOG_READ_MODE => admin::set_commit_log_read_mode(s, req),
            rc::RESET_MASTER_FLUSH_OFFSET => admin::reset_master_flush_offset(s, req),
            rc::UPDATE_COLD_DATA_FLOW_CTR_CONFIG => cold_read::update(s, req),
            rc::REMOVE_COLD_DATA_FLOW_CTR_CONFIG => cold_read::remove(s, req),
            rc::GET_COLD_DATA_FLOW_CTR_INFO => cold_read::info(s, req),
            rc::CHECK_ROCKSDB_CQ_WRITE_PROGRESS => admin::check_rocksdb_cq_write_progress(req),
            rc::GET_BROKER_CONFIG => admin::broker_config(s, req),
            rc::UPDATE_BROKER_CONFIG => admin::update_broker_config(s, req).await,
            rc::GET_ALL_DELAY_OFFSET => retry::all_delay_offset(s, req),
            rc::QUERY_MESSAGE => query::query_message(s, req),
            rc::UPDATE_AND_CREATE_ACL_CONFIG => acl::update_account(s, req),
            rc::DELETE_ACL_CONFIG => acl::delete_account(s, req),
            rc::GET_BROKER_CLUSTER_ACL_INFO => acl::version_info(s, req),
            rc::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG => acl::update_global_white(s, req),
            rc::GET_BROKER_CLUSTER_ACL_CONFIG => acl::cluster_config(s, req),
            c if rmq_acl::v2::admin::CODES.contains(&c) => rmq_acl::v2::admin::handle(s.auth.as_ref(), req),
            rc::DELETE_EXPIRED_COMMITLOG => admin::delete_expired_commit_log(s, req),
            other => error(
                req,
                code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {other} not supported"),
            ),
        };
        Some(resp)
    }
}
