//! Consumers: [`PushConsumer`] (pull loops with long polling, rebalance, flow control, offset
//! commits), [`PullConsumer`] (lite-pull style: assign, seek, poll, commit) and
//! [`SimpleConsumer`] (POP: receive, ack, change invisible duration).
//!
//! # Layout
//!
//! * [`config`] — [`ConsumerConfig`] (Java defaults), [`MessageModel`], [`ConsumeFromWhere`].
//! * `allocate` — `AllocateMessageQueueAveragely`.
//! * `process_queue` — the per-queue cache of pulled, unconsumed messages and flow control.
//! * [`pull`] — PULL_MESSAGE requests and responses, the client-side tag re-check.
//! * `offset_store` — remote (broker) and local-file offset stores.
//! * `rebalance` — subscriptions, queue discovery and where a new queue starts
//!   (docs/protocol/client.md#where-a-new-queue-starts).
//! * [`push`] — [`PushConsumer`]: lifecycle, rebalance, heartbeat, offset persistence.
//! * `pull_loop` — one pull task per owned queue, and the consume tasks that run the listener.
//! * `requests` — broker → client requests: ids changed, offset reset, running info, consume
//!   directly.
//! * [`orderly`] — orderly listeners: queue locks (LOCK_BATCH_MQ) and the per-queue consume task.
//! * `send_back` — CONSUMER_SEND_MSG_BACK for messages the listener gave up on.
//! * [`lite`] — [`PullConsumer`].
//! * [`pop`] — [`SimpleConsumer`]: POP_MESSAGE / ACK_MESSAGE / CHANGE_MESSAGE_INVISIBLETIME,
//!   receipt handles built as the 5.x client builds them.

mod allocate;
pub mod config;
pub mod lite;
mod offset_store;
pub mod orderly;
pub mod pop;
pub(crate) mod process_queue;
pub mod pull;
mod pull_loop;
pub mod push;
mod rebalance;
mod requests;
mod send_back;

pub use allocate::allocate_averagely;
pub use config::{ConsumeFromWhere, ConsumerConfig, MessageModel};
pub use lite::PullConsumer;
pub use orderly::{ConsumeOrderlyStatus, OrderlyListener};
pub use pop::{PoppedMessage, SimpleConsumer};
pub use pull::{PullResult, PullStatus};
pub use push::{ConsumeStatus, MessageListener, PushConsumer};
