//! Transactions over gRPC (docs/protocol/grpc.md section 10): EndTransaction, and the check-back
//! of orphaned transactions sent to a producer on its Telemetry stream.
//!
//! EndTransaction names a transaction by its id (the half message's `UNIQ_KEY`) and topic; the
//! broker's END_TRANSACTION wants the half message's queue and commit log offsets. Those are
//! remembered here, as the Proxy does, from the send's result and from each check-back, and
//! forgotten once the transaction ends or after [`KEPT_FOR`] (the check-back then brings them
//! again).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmq_grpc_proto::v2::{self, *};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::EndTransactionRequestHeader;
use rmq_protocol::message::sys_flag;
use rmq_protocol::RemotingCommand;

use super::{broker_status, ok_status, resource_name, status, validate_topic};
use crate::BrokerState;

/// How long the offsets of an unresolved transaction are kept (the longest recovery time a
/// producer may ask for, `maxTransactionRecoverySecond`).
const KEPT_FOR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
struct Half {
    tran_state_table_offset: i64,
    commit_log_offset: i64,
    since: Instant,
}

/// Open transactions by (producer group = topic, transaction id).
#[derive(Debug, Clone, Default)]
pub(crate) struct Transactions {
    open: Arc<Mutex<HashMap<(String, String), Half>>>,
}

impl Transactions {
    pub(crate) fn remember(
        &self,
        group: &str,
        transaction_id: &str,
        tran_state_table_offset: i64,
        commit_log_offset: i64,
    ) {
        let now = Instant::now();
        let mut open = self.open.lock();
        if open.len() >= 1024 && open.len().is_power_of_two() {
            open.retain(|_, h| now.duration_since(h.since) < KEPT_FOR);
        }
        open.insert(
            (group.to_string(), transaction_id.to_string()),
            Half {
                tran_state_table_offset,
                commit_log_offset,
                since: now,
            },
        );
    }

    fn find(&self, group: &str, transaction_id: &str) -> Option<Half> {
        let key = (group.to_string(), transaction_id.to_string());
        let open = self.open.lock();
        open.get(&key).copied().filter(|h| h.since.elapsed() < KEPT_FOR)
    }

    fn forget(&self, group: &str, transaction_id: &str) {
        self.open
            .lock()
            .remove(&(group.to_string(), transaction_id.to_string()));
    }
}

/// EndTransaction: END_TRANSACTION for the half message the id names (commit, rollback, or
/// "unknown", which leaves it to the next check).
pub(super) async fn end(
    s: &BrokerState,
    txs: &Transactions,
    peer: SocketAddr,
    req: &EndTransactionRequest,
) -> EndTransactionResponse {
    let answer = |st| EndTransactionResponse { status: Some(st) };
    let topic = resource_name(req.topic.as_ref()).to_string();
    if let Err(st) = validate_topic(&topic) {
        return answer(st);
    }
    if req.transaction_id.trim().is_empty() {
        return answer(status(
            Code::InvalidTransactionId,
            "transaction id cannot be empty",
        ));
    }
    let commit_or_rollback = match TransactionResolution::try_from(req.resolution) {
        Ok(TransactionResolution::Commit) => sys_flag::TRANSACTION_COMMIT_TYPE,
        Ok(TransactionResolution::Rollback) => sys_flag::TRANSACTION_ROLLBACK_TYPE,
        _ => sys_flag::TRANSACTION_NOT_TYPE,
    };
    let Some(half) = txs.find(&topic, &req.transaction_id) else {
        return answer(status(Code::InternalServerError, "cannot found transaction data"));
    };
    let header = EndTransactionRequestHeader {
        producer_group: topic.clone(),
        tran_state_table_offset: half.tran_state_table_offset,
        commit_log_offset: half.commit_log_offset,
        commit_or_rollback,
        from_transaction_check: Some(req.source == TransactionSource::SourceServerCheck as i32),
        msg_id: req.message_id.clone(),
        transaction_id: Some(req.transaction_id.clone()),
        bname: None,
    };
    let remoting = RemotingCommand::request(request_code::END_TRANSACTION).with_header(&header);
    let resp = crate::processor::in_process(s, peer, &remoting).await;
    if resp.code != response_code::SUCCESS {
        return answer(broker_status(&resp));
    }
    if commit_or_rollback != sys_flag::TRANSACTION_NOT_TYPE {
        txs.forget(&topic, &req.transaction_id);
    }
    answer(ok_status())
}

/// The check-back of an orphaned transaction (a CHECK_TRANSACTION_STATE the broker sent to the
/// producer's channel): the half message under its real topic and queue, and what
/// END_TRANSACTION needs to find it.
#[derive(Debug, Clone)]
pub(crate) struct OrphanCheck {
    pub(crate) message: rmq_protocol::message::MessageExt,
    pub(crate) transaction_id: String,
    pub(crate) tran_state_table_offset: i64,
    pub(crate) commit_log_offset: i64,
}

/// The Telemetry command asking a producer about an orphaned transaction.
pub(super) fn recover_command(txs: &Transactions, check: OrphanCheck, now_ms: i64) -> TelemetryCommand {
    let group = check
        .message
        .properties
        .get(rmq_protocol::message::property::PGROUP)
        .cloned()
        .unwrap_or_else(|| check.message.topic.clone());
    txs.remember(
        &group,
        &check.transaction_id,
        check.tran_state_table_offset,
        check.commit_log_offset,
    );
    let topic = check.message.topic.clone();
    TelemetryCommand {
        status: Some(ok_status()),
        command: Some(telemetry_command::Command::RecoverOrphanedTransactionCommand(
            v2::RecoverOrphanedTransactionCommand {
                message: Some(super::message::to_grpc(&check.message, &topic, now_ms)),
                transaction_id: check.transaction_id,
            },
        )),
    }
}
