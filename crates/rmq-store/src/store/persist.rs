//! What the flush threads (`crate::flush`) call: commitlog, consume-queue and index flushes and
//! the checkpoint. A failed flush is fatal to the store.

use super::*;

impl Core {
    /// Flush the commitlog. A failure is fatal: the store refuses all further writes.
    pub(crate) fn flush_commit_log(&self, least_pages: usize) -> Result<(), StoreError> {
        #[cfg(test)]
        self.fail_points
            .hit(&self.fail_points.commit_log_flush, "commitlog flush");
        if self.flags.load(Ordering::Acquire) & flags::FLUSH_FAILED != 0 {
            return Err(StoreError::FlushFailed);
        }
        let ts = self.last_store_ts.load(Ordering::Acquire);
        match self.commit_log.flush(least_pages) {
            Ok(flushed) => {
                self.flush_progress
                    .send_modify(|p| p.flushed = p.flushed.max(flushed));
                if least_pages == 0 {
                    self.checkpoint.physic_msg_timestamp.store(ts, Ordering::Release);
                }
                Ok(())
            }
            Err(source) => {
                tracing::error!(error = %source, "commitlog fsync failed; store is now unwriteable");
                self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
                self.flush_progress.send_modify(|p| p.failed = true);
                Err(StoreError::Io {
                    path: self.config.commit_log_dir(),
                    source,
                })
            }
        }
    }

    /// Unmap the commitlog's flushed pages from the process (`MappedFile::release_read_pages`),
    /// so RSS does not keep what pulls of old messages faulted in. On the CQ flush thread, once
    /// per `flushIntervalConsumeQueue`.
    pub(crate) fn release_commit_log_pages(&self) {
        for f in self.commit_log.queue().files() {
            f.release_read_pages();
        }
    }

    pub(crate) fn flush_consume_queues(&self, least_pages: usize) -> Result<(), StoreError> {
        for cq in self.all_cqs() {
            if let Err(source) = cq.flush(least_pages) {
                tracing::error!(error = %source, topic = %cq.topic(), queue_id = cq.queue_id(),
                    "consume queue fsync failed; store is now unwriteable");
                self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
                return Err(StoreError::Io {
                    path: self.config.consume_queue_dir(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// Flush index files that became full (with `all`, the current one too) and advance the
    /// checkpoint's `indexMsgTimestamp`; persists the checkpoint (with `logics` captured before
    /// the CQ flush) when it moved.
    pub(crate) fn flush_index(&self, all: bool, logics: i64) -> Result<(), StoreError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        match index.flush(all) {
            Ok(None) => Ok(()),
            Ok(Some(ts)) => {
                self.checkpoint
                    .index_msg_timestamp
                    .fetch_max(ts, Ordering::AcqRel);
                self.persist_checkpoint(logics)
            }
            Err(source) => {
                tracing::error!(error = %source, "index fsync failed; store is now unwriteable");
                self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
                Err(StoreError::Io {
                    path: self.config.index_dir(),
                    source,
                })
            }
        }
    }

    pub(crate) fn persist_checkpoint(&self, logics: i64) -> Result<(), StoreError> {
        self.checkpoint.persist(logics).inspect_err(|e| {
            tracing::error!(error = %e, "checkpoint fsync failed; store is now unwriteable");
            self.flags.fetch_or(flags::FLUSH_FAILED, Ordering::AcqRel);
        })
    }
}
