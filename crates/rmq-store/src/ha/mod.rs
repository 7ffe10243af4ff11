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

pub mod master;
pub mod slave;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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

/// Master-side replication progress, shared by the put path and the HA connections.
#[derive(Debug)]
pub struct HaState {
    /// `push2SlaveMaxOffset`: the highest offset any slave acknowledged.
    acked: watch::Sender<i64>,
    /// Live slave connections.
    connections: AtomicUsize,
}

impl Default for HaState {
    fn default() -> Self {
        HaState {
            acked: watch::channel(0).0,
            connections: AtomicUsize::new(0),
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

    pub(crate) fn connected(&self) -> ConnectionGuard<'_> {
        self.connections.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(self)
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
pub(crate) struct ConnectionGuard<'a>(&'a HaState);

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
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
