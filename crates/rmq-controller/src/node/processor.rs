//! Request dispatch: one match on the request code, one small function per request
//! (Java's `ControllerRequestProcessor`; docs/controller/java-reference.md, section 2).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_protocol::body::{
    self, BrokerMemberGroup, BrokerReplicasInfo, ElectMasterResponseBody, ReplicaIdentity as WireReplica,
    ReplicasInfo, SyncStateSetBody,
};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler};

use super::heartbeat::Heartbeat;
use super::{CommitError, Node};
use crate::clean::CleanBrokerDataRequest;
use crate::elect::{ElectRequest, ElectTrigger, Election};
use crate::error::code as ccode;
use crate::register::{ApplyBrokerIdRequest, RegisterBrokerRequest};
use crate::sync_state::AlterSyncStateSetRequest;
use crate::BrokerId;

/// The controller's [`RequestHandler`]. The node is set once the port is bound.
pub(crate) struct Processor {
    node: Arc<parking_lot::Mutex<Option<Arc<Node>>>>,
}

impl Processor {
    pub(crate) fn new(node: Arc<parking_lot::Mutex<Option<Arc<Node>>>>) -> Self {
        Self { node }
    }
}

impl RequestHandler for Processor {
    fn handle(
        self: Arc<Self>,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let node = self.node.lock().clone();
        Box::pin(async move {
            let Some(node) = node else {
                return Some(error(&request, code::SYSTEM_ERROR, "the controller is starting"));
            };
            let resp = dispatch(&node, &channel, &request).await;
            (!request.is_oneway()).then_some(resp)
        })
    }

    fn on_channel_closed(&self, channel: &Channel) {
        let Some(node) = self.node.lock().clone() else {
            return;
        };
        let gone = node.heartbeats.lock().channel_closed(channel.id());
        for key in gone {
            tracing::info!(cluster = %key.0, broker_name = %key.1, id = key.2, "controller: broker connection closed");
            tokio::spawn(node.clone().broker_inactive(key));
        }
    }
}

fn error(req: &RemotingCommand, c: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req, c).with_remark(remark)
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, code::SUCCESS)
}

fn refused(req: &RemotingCommand, e: CommitError) -> RemotingCommand {
    match e {
        CommitError::Refused(e) => error(req, e.code(), e.remark()),
        CommitError::NotLeader => error(req, ccode::CONTROLLER_NOT_LEADER, e.to_string()),
        CommitError::Raft(e) => error(req, code::SYSTEM_ERROR, e),
        CommitError::Log(e) => error(req, code::SYSTEM_ERROR, e.to_string()),
    }
}

macro_rules! header {
    ($req:expr, $ty:ty) => {
        match $req.header::<$ty>() {
            Ok(h) => h,
            Err(e) => return error($req, code::SYSTEM_ERROR, format!("bad request header: {e}")),
        }
    };
}

/// A required header field, or the error Java's `@CFNotNull` check gives.
macro_rules! need {
    ($req:expr, $v:expr, $name:literal) => {
        match $v {
            Some(v) => v,
            None => {
                return error(
                    $req,
                    code::SYSTEM_ERROR,
                    concat!("the custom field <", $name, "> is null"),
                )
            }
        }
    };
}

/// A broker id from the wire: Java's `Long`, -1 and negative numbers meaning none.
fn id(v: Option<i64>) -> Option<BrokerId> {
    v.and_then(|v| u64::try_from(v).ok())
}

/// The `SyncStateSet` body of a set and its epoch.
pub(crate) fn sync_state_body(members: &BTreeSet<BrokerId>, epoch: i32) -> SyncStateSetBody {
    SyncStateSetBody {
        sync_state_set: members.iter().map(|&id| id as i64).collect(),
        sync_state_set_epoch: epoch,
    }
}

async fn dispatch(node: &Arc<Node>, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
    match req.code {
        super::raft::RAFT_APPEND_ENTRIES | super::raft::RAFT_VOTE | super::raft::RAFT_INSTALL_SNAPSHOT => {
            match super::raft::serve(&node.raft, req.code, &req.body).await {
                Ok(body) => ok(req).with_body(body),
                Err(e) => error(req, code::SYSTEM_ERROR, format!("bad raft request: {e}")),
            }
        }
        rc::BROKER_HEARTBEAT => heartbeat(node, channel, req),
        rc::CONTROLLER_GET_NEXT_BROKER_ID => next_broker_id(node, req).await,
        rc::CONTROLLER_APPLY_BROKER_ID => apply_broker_id(node, req).await,
        rc::CONTROLLER_REGISTER_BROKER => register(node, req).await,
        rc::CONTROLLER_ELECT_MASTER => elect(node, req).await,
        rc::CONTROLLER_ALTER_SYNC_STATE_SET => alter_sync_state_set(node, req).await,
        rc::CONTROLLER_GET_REPLICA_INFO => replica_info(node, req).await,
        rc::CONTROLLER_GET_METADATA_INFO => metadata(node, req),
        rc::CONTROLLER_GET_SYNC_STATE_DATA => sync_state_data(node, req).await,
        rc::CLEAN_BROKER_DATA => clean(node, req).await,
        rc::GET_CONTROLLER_CONFIG => {
            let text = body::properties::format(node.config.read().export());
            ok(req).with_body(text.into_bytes())
        }
        rc::UPDATE_CONTROLLER_CONFIG => update_config(node, req),
        other => error(
            req,
            code::REQUEST_CODE_NOT_SUPPORTED,
            format!("request type {other} not supported"),
        ),
    }
}

/// BROKER_HEARTBEAT (904): Java refuses a heartbeat without a broker id (2005).
fn heartbeat(node: &Node, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, BrokerHeartbeatRequestHeader);
    let Some(broker_id) = id(h.broker_id) else {
        return error(
            req,
            ccode::CONTROLLER_INVALID_REQUEST,
            "Heart beat with empty brokerId",
        );
    };
    let (Some(cluster), Some(name), Some(addr)) = (h.cluster_name, h.broker_name, h.broker_addr) else {
        return error(
            req,
            code::SYSTEM_ERROR,
            "the custom field <clusterName, brokerName, brokerAddr> is null",
        );
    };
    let timeout = h
        .heartbeat_timeout_mills
        .filter(|&t| t > 0)
        .map(|t| Duration::from_millis(t as u64));
    node.heartbeats.lock().beat(
        Heartbeat {
            key: (cluster, name, broker_id),
            address: addr,
            timeout,
            epoch: h.epoch,
            max_offset: h.max_offset,
            confirm_offset: h.confirm_offset,
            election_priority: h.election_priority,
            channel: channel.id(),
        },
        Instant::now(),
    );
    ok(req).with_remark("Heart beat success")
}

async fn next_broker_id(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetNextBrokerIdRequestHeader);
    let name = need!(req, h.broker_name, "brokerName");
    let next = match node.read(|state, _| state.next_broker_id(&name)) {
        Ok(n) => n,
        Err(e) => return refused(req, e),
    };
    ok(req).with_header(&GetNextBrokerIdResponseHeader {
        cluster_name: h.cluster_name,
        broker_name: Some(name),
        next_broker_id: Some(next as i64),
    })
}

async fn apply_broker_id(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, ApplyBrokerIdRequestHeader);
    let request = ApplyBrokerIdRequest {
        cluster_name: h.cluster_name.clone().unwrap_or_default(),
        broker_name: need!(req, h.broker_name.clone(), "brokerName"),
        broker_id: need!(req, id(h.applied_broker_id), "appliedBrokerId"),
        register_check_code: need!(req, h.register_check_code, "registerCheckCode"),
    };
    match node.commit(|state, _| state.apply_broker_id(&request)).await {
        Ok(()) => ok(req).with_header(&ApplyBrokerIdResponseHeader {
            cluster_name: h.cluster_name,
            broker_name: h.broker_name,
        }),
        Err(e) => refused(req, e),
    }
}

async fn register(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, RegisterBrokerToControllerRequestHeader);
    let request = RegisterBrokerRequest {
        cluster_name: h.cluster_name.clone().unwrap_or_default(),
        broker_name: need!(req, h.broker_name.clone(), "brokerName"),
        broker_id: need!(req, id(h.broker_id), "brokerId"),
        broker_address: need!(req, h.broker_address, "brokerAddress"),
    };
    match node
        .commit(|state, live| state.register_broker(&request, live))
        .await
    {
        Ok(reply) => {
            let master = reply.master.as_ref();
            ok(req)
                .with_header(&RegisterBrokerToControllerResponseHeader {
                    cluster_name: h.cluster_name,
                    broker_name: h.broker_name,
                    master_broker_id: master.map(|m| m.broker_id as i64),
                    master_address: master.and_then(|m| m.address.clone()),
                    master_epoch: master.map(|m| m.master_epoch),
                    sync_state_set_epoch: master.map(|m| m.sync_state_set_epoch),
                })
                .with_body(body::to_json(&sync_state_body(
                    &reply.sync_state_set.members,
                    reply.sync_state_set.epoch,
                )))
        }
        Err(e) => refused(req, e),
    }
}

async fn elect(node: &Arc<Node>, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, ElectMasterRequestHeader);
    let broker_name = h.broker_name.unwrap_or_default();
    let trigger = match (h.designate_elect.unwrap_or(false), id(h.broker_id)) {
        (true, Some(id)) => ElectTrigger::Admin(id),
        (true, None) => {
            return error(
                req,
                ccode::CONTROLLER_ELECT_MASTER_FAILED,
                "an admin election needs a brokerId",
            )
        }
        (false, Some(id)) => ElectTrigger::Broker(id),
        (false, None) => ElectTrigger::Controller,
    };
    let election = match node.elect(ElectRequest { broker_name, trigger }).await {
        Ok(e) => e,
        Err(e) => return refused(req, e),
    };
    let resp = RemotingCommand::response_to(req, election.code());
    match election {
        Election::NewMaster {
            master,
            address,
            master_epoch,
            sync_state_set_epoch,
            sync_state_set,
            members,
        } => resp
            .with_header(&elected(master, address, master_epoch, sync_state_set_epoch))
            .with_body(body::to_json(&ElectMasterResponseBody {
                broker_member_group: Some(BrokerMemberGroup {
                    cluster: members.cluster_name,
                    broker_name: members.broker_name,
                    broker_addrs: members
                        .addresses
                        .into_iter()
                        .map(|(id, a)| (id as i64, a))
                        .collect(),
                }),
                sync_state_set: sync_state_set.into_iter().map(|id| id as i64).collect(),
            })),
        Election::MasterStillExists {
            master,
            address,
            master_epoch,
            sync_state_set_epoch,
            sync_state_set,
        } => resp
            .with_remark("The old master is still alive, no need to elect new master")
            .with_header(&elected(master, address, master_epoch, sync_state_set_epoch))
            .with_body(body::to_json(&ElectMasterResponseBody {
                broker_member_group: None,
                sync_state_set: sync_state_set.into_iter().map(|id| id as i64).collect(),
            })),
        Election::NoMasterAvailable => resp.with_remark("Failed to elect a new master"),
    }
}

/// The header of an election's answer: the master and the epochs.
fn elected(
    master: u64,
    address: Option<String>,
    master_epoch: i32,
    sync_state_set_epoch: i32,
) -> ElectMasterResponseHeader {
    ElectMasterResponseHeader {
        master_broker_id: Some(master as i64),
        master_address: address,
        master_epoch: Some(master_epoch),
        sync_state_set_epoch: Some(sync_state_set_epoch),
    }
}

async fn alter_sync_state_set(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, AlterSyncStateSetRequestHeader);
    let set: SyncStateSetBody = match body::from_fastjson(&req.body) {
        Ok(b) => b,
        Err(e) => return error(req, code::SYSTEM_ERROR, format!("bad SyncStateSet body: {e}")),
    };
    let request = AlterSyncStateSetRequest {
        broker_name: need!(req, h.broker_name, "brokerName"),
        master_id: need!(req, id(h.master_broker_id), "masterBrokerId"),
        master_epoch: need!(req, h.master_epoch, "masterEpoch"),
        new_sync_state_set: set
            .sync_state_set
            .iter()
            .filter_map(|&id| u64::try_from(id).ok())
            .collect::<BTreeSet<_>>(),
        sync_state_set_epoch: set.sync_state_set_epoch,
    };
    match node
        .commit(|state, live| state.alter_sync_state_set(&request, live))
        .await
    {
        Ok(view) => ok(req)
            .with_header(&AlterSyncStateSetResponseHeader {
                new_sync_state_set_epoch: Some(view.epoch),
            })
            .with_body(body::to_json(&sync_state_body(&view.members, view.epoch))),
        Err(e) => refused(req, e),
    }
}

async fn replica_info(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, GetReplicaInfoRequestHeader);
    let name = h.broker_name.unwrap_or_default();
    let info = match node.read(|state, _| state.replica_info(&name)) {
        Ok(i) => i,
        Err(e) => return refused(req, e),
    };
    match info {
        Ok(info) => ok(req)
            .with_header(&GetReplicaInfoResponseHeader {
                master_broker_id: info.master.map(|id| id as i64),
                master_address: info.master_address,
                master_epoch: Some(info.master_epoch),
            })
            .with_body(body::to_json(&sync_state_body(
                &info.sync_state_set,
                info.sync_state_set_epoch,
            ))),
        Err(e) => error(req, e.code(), e.remark()),
    }
}

/// GET_METADATA_INFO: answered by any controller, naming the Raft leader it knows.
fn metadata(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    let config = node.config.read();
    let peers: String = config
        .peers
        .iter()
        .map(|p| format!("{}:{};", p.id, p.address))
        .collect();
    let leader = node.leader().and_then(|id| config.peers.get(id as usize));
    ok(req).with_header(&GetMetaDataResponseHeader {
        group: Some(config.group.clone()),
        controller_leader_id: leader.map(|p| p.id.clone()),
        controller_leader_address: leader.map(|p| {
            if p.id == config.self_id {
                node.address.clone()
            } else {
                p.address.clone()
            }
        }),
        is_leader: node.is_leader(),
        peers: Some(peers),
    })
}

async fn sync_state_data(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    if req.body.is_empty() {
        return error(req, code::SYSTEM_ERROR, "not set any response code");
    }
    let names: Vec<String> = match body::from_fastjson(&req.body) {
        Ok(n) => n,
        Err(e) => return error(req, code::SYSTEM_ERROR, format!("bad broker name list: {e}")),
    };
    let data = match node.read(|state, live| state.sync_state_data(&names, live)) {
        Ok(d) => d,
        Err(e) => return refused(req, e),
    };
    let wire = |r: crate::query::ReplicaIdentity| WireReplica {
        broker_name: r.broker_name,
        broker_id: r.broker_id as i64,
        broker_address: r.address,
        alive: r.alive,
    };
    let table = data
        .into_iter()
        .map(|(name, d)| {
            (
                name,
                ReplicasInfo {
                    master_broker_id: d.master.map(|id| id as i64),
                    master_address: d.master_address,
                    master_epoch: d.master_epoch,
                    sync_state_set_epoch: d.sync_state_set_epoch,
                    in_sync_replicas: d.in_sync.into_iter().map(wire).collect(),
                    not_in_sync_replicas: d.not_in_sync.into_iter().map(wire).collect(),
                },
            )
        })
        .collect();
    ok(req).with_body(body::to_json(&BrokerReplicasInfo {
        replicas_info_table: table,
    }))
}

async fn clean(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    let h = header!(req, CleanControllerBrokerDataRequestHeader);
    let ids = match CleanBrokerDataRequest::parse_ids(h.broker_controller_ids_to_clean.as_deref()) {
        Ok(ids) => ids,
        Err(e) => return error(req, e.code(), e.remark()),
    };
    let request = CleanBrokerDataRequest {
        broker_name: need!(req, h.broker_name, "brokerName"),
        broker_ids: ids,
        clean_living: h.is_clean_living_broker.unwrap_or(false),
    };
    match node
        .commit(|state, live| state.clean_broker_data(&request, live))
        .await
    {
        Ok(()) => ok(req),
        Err(e) => refused(req, e),
    }
}

/// UPDATE_CONTROLLER_CONFIG: refused whole when a key is black-listed (NO_PERMISSION, as Java);
/// the election and notify switches and the scan intervals take effect at once; persisted.
fn update_config(node: &Node, req: &RemotingCommand) -> RemotingCommand {
    if req.body.is_empty() {
        return ok(req);
    }
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return error(req, code::SYSTEM_ERROR, "string2Properties error");
    };
    let props = body::properties::parse(text);
    {
        let mut config = node.config.write();
        if props.keys().any(|k| config.black_listed(k)) {
            return error(req, code::NO_PERMISSION, "Can not update config in black list.");
        }
        let mut next = config.clone();
        if let Err(e) = next.apply(&props) {
            return error(req, code::SYSTEM_ERROR, e.to_string());
        }
        *config = next;
    }
    tracing::info!(keys = ?props, "controller config updated");
    let mut pairs: Vec<(String, String)> = props.into_iter().collect();
    pairs.sort();
    node.persist_config(&pairs);
    ok(req)
}
