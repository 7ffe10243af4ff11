//! The 5.x cold-read flow control verbs (`AdminBrokerProcessor`'s
//! `updateColdDataFlowCtrGroupConfig`, `removeColdDataFlowCtrGroupConfig`,
//! `getColdDataFlowCtrInfo`) over [`crate::cold_read::ColdReadGroups`].

use rmq_protocol::body::properties;
use rmq_protocol::RemotingCommand;

use super::ok;
use crate::cold_read::{CG_COLD_READ_THRESHOLD, GLOBAL_COLD_READ_THRESHOLD};
use crate::BrokerState;

/// UPDATE_COLD_DATA_FLOW_CTR_CONFIG (2001): the body is `group=threshold` properties. A
/// threshold that is not a number is skipped (logged), the others still apply, as in Java.
pub(super) fn update(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let text = String::from_utf8_lossy(&req.body);
    for (group, value) in properties::parse(&text) {
        match value.trim().parse::<i64>() {
            Ok(threshold) => {
                tracing::info!(group, threshold, "cold-read threshold set");
                s.cold_read.upsert(&group, threshold);
            }
            Err(_) => tracing::warn!(group, value, "cold-read threshold is not a number; skipped"),
        }
    }
    ok(req)
}

/// REMOVE_COLD_DATA_FLOW_CTR_CONFIG (2002): the body is the group's name.
pub(super) fn remove(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if !req.body.is_empty() {
        let group = String::from_utf8_lossy(&req.body);
        tracing::info!(group = %group, "cold-read threshold removed");
        s.cold_read.remove(group.trim());
    }
    ok(req)
}

/// GET_COLD_DATA_FLOW_CTR_INFO (2003): the table and the thresholds, `cgColdReadThreshold` and
/// `globalColdReadThreshold` as configured or Java's defaults.
pub(super) fn info(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let configured = |key: &str, default: i64| {
        s.runtime
            .value(key)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(default)
    };
    let json = s.cold_read.info_json(
        configured("cgColdReadThreshold", CG_COLD_READ_THRESHOLD),
        configured("globalColdReadThreshold", GLOBAL_COLD_READ_THRESHOLD),
    );
    ok(req).with_body(json.into_bytes())
}
