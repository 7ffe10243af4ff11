//! rmq-client: a RocketMQ 4.9 producer, consumer and admin client over the remoting protocol.
//!
//! # Layout
//!
//! * [`config`] — [`ClientConfig`] (Java defaults) and the client id.
//! * [`message`] — [`Message`], [`MessageQueue`], [`SendStatus`], [`SendResult`].
//! * `route` — a topic route → its publish queues; round-robin selection avoiding a failed broker.
//! * `fault` — latency-based broker fault avoidance (`sendLatencyFaultEnable`).
//! * `send` — pure request building (V2 header, UNIQ_KEY, compression, batch body) and response
//!   mapping, plus the retry policy.
//! * `client` — what producer and admin share: connection pool, name-server failover, route and
//!   broker-address tables.
//! * [`producer`] — [`Producer`]: sends, retries, route-refresh and heartbeat tasks.
//! * [`transaction`] — [`TransactionProducer`]: half messages, END_TRANSACTION, check-backs.
//! * [`consumer`] — [`PushConsumer`] (rebalance, long-polling pull loops, flow control, offset
//!   commits), [`PullConsumer`] (assign / seek / poll / commit, low-level pull) and
//!   [`SimpleConsumer`] (the 5.x POP consumer: receive / ack / change invisible duration).
//! * [`admin`] — [`Admin`]: routes, cluster info, topic creation, offsets, stats, message lookup
//!   (by id, key, unique key), DLQ resend and the POP request mode (`setConsumeMode`).
//! * [`error`] — [`ClientError`], the one error type of this crate.
//!
//! # Example
//!
//! ```no_run
//! use rmq_client::{ClientConfig, Message, Producer};
//!
//! # async fn run() -> Result<(), rmq_client::ClientError> {
//! let producer = Producer::new("PG_EXAMPLE", ClientConfig::with_namesrv("127.0.0.1:9876"));
//! producer.start().await?;
//! let result = producer.send(Message::new("TopicTest", "Hello").with_tags("TagA")).await?;
//! println!("{result}"); // SendResult [sendStatus=SEND_OK, msgId=..., ...]
//! producer.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Differences from the Java client: no namespace, no request/reply producer, SYSTEM_BUSY is
//! retried on another broker (as the 5.x client does; 4.9 does not), and UNIQ_KEY month offsets
//! are in UTC.
//! Consumers: a `ReconsumeLater` message is sent back (CONSUMER_SEND_MSG_BACK) and retried
//! locally only when that fails (Java would also try its internal producer first); an orderly
//! listener's message that used up its retries goes to the DLQ through CONSUMER_SEND_MSG_BACK
//! with delay level −1 (Java sends it through its internal producer), and orderly consumers
//! share `max_reconsume_times` (16; Java's orderly default is unlimited); pulls always go to the
//! master (`suggestWhichBrokerId` is ignored); a pull never asks for more than
//! `pull_threshold_for_queue − cached` messages, so the cache never exceeds
//! the threshold (Java may overshoot by a batch); [`PullConsumer`] sends no heartbeat.
//! [`SimpleConsumer`] speaks the remoting POP protocol straight to the brokers (the 5.x
//! `SimpleConsumer` speaks gRPC to a proxy, which pops the same way); each `receive` pops one
//! broker, and the heartbeat's consume type is `CONSUME_POP`.

pub mod admin;
mod client;
pub mod config;
pub mod consumer;
pub mod error;
mod fault;
pub mod message;
mod periodic;
pub mod producer;
mod route;
mod send;
pub mod transaction;

pub use admin::Admin;
pub use config::ClientConfig;
pub use consumer::{
    ConsumeFromWhere, ConsumeOrderlyStatus, ConsumeStatus, ConsumerConfig, MessageModel, PoppedMessage,
    PullConsumer, PullResult, PullStatus, PushConsumer, SimpleConsumer,
};
pub use error::ClientError;
pub use message::{Message, MessageExtDisplay, MessageQueue, SendResult, SendStatus};
pub use producer::Producer;
pub use rmq_acl::Credentials;
pub use rmq_protocol::body::{ClusterInfo, TopicConfig, TopicRouteData, TopicStatsTable};
pub use rmq_protocol::message::MessageExt;
pub use rmq_protocol::LanguageCode;
pub use rmq_remoting::{ClientTls, ClientTlsOptions, SignRequests};
pub use transaction::{
    LocalTransactionState, TransactionListener, TransactionProducer, TransactionSendResult,
};
