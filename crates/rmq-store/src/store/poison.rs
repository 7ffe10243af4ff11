//! Fail-stop on panic, as on a failed fsync (model: fjall's `poison.rs`).
//!
//! A panic half-way through a put could leave the topic-queue table, a consume queue and the
//! commitlog disagreeing; acknowledging later puts on top of that would be building on sand. So
//! every writer (the put path, a slave's replicated appends, topic deletion, the flush and
//! cleanup threads) holds a [`PoisonDart`] while it works: if the thread unwinds through it, the
//! store sets `POISONED` and refuses every later write (`ServiceNotAvailable`), sync-flush waiters
//! are released with a failure, and `shutdown` keeps the `abort` file so the next open recovers
//! from the commitlog. A poisoned std lock (a panic while it was held) poisons the store too, when
//! it is next taken. Reads keep working.

use std::sync::{LockResult, Mutex, MutexGuard};

use super::{flags, Core, Ordering};

impl Core {
    /// Marks the store poisoned by a panic in `what` (idempotent; the first cause is logged).
    pub(crate) fn poison(&self, what: &'static str) {
        let before = self.flags.fetch_or(flags::POISONED, Ordering::AcqRel);
        if before & flags::POISONED == 0 {
            tracing::error!(
                during = what,
                "panic inside the message store; it refuses all writes from now on"
            );
        }
        self.flush_progress.send_modify(|p| p.failed = true);
    }

    /// True once a panic poisoned the store.
    pub(crate) fn is_poisoned(&self) -> bool {
        self.flags.load(Ordering::Acquire) & flags::POISONED != 0
    }

    /// Arms a dart for a unit of write work; see the module docs.
    pub(crate) fn dart(&self, what: &'static str) -> PoisonDart<'_> {
        PoisonDart { core: self, what }
    }

    /// Takes `mutex`; if a panic poisoned it, the store is poisoned too and the guard returned
    /// (callers check the store's flags before they write).
    pub(crate) fn lock_or_poison<'a, T>(&self, mutex: &'a Mutex<T>, what: &'static str) -> MutexGuard<'a, T> {
        self.unpoisoned(mutex.lock(), what)
    }

    /// The guard of a lock result, poisoning the store if the lock was poisoned.
    pub(crate) fn unpoisoned<G>(&self, r: LockResult<G>, what: &'static str) -> G {
        r.unwrap_or_else(|p| {
            self.poison(what);
            p.into_inner()
        })
    }
}

/// Poisons the store if dropped while its thread panics.
#[must_use = "a dart only guards while it is alive"]
pub(crate) struct PoisonDart<'a> {
    core: &'a Core,
    what: &'static str,
}

impl Drop for PoisonDart<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.core.poison(self.what);
        }
    }
}

/// Injected panics for the tests (each fires once).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct FailPoints {
    /// In a put, after the commitlog append and the topic-queue table update, before the
    /// consume-queue dispatch: the half-way point.
    pub put_before_dispatch: std::sync::atomic::AtomicBool,
    /// At the start of a commitlog flush (on the `rmq-cl-flush` thread).
    pub commit_log_flush: std::sync::atomic::AtomicBool,
}

#[cfg(test)]
impl FailPoints {
    pub fn hit(&self, point: &std::sync::atomic::AtomicBool, what: &str) {
        if point.swap(false, Ordering::AcqRel) {
            panic!("injected panic: {what}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::Duration;

    use crate::{FlushDiskType, GetStatus, MessageStore, PutMessage, PutStatus, StoreConfig, StoreError};

    fn msg(key: &str) -> PutMessage {
        crate::store::put::tests::put(&format!("UNIQ_KEY\u{1}{key}"))
    }

    fn config(dir: &std::path::Path, flush: FlushDiskType) -> StoreConfig {
        StoreConfig {
            store_path_root_dir: dir.to_path_buf(),
            flush_disk_type: flush,
            // Only a put's wake flushes; a sync put waits for its flush or a failure, never the
            // timeout.
            flush_interval_commit_log_ms: 600_000,
            sync_flush_timeout_ms: 600_000,
            mapped_file_size_commit_log: 64 * 1024,
            ..StoreConfig::default()
        }
    }

    #[tokio::test]
    async fn a_panic_half_way_through_a_put_makes_the_store_refuse_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(config(dir.path(), FlushDiskType::AsyncFlush)).unwrap();
        assert_eq!(store.put_message(msg("a")).await.status, PutStatus::PutOk);

        // The record is in the commitlog and the topic-queue table moved on, but no consume
        // queue entry was written when the put panics.
        let core = store.core();
        core.fail_points
            .put_before_dispatch
            .store(true, std::sync::atomic::Ordering::Release);
        let panicked = catch_unwind(AssertUnwindSafe(|| drop(store.append_messages(vec![msg("b")]))));
        assert!(panicked.is_err());
        assert!(store.is_poisoned());
        assert!(!store.is_writeable());

        // Refused from now on, with the put lock no longer poisoned-but-usable.
        let refused = store.put_message(msg("c")).await;
        assert_eq!(refused.status, PutStatus::ServiceNotAvailable);
        assert_eq!(refused.msg_ids, Vec::<String>::new());
        // Reads keep working.
        let got = store.get_message("T", 0, 0, 32, 1 << 20, &|_| true);
        assert_eq!(got.status, GetStatus::Found);
        assert_eq!(got.messages.len(), 1);
        // Shutdown says why and keeps `abort`: the next open recovers from the commitlog.
        assert!(matches!(store.shutdown(), Err(StoreError::Poisoned)));
        assert!(dir.path().join("abort").exists());
        drop(store);

        let store = MessageStore::open(config(dir.path(), FlushDiskType::AsyncFlush)).unwrap();
        assert!(store.is_writeable());
        // The half-done record was in the commitlog: recovery dispatched it (never acknowledged,
        // so delivering it is at-least-once, not a loss); queue offsets continue after it.
        assert_eq!(store.max_offset_in_queue("T", 0), 2);
        let r = store.put_message(msg("d")).await;
        assert_eq!((r.status, r.queue_offset), (PutStatus::PutOk, 2));
        store.shutdown().unwrap();
    }

    #[tokio::test]
    async fn a_panicking_flush_thread_poisons_the_store_and_releases_sync_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(config(dir.path(), FlushDiskType::SyncFlush)).unwrap();
        assert_eq!(store.put_message(msg("a")).await.status, PutStatus::PutOk);
        store
            .core()
            .fail_points
            .commit_log_flush
            .store(true, std::sync::atomic::Ordering::Release);
        // Its flush panics on the flush thread: the waiter is released by the poison (the sync
        // timeout is ten minutes), and the message is not reported as flushed.
        let waited = tokio::time::timeout(Duration::from_secs(60), store.put_message(msg("b")))
            .await
            .expect("the waiter is released by the poison, not the timeout");
        assert_eq!(waited.status, PutStatus::FlushDiskTimeout);
        assert!(store.is_poisoned());
        assert_eq!(
            store.put_message(msg("c")).await.status,
            PutStatus::ServiceNotAvailable
        );
        assert!(matches!(store.shutdown(), Err(StoreError::Poisoned)));
    }
}
