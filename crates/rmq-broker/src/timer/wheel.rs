//! The timing wheel that holds pending timers in memory (docs/broker/timer.md#the-wheel).
//!
//! Time is counted in ticks of `timerPrecisionMs`. The wheel has [`SLOTS`] slots; slot `i` holds
//! the timers whose tick is `≡ i (mod SLOTS)` and falls in the current *epoch* (`SLOTS` ticks) or
//! the next one. Timers further out wait in `far`, one list per epoch, and move into the slots
//! when the cursor enters the epoch before theirs. So an insert is a push onto one list, a timer
//! is looked at no more than three times before it fires (placed, passed over once while it
//! belongs to the next epoch, fired), and neither depends on how many timers are pending: the
//! cost per timer is flat. `far` is ordered by epoch; with 4 096 ticks of 1 ms per epoch, three
//! days of timers span ~63 000 epochs, whatever their number.
//!
//! Pure: no clock, no I/O. The caller says what time it is ([`Wheel::advance`]).

use std::collections::BTreeMap;

/// Slots of the wheel (ticks per epoch).
pub const SLOTS: u64 = 4096;

/// One pending timer: when it is due (ms since the epoch) and where it is (the offset of its
/// entry in the timer topic's consume queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timer {
    pub deliver_ms: i64,
    pub cq_offset: i64,
}

#[derive(Debug)]
pub struct Wheel {
    tick_ms: u64,
    slots: Vec<Vec<Timer>>,
    /// Timers in the slots.
    in_slots: usize,
    /// Epoch → timers of that epoch, for epochs after the current one + 1.
    far: BTreeMap<u64, Vec<Timer>>,
    in_far: usize,
    /// The next tick to fire: every timer of an earlier tick has fired.
    cursor: u64,
}

impl Wheel {
    /// An empty wheel whose ticks are `tick_ms` long (at least 1), starting at `now_ms`.
    pub fn new(tick_ms: u64, now_ms: i64) -> Wheel {
        let tick_ms = tick_ms.max(1);
        Wheel {
            tick_ms,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            in_slots: 0,
            far: BTreeMap::new(),
            in_far: 0,
            cursor: tick_of(now_ms, tick_ms),
        }
    }

    pub fn len(&self) -> usize {
        self.in_slots + self.in_far
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every timer due before this time (ms) has fired: the start of the cursor's tick.
    pub fn cursor_ms(&self) -> i64 {
        ms_of(self.cursor, self.tick_ms)
    }

    /// Adds a timer. One already due (its tick before the cursor) is returned at once instead.
    #[must_use = "a timer already due is handed back to be delivered"]
    pub fn insert(&mut self, timer: Timer) -> Option<Timer> {
        let tick = tick_of(timer.deliver_ms, self.tick_ms);
        if tick < self.cursor {
            return Some(timer);
        }
        self.place(tick, timer);
        None
    }

    fn place(&mut self, tick: u64, timer: Timer) {
        let epoch = tick / SLOTS;
        if epoch <= self.cursor / SLOTS + 1 {
            self.slots[slot_of(tick)].push(timer);
            self.in_slots += 1;
        } else {
            self.far.entry(epoch).or_default().push(timer);
            self.in_far += 1;
        }
    }

    /// Moves the cursor past every tick up to and including `now_ms`'s, appending the timers of
    /// those ticks to `due` (in tick order; within a tick, in insertion order).
    pub fn advance(&mut self, now_ms: i64, due: &mut Vec<Timer>) {
        let target = tick_of(now_ms, self.tick_ms);
        while self.cursor <= target {
            if self.in_slots == 0 {
                // Nothing near: jump to the target or to the first far epoch's start, whichever
                // comes first, without walking the empty ticks in between.
                let next_far = self.far.keys().next().map(|e| e * SLOTS);
                let jump = match next_far {
                    Some(start) => start.min(target + 1),
                    None => target + 1,
                };
                if jump > self.cursor {
                    self.move_to(jump);
                    continue;
                }
            }
            let tick = self.cursor;
            let idx = slot_of(tick);
            if !self.slots[idx].is_empty() {
                // The slot also holds the next epoch's timers of this index: they stay.
                let taken = std::mem::take(&mut self.slots[idx]);
                for timer in taken {
                    if tick_of(timer.deliver_ms, self.tick_ms) <= tick {
                        due.push(timer);
                        self.in_slots -= 1;
                    } else {
                        self.slots[idx].push(timer);
                    }
                }
            }
            self.move_to(tick + 1);
        }
    }

    /// Sets the cursor to `tick` (forward only) and pulls into the slots the far epochs that are
    /// now current or next.
    fn move_to(&mut self, tick: u64) {
        let old_epoch = self.cursor / SLOTS;
        self.cursor = tick;
        let epoch = tick / SLOTS;
        if epoch == old_epoch {
            return;
        }
        while let Some(entry) = self.far.first_entry() {
            if *entry.key() > epoch + 1 {
                break;
            }
            let timers = entry.remove();
            self.in_far -= timers.len();
            for t in timers {
                let tick = tick_of(t.deliver_ms, self.tick_ms);
                // A far epoch is never behind the cursor: it moves in while still ahead.
                self.slots[slot_of(tick)].push(t);
                self.in_slots += 1;
            }
        }
    }

    /// When the next timer is due (ms), if any: the start of the earliest non-empty tick.
    /// Looks at no more than two epochs of slots.
    pub fn next_due_ms(&self) -> Option<i64> {
        if self.in_slots > 0 {
            // A slot holds its index's tick of this epoch and of the next, so the first tick
            // (in order) whose slot has a timer of exactly that tick is the earliest.
            for tick in self.cursor..self.cursor + 2 * SLOTS {
                let slot = &self.slots[slot_of(tick)];
                if slot.iter().any(|t| tick_of(t.deliver_ms, self.tick_ms) == tick) {
                    return Some(ms_of(tick, self.tick_ms));
                }
            }
        }
        self.far
            .values()
            .next()
            .and_then(|ts| ts.iter().map(|t| t.deliver_ms).min())
    }

    /// Every pending timer, in no particular order (for the checkpoint's pending count and tests).
    pub fn iter(&self) -> impl Iterator<Item = &Timer> {
        self.slots.iter().flatten().chain(self.far.values().flatten())
    }
}

fn tick_of(ms: i64, tick_ms: u64) -> u64 {
    u64::try_from(ms).unwrap_or(0) / tick_ms
}

fn ms_of(tick: u64, tick_ms: u64) -> i64 {
    i64::try_from(tick.saturating_mul(tick_ms)).unwrap_or(i64::MAX)
}

fn slot_of(tick: u64) -> usize {
    // SLOTS fits usize; the remainder is below it.
    (tick % SLOTS) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(deliver_ms: i64, cq_offset: i64) -> Timer {
        Timer {
            deliver_ms,
            cq_offset,
        }
    }

    #[test]
    fn fires_in_order_at_their_tick() {
        let mut w = Wheel::new(1, 1_000);
        for (i, ms) in [1_005, 1_001, 1_005, 1_003].into_iter().enumerate() {
            assert_eq!(w.insert(t(ms, i as i64)), None);
        }
        let mut due = Vec::new();
        w.advance(1_000, &mut due);
        assert!(due.is_empty());
        assert_eq!(w.next_due_ms(), Some(1_001));
        w.advance(1_004, &mut due);
        assert_eq!(due, [t(1_001, 1), t(1_003, 3)]);
        due.clear();
        w.advance(1_005, &mut due);
        assert_eq!(due, [t(1_005, 0), t(1_005, 2)]);
        assert!(w.is_empty());
        assert_eq!(w.next_due_ms(), None);
    }

    #[test]
    fn overdue_timers_come_straight_back() {
        let mut w = Wheel::new(10, 1_000);
        assert_eq!(w.insert(t(990, 7)), Some(t(990, 7)));
        // Same tick as the cursor: not overdue yet, fires on the next advance.
        assert_eq!(w.insert(t(1_009, 8)), None);
        let mut due = Vec::new();
        w.advance(1_000, &mut due);
        assert_eq!(due, [t(1_009, 8)]);
    }

    #[test]
    fn far_timers_move_in_and_fire_days_later() {
        let day = 86_400_000;
        let mut w = Wheel::new(1, 0);
        assert_eq!(w.insert(t(3 * day, 1)), None);
        assert_eq!(w.insert(t(day + 5, 2)), None);
        assert_eq!(w.insert(t(7, 3)), None);
        assert_eq!(w.len(), 3);
        assert_eq!(w.next_due_ms(), Some(7));
        let mut due = Vec::new();
        w.advance(day, &mut due);
        assert_eq!(due, [t(7, 3)]);
        assert_eq!(w.next_due_ms(), Some(day + 5));
        due.clear();
        w.advance(3 * day - 1, &mut due);
        assert_eq!(due, [t(day + 5, 2)]);
        due.clear();
        w.advance(3 * day, &mut due);
        assert_eq!(due, [t(3 * day, 1)]);
        assert!(w.is_empty());
    }

    proptest! {
        /// Against a sorted list: whatever the inserts and advances, a timer fires exactly once,
        /// at the first advance whose tick reaches its own, never earlier; none is lost.
        #[test]
        fn behaves_like_a_sorted_list(
            tick_ms in prop_oneof![Just(1u64), Just(10), Just(1000)],
            start in 0i64..10_000_000,
            ops in proptest::collection::vec(
                prop_oneof![
                    (0i64..40_000_000).prop_map(|d| (true, d)),
                    (0i64..20_000_000).prop_map(|d| (false, d)),
                ],
                1..200,
            ),
        ) {
            let mut w = Wheel::new(tick_ms, start);
            let mut pending: Vec<Timer> = Vec::new();
            let mut now = start;
            let mut next_id = 0;
            let tick = |ms: i64| ms as u64 / tick_ms;
            for (is_insert, d) in ops {
                if is_insert {
                    // Mostly ahead, sometimes a little behind the cursor.
                    let timer = t(now + d - 1_000, next_id);
                    next_id += 1;
                    match w.insert(timer) {
                        // Handed back only when its tick has come (after an advance to `now`,
                        // `now`'s own tick has fired, so a timer of that tick is due at once).
                        Some(back) => prop_assert!(tick(back.deliver_ms) <= tick(now)),
                        None => pending.push(timer),
                    }
                } else {
                    now += d;
                    let mut due = Vec::new();
                    w.advance(now, &mut due);
                    let mut expected: Vec<Timer> =
                        pending.iter().copied().filter(|p| tick(p.deliver_ms) <= tick(now)).collect();
                    pending.retain(|p| tick(p.deliver_ms) > tick(now));
                    let mut got = due.clone();
                    got.sort();
                    expected.sort();
                    prop_assert_eq!(got, expected);
                    // Fired in tick order.
                    prop_assert!(due.windows(2).all(|p| tick(p[0].deliver_ms) <= tick(p[1].deliver_ms)));
                }
                prop_assert_eq!(w.len(), pending.len());
                let earliest = pending.iter().map(|p| tick(p.deliver_ms)).min();
                prop_assert_eq!(w.next_due_ms().map(tick), earliest);
            }
        }
    }
}
