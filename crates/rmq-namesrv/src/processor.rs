//! Request dispatch: one match on the request code, one small function per request.

use std::sync::Arc;

use rmq_protocol::body::{self, KvTable, RegisterBrokerBody, TopicList};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RequestHandler};

use crate::route::Registration;
use crate::NameServerState;

/// `NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`.
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";
/// Versions from 3.0.11 (ordinal 37) send `RegisterBrokerBody`; older ones a bare wrapper.
const V3_0_11: i32 = 37;
const FAQ_SUFFIX: &str = "\nSee http://rocketmq.apache.org/docs/faq/ for further details.";

/// The name server's [`RequestHandler`].
pub struct Processor {
    pub(crate) state: Arc<NameServerState>,
}

impl RequestHandler for Processor {
    fn handle(
        self: Arc<Self>,
        channel: Channel,
        request: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move { Some(self.dispatch(&channel, &request)) })
    }

    fn served(&self, served: &rmq_remoting::Served) {
        self.state.rpc.record(served);
    }

    fn on_channel_closed(&self, channel: &Channel) {
        let n = self.state.routes.channel_closed(channel.id());
        if n > 0 {
            tracing::info!(peer = %channel.peer_addr(), brokers = n, "broker connection closed; routes removed");
        }
    }
}

fn error(req: &RemotingCommand, c: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req, c).with_remark(remark)
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, code::SUCCESS)
}

/// Turns a header parse failure into the error response Java would give, naming the field.
macro_rules! header {
    ($req:expr, $ty:ty) => {
        match $req.header::<$ty>() {
            Ok(h) => h,
            Err(e) => return error($req, code::SYSTEM_ERROR, format!("bad request header: {e}")),
        }
    };
}

impl Processor {
    fn dispatch(&self, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
        if let Some(auth) = &self.state.auth {
            if let Err(denied) = auth.check(req, channel.peer_addr().ip()) {
                return error(req, code::NO_PERMISSION, denied.reason);
            }
        }
        match req.code {
            c if rmq_acl::v2::admin::CODES.contains(&c) => {
                rmq_acl::v2::admin::handle(self.state.auth.as_ref(), req)
            }
            rc::REGISTER_BROKER => self.register_broker(channel, req),
            rc::UNREGISTER_BROKER => self.unregister_broker(req),
            rc::QUERY_DATA_VERSION => self.query_data_version(req),
            rc::GET_ROUTEINFO_BY_TOPIC => self.route(req),
            rc::GET_BROKER_CLUSTER_INFO => {
                ok(req).with_body(body::to_json(&self.state.routes.cluster_info()))
            }
            rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => topic_list(req, self.state.routes.topics(), None),
            rc::GET_TOPICS_BY_CLUSTER => {
                let h = header!(req, GetTopicsByClusterRequestHeader);
                topic_list(req, self.state.routes.topics_of_cluster(&h.cluster), None)
            }
            rc::GET_SYSTEM_TOPIC_LIST_FROM_NS => {
                let (names, addr) = self.state.routes.system_topics();
                topic_list(req, names, addr)
            }
            rc::GET_UNIT_TOPIC_LIST => topic_list(
                req,
                self.state.routes.topics_where(|q| q.topic_sys_flag & 1 != 0),
                None,
            ),
            rc::GET_HAS_UNIT_SUB_TOPIC_LIST => topic_list(
                req,
                self.state.routes.topics_where(|q| q.topic_sys_flag & 2 != 0),
                None,
            ),
            rc::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => topic_list(
                req,
                self.state
                    .routes
                    .topics_where(|q| q.topic_sys_flag & 2 != 0 && q.topic_sys_flag & 1 == 0),
                None,
            ),
            rc::DELETE_TOPIC_IN_NAMESRV => {
                let h = header!(req, DeleteTopicFromNamesrvRequestHeader);
                self.state
                    .routes
                    .delete_topic(&h.topic, h.cluster_name.as_deref());
                ok(req)
            }
            rc::WIPE_WRITE_PERM_OF_BROKER | rc::ADD_WRITE_PERM_OF_BROKER => {
                let h = header!(req, WipeWritePermOfBrokerRequestHeader);
                let add = req.code == rc::ADD_WRITE_PERM_OF_BROKER;
                let n = self.state.routes.set_write_perm(&h.broker_name, add);
                let key = if add { "addTopicCount" } else { "wipeTopicCount" };
                ok(req).with_ext(key, n.to_string())
            }
            rc::PUT_KV_CONFIG => self.put_kv(req),
            rc::GET_NAMESRV_CONFIG => {
                let text = body::properties::format(self.state.runtime.lock().0.export());
                ok(req).with_body(text.into_bytes())
            }
            rc::UPDATE_NAMESRV_CONFIG => self.update_config(req),
            rc::GET_KV_CONFIG => {
                let h = header!(req, GetKvConfigRequestHeader);
                match self.state.kv.get(&h.namespace, &h.key) {
                    Some(v) => ok(req).with_ext("value", v),
                    None => error(
                        req,
                        code::QUERY_NOT_FOUND,
                        format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
                    ),
                }
            }
            rc::DELETE_KV_CONFIG => {
                let h = header!(req, DeleteKvConfigRequestHeader);
                match self.state.kv.delete(&h.namespace, &h.key) {
                    Ok(()) => ok(req),
                    Err(e) => error(req, code::SYSTEM_ERROR, e.to_string()),
                }
            }
            rc::GET_KVLIST_BY_NAMESPACE => {
                let h = header!(req, GetKvListByNamespaceRequestHeader);
                match self.state.kv.namespace(&h.namespace) {
                    Some(table) => ok(req).with_body(body::to_json(&KvTable { table })),
                    None => error(
                        req,
                        code::QUERY_NOT_FOUND,
                        format!("No config item, Namespace: {}", h.namespace),
                    ),
                }
            }
            other => error(
                req,
                code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {other} not supported"),
            ),
        }
    }

    fn register_broker(&self, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
        let h = header!(req, RegisterBrokerRequestHeader);
        let crc = h.body_crc32;
        if crc != 0 {
            let actual = (crc32fast::hash(&req.body) & 0x7FFF_FFFF) as i32;
            if actual != crc {
                return error(req, code::SYSTEM_ERROR, "crc32 not match");
            }
        }
        // Before V3_0_11 the body is a bare TopicConfigSerializeWrapper and `compressed` is not
        // looked at (as Java); from it, a RegisterBrokerBody, zlib-compressed when the broker
        // has compressedRegister=true.
        let compressed = h.compressed && req.version >= V3_0_11;
        let (wrapper, filter_servers) =
            match RegisterBrokerBody::decode_request(&req.body, compressed, req.version) {
                Ok(b) => (b.topic_config_serialize_wrapper, b.filter_server_list),
                Err(e) => {
                    let what = if req.version >= V3_0_11 {
                        "RegisterBrokerBody"
                    } else {
                        "TopicConfigSerializeWrapper"
                    };
                    return error(req, code::SYSTEM_ERROR, format!("bad {what}: {e}"));
                }
            };
        let outcome = self.state.routes.register(Registration {
            cluster_name: h.cluster_name,
            broker_name: h.broker_name,
            broker_addr: h.broker_addr,
            broker_id: h.broker_id,
            ha_server_addr: h.ha_server_addr,
            data_version: wrapper.data_version,
            queue_mappings: wrapper.topic_queue_mapping_info_map.unwrap_or_default(),
            topics: wrapper.topic_config_table.into_values().collect(),
            filter_servers,
            channel_id: Some(channel.id()),
            enable_acting_master: h.enable_acting_master.unwrap_or(false),
            zone_name: req.ext_fields.get("zoneName").cloned(),
            heartbeat_timeout: h
                .heartbeat_timeout_millis
                .filter(|ms| *ms > 0)
                .map(|ms| std::time::Duration::from_millis(ms as u64)),
        });
        let mut resp = ok(req);
        if let Some(m) = outcome.master_addr {
            resp = resp.with_ext("masterAddr", m);
        }
        if let Some(ha) = outcome.ha_server_addr {
            resp = resp.with_ext("haServerAddr", ha);
        }
        if let Some(table) = self.state.kv.namespace(NAMESPACE_ORDER_TOPIC_CONFIG) {
            resp = resp.with_body(body::to_json(&KvTable { table }));
        }
        resp
    }

    fn unregister_broker(&self, req: &RemotingCommand) -> RemotingCommand {
        let h = header!(req, UnregisterBrokerRequestHeader);
        self.state
            .routes
            .unregister(&h.cluster_name, &h.broker_name, &h.broker_addr, h.broker_id);
        ok(req)
    }

    fn query_data_version(&self, req: &RemotingCommand) -> RemotingCommand {
        let h = header!(req, QueryDataVersionRequestHeader);
        let version = match body::from_fastjson(&req.body) {
            Ok(v) => v,
            Err(e) => return error(req, code::SYSTEM_ERROR, format!("bad DataVersion body: {e}")),
        };
        let (changed, ours) = self.state.routes.data_version_changed(&h.broker_addr, &version);
        let mut resp = ok(req).with_ext("changed", changed.to_string());
        if let Some(v) = ours {
            resp = resp.with_body(body::to_json(&v));
        }
        resp
    }

    fn route(&self, req: &RemotingCommand) -> RemotingCommand {
        let h = header!(req, GetRouteInfoRequestHeader);
        match self.state.routes.topic_route(&h.topic) {
            Some(mut route) => {
                if self.state.runtime.lock().0.order_message_enable {
                    route.order_topic_conf = self.state.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, &h.topic);
                }
                ok(req).with_body(body::to_json(&route))
            }
            None => error(
                req,
                code::TOPIC_NOT_EXIST,
                format!(
                    "No topic route info in name server for the topic: {}{FAQ_SUFFIX}",
                    h.topic
                ),
            ),
        }
    }

    /// UPDATE_NAMESRV_CONFIG: the body's keys applied to the current configuration (refused
    /// whole when one is in `configBlackList`, as 5.x) and written into the config file in place.
    /// They are shown by GET_NAMESRV_CONFIG; `orderMessageEnable` takes effect at once, the
    /// others (ports, intervals) at the next start.
    fn update_config(&self, req: &RemotingCommand) -> RemotingCommand {
        if req.body.is_empty() {
            return ok(req);
        }
        let Ok(text) = std::str::from_utf8(&req.body) else {
            return error(req, code::SYSTEM_ERROR, "string2Properties error");
        };
        let props = body::properties::parse(text);
        let mut current = self.state.runtime.lock();
        if props.keys().any(|k| current.0.black_listed(k)) {
            return error(req, code::NO_PERMISSION, "Can not update config in black list.");
        }
        let mut next = current.0.clone();
        if let Err(e) = next.apply(&props) {
            return error(req, code::SYSTEM_ERROR, e.to_string());
        }
        current.0 = next;
        current.1 += 1;
        tracing::info!(keys = ?props, "name server config updated");
        if let Some(path) = current.0.config_store_path.clone() {
            let mut pairs: Vec<(String, String)> = props.into_iter().collect();
            pairs.sort();
            if let Err(e) = rmq_store::config_file::update_properties(&path, &pairs) {
                tracing::error!(path = %path.display(), error = %e, "cannot persist the updated name server config");
            }
        }
        ok(req)
    }

    fn put_kv(&self, req: &RemotingCommand) -> RemotingCommand {
        let (Some(ns), Some(key)) = (req.ext("namespace"), req.ext("key")) else {
            return error(req, code::SYSTEM_ERROR, "namespace or key is null");
        };
        let value = req.ext("value").unwrap_or_default();
        match self.state.kv.put(ns, key, value) {
            Ok(()) => ok(req),
            Err(e) => error(req, code::SYSTEM_ERROR, e.to_string()),
        }
    }
}

fn topic_list(req: &RemotingCommand, topics: Vec<String>, broker_addr: Option<String>) -> RemotingCommand {
    ok(req).with_body(body::to_json(&TopicList {
        topic_list: topics,
        broker_addr,
    }))
}
