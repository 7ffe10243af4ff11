//! `AllocateMessageQueueAveragely` (docs/protocol/client.md#rebalance), exactly as Java computes it.

use crate::message::MessageQueue;

/// The queues of `mq_all` that `current_cid` owns. Both lists must already be sorted (queues by
/// (topic, brokerName, queueId), client ids as strings). A client id missing from `cid_all`
/// (its heartbeat has not reached the broker yet) owns nothing.
pub fn allocate_averagely(
    current_cid: &str,
    mq_all: &[MessageQueue],
    cid_all: &[String],
) -> Vec<MessageQueue> {
    if mq_all.is_empty() || cid_all.is_empty() {
        return Vec::new();
    }
    let Some(index) = cid_all.iter().position(|c| c == current_cid) else {
        return Vec::new();
    };
    let (queues, cids) = (mq_all.len(), cid_all.len());
    let modulo = queues % cids;
    let average = if queues <= cids {
        1
    } else if modulo > 0 && index < modulo {
        queues / cids + 1
    } else {
        queues / cids
    };
    let start = if modulo > 0 && index < modulo {
        index * average
    } else {
        index * average + modulo
    };
    let range = average.min(queues.saturating_sub(start));
    (0..range).map(|i| mq_all[(start + i) % queues].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "broker-a", i)).collect()
    }

    fn cids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn ids(mqs: &[MessageQueue]) -> Vec<i32> {
        mqs.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn eight_queues_three_consumers() {
        let (mqs, cids) = (queues(8), cids(3));
        assert_eq!(ids(&allocate_averagely("c0", &mqs, &cids)), vec![0, 1, 2]);
        assert_eq!(ids(&allocate_averagely("c1", &mqs, &cids)), vec![3, 4, 5]);
        assert_eq!(ids(&allocate_averagely("c2", &mqs, &cids)), vec![6, 7]);
    }

    #[test]
    fn fewer_queues_than_consumers() {
        let (mqs, cids) = (queues(2), cids(3));
        assert_eq!(ids(&allocate_averagely("c0", &mqs, &cids)), vec![0]);
        assert_eq!(ids(&allocate_averagely("c1", &mqs, &cids)), vec![1]);
        assert!(allocate_averagely("c2", &mqs, &cids).is_empty());
    }

    #[test]
    fn even_split_and_unknown_client() {
        let (mqs, cids) = (queues(4), cids(2));
        assert_eq!(ids(&allocate_averagely("c0", &mqs, &cids)), vec![0, 1]);
        assert_eq!(ids(&allocate_averagely("c1", &mqs, &cids)), vec![2, 3]);
        assert!(allocate_averagely("c9", &mqs, &cids).is_empty());
        assert!(allocate_averagely("c0", &[], &cids).is_empty());
    }

    #[test]
    fn every_queue_is_owned_exactly_once() {
        for n_queues in 1..20 {
            for n_cids in 1..10 {
                let (mqs, cids) = (queues(n_queues), cids(n_cids));
                let mut all: Vec<i32> = cids
                    .iter()
                    .flat_map(|c| ids(&allocate_averagely(c, &mqs, &cids)))
                    .collect();
                all.sort();
                assert_eq!(
                    all,
                    (0..n_queues).collect::<Vec<_>>(),
                    "{n_queues} queues, {n_cids} cids"
                );
            }
        }
    }
}
