//! CHECK_CLIENT_CONFIG (46): a consumer asks, before subscribing with a non-TAG expression,
//! whether the broker can filter with it (Java `ClientManageProcessor.checkClientConfig`).

use rmq_protocol::body::{self, CheckClientRequestBody, EXPRESSION_TYPE_SQL92, EXPRESSION_TYPE_TAG};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::RemotingCommand;

use super::{error, ok};
use crate::{filter, BrokerState};

pub(super) fn check_client_config(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if req.body.is_empty() {
        return ok(req);
    }
    let body: CheckClientRequestBody = match body::from_fastjson(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                req,
                code::SYSTEM_ERROR,
                format!("bad CheckClientRequestBody: {e}"),
            )
        }
    };
    let sub = &body.subscription_data;
    let ty = sub.expression_type.as_str();
    if ty.is_empty() || ty == EXPRESSION_TYPE_TAG {
        return ok(req);
    }
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
