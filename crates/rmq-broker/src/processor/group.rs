//! Subscription group admin: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207), and the 5.x
//! GET_SUBSCRIPTIONGROUP_CONFIG (352) and UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST (225).

use rmq_protocol::body::{self, SubscriptionGroupConfig};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::{DeleteSubscriptionGroupRequestHeader, GetSubscriptionGroupConfigRequestHeader};
use rmq_protocol::RemotingCommand;

use super::{error, header, ok, SLAVE_REFUSES_ADMIN};
use crate::BrokerState;

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200), timed for
/// `rocketmq_consumer_group_create_execution_time` (as is the list below).
pub(super) fn update(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    timed(s, || update_one(s, req))
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST (225, 5.x): `{"groupConfigList":[...]}`; every name is
/// checked before any group is written.
pub(super) fn update_list(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    timed(s, || update_many(s, req))
}

fn timed(s: &BrokerState, f: impl FnOnce() -> RemotingCommand) -> RemotingCommand {
    let started = std::time::Instant::now();
    let resp = f();
    s.metrics
        .group_create(started.elapsed(), resp.code == code::SUCCESS);
    resp
}

fn update_one(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if !s.is_master() {
        return error(req, code::SYSTEM_ERROR, SLAVE_REFUSES_ADMIN);
    }
    let config: SubscriptionGroupConfig = match body::from_fastjson(&req.body) {
        Ok(c) => c,
        Err(e) => {
            return error(
                req,
                code::SYSTEM_ERROR,
                format!("bad subscription group body: {e}"),
            )
        }
    };
    upsert_all(s, req, vec![config])
}

fn update_many(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if !s.is_master() {
        return error(req, code::SYSTEM_ERROR, SLAVE_REFUSES_ADMIN);
    }
    let list: body::SubscriptionGroupList = match body::from_fastjson(&req.body) {
        Ok(l) => l,
        Err(e) => {
            return error(
                req,
                code::SYSTEM_ERROR,
                format!("bad subscription group list body: {e}"),
            )
        }
    };
    upsert_all(s, req, list.group_config_list)
}

fn upsert_all(
    s: &BrokerState,
    req: &RemotingCommand,
    configs: Vec<SubscriptionGroupConfig>,
) -> RemotingCommand {
    for config in &configs {
        if let Err(remark) = rmq_protocol::message::validate_group(&config.group_name) {
            return error(req, code::SYSTEM_ERROR, remark);
        }
    }
    for config in &configs {
        tracing::info!(group = %config.group_name, "update subscription group");
    }
    if let Err(e) = s.groups.upsert_all(configs) {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("update subscription group failed: {e}"),
        );
    }
    ok(req)
}

/// GET_SUBSCRIPTIONGROUP_CONFIG (352, 5.x): one group's config.
pub(super) fn get(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetSubscriptionGroupConfigRequestHeader);
    match s.groups.get(&h.group) {
        Some(config) => ok(req).with_body(body::to_json(&config)),
        None => error(req, code::SYSTEM_ERROR, "No group in this broker"),
    }
}

pub(super) fn all(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    ok(req).with_body(body::to_json(&s.groups.wrapper()))
}

pub(super) fn delete(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if !s.is_master() {
        return error(req, code::SYSTEM_ERROR, SLAVE_REFUSES_ADMIN);
    }
    let h = header!(req, DeleteSubscriptionGroupRequestHeader);
    if let Err(e) = s.groups.delete(&h.group_name) {
        return error(
            req,
            code::SYSTEM_ERROR,
            format!("delete subscription group failed: {e}"),
        );
    }
    if h.remove_offset {
        s.offsets.remove_group(&h.group_name);
    }
    tracing::info!(group = %h.group_name, remove_offset = h.remove_offset, "subscription group deleted");
    ok(req)
}
