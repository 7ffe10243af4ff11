//! Rebalance building blocks: a topic's subscribe queues (docs/protocol/name-server.md#route), where a newly
//! assigned queue starts (docs/protocol/client.md#where-a-new-queue-starts), and the offset queries that rule
//! needs.

use rmq_protocol::body::{perm, TopicRouteData};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
};

use super::config::ConsumeFromWhere;
use super::offset_store::OffsetStore;
use super::pull::RETRY_GROUP_TOPIC_PREFIX;
use crate::client::{Client, DEFAULT_TIMEOUT};
use crate::message::MessageQueue;
use crate::ClientError;

/// `topicRouteData2TopicSubscribeInfo`: queues `0..readQueueNums` of every readable queue
/// data, sorted by (topic, brokerName, queueId) like `MessageQueue.compareTo`.
pub(crate) fn subscribe_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    let mut queues: Vec<MessageQueue> = route
        .queue_datas
        .iter()
        .filter(|qd| perm::is_readable(qd.perm))
        .flat_map(|qd| (0..qd.read_queue_nums).map(|id| MessageQueue::new(topic, &qd.broker_name, id)))
        .collect();
    queues.sort();
    queues.dedup();
    queues
}

/// What the table of docs/protocol/client.md#where-a-new-queue-starts says to do for a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartFrom {
    Offset(i64),
    MaxOffset,
    SearchByTime(i64),
}

/// `computePullFromWhereWithException`, minus the I/O: `stored` is the offset the store holds
/// (`None` = not found).
pub(crate) fn start_rule(stored: Option<i64>, topic: &str, from: ConsumeFromWhere) -> StartFrom {
    if let Some(offset) = stored.filter(|o| *o >= 0) {
        return StartFrom::Offset(offset);
    }
    let retry = topic.starts_with(RETRY_GROUP_TOPIC_PREFIX);
    match from {
        ConsumeFromWhere::LastOffset if retry => StartFrom::Offset(0),
        ConsumeFromWhere::LastOffset => StartFrom::MaxOffset,
        ConsumeFromWhere::FirstOffset => StartFrom::Offset(0),
        ConsumeFromWhere::Timestamp(_) if retry => StartFrom::MaxOffset,
        ConsumeFromWhere::Timestamp(ts) => StartFrom::SearchByTime(ts),
    }
}

/// The first offset to pull from for a newly assigned queue.
pub(crate) async fn start_offset(
    client: &Client,
    store: &OffsetStore,
    group: &str,
    mq: &MessageQueue,
    from: ConsumeFromWhere,
) -> Result<i64, ClientError> {
    let stored = store.read_stored(client, group, mq).await?;
    match start_rule(stored, &mq.topic, from) {
        StartFrom::Offset(o) => Ok(o),
        StartFrom::MaxOffset => max_offset(client, mq).await,
        StartFrom::SearchByTime(ts) => search_offset(client, mq, ts).await,
    }
}

/// GET_MAX_OFFSET: one past the last message of `mq`.
pub(crate) async fn max_offset(client: &Client, mq: &MessageQueue) -> Result<i64, ClientError> {
    let addr = client.master_addr_or_fetch(mq).await?;
    let header = GetMaxOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = client.request(request_code::GET_MAX_OFFSET).with_header(&header);
    let resp = client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await?;
    Ok(resp.header::<GetMaxOffsetResponseHeader>()?.offset)
}

/// GET_MIN_OFFSET.
pub(crate) async fn min_offset(client: &Client, mq: &MessageQueue) -> Result<i64, ClientError> {
    let addr = client.master_addr_or_fetch(mq).await?;
    let header = GetMinOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = client.request(request_code::GET_MIN_OFFSET).with_header(&header);
    let resp = client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await?;
    Ok(resp.header::<GetMinOffsetResponseHeader>()?.offset)
}

/// SEARCH_OFFSET_BY_TIMESTAMP: the first message stored at or after `timestamp_ms`.
pub(crate) async fn search_offset(
    client: &Client,
    mq: &MessageQueue,
    timestamp_ms: i64,
) -> Result<i64, ClientError> {
    let addr = client.master_addr_or_fetch(mq).await?;
    let header = SearchOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        timestamp: timestamp_ms,
        bname: Some(mq.broker_name.clone()),
    };
    let cmd = client
        .request(request_code::SEARCH_OFFSET_BY_TIMESTAMP)
        .with_header(&header);
    let resp = client.invoke_ok(&addr, cmd, DEFAULT_TIMEOUT).await?;
    Ok(resp.header::<SearchOffsetResponseHeader>()?.offset)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rmq_protocol::body::{BrokerData, QueueData};

    use super::*;

    #[test]
    fn start_rules_follow_the_table() {
        use ConsumeFromWhere::*;
        assert_eq!(start_rule(Some(7), "T", FirstOffset), StartFrom::Offset(7));
        assert_eq!(start_rule(Some(0), "T", LastOffset), StartFrom::Offset(0));
        assert_eq!(start_rule(None, "T", LastOffset), StartFrom::MaxOffset);
        assert_eq!(start_rule(Some(-1), "T", LastOffset), StartFrom::MaxOffset);
        assert_eq!(start_rule(None, "%RETRY%G", LastOffset), StartFrom::Offset(0));
        assert_eq!(start_rule(None, "T", FirstOffset), StartFrom::Offset(0));
        assert_eq!(start_rule(None, "T", Timestamp(5)), StartFrom::SearchByTime(5));
        assert_eq!(start_rule(None, "%RETRY%G", Timestamp(5)), StartFrom::MaxOffset);
    }

    #[test]
    fn subscribe_queues_are_readable_and_sorted() {
        let qd = |name: &str, read: i32, perm: i32| QueueData {
            broker_name: name.into(),
            read_queue_nums: read,
            write_queue_nums: 1,
            perm,
            topic_sys_flag: 0,
        };
        let route = TopicRouteData {
            queue_datas: vec![qd("broker-b", 2, 6), qd("broker-a", 3, 4), qd("broker-c", 2, 2)],
            broker_datas: vec![BrokerData {
                cluster: "C".into(),
                broker_name: "broker-a".into(),
                broker_addrs: BTreeMap::new(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let got: Vec<(String, i32)> = subscribe_queues("T", &route)
            .into_iter()
            .map(|q| (q.broker_name, q.queue_id))
            .collect();
        let want: Vec<(String, i32)> = [
            ("broker-a", 0),
            ("broker-a", 1),
            ("broker-a", 2),
            ("broker-b", 0),
            ("broker-b", 1),
        ]
        .iter()
        .map(|(b, i)| (b.to_string(), *i))
        .collect();
        assert_eq!(got, want);
    }
}
