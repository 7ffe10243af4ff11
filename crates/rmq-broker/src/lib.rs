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
//! - [`slave`]: a slave's master addresses (HA and remoting) and its metadata sync.
//! - [`transaction`]: half/op messages, END_TRANSACTION, the check-back service.
//! - [`send_queue`]: flow control of sends (bounded queue, SYSTEM_BUSY after 200 ms waiting).
//! - [`stats`]: per-minute rates (messages pulled per group and topic: `consumeTps`).
//! - [`schedule`]: delay levels — the put-time rewrite into `SCHEDULE_TOPIC_XXXX` and the task
//!   that re-puts due messages (`delayOffset.json`).
//! - [`processor`]: request dispatch by code; one module per area (`send`, `pull`, `offset`,
//!   `consumer`, `group`, `admin`, `end_transaction`, `client_config`,
//!   `retry` for send-back/DLQ, `query` for QUERY_MESSAGE).
//!
//! Request path: socket → `rmq_remoting` channel → [`processor::Processor::handle`] → a handler
//! that validates the header → `rmq_store::MessageStore` → response on the same channel.

pub mod clients;
pub mod config;
pub use rmq_filter as filter;
pub mod locks;
pub mod long_poll;
pub mod offsets;
pub mod processor;
pub mod register;
pub mod schedule;
pub mod send_queue;
pub mod slave;
pub mod stats;
pub mod subscription;
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

/// Everything the request handlers share.
pub struct BrokerState {
    pub config: BrokerConfig,
    /// `brokerIP1:port`, the address in routes and message ids.
    pub addr: String,
    pub store: MessageStore,
    pub topics: topic::TopicTable,
    pub groups: subscription::SubscriptionGroupTable,
    pub offsets: offsets::ConsumerOffsetTable,
    pub clients: clients::ClientRegistry,
    pub pull_waiters: long_poll::PullWaiters,
    pub locks: locks::RebalanceLocks,
    pub namesrv: RemotingClient,
    pub transactions: transaction::TransactionService,
    pub schedule: schedule::ScheduleService,
    pub send_queue: send_queue::SendQueue,
    /// Messages pulled per `topic@group` (consumeTps).
    pub pulled: stats::MinuteRates,
    /// A slave's master (HA address followed by the store's HA client, remoting address).
    pub master: slave::MasterLinks,
    /// Where every part of the broker reads time (`config.store.clock`, the system clock unless
    /// a test set a manual one).
    pub clock: Clock,
}

/// A running broker.
pub struct Broker {
    state: Arc<BrokerState>,
    server: ServerHandle,
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The HA listener (masters) or HA client (slaves).
    ha: Option<HaService>,
}

impl Broker {
    /// Binds the port, opens (and recovers) the store, registers with the name servers.
    pub async fn start(mut config: BrokerConfig) -> Result<Broker, BrokerError> {
        if config.broker_role != BrokerRole::Slave {
            config.broker_id = 0;
        } else if config.broker_id <= 0 {
            return Err(BrokerError::Config(
                "a SLAVE needs brokerId > 0 (brokerId=0 is the master)".into(),
            ));
        }
        config.store.broker_role = config.broker_role;
        // TLS first: a bad certificate or key stops the start before anything is opened.
        let server_tls = config.tls.server()?;
        let namesrv_tls = if config.tls.client_enable {
            Some(config.tls.client()?)
        } else {
            None
        };
        // Bind first: with listenPort=0 the real port is part of every stored record's store host.
        let listener = std::net::TcpListener::bind(("0.0.0.0", config.listen_port))?;
        let port = listener.local_addr()?.port();
        config.listen_port = port;
        config.store.store_host = config.store_host(port);
        let store = MessageStore::open(config.store.clone())?;
        let master = slave::MasterLinks::new(config.ha_master_address.as_deref());
        let ha = if config.is_master() {
            let ha = start_ha_listener(&store, port).await?;
            config.ha_listen_port = ha.local_addr().map_or(0, |a| a.port());
            ha
        } else {
            config.ha_listen_port = port.saturating_add(1);
            HaService::start_slave(store.clone(), master.ha_addr())
        };
        let topics = topic::TopicTable::load(&config)?;
        let groups = subscription::SubscriptionGroupTable::load(&config)?;
        let offsets = offsets::ConsumerOffsetTable::load(&config.store.store_path_root_dir)?;
        let schedule = schedule::ScheduleService::load(&config)?;
        let addr = config.advertised_addr(port);
        let transactions = transaction::TransactionService::new(&config);
        let clock = config.store.clock.clone();
        let state = Arc::new(BrokerState {
            addr,
            store,
            topics,
            groups,
            offsets,
            clients: clients::ClientRegistry::new(clock.clone()),
            pull_waiters: long_poll::PullWaiters::new(config.max_held_pulls),
            locks: locks::RebalanceLocks::new(locks::LOCK_MAX_LIVE, clock.clone()),
            namesrv: RemotingClient::new().with_tls(namesrv_tls),
            transactions,
            schedule,
            send_queue: send_queue::SendQueue::new(&config),
            pulled: stats::MinuteRates::default(),
            master,
            config,
            clock,
        });
        // Subscribe before serving so that no arrival of a held pull can be missed.
        let arrivals = state.store.subscribe_arrivals();
        let handler = Arc::new(processor::Processor { state: state.clone() });
        let options = ServerOptions::with_max_idle_seconds(state.config.server_channel_max_idle_time_seconds)
            .with_tls(server_tls);
        let server = Server::serve(listener, handler, options)?;
        schedule::ScheduleService::start(&state);

        let mut background = Vec::new();
        let waiters_state = state.clone();
        background.push(tokio::spawn(async move {
            long_poll::dispatch_arrivals(&waiters_state.pull_waiters, arrivals).await;
        }));
        background.push(tokio::spawn(flush_offsets_periodically(state.clone())));
        background.push(tokio::spawn(expire_clients_periodically(state.clone())));
        register::register_all(&state, false).await;
        let reg_state = state.clone();
        background.push(tokio::spawn(async move {
            let period = reg_state
                .config
                .register_name_server_period_ms
                .clamp(10_000, 60_000);
            loop {
                tokio::time::sleep(Duration::from_millis(period)).await;
                register::register_all(&reg_state, false).await;
            }
        }));
        if state.config.is_master() {
            background.push(transaction::spawn_check_service(state.clone()));
        } else {
            background.push(slave::spawn_sync(state.clone()));
        }
        Ok(Broker {
            state,
            server,
            background,
            ha: Some(ha),
        })
    }

    /// The advertised `ip:port`.
    pub fn addr(&self) -> &str {
        &self.state.addr
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Unregisters, stops serving, persists the consumer offsets, flushes and closes the store.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        for task in &self.background {
            task.abort();
        }
        if let Some(ha) = self.ha.take() {
            ha.shutdown().await;
        }
        self.state.schedule.shutdown().await;
        register::unregister_all(&self.state).await;
        self.server.shutdown().await;
        self.state.namesrv.close_all();
        let offsets = self.state.offsets.persist();
        self.state.store.shutdown()?;
        offsets
    }

    /// Stops everything without flushing or persisting anything, like `kill -9` as far as the
    /// next start on the same store is concerned (`abort` stays, no delay offsets written).
    /// The store is released once the last in-flight request has finished.
    #[doc(hidden)]
    pub async fn crash(mut self) {
        for task in &self.background {
            task.abort();
        }
        if let Some(ha) = self.ha.take() {
            ha.shutdown().await;
        }
        self.state.schedule.halt().await;
        self.server.shutdown().await;
        self.state.namesrv.close_all();
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

/// Every 10 s: drops and closes connections without a heartbeat for `channelExpiredTimeout`,
/// and tells the remaining members of their groups.
async fn expire_clients_periodically(state: Arc<BrokerState>) {
    let timeout = Duration::from_millis(state.config.channel_expired_timeout_ms);
    let period = Duration::from_secs(10)
        .min(timeout / 2)
        .max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(period).await;
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
