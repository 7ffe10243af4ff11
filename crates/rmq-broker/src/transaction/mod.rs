//! Transactional messages (docs/broker/transactions.md).
//!
//! - A send with `TRAN_MSG=true` is stored as a **half message** in `RMQ_SYS_TRANS_HALF_TOPIC`
//!   queue 0 ([`to_half`]), with `REAL_TOPIC`/`REAL_QID` naming where it goes on commit. Consumers
//!   never see it: nobody subscribes to the half topic.
//! - END_TRANSACTION ([`TransactionService::end`]) commits (re-puts the half message to its real
//!   topic with the COMMIT sysFlag) or rolls back; either way an **op message** in
//!   `RMQ_SYS_TRANS_OP_HALF_TOPIC` (tag `d`, body = the half message's queue offset) marks the
//!   half message as resolved.
//! - The check service (`check`) periodically walks the half queue, skips resolved messages, and
//!   asks the producer group about the others (CHECK_TRANSACTION_STATE), discarding a message into
//!   `TRANS_CHECK_MAX_TIME_TOPIC` after `transactionCheckMax` checks.
//!
//! Durability: everything lives in the commitlog; the only extra state is the check progress
//! (half and op queue offsets already handled), kept as consumer offsets of `CID_RMQ_SYS_TRANS`.
//! Progress lost in a crash only means rescanning: resolved messages are skipped again. After a restart the
//! half and op queues are rescanned from that progress, so committed messages stay committed,
//! rolled-back ones are never delivered, and pending ones are checked again.

mod check;
mod counts;

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use rmq_protocol::codes::response_code as code;
use rmq_protocol::header::EndTransactionRequestHeader;
use rmq_protocol::message::{self, property, sys_flag, MessageExt, UniqIdGenerator};
use rmq_remoting::Channel;
use rmq_store::{PutMessage, PutResult, PutStatus};

pub use check::CheckStats;

use crate::topic::{TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};
use crate::BrokerState;

/// Consumer group under which Java stores the check progress (`CID_RMQ_SYS_TRANS`).
pub const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// Tag of op messages (`TransactionalMessageUtil.REMOVETAG`).
pub const REMOVE_TAG: &str = "d";

/// Is this send a half message? (`Boolean.parseBoolean(TRAN_MSG)`).
pub fn is_half(properties: &str) -> bool {
    message::decode_properties(properties)
        .get(property::TRAN_MSG)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Rewrites a send into its half message (`TransactionalMessageBridge.parseHalfMessageInner`):
/// `REAL_TOPIC`/`REAL_QID` added, transaction bits cleared (so it gets a consume-queue entry in
/// the half topic), topic = half topic, queue 0.
pub fn to_half(msg: PutMessage) -> PutMessage {
    let mut properties = msg.properties;
    for (k, v) in [
        (property::REAL_TOPIC, msg.topic.clone()),
        (property::REAL_QID, msg.queue_id.to_string()),
    ] {
        if !properties.is_empty() && !properties.ends_with(message::PROPERTY_SEPARATOR) {
            properties.push(message::PROPERTY_SEPARATOR);
        }
        properties.push_str(k);
        properties.push(message::NAME_VALUE_SEPARATOR);
        properties.push_str(&v);
    }
    PutMessage {
        topic: TRANS_HALF_TOPIC.to_string(),
        queue_id: 0,
        sys_flag: sys_flag::with_transaction_type(msg.sys_flag, sys_flag::TRANSACTION_NOT_TYPE),
        properties,
        ..msg
    }
}

/// A failed END_TRANSACTION: response code and remark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndError {
    pub code: i32,
    pub remark: String,
}

fn end_error(code: i32, remark: impl Into<String>) -> EndError {
    EndError {
        code,
        remark: remark.into(),
    }
}

/// Check progress: the next half-queue offset to examine and the first op-queue offset not yet
/// known to be handled. Stored as Java does: consumer offsets of [`CHECK_GROUP`] on the half and
/// op queues (`consumerOffset.json`, flushed with the other consumer offsets and at shutdown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub half_offset: i64,
    pub op_offset: i64,
}

impl Progress {
    fn load(s: &BrokerState) -> Progress {
        let q = |topic| s.offsets.query(CHECK_GROUP, topic, 0).unwrap_or(0);
        Progress {
            half_offset: q(TRANS_HALF_TOPIC),
            op_offset: q(TRANS_OP_HALF_TOPIC),
        }
    }

    fn commit(&self, s: &BrokerState) {
        s.offsets
            .commit(CHECK_GROUP, TRANS_HALF_TOPIC, 0, self.half_offset);
        s.offsets
            .commit(CHECK_GROUP, TRANS_OP_HALF_TOPIC, 0, self.op_offset);
    }
}

/// Transaction state shared by END_TRANSACTION and the check service.
pub struct TransactionService {
    /// Serializes check rounds (held across the round's awaits, hence tokio's mutex).
    round: tokio::sync::Mutex<()>,
    next_channel: AtomicUsize,
    uniq: UniqIdGenerator,
    /// Half messages per real topic (`rocketmq_half_messages`).
    half_counts: counts::HalfCounts,
}

/// A stored message and its raw properties string (kept byte for byte on re-puts).
pub(crate) struct Stored {
    pub msg: MessageExt,
    pub raw_properties: String,
}

impl Stored {
    pub(crate) fn decode(record: &[u8]) -> Option<Stored> {
        let (msg, _) = message::decode_message(record).ok()?;
        let raw_properties = match rmq_store::record::check(record, false) {
            rmq_store::record::RecordCheck::Message(info) => {
                String::from_utf8_lossy(info.properties).into_owned()
            }
            _ => return None,
        };
        Some(Stored { msg, raw_properties })
    }

    pub(crate) fn property(&self, key: &str) -> Option<&str> {
        self.msg.properties.get(key).map(String::as_str)
    }
}

/// The periodic check-back task: one round every `transactionCheckInterval`, the first one
/// interval after start.
pub fn spawn_check_service(s: std::sync::Arc<BrokerState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = std::time::Duration::from_millis(s.config.transaction_check_interval_ms.max(1));
        loop {
            tokio::time::sleep(period).await;
            if !s.is_master() {
                continue;
            }
            if let Err(e) = s.transactions.check_now(&s).await {
                tracing::warn!(error = %e, "transaction check round failed");
            }
        }
    })
}

impl TransactionService {
    pub fn new(config: &crate::BrokerConfig) -> Result<TransactionService, crate::BrokerError> {
        Ok(TransactionService {
            round: tokio::sync::Mutex::new(()),
            next_channel: AtomicUsize::new(0),
            uniq: UniqIdGenerator::with_ip(config.store_host(config.listen_port).ip()),
            half_counts: counts::HalfCounts::load(&config.store.config_dir())?,
        })
    }

    /// A half message of `real_topic` was stored.
    pub fn half_stored(&self, real_topic: &str, now_ms: i64) {
        self.half_counts.add(real_topic, 1, now_ms);
    }

    /// Half messages not yet ended, per real topic (`rocketmq_half_messages`).
    pub fn half_counts(&self) -> Vec<(String, i64)> {
        self.half_counts.snapshot()
    }

    /// Writes `config/transactionMetrics` when the counts changed.
    pub fn persist_counts(&self) -> Result<(), crate::BrokerError> {
        self.half_counts.persist_if_changed()
    }

    /// The committed check progress (waits for a running check round).
    pub async fn progress(&self, s: &BrokerState) -> Progress {
        let _round = self.round.lock().await;
        Progress::load(s)
    }

    /// One live connection of a producer group, round-robin (`ProducerManager.getAvailableChannel`).
    fn producer_channel(&self, s: &BrokerState, group: &str) -> Option<Channel> {
        let channels: Vec<Channel> = s
            .clients
            .producer_conns(group)
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.channel)
            .filter(|c| !c.is_closed())
            .collect();
        if channels.is_empty() {
            return None;
        }
        let i = self.next_channel.fetch_add(1, Ordering::Relaxed) % channels.len();
        Some(channels[i].clone())
    }

    /// END_TRANSACTION with COMMIT (8) or ROLLBACK (12) (`EndTransactionProcessor`).
    pub async fn end(&self, s: &BrokerState, h: &EndTransactionRequestHeader) -> Result<(), EndError> {
        let not_found = || end_error(code::SYSTEM_ERROR, "Find prepared transaction message failed");
        let record = s.store.read_record(h.commit_log_offset).ok_or_else(not_found)?;
        let half = Stored::decode(&record).ok_or_else(not_found)?;
        // Java reads whatever record is there; insisting on the half topic keeps a stray offset
        // from re-putting an ordinary message.
        if half.msg.topic != TRANS_HALF_TOPIC {
            return Err(not_found());
        }
        if half.property(property::PGROUP) != Some(h.producer_group.as_str()) {
            return Err(end_error(code::SYSTEM_ERROR, "The producer group wrong"));
        }
        if half.msg.queue_offset != h.tran_state_table_offset {
            return Err(end_error(
                code::SYSTEM_ERROR,
                "The transaction state table offset wrong",
            ));
        }
        if half.msg.commit_log_offset != h.commit_log_offset {
            return Err(end_error(code::SYSTEM_ERROR, "The commit log offset wrong"));
        }
        if h.commit_or_rollback == sys_flag::TRANSACTION_COMMIT_TYPE {
            let mut real = committed(&half, h.commit_log_offset)?;
            // A committed message with a deliver time waits for it from the commit on (5.x).
            if let Err(refused) = s.timer.apply_timer(&mut real) {
                return Err(end_error(refused.code(), refused.remark().to_string()));
            }
            let r = s.store.put_message(real).await;
            if !r.is_stored() {
                return Err(put_failure(&r));
            }
        }
        self.write_op(s, &half.msg).await;
        let real_topic = half.property(property::REAL_TOPIC).unwrap_or_default();
        let commit = h.commit_or_rollback == sys_flag::TRANSACTION_COMMIT_TYPE;
        let now = s.clock.now_ms();
        self.half_counts.add(real_topic, -1, now);
        s.metrics
            .transaction_ended(real_topic, commit, half.msg.born_timestamp, now);
        Ok(())
    }

    /// Marks a half message resolved (`deletePrepareMessage`). A failure is logged: the message
    /// will be checked again, which the producer answers the same way.
    async fn write_op(&self, s: &BrokerState, half: &MessageExt) {
        let props = message::encode_properties(&[
            (property::TAGS, REMOVE_TAG.to_string()),
            (property::WAIT, "false".to_string()),
            (property::UNIQ_KEY, self.uniq.next_id()),
        ]);
        let op = PutMessage {
            topic: TRANS_OP_HALF_TOPIC.to_string(),
            queue_id: half.queue_id,
            flag: 0,
            body: Bytes::from(half.queue_offset.to_string()),
            properties: props,
            tags_code: message::tag_hash(REMOVE_TAG),
            sys_flag: 0,
            born_timestamp: s.clock.now_ms(),
            born_host: s.config.store.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        let r = s.store.put_message(op).await;
        if !r.is_stored() {
            tracing::error!(half_offset = half.queue_offset, status = ?r.status, "transaction op message not stored");
        }
    }
}

/// The real message of a committed half message (`endMessageTransaction`): real topic and queue,
/// COMMIT sysFlag, `preparedTransactionOffset` = the half's commitlog offset. The properties are
/// the half's, verbatim: Java serializes them before removing `REAL_TOPIC`/`REAL_QID`, so the
/// committed record keeps them (and `TRAN_MSG`, `PGROUP`).
fn committed(half: &Stored, half_offset: i64) -> Result<PutMessage, EndError> {
    let m = &half.msg;
    let topic = half
        .property(property::REAL_TOPIC)
        .unwrap_or_default()
        .to_string();
    let queue_id: i32 = half
        .property(property::REAL_QID)
        .and_then(|q| q.parse().ok())
        .ok_or_else(|| end_error(code::SYSTEM_ERROR, "the half message has no valid REAL_QID"))?;
    if topic.is_empty() {
        return Err(end_error(
            code::SYSTEM_ERROR,
            "the half message has no REAL_TOPIC",
        ));
    }
    Ok(PutMessage {
        topic,
        queue_id,
        flag: m.flag,
        body: m.body.clone(),
        properties: half.raw_properties.clone(),
        tags_code: m.tags_code(),
        sys_flag: sys_flag::with_transaction_type(m.sys_flag, sys_flag::TRANSACTION_COMMIT_TYPE),
        born_timestamp: m.born_timestamp,
        born_host: m.born_host,
        reconsume_times: m.reconsume_times,
        prepared_transaction_offset: half_offset,
    })
}

/// `sendFinalMessage`'s mapping of a failed put.
fn put_failure(r: &PutResult) -> EndError {
    match r.status {
        PutStatus::MessageIllegal | PutStatus::PropertiesSizeExceeded => end_error(
            code::MESSAGE_ILLEGAL,
            "the message is illegal, maybe msg body or properties length not matched.",
        ),
        PutStatus::ServiceNotAvailable => {
            end_error(code::SERVICE_NOT_AVAILABLE, "service not available now.")
        }
        PutStatus::OsPageCacheBusy => end_error(
            code::SYSTEM_ERROR,
            "OS page cache busy, please try another machine",
        ),
        _ => end_error(code::SYSTEM_ERROR, "UNKNOWN_ERROR DEFAULT"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_rewrite() {
        let msg = PutMessage {
            topic: "T".into(),
            queue_id: 3,
            flag: 0,
            body: Bytes::from_static(b"x"),
            properties: "TRAN_MSG\u{1}true\u{2}PGROUP\u{1}g".into(),
            tags_code: 0,
            sys_flag: sys_flag::TRANSACTION_PREPARED_TYPE | sys_flag::COMPRESSED,
            born_timestamp: 1,
            born_host: "127.0.0.1:1".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        assert!(is_half(&msg.properties));
        assert!(!is_half("TRAN_MSG\u{1}false"));
        let h = to_half(msg);
        assert_eq!((h.topic.as_str(), h.queue_id), (TRANS_HALF_TOPIC, 0));
        assert_eq!(h.sys_flag, sys_flag::COMPRESSED);
        let p = message::decode_properties(&h.properties);
        assert_eq!(p["REAL_TOPIC"], "T");
        assert_eq!(p["REAL_QID"], "3");
        assert_eq!(p["PGROUP"], "g");
    }
}
