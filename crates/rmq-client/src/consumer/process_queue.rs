//! [`ProcessQueue`]: the messages of one queue pulled but not yet consumed, keyed by queue
//! offset, and the flow-control decision made from it (docs/protocol/pull.md#client-flow-control).

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use tokio::sync::Notify;

use rmq_protocol::message::MessageExt;

const MIB: u64 = 1024 * 1024;

/// The cache of one assigned queue. Shared by its pull task and the consume tasks.
#[derive(Debug, Default)]
pub(crate) struct ProcessQueue {
    cache: Mutex<Cache>,
    dropped: AtomicBool,
    pub last_pull_ms: AtomicI64,
    pub last_consume_ms: AtomicI64,
    /// Orderly: whether the broker lock is held, and when it was last granted.
    locked: AtomicBool,
    last_lock_ms: AtomicI64,
    /// Orderly: held while the listener runs on a batch of this queue, so a rebalance can
    /// wait for it before giving the broker lock up.
    pub consume_lock: tokio::sync::Mutex<()>,
    /// Orderly: woken when messages arrive or the queue is dropped.
    pub changed: Notify,
}

/// Orderly: a lock not renewed for this long is not trusted (`lockMaxLiveTime`, 30 s).
pub(crate) const LOCK_MAX_LIVE_MS: i64 = 30_000;

#[derive(Debug, Default)]
struct Cache {
    msgs: BTreeMap<i64, MessageExt>,
    /// Sum of the cached bodies (Java counts body bytes only).
    size_bytes: u64,
    /// Highest offset ever put (`queueOffsetMax`); the next offset once the cache drains.
    max_offset: i64,
}

/// A snapshot for counters and GET_CONSUMER_RUNNING_INFO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CacheStats {
    pub count: usize,
    pub size_bytes: u64,
    pub min_offset: i64,
    pub max_offset: i64,
}

impl CacheStats {
    /// `max − min` of the cached offsets (0 when empty), the `consumeConcurrentlyMaxSpan` input.
    pub fn span(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.max_offset - self.min_offset
        }
    }
}

impl ProcessQueue {
    /// Caches `msgs`; an offset already cached is not counted twice. Returns how many were new.
    pub fn put(&self, msgs: &[MessageExt]) -> usize {
        let mut cache = self.cache.lock();
        let mut added = 0;
        for m in msgs {
            if cache.msgs.contains_key(&m.queue_offset) {
                continue;
            }
            cache.size_bytes += m.body.len() as u64;
            cache.max_offset = cache.max_offset.max(m.queue_offset);
            cache.msgs.insert(m.queue_offset, m.clone());
            added += 1;
        }
        drop(cache);
        if added > 0 {
            self.changed.notify_one();
        }
        added
    }

    /// Orderly: the first `n` cached messages, in offset order (they stay cached until
    /// [`remove`](Self::remove)d).
    pub fn first(&self, n: usize) -> Vec<MessageExt> {
        self.cache.lock().msgs.values().take(n).cloned().collect()
    }

    /// Orderly: the broker granted (`true`) or refused the lock at `now_ms`.
    pub fn set_locked(&self, locked: bool, now_ms: i64) {
        if locked {
            self.last_lock_ms.store(now_ms, Ordering::Release);
        }
        self.locked.store(locked, Ordering::Release);
    }

    /// Orderly: the lock is held and was renewed within [`LOCK_MAX_LIVE_MS`].
    pub fn is_lock_valid(&self, now_ms: i64) -> bool {
        self.locked.load(Ordering::Acquire)
            && now_ms - self.last_lock_ms.load(Ordering::Acquire) <= LOCK_MAX_LIVE_MS
    }

    /// Removes consumed messages and returns the offset to commit: the smallest offset still
    /// cached, or `max_offset + 1` when the cache is now empty. `None` when the cache was
    /// already empty (nothing to commit), like Java's −1.
    pub fn remove(&self, offsets: &[i64]) -> Option<i64> {
        let mut cache = self.cache.lock();
        if cache.msgs.is_empty() {
            return None;
        }
        for offset in offsets {
            if let Some(m) = cache.msgs.remove(offset) {
                cache.size_bytes -= m.body.len() as u64;
            }
        }
        Some(match cache.msgs.keys().next() {
            Some(first) => *first,
            None => cache.max_offset + 1,
        })
    }

    pub fn stats(&self) -> CacheStats {
        let cache = self.cache.lock();
        CacheStats {
            count: cache.msgs.len(),
            size_bytes: cache.size_bytes,
            min_offset: cache.msgs.keys().next().copied().unwrap_or(0),
            max_offset: cache.msgs.keys().next_back().copied().unwrap_or(0),
        }
    }

    /// Forgets every cached message (offset reset).
    pub fn clear(&self) {
        let mut cache = self.cache.lock();
        cache.msgs.clear();
        cache.size_bytes = 0;
    }

    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Marks the queue as no longer ours: its pull task stops and consume results no longer
    /// move its offset.
    pub fn set_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
        self.changed.notify_one();
    }
}

/// The push consumer's per-queue limits (docs/protocol/pull.md#client-flow-control).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowLimits {
    pub pull_batch_size: i32,
    pub threshold_count: usize,
    pub threshold_size_mib: u64,
    pub max_span: i64,
}

/// Why a pull was postponed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowControl {
    /// More than `pullThresholdForQueue` messages cached (or exactly that many; see below).
    Count,
    /// More than `pullThresholdSizeForQueue` MiB of bodies cached.
    Size,
    /// `max − min` cached offset above `consumeConcurrentlyMaxSpan`.
    Span,
}

impl FlowLimits {
    /// `Some(reason)` when the next pull must wait 50 ms, else the `maxMsgNums` to ask for.
    ///
    /// Java's checks (`>` each threshold) plus one tightening: the pull asks for at most
    /// `threshold − cached` messages, so the count never exceeds `pullThresholdForQueue`
    /// (Java overshoots by up to `pullBatchSize − 1`). A full cache therefore also pauses.
    pub fn check(&self, stats: &CacheStats) -> Result<i32, FlowControl> {
        if stats.count >= self.threshold_count {
            return Err(FlowControl::Count);
        }
        if stats.size_bytes / MIB > self.threshold_size_mib {
            return Err(FlowControl::Size);
        }
        if stats.span() > self.max_span {
            return Err(FlowControl::Span);
        }
        let room = (self.threshold_count - stats.count).min(i32::MAX as usize) as i32;
        Ok(self.pull_batch_size.min(room))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::SocketAddr;

    use bytes::Bytes;

    use super::*;

    pub(crate) fn msg(offset: i64, body_len: usize) -> MessageExt {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        MessageExt {
            store_size: 0,
            body_crc: 0,
            queue_id: 0,
            flag: 0,
            queue_offset: offset,
            commit_log_offset: offset * 100,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(vec![b'x'; body_len]),
            topic: "T".into(),
            properties: Default::default(),
            msg_id: String::new(),
        }
    }

    #[test]
    fn commit_offset_is_the_smallest_in_flight() {
        let pq = ProcessQueue::default();
        assert_eq!(pq.put(&[msg(5, 1), msg(6, 2), msg(7, 3)]), 3);
        assert_eq!(pq.put(&[msg(7, 3)]), 0, "duplicates are not counted");
        assert_eq!(pq.stats().size_bytes, 6);
        // 6 finished first: 5 is still in flight, so the committed offset stays at 5.
        assert_eq!(pq.remove(&[6]), Some(5));
        assert_eq!(pq.remove(&[5]), Some(7));
        assert_eq!(pq.remove(&[7]), Some(8), "empty cache → max + 1");
        assert_eq!(pq.remove(&[7]), None);
        assert_eq!(
            pq.stats(),
            CacheStats {
                max_offset: 0,
                ..Default::default()
            }
        );
    }

    #[test]
    fn orderly_take_and_lock_validity() {
        let pq = ProcessQueue::default();
        pq.put(&[msg(7, 1), msg(5, 1), msg(6, 1)]);
        let first: Vec<i64> = pq.first(2).iter().map(|m| m.queue_offset).collect();
        assert_eq!(first, [5, 6]);
        assert_eq!(pq.stats().count, 3, "taking does not remove");
        assert!(!pq.is_lock_valid(1000));
        pq.set_locked(true, 1000);
        assert!(pq.is_lock_valid(1000 + LOCK_MAX_LIVE_MS));
        assert!(!pq.is_lock_valid(1001 + LOCK_MAX_LIVE_MS), "stale lock");
        pq.set_locked(false, 2000);
        assert!(!pq.is_lock_valid(2000));
    }

    #[test]
    fn span_and_clear() {
        let pq = ProcessQueue::default();
        pq.put(&[msg(10, 1), msg(2500, 1)]);
        assert_eq!(pq.stats().span(), 2490);
        pq.clear();
        assert_eq!(pq.stats().count, 0);
        assert_eq!(pq.stats().span(), 0);
        assert!(!pq.is_dropped());
        pq.set_dropped();
        assert!(pq.is_dropped());
    }

    fn limits() -> FlowLimits {
        FlowLimits {
            pull_batch_size: 32,
            threshold_count: 1000,
            threshold_size_mib: 100,
            max_span: 2000,
        }
    }

    fn stats(count: usize, size_bytes: u64, min: i64, max: i64) -> CacheStats {
        CacheStats {
            count,
            size_bytes,
            min_offset: min,
            max_offset: max,
        }
    }

    #[test]
    fn flow_control_decisions() {
        let l = limits();
        assert_eq!(l.check(&stats(0, 0, 0, 0)), Ok(32));
        assert_eq!(
            l.check(&stats(990, 0, 0, 989)),
            Ok(10),
            "never past the threshold"
        );
        assert_eq!(l.check(&stats(1000, 0, 0, 999)), Err(FlowControl::Count));
        assert_eq!(l.check(&stats(1001, 0, 0, 1000)), Err(FlowControl::Count));
        // Size: Java compares whole MiB, so exactly 100 MiB (and a bit more) still pulls.
        assert_eq!(l.check(&stats(1, 100 * MIB + 5, 0, 0)), Ok(32));
        assert_eq!(l.check(&stats(1, 101 * MIB, 0, 0)), Err(FlowControl::Size));
        assert_eq!(l.check(&stats(2, 0, 0, 2000)), Ok(32));
        assert_eq!(l.check(&stats(2, 0, 0, 2001)), Err(FlowControl::Span));
    }
}
