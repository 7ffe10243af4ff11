//! The check-back service (`TransactionalMessageServiceImpl.check`, docs/broker/transactions.md#check-back).
//!
//! One round, for half-topic queue 0:
//! 1. read every op message from the op progress on: `resolved[half offset] = op offset`;
//! 2. walk the half queue from the half progress up to its end **as of the round's start** (copies
//!    appended by this round are left for the next one), skipping resolved offsets;
//! 3. per unresolved message: discard after `transactionCheckMax` checks (or after the file
//!    reserved time) into `TRANS_CHECK_MAX_TIME_TOPIC`; stop at the first message younger than
//!    `transactionTimeOut` (or its `CHECK_IMMUNITY_TIME_IN_SECONDS`), or at a copy checked less
//!    than `transactionTimeOut` ago; otherwise append a copy with `TRANSACTION_CHECK_TIMES` + 1 and
//!    send CHECK_TRANSACTION_STATE for the copy;
//! 4. commit the new progress: half = where the walk stopped, op = the first op message whose
//!    half message is still ahead of it.
//!
//! Java decides "every op that could resolve this message has been read" from the last op's born
//! time; here the op queue is simply re-read up to its end right before each check, which leaves
//! a smaller window for checking a transaction that has just ended (harmless either way: the
//! producer answers with the same outcome).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rmq_protocol::codes::request_code;
use rmq_protocol::header::CheckTransactionStateRequestHeader;
use rmq_protocol::message::{self, property, sys_flag};
use rmq_protocol::RemotingCommand;
use rmq_store::{GetStatus, PutMessage};

use super::{Progress, Stored, TransactionService};
use crate::topic::{TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};
use crate::{BrokerError, BrokerState};

/// Records fetched per read of the op queue.
const OP_BATCH: i32 = 256;
/// Longest wait for a producer connection's write queue before giving up on one check.
const CHECK_SEND_TIMEOUT: Duration = Duration::from_secs(3);
const HALF_QUEUE: i32 = 0;

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// CHECK_TRANSACTION_STATE requests sent (or attempted: no producer online still counts,
    /// the copy was appended and the check times incremented, as in Java).
    pub checked: u32,
    /// Moved to `TRANS_CHECK_MAX_TIME_TOPIC`.
    pub discarded: u32,
    /// Skipped because an op message resolved them.
    pub resolved: u32,
}

/// Op messages read so far in a round.
struct Ops {
    /// Next op-queue offset to read.
    next: i64,
    /// op-queue offset → the half offset it resolves (`None`: not a valid remove marker).
    by_op: BTreeMap<i64, Option<i64>>,
    /// half offset → op offset.
    resolved: HashMap<i64, i64>,
}

impl Ops {
    /// Reads op messages from `self.next` to the op queue's current end.
    fn refresh(&mut self, s: &BrokerState) {
        loop {
            let r = s.store.get_message(
                TRANS_OP_HALF_TOPIC,
                HALF_QUEUE,
                self.next,
                OP_BATCH,
                usize::MAX,
                &|_| true,
            );
            match r.status {
                GetStatus::Found => {
                    for rec in &r.messages {
                        let Ok((m, _)) = message::decode_message(rec) else {
                            continue;
                        };
                        let half = (m.tags() == Some(super::REMOVE_TAG))
                            .then(|| std::str::from_utf8(&m.body).ok()?.trim().parse::<i64>().ok())
                            .flatten();
                        if let Some(h) = half {
                            self.resolved.insert(h, m.queue_offset);
                        } else {
                            tracing::warn!(
                                op_offset = m.queue_offset,
                                "ignoring a malformed transaction op message"
                            );
                        }
                        self.by_op.insert(m.queue_offset, half);
                    }
                    self.next = r.next_begin_offset;
                }
                GetStatus::OffsetTooSmall | GetStatus::OffsetFoundNull | GetStatus::MessageWasRemoving
                    if r.next_begin_offset > self.next =>
                {
                    self.next = r.next_begin_offset
                }
                GetStatus::NoMatchedMessage if r.next_begin_offset > self.next => {
                    self.next = r.next_begin_offset
                }
                _ => return,
            }
        }
    }

    /// The op progress after the half walk stopped at `half`: the first op whose half message
    /// is at or after `half` (it may still be needed), else the end of what was read.
    fn progress(&self, half: i64) -> i64 {
        self.by_op
            .iter()
            .find(|(_, h)| h.is_some_and(|h| h >= half))
            .map_or(self.next, |(op, _)| *op)
    }
}

/// A half message read at a queue offset, or where to continue when the offset is gone.
enum HalfRead {
    Message(Bytes),
    Skip(i64),
    End,
}

fn read_half(s: &BrokerState, offset: i64) -> HalfRead {
    let r = s
        .store
        .get_message(TRANS_HALF_TOPIC, HALF_QUEUE, offset, 1, usize::MAX, &|_| true);
    match r.status {
        GetStatus::Found => r
            .messages
            .into_iter()
            .next()
            .map_or(HalfRead::End, HalfRead::Message),
        GetStatus::OffsetTooSmall
        | GetStatus::OffsetFoundNull
        | GetStatus::MessageWasRemoving
        | GetStatus::NoMatchedMessage
            if r.next_begin_offset > offset =>
        {
            HalfRead::Skip(r.next_begin_offset)
        }
        _ => HalfRead::End,
    }
}

/// How long a half message may wait for its check: the store's `fileReservedTime` (hours) in
/// ms. One born longer ago is discarded unchecked, as Java's `needSkip` does
/// (`getFileReservedTime() * 3600L * 1000`): its commitlog file may be deleted at any time.
fn file_reserved_time_ms(hours: u64) -> i64 {
    i64::try_from(hours).unwrap_or(i64::MAX).saturating_mul(3_600_000)
}

/// `CHECK_IMMUNITY_TIME_IN_SECONDS` × 1000, or the timeout (also for -1 or a bad value).
fn immunity_ms(half: &Stored, timeout_ms: i64) -> (i64, bool) {
    match half.property(property::CHECK_IMMUNITY_TIME_IN_SECONDS) {
        None => (timeout_ms, false),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(secs) if secs != -1 => (secs.saturating_mul(1000), true),
            _ => (timeout_ms, true),
        },
    }
}

impl TransactionService {
    /// Runs one check round now (the periodic task calls this; tests call it directly).
    pub async fn check_now(&self, s: &BrokerState) -> Result<CheckStats, BrokerError> {
        let _round = self.round.lock().await;
        let progress = Progress::load(s);
        let mut stats = CheckStats::default();
        let half_end = s.store.max_offset_in_queue(TRANS_HALF_TOPIC, HALF_QUEUE);
        let mut half = progress
            .half_offset
            .max(s.store.min_offset_in_queue(TRANS_HALF_TOPIC, HALF_QUEUE));
        if half >= half_end {
            return Ok(stats);
        }
        s.topics.ensure(TRANS_HALF_TOPIC, 1, 6)?;
        let mut ops = Ops {
            next: progress
                .op_offset
                .max(s.store.min_offset_in_queue(TRANS_OP_HALF_TOPIC, HALF_QUEUE)),
            by_op: BTreeMap::new(),
            resolved: HashMap::new(),
        };
        ops.refresh(s);
        let walked = self.walk(s, &mut half, half_end, &mut ops, &mut stats).await;
        let next = Progress {
            half_offset: half,
            op_offset: ops.progress(half),
        };
        if next != progress {
            next.commit(s);
        }
        if stats != CheckStats::default() {
            tracing::info!(
                ?stats,
                half_offset = next.half_offset,
                op_offset = next.op_offset,
                "transaction check round"
            );
        }
        walked.map(|()| stats)
    }

    /// Step 2-3 of a round: walks the half queue from `*half` to `half_end`. On an error,
    /// `*half` is the first message not handled, so the progress saved stays exact.
    async fn walk(
        &self,
        s: &BrokerState,
        half: &mut i64,
        half_end: i64,
        ops: &mut Ops,
        stats: &mut CheckStats,
    ) -> Result<(), BrokerError> {
        let timeout_ms = s.config.transaction_timeout_ms as i64;
        let check_max = s.config.transaction_check_max;
        let reserved_ms = file_reserved_time_ms(s.config.store.file_reserved_time_hours);
        while *half < half_end {
            if ops.resolved.contains_key(half) {
                stats.resolved += 1;
                *half += 1;
                continue;
            }
            let record = match read_half(s, *half) {
                HalfRead::Message(r) => r,
                HalfRead::Skip(next) => {
                    *half = next;
                    continue;
                }
                HalfRead::End => break,
            };
            let Some(mut msg) = Stored::decode(&record) else {
                tracing::warn!(half_offset = *half, "skipping an undecodable half message");
                *half += 1;
                continue;
            };
            let age_ms = s.clock.now_ms() - msg.msg.born_timestamp;
            let times: i32 = msg
                .property(property::TRANSACTION_CHECK_TIMES)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            if times >= check_max || age_ms > reserved_ms {
                self.discard(s, &msg).await?;
                stats.discarded += 1;
                *half += 1;
                continue;
            }
            set_property(
                &mut msg,
                property::TRANSACTION_CHECK_TIMES,
                (times + 1).to_string(),
            );
            let (immunity, explicit) = immunity_ms(&msg, timeout_ms);
            if explicit && age_ms < immunity {
                // An immunity copy records its original's offset; the original's op resolves it.
                let original = msg
                    .property(property::TRAN_PREPARED_QUEUE_OFFSET)
                    .and_then(|v| v.parse::<i64>().ok());
                if original.is_some_and(|o| ops.resolved.contains_key(&o)) {
                    stats.resolved += 1;
                } else {
                    if original.is_none() {
                        let own = msg.msg.queue_offset.to_string();
                        set_property(&mut msg, property::TRAN_PREPARED_QUEUE_OFFSET, own);
                    }
                    self.append_copy(s, &msg).await?;
                }
                *half += 1;
                continue;
            }
            if !explicit && (0..immunity).contains(&age_ms) {
                break; // too young; later messages are younger still
            }
            // A copy was the subject of the previous check: give the producer a full timeout to
            // answer it before asking again (Java relies on interval > timeout for this).
            let since_check_ms = s.clock.now_ms() - msg.msg.store_timestamp;
            if times > 0 && (0..timeout_ms).contains(&since_check_ms) {
                break;
            }
            ops.refresh(s);
            let original = msg
                .property(property::TRAN_PREPARED_QUEUE_OFFSET)
                .and_then(|v| v.parse::<i64>().ok());
            if ops.resolved.contains_key(half) || original.is_some_and(|o| ops.resolved.contains_key(&o)) {
                stats.resolved += 1;
                *half += 1;
                continue;
            }
            let copy = self.append_copy(s, &msg).await?;
            self.send_check(s, copy).await;
            stats.checked += 1;
            *half += 1;
        }
        Ok(())
    }

    /// Appends a copy of a half message (`putBackHalfMsgQueue`) and returns the stored copy.
    async fn append_copy(&self, s: &BrokerState, half: &Stored) -> Result<Bytes, BrokerError> {
        let m = &half.msg;
        let copy = PutMessage {
            topic: TRANS_HALF_TOPIC.to_string(),
            queue_id: m.queue_id,
            flag: m.flag,
            body: m.body.clone(),
            properties: half.raw_properties.clone(),
            tags_code: m.tags_code(),
            sys_flag: m.sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: 0,
        };
        let r = s.store.put_message(copy).await;
        if !r.is_stored() {
            // Stop the round here: progress is not advanced past this message.
            return Err(BrokerError::TransactionPut {
                what: "the half message copy",
                status: r.status,
            });
        }
        s.store
            .read_record(r.wrote_offset)
            .ok_or(BrokerError::Transaction("the half message copy is not readable"))
    }

    /// Moves a half message that was checked too often to `TRANS_CHECK_MAX_TIME_TOPIC`
    /// (`resolveDiscardMsg`). Unlike Java, compression bits of sysFlag are kept.
    async fn discard(&self, s: &BrokerState, half: &Stored) -> Result<(), BrokerError> {
        let (_, created) = s.topics.ensure(TRANS_CHECK_MAX_TIME_TOPIC, 1, 6)?;
        if created {
            // `createTopicOfTranCheckMaxTime` registers with the name servers at once, so the
            // discarded message can be queried right away (not only after the 30 s re-register).
            crate::register::register_all(s, true).await;
        }
        let m = &half.msg;
        let msg = PutMessage {
            topic: TRANS_CHECK_MAX_TIME_TOPIC.to_string(),
            queue_id: 0,
            flag: m.flag,
            body: m.body.clone(),
            properties: half.raw_properties.clone(),
            tags_code: m.tags_code(),
            sys_flag: sys_flag::with_transaction_type(m.sys_flag, sys_flag::TRANSACTION_NOT_TYPE),
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: 0,
        };
        let r = s.store.put_message(msg).await;
        if !r.is_stored() {
            return Err(BrokerError::TransactionPut {
                what: "the discarded half message",
                status: r.status,
            });
        }
        self.half_counts.add(
            half.property(property::REAL_TOPIC).unwrap_or_default(),
            -1,
            s.clock.now_ms(),
        );
        tracing::warn!(
            half_offset = m.queue_offset,
            producer_group = half.property(property::PGROUP).unwrap_or(""),
            "half message discarded after too many checks"
        );
        Ok(())
    }

    /// CHECK_TRANSACTION_STATE (39), oneway, to one connection of the message's producer group.
    /// Nobody online → nothing is sent; the next round checks the copy again.
    async fn send_check(&self, s: &BrokerState, copy: Bytes) {
        let Some(stored) = Stored::decode(&copy) else {
            return;
        };
        let mut m = stored.msg;
        let group = m.properties.get(property::PGROUP).cloned().unwrap_or_default();
        // A gRPC producer is in the registry too (under its topics), on a channel that relays
        // the check as a Telemetry command.
        let Some(channel) = self.producer_channel(s, &group) else {
            tracing::debug!(producer_group = %group, "no producer online for a transaction check");
            return;
        };
        if let Some(t) = m.properties.get(property::REAL_TOPIC) {
            m.topic = t.clone();
        }
        if let Some(q) = m.properties.get(property::REAL_QID).and_then(|q| q.parse().ok()) {
            m.queue_id = q;
        }
        let uniq = m.properties.get(property::UNIQ_KEY).cloned();
        let header = CheckTransactionStateRequestHeader {
            tran_state_table_offset: m.queue_offset,
            commit_log_offset: m.commit_log_offset,
            msg_id: uniq.clone(),
            transaction_id: uniq,
            offset_msg_id: Some(m.msg_id.clone()),
            bname: None,
        };
        let mut body = BytesMut::new();
        message::encode_message(&m, &mut body);
        let cmd = RemotingCommand::request(request_code::CHECK_TRANSACTION_STATE)
            .with_header(&header)
            .with_body(body.freeze());
        match tokio::time::timeout(CHECK_SEND_TIMEOUT, channel.invoke_oneway(cmd)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(peer = %channel.peer_addr(), error = %e, "transaction check not sent")
            }
            Err(_) => {
                tracing::warn!(peer = %channel.peer_addr(), "transaction check not sent: connection busy")
            }
        }
    }
}

/// Sets a property on a decoded half message, in both the map and the raw string (re-encoded
/// with sorted keys; Java re-serializes its map too).
fn set_property(half: &mut Stored, key: &str, value: String) {
    half.msg.properties.insert(key.to_string(), value);
    half.raw_properties = message::encode_property_map(&half.msg.properties);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_reserved_time_is_hours_in_ms() {
        assert_eq!(file_reserved_time_ms(72), 259_200_000);
        assert_eq!(file_reserved_time_ms(1), 3_600_000);
        assert_eq!(file_reserved_time_ms(0), 0);
        assert_eq!(file_reserved_time_ms(u64::MAX), i64::MAX);
    }

    #[test]
    fn op_progress_stops_at_the_first_pending_op() {
        let mut ops = Ops {
            next: 5,
            by_op: BTreeMap::new(),
            resolved: HashMap::new(),
        };
        ops.by_op.insert(0, Some(1));
        ops.by_op.insert(1, None);
        ops.by_op.insert(2, Some(9));
        ops.by_op.insert(3, Some(2));
        ops.by_op.insert(4, Some(3));
        assert_eq!(ops.progress(4), 2);
        assert_eq!(ops.progress(10), 5);
        assert_eq!(ops.progress(0), 0);
    }
}
