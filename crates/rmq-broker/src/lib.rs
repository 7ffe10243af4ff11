//! The RocketMQ broker: stores messages on a real commitlog and serves producers, consumers and
//! admin tools over the remoting protocol.
//!
//! # Layout
//! - [`config`]: `broker.conf` keys.
//! - [`topic`]: the topic table (`topics.json`), system topics, auto-creation.
//! - [`topic_attributes`]: 5.x topic attributes (`message.type`, ...) and their alteration rules.
//! - [`subscription`]: the subscription group table (`subscriptionGroup.json`), auto-creation.
//! - [`offsets`]: committed consumer offsets (`consumerOffset.json`).
//! - [`clients`]: producers and consumers learned from heartbeats, per connection; expiry and
//!   NOTIFY_CONSUMER_IDS_CHANGED.
//! - [`filter`]: the consume-queue tag filter of pulls; the SQL92 property filter (the pure
//!   `rmq-filter` crate, re-exported).
//! - [`long_poll`]: pulls held until a message arrives (keyed by topic and queue).
//! - [`locks`]: queue locks of orderly consumers.
//! - [`register`]: registration with every name server.
//! - [`runtime_config`]: the configuration at run time (GET/UPDATE_BROKER_CONFIG) and the keys
//!   that take effect without a restart.
//! - [`slave`]: a slave's master addresses (HA and remoting) and its metadata sync.
//! - [`cold_read`]: 5.x per-group cold-read thresholds (kept and shown; no throttling).
//! - [`replicas`]: controller mode — broker id, registration, heartbeats and role changes
//!   driven by the controller (automatic failover).
//! - [`transaction`]: half/op messages, END_TRANSACTION, the check-back service.
//! - [`send_queue`]: flow control of sends (bounded queue, SYSTEM_BUSY after 200 ms waiting).
//! - [`stats`]: Java's `BrokerStatsManager` items (puts per topic, gets per group and topic, over
//!   the last minute, hour and day: VIEW_BROKER_STATS_DATA, `consumeTps`).
//! - [`schedule`]: delay levels — the put-time rewrite into `SCHEDULE_TOPIC_XXXX` and the task
//!   that re-puts due messages (`delayOffset.json`).
//! - [`timer`]: 5.x timer messages (any deliver time) — the rewrite into `rmq_sys_wheel_timer`,
//!   the timing wheel and the delivery task (`timerCheckpoint.json`).
//! - [`pop`]: POP consumption — checkpoints and acks in the revive log, revive into the pop
//!   retry topic, orderly pop, held pops, request modes (`messageRequestMode.json`).
//! - [`grpc`]: the 5.x gRPC protocol (`MessagingService`) on `grpcServerPort`, mapped onto the
//!   same internals (no proxy).
//! - [`processor`]: request dispatch by code; one module per area (`send`, `pull`, `offset`,
//!   `consumer`, `group`, `admin`, `end_transaction`, `client_config`,
//!   `retry` for send-back/DLQ, `query` for QUERY_MESSAGE).
//!
//! Request path: socket → `rmq_remoting` channel → [`processor::Processor::handle`] → a handler
//! that validates the header → `rmq_store::MessageStore` → response on the same channel.

pub mod acl;
pub mod clients;
pub mod cold_read;
pub mod config;
pub use rmq_filter as filter;
pub mod grpc;
pub mod java_defaults;
pub mod locks;
pub mod long_poll;
pub mod metrics;
pub mod offsets;
pub mod pop;
pub mod processor;
pub mod register;
pub mod replicas;
pub mod runtime_config;
pub mod schedule;
pub mod send_queue;
pub mod slave;
pub mod static_topic;
pub mod stats;
pub mod subscription;
pub mod timer;
pub mod topic;
pub mod topic_attributes;
pub mod transaction;

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::time::Clock;
use rmq_remoting::{RemotingClient, Server, ServerHandle, ServerOptions};
use rmq_store::ha::HaService;
use rmq_store::MessageStore;

pub use config::{BrokerConfig, BrokerRole};

/// Errors of the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A setting that cannot work; the message names it and why.
    #[error("config: {0}")]
    Config(String),
    /// A metadata file (`topics.json`, ...) that does not parse.
    #[error("{}: {source}", path.display())]
    Metadata {
        path: std::path::PathBuf,
        #[source]
        source: rmq_protocol::WireError,
    },
    /// Metadata that could not be serialized to be written.
    #[error("encoding {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A slave's metadata sync: the master refused the request.
    #[error("master answered {code} {remark:?}")]
    MasterRefused { code: i32, remark: Option<String> },
    /// A slave's metadata sync: the master's body does not parse.
    #[error("bad body from master: {0}")]
    MasterBody(#[source] rmq_protocol::WireError),
    /// The ACL files (`aclEnable=true`) that do not load.
    #[error("acl: {0}")]
    Acl(#[from] rmq_acl::AclError),
    #[error("store: {0}")]
    Store(#[from] rmq_store::StoreError),
    #[error("remoting: {0}")]
    Remoting(#[from] rmq_remoting::RemotingError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The transaction check could not store a message it had to (the round stops there).
    #[error("transaction check: could not store {what}: {status:?}")]
    TransactionPut {
        what: &'static str,
        status: rmq_store::PutStatus,
    },
    /// The transaction check could not read back what it just stored.
    #[error("transaction check: {0}")]
    Transaction(&'static str),
}

/// Writes one metadata file (`topics.json`, ...) as pretty JSON, atomically (temp file, fsync,
/// rename, with the previous version kept as `.bak`).
pub(crate) fn write_json(
    path: &std::path::Path,
    what: &'static str,
    value: &impl serde::Serialize,
) -> Result<(), BrokerError> {
    let json = serde_json::to_vec_pretty(value).map_err(|source| BrokerError::Encode { what, source })?;
    rmq_store::config_file::write_atomic(path, &json)?;
    Ok(())
}

/// Everything the request handlers share.
pub struct BrokerState {
    /// The configuration the broker started with; [`BrokerState::runtime`] has the current one.
    pub config: BrokerConfig,
    /// GET/UPDATE_BROKER_CONFIG, and the keys that take effect without a restart.
    pub runtime: runtime_config::RuntimeConfig,
    /// `brokerIP1:port`, the address in routes and message ids.
    pub addr: String,
    pub store: MessageStore,
    pub topics: topic::TopicTable,
    /// 5.x static topics' queue mappings (`topicQueueMapping.json`).
    pub static_topics: static_topic::StaticTopics,
    pub groups: subscription::SubscriptionGroupTable,
    pub offsets: offsets::ConsumerOffsetTable,
    pub clients: clients::ClientRegistry,
    pub pull_waiters: long_poll::PullWaiters,
    pub locks: locks::RebalanceLocks,
    pub namesrv: RemotingClient,
    pub transactions: transaction::TransactionService,
    pub schedule: schedule::ScheduleService,
    pub timer: timer::TimerService,
    /// POP consumption: open checkpoints, orderly holds, held pops, request modes.
    pub pop: pop::PopService,
    pub send_queue: send_queue::SendQueue,
    /// Puts, gets and send-backs over the last minute, hour and day.
    pub stats: stats::BrokerStats,
    /// The put and get totals at the last two midnights (`msgPutTotalTodayMorning`, ...).
    pub daily: stats::DailyTotals,
    /// The Prometheus counters (`metricsExporterType=PROM`; counted either way).
    pub metrics: metrics::Metrics,
    /// A slave's master (HA address followed by the store's HA client, remoting address).
    pub master: slave::MasterLinks,
    /// 5.x cold-read thresholds per group (`mqadmin updateColdDataFlowCtrGroupConfig`).
    pub cold_read: cold_read::ColdReadGroups,
    /// Where every part of the broker reads time (`config.store.clock`, the system clock unless
    /// a test set a manual one).
    pub clock: Clock,
    /// ACL 1.0 rules when `aclEnable=true`.
    pub acl: Option<acl::AclService>,
    /// ACL 2.0 users and policies when `authenticationEnabled` or `authorizationEnabled`.
    pub auth: Option<rmq_acl::v2::AuthService>,
    /// Controller mode: the broker's id, the group's master and epochs.
    pub replicas: replicas::Replicas,
}

impl BrokerState {
    /// Whether this broker takes writes now (its `brokerRole`; in controller mode, what the
    /// controller made it).
    pub fn is_master(&self) -> bool {
        self.store.role() != BrokerRole::Slave
    }

    /// The broker id in routes: `brokerId`; in controller mode 0 as master, the controller's
    /// id as slave.
    pub fn broker_id(&self) -> i64 {
        if self.config.controller.enable {
            self.replicas.route_id()
        } else {
            self.config.broker_id
        }
    }
}

/// A running broker. Dropping it stops its background tasks and its server (what
/// [`Broker::crash`] does, without waiting); [`Broker::shutdown`] also persists and flushes.
pub struct Broker {
    state: Arc<BrokerState>,
    /// `None` once shut down.
    server: Option<ServerHandle>,
    local_addr: std::net::SocketAddr,
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The HA listener (masters) or HA client (slaves); aborted when dropped.
    ha: Option<HaService>,
    /// The 5.x gRPC server, unless `enableGrpcServer=false`.
    grpc: Option<grpc::GrpcServer>,
    /// Where `/metrics` is served (`metricsExporterType=PROM`).
    metrics_addr: Option<std::net::SocketAddr>,
}

/// The TLS settings of a start: the server's, and the client's towards the name servers.
struct StartTls {
    server: Option<rmq_remoting::ServerTls>,
    namesrv: Option<rmq_remoting::ClientTls>,
}

impl Broker {
    /// Binds the port, opens (and recovers) the store, registers with the name servers.
    pub async fn start(mut config: BrokerConfig) -> Result<Broker, BrokerError> {
        check_role(&mut config)?;
        // TLS first: a bad certificate or key stops the start before anything is opened.
        let tls = load_tls(&config)?;
        let grpc_listener = bind_grpc_listener(&mut config)?;
        let metrics_listener = if config.metrics_exporter_type.eq_ignore_ascii_case("PROM") {
            Some(rmq_remoting::prom::bind(
                &config.metrics_prom_exporter_host,
                config.metrics_prom_exporter_port,
            )?)
        } else {
            None
        };
        let listener = bind_listener(&mut config)?;
        let master = slave::MasterLinks::new(config.ha_master_address.as_deref());
        let (store, ha) = open_store(&mut config, &master).await?;
        let state = Arc::new(load_state(config, store, master, tls.namesrv)?);
        // Open pop checkpoints are back before the first request can pop or ack.
        if state.is_master() {
            state.pop.replay(&state);
        }
        // Subscribe before serving so that no arrival of a held pull can be missed.
        let arrivals = state.store.subscribe_arrivals();
        let grpc_tls = tls.server.clone();
        let server = serve(&state, listener, tls.server)?;
        let grpc = grpc_listener
            .map(|l| grpc::GrpcServer::serve(state.clone(), l, grpc_tls))
            .transpose()?;
        let mut background = spawn_services(&state, arrivals).await;
        let metrics_addr = match metrics_listener {
            Some((listener, addr)) => {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                background.push(tokio::spawn(metrics::serve(state.clone(), listener)));
                tracing::info!(%addr, "serving Prometheus metrics at /metrics");
                Some(addr)
            }
            None => None,
        };
        Ok(Broker {
            state,
            local_addr: server.local_addr(),
            server: Some(server),
            background,
            ha: Some(ha),
            grpc,
            metrics_addr,
        })
    }

    /// The advertised `ip:port`.
    pub fn addr(&self) -> &str {
        &self.state.addr
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// Where the 5.x gRPC protocol is served, unless turned off.
    pub fn grpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.grpc.as_ref().map(grpc::GrpcServer::local_addr)
    }

    /// Where Prometheus metrics are served (`metricsExporterType=PROM`).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Unregisters, stops serving, persists the consumer offsets, flushes and closes the store.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        self.abort_background();
        if let Some(mut grpc) = self.grpc.take() {
            grpc.stop();
        }
        if let Some(ha) = self.ha.take() {
            ha.shutdown().await;
        }
        self.state.schedule.shutdown().await;
        self.state.timer.shutdown().await;
        register::unregister_all(&self.state).await;
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.state.namesrv.close_all();
        let offsets = self.state.offsets.persist();
        if let Err(e) = self.state.transactions.persist_counts() {
            tracing::error!(error = %e, "persisting transactionMetrics failed");
        }
        self.state.store.shutdown()?;
        self.state.timer.write_final()?;
        offsets
    }

    /// Stops everything without flushing or persisting anything, like `kill -9` as far as the
    /// next start on the same store is concerned (`abort` stays, no delay offsets written).
    /// The store is released once the last in-flight request has finished.
    #[doc(hidden)]
    pub async fn crash(mut self) {
        self.abort_background();
        self.grpc.take();
        if let Some(ha) = self.ha.take() {
            ha.shutdown().await;
        }
        self.state.schedule.halt().await;
        self.state.timer.halt().await;
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.state.namesrv.close_all();
    }

    fn abort_background(&self) {
        for task in &self.background {
            task.abort();
        }
        self.state.replicas.stop_ha_client();
    }
}

impl Drop for Broker {
    /// Stops the background tasks, the delay-delivery task, the HA service and the server
    /// without waiting for them; once the last of them is gone, so is the state (and the store).
    fn drop(&mut self) {
        self.abort_background();
        self.grpc.take();
        self.state.schedule.abort();
        self.state.timer.abort();
        self.ha.take();
        if let Some(server) = &self.server {
            server.stop();
        }
        self.state.namesrv.close_all();
    }
}

/// Start step 1: a master is broker 0; a slave needs an id of its own.
fn check_role(config: &mut BrokerConfig) -> Result<(), BrokerError> {
    if config.controller.enable {
        // The controller decides; until then a fenced slave (docs/controller/broker.md).
        if config.controller.controller_addr.is_empty() {
            return Err(BrokerError::Config(
                "enableControllerMode=true needs controllerAddr".into(),
            ));
        }
        config.store.controller_mode = true;
        config.store.broker_role = BrokerRole::Slave;
        return Ok(());
    }
    if config.broker_role != BrokerRole::Slave {
        config.broker_id = 0;
    } else if config.broker_id <= 0 {
        return Err(BrokerError::Config(
            "a SLAVE needs brokerId > 0 (brokerId=0 is the master)".into(),
        ));
    }
    config.store.broker_role = config.broker_role;
    Ok(())
}

/// Start step 2: the server's TLS and the client's towards the name servers.
fn load_tls(config: &BrokerConfig) -> Result<StartTls, BrokerError> {
    let server = config.tls.server()?;
    let namesrv = if config.tls.client_enable {
        Some(config.tls.client()?)
    } else {
        None
    };
    Ok(StartTls { server, namesrv })
}

/// Start step 3a: binds `grpcServerPort` (a free port when it or `listenPort` is 0, or when it is
/// taken) and records the port bound; `None` with `enableGrpcServer=false`.
fn bind_grpc_listener(config: &mut BrokerConfig) -> Result<Option<std::net::TcpListener>, BrokerError> {
    if !config.enable_grpc_server {
        return Ok(None);
    }
    let port = if config.listen_port == 0 {
        0
    } else {
        config.grpc_server_port
    };
    let listener = match std::net::TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        // Several brokers on one host (tests, the chaos harness) share the default: the first
        // keeps it, the others take a free port (announced to the name servers with each
        // registration: routes name every broker's own, grpc::endpoints).
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(port, "grpcServerPort in use; serving gRPC on a free port instead");
            std::net::TcpListener::bind(("0.0.0.0", 0))?
        }
        Err(e) => return Err(e.into()),
    };
    config.grpc_server_port = listener.local_addr()?.port();
    Ok(Some(listener))
}

/// Start step 3: binds the listen port before anything else, because with `listenPort=0` the
/// real port is part of every stored record's store host.
fn bind_listener(config: &mut BrokerConfig) -> Result<std::net::TcpListener, BrokerError> {
    let listener = std::net::TcpListener::bind(("0.0.0.0", config.listen_port))?;
    let port = listener.local_addr()?.port();
    config.listen_port = port;
    config.store.store_host = config.store_host(port);
    Ok(listener)
}

/// Start step 4: opens (and recovers) the store and starts its HA side: a master's listener
/// (recording its port as `haListenPort`) or a slave's client of `master`.
async fn open_store(
    config: &mut BrokerConfig,
    master: &slave::MasterLinks,
) -> Result<(MessageStore, HaService), BrokerError> {
    let store = MessageStore::open(config.store.clone())?;
    let port = config.listen_port;
    let ha = if config.controller.enable {
        let ha = match HaService::start_auto_master(store.clone(), port.saturating_add(1)).await {
            Ok(ha) => ha,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tracing::warn!("HA port in use; listening on a free port instead");
                HaService::start_auto_master(store.clone(), 0).await?
            }
            Err(e) => return Err(e.into()),
        };
        config.ha_listen_port = ha.local_addr().map_or(0, |a| a.port());
        ha
    } else if config.is_master() {
        let ha = start_ha_listener(&store, port).await?;
        config.ha_listen_port = ha.local_addr().map_or(0, |a| a.port());
        ha
    } else {
        config.ha_listen_port = port.saturating_add(1);
        HaService::start_slave(store.clone(), master.ha_addr())
    };
    Ok((store, ha))
}

/// Start step 5: loads the metadata (topics, subscription groups, consumer offsets, delay
/// offsets) next to `store` and builds the state every handler shares.
pub(crate) fn load_state(
    config: BrokerConfig,
    store: MessageStore,
    master: slave::MasterLinks,
    namesrv_tls: Option<rmq_remoting::ClientTls>,
) -> Result<BrokerState, BrokerError> {
    let clock = config.store.clock.clone();
    let acl = open_acl(&config)?;
    let auth = open_auth(&config)?;
    let namesrv = match config.auth.inner_credentials()? {
        Some(creds) => RemotingClient::new()
            .with_tls(namesrv_tls)
            .with_hook(Arc::new(rmq_remoting::SignRequests::new(creds))),
        None => RemotingClient::new().with_tls(namesrv_tls),
    };
    Ok(BrokerState {
        acl,
        auth,
        addr: config.advertised_addr(config.listen_port),
        store,
        topics: topic::TopicTable::load(&config)?,
        static_topics: static_topic::StaticTopics::load(&config)?,
        groups: subscription::SubscriptionGroupTable::load(&config)?,
        offsets: offsets::ConsumerOffsetTable::load(&config.store.store_path_root_dir)?,
        clients: clients::ClientRegistry::new(clock.clone()),
        pull_waiters: long_poll::PullWaiters::new(config.max_held_pulls),
        locks: locks::RebalanceLocks::new(locks::LOCK_MAX_LIVE, clock.clone()),
        namesrv,
        transactions: transaction::TransactionService::new(&config)?,
        schedule: schedule::ScheduleService::load(&config)?,
        timer: timer::TimerService::load(&config)?,
        pop: pop::PopService::load(&config, clock.now_ms())?,
        send_queue: send_queue::SendQueue::new(&config),
        stats: stats::BrokerStats::new(&config.broker_cluster_name),
        daily: stats::DailyTotals::new(clock.now_ms()),
        metrics: metrics::Metrics::default(),
        master,
        cold_read: cold_read::ColdReadGroups::default(),
        replicas: replicas::Replicas::default(),
        runtime: runtime_config::RuntimeConfig::new(&config, clock.now_ms()),
        config,
        clock,
    })
}

/// The ACL rules when `aclEnable=true`; they must load for the broker to start.
fn open_acl(config: &BrokerConfig) -> Result<Option<acl::AclService>, BrokerError> {
    if !config.acl_enable {
        return Ok(None);
    }
    let Some(home) = config.rocketmq_home.clone() else {
        return Err(BrokerError::Config(
            "aclEnable=true needs rocketmqHome (or ROCKETMQ_HOME) to find conf/plain_acl.yml".into(),
        ));
    };
    Ok(Some(acl::AclService::open(home)?))
}

/// The ACL 2.0 users and policies when `authenticationEnabled` or `authorizationEnabled`.
fn open_auth(config: &BrokerConfig) -> Result<Option<rmq_acl::v2::AuthService>, BrokerError> {
    if !config.auth.enabled() {
        return Ok(None);
    }
    let default_dir = config.store.store_path_root_dir.join("config").join("auth");
    Ok(Some(rmq_acl::v2::AuthService::open(
        config.auth.clone(),
        config.broker_cluster_name.clone(),
        default_dir,
        config.rocketmq_home.as_deref(),
    )?))
}

/// Start step 6: serves requests on the bound listener.
fn serve(
    state: &Arc<BrokerState>,
    listener: std::net::TcpListener,
    tls: Option<rmq_remoting::ServerTls>,
) -> Result<ServerHandle, BrokerError> {
    let handler = Arc::new(processor::Processor { state: state.clone() });
    let options =
        ServerOptions::with_max_idle_seconds(state.config.server_channel_max_idle_time_seconds).with_tls(tls);
    Ok(Server::serve(listener, handler, options)?)
}

/// Start step 7: the delay-delivery task, the held-pull dispatcher, the periodic offset flush,
/// client expiry and name-server registration (first one awaited), and the transaction check
/// (master) or metadata sync (slave). Returns the handles the broker aborts when it stops.
async fn spawn_services(
    state: &Arc<BrokerState>,
    arrivals: tokio::sync::broadcast::Receiver<rmq_store::Arrival>,
) -> Vec<tokio::task::JoinHandle<()>> {
    schedule::ScheduleService::start(state);
    timer::TimerService::start(state);
    let mut background = Vec::new();
    let waiters_state = state.clone();
    background.push(tokio::spawn(async move {
        long_poll::dispatch_arrivals(&waiters_state.pull_waiters, &waiters_state.pop.waiters, arrivals).await;
    }));
    background.push(tokio::spawn(flush_offsets_periodically(state.clone())));
    background.push(tokio::spawn(flush_transaction_counts_periodically(state.clone())));
    background.push(tokio::spawn(expire_clients_periodically(state.clone())));
    if state.acl.is_some() {
        background.push(tokio::spawn(acl::watch(state.clone())));
    }
    if state.config.controller.enable {
        // Registered with the name servers once the controller gave a role.
        background.push(tokio::spawn(replicas::run(state.clone())));
        background.push(tokio::spawn(register_periodically(state.clone())));
        background.push(tokio::spawn(pop::PopService::run_revive(state.clone())));
        background.push(transaction::spawn_check_service(state.clone()));
        background.push(slave::spawn_sync(state.clone()));
        return background;
    }
    register::register_all(state, false).await;
    background.push(tokio::spawn(register_periodically(state.clone())));
    if state.is_master() {
        background.push(tokio::spawn(pop::PopService::run_revive(state.clone())));
        background.push(transaction::spawn_check_service(state.clone()));
    } else {
        background.push(slave::spawn_sync(state.clone()));
    }
    background
}

/// Re-registers with every name server each `registerNameServerPeriod` (10..60 s).
async fn register_periodically(state: Arc<BrokerState>) {
    let period = state.config.register_name_server_period_ms.clamp(10_000, 60_000);
    loop {
        tokio::time::sleep(Duration::from_millis(period)).await;
        if state.config.controller.enable && !state.replicas.is_running() {
            continue;
        }
        register::register_all(&state, false).await;
    }
}

/// The master's HA listener on `listenPort + 1`. With an ephemeral listen port (0, tests) that
/// neighbour may be taken; then any free port is used (and registered as `haServerAddr`).
async fn start_ha_listener(store: &MessageStore, port: u16) -> Result<HaService, BrokerError> {
    match HaService::start_master(store.clone(), port.saturating_add(1)).await {
        Ok(ha) => Ok(ha),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(
                port = port.saturating_add(1),
                "HA port in use; listening on a free port instead"
            );
            Ok(HaService::start_master(store.clone(), 0).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Persists the consumer offsets every `flushConsumerOffsetInterval` (first after 10 s, as Java).
async fn flush_offsets_periodically(state: Arc<BrokerState>) {
    let period = Duration::from_millis(state.config.flush_consumer_offset_interval_ms.max(100));
    tokio::time::sleep(Duration::from_secs(10).min(period * 2)).await;
    loop {
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.offsets.persist()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "persisting consumer offsets failed"),
            Err(e) => tracing::error!(error = %e, "consumer offset writer failed"),
        }
        tokio::time::sleep(period).await;
    }
}

/// Writes `config/transactionMetrics` every `transactionMetricFlushInterval` when it changed.
async fn flush_transaction_counts_periodically(state: Arc<BrokerState>) {
    let period = Duration::from_millis(state.config.transaction_metric_flush_interval_ms.max(100));
    loop {
        tokio::time::sleep(period).await;
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.transactions.persist_counts()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "persisting transactionMetrics failed"),
            Err(e) => tracing::error!(error = %e, "transactionMetrics writer failed"),
        }
    }
}

/// Every 10 s: records the daily totals at midnight; drops and closes connections without a
/// heartbeat for `channelExpiredTimeout`, and tells the remaining members of their groups.
async fn expire_clients_periodically(state: Arc<BrokerState>) {
    let timeout = Duration::from_millis(state.config.channel_expired_timeout_ms);
    let period = Duration::from_secs(10)
        .min(timeout / 2)
        .max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(period).await;
        let st = state.store.stats();
        state
            .daily
            .observe(state.clock.now_ms(), st.put_times(), st.get_transferred());
        let (expired, changes) = state.clients.expire(timeout);
        for ch in &expired {
            tracing::warn!(peer = %ch.peer_addr(), "client connection expired without heartbeat; closing it");
            ch.close();
        }
        for change in changes {
            processor::notify_group_change(&state, change);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Dropping a started broker (no `shutdown`) ends every task that holds its state — the
    /// background services, the delay task, the accept loop, a served connection's reader and a
    /// connection still being sniffed for TLS (silent: no first byte yet) — so the state is
    /// freed, both connections are closed and the port can be bound again.
    #[tokio::test]
    async fn a_dropped_broker_stops_its_tasks_and_frees_its_port() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig {
            listen_port: 0,
            namesrv_addr: Vec::new(),
            broker_ip1: "127.0.0.1".into(),
            ..BrokerConfig::default()
        };
        config.store.store_path_root_dir = dir.path().to_path_buf();
        config.store.mapped_file_size_commit_log = 1 << 20;
        config.store.mapped_file_size_consume_queue = 20 * 1000;
        let broker = Broker::start(config).await.unwrap();
        let port = broker.local_addr().port();
        let addr = format!("127.0.0.1:{port}");
        let state = Arc::downgrade(broker.state());
        let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
        // Answered, so served; accepted after `silent` (one accept loop, in order), so `silent`
        // is accepted too.
        let client = RemotingClient::new();
        let served = client.channel(&addr).await.unwrap();
        let resp = served
            .invoke(
                rmq_protocol::RemotingCommand::request(-1),
                Duration::from_secs(20),
            )
            .await
            .unwrap();
        assert_eq!(
            resp.code,
            rmq_protocol::codes::response_code::REQUEST_CODE_NOT_SUPPORTED
        );
        assert!(state.strong_count() > 1, "the tasks hold the state");

        drop(broker);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while state.strong_count() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "state still held: {}",
                state.strong_count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut buf)).await;
        assert_eq!(read.expect("closed by the broker").unwrap_or(0), 0, "EOF");
        tokio::time::timeout(Duration::from_secs(20), served.closed())
            .await
            .expect("the served connection is closed by the broker");
        std::net::TcpListener::bind(("0.0.0.0", port)).expect("the port is free again");
    }
}
