//! Popped messages not yet acknowledged: one checkpoint per pop and queue (the `PopCheckPoint`
//! also written to the revive log), the wheel of their revive times, and per revive queue the
//! oldest checkpoint still open (the revive log's committed offset).
//!
//! Pure bookkeeping under the pop service's lock; no I/O.

use std::collections::{BTreeMap, HashMap};

use rmq_protocol::body::pop::PopCheckPoint;

use crate::timer::wheel::{Timer, Wheel};

/// The wheel's tick: revive times are kept to 10 ms.
const TICK_MS: u64 = 10;

/// What identifies a checkpoint to an ack: `topic@group@queue@startOffset@popTime` (Java's
/// merge key without the broker name, which the revive log's acks may omit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CkKey {
    pub topic: String,
    pub group: String,
    pub queue_id: i32,
    pub start_offset: i64,
    pub pop_time: i64,
}

impl CkKey {
    pub fn of(ck: &PopCheckPoint) -> CkKey {
        CkKey {
            topic: ck.topic.clone(),
            group: ck.cid.clone(),
            queue_id: ck.queue_id,
            start_offset: ck.start_offset,
            pop_time: ck.pop_time,
        }
    }
}

/// An open checkpoint.
#[derive(Debug, Clone)]
pub struct Open {
    pub ck: PopCheckPoint,
    /// The revive queue its record is in.
    pub revive_qid: i32,
}

impl Open {
    /// Queue offsets of the messages not acknowledged yet.
    pub fn unacked(&self) -> Vec<i64> {
        (0..self.ck.len())
            .filter(|i| self.ck.bit_map & (1 << i) == 0)
            .filter_map(|i| self.ck.offset_at(i))
            .collect()
    }
}

/// What an ack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    /// A bit was set; `closed` when it was the checkpoint's last.
    Set { closed: bool },
    /// Already acknowledged, or no open checkpoint holds that offset (revived, or unknown).
    Nothing,
}

pub struct Inflight {
    open: HashMap<u64, Open>,
    by_key: HashMap<CkKey, Vec<u64>>,
    wheel: Wheel,
    /// Per revive queue: record offset → checkpoint id of each checkpoint not yet closed
    /// (including those being revived).
    unresolved: Vec<BTreeMap<i64, u64>>,
    next_id: u64,
    /// Messages in open checkpoints, not acknowledged.
    unacked: usize,
}

impl Inflight {
    pub fn new(revive_queues: usize, now_ms: i64) -> Inflight {
        Inflight {
            open: HashMap::new(),
            by_key: HashMap::new(),
            wheel: Wheel::new(TICK_MS, now_ms),
            unresolved: vec![BTreeMap::new(); revive_queues.max(1)],
            next_id: 1,
            unacked: 0,
        }
    }

    /// Open checkpoints.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Messages popped and neither acknowledged nor revived.
    pub fn unacked_messages(&self) -> usize {
        self.unacked
    }

    /// Adds a checkpoint whose record is at `ck.revive_offset` of revive queue `revive_qid`.
    /// Returns whether it became the earliest revive time (the revive task should look again).
    pub fn insert(&mut self, ck: PopCheckPoint, revive_qid: i32) -> bool {
        let id = self.next_id;
        self.next_id += 1;
        let open = Open { ck, revive_qid };
        let unacked = open.unacked().len();
        if unacked == 0 {
            return false;
        }
        self.unacked += unacked;
        if let Some(q) = self.unresolved.get_mut(revive_qid.max(0) as usize) {
            q.insert(open.ck.revive_offset, id);
        }
        self.by_key.entry(CkKey::of(&open.ck)).or_default().push(id);
        // Rounded up to the wheel's tick: a tick fires as a whole, never before its time.
        let tick = TICK_MS as i64;
        let timer = Timer {
            deliver_ms: open.ck.visible_at().saturating_add(tick - 1) / tick * tick,
            cq_offset: id as i64,
        };
        let earlier = self.wheel.next_due_ms().is_none_or(|t| timer.deliver_ms < t);
        if let Some(due) = self.wheel.insert(timer) {
            // Already due: back in at the cursor, fired by the next advance.
            let at = self.wheel.cursor_ms();
            let _ = self.wheel.insert(Timer {
                deliver_ms: at,
                cq_offset: due.cq_offset,
            });
        }
        self.open.insert(id, open);
        earlier
    }

    /// Acknowledges the message at `offset` of the checkpoint `key`.
    pub fn ack(&mut self, key: &CkKey, offset: i64) -> Acked {
        let Some(ids) = self.by_key.get(key) else {
            return Acked::Nothing;
        };
        for &id in ids {
            let Some(open) = self.open.get_mut(&id) else {
                continue;
            };
            let Some(i) = open.ck.index_of(offset) else {
                continue;
            };
            if i >= 32 || open.ck.bit_map & (1 << i) != 0 {
                continue;
            }
            open.ck.bit_map |= 1 << i;
            self.unacked = self.unacked.saturating_sub(1);
            let closed = open.unacked().is_empty();
            if closed {
                self.close(id);
            }
            return Acked::Set { closed };
        }
        Acked::Nothing
    }

    /// Forgets a checkpoint (all acknowledged, or revived).
    fn close(&mut self, id: u64) {
        let Some(open) = self.open.remove(&id) else {
            return;
        };
        self.unacked = self.unacked.saturating_sub(open.unacked().len());
        let key = CkKey::of(&open.ck);
        if let Some(ids) = self.by_key.get_mut(&key) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.by_key.remove(&key);
            }
        }
        if let Some(q) = self.unresolved.get_mut(open.revive_qid.max(0) as usize) {
            q.remove(&open.ck.revive_offset);
        }
    }

    /// Takes the checkpoints whose invisible time has passed by `now_ms`, with their unacked
    /// offsets. They stay unresolved (holding the revive offset back) until [`Self::revived`].
    pub fn take_due(&mut self, now_ms: i64) -> Vec<Open> {
        let mut fired = Vec::new();
        self.wheel.advance(now_ms, &mut fired);
        let mut out = Vec::new();
        for t in fired {
            let id = t.cq_offset as u64;
            let Some(open) = self.open.remove(&id) else {
                continue;
            };
            self.unacked = self.unacked.saturating_sub(open.unacked().len());
            let key = CkKey::of(&open.ck);
            if let Some(ids) = self.by_key.get_mut(&key) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    self.by_key.remove(&key);
                }
            }
            out.push(open);
        }
        out
    }

    /// A checkpoint handed out by [`Self::take_due`] is done: its messages are in the retry topic.
    pub fn revived(&mut self, revive_qid: i32, revive_offset: i64) {
        if let Some(q) = self.unresolved.get_mut(revive_qid.max(0) as usize) {
            q.remove(&revive_offset);
        }
    }

    /// A checkpoint handed out by [`Self::take_due`] could not be revived: back in the wheel,
    /// due again at `retry_at_ms`.
    pub fn put_back(&mut self, open: Open, retry_at_ms: i64) {
        let mut open = open;
        // Keep its offsets: re-inserted under a new id, the unresolved slot updated.
        if let Some(q) = self.unresolved.get_mut(open.revive_qid.max(0) as usize) {
            q.remove(&open.ck.revive_offset);
        }
        open.ck.invisible_time = retry_at_ms - open.ck.pop_time;
        self.insert(open.ck, open.revive_qid);
    }

    /// The oldest unresolved checkpoint record of a revive queue (the offset to replay from
    /// after a restart), or `None` when every checkpoint there is resolved.
    pub fn oldest_unresolved(&self, revive_qid: i32) -> Option<i64> {
        self.unresolved
            .get(revive_qid.max(0) as usize)
            .and_then(|q| q.keys().next().copied())
    }

    /// When the next checkpoint falls due.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.wheel.next_due_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ck(so: i64, d: &[i32], pt: i64, it: i64, ro: i64) -> PopCheckPoint {
        PopCheckPoint {
            start_offset: so,
            queue_offset_diff: d.to_vec(),
            num: d.len() as i32,
            pop_time: pt,
            invisible_time: it,
            revive_offset: ro,
            topic: "T".into(),
            cid: "G".into(),
            queue_id: 1,
            ..PopCheckPoint::default()
        }
    }

    fn key(so: i64, pt: i64) -> CkKey {
        CkKey {
            topic: "T".into(),
            group: "G".into(),
            queue_id: 1,
            start_offset: so,
            pop_time: pt,
        }
    }

    #[test]
    fn acks_close_a_checkpoint_and_release_the_revive_offset() {
        let mut f = Inflight::new(2, 0);
        f.insert(ck(10, &[0, 3], 100, 1000, 5), 1);
        f.insert(ck(20, &[0], 100, 1000, 6), 1);
        assert_eq!(f.unacked_messages(), 3);
        assert_eq!(f.oldest_unresolved(1), Some(5));
        assert_eq!(f.ack(&key(10, 100), 11), Acked::Nothing, "not in the checkpoint");
        assert_eq!(f.ack(&key(10, 101), 10), Acked::Nothing, "another pop");
        assert_eq!(f.ack(&key(10, 100), 13), Acked::Set { closed: false });
        assert_eq!(f.ack(&key(10, 100), 13), Acked::Nothing, "twice");
        assert_eq!(f.ack(&key(10, 100), 10), Acked::Set { closed: true });
        assert_eq!(f.oldest_unresolved(1), Some(6));
        assert_eq!(f.unacked_messages(), 1);
        assert_eq!(f.oldest_unresolved(0), None);
    }

    #[test]
    fn due_checkpoints_come_out_with_their_unacked_offsets() {
        let mut f = Inflight::new(1, 0);
        f.insert(ck(10, &[0, 1, 2], 100, 1000, 0), 0);
        f.insert(ck(20, &[0], 100, 5000, 1), 0);
        f.ack(&key(10, 100), 11);
        assert!(f.take_due(1099).is_empty());
        assert_eq!(f.next_due_ms(), Some(1100));
        let due = f.take_due(1100);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].unacked(), vec![10, 12]);
        assert_eq!(
            f.ack(&key(10, 100), 10),
            Acked::Nothing,
            "after revive an ack is late"
        );
        assert_eq!(f.oldest_unresolved(0), Some(0), "held until revived");
        f.revived(0, 0);
        assert_eq!(f.oldest_unresolved(0), Some(1));
        // Between ticks: due at the next tick, never before its time.
        f.insert(ck(40, &[0], 100, 1005, 3), 0);
        assert!(f.take_due(1104).is_empty());
        assert_eq!(f.take_due(1110).len(), 1);
        f.revived(0, 3);
        // A due checkpoint inserted late (a replay after a restart) fires at the next tick.
        f.insert(ck(30, &[0], 0, 10, 2), 0);
        assert_eq!(f.next_due_ms(), Some(1120));
        assert_eq!(f.take_due(1120).len(), 1);
    }
}
