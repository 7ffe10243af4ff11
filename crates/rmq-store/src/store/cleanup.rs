//! File cleanup and disk-space protection (docs/store/cleanup.md): `CleanCommitLogService`,
//! `CleanConsumeQueueService` and the DISK_FULL check, run by one std thread (`rmq-clean`).
//!
//! * Every `disk_check_interval_ms` (first after 1 s): the commitlog partition's used ratio
//!   above `disk_space_warning_level_ratio` sets DISK_FULL (puts refused with
//!   `ServiceNotAvailable`), below it clears it.
//! * Every `clean_resource_interval_ms` (first after `clean_first_delay_ms`): when it is one of
//!   the `delete_when` hours (UTC), or the disk is above `disk_max_used_space_ratio`, or an
//!   admin asked (DELETE_EXPIRED_COMMITLOG: the next 20 runs), delete commitlog segments from
//!   the oldest: expired by mtime (`file_reserved_time_hours`), or any age when the disk is above
//!   `disk_space_clean_forcibly_ratio` and `clean_file_forcibly_enable`. Never the current
//!   segment, at most 10 per run, stop at the first one that stays. Then, whenever the
//!   commitlog's min offset moved: consume-queue segments whose last entry points below it
//!   (never a queue's last segment; the queue's min offset moves first) and index files whose
//!   end offset is below it.
//!
//! Deleting is unlinking: a reader that still holds a segment (`Arc<MappedFile>`, or `Bytes`
//! sliced from its mapping) keeps reading it; the space returns when the last one is dropped.
//! After a deletion, pulls below a queue's new min offset get OFFSET_TOO_SMALL.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{flags, Core};
use crate::consume_queue::ConsumeQueue;

/// Java's `DELETE_FILES_BATCH_MAX`.
const DELETE_FILES_BATCH_MAX: usize = 10;
/// `MAX_MANUAL_DELETE_FILE_TIMES`.
const MAX_MANUAL_DELETE_RUNS: u32 = 20;
/// First DISK_FULL check after start.
const FIRST_DISK_CHECK: Duration = Duration::from_secs(1);

/// What one cleanup run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanupReport {
    pub commit_log_files: usize,
    pub consume_queue_files: usize,
    pub index_files: usize,
}

/// State of the cleanup service, part of the store's `Core`.
#[derive(Debug, Default)]
pub(crate) struct CleanupState {
    stop: Mutex<bool>,
    cv: Condvar,
    /// Serializes runs (the thread and `run_cleanup_once`).
    run: Mutex<()>,
    /// `lastPhysicalMinOffset` of `CleanConsumeQueueService`.
    last_min_phy: AtomicI64,
    /// Runs left that delete as if it were time (`manualDeleteFileSeveralTimes`).
    manual_runs: AtomicU32,
}

impl CleanupState {
    pub(crate) fn stop(&self) {
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Wait up to `d`; true when asked to stop.
    fn wait(&self, d: Duration) -> bool {
        let guard = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        let (stopped, _) = self
            .cv
            .wait_timeout_while(guard, d, |stop| !*stop)
            .unwrap_or_else(|p| p.into_inner());
        *stopped
    }
}

/// Body of the `rmq-clean` thread.
pub(crate) fn cleaner(core: Arc<Core>) {
    let cfg = &core.config;
    let check_every = Duration::from_millis(cfg.disk_check_interval_ms.max(1));
    let clean_every = Duration::from_millis(cfg.clean_resource_interval_ms.max(1));
    let start = Instant::now();
    let mut next_check = start + FIRST_DISK_CHECK.min(check_every);
    let mut next_clean = start + Duration::from_millis(cfg.clean_first_delay_ms);
    loop {
        let wake = next_check.min(next_clean);
        if core.cleanup.wait(wake.saturating_duration_since(Instant::now())) {
            return;
        }
        let now = Instant::now();
        if now >= next_check {
            core.check_disk_space();
            next_check = now + check_every;
        }
        if now >= next_clean {
            core.run_cleanup();
            next_clean = Instant::now() + clean_every;
        }
    }
}

/// `UtilAll.isItTimeToDo`: the current hour (UTC here) is one of the `;`-separated hours.
fn is_it_time_to_do(when: &str, now_ms: i64) -> bool {
    let hour = now_ms.rem_euclid(86_400_000) / 3_600_000;
    when.split(';')
        .filter_map(|h| h.trim().parse::<i64>().ok())
        .any(|h| h == hour)
}

impl Core {
    fn set_disk_full(&self, full: bool, ratio: f64) {
        if full {
            let before = self.flags.fetch_or(flags::DISK_FULL, Ordering::AcqRel);
            if before & flags::DISK_FULL == 0 {
                tracing::error!(ratio, "disk maybe full soon, so mark disk full; puts are refused");
            }
        } else {
            let before = self.flags.fetch_and(!flags::DISK_FULL, Ordering::AcqRel);
            if before & flags::DISK_FULL != 0 {
                tracing::info!(ratio, "disk space OK, so mark disk ok; puts are accepted again");
            }
        }
    }

    /// Highest used ratio of the partitions holding the commitlog and the consume queues
    /// (`None` if neither could be examined).
    fn disk_ratio(&self) -> Option<f64> {
        let cl = crate::disk::used_ratio(&self.config.commit_log_dir());
        let cq = crate::disk::used_ratio(&self.config.consume_queue_dir());
        match (cl, cq) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// `isSpaceFull`: set or clear DISK_FULL from the used ratio. Returns the ratio.
    pub(crate) fn check_disk_space(&self) -> Option<f64> {
        let ratio = self.disk_ratio();
        if let Some(r) = ratio {
            self.set_disk_full(r > self.config.disk_space_warning_level_ratio, r);
        }
        ratio
    }

    /// `isSpaceToDelete`: (delete now because of space, ignore file age).
    fn space_to_delete(&self) -> (bool, bool) {
        let cfg = &self.config;
        let max_used = cfg.disk_max_used_space_ratio.clamp(10, 95) as f64 / 100.0;
        let Some(r) = self.disk_ratio() else {
            return (true, false);
        };
        let mut clean_now = false;
        if r > cfg.disk_space_warning_level_ratio {
            self.set_disk_full(true, r);
            clean_now = true;
        } else if r > cfg.disk_space_clean_forcibly_ratio {
            clean_now = true;
        } else {
            self.set_disk_full(false, r);
        }
        if r > max_used {
            tracing::info!(ratio = r, "disk maybe full soon, so reclaim space");
        }
        (r > max_used, clean_now)
    }

    /// Let the next 20 runs delete expired segments whatever the hour (DELETE_EXPIRED_COMMITLOG).
    pub(crate) fn delete_expired_manually(&self) {
        self.cleanup
            .manual_runs
            .store(MAX_MANUAL_DELETE_RUNS, Ordering::Release);
        tracing::info!("executeDeleteFilesManually was invoked");
    }

    /// One run of both cleanup services.
    pub(crate) fn run_cleanup(&self) -> CleanupReport {
        let _run = self.cleanup.run.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = CleanupReport::default();
        let now = self.config.clock.now_ms();
        let time_up = is_it_time_to_do(&self.config.delete_when, now);
        let (space_full, clean_now) = self.space_to_delete();
        let manual = self
            .cleanup
            .manual_runs
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if time_up || space_full || manual {
            let at_once = self.config.clean_file_forcibly_enable && clean_now;
            tracing::info!(
                hours = self.config.file_reserved_time_hours,
                time_up,
                space_full,
                manual,
                at_once,
                "begin to delete expired commitlog files"
            );
            report.commit_log_files = self.delete_expired_commit_log(now, at_once);
            if report.commit_log_files == 0 && space_full {
                tracing::warn!("disk space will be full soon, but delete file failed.");
            }
        }
        let (cq, index) = self.delete_expired_queues();
        report.consume_queue_files = cq;
        report.index_files = index;
        report
    }

    /// `deleteExpiredFileByTime` on the commitlog.
    fn delete_expired_commit_log(&self, now: i64, at_once: bool) -> usize {
        let reserved_ms = (self.config.file_reserved_time_hours as i64).saturating_mul(3_600_000);
        let pause = Duration::from_millis(self.config.delete_commit_log_files_interval_ms);
        let queue = self.commit_log.queue();
        let files = queue.files();
        let mut deleted = 0;
        for f in files.iter().take(files.len().saturating_sub(1)) {
            if deleted >= DELETE_FILES_BATCH_MAX {
                break;
            }
            let expired = now >= f.modified_ms().saturating_add(reserved_ms);
            if !(expired || at_once) {
                break;
            }
            match queue.remove_first(f) {
                Ok(true) => {
                    tracing::info!(path = %f.path().display(), expired, "deleted commitlog file");
                    deleted += 1;
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "deleting commitlog file failed");
                    break;
                }
            }
        }
        deleted
    }

    /// `CleanConsumeQueueService`: consume-queue segments and index files wholly below the
    /// commitlog's min offset, when that moved since the last run.
    fn delete_expired_queues(&self) -> (usize, usize) {
        let Some(min_phy) = self.commit_log.min_offset().map(|o| o as i64) else {
            return (0, 0);
        };
        if min_phy <= self.cleanup.last_min_phy.load(Ordering::Acquire) {
            return (0, 0);
        }
        self.cleanup.last_min_phy.store(min_phy, Ordering::Release);
        let mut cq_files = 0;
        for cq in self.all_cqs() {
            match cq.delete_expired(min_phy) {
                Ok(n) => cq_files += n,
                Err(e) => tracing::warn!(error = %e, topic = %cq.topic(), queue_id = cq.queue_id(),
                    "deleting consume queue files failed"),
            }
        }
        let index_files = match &self.index {
            Some(index) => index.delete_expired(min_phy).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "deleting index files failed");
                0
            }),
            None => 0,
        };
        (cq_files, index_files)
    }

    /// Before a put writes its commitlog record: make sure the consume-queue segment for its
    /// entry exists, so that a full disk refuses the put instead of leaving a record without its
    /// entry (which would make the store unwriteable).
    pub(crate) fn reserve_dispatch_space(
        &self,
        cq: Option<&Arc<ConsumeQueue>>,
        topic: &str,
        queue_id: i32,
        queue_offset: i64,
        entries: usize,
    ) -> bool {
        let reserved = match cq {
            Some(cq) => cq.reserve(queue_offset, entries),
            None => self
                .find_or_create_cq(topic, queue_id)
                .and_then(|cq| cq.reserve(queue_offset, entries)),
        };
        match reserved {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, topic, queue_id, "cannot create or reserve consume queue space; put refused");
                self.after_write_error(&e);
                false
            }
        }
    }

    /// A write or file creation failed: if it was for lack of space, re-check the disk now
    /// (DISK_FULL may apply) instead of waiting for the next periodic check.
    pub(crate) fn after_write_error(&self, e: &crate::StoreError) {
        if let crate::StoreError::Io { source, .. } = e {
            if crate::disk::is_out_of_space(source) {
                let ratio = self.check_disk_space();
                tracing::warn!(?ratio, "no space left on device");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_when_hours() {
        let h = |hour: i64| hour * 3_600_000 + 5;
        assert!(is_it_time_to_do("04", h(4)));
        assert!(!is_it_time_to_do("04", h(5)));
        assert!(is_it_time_to_do("04;16", h(16)));
        assert!(is_it_time_to_do(" 1; x;23", h(23)));
        assert!(!is_it_time_to_do("", h(0)));
    }
}
