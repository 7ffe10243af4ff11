//! Where each broker serves gRPC. Without a proxy, a 5.x client talks to every broker of a route
//! itself, so a route must name each broker's own gRPC port. Brokers announce theirs in the name
//! servers' KV config ([`NAMESPACE`], key = the broker's remoting address, value = its gRPC
//! port) when they register, and read the others' from there, cached for [`FRESH_FOR`]. A broker
//! with no announcement (a name server that lost it, a broker of another kind) is assumed to use
//! this broker's port.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{GetKvConfigRequestHeader, GetKvConfigResponseHeader, PutKvConfigRequestHeader};
use rmq_protocol::RemotingCommand;

use crate::BrokerState;

/// The KV namespace of gRPC ports.
pub const NAMESPACE: &str = "RMQ_GRPC_PORT";
/// How long a looked-up port is trusted.
const FRESH_FOR: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(3);

/// Tells every name server this broker's gRPC port (at each registration). Failures are
/// logged; the next registration retries.
pub async fn announce(s: &BrokerState) {
    if !s.config.enable_grpc_server || s.config.grpc_server_port == 0 {
        return;
    }
    let header = PutKvConfigRequestHeader {
        namespace: NAMESPACE.to_string(),
        key: s.addr.clone(),
        value: s.config.grpc_server_port.to_string(),
    };
    for addr in &s.config.namesrv_addr {
        let req = RemotingCommand::request(request_code::PUT_KV_CONFIG).with_header(&header);
        match s.namesrv.invoke(addr, req, TIMEOUT).await {
            Ok(resp) if resp.code == response_code::SUCCESS => {}
            Ok(resp) => {
                tracing::warn!(namesrv = %addr, code = resp.code, remark = ?resp.remark, "gRPC port not announced")
            }
            Err(e) => tracing::warn!(namesrv = %addr, error = %e, "gRPC port not announced"),
        }
    }
}

/// Other brokers' gRPC ports, by remoting address.
#[derive(Debug, Clone, Default)]
pub(crate) struct GrpcPorts {
    known: Arc<Mutex<HashMap<String, (u16, Instant)>>>,
}

impl GrpcPorts {
    /// The gRPC port of the broker at remoting address `addr`.
    pub(crate) async fn port_of(&self, s: &BrokerState, addr: &str) -> u16 {
        if addr == s.addr {
            return s.config.grpc_server_port;
        }
        if let Some((port, at)) = self.known.lock().get(addr).copied() {
            if at.elapsed() < FRESH_FOR {
                return port;
            }
        }
        match lookup(s, addr).await {
            Some(port) => {
                self.known.lock().insert(addr.to_string(), (port, Instant::now()));
                port
            }
            None => s.config.grpc_server_port,
        }
    }
}

async fn lookup(s: &BrokerState, addr: &str) -> Option<u16> {
    let header = GetKvConfigRequestHeader {
        namespace: NAMESPACE.to_string(),
        key: addr.to_string(),
    };
    for ns in &s.config.namesrv_addr {
        let req = RemotingCommand::request(request_code::GET_KV_CONFIG).with_header(&header);
        let Ok(resp) = s.namesrv.invoke(ns, req, TIMEOUT).await else {
            continue;
        };
        if resp.code != response_code::SUCCESS {
            continue;
        }
        if let Some(port) = resp
            .header::<GetKvConfigResponseHeader>()
            .ok()
            .and_then(|h| h.value)
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(port);
        }
    }
    None
}
