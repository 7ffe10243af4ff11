//! [`PullConsumer`]: lite-pull style consumption of explicitly assigned queues, plus the
//! low-level pull and offset queries of `DefaultMQPullConsumer`.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmq_protocol::body::SubscriptionData;
use rmq_protocol::message::MessageExt;

use super::config::ConsumeFromWhere;
use super::offset_store::{query_offset, update_offset, OffsetStore};
use super::pull::{self, PullArgs, PullResult, PullStatus};
use super::rebalance::{self, start_offset, subscribe_queues};
use crate::client::Client;
use crate::config::ClientConfig;
use crate::message::MessageQueue;
use crate::ClientError;

/// `maxMsgNums` of a lite-pull poll.
pub const LITE_PULL_BATCH_SIZE: i32 = 10;
/// RPC timeout of a non-blocking pull (`consumerPullTimeoutMillis`).
const PULL_TIMEOUT: Duration = Duration::from_millis(10_000);
/// `suspendTimeoutMillis` sent by the pull consumers (ignored without the SUSPEND flag).
const PULL_SUSPEND_TIMEOUT_MS: i64 = 20_000;
/// Pause between rounds of empty pulls inside [`PullConsumer::poll`].
const POLL_IDLE: Duration = Duration::from_millis(50);

/// Pulls assigned queues on demand. No rebalance, no heartbeat: offsets move only through
/// [`poll`](Self::poll) / [`seek`](Self::seek) and reach the broker only through
/// [`commit`](Self::commit).
///
/// ```no_run
/// use rmq_client::consumer::PullConsumer;
/// use rmq_client::ClientConfig;
///
/// # async fn run() -> Result<(), rmq_client::ClientError> {
/// let consumer = PullConsumer::new("CG", ClientConfig::with_namesrv("127.0.0.1:9876"));
/// let queues = consumer.fetch_subscribe_queues("TopicTest").await?;
/// consumer.assign(queues).await?;
/// let msgs = consumer.poll(std::time::Duration::from_secs(1)).await?;
/// consumer.commit().await?;
/// # Ok(())
/// # }
/// ```
pub struct PullConsumer {
    group: String,
    client: Client,
    consume_from_where: ConsumeFromWhere,
    pull_batch_size: i32,
    /// Assigned queue → next offset to pull (= consumed offset once polled).
    positions: Mutex<BTreeMap<MessageQueue, i64>>,
    /// topic → TAG expression used by `poll` (default `*`).
    expressions: Mutex<HashMap<String, String>>,
    next_queue: AtomicUsize,
}

impl PullConsumer {
    pub fn new(group: impl Into<String>, config: ClientConfig) -> Self {
        PullConsumer {
            group: group.into(),
            client: Client::new(config),
            consume_from_where: ConsumeFromWhere::LastOffset,
            pull_batch_size: LITE_PULL_BATCH_SIZE,
            positions: Mutex::new(BTreeMap::new()),
            expressions: Mutex::new(HashMap::new()),
            next_queue: AtomicUsize::new(0),
        }
    }

    /// Where a newly assigned queue with no committed offset starts. Default `LastOffset`.
    pub fn with_consume_from_where(mut self, from: ConsumeFromWhere) -> Self {
        self.consume_from_where = from;
        self
    }

    /// `maxMsgNums` per pull inside `poll`. Default 10.
    pub fn with_pull_batch_size(mut self, n: i32) -> Self {
        self.pull_batch_size = n.max(1);
        self
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// The TAG expression `poll` uses for `topic` (default `*`).
    pub fn set_sub_expression(&self, topic: &str, expression: &str) {
        self.expressions
            .lock()
            .insert(topic.to_owned(), expression.to_owned());
    }

    /// Replaces the assigned queues. Queues already assigned keep their position; new ones start at the
    /// group's committed offset, else per `consume_from_where`
    /// (docs/protocol/client.md#where-a-new-queue-starts).
    pub async fn assign(&self, mqs: Vec<MessageQueue>) -> Result<(), ClientError> {
        let current = self.positions.lock().clone();
        let store = OffsetStore::remote();
        let mut next = BTreeMap::new();
        for mq in mqs {
            let offset = match current.get(&mq) {
                Some(o) => *o,
                None => start_offset(&self.client, &store, &self.group, &mq, self.consume_from_where).await?,
            };
            next.insert(mq, offset);
        }
        *self.positions.lock() = next;
        Ok(())
    }

    /// The assigned queues.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        self.positions.lock().keys().cloned().collect()
    }

    /// Moves the position of an assigned queue.
    pub fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<(), ClientError> {
        match self.positions.lock().get_mut(mq) {
            Some(position) => {
                *position = offset;
                Ok(())
            }
            None => Err(ClientError::InvalidArgument(format!("{mq} is not assigned"))),
        }
    }

    /// The next offset `poll` will read from `mq`.
    pub fn position(&self, mq: &MessageQueue) -> Option<i64> {
        self.positions.lock().get(mq).copied()
    }

    /// Pulls the assigned queues in turn until one has messages or `timeout` passes. The
    /// returned messages count as consumed: the position moves past them.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let queues = self.assignment();
            if queues.is_empty() {
                return Err(ClientError::InvalidArgument("no queue assigned".into()));
            }
            let start = self.next_queue.fetch_add(1, Ordering::Relaxed);
            for i in 0..queues.len() {
                let mq = &queues[(start + i) % queues.len()];
                let Some(offset) = self.position(mq) else { continue };
                let expression = self
                    .expressions
                    .lock()
                    .get(&mq.topic)
                    .cloned()
                    .unwrap_or_else(|| "*".into());
                let sub = SubscriptionData::from_tag_expression(&mq.topic, &expression, 0);
                let flag = pull::sys_flag(false, false, true, true);
                match self.pull_with(mq, &sub, offset, self.pull_batch_size, flag).await {
                    Ok(result) => {
                        // Only move a position nobody has seeked meanwhile.
                        let mut positions = self.positions.lock();
                        if let Some(p) = positions.get_mut(mq).filter(|p| **p == offset) {
                            *p = result.next_begin_offset;
                        }
                        drop(positions);
                        if result.status == PullStatus::Found && !result.messages.is_empty() {
                            return Ok(result.messages);
                        }
                    }
                    Err(e) => tracing::warn!(%mq, offset, error = %e, "poll: pull failed"),
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(Vec::new());
            }
            tokio::time::sleep(remaining.min(POLL_IDLE)).await;
        }
    }

    /// UPDATE_CONSUMER_OFFSET (awaiting the answer) with the position of every assigned queue.
    pub async fn commit(&self) -> Result<(), ClientError> {
        let positions = self.positions.lock().clone();
        for (mq, offset) in positions {
            update_offset(&self.client, &self.group, &mq, offset, false).await?;
        }
        Ok(())
    }

    /// The group's committed offset of `mq` on the broker (QUERY_CONSUMER_OFFSET); `None` when
    /// there is none.
    pub async fn committed(&self, mq: &MessageQueue) -> Result<Option<i64>, ClientError> {
        query_offset(&self.client, &self.group, mq).await
    }

    /// One non-blocking PULL_MESSAGE (sysFlag SUBSCRIPTION, `subVersion` 0, like
    /// `DefaultMQPullConsumer.pull`), tags re-checked on the client.
    pub async fn pull(
        &self,
        mq: &MessageQueue,
        sub_expression: &str,
        offset: i64,
        max_nums: i32,
    ) -> Result<PullResult, ClientError> {
        let sub = SubscriptionData::from_tag_expression(&mq.topic, sub_expression, 0);
        self.pull_with(
            mq,
            &sub,
            offset,
            max_nums,
            pull::sys_flag(false, false, true, false),
        )
        .await
    }

    async fn pull_with(
        &self,
        mq: &MessageQueue,
        sub: &SubscriptionData,
        offset: i64,
        max_nums: i32,
        sys_flag: i32,
    ) -> Result<PullResult, ClientError> {
        let args = PullArgs {
            group: &self.group,
            mq,
            offset,
            max_nums,
            sys_flag,
            commit_offset: 0,
            suspend_timeout_ms: PULL_SUSPEND_TIMEOUT_MS,
            sub,
        };
        let (addr, _) = self.client.pull_addr(mq).await?;
        let cmd = pull::build_request(&args, self.client.config.language);
        let resp = self.client.invoke(&addr, cmd, PULL_TIMEOUT).await?;
        let result = pull::read_response(&resp, sub)?;
        self.client.suggest_pull_from(mq, result.suggest_which_broker_id);
        Ok(result)
    }

    /// The readable queues of `topic`, sorted.
    pub async fn fetch_subscribe_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        let route = self.client.fetch_route(topic).await?;
        let queues = subscribe_queues(topic, &route);
        if queues.is_empty() {
            return Err(ClientError::NoRoute(topic.to_owned()));
        }
        Ok(queues)
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP.
    pub async fn search_offset(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64, ClientError> {
        rebalance::search_offset(&self.client, mq, timestamp_ms).await
    }

    /// GET_MAX_OFFSET: one past the last message.
    pub async fn max_offset(&self, mq: &MessageQueue) -> Result<i64, ClientError> {
        rebalance::max_offset(&self.client, mq).await
    }

    /// GET_MIN_OFFSET.
    pub async fn min_offset(&self, mq: &MessageQueue) -> Result<i64, ClientError> {
        rebalance::min_offset(&self.client, mq).await
    }

    /// Closes the connections. Positions are not committed.
    pub async fn shutdown(&self) {
        self.client.remoting.close_all();
    }
}
