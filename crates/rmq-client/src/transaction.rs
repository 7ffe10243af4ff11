//! [`TransactionProducer`]: half message, local transaction, END_TRANSACTION, and the answers to the broker's
//! CHECK_TRANSACTION_STATE check-backs (docs/protocol/headers.md#transaction, docs/broker/transactions.md).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
use rmq_protocol::message::{self, property, sys_flag, MessageExt};
use rmq_protocol::{LanguageCode, RemotingCommand};
use rmq_remoting::{BoxFuture, Channel, RemotingClient, RequestHandler};

use crate::config::ClientConfig;
use crate::message::{Message, SendResult, SendStatus};
use crate::producer::Producer;
use crate::ClientError;

/// What a local transaction came to (Java `LocalTransactionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalTransactionState {
    /// Deliver the message.
    CommitMessage,
    /// Discard the message.
    RollbackMessage,
    /// Not known yet: the broker will ask again (CHECK_TRANSACTION_STATE).
    Unknow,
}

impl LocalTransactionState {
    /// `commitOrRollback` of END_TRANSACTION: the transaction type bits.
    pub fn wire_value(self) -> i32 {
        match self {
            LocalTransactionState::CommitMessage => sys_flag::TRANSACTION_COMMIT_TYPE,
            LocalTransactionState::RollbackMessage => sys_flag::TRANSACTION_ROLLBACK_TYPE,
            LocalTransactionState::Unknow => sys_flag::TRANSACTION_NOT_TYPE,
        }
    }
}

/// The application side of a transaction. Both methods are plain (blocking) functions, run on
/// tokio's blocking pool; a panic counts as [`LocalTransactionState::Unknow`].
pub trait TransactionListener: Send + Sync + 'static {
    /// Runs the local transaction for a half message the broker has just stored.
    fn execute_local(&self, msg: &Message) -> LocalTransactionState;
    /// Answers a check-back for a half message whose outcome the broker does not know yet.
    fn check_local(&self, msg: &MessageExt) -> LocalTransactionState;
}

/// What [`TransactionProducer::send_message_in_transaction`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSendResult {
    /// The half message's send result.
    pub send_result: SendResult,
    /// What was reported to the broker.
    pub local_state: LocalTransactionState,
}

/// A producer of transactional messages (`TransactionMQProducer`). Its connections serve
/// CHECK_TRANSACTION_STATE; it heartbeats its group like any producer, which is how the broker
/// finds a connection to check back on.
///
/// ```no_run
/// use rmq_client::transaction::{LocalTransactionState, TransactionListener, TransactionProducer};
/// use rmq_client::{ClientConfig, Message, MessageExt};
///
/// struct Orders;
/// impl TransactionListener for Orders {
///     fn execute_local(&self, _msg: &Message) -> LocalTransactionState {
///         LocalTransactionState::CommitMessage
///     }
///     fn check_local(&self, _msg: &MessageExt) -> LocalTransactionState {
///         LocalTransactionState::CommitMessage
///     }
/// }
///
/// # async fn run() -> Result<(), rmq_client::ClientError> {
/// let producer = TransactionProducer::new("PG_TX", ClientConfig::with_namesrv("127.0.0.1:9876"), Orders);
/// producer.start().await?;
/// let r = producer.send_message_in_transaction(Message::new("TopicTest", "order 1")).await?;
/// println!("{} {:?}", r.send_result, r.local_state);
/// # Ok(())
/// # }
/// ```
pub struct TransactionProducer {
    producer: Producer,
    listener: Arc<dyn TransactionListener>,
}

impl TransactionProducer {
    pub fn new<L: TransactionListener>(group: impl Into<String>, config: ClientConfig, listener: L) -> Self {
        let group = group.into();
        let listener: Arc<dyn TransactionListener> = Arc::new(listener);
        let checks = Arc::new(CheckRequests {
            group: group.clone(),
            language: config.language,
            listener: listener.clone(),
        });
        let remoting = RemotingClient::new().with_handler(checks);
        TransactionProducer {
            producer: Producer::with_remoting(group, config, remoting),
            listener,
        }
    }

    /// Starts the underlying producer (route refresh, heartbeat).
    pub async fn start(&self) -> Result<(), ClientError> {
        self.producer.start().await
    }

    pub async fn shutdown(&self) {
        self.producer.shutdown().await
    }

    /// The plain producer underneath (non-transactional sends share its connections).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Sends `msg` as a half message (`TRAN_MSG=true`, `PGROUP`; any delay level removed),
    /// runs [`TransactionListener::execute_local`], and reports the outcome with a oneway
    /// END_TRANSACTION to the broker that stored it. A failed send fails the call; a failed
    /// END_TRANSACTION is only logged, because the broker's check-back will settle it.
    pub async fn send_message_in_transaction(
        &self,
        msg: Message,
    ) -> Result<TransactionSendResult, ClientError> {
        let mut msg = msg;
        msg.properties.remove(property::DELAY);
        msg.properties
            .insert(property::TRAN_MSG.to_owned(), "true".to_owned());
        msg.properties
            .insert(property::PGROUP.to_owned(), self.producer.group().to_owned());
        let send_result = self.producer.send(msg.clone()).await?;
        msg.properties
            .insert(property::UNIQ_KEY.to_owned(), send_result.msg_id.clone());
        msg.properties
            .insert(property::TRANSACTION_ID.to_owned(), send_result.msg_id.clone());
        let local_state = match send_result.send_status {
            SendStatus::SendOk => {
                let listener = self.listener.clone();
                run_blocking(move || listener.execute_local(&msg)).await
            }
            _ => LocalTransactionState::RollbackMessage,
        };
        if let Err(e) = self.end_transaction(&send_result, local_state).await {
            tracing::warn!(msg_id = %send_result.msg_id, state = ?local_state, error = %e, "END_TRANSACTION failed; the broker will check back");
        }
        Ok(TransactionSendResult {
            send_result,
            local_state,
        })
    }

    async fn end_transaction(
        &self,
        sent: &SendResult,
        state: LocalTransactionState,
    ) -> Result<(), ClientError> {
        let (_, commit_log_offset) = message::decode_offset_msg_id(&sent.offset_msg_id)?;
        let header = EndTransactionRequestHeader {
            producer_group: self.producer.group().to_owned(),
            tran_state_table_offset: sent.queue_offset,
            commit_log_offset,
            commit_or_rollback: state.wire_value(),
            from_transaction_check: Some(false),
            msg_id: sent.msg_id.clone(),
            transaction_id: None,
            bname: None,
        };
        let addr = self.producer.master_addr(&sent.message_queue.broker_name)?;
        let mut cmd = RemotingCommand::request(request_code::END_TRANSACTION).with_header(&header);
        cmd.language = self.producer.language();
        self.producer.invoke_oneway(&addr, cmd).await
    }
}

/// Runs a listener call on the blocking pool; a panic (or a lost task) is `Unknow`.
async fn run_blocking<F>(f: F) -> LocalTransactionState
where
    F: FnOnce() -> LocalTransactionState + Send + 'static,
{
    match tokio::task::spawn_blocking(move || std::panic::catch_unwind(AssertUnwindSafe(f))).await {
        Ok(Ok(state)) => state,
        _ => {
            tracing::warn!("transaction listener panicked; reporting UNKNOW");
            LocalTransactionState::Unknow
        }
    }
}

/// Serves CHECK_TRANSACTION_STATE on the producer's connections.
struct CheckRequests {
    group: String,
    language: LanguageCode,
    listener: Arc<dyn TransactionListener>,
}

impl RequestHandler for CheckRequests {
    fn handle(
        self: Arc<Self>,
        channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            if req.code != request_code::CHECK_TRANSACTION_STATE {
                return Some(
                    RemotingCommand::response(response_code::REQUEST_CODE_NOT_SUPPORTED)
                        .with_remark(format!(" request type {} not supported", req.code)),
                );
            }
            // Oneway: nothing to answer now. The listener may take a while, so the answer
            // (END_TRANSACTION) is sent from a task of its own.
            tokio::spawn(async move {
                if let Err(e) = self.check(&channel, &req).await {
                    tracing::warn!(peer = %channel.peer_addr(), error = %e, "transaction check-back not answered");
                }
            });
            None
        })
    }
}

impl CheckRequests {
    /// `ClientRemotingProcessor.checkTransactionState` + `checkTransactionState`: run
    /// `check_local` on the body's message and answer on the connection the check came on.
    async fn check(&self, channel: &Channel, req: &RemotingCommand) -> Result<(), ClientError> {
        let header: CheckTransactionStateRequestHeader = req.header()?;
        let mut msg = message::decode_messages(&req.body)?
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::InvalidArgument("check-back without a message".into()))?;
        if let Some(group) = msg.properties.get(property::PGROUP) {
            if *group != self.group {
                return Err(ClientError::InvalidArgument(format!(
                    "check-back for producer group {group}, not {}",
                    self.group
                )));
            }
        }
        let msg_id = msg.client_msg_id().to_owned();
        msg.properties
            .insert(property::TRANSACTION_ID.to_owned(), msg_id.clone());
        let listener = self.listener.clone();
        let state = run_blocking(move || listener.check_local(&msg)).await;
        let end = EndTransactionRequestHeader {
            producer_group: self.group.clone(),
            tran_state_table_offset: header.tran_state_table_offset,
            commit_log_offset: header.commit_log_offset,
            commit_or_rollback: state.wire_value(),
            from_transaction_check: Some(true),
            msg_id,
            transaction_id: header.transaction_id,
            bname: None,
        };
        let mut cmd = RemotingCommand::request(request_code::END_TRANSACTION).with_header(&end);
        cmd.language = self.language;
        tracing::debug!(state = ?state, offset = end.commit_log_offset, "answering a transaction check-back");
        channel
            .invoke_oneway(cmd)
            .await
            .map_err(|e| ClientError::remoting(&channel.peer_addr().to_string(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values() {
        assert_eq!(LocalTransactionState::CommitMessage.wire_value(), 8);
        assert_eq!(LocalTransactionState::RollbackMessage.wire_value(), 12);
        assert_eq!(LocalTransactionState::Unknow.wire_value(), 0);
    }
}
