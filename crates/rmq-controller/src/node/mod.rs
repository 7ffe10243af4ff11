//! A running controller: the state machine behind the RocketMQ 5 controller wire protocol,
//! replicated across the controllers of `controllerDLegerPeers` by Raft (docs/controller/node.md).
//!
//! Every write runs on the leader, one at a time (a `tokio::sync::Mutex`: `apply` does not
//! re-check epochs, so two proposals must never both pass against the same state): the request
//! is proposed against the state, its events are committed through Raft (a majority has them on
//! disk), applied, and only then answered. Liveness comes from the [`heartbeat::HeartbeatTable`]
//! each controller keeps (brokers beat to all of them); when a master's heartbeat expires or its
//! connection closes, the leader elects a new one and tells the group
//! (NOTIFY_BROKER_ROLE_CHANGED).

pub mod config;
pub mod heartbeat;
pub mod log;
mod processor;
pub mod raft;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_protocol::body;
use rmq_protocol::codes::request_code as rc;
use rmq_protocol::header::NotifyBrokerRoleChangedRequestHeader;
use rmq_protocol::RemotingCommand;
use rmq_remoting::{RemotingClient, Server, ServerHandle, ServerOptions};

use crate::elect::{ElectConfig, ElectRequest, ElectTrigger, Election};
use crate::error::ControllerError;
use crate::event::Proposal;
use crate::liveness::LiveBrokers;
use crate::state::ControllerState;

pub use config::ControllerConfig;
use heartbeat::{BrokerKey, HeartbeatTable};

/// Errors of a running controller.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("config: {0}")]
    Config(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding an event: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("the controller is shutting down")]
    Stopped,
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

impl NodeError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        NodeError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why a write was not done: refused by the state machine, or the log could not take it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommitError {
    #[error(transparent)]
    Refused(#[from] ControllerError),
    /// Java's CONTROLLER_NOT_LEADER (2007).
    #[error("The controller is not in leader state")]
    NotLeader,
    #[error("raft: {0}")]
    Raft(String),
    #[error(transparent)]
    Log(#[from] NodeError),
}

/// Wait between the tries of an election the controller starts itself (Java: 3 s).
const ELECT_RETRY_WAIT: Duration = Duration::from_secs(3);

/// How long a new leader waits for its term's first entry to be applied before scanning.
const LEADER_APPLY_WAIT: Duration = Duration::from_secs(3);
/// How long a write may wait for Raft (Java's processor waits 5 s for its event's future).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of a NOTIFY_BROKER_ROLE_CHANGED send (Java: 3 s).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// What the request handler and the background tasks share.
pub(crate) struct Node {
    pub(crate) config: parking_lot::RwLock<ControllerConfig>,
    /// The address GET_METADATA_INFO names this controller by: its peer address.
    pub(crate) address: String,
    /// This controller's Raft id: its index in `controllerDLegerPeers`.
    pub(crate) id: u64,
    pub(crate) raft: raft::ControllerRaft,
    state: Arc<parking_lot::RwLock<ControllerState>>,
    /// Serializes writes; true once [`Controller::shutdown`] began (no write after it: a
    /// connection closing during the shutdown must not start an election).
    writes: tokio::sync::Mutex<bool>,
    pub(crate) heartbeats: parking_lot::Mutex<HeartbeatTable>,
    client: Arc<RemotingClient>,
}

impl Node {
    pub(crate) fn live(&self) -> LiveBrokers {
        self.heartbeats.lock().live(Instant::now())
    }

    pub(crate) fn elect_config(&self) -> ElectConfig {
        ElectConfig {
            enable_elect_unclean_master: self.config.read().enable_elect_unclean_master,
        }
    }

    /// The leader's Raft id, as this controller knows it.
    pub(crate) fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    pub(crate) fn is_leader(&self) -> bool {
        self.leader() == Some(self.id)
    }

    /// Runs a read against the state; only the leader answers (Java's reads go through the
    /// leader's event scheduler).
    pub(crate) fn read<R>(
        &self,
        f: impl FnOnce(&ControllerState, &LiveBrokers) -> R,
    ) -> Result<R, CommitError> {
        if !self.is_leader() {
            return Err(CommitError::NotLeader);
        }
        let live = self.live();
        Ok(f(&self.state.read(), &live))
    }

    /// Proposes on the leader, commits through Raft, applies: the reply once its events are on
    /// a majority's disks and in the state.
    pub(crate) async fn commit<R>(
        &self,
        propose: impl FnOnce(&ControllerState, &LiveBrokers) -> Result<Proposal<R>, ControllerError>,
    ) -> Result<R, CommitError> {
        let stopped = self.writes.lock().await;
        if *stopped {
            return Err(CommitError::Log(NodeError::Stopped));
        }
        if !self.is_leader() {
            return Err(CommitError::NotLeader);
        }
        // Every entry of earlier terms applied before proposing against the state. A leader cut
        // off from its majority would wait for ever: Java's processor gives up after 5 s.
        match tokio::time::timeout(WRITE_TIMEOUT, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Err(CommitError::NotLeader),
            Err(_) => return Err(CommitError::Raft("no majority answered within 5 s".into())),
        }
        let live = self.live();
        let proposal = {
            let state = self.state.read();
            propose(&state, &live)?
        };
        if !proposal.events.is_empty() {
            tokio::time::timeout(WRITE_TIMEOUT, self.raft.client_write(proposal.events))
                .await
                .map_err(|_| CommitError::Raft("the write was not committed within 5 s".into()))?
                .map_err(|e| match e {
                    openraft::error::RaftError::APIError(
                        openraft::error::ClientWriteError::ForwardToLeader(_),
                    ) => CommitError::NotLeader,
                    other => CommitError::Raft(other.to_string()),
                })?;
        }
        drop(stopped);
        Ok(proposal.reply)
    }

    /// ELECT_MASTER, and the group told of a new master.
    pub(crate) async fn elect(self: &Arc<Self>, req: ElectRequest) -> Result<Election, CommitError> {
        let config = self.elect_config();
        let election = self
            .commit(|state, live| state.elect_master(&req, live, config))
            .await?;
        if let Election::NewMaster { .. } = &election {
            tracing::info!(broker_name = %req.broker_name, trigger = ?req.trigger, outcome = ?election, "controller: new master");
            self.notify(&election);
        }
        Ok(election)
    }

    /// NOTIFY_BROKER_ROLE_CHANGED (oneway) to each live member of the new master's group.
    fn notify(self: &Arc<Self>, election: &Election) {
        let Election::NewMaster {
            master,
            address,
            master_epoch,
            sync_state_set_epoch,
            sync_state_set,
            members,
        } = election
        else {
            return;
        };
        if !self.config.read().notify_broker_role_changed {
            return;
        }
        let live = self.live();
        let header = NotifyBrokerRoleChangedRequestHeader {
            master_address: address.clone(),
            master_epoch: Some(*master_epoch),
            sync_state_set_epoch: Some(*sync_state_set_epoch),
            master_broker_id: Some(*master as i64),
        };
        let body = body::to_json(&processor::sync_state_body(sync_state_set, *sync_state_set_epoch));
        for (&id, addr) in &members.addresses {
            use crate::liveness::Liveness as _;
            if !live.is_alive(&members.cluster_name, &members.broker_name, id) {
                continue;
            }
            let cmd = RemotingCommand::request(rc::NOTIFY_BROKER_ROLE_CHANGED)
                .with_header(&header)
                .with_body(body.clone());
            let node = self.clone();
            let addr = addr.clone();
            tokio::spawn(async move {
                let sent = tokio::time::timeout(NOTIFY_TIMEOUT, node.client.invoke_oneway(&addr, cmd)).await;
                if !matches!(sent, Ok(Ok(()))) {
                    tracing::warn!(%addr, "controller: NOTIFY_BROKER_ROLE_CHANGED not delivered");
                }
            });
        }
    }

    /// A broker's heartbeat expired or its connection closed: if it was its group's master,
    /// elect another.
    async fn broker_inactive(self: Arc<Self>, key: BrokerKey) {
        let (_, broker_name, id) = key;
        let was_master = self
            .read(|state, _| state.group(&broker_name).and_then(|g| g.master()) == Some(id))
            .unwrap_or(false);
        if was_master {
            tracing::warn!(%broker_name, id, "controller: the master is inactive; electing another");
            self.elect_until_done(broker_name).await;
        }
    }

    /// A controller-triggered election, tried `electMasterMaxRetryCount` times 3 s apart until
    /// one elects somebody (Java's `triggerElectMaster`).
    async fn elect_until_done(self: Arc<Self>, broker_name: String) {
        let tries = self.config.read().elect_master_max_retry_count.max(1);
        for attempt in 1..=tries {
            if !self.is_leader() {
                return;
            }
            let req = ElectRequest {
                broker_name: broker_name.clone(),
                trigger: ElectTrigger::Controller,
            };
            match self.elect(req).await {
                Ok(Election::NewMaster { .. }) | Ok(Election::MasterStillExists { .. }) => return,
                Ok(Election::NoMasterAvailable) => {
                    tracing::warn!(%broker_name, attempt, "controller: no broker of the group can be master")
                }
                Err(e) => tracing::warn!(%broker_name, attempt, error = %e, "controller: election failed"),
            }
            if attempt < tries {
                tokio::time::sleep(ELECT_RETRY_WAIT).await;
            }
        }
    }

    /// Persists updated config keys into `configStorePath` (the `-c` file unless set).
    fn persist_config(&self, updates: &[(String, String)]) {
        let path = {
            let config = self.config.read();
            config
                .config_store_path
                .clone()
                .unwrap_or_else(|| config.store_path.join("controller.properties"))
        };
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let text = body::properties::update_text(&old, updates);
        let tmp = path.with_extension("tmp");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::error!(path = %path.display(), error = %e, "controller: cannot persist the updated config");
        }
    }
}

/// A running controller.
pub struct Controller {
    node: Arc<Node>,
    server: ServerHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Controller {
    /// Replays the log, binds this node's peer port and starts the liveness scans. `config_file`
    /// is the `-c` file (config updates persist there unless `configStorePath` names another).
    pub async fn start(
        mut config: ControllerConfig,
        config_file: Option<PathBuf>,
    ) -> Result<Controller, NodeError> {
        if config.config_store_path.is_none() {
            config.config_store_path = config_file;
        }
        if config.peers.is_empty() {
            config.peers = vec![config::Peer {
                id: config.self_id.clone(),
                address: "127.0.0.1:9878".into(),
            }];
        }
        let id = config
            .peers
            .iter()
            .position(|p| p.id == config.self_id)
            .ok_or_else(|| {
                NodeError::Config(format!(
                    "controllerDLegerSelfId `{}` is not in controllerDLegerPeers",
                    config.self_id
                ))
            })? as u64;
        let peer = config.peers[id as usize].clone();
        let port = peer
            .address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .ok_or_else(|| NodeError::Config(format!("bad peer address {}", peer.address)))?;
        if port == 0 && config.peers.len() > 1 {
            return Err(NodeError::Config(
                "a peer port of 0 works for a single controller only: the others must know it".into(),
            ));
        }
        let bind = format!("0.0.0.0:{port}");
        let node_slot: Arc<parking_lot::Mutex<Option<Arc<Node>>>> = Arc::default();
        let handler = Arc::new(processor::Processor::new(node_slot.clone()));
        let server = Server::bind_with(&bind, handler, ServerOptions::with_max_idle_seconds(120))
            .await
            .map_err(|source| NodeError::Listen {
                addr: bind.clone(),
                source,
            })?;
        let host = peer.address.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
        let address = format!("{host}:{}", server.local_addr().port());
        config.peers[id as usize].address = address.clone();

        let log_store = raft::LogStore::open(&config.store_path)?;
        let state_machine = raft::StateMachine::open(&config.store_path)?;
        let state = state_machine.state.clone();
        let raft_config = openraft::Config {
            cluster_name: config.group.clone(),
            // A dead leader is replaced in about 1-3 s (follower timeout, then a vote round),
            // inside the 5 s failover budget of issue #16.
            heartbeat_interval: 150,
            election_timeout_min: 750,
            election_timeout_max: 1500,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(1000),
            max_in_snapshot_log_to_keep: 100,
            ..Default::default()
        }
        .validate()
        .map_err(|e| NodeError::Config(format!("raft: {e}")))?;
        let client = Arc::new(RemotingClient::new().with_connect_timeout(NOTIFY_TIMEOUT));
        let net = raft::NetFactory {
            client: client.clone(),
        };
        let raft = openraft::Raft::new(id, Arc::new(raft_config), net, log_store, state_machine)
            .await
            .map_err(|e| NodeError::Config(format!("raft: {e}")))?;
        let members: std::collections::BTreeMap<u64, openraft::BasicNode> = config
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u64, openraft::BasicNode::new(p.address.clone())))
            .collect();
        // Every controller initializes with the same peers; once one has, the others' calls are
        // refused as already initialized, which is fine.
        if let Err(e) = raft.initialize(members).await {
            tracing::debug!(error = %e, "controller: raft already initialized");
        }
        if config.peers.len() == 1 {
            // Alone, this controller is its own majority: boot means ready to serve.
            let elected = raft
                .wait(Some(Duration::from_secs(10)))
                .current_leader(id, "single controller elects itself")
                .await;
            if let Err(e) = elected {
                return Err(NodeError::Config(format!("raft: no leadership after start: {e}")));
            }
        }
        tracing::info!(
            id,
            peers = config.peers.len(),
            groups = state.read().groups().count(),
            path = %config.store_path.display(),
            "controller: started"
        );
        let node = Arc::new(Node {
            config: parking_lot::RwLock::new(config),
            address,
            id,
            raft,
            state,
            writes: tokio::sync::Mutex::new(false),
            heartbeats: parking_lot::Mutex::new(HeartbeatTable::default()),
            client,
        });
        *node_slot.lock() = Some(node.clone());
        let tasks = vec![
            tokio::spawn(scan_heartbeats(node.clone())),
            tokio::spawn(scan_inactive_masters(node.clone())),
        ];
        Ok(Controller { node, server, tasks })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The address this controller names itself by (its peer address).
    pub fn address(&self) -> &str {
        &self.node.address
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        *self.node.writes.lock().await = true;
        for t in &self.tasks {
            t.abort();
        }
        if let Err(e) = self.node.raft.shutdown().await {
            tracing::warn!(error = %e, "controller: raft did not stop cleanly");
        }
        self.server.shutdown().await;
        self.node.client.close_all();
    }

    /// Whether this controller is the Raft leader now.
    pub fn is_leader(&self) -> bool {
        self.node.is_leader()
    }
}

/// Expired heartbeats make brokers inactive (Java's `scanNotActiveBroker`: first after 2 s).
async fn scan_heartbeats(node: Arc<Node>) {
    let first = Duration::from_secs(2).min(node.config.read().scan_not_active_broker_interval);
    tokio::time::sleep(first).await;
    loop {
        let dead = node.heartbeats.lock().expire(Instant::now());
        for key in dead {
            tracing::info!(cluster = %key.0, broker_name = %key.1, id = key.2, "controller: broker heartbeat expired");
            tokio::spawn(node.clone().broker_inactive(key));
        }
        let every = node.config.read().scan_not_active_broker_interval;
        tokio::time::sleep(every.max(Duration::from_millis(10))).await;
    }
}

/// Groups whose master is dead while a member lives get an election (Java's
/// `scanInactiveMasterAndTriggerReelect`), which also covers a controller restarted after its
/// brokers' master died.
///
/// A controller that just became leader scans at once: a master that died with the old leader
/// (whose broker connections closed on this controller while it could not act) is replaced
/// without waiting for the period.
async fn scan_inactive_masters(node: Arc<Node>) {
    let mut metrics = node.raft.metrics();
    let mut was_leader = node.is_leader();
    loop {
        let every = node.config.read().scan_inactive_master_interval;
        let mut new_leader = false;
        tokio::select! {
            _ = tokio::time::sleep(every.max(Duration::from_millis(10))) => {}
            _ = became_leader(&mut metrics, node.id, &mut was_leader) => {
                tracing::info!("controller: became leader; scanning for groups without a live master");
                new_leader = true;
            }
        }
        was_leader = node.is_leader();
        if new_leader {
            // Its state machine may lack what the old leader committed last (the commit index
            // had not reached it): scan once its own term's first entry is applied.
            let applied = caught_up_in_term(&mut metrics);
            if tokio::time::timeout(LEADER_APPLY_WAIT, applied).await.is_err() {
                tracing::warn!("controller: new leader not caught up; scanning anyway");
            }
        }
        let groups = node
            .read(|state, live| state.groups_needing_reelection(live))
            .unwrap_or_default();
        for broker_name in groups {
            node.clone().elect_until_done(broker_name).await;
        }
    }
}

/// Returns once the applied log reaches the current term (a leader's blank entry: everything
/// committed before it is in the state machine too).
async fn caught_up_in_term(
    metrics: &mut tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, openraft::BasicNode>>,
) {
    loop {
        {
            let m = metrics.borrow_and_update();
            if m.last_applied
                .is_some_and(|l| l.leader_id.get_term() == m.current_term)
            {
                return;
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// Returns when `id` becomes the Raft leader (it was not at the previous change).
async fn became_leader(
    metrics: &mut tokio::sync::watch::Receiver<openraft::RaftMetrics<u64, openraft::BasicNode>>,
    id: u64,
    was_leader: &mut bool,
) {
    loop {
        if metrics.changed().await.is_err() {
            return std::future::pending().await;
        }
        let leader = metrics.borrow().current_leader == Some(id);
        let became = leader && !*was_leader;
        *was_leader = leader;
        if became {
            return;
        }
    }
}
