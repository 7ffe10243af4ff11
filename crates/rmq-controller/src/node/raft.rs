//! The controllers' replicated log: openraft (0.9) with a log store and a state machine on disk,
//! and its RPCs carried as remoting frames on the controller's own port.
//!
//! An entry carries the events of one write. The state machine applies them to the shared
//! [`ControllerState`]; the log and its metadata (vote, committed, purged) sit in
//! [`RecordFile`]s under `controllerStorePath`, the state machine's snapshots in `snapshot.json`.
//! The Raft RPCs use request codes 1050–1052, which only rmq controllers send each other (Java's
//! DLedger protocol is not spoken: a group is all rmq or all Java).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, LogId, LogState, RaftLogReader, RaftNetwork,
    RaftNetworkFactory, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership, Vote,
};
use rmq_protocol::codes::response_code;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::log::RecordFile;
use super::NodeError;
use crate::event::Event;
use crate::state::ControllerState;

openraft::declare_raft_types!(
    /// The controllers' Raft: an entry is the events of one write.
    pub Ctl: D = Vec<Event>, R = (), NodeId = u64, Node = BasicNode
);

/// The Raft handle.
pub type ControllerRaft = openraft::Raft<Ctl>;

/// AppendEntries between rmq controllers.
pub const RAFT_APPEND_ENTRIES: i32 = 1050;
/// RequestVote between rmq controllers.
pub const RAFT_VOTE: i32 = 1051;
/// InstallSnapshot between rmq controllers.
pub const RAFT_INSTALL_SNAPSHOT: i32 = 1052;

type NodeId = u64;
type StorageResult<T> = Result<T, StorageError<NodeId>>;

fn write_err(e: &NodeError) -> StorageError<NodeId> {
    StorageIOError::write(AnyError::new(e)).into()
}

/// Vote, committed and purged log ids: the log's small state, rewritten whole on each change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LogMeta {
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    last_purged: Option<LogId<NodeId>>,
}

struct LogInner {
    entries: BTreeMap<u64, Entry<Ctl>>,
    file: RecordFile<Entry<Ctl>>,
    meta: LogMeta,
    meta_file: RecordFile<LogMeta>,
}

impl LogInner {
    fn save_meta(&mut self) -> Result<(), NodeError> {
        self.meta_file.rewrite(std::iter::once(&self.meta))
    }
}

/// The Raft log on disk (`raft-log.dat`, `raft-meta.dat`), all entries also held in memory
/// (a controller's log is small: snapshots purge it).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<parking_lot::Mutex<LogInner>>,
}

impl LogStore {
    pub fn open(dir: &Path) -> Result<LogStore, NodeError> {
        let (file, list) = RecordFile::<Entry<Ctl>>::open(&dir.join("raft-log.dat"))?;
        let (meta_file, metas) = RecordFile::<LogMeta>::open(&dir.join("raft-meta.dat"))?;
        let meta = metas.into_iter().last().unwrap_or_default();
        let entries = list.into_iter().map(|e| (e.log_id.index, e)).collect();
        Ok(LogStore {
            inner: Arc::new(parking_lot::Mutex::new(LogInner {
                entries,
                file,
                meta,
                meta_file,
            })),
        })
    }
}

impl RaftLogReader<Ctl> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<Ctl>>> {
        Ok(self
            .inner
            .lock()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<Ctl> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<Ctl>> {
        let inner = self.inner.lock();
        let last_purged_log_id = inner.meta.last_purged;
        let last_log_id = inner
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        let mut inner = self.inner.lock();
        inner.meta.vote = Some(*vote);
        inner
            .save_meta()
            .map_err(|e| StorageIOError::write_vote(AnyError::new(&e)).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        Ok(self.inner.lock().meta.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        let mut inner = self.inner.lock();
        inner.meta.committed = committed;
        inner.save_meta().map_err(|e| write_err(&e))
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        Ok(self.inner.lock().meta.committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<Ctl>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<Ctl>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<Ctl>> = entries.into_iter().collect();
        let mut inner = self.inner.lock();
        let written = inner.file.append(&entries);
        match written {
            Ok(()) => {
                for e in entries {
                    inner.entries.insert(e.log_id.index, e);
                }
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(AnyError::new(&e)).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let mut inner = self.inner.lock();
        inner.entries.retain(|&i, _| i < log_id.index);
        let LogInner { entries, file, .. } = &mut *inner;
        file.rewrite(entries.values()).map_err(|e| write_err(&e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let mut inner = self.inner.lock();
        inner.meta.last_purged = Some(log_id);
        inner.save_meta().map_err(|e| write_err(&e))?;
        inner.entries.retain(|&i, _| i > log_id.index);
        let LogInner { entries, file, .. } = &mut *inner;
        file.rewrite(entries.values()).map_err(|e| write_err(&e))
    }
}

/// What `snapshot.json` holds.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<NodeId, BasicNode>,
    state: ControllerState,
}

struct SmInner {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    snapshot: Option<(SnapshotMeta<NodeId, BasicNode>, Vec<u8>)>,
}

/// The state machine: applies committed events to the shared state.
#[derive(Clone)]
pub struct StateMachine {
    pub state: Arc<parking_lot::RwLock<ControllerState>>,
    inner: Arc<parking_lot::Mutex<SmInner>>,
    snapshot_path: PathBuf,
}

impl StateMachine {
    /// Starts from `<dir>/snapshot.json` if there is one; Raft replays the log after it.
    pub fn open(dir: &Path) -> Result<StateMachine, NodeError> {
        let snapshot_path = dir.join("snapshot.json");
        let mut state = ControllerState::new();
        let mut inner = SmInner {
            last_applied: None,
            membership: StoredMembership::default(),
            snapshot: None,
        };
        if let Ok(bytes) = std::fs::read(&snapshot_path) {
            let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(|e| {
                NodeError::Config(format!(
                    "{}: not a controller snapshot: {e}",
                    snapshot_path.display()
                ))
            })?;
            state = file.state;
            inner.last_applied = file.meta.last_log_id;
            inner.membership = file.meta.last_membership.clone();
            inner.snapshot = Some((file.meta, bytes));
        }
        Ok(StateMachine {
            state: Arc::new(parking_lot::RwLock::new(state)),
            inner: Arc::new(parking_lot::Mutex::new(inner)),
            snapshot_path,
        })
    }

    fn persist(&self, bytes: &[u8]) -> Result<(), NodeError> {
        let tmp = self.snapshot_path.with_extension("tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.snapshot_path))
            .map_err(|e| NodeError::io(&self.snapshot_path, e))
    }
}

impl RaftSnapshotBuilder<Ctl> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<Ctl>> {
        let (meta, bytes) = {
            let inner = self.inner.lock();
            let state = self.state.read().clone();
            let meta = SnapshotMeta {
                last_log_id: inner.last_applied,
                last_membership: inner.membership.clone(),
                snapshot_id: format!(
                    "{}-{}",
                    inner.last_applied.map_or(0, |l| l.index),
                    rmq_protocol::time::now_ms()
                ),
            };
            let bytes = serde_json::to_vec(&SnapshotFile {
                meta: meta.clone(),
                state,
            })
            .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)))?;
            (meta, bytes)
        };
        self.persist(&bytes)
            .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)))?;
        self.inner.lock().snapshot = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<Ctl> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>)> {
        let inner = self.inner.lock();
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<()>>
    where
        I: IntoIterator<Item = Entry<Ctl>> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        let mut inner = self.inner.lock();
        for entry in entries {
            inner.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(events) => {
                    let mut state = self.state.write();
                    for e in &events {
                        state.apply(e);
                    }
                }
                EntryPayload::Membership(m) => {
                    inner.membership = StoredMembership::new(Some(entry.log_id), m);
                }
            }
            out.push(());
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let bytes = snapshot.into_inner();
        let file: SnapshotFile = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(None, AnyError::new(&e)))?;
        self.persist(&bytes)
            .map_err(|e| StorageIOError::write_snapshot(None, AnyError::new(&e)))?;
        *self.state.write() = file.state;
        let mut inner = self.inner.lock();
        inner.last_applied = meta.last_log_id;
        inner.membership = meta.last_membership.clone();
        inner.snapshot = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<Ctl>>> {
        Ok(self.inner.lock().snapshot.clone().map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}

/// Connections to the other controllers.
pub struct NetFactory {
    pub client: Arc<RemotingClient>,
}

/// One peer.
pub struct Net {
    client: Arc<RemotingClient>,
    target: NodeId,
    node: BasicNode,
}

impl RaftNetworkFactory<Ctl> for NetFactory {
    type Network = Net;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Net {
        Net {
            client: self.client.clone(),
            target,
            node: node.clone(),
        }
    }
}

impl Net {
    async fn call<Req, Resp, E>(
        &self,
        code: i32,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let cmd = RemotingCommand::request(code).with_body(body);
        let resp = self
            .client
            .invoke(&self.node.addr, cmd, option.hard_ttl())
            .await
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        if resp.code != response_code::SUCCESS {
            let e = std::io::Error::other(resp.remark.unwrap_or_default());
            return Err(RPCError::Unreachable(Unreachable::new(&e)));
        }
        let result: Result<Resp, RaftError<NodeId, E>> =
            serde_json::from_slice(&resp.body).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result
            .map_err(|e| RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), e)))
    }
}

impl RaftNetwork<Ctl> for Net {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<Ctl>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(RAFT_APPEND_ENTRIES, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<Ctl>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(RAFT_INSTALL_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(RAFT_VOTE, &rpc, &option).await
    }
}

/// Serves one Raft RPC frame: the body is the request, the answer's body the `Result`.
pub async fn serve(raft: &ControllerRaft, code: i32, body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    match code {
        RAFT_APPEND_ENTRIES => serde_json::to_vec(&raft.append_entries(serde_json::from_slice(body)?).await),
        RAFT_VOTE => serde_json::to_vec(&raft.vote(serde_json::from_slice(body)?).await),
        _ => serde_json::to_vec(&raft.install_snapshot(serde_json::from_slice(body)?).await),
    }
}
