//! The RocketMQ name server: brokers register their topics here, clients look routes up.
//!
//! # Layout
//! - [`config`]: `namesrv.properties` keys.
//! - [`route`]: the route table and broker liveness.
//! - [`kv`]: the persisted KV config (`ORDER_TOPIC_CONFIG`, ...).
//! - [`processor`]: request dispatch by code.
//!
//! Name servers never talk to each other: every broker registers with each of them.

pub mod config;
pub mod kv;
pub mod processor;
pub mod route;

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::{Server, ServerHandle, ServerOptions};
use tokio_util_shim::CancelOnDrop;

pub use config::NamesrvConfig;

/// Errors of the name server.
#[derive(Debug, thiserror::Error)]
pub enum NamesrvError {
    #[error("config: {0}")]
    Config(String),
    /// ACL 2.0 metadata that does not load.
    #[error("acl: {0}")]
    Acl(#[from] rmq_acl::AclError),
    /// The KV config file does not parse.
    #[error("{}: {source}", path.display())]
    Metadata {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The KV config could not be serialized to be written.
    #[error("encoding kvConfig.json: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("store: {0}")]
    Store(#[from] rmq_store::StoreError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("remoting: {0}")]
    Remoting(#[from] rmq_remoting::RemotingError),
}

/// State shared by the request handler and the background scan.
pub struct NameServerState {
    /// The configuration the name server started with.
    pub config: NamesrvConfig,
    /// The current one (started with, plus UPDATE_NAMESRV_CONFIG) and its data version counter.
    pub runtime: parking_lot::Mutex<(NamesrvConfig, i64)>,
    pub routes: route::RouteTable,
    pub kv: kv::KvConfig,
    /// ACL 2.0 users and policies when `authenticationEnabled` or `authorizationEnabled`.
    pub auth: Option<rmq_acl::v2::AuthService>,
    /// `rocketmq_rpc_latency` of the requests answered (counted either way).
    pub rpc: rmq_remoting::prom::RpcLatency,
}

impl NameServerState {
    /// The Prometheus text exposition (`metricsExporterType=PROM`): request latency, and the
    /// live brokers, broker groups and topics of the route table.
    pub fn render_metrics(&self) -> String {
        use std::fmt::Write as _;
        let common = format!(
            "cluster=\"{}\",node_type=\"namesrv\",node_id=\"{}:{}\"",
            rmq_remoting::prom::escape(&self.config.cluster_name),
            rmq_remoting::prom::escape(&self.config.listen_addr),
            self.config.listen_port
        );
        let info = self.routes.cluster_info();
        let addresses: usize = info
            .broker_addr_table
            .values()
            .map(|b| b.broker_addrs.len())
            .sum();
        let mut out = String::new();
        for (name, help, value) in [
            (
                "rocketmq_namesrv_broker_addresses",
                "Broker addresses registered and not expired.",
                addresses,
            ),
            (
                "rocketmq_namesrv_broker_groups",
                "Broker groups (broker names) with a registered address.",
                info.broker_addr_table.len(),
            ),
            (
                "rocketmq_namesrv_topics",
                "Topics with route data.",
                self.routes.topics().len(),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name}{{{common}}} {value}");
        }
        let mut rows = Vec::new();
        self.rpc.rows(&mut rows);
        let name = "rocketmq_rpc_latency";
        let _ = writeln!(
            out,
            "# HELP {name} Rpc latency (milliseconds, from a request's arrival to its answer)."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (labels, suffix, value) in rows {
            let _ = writeln!(out, "{name}{suffix}{{{common},{labels}}} {value}");
        }
        out
    }
}

/// The ACL 2.0 service; users and ACLs under `authConfigPath`, else `auth/` beside the KV file.
fn open_auth(config: &NamesrvConfig) -> Result<Option<rmq_acl::v2::AuthService>, NamesrvError> {
    if !config.auth.enabled() {
        return Ok(None);
    }
    let default_dir = match (&config.auth.config_path, &config.kv_config_path) {
        (Some(p), _) => p.clone(),
        (None, Some(kv)) => kv
            .parent()
            .map_or_else(|| std::path::PathBuf::from("auth"), |d| d.join("auth")),
        (None, None) => {
            return Err(NamesrvError::Config(
                "ACL 2.0 on a name server without kvConfigPath needs authConfigPath".into(),
            ))
        }
    };
    let service = rmq_acl::v2::AuthService::open(
        config.auth.clone(),
        config.cluster_name.clone(),
        default_dir,
        None,
    )?;
    Ok(Some(service))
}

/// A running name server.
pub struct NameServer {
    state: Arc<NameServerState>,
    server: ServerHandle,
    _scan: CancelOnDrop,
    /// Serves `/metrics` when `metricsExporterType=PROM`.
    metrics: Option<(std::net::SocketAddr, CancelOnDrop)>,
}

impl NameServer {
    /// Loads the KV config, binds `listenPort` and starts the liveness scan.
    pub async fn start(config: NamesrvConfig) -> Result<NameServer, NamesrvError> {
        let kv = kv::KvConfig::load(config.kv_config_path.clone())?;
        let auth = open_auth(&config)?;
        let state = Arc::new(NameServerState {
            runtime: parking_lot::Mutex::new((config.clone(), 0)),
            config,
            routes: route::RouteTable::new(),
            kv,
            auth,
            rpc: rmq_remoting::prom::RpcLatency::default(),
        });
        let bind = format!("{}:{}", state.config.listen_addr, state.config.listen_port);
        let options = ServerOptions::with_max_idle_seconds(state.config.server_channel_max_idle_time_seconds)
            .with_tls(state.config.tls.server()?);
        let handler = Arc::new(processor::Processor { state: state.clone() });
        let server = Server::bind_with(&bind, handler, options).await?;

        let scan_state = state.clone();
        let scan = tokio::spawn(async move {
            let interval = Duration::from_millis(scan_state.config.scan_not_active_broker_interval_ms);
            let expiry = Duration::from_millis(scan_state.config.broker_channel_expired_ms);
            tokio::time::sleep(Duration::from_millis(5000).min(interval)).await;
            loop {
                scan_state.routes.expire(expiry);
                tokio::time::sleep(interval).await;
            }
        });
        let metrics = if state.config.metrics_exporter_type.eq_ignore_ascii_case("PROM") {
            let (listener, addr) = rmq_remoting::prom::bind(
                &state.config.metrics_prom_exporter_host,
                state.config.metrics_prom_exporter_port,
            )?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let render_state = state.clone();
            let task = tokio::spawn(rmq_remoting::prom::serve(
                listener,
                Arc::new(move || render_state.render_metrics()),
            ));
            tracing::info!(%addr, "serving Prometheus metrics at /metrics");
            Some((addr, CancelOnDrop(task)))
        } else {
            None
        };
        Ok(NameServer {
            state,
            server,
            _scan: CancelOnDrop(scan),
            metrics,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// Where Prometheus metrics are served (`metricsExporterType=PROM`).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|(a, _)| *a)
    }

    /// Shared state (route table, KV), for tests and the admin CLI.
    pub fn state(&self) -> &Arc<NameServerState> {
        &self.state
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

mod tokio_util_shim {
    /// Aborts a background task when dropped.
    pub struct CancelOnDrop(pub tokio::task::JoinHandle<()>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}
