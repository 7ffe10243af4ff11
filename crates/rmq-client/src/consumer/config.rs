//! [`ConsumerConfig`]: the push / pull consumer settings, with the Java defaults.

use std::path::PathBuf;

/// How a group shares a topic's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageModel {
    /// Each queue has one owner in the group; offsets live on the broker.
    #[default]
    Clustering,
    /// Every member consumes every queue; offsets live in a local file.
    Broadcasting,
}

impl MessageModel {
    /// The Java enum name sent in heartbeats.
    pub fn name(self) -> &'static str {
        match self {
            MessageModel::Clustering => "CLUSTERING",
            MessageModel::Broadcasting => "BROADCASTING",
        }
    }
}

/// Where a queue with no stored offset starts (docs/protocol/client.md#where-a-new-queue-starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ConsumeFromWhere {
    /// The queue's max offset (but see the broker's young-queue rule, docs/protocol/headers.md#offsets).
    #[default]
    LastOffset,
    /// Offset 0.
    FirstOffset,
    /// The first message stored at or after this time (epoch ms).
    Timestamp(i64),
}

impl ConsumeFromWhere {
    /// The Java enum name sent in heartbeats.
    pub fn name(self) -> &'static str {
        match self {
            ConsumeFromWhere::LastOffset => "CONSUME_FROM_LAST_OFFSET",
            ConsumeFromWhere::FirstOffset => "CONSUME_FROM_FIRST_OFFSET",
            ConsumeFromWhere::Timestamp(_) => "CONSUME_FROM_TIMESTAMP",
        }
    }
}

/// Consumer settings. Defaults are `DefaultMQPushConsumer`'s (docs/protocol/pull.md#client-flow-control).
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub message_model: MessageModel,
    pub consume_from_where: ConsumeFromWhere,
    /// Kept for parity with Java; the pool is fixed at `consume_thread_max`. Default 20.
    pub consume_thread_min: usize,
    /// Listener calls running at once (a semaphore over tokio's blocking pool). Default 20.
    pub consume_thread_max: usize,
    /// Messages per listener call. Default 1.
    pub consume_message_batch_max_size: usize,
    /// `maxMsgNums` per pull. Default 32 (the [`crate::consumer::PullConsumer`] uses 10).
    pub pull_batch_size: i32,
    /// Cached messages per queue before pulls pause. Default 1000.
    pub pull_threshold_for_queue: usize,
    /// Cached body MiB per queue before pulls pause. Default 100.
    pub pull_threshold_size_for_queue_mib: u64,
    /// Pulls pause while the cached offsets span more than this. Default 2000.
    pub consume_concurrently_max_span: i64,
    /// Delay between pulls after messages were found. Default 0.
    pub pull_interval_ms: u64,
    /// Long-poll hold time asked of the broker. Default 15000.
    pub suspend_timeout_ms: u64,
    /// RPC timeout of a long-polling pull. Default 30000.
    pub pull_timeout_ms: u64,
    /// Delay before the next pull when flow control kicks in. Default 50.
    pub flow_control_delay_ms: u64,
    /// Delay after a failed pull. Default 3000 (20 after a FLOW_CONTROL answer).
    pub pull_exception_delay_ms: u64,
    /// Periodic rebalance. Default 20000.
    pub rebalance_interval_ms: u64,
    /// Periodic heartbeat. Default 30000.
    pub heartbeat_interval_ms: u64,
    /// Periodic offset persist. Default 5000.
    pub persist_offset_interval_ms: u64,
    /// Delay before a batch is handed to the listener again when sending it back failed
    /// (Java's local retry after a failed send-back). Default 5000.
    pub reconsume_later_delay_ms: u64,
    /// Deliveries of a message after the first before the broker moves it to `%DLQ%<group>`
    /// (sent as `maxReconsumeTimes`); −1 means 16, as in Java. An orderly consumer retries
    /// locally this many times, then sends the message to the DLQ. Default 16.
    pub max_reconsume_times: i32,
    /// Root of broadcasting offset files. Default `~/.rocketmq_offsets`.
    pub offset_store_dir: Option<PathBuf>,
    /// Java's `awaitTerminationMillisWhenShutdown`: how long `shutdown` waits for batches the
    /// listener is consuming (after it stopped pulling) before persisting offsets, so that
    /// their progress is committed. Default 0 (do not wait), as Java.
    pub await_termination_ms_when_shutdown: u64,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::LastOffset,
            consume_thread_min: 20,
            consume_thread_max: 20,
            consume_message_batch_max_size: 1,
            pull_batch_size: 32,
            pull_threshold_for_queue: 1000,
            pull_threshold_size_for_queue_mib: 100,
            consume_concurrently_max_span: 2000,
            pull_interval_ms: 0,
            suspend_timeout_ms: 15_000,
            pull_timeout_ms: 30_000,
            flow_control_delay_ms: 50,
            pull_exception_delay_ms: 3000,
            rebalance_interval_ms: 20_000,
            heartbeat_interval_ms: 30_000,
            persist_offset_interval_ms: 5000,
            reconsume_later_delay_ms: 5000,
            max_reconsume_times: 16,
            offset_store_dir: None,
            await_termination_ms_when_shutdown: 0,
        }
    }
}
