//! END_TRANSACTION (37), usually oneway: a producer commits or rolls back a half message, on its
//! own (`fromTransactionCheck=false`) or answering CHECK_TRANSACTION_STATE (`true`).

use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::EndTransactionRequestHeader;
use rmq_protocol::message::sys_flag;
use rmq_protocol::RemotingCommand;

use super::{error, ok};
use crate::BrokerState;

/// `None` (no response) for "unknown" (0) and any value other than commit/rollback, as Java.
pub(super) async fn end_transaction(s: &BrokerState, req: &RemotingCommand) -> Option<RemotingCommand> {
    let h = match req.header::<EndTransactionRequestHeader>() {
        Ok(h) => h,
        Err(e) => return Some(error(req, code::SYSTEM_ERROR, format!("bad request header: {e}"))),
    };
    if !s.is_master() {
        return Some(error(
            req,
            code::SLAVE_NOT_AVAILABLE,
            "Message store is slave mode, so end transaction is forbidden. ",
        ));
    }
    let from_check = h.from_transaction_check.unwrap_or(false);
    let outcome = match h.commit_or_rollback {
        sys_flag::TRANSACTION_COMMIT_TYPE => "commit",
        sys_flag::TRANSACTION_ROLLBACK_TYPE => "rollback",
        other => {
            tracing::debug!(
                producer_group = %h.producer_group,
                msg_id = %h.msg_id,
                from_check,
                state = other,
                remark = req.remark.as_deref().unwrap_or(""),
                "transaction state unknown; the half message waits for a check"
            );
            return None;
        }
    };
    match s.transactions.end(s, &h).await {
        Ok(()) => {
            tracing::debug!(producer_group = %h.producer_group, msg_id = %h.msg_id, from_check, outcome, "transaction ended");
            Some(ok(req))
        }
        Err(e) => {
            tracing::warn!(
                producer_group = %h.producer_group,
                commit_log_offset = h.commit_log_offset,
                from_check,
                outcome,
                remark = %e.remark,
                "END_TRANSACTION failed"
            );
            Some(error(req, e.code, e.remark))
        }
    }
}
