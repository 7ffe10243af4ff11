//! HA replication, classic master/slave (docs/store/ha.md).
//!
//! - [`master`]: the HA listener on `listenPort + 1`; per slave connection, 8-byte big-endian
//!   ack offsets in, `offset(8) + size(4) + raw commitlog bytes` frames out.
//! - [`slave`]: the client that connects to the master's HA address, appends the frames
//!   byte-identically (the store then dispatches them like recovered records) and reports its
//!   max offset.
//! - [`HaState`]: `push2SlaveMaxOffset` and the SYNC_MASTER wait on it — a `watch` await per
//!   put, not a thread.
//!
//! Wire constants: header 12 bytes; frames of at most `haTransferBatchSize` (32 KiB) that never
//! cross a segment; heartbeats every `haSendHeartbeatInterval` (5 s); a connection silent for
//! `haHousekeepingInterval` (20 s) is closed; the slave reconnects every 5 s.

pub mod auto;
pub mod epoch;
mod link;
pub mod master;
pub mod slave;

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::message::PutStatus;
use crate::{StoreConfig, StoreError};

/// Size of the master → slave frame header (offset i64 + body size i32).
pub const HEADER_LEN: usize = 12;

/// How long the slave waits before reconnecting after a failure.
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(5);

/// Why a replicated chunk could not be applied on the slave.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The chunk does not start where this store's commitlog ends.
    #[error("replicated chunk at offset {offset} does not continue the commitlog (max offset {max})")]
    Discontinuous { offset: u64, max: u64 },
    #[error("store is not writable")]
    NotWritable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Java's `haMaxGapNotInSync` (256 MiB): a slave whose ack is closer to the master's max offset
/// is "in sync" in `haStatus`.
pub const MAX_GAP_IN_SYNC: i64 = 256 * 1024 * 1024;

/// Bytes moved per second: the last whole second's count, as Java's
/// `transferredByteInSecond`. One writer (the connection's task); a reader sees the last
/// finished second.
#[derive(Debug, Default)]
struct ByteRate {
    second: AtomicU64,
    current: AtomicU64,
    previous: AtomicU64,
}

impl ByteRate {
    fn add(&self, bytes: u64) {
        let now = now_second();
        let second = self.second.load(Ordering::Relaxed);
        if second != now {
            let done = self.current.swap(0, Ordering::Relaxed);
            self.previous
                .store(if now == second + 1 { done } else { 0 }, Ordering::Relaxed);
            self.second.store(now, Ordering::Relaxed);
        }
        self.current.fetch_add(bytes, Ordering::Relaxed);
    }

    fn per_second(&self) -> u64 {
        let now = now_second();
        match now.checked_sub(self.second.load(Ordering::Relaxed)) {
            Some(0) => self.previous.load(Ordering::Relaxed),
            Some(1) => self.current.load(Ordering::Relaxed),
            _ => 0,
        }
    }
}

fn now_second() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One slave connection on the master (`HAConnection`), for `haStatus`.
#[derive(Debug)]
pub(crate) struct SlaveLink {
    addr: String,
    /// The slave's last acknowledged offset.
    ack: AtomicI64,
    /// Controller mode: the slave's broker id from its handshake (-1 before it).
    broker_id: AtomicI64,
    /// Where the transfer started (-1 until the slave asked).
    from: AtomicI64,
    sent: ByteRate,
}

impl SlaveLink {
    pub(crate) fn acked(&self, offset: i64) {
        self.ack.store(offset, Ordering::Relaxed);
    }

    pub(crate) fn ack_offset(&self) -> i64 {
        self.ack.load(Ordering::Acquire)
    }

    pub(crate) fn set_broker_id(&self, id: i64) {
        self.broker_id.store(id, Ordering::Release);
    }

    pub(crate) fn broker_id(&self) -> i64 {
        self.broker_id.load(Ordering::Acquire)
    }

    pub(crate) fn started_at(&self, offset: i64) {
        self.from.store(offset, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, bytes: usize) {
        self.sent.add(bytes as u64);
    }
}

/// A slave connection as the master sees it (`HAConnectionRuntimeInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaveStatus {
    /// The slave's HA socket address, `ip:port`.
    pub addr: String,
    pub ack_offset: i64,
    pub transfer_from: i64,
    /// Controller mode: the slave's broker id (-1 in classic mode).
    pub broker_id: i64,
    pub bytes_per_second: u64,
}

/// The slave's view of its master connection (`HAClientRuntimeInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterLinkStatus {
    pub master_addr: Option<String>,
    pub bytes_per_second: u64,
    pub last_read_ms: i64,
    pub last_write_ms: i64,
    pub connected: bool,
}

/// The slave's HA client progress.
#[derive(Debug, Default)]
pub(crate) struct ClientLink {
    master: Mutex<Option<String>>,
    connected: std::sync::atomic::AtomicBool,
    last_read_ms: AtomicI64,
    last_write_ms: AtomicI64,
    received: ByteRate,
}

impl ClientLink {
    pub(crate) fn connecting(&self, master: &str) {
        *self.master.lock() = Some(master.to_string());
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    pub(crate) fn read(&self, bytes: usize) {
        self.last_read_ms.store(now_ms(), Ordering::Relaxed);
        self.received.add(bytes as u64);
    }

    pub(crate) fn wrote(&self) {
        self.last_write_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// Replication progress, shared by the put path and the HA connections: the master's slaves
/// and, on a slave, its link to the master.
#[derive(Debug)]
pub struct HaState {
    /// `push2SlaveMaxOffset`: the highest offset any slave acknowledged.
    acked: watch::Sender<i64>,
    /// Live slave connections (the put path reads this; `links` has their details).
    connections: AtomicUsize,
    links: Mutex<Vec<Arc<SlaveLink>>>,
    pub(crate) client: ClientLink,
    /// Controller mode: epochs, SyncStateSet, confirm offset.
    pub replicas: auto::ReplicaState,
}

impl Default for HaState {
    fn default() -> Self {
        HaState {
            acked: watch::channel(0).0,
            connections: AtomicUsize::new(0),
            links: Mutex::new(Vec::new()),
            client: ClientLink::default(),
            replicas: auto::ReplicaState::default(),
        }
    }
}

impl HaState {
    /// `push2SlaveMaxOffset`.
    pub fn push2slave_max_offset(&self) -> i64 {
        *self.acked.borrow()
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// A slave acknowledged everything below `offset`; wakes the puts it covers.
    pub(crate) fn ack(&self, offset: i64) {
        self.acked.send_if_modified(|max| {
            let grew = offset > *max;
            if grew {
                *max = offset;
            }
            grew
        });
    }

    /// A slave connected from `addr`; it counts until the guard drops.
    pub(crate) fn connected(&self, addr: String) -> ConnectionGuard<'_> {
        let link = Arc::new(SlaveLink {
            addr,
            ack: AtomicI64::new(0),
            broker_id: AtomicI64::new(-1),
            from: AtomicI64::new(-1),
            sent: ByteRate::default(),
        });
        self.links.lock().push(link.clone());
        self.connections.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(self, link)
    }

    /// The connected slaves, in connection order.
    pub fn slaves(&self) -> Vec<SlaveStatus> {
        self.links
            .lock()
            .iter()
            .map(|l| SlaveStatus {
                addr: l.addr.clone(),
                ack_offset: l.ack.load(Ordering::Relaxed),
                broker_id: l.broker_id.load(Ordering::Relaxed),
                transfer_from: l.from.load(Ordering::Relaxed),
                bytes_per_second: l.sent.per_second(),
            })
            .collect()
    }

    /// On a slave: its link to the master.
    pub fn master_link(&self) -> MasterLinkStatus {
        MasterLinkStatus {
            master_addr: self.client.master.lock().clone(),
            bytes_per_second: self.client.received.per_second(),
            last_read_ms: self.client.last_read_ms.load(Ordering::Relaxed),
            last_write_ms: self.client.last_write_ms.load(Ordering::Relaxed),
            connected: self.client.connected.load(Ordering::Relaxed),
        }
    }

    /// `isSlaveOK` + `GroupTransferService`: `PutOk` once a slave acked `end`,
    /// `FlushSlaveTimeout` after `slave_timeout_ms`, `SlaveNotAvailable` at once when no slave
    /// is connected or the best one is `ha_slave_fallbehind_max` or more behind.
    pub(crate) async fn wait_for_slave(&self, end: u64, config: &StoreConfig) -> PutStatus {
        let end = end as i64;
        let behind = end - self.push2slave_max_offset();
        if self.connection_count() == 0 || behind >= config.ha_slave_fallbehind_max as i64 {
            return PutStatus::SlaveNotAvailable;
        }
        let mut rx = self.acked.subscribe();
        let timeout = Duration::from_millis(config.slave_timeout_ms);
        let acked = tokio::time::timeout(timeout, async {
            rx.wait_for(|acked| *acked >= end).await.is_ok()
        })
        .await;
        match acked {
            Ok(true) => PutStatus::PutOk,
            _ => {
                tracing::warn!(end, "waiting for a slave's ack timed out");
                PutStatus::FlushSlaveTimeout
            }
        }
    }
}

/// Counts a slave connection while alive.
pub(crate) struct ConnectionGuard<'a>(&'a HaState, Arc<SlaveLink>);

impl ConnectionGuard<'_> {
    pub(crate) fn link(&self) -> &SlaveLink {
        &self.1
    }
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.links.lock().retain(|l| !Arc::ptr_eq(l, &self.1));
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `isWaitStoreMsgOK`: the `WAIT` property is absent or `Boolean.parseBoolean` of it is true.
pub fn waits_store_ok(properties: &str) -> bool {
    for pair in properties.split('\u{2}') {
        if let Some(("WAIT", v)) = pair.split_once('\u{1}') {
            return v.eq_ignore_ascii_case("true");
        }
    }
    true
}

/// A running HA task (master listener or slave client). Dropping it stops the task and every
/// connection it owns.
#[derive(Debug)]
pub struct HaService {
    task: Option<JoinHandle<()>>,
    local_addr: Option<std::net::SocketAddr>,
}

impl HaService {
    /// The listener's address (master only).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.local_addr
    }

    /// Stops the task and waits until it is gone (its connections are closed).
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // A JoinError here is the cancellation just asked for.
            let _ = task.await;
        }
    }
}

impl Drop for HaService {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_property_follows_parse_boolean() {
        assert!(waits_store_ok(""));
        assert!(waits_store_ok("KEYS\u{1}k\u{2}"));
        assert!(waits_store_ok("WAIT\u{1}TRUE\u{2}"));
        assert!(!waits_store_ok("KEYS\u{1}k\u{2}WAIT\u{1}false\u{2}"));
        assert!(!waits_store_ok("WAIT\u{1}yes\u{2}"));
    }
}
