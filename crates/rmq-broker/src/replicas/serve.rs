//! The broker's controller-mode requests: NOTIFY_BROKER_ROLE_CHANGED (1008, from the
//! controller), GET_BROKER_EPOCH_CACHE (1007, `mqadmin getBrokerEpoch`) and
//! EXCHANGE_BROKER_HA_INFO (906, a slave asking the master for its HA address).

use std::sync::Arc;

use rmq_protocol::body::{EpochEntryBody, EpochEntryCache};
use rmq_protocol::codes::response_code as code;
use rmq_protocol::RemotingCommand;

use crate::BrokerState;

/// NOTIFY_BROKER_ROLE_CHANGED is oneway: applied in the background, nothing answered.
pub fn notify_role_changed(s: &Arc<BrokerState>, req: &RemotingCommand) {
    if s.config.controller.enable {
        super::role::on_notify(s, req);
    }
}

/// GET_BROKER_EPOCH_CACHE: the epoch file, this broker's id in routes and its max offset.
pub fn epoch_cache(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    if !s.config.controller.enable {
        return RemotingCommand::response_to(req, code::SYSTEM_ERROR)
            .with_remark("this request only for controllerMode ");
    }
    let body = EpochEntryCache {
        cluster_name: s.config.broker_cluster_name.clone(),
        broker_name: s.config.broker_name.clone(),
        broker_id: s.broker_id(),
        epoch_list: s
            .store
            .ha()
            .replicas
            .epochs()
            .entries()
            .into_iter()
            .map(|e| EpochEntryBody {
                epoch: e.epoch,
                start_offset: e.start_offset,
                end_offset: e.end_offset,
            })
            .collect(),
        max_offset: s.store.max_phy_offset(),
    };
    RemotingCommand::response_to(req, code::SUCCESS).with_body(rmq_protocol::body::to_json(&body))
}

/// EXCHANGE_BROKER_HA_INFO without `masterHaAddress` asks a master for its HA address, its
/// max offset at start and its address; a slave answers nothing. (The other direction, a
/// master telling a slave, is the acting-master path, not used here.)
pub fn exchange_ha_info(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let resp = RemotingCommand::response_to(req, code::SUCCESS);
    if req.ext("masterHaAddress").is_some() || !s.is_master() {
        return resp;
    }
    resp.with_ext(
        "masterHaAddress",
        format!("{}:{}", s.config.broker_ip2, s.config.ha_listen_port),
    )
    .with_ext("masterFlushOffset", s.store.max_phy_offset().to_string())
    .with_ext("masterAddress", s.addr.clone())
}
