//! The RocketMQ broker: stores messages on a real commitlog and serves producers, consumers and
//! admin tools over the remoting protocol.
//!
//! # Layout
//! - [`config`]: `broker.conf` keys.
//! - [`topic`]: the topic table (`topics.json`), system topics, auto-creation.
//! - [`clients`]: producers and consumers learned from heartbeats, per connection.
//! - [`filter`]: the SQL92 property filter (compile at subscribe time, evaluate at pull time).
//! - [`register`]: registration with every name server.
//! - [`transaction`]: half/op messages, END_TRANSACTION, the check-back service.
//! - [`processor`]: request dispatch by code; one module per area (`send`, `admin`).
//!
//! Request path: socket → `rmq_remoting` channel → [`processor::Processor::handle`] → a handler
//! that validates the header → `rmq_store::MessageStore` → response on the same channel.

pub mod clients;
pub mod config;
pub mod filter;
pub mod processor;
pub mod register;
pub mod topic;
pub mod transaction;

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::{RemotingClient, Server, ServerHandle};
use rmq_store::MessageStore;

pub use config::{BrokerConfig, BrokerRole};

/// Errors of the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("config: {0}")]
    Config(String),
    #[error("store: {0}")]
    Store(#[from] rmq_store::StoreError),
    #[error("remoting: {0}")]
    Remoting(#[from] rmq_remoting::RemotingError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("transaction: {0}")]
    Transaction(String),
}

/// Everything the request handlers share.
pub struct BrokerState {
    pub config: BrokerConfig,
    /// `brokerIP1:port`, the address in routes and message ids.
    pub addr: String,
    pub store: MessageStore,
    pub topics: topic::TopicTable,
    pub clients: clients::ClientRegistry,
    pub namesrv: RemotingClient,
    pub transactions: transaction::TransactionService,
}

/// A running broker.
pub struct Broker {
    state: Arc<BrokerState>,
    server: ServerHandle,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Broker {
    /// Binds the port, opens (and recovers) the store, registers with the name servers.
    pub async fn start(mut config: BrokerConfig) -> Result<Broker, BrokerError> {
        if config.broker_role != BrokerRole::Slave {
            config.broker_id = 0;
        }
        // Bind first: with listenPort=0 the real port is part of every stored record's store host.
        let listener = std::net::TcpListener::bind(("0.0.0.0", config.listen_port))?;
        let port = listener.local_addr()?.port();
        config.listen_port = port;
        config.store.store_host = config.store_host(port);
        let store = MessageStore::open(config.store.clone())?;
        let topics = topic::TopicTable::load(&config)?;
        let addr = config.advertised_addr(port);
        let transactions = transaction::TransactionService::load(&config)?;
        let state = Arc::new(BrokerState {
            addr,
            store,
            topics,
            clients: clients::ClientRegistry::default(),
            namesrv: RemotingClient::new(),
            transactions,
            config,
        });
        let handler = Arc::new(processor::Processor { state: state.clone() });
        let server = Server::serve(listener, handler)?;

        let mut background = Vec::new();
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
        }
        Ok(Broker {
            state,
            server,
            background,
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

    /// Unregisters, stops serving, flushes and closes the store cleanly.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        for task in &self.background {
            task.abort();
        }
        register::unregister_all(&self.state).await;
        self.server.shutdown().await;
        self.state.namesrv.close_all();
        self.state.store.shutdown()?;
        Ok(())
    }
}
