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
        Ok(NameServer {
            state,
            server,
            _scan: CancelOnDrop(scan),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
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
