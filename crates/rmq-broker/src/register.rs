//! Registration with every configured name server (they do not talk to each other).

use std::time::Duration;

use rmq_protocol::body::{self, RegisterBrokerBody};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::RemotingCommand;

use crate::BrokerState;

const REGISTER_TIMEOUT: Duration = Duration::from_secs(6);

fn register_request(state: &BrokerState) -> RemotingCommand {
    let mut wrapper = state.topics.wrapper(state.runtime.permission());
    if state.config.controller.enable {
        // 5.x: the master epoch as `stateVersion`, so a name server ignores a deposed master
        // that registers brokerId 0 again.
        wrapper.data_version.state_version = i64::from(state.replicas.master_epoch().max(0));
    }
    // 5.x: the static topics' mappings (always present, maybe empty, as Java sends them)
    let (infos, details, mapping_version) = state.static_topics.registration();
    wrapper.topic_queue_mapping_info_map = Some(infos);
    wrapper.topic_queue_mapping_detail_map = Some(details);
    wrapper.mapping_data_version = Some(mapping_version);
    let body = RegisterBrokerBody {
        topic_config_serialize_wrapper: wrapper,
        filter_server_list: Vec::new(),
    };
    let body = body::to_json(&body);
    let crc = (crc32fast::hash(&body) & 0x7FFF_FFFF) as i32;
    let c = &state.config;
    RemotingCommand::request(request_code::REGISTER_BROKER)
        .with_ext("brokerName", c.broker_name.clone())
        .with_ext("brokerAddr", state.addr.clone())
        .with_ext("clusterName", c.broker_cluster_name.clone())
        .with_ext("haServerAddr", format!("{}:{}", c.broker_ip2, c.ha_listen_port))
        .with_ext("brokerId", state.broker_id().to_string())
        .with_ext("compressed", "false")
        // 5.x: no acting master (a 4.x name server ignores the field).
        .with_ext("enableActingMaster", "false")
        .with_ext("bodyCrc32", crc.to_string())
        .with_body(body)
}

/// Sends REGISTER_BROKER with every topic to every name server in parallel. Failures are logged;
/// the next period retries.
pub async fn register_all(state: &BrokerState, oneway: bool) {
    // Controller mode: not before the controller gave a role (and with it the id in routes).
    if state.config.controller.enable && state.replicas.route_id() < 0 {
        return;
    }
    let request = register_request(state);
    let sends = state.config.namesrv_addr.iter().map(|addr| {
        let request = request.clone();
        async move {
            if oneway {
                if let Err(e) = state.namesrv.invoke_oneway(addr, request).await {
                    tracing::warn!(namesrv = %addr, error = %e, "register broker (oneway) failed");
                }
                return;
            }
            match state.namesrv.invoke(addr, request, REGISTER_TIMEOUT).await {
                Ok(resp) if resp.code == response_code::SUCCESS => {
                    tracing::debug!(namesrv = %addr, "registered");
                    if !state.is_master() {
                        // Controller mode: only an answer naming the master the controller
                        // named (a name server can still list the dead one).
                        let known = state.replicas.master().map(|(_, a)| a);
                        if !state.config.controller.enable
                            || (known.is_some() && resp.ext("masterAddr") == known.as_deref())
                        {
                            state.master.on_register_response(&resp);
                        }
                    }
                }
                Ok(resp) => tracing::warn!(namesrv = %addr, code = resp.code, remark = ?resp.remark, "register broker refused"),
                Err(e) => tracing::warn!(namesrv = %addr, error = %e, "register broker failed"),
            }
        }
    });
    futures_util::future::join_all(sends).await;
    if !oneway {
        crate::grpc::endpoints::announce(state).await;
    }
}

/// Sends UNREGISTER_BROKER to every name server (clean shutdown).
pub async fn unregister_all(state: &BrokerState) {
    let c = &state.config;
    let request = RemotingCommand::request(request_code::UNREGISTER_BROKER)
        .with_ext("brokerName", c.broker_name.clone())
        .with_ext("brokerAddr", state.addr.clone())
        .with_ext("clusterName", c.broker_cluster_name.clone())
        .with_ext("brokerId", state.broker_id().to_string());
    let sends = c.namesrv_addr.iter().map(|addr| {
        let request = request.clone();
        async move {
            if let Err(e) = state.namesrv.invoke(addr, request, Duration::from_secs(3)).await {
                tracing::warn!(namesrv = %addr, error = %e, "unregister broker failed");
            }
        }
    });
    futures_util::future::join_all(sends).await;
}

/// A topic's route from the first name server that answers one (QUERY_ASSIGNMENT, gRPC
/// QueryRoute); `None` when none does.
pub(crate) async fn topic_route(
    state: &BrokerState,
    topic: &str,
) -> Option<rmq_protocol::body::TopicRouteData> {
    let header = rmq_protocol::header::GetRouteInfoRequestHeader {
        topic: topic.to_string(),
        accept_standard_json_only: Some(true),
    };
    for addr in &state.config.namesrv_addr {
        let req = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_header(&header);
        let Ok(resp) = state.namesrv.invoke(addr, req, ROUTE_TIMEOUT).await else {
            continue;
        };
        if resp.code != response_code::SUCCESS {
            continue;
        }
        if let Ok(route) = body::from_fastjson(&resp.body) {
            return Some(route);
        }
    }
    None
}

/// How long a route lookup waits for one name server.
const ROUTE_TIMEOUT: Duration = Duration::from_secs(3);
