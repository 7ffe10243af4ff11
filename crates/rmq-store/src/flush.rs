//! Background flush services, run on dedicated std threads (fsync blocks, so they stay off the
//! tokio runtime):
//!
//! * `rmq-cl-flush`: commitlog. ASYNC_FLUSH: every `flush_interval_commit_log_ms` with the
//!   least-pages rule (thorough every `flush_commit_log_thorough_interval_ms`). SYNC_FLUSH: woken
//!   by each put; one fsync covers every put that arrived before it started (group commit).
//!   Progress is published on a `watch` channel that sync puts wait on.
//! * `rmq-cq-flush`: consume queues every `flush_interval_consume_queue_ms`; on the thorough
//!   interval it flushes everything and then persists the checkpoint.
//!
//! A failed fsync marks the store unwriteable for good (`FLUSH_FAILED`) and stops that service.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::store::Core;

/// How a service is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Final flush, then exit (clean shutdown).
    Clean,
    /// Exit without flushing (the store handle was dropped without `shutdown`; behaves like a
    /// crash as far as the files are concerned).
    Abandon,
}

#[derive(Debug, Default)]
struct SignalState {
    requested: bool,
    /// The service is blocked in `wait` (only then does `wake` need to notify: a futex syscall
    /// per put otherwise, for a flag the service reads anyway before it next sleeps).
    waiting: bool,
    stop: Option<StopMode>,
}

/// A wakeup latch (`ServiceThread.waitForRunning` / `wakeup`).
#[derive(Debug, Default)]
pub(crate) struct Signal {
    state: Mutex<SignalState>,
    cv: Condvar,
}

impl Signal {
    pub fn wake(&self) {
        let mut s = self.state.lock();
        if s.requested {
            return;
        }
        s.requested = true;
        let waiting = s.waiting;
        drop(s);
        if waiting {
            self.cv.notify_one();
        }
    }

    pub fn stop(&self, mode: StopMode) {
        let mut s = self.state.lock();
        // Clean wins over Abandon if both were asked for.
        if s.stop != Some(StopMode::Clean) {
            s.stop = Some(mode);
        }
        drop(s);
        self.cv.notify_one();
    }

    /// Wait until woken, stopped or `timeout`; returns the stop mode if stopping.
    fn wait(&self, timeout: Duration) -> Option<StopMode> {
        let mut s = self.state.lock();
        s.waiting = true;
        self.cv
            .wait_while_for(&mut s, |s| !s.requested && s.stop.is_none(), timeout);
        s.waiting = false;
        s.requested = false;
        s.stop
    }
}

/// What sync-flush waiters watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FlushProgress {
    /// Everything below this commitlog offset is on disk.
    pub flushed: u64,
    /// A flush failed; nothing will be acknowledged any more.
    pub failed: bool,
}

pub(crate) fn commit_log_flusher(core: Arc<Core>) {
    let cfg = &core.config;
    let sync = cfg.flush_disk_type == crate::FlushDiskType::SyncFlush;
    let interval = Duration::from_millis(cfg.flush_interval_commit_log_ms.max(1));
    let thorough_every = Duration::from_millis(cfg.flush_commit_log_thorough_interval_ms);
    let mut last_thorough = Instant::now();
    loop {
        let stop = core.cl_flush_signal.wait(interval);
        if stop == Some(StopMode::Abandon) {
            return;
        }
        let thorough = sync || stop.is_some() || last_thorough.elapsed() >= thorough_every;
        if thorough {
            last_thorough = Instant::now();
        }
        let least = if thorough {
            0
        } else {
            cfg.flush_commit_log_least_pages
        };
        if core.flush_commit_log(least).is_err() || stop.is_some() {
            return;
        }
    }
}

pub(crate) fn consume_queue_flusher(core: Arc<Core>) {
    let cfg = &core.config;
    let interval = Duration::from_millis(cfg.flush_interval_consume_queue_ms.max(1));
    let thorough_every = Duration::from_millis(cfg.flush_consume_queue_thorough_interval_ms);
    let mut last_thorough = Instant::now();
    loop {
        let stop = core.cq_flush_signal.wait(interval);
        if stop == Some(StopMode::Abandon) {
            return;
        }
        let thorough = stop.is_some() || last_thorough.elapsed() >= thorough_every;
        if thorough {
            last_thorough = Instant::now();
        }
        let least = if thorough {
            0
        } else {
            cfg.flush_consume_queue_least_pages
        };
        // Capture before flushing so the persisted value never runs ahead of flushed CQ data.
        let logics = core.checkpoint.logics_msg_timestamp.load(Ordering::Acquire);
        let mut result = core.flush_consume_queues(least);
        if result.is_ok() {
            result = core.flush_index(stop.is_some(), logics);
        }
        if result.is_ok() && thorough {
            result = core.persist_checkpoint(logics);
        }
        if result.is_err() || stop.is_some() {
            return;
        }
        core.release_commit_log_pages();
    }
}
