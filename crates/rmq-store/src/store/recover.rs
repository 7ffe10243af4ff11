//! Recovery: the commitlog scan after a clean or an abnormal stop, and the re-dispatch of its
//! tail into the consume queues and the index.

use super::*;

impl Core {
    pub(super) fn recover(&self, abnormal: bool) -> Result<(), StoreError> {
        let cl = &self.commit_log;
        for cq in self.all_cqs() {
            cq.recover()?;
        }
        let segments = cl.queue().files().len();
        let start_idx = if abnormal {
            let mut min_ts = self.checkpoint.min_timestamp();
            if self.index.is_some() && self.config.message_index_safe {
                min_ts = min_ts.min(self.checkpoint.index_msg_timestamp.load(Ordering::Acquire));
            }
            cl.abnormal_start_index(min_ts)
        } else {
            segments.saturating_sub(3)
        };
        let end = cl.recover_end(start_idx, self.config.check_crc_on_recover);
        tracing::info!(abnormal, start_segment = start_idx, end, "commitlog recovered");
        cl.truncate_dirty(end)?;
        if cl.queue().is_empty() {
            for cq in self.all_cqs() {
                cq.destroy()?;
            }
            self.unpoisoned(self.consume_queues.write(), "consume queue table")
                .clear();
        }
        let mut max_cq_phy = 0;
        for cq in self.all_cqs() {
            cq.truncate_dirty(end as i64)?;
            max_cq_phy = max_cq_phy.max(cq.max_phy_offset());
        }
        let min_phy = cl.min_offset().unwrap_or(0);
        // Abnormal: re-dispatch everything from the safe segment (idempotent per queue).
        // Normal: catch up from where the consume queues end (reput).
        let from = if abnormal {
            cl.segment_start(start_idx)
        } else {
            max_cq_phy as u64
        }
        .max(min_phy);
        let mut redispatched = 0u64;
        let reached = cl.for_each_record(from, end, |phy, info| {
            redispatched += 1;
            self.dispatch_recovered(phy, info)
        })?;
        tracing::info!(from, reached, redispatched, "consume queues rebuilt");
        let mut st = self.lock_or_poison(&self.put_lock, "put lock");
        for cq in self.all_cqs() {
            cq.correct_min_offset(min_phy as i64);
            st.next_queue_offset
                .entry(cq.topic().to_string())
                .or_default()
                .insert(cq.queue_id(), cq.max_offset());
        }
        self.dispatched.store(end as i64, Ordering::Release);
        self.flush_progress.send_replace(FlushProgress {
            flushed: cl.queue().flushed_where(),
            failed: false,
        });
        Ok(())
    }

    pub(super) fn dispatch_recovered(&self, phy: u64, info: &RecordView<'_>) -> Result<(), StoreError> {
        let topic = String::from_utf8_lossy(info.topic);
        if let Some(index) = &self.index {
            index.build(
                &topic,
                info.properties,
                phy as i64,
                info.store_timestamp,
                info.sys_flag,
            )?;
        }
        if !sys_flag::enters_consume_queue(info.sys_flag) {
            return Ok(());
        }
        let tags = record::dispatch_tags_code(
            info.topic,
            info.properties,
            info.store_timestamp,
            &self.delay_levels_ms,
        );
        let cq = self.find_or_create_cq(&topic, info.queue_id)?;
        let entry = CqEntry {
            phy_offset: phy as i64,
            size: info.total_size as i32,
            tags_code: tags,
        };
        cq.put(entry, info.queue_offset)?;
        self.logics_timestamp(info.store_timestamp);
        Ok(())
    }

    pub(super) fn logics_timestamp(&self, ts: i64) {
        self.checkpoint.logics_msg_timestamp.store(ts, Ordering::Release);
    }
}
