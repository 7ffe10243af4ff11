//! Request dispatch: one match on the request code. Each area's handlers live in a submodule and
//! return a response; a header that fails to parse gets `SYSTEM_ERROR` with a remark naming the
//! field, an unknown code gets `REQUEST_CODE_NOT_SUPPORTED`.

mod admin;
mod query;
mod retry;
mod send;

use std::sync::Arc;

use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler};

use crate::BrokerState;

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

    fn on_channel_closed(&self, channel: &Channel) {
        let groups = self.state.clients.channel_closed(channel);
        if !groups.is_empty() {
            tracing::info!(peer = %channel.peer_addr(), ?groups, "client connection closed");
        }
    }
}

pub(crate) fn error(req: &RemotingCommand, c: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req, c).with_remark(remark)
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
        let resp = match req.code {
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE => {
                send::send(s, channel, req).await
            }
            rc::HEART_BEAT => admin::heartbeat(s, channel, req),
            rc::UNREGISTER_CLIENT => admin::unregister_client(s, channel, req),
            rc::GET_CONSUMER_LIST_BY_GROUP => admin::consumer_list(s, req),
            rc::CHECK_CLIENT_CONFIG => ok(req),
            rc::UPDATE_AND_CREATE_TOPIC => admin::update_topic(s, req).await,
            rc::DELETE_TOPIC_IN_BROKER => admin::delete_topic(s, req),
            rc::GET_ALL_TOPIC_CONFIG => admin::all_topic_config(s, req),
            rc::GET_MAX_OFFSET => admin::max_offset(s, req),
            rc::GET_MIN_OFFSET => admin::min_offset(s, req),
            rc::SEARCH_OFFSET_BY_TIMESTAMP => admin::search_offset(s, req),
            rc::GET_EARLIEST_MSG_STORETIME => admin::earliest_time(s, req),
            rc::VIEW_MESSAGE_BY_ID => admin::view_message(s, req),
            rc::GET_TOPIC_STATS_INFO => admin::topic_stats(s, req),
            rc::GET_BROKER_RUNTIME_INFO => admin::runtime_info(s, req),
            rc::CONSUMER_SEND_MSG_BACK => retry::send_back(s, req).await,
            rc::GET_ALL_DELAY_OFFSET => retry::all_delay_offset(s, req),
            rc::QUERY_MESSAGE => query::query_message(s, req),
            other => error(
                req,
                code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {other} not supported"),
            ),
        };
        Some(resp)
    }
}
