//! Orderly (FIFO) pop (`order=true`; 5.x `ConsumerOrderInfoManager`): a queue popped in order
//! is held for the group until every message of the batch is acknowledged or the batch's
//! invisible time passes; then the same offsets are popped again, each with its consumed count
//! (the client's reconsume times). No checkpoint, no revive: the consumer offset stays at the
//! batch's first unacknowledged message.

use std::collections::HashMap;

/// One held batch of a queue.
#[derive(Debug, Clone)]
struct Batch {
    pop_time: i64,
    attempt_id: Option<String>,
    /// Ascending queue offsets popped.
    offsets: Vec<i64>,
    acked: Vec<bool>,
    /// Per offset: when it may be popped again.
    visible_at: Vec<i64>,
    /// Per offset: how many times it was popped before this batch.
    consumed: Vec<i32>,
}

impl Batch {
    fn held(&self, now_ms: i64) -> Option<i64> {
        self.offsets
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.acked.get(*i).copied().unwrap_or(true))
            .filter_map(|(i, _)| self.visible_at.get(i).copied())
            .filter(|&t| now_ms < t)
            .max()
    }

    /// The first unacknowledged offset, or the one after the batch.
    fn next_offset(&self) -> i64 {
        self.offsets
            .iter()
            .zip(&self.acked)
            .find(|(_, a)| !**a)
            .map(|(o, _)| *o)
            .or_else(|| self.offsets.last().map(|o| o + 1))
            .unwrap_or(0)
    }
}

/// What an orderly ack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAck {
    /// Commit this offset; `released` when the queue is free again.
    Commit { next_offset: i64, released: bool },
    /// The ack is from an older pop of the queue (`popTime` differs): ignored.
    Stale,
    /// No batch holds that offset.
    Unknown,
}

/// `topic@group@queueId` → the held batch.
#[derive(Default)]
pub struct OrderTable {
    batches: HashMap<String, Batch>,
}

pub fn key(topic: &str, group: &str, queue_id: i32) -> String {
    format!("{topic}@{group}@{queue_id}")
}

impl OrderTable {
    /// `Some(until)` while the queue is held for another attempt: a pop must skip it until then.
    pub fn held_until(&self, key: &str, attempt_id: Option<&str>, now_ms: i64) -> Option<i64> {
        let b = self.batches.get(key)?;
        if attempt_id.is_some() && b.attempt_id.as_deref() == attempt_id {
            return None;
        }
        b.held(now_ms)
    }

    /// Records a pop of `offsets` (ascending); returns each one's consumed count (times popped
    /// before).
    pub fn popped(
        &mut self,
        key: &str,
        offsets: &[i64],
        pop_time: i64,
        invisible_time: i64,
        attempt_id: Option<&str>,
    ) -> Vec<i32> {
        let previous = self.batches.remove(key);
        let consumed: Vec<i32> = offsets
            .iter()
            .map(|o| {
                previous
                    .as_ref()
                    .and_then(|b| {
                        let i = b.offsets.iter().position(|x| x == o)?;
                        Some(b.consumed.get(i).copied().unwrap_or(0) + 1)
                    })
                    .unwrap_or(0)
            })
            .collect();
        if !offsets.is_empty() {
            self.batches.insert(
                key.to_string(),
                Batch {
                    pop_time,
                    attempt_id: attempt_id.map(str::to_string),
                    offsets: offsets.to_vec(),
                    acked: vec![false; offsets.len()],
                    visible_at: vec![pop_time.saturating_add(invisible_time); offsets.len()],
                    consumed: consumed.clone(),
                },
            );
        }
        consumed
    }

    /// Acknowledges `offset` of the batch popped at `pop_time`.
    pub fn ack(&mut self, key: &str, offset: i64, pop_time: i64) -> OrderAck {
        let Some(b) = self.batches.get_mut(key) else {
            return OrderAck::Unknown;
        };
        let Some(i) = b.offsets.iter().position(|o| *o == offset) else {
            return OrderAck::Unknown;
        };
        if b.pop_time != pop_time {
            return OrderAck::Stale;
        }
        if let Some(a) = b.acked.get_mut(i) {
            *a = true;
        }
        let next_offset = b.next_offset();
        let released = b.acked.iter().all(|a| *a);
        if released {
            self.batches.remove(key);
        }
        OrderAck::Commit {
            next_offset,
            released,
        }
    }

    /// Changes when `offset` may be popped again (CHANGE_MESSAGE_INVISIBLETIME of an orderly
    /// message). Returns the batch's pop time, or `None` when no batch holds it.
    pub fn change_invisible(&mut self, key: &str, offset: i64, visible_at: i64) -> Option<i64> {
        let b = self.batches.get_mut(key)?;
        let i = b.offsets.iter().position(|o| *o == offset)?;
        if let Some(v) = b.visible_at.get_mut(i) {
            *v = visible_at;
        }
        Some(b.pop_time)
    }

    /// Forgets the queue's batch (an offset reset).
    pub fn clear(&mut self, key: &str) {
        self.batches.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_holds_its_queue_until_acked_or_invisible_time() {
        let mut t = OrderTable::default();
        let k = key("T", "G", 0);
        assert_eq!(t.held_until(&k, None, 0), None);
        assert_eq!(t.popped(&k, &[0, 1, 2], 100, 1000, None), vec![0, 0, 0]);
        assert_eq!(t.held_until(&k, None, 500), Some(1100));
        assert_eq!(t.held_until(&k, None, 1100), None, "invisible time over");
        assert_eq!(t.ack(&k, 1, 99), OrderAck::Stale);
        assert_eq!(t.ack(&k, 7, 100), OrderAck::Unknown);
        assert_eq!(
            t.ack(&k, 0, 100),
            OrderAck::Commit {
                next_offset: 1,
                released: false
            }
        );
        // Popped again after the invisible time: the unacked ones count once more.
        assert_eq!(t.popped(&k, &[1, 2], 1200, 1000, None), vec![1, 1]);
        assert_eq!(
            t.ack(&k, 2, 1200),
            OrderAck::Commit {
                next_offset: 1,
                released: false
            }
        );
        assert_eq!(
            t.ack(&k, 1, 1200),
            OrderAck::Commit {
                next_offset: 3,
                released: true
            }
        );
        assert_eq!(t.held_until(&k, None, 1300), None);
    }

    #[test]
    fn the_same_attempt_is_not_held_and_invisible_time_can_change() {
        let mut t = OrderTable::default();
        let k = key("T", "G", 0);
        t.popped(&k, &[5], 0, 10_000, Some("a1"));
        assert_eq!(t.held_until(&k, Some("a1"), 1), None);
        assert_eq!(t.held_until(&k, Some("a2"), 1), Some(10_000));
        assert_eq!(t.change_invisible(&k, 5, 50), Some(0));
        assert_eq!(t.held_until(&k, Some("a2"), 50), None);
    }
}
