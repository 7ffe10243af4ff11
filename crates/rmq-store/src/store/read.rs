//! The read path: consume-queue entries to commitlog records, with the tag filter and the
//! in-memory / on-disk transfer limits.

use super::*;

impl Core {
    pub(super) fn get_message(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        max_total_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetResult {
        let mut r = GetResult {
            status: GetStatus::NoMessageInQueue,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            total_bytes: 0,
            suggest_pulling_from_slave: false,
        };
        // Java creates the queue on demand here, so an unknown queue reads as empty.
        let Some(cq) = self.find_cq(topic, queue_id) else {
            return r;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        if max == 0 {
            return r;
        }
        if offset < min {
            r.status = GetStatus::OffsetTooSmall;
            r.next_begin_offset = min;
            return r;
        }
        if offset == max {
            r.status = GetStatus::OffsetOverflowOne;
            r.next_begin_offset = offset;
            return r;
        }
        if offset > max {
            r.status = GetStatus::OffsetOverflowBadly;
            // 4.9.7 DefaultMessageStore.getMessage: nextOffsetCorrection(offset, maxOffset), whatever the
            // min offset (the "back to 0 while min == 0" branch is pre-4.9; the Java conformance suite's
            // PullConsumerTest sees next 10 for offsets 11 and 100 of a 10-message queue on the oracle).
            r.next_begin_offset = max;
            return r;
        }
        let max_scan = (max_msg_nums.max(0) as usize).max(16000 / crate::consume_queue::CQ_STORE_UNIT_SIZE);
        let Some(entries) = cq.entries_from(offset, max_scan) else {
            r.status = GetStatus::OffsetFoundNull;
            r.next_begin_offset = cq.roll_next_file(offset);
            return r;
        };
        r.status = GetStatus::NoMatchedMessage;
        let max_phy = self.commit_log.max_offset() as i64;
        let mut next_phy_file_start: Option<i64> = None;
        let mut scanned = 0i64;
        for e in entries {
            if next_phy_file_start.is_some_and(|s| e.phy_offset < s) {
                scanned += 1;
                continue;
            }
            let in_disk = max_phy - e.phy_offset > self.in_memory_window_bytes;
            if self.is_batch_full(&r, e.size, max_msg_nums, max_total_bytes, in_disk) {
                break;
            }
            scanned += 1;
            if !filter(e.tags_code) {
                if r.total_bytes == 0 {
                    r.status = GetStatus::NoMatchedMessage;
                }
                continue;
            }
            match self.commit_log.read(e.phy_offset, e.size) {
                Some(rec) => {
                    r.total_bytes += rec.len();
                    r.messages.push(rec);
                    r.status = GetStatus::Found;
                    r.suggest_pulling_from_slave = in_disk;
                    next_phy_file_start = None;
                }
                None => {
                    if r.total_bytes == 0 {
                        r.status = GetStatus::MessageWasRemoving;
                    }
                    next_phy_file_start =
                        Some(self.commit_log.roll_next_file(e.phy_offset.max(0) as u64) as i64);
                }
            }
        }
        r.next_begin_offset = offset + scanned;
        r
    }

    pub(super) fn is_batch_full(
        &self,
        r: &GetResult,
        size: i32,
        max_msg_nums: i32,
        max_total_bytes: usize,
        in_disk: bool,
    ) -> bool {
        let count = r.messages.len();
        if r.total_bytes == 0 || count == 0 {
            return false;
        }
        let next_total = r.total_bytes + size.max(0) as usize;
        if count >= max_msg_nums.max(0) as usize || next_total > max_total_bytes {
            return true;
        }
        let c = &self.config;
        if in_disk {
            next_total > c.max_transfer_bytes_on_message_in_disk
                || count >= c.max_transfer_count_on_message_in_disk
        } else {
            next_total > c.max_transfer_bytes_on_message_in_memory
                || count >= c.max_transfer_count_on_message_in_memory
        }
    }
}
