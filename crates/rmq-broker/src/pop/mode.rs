//! Message request modes (SET_MESSAGE_REQUEST_MODE 401, `mqadmin setConsumeMode`): whether a
//! group consumes a topic by pull (client-side rebalance) or by pop, kept in
//! `config/messageRequestMode.json`; and QUERY_ASSIGNMENT's allocation (5.x
//! `QueryAssignmentProcessor`, docs/protocol/pop.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::Mutex;
use rmq_protocol::body::pop::{MessageRequestModeSerializeWrapper, SetMessageRequestModeRequestBody};
use rmq_protocol::body::{self, MessageQueue};

use crate::BrokerError;

pub const PULL: &str = "PULL";
pub const POP: &str = "POP";

pub struct RequestModes {
    path: PathBuf,
    table: Mutex<MessageRequestModeSerializeWrapper>,
}

impl RequestModes {
    pub fn load(store_root: &std::path::Path) -> Result<RequestModes, BrokerError> {
        let path = store_root.join("config").join("messageRequestMode.json");
        let loaded = rmq_store::config_file::load_with_backup(&path, |b| {
            body::from_fastjson::<MessageRequestModeSerializeWrapper>(b).ok()
        })?;
        Ok(RequestModes {
            path,
            table: Mutex::new(loaded.unwrap_or_default()),
        })
    }

    /// Stores a mode and writes the file.
    pub fn set(&self, mode: SetMessageRequestModeRequestBody) -> Result<(), BrokerError> {
        let snapshot = {
            let mut t = self.table.lock();
            t.message_request_mode_map
                .entry(mode.topic.clone())
                .or_default()
                .insert(mode.consumer_group.clone(), mode);
            t.clone()
        };
        crate::write_json(&self.path, "messageRequestMode.json", &snapshot)
    }

    pub fn get(&self, topic: &str, group: &str) -> Option<SetMessageRequestModeRequestBody> {
        self.table
            .lock()
            .message_request_mode_map
            .get(topic)
            .and_then(|g| g.get(group))
            .cloned()
    }

    pub fn snapshot(&self) -> MessageRequestModeSerializeWrapper {
        self.table.lock().clone()
    }
}

/// `AllocateMessageQueueAveragely` / `AllocateMessageQueueAveragelyByCircle` (the two strategy
/// names QUERY_ASSIGNMENT knows); `None` for another name or a client not in `cids`.
pub fn allocate(
    strategy: &str,
    mqs: &[MessageQueue],
    cids: &[String],
    cid: &str,
) -> Option<Vec<MessageQueue>> {
    let index = cids.iter().position(|c| c == cid)?;
    let (n, m) = (mqs.len(), cids.len());
    match strategy {
        "AVG" => {
            let modv = n % m;
            let size = if n <= m {
                1
            } else if modv > 0 && index < modv {
                n / m + 1
            } else {
                n / m
            };
            let start = if modv > 0 && index < modv {
                index * size
            } else {
                index * size + modv
            };
            let range = size.min(n.saturating_sub(start));
            Some(
                (0..range)
                    .filter_map(|i| mqs.get((start + i) % n).cloned())
                    .collect(),
            )
        }
        "AVG_BY_CIRCLE" => Some(
            mqs.iter()
                .enumerate()
                .filter(|(i, _)| i % m == index)
                .map(|(_, q)| q.clone())
                .collect(),
        ),
        _ => None,
    }
}

/// `allocate4Pop`: with `share <= 0` (or enough sharing to cover everyone) each client gets
/// every broker's queues as queue id -1 (pop from any queue); otherwise its own averaged share
/// plus the shares of the `share` clients after it, or one queue when there are more clients
/// than queues.
pub fn allocate_for_pop(
    strategy: &str,
    mqs: &[MessageQueue],
    cids: &[String],
    cid: &str,
    share: i32,
) -> Option<Vec<MessageQueue>> {
    if share <= 0 || share as usize >= cids.len().saturating_sub(1) {
        let brokers: BTreeMap<&str, &str> = mqs
            .iter()
            .map(|q| (q.broker_name.as_str(), q.topic.as_str()))
            .collect();
        return Some(
            brokers
                .into_iter()
                .map(|(b, t)| MessageQueue::new(t, b, -1))
                .collect(),
        );
    }
    if cids.len() <= mqs.len() {
        let index = cids.iter().position(|c| c == cid)?;
        let mut out = allocate(strategy, mqs, cids, cid)?;
        for i in 1..=share as usize {
            let other = cids.get((index + i) % cids.len())?;
            for q in allocate(strategy, mqs, cids, other)? {
                if !out.contains(&q) {
                    out.push(q);
                }
            }
        }
        return Some(out);
    }
    let index = cids.iter().position(|c| c == cid)?;
    mqs.get(index % mqs.len().max(1)).cloned().map(|q| vec![q])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "b", i)).collect()
    }

    fn ids(v: &[MessageQueue]) -> Vec<i32> {
        v.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn averaged_like_the_java_strategies() {
        let cids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(ids(&allocate("AVG", &qs(8), &cids, "a").unwrap()), vec![0, 1, 2]);
        assert_eq!(ids(&allocate("AVG", &qs(8), &cids, "c").unwrap()), vec![6, 7]);
        assert_eq!(
            ids(&allocate("AVG_BY_CIRCLE", &qs(8), &cids, "b").unwrap()),
            vec![1, 4, 7]
        );
        assert!(allocate("CONSISTENT_HASH", &qs(8), &cids, "a").is_none());
        assert!(allocate("AVG", &qs(8), &cids, "z").is_none());
    }

    #[test]
    fn pop_shares() {
        let cids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let all = allocate_for_pop("AVG", &qs(4), &cids, "a", -1).unwrap();
        assert_eq!(all, vec![MessageQueue::new("T", "b", -1)]);
        assert_eq!(
            ids(&allocate_for_pop("AVG", &qs(6), &cids, "a", 1).unwrap()),
            vec![0, 1, 2, 3]
        );
        let many: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        assert_eq!(
            ids(&allocate_for_pop("AVG", &qs(2), &many, "c3", 1).unwrap()),
            vec![1]
        );
    }
}
