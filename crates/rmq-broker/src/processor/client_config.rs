//! CHECK_CLIENT_CONFIG (46): a consumer asks, before subscribing with a non-TAG expression,
//! whether the broker can filter with it (Java `ClientManageProcessor.checkClientConfig`).

use rmq_protocol::body::{self, CheckClientRequestBody, EXPRESSION_TYPE_SQL92};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::RemotingCommand;

use super::{error, ok};
use crate::{filter, BrokerState};

pub(super) fn check_client_config(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    // No (readable) subscription: nothing to check, as Java.
    let Ok(body) = body::from_fastjson::<CheckClientRequestBody>(&req.body) else {
        return ok(req);
    };
    let sub = &body.subscription_data;
    if sub.is_tag_type() {
        return ok(req);
    }
    let ty = sub.expression_type.as_str();
    if !s.config.enable_property_filter {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("The broker does not support consumer to filter message by {ty}"),
        );
    }
    if ty != EXPRESSION_TYPE_SQL92 {
        return error(
            req,
            code::SUBSCRIPTION_PARSE_FAILED,
            format!("unsupported expression type {ty}"),
        );
    }
    match filter::compile(&sub.sub_string) {
        Ok(_) => ok(req),
        Err(e) => error(req, code::SUBSCRIPTION_PARSE_FAILED, e.to_string()),
    }
}
