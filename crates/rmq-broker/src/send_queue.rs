//! Flow control of sends (docs/broker/flow-control.md): Java's `SendMessageThread_` pool with its bounded
//! queue and `BrokerFastFailure`, as a semaphore.
//!
//! A send takes one of `sendMessageThreadPoolNums` permits for its checks and its append (not
//! for the SYNC_FLUSH wait, which happens after the permit is returned). When none is free it
//! waits in FIFO order, counted against `sendThreadPoolQueueCapacity`, and with its arrival time:
//!
//! * the page cache is busy (a put has held the store's put lock for over
//!   `osPageCacheBusyTimeOutMills`) when it arrives → `[REJECTREQUEST]`;
//! * the queue is full → `[OVERLOAD]`;
//! * it waited `waitTimeMillsInSendQueue` → `[PCBUSY_CLEAN_QUEUE]` if the page cache is busy by
//!   then, else `[TIMEOUT_CLEAN_QUEUE]`.
//!
//! All are SYSTEM_BUSY (2), which producers retry. An uncontended send costs one atomic load and
//! one semaphore `try_acquire`; only a waiting send arms a timer. Without
//! `brokerFastFailureEnable` only the capacity bound applies. Differences from Java: the "period
//! in queue" starts when the request reaches the processor (right after it is read), and a
//! waiting send notices a busy page cache at its deadline, not within 10 ms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmq_store::MessageStore;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::BrokerConfig;

/// Why a send is answered SYSTEM_BUSY instead of being processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Busy {
    /// `[REJECTREQUEST]`: the page cache was busy when the send arrived.
    Reject,
    /// `[OVERLOAD]`: the queue was full.
    Overload,
    /// `[PCBUSY_CLEAN_QUEUE]`.
    PageCacheBusy { waited_ms: u64, queue_len: usize },
    /// `[TIMEOUT_CLEAN_QUEUE]`.
    Timeout { waited_ms: u64, queue_len: usize },
}

impl Busy {
    /// Java's remark, word for word.
    pub fn remark(&self) -> String {
        match self {
            Busy::Reject => "[REJECTREQUEST]system busy, start flow control for a while".into(),
            Busy::Overload => "[OVERLOAD]system busy, start flow control for a while".into(),
            Busy::PageCacheBusy { waited_ms, queue_len } => format!(
                "[PCBUSY_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: {waited_ms}ms, size of queue: {queue_len}"
            ),
            Busy::Timeout { waited_ms, queue_len } => format!(
                "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in queue: {waited_ms}ms, size of queue: {queue_len}"
            ),
        }
    }
}

/// The send queue of one broker.
#[derive(Debug)]
pub struct SendQueue {
    permits: Semaphore,
    waiting: AtomicUsize,
    capacity: usize,
    wait_limit: Duration,
    fast_failure: bool,
}

/// Decrements the waiting count when a queued send leaves the queue, however it leaves.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SendQueue {
    pub fn new(config: &BrokerConfig) -> SendQueue {
        SendQueue {
            permits: Semaphore::new(config.send_message_thread_pool_nums.max(1)),
            waiting: AtomicUsize::new(0),
            capacity: config.send_thread_pool_queue_capacity,
            wait_limit: Duration::from_millis(config.wait_time_mills_in_send_queue),
            fast_failure: config.broker_fast_failure_enable,
        }
    }

    /// Sends waiting for a permit now.
    pub fn len(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wait for a permit for a send that arrived at `arrived`; hold it while processing.
    pub async fn enter(&self, store: &MessageStore, arrived: Instant) -> Result<SemaphorePermit<'_>, Busy> {
        if self.fast_failure && store.is_os_page_cache_busy() {
            return Err(Busy::Reject);
        }
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy::Overload);
        }
        let _waiting = Waiting(&self.waiting);
        let acquire = self.permits.acquire();
        tokio::pin!(acquire);
        if !self.fast_failure {
            return acquire.await.map_err(|_| Busy::Overload);
        }
        let deadline = tokio::time::Instant::from_std(arrived + self.wait_limit);
        tokio::select! {
            permit = &mut acquire => permit.map_err(|_| Busy::Overload),
            () = tokio::time::sleep_until(deadline) => {
                let waited_ms = arrived.elapsed().as_millis() as u64;
                let queue_len = self.len();
                Err(if store.is_os_page_cache_busy() {
                    Busy::PageCacheBusy { waited_ms, queue_len }
                } else {
                    Busy::Timeout { waited_ms, queue_len }
                })
            }
        }
    }
}
