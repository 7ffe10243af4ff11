//! Choosing a master: Java's `DefaultElectPolicy`, as a function.
//!
//! The SyncStateSet is tried first, because only its members are known to hold every committed
//! message. When nobody there is alive and unclean election is on, every registered broker is
//! tried next, accepting that messages may be lost.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::liveness::{BrokerReport, Liveness};
use crate::BrokerId;

/// Which group the candidates belong to, as the liveness view keys brokers.
#[derive(Debug, Clone, Copy)]
pub struct GroupKey<'a> {
    pub cluster_name: &'a str,
    pub broker_name: &'a str,
}

/// The master to elect, or `None` when no pool yields one.
///
/// - `in_sync`: the SyncStateSet, tried first.
/// - `unclean_pool`: every registered broker when unclean election is on, else `None`.
/// - `old_master`: kept when it is alive in the pool and `preferred` does not name someone else.
/// - `preferred`: the admin's designated broker. When set, nobody else is chosen: a pool that
///   does not hold it alive yields nothing.
///
/// Otherwise the best live broker wins: highest reported epoch, then highest max offset, then
/// lowest election priority, then lowest broker id.
pub fn choose_master(
    group: GroupKey<'_>,
    in_sync: &BTreeSet<BrokerId>,
    unclean_pool: Option<&BTreeSet<BrokerId>>,
    old_master: Option<BrokerId>,
    preferred: Option<BrokerId>,
    live: &dyn Liveness,
) -> Option<BrokerId> {
    choose_in(group, in_sync, old_master, preferred, live)
        .or_else(|| unclean_pool.and_then(|pool| choose_in(group, pool, old_master, preferred, live)))
}

fn choose_in(
    group: GroupKey<'_>,
    pool: &BTreeSet<BrokerId>,
    old_master: Option<BrokerId>,
    preferred: Option<BrokerId>,
    live: &dyn Liveness,
) -> Option<BrokerId> {
    let alive: Vec<BrokerId> = pool
        .iter()
        .copied()
        .filter(|&id| live.is_alive(group.cluster_name, group.broker_name, id))
        .collect();
    if let Some(old) = old_master {
        if alive.contains(&old) && (preferred.is_none() || preferred == Some(old)) {
            return Some(old);
        }
    }
    if let Some(preferred) = preferred {
        return alive.contains(&preferred).then_some(preferred);
    }
    alive
        .into_iter()
        .map(|id| (id, live.report(group.cluster_name, group.broker_name, id)))
        .min_by(|(a_id, a), (b_id, b)| better_first(a.as_ref(), b.as_ref()).then(a_id.cmp(b_id)))
        .map(|(id, _)| id)
}

/// `Less` when `a` is the better candidate. Compares whole values: Java subtracts offsets and
/// casts to `int`, which misorders offsets more than 2 GiB apart.
fn better_first(a: Option<&BrokerReport>, b: Option<&BrokerReport>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b
            .epoch
            .cmp(&a.epoch)
            .then(b.max_offset.cmp(&a.max_offset))
            .then(a.election_priority.cmp(&b.election_priority)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    //! The policy rules of docs/controller/java-reference.md 3.4. Java 5.3.1 has no
    //! DefaultElectPolicyTest; these pin each rule of `DefaultElectPolicy.tryElect`.

    use super::*;
    use crate::liveness::LiveBrokers;

    const GROUP: GroupKey<'static> = GroupKey {
        cluster_name: "c",
        broker_name: "b",
    };

    fn set(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
        ids.iter().copied().collect()
    }

    fn report(epoch: i32, max_offset: i64, election_priority: i32) -> BrokerReport {
        BrokerReport {
            epoch,
            max_offset,
            election_priority,
        }
    }

    fn view(entries: &[(BrokerId, BrokerReport)]) -> LiveBrokers {
        let mut live = LiveBrokers::new();
        for &(id, r) in entries {
            live.insert("c", "b", id, r);
        }
        live
    }

    #[test]
    fn nobody_alive_gives_none() {
        let live = view(&[]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, Some(1), None, &live),
            None
        );
    }

    #[test]
    fn live_old_master_is_kept_even_when_others_rank_higher() {
        let live = view(&[(1, report(1, 1, 9)), (2, report(5, 100, 0))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, Some(1), None, &live),
            Some(1)
        );
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, Some(1), Some(1), &live),
            Some(1)
        );
    }

    #[test]
    fn preferred_wins_over_a_live_old_master() {
        let live = view(&[(1, report(1, 1, 0)), (2, report(1, 1, 0))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, Some(1), Some(2), &live),
            Some(2)
        );
    }

    #[test]
    fn preferred_that_is_dead_or_outside_gives_none_without_fallback() {
        let live = view(&[(1, report(1, 1, 0)), (3, report(1, 1, 0))]);
        // 2 is in the set but dead; 1 and 3 are alive yet never chosen instead.
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2, 3]), None, None, Some(2), &live),
            None
        );
        // 4 is alive but not in the set.
        let live4 = view(&[(4, report(1, 1, 0))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1]), None, None, Some(4), &live4),
            None
        );
    }

    #[test]
    fn ranks_by_epoch_then_offset_then_priority_then_id() {
        let by_epoch = view(&[(1, report(1, 2, 0)), (2, report(2, 1, 0))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, None, None, &by_epoch),
            Some(2)
        );
        let by_offset = view(&[(1, report(2, 5, 0)), (2, report(2, 4, 0))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, None, None, &by_offset),
            Some(1)
        );
        let by_priority = view(&[(1, report(2, 5, 3)), (2, report(2, 5, 1))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, None, None, &by_priority),
            Some(2)
        );
        let by_id = view(&[(3, report(2, 5, 1)), (2, report(2, 5, 1))]);
        assert_eq!(
            choose_master(GROUP, &set(&[2, 3]), None, None, None, &by_id),
            Some(2)
        );
    }

    #[test]
    fn offsets_far_apart_compare_correctly() {
        // Java's `(int) (o2.maxOffset - o1.maxOffset)` is 0 for offsets 2^32 apart and would
        // call these equal; the larger offset must win.
        let live = view(&[(1, report(1, 0, 0)), (2, report(1, 1 << 32, 0))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, None, None, &live),
            Some(2)
        );
    }

    #[test]
    fn extreme_priorities_do_not_overflow() {
        let live = view(&[(1, report(1, 1, i32::MAX)), (2, report(1, 1, -1))]);
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, None, None, &live),
            Some(2)
        );
    }

    #[test]
    fn brokers_without_report_rank_last_and_fall_back_to_lowest_id() {
        let mixed = view(&[(3, report(0, 0, 0))]);
        let alive_all = |_: &str, _: &str, _: BrokerId| true;
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2]), None, None, None, &alive_all),
            Some(1)
        );
        // 1 and 2 alive by predicate only would rank below 3; LiveBrokers has only 3 alive.
        assert_eq!(
            choose_master(GROUP, &set(&[1, 2, 3]), None, None, None, &mixed),
            Some(3)
        );
    }

    #[test]
    fn unclean_pool_is_tried_only_when_the_set_yields_nobody() {
        let live = view(&[(1, report(9, 9, 0)), (2, report(1, 1, 0))]);
        // 2 alive in the set: chosen although 1 (outside the set) ranks higher.
        assert_eq!(
            choose_master(GROUP, &set(&[2, 3]), Some(&set(&[1, 2, 3])), None, None, &live),
            Some(2)
        );
        // Only dead members in the set: without the unclean pool nobody, with it the best.
        assert_eq!(choose_master(GROUP, &set(&[3]), None, None, None, &live), None);
        assert_eq!(
            choose_master(GROUP, &set(&[3]), Some(&set(&[1, 2, 3])), None, None, &live),
            Some(1)
        );
        // A preferred broker is looked for in the unclean pool too.
        assert_eq!(
            choose_master(GROUP, &set(&[3]), Some(&set(&[1, 2, 3])), None, Some(2), &live),
            Some(2)
        );
    }
}
