//! Transactional messages end to end against an in-process broker: half messages, END_TRANSACTION,
//! check-back, discard after `transactionCheckMax`, and restarts.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use rmq_broker::Broker;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::CheckTransactionStateRequestHeader;
use rmq_protocol::message::{self, property, sys_flag, MessageExt};
use rmq_protocol::RemotingCommand;
use rmq_remoting::{BoxFuture, Channel, RemotingClient, RequestHandler};
use tokio::sync::mpsc;

const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
const CHECK_MAX_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";

/// The producer side of check-back: answers CHECK_TRANSACTION_STATE with END_TRANSACTION on the
/// same connection, as `ClientRemotingProcessor.checkTransactionState` does.
struct CheckResponder {
    state: Mutex<i32>,
    seen: mpsc::UnboundedSender<(CheckTransactionStateRequestHeader, MessageExt)>,
}

impl RequestHandler for CheckResponder {
    fn handle(
        self: Arc<Self>,
        channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            assert_eq!(req.code, rc::CHECK_TRANSACTION_STATE);
            assert!(req.is_oneway());
            let h: CheckTransactionStateRequestHeader = req.header().unwrap();
            let (msg, _) = message::decode_message(&req.body).unwrap();
            let state = *self.state.lock().unwrap();
            let end = end_request(
                PRODUCER_GROUP,
                h.tran_state_table_offset,
                h.commit_log_offset,
                state,
                true,
                h.msg_id.as_deref().unwrap_or_default(),
            );
            channel.invoke_oneway(end).await.unwrap();
            let _ = self.seen.send((h, msg));
            None
        })
    }
}

fn producer(
    state: i32,
) -> (
    RemotingClient,
    Arc<CheckResponder>,
    mpsc::UnboundedReceiver<(CheckTransactionStateRequestHeader, MessageExt)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let responder = Arc::new(CheckResponder {
        state: Mutex::new(state),
        seen: tx,
    });
    (
        RemotingClient::new().with_handler(responder.clone()),
        responder,
        rx,
    )
}

/// The messages of the real topic's queue 1, read from the store.
fn real_messages(b: &Broker) -> Vec<MessageExt> {
    let r = b
        .state()
        .store
        .get_message(TOPIC, 1, 0, 32, usize::MAX, &|_| true);
    r.messages
        .iter()
        .map(|rec| message::decode_message(rec).unwrap().0)
        .collect()
}

#[tokio::test]
async fn commit_puts_the_message_into_the_real_topic_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let half = send_half(&client, &a, "hello", "UNIQ-1").await;
    assert_eq!(half.queue_offset, 0);
    assert_eq!(
        max_offset(&client, &a, TOPIC, 1).await,
        0,
        "a half message is invisible"
    );
    assert_eq!(max_offset(&client, &a, HALF_TOPIC, 0).await, 1);

    end_oneway(&client, &a, &half, sys_flag::TRANSACTION_COMMIT_TYPE).await;
    wait_max_offset(&client, &a, TOPIC, 1, 1).await;
    wait_max_offset(&client, &a, OP_TOPIC, 0, 1).await;

    let msgs = real_messages(&broker);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(&m.body[..], b"hello");
    assert_eq!(
        sys_flag::transaction_type(m.sys_flag),
        sys_flag::TRANSACTION_COMMIT_TYPE
    );
    assert_eq!(m.prepared_transaction_offset, half.commit_log_offset);
    assert_eq!(m.properties[property::UNIQ_KEY], "UNIQ-1");
    assert_eq!(m.properties[property::PGROUP], PRODUCER_GROUP);
    assert_eq!(m.properties[property::TRAN_MSG], "true", "kept, as Java does");

    // The op message: tag "d", body = the half offset.
    let op = broker
        .state()
        .store
        .get_message(OP_TOPIC, 0, 0, 1, usize::MAX, &|_| true);
    let (op, _) = message::decode_message(&op.messages[0]).unwrap();
    assert_eq!(op.tags(), Some("d"));
    assert_eq!(&op.body[..], b"0");

    // A check round finds it resolved; nothing is delivered twice.
    let stats = broker
        .state()
        .transactions
        .check_now(broker.state())
        .await
        .unwrap();
    assert_eq!((stats.checked, stats.resolved, stats.discarded), (0, 1, 0));
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 1);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn rollback_never_appears() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let half = send_half(&client, &a, "nope", "UNIQ-2").await;
    end_oneway(&client, &a, &half, sys_flag::TRANSACTION_ROLLBACK_TYPE).await;
    wait_max_offset(&client, &a, OP_TOPIC, 0, 1).await;
    let stats = broker
        .state()
        .transactions
        .check_now(broker.state())
        .await
        .unwrap();
    assert_eq!((stats.checked, stats.resolved), (0, 1));
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn end_transaction_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let half = send_half(&client, &a, "x", "UNIQ-3").await;
    let commit = sys_flag::TRANSACTION_COMMIT_TYPE;
    for (req, remark) in [
        (
            end_request(
                "other",
                half.queue_offset,
                half.commit_log_offset,
                commit,
                false,
                "m",
            ),
            "The producer group wrong",
        ),
        (
            end_request(PRODUCER_GROUP, 7, half.commit_log_offset, commit, false, "m"),
            "The transaction state table offset wrong",
        ),
        (
            end_request(PRODUCER_GROUP, 0, half.commit_log_offset + 1, commit, false, "m"),
            "Find prepared transaction message failed",
        ),
    ] {
        let resp = client.invoke(&a, req, TIMEOUT).await.unwrap();
        assert_eq!(resp.code, code::SYSTEM_ERROR);
        assert_eq!(resp.remark.as_deref(), Some(remark));
    }
    // UNKNOW (0) is not answered at all; the message stays pending.
    let unknown = end_request(
        PRODUCER_GROUP,
        half.queue_offset,
        half.commit_log_offset,
        0,
        false,
        "m",
    );
    assert!(client
        .invoke(&a, unknown, std::time::Duration::from_millis(300))
        .await
        .is_err());
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 0);
    assert_eq!(max_offset(&client, &a, OP_TOPIC, 0).await, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_then_check_back_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.transaction_check_interval_ms = 50; // the real periodic service
                                            // Born long ago, so checked at once; the copy then waits a whole minute before it could be
                                            // checked again, far longer than the END_TRANSACTION answering the first check takes.
    cfg.transaction_timeout_ms = 60_000;
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let (client, _responder, mut seen) = producer(sys_flag::TRANSACTION_COMMIT_TYPE);
    heartbeat(&client, &a, PRODUCER_GROUP).await;
    let half = send_half_born(&client, &a, "later", "UNIQ-4", now_ms() - 600_000).await;
    end_oneway(&client, &a, &half, sys_flag::TRANSACTION_NOT_TYPE).await;

    let (h, msg) = tokio::time::timeout(TIMEOUT, seen.recv()).await.unwrap().unwrap();
    // The check is about the re-appended copy, shown with its real topic and queue.
    assert_eq!(h.tran_state_table_offset, 1);
    assert_eq!(h.msg_id.as_deref(), Some("UNIQ-4"));
    assert_eq!(h.transaction_id.as_deref(), Some("UNIQ-4"));
    assert_eq!(h.offset_msg_id.as_deref(), Some(msg.msg_id.as_str()));
    assert_eq!((msg.topic.as_str(), msg.queue_id), (TOPIC, 1));
    assert_eq!(msg.properties[property::TRANSACTION_CHECK_TIMES], "1");
    assert_eq!(&msg.body[..], b"later");

    wait_max_offset(&client, &a, TOPIC, 1, 1).await;
    // Later rounds see the copy resolved and check nothing more.
    wait_progress(&broker, 2).await;
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 1);
    assert!(seen.try_recv().is_err(), "checked only once");
    let m = &real_messages(&broker)[0];
    assert_eq!(&m.body[..], b"later");
    broker.shutdown().await.unwrap();
}

/// Waits until the check service has moved past `half_offset` half messages.
async fn wait_progress(b: &Broker, half_offset: i64) {
    let what = format!("the check service past half offset {half_offset}");
    common::wait::wait_for(&what, TIMEOUT, || async {
        let p = b.state().transactions.progress(b.state()).await;
        if p.half_offset >= half_offset {
            Ok(())
        } else {
            Err(format!("progress {p:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn check_back_rollback_and_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    let (client, responder, mut seen) = producer(sys_flag::TRANSACTION_NOT_TYPE);
    heartbeat(&client, &a, PRODUCER_GROUP).await;
    send_half(&client, &a, "maybe", "UNIQ-5").await;

    // The producer does not know yet: checked again next round.
    let s = broker.state();
    assert_eq!(s.transactions.check_now(s).await.unwrap().checked, 1);
    let (h1, _) = seen.recv().await.unwrap();
    // Then it rolls back.
    *responder.state.lock().unwrap() = sys_flag::TRANSACTION_ROLLBACK_TYPE;
    assert_eq!(s.transactions.check_now(s).await.unwrap().checked, 1);
    let (h2, m2) = seen.recv().await.unwrap();
    assert!(h2.tran_state_table_offset > h1.tran_state_table_offset);
    assert_eq!(m2.properties[property::TRANSACTION_CHECK_TIMES], "2");
    wait_max_offset(&client, &a, OP_TOPIC, 0, 1).await;
    let stats = s.transactions.check_now(s).await.unwrap();
    assert_eq!((stats.checked, stats.resolved), (0, 1));
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_a_producer_the_message_is_discarded_after_check_max() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.transaction_check_max = 2;
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new(); // never heartbeats: no producer online
    send_half(&client, &a, "orphan", "UNIQ-6").await;
    let s = broker.state();
    for _ in 0..2 {
        let stats = s.transactions.check_now(s).await.unwrap();
        assert_eq!((stats.checked, stats.discarded), (1, 0));
        assert_eq!(max_offset(&client, &a, CHECK_MAX_TOPIC, 0).await, 0);
    }
    let stats = s.transactions.check_now(s).await.unwrap();
    assert_eq!((stats.checked, stats.discarded), (0, 1));
    assert_eq!(max_offset(&client, &a, CHECK_MAX_TOPIC, 0).await, 1);
    assert!(s.topics.get(CHECK_MAX_TOPIC).is_some());
    let r = s
        .store
        .get_message(CHECK_MAX_TOPIC, 0, 0, 1, usize::MAX, &|_| true);
    let (m, _) = message::decode_message(&r.messages[0]).unwrap();
    assert_eq!(&m.body[..], b"orphan");
    assert_eq!(m.properties[property::REAL_TOPIC], TOPIC);
    // Never checked again, never delivered.
    assert_eq!(s.transactions.check_now(s).await.unwrap(), Default::default());
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 0);
    broker.shutdown().await.unwrap();
}

/// A name server that records the topics of every REGISTER_BROKER it gets.
struct RecordingNamesrv {
    registered: mpsc::UnboundedSender<String>,
}

impl RequestHandler for RecordingNamesrv {
    fn handle(
        self: Arc<Self>,
        _channel: Channel,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        Box::pin(async move {
            if req.code == rc::REGISTER_BROKER {
                let _ = self
                    .registered
                    .send(String::from_utf8_lossy(&req.body).into_owned());
            }
            if req.is_oneway() {
                None
            } else {
                Some(RemotingCommand::response_to(&req, code::SUCCESS))
            }
        })
    }
}

/// Java's `createTopicOfTranCheckMaxTime` registers with the name servers as soon as it creates the
/// topic, so the discarded message can be queried (QUERY_MESSAGE needs the route) at once; found by
/// conformance `TransactionTest` (rmq took up to the 30 s periodic re-register).
#[tokio::test]
async fn discard_registers_the_check_max_topic_at_once() {
    let (tx, mut registered) = mpsc::unbounded_channel();
    let namesrv = rmq_remoting::Server::bind("127.0.0.1:0", Arc::new(RecordingNamesrv { registered: tx }))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.transaction_check_max = 0;
    cfg.namesrv_addr = vec![namesrv.local_addr().to_string()];
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    send_half(&client, &a, "orphan", "UNIQ-REG").await;
    let s = broker.state();
    let mut discarded = 0;
    for _ in 0..3 {
        discarded += s.transactions.check_now(s).await.unwrap().discarded;
    }
    assert_eq!(discarded, 1);
    let found = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(body) = registered.recv().await {
            if body.contains(CHECK_MAX_TOPIC) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "no REGISTER_BROKER with {CHECK_MAX_TOPIC} within 5 s of the discard"
    );
    broker.shutdown().await.unwrap();
    namesrv.shutdown().await;
}

#[tokio::test]
async fn a_restart_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.transaction_timeout_ms = 3_600_000; // nothing is old enough to be checked
    let broker = Broker::start(cfg.clone()).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let committed = send_half(&client, &a, "committed", "UNIQ-A").await;
    let rolled_back = send_half(&client, &a, "rolled-back", "UNIQ-B").await;
    let pending = send_half(&client, &a, "pending", "UNIQ-C").await;
    end_oneway(&client, &a, &committed, sys_flag::TRANSACTION_COMMIT_TYPE).await;
    end_oneway(&client, &a, &rolled_back, sys_flag::TRANSACTION_ROLLBACK_TYPE).await;
    wait_max_offset(&client, &a, OP_TOPIC, 0, 2).await;
    let s = broker.state();
    let stats = s.transactions.check_now(s).await.unwrap();
    assert_eq!((stats.checked, stats.resolved), (0, 2));
    assert_eq!(
        s.transactions.progress(s).await.half_offset,
        2,
        "stops at the young pending one"
    );
    broker.shutdown().await.unwrap();
    client.close_all();

    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    assert_eq!(
        broker
            .state()
            .transactions
            .progress(broker.state())
            .await
            .half_offset,
        2,
        "progress persisted"
    );
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 1);
    end_oneway(&client, &a, &pending, sys_flag::TRANSACTION_COMMIT_TYPE).await;
    wait_max_offset(&client, &a, TOPIC, 1, 2).await;
    let s = broker.state();
    let stats = s.transactions.check_now(s).await.unwrap();
    assert_eq!((stats.checked, stats.resolved), (0, 1));
    let bodies: Vec<_> = real_messages(&broker).iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, vec![&b"committed"[..], &b"pending"[..]]);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn check_immunity_defers_the_check_and_the_original_resolves_its_copy() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let a = addr(&broker);
    let (client, _responder, mut seen) = producer(sys_flag::TRANSACTION_ROLLBACK_TYPE);
    heartbeat(&client, &a, PRODUCER_GROUP).await;
    let immune = [(property::CHECK_IMMUNITY_TIME_IN_SECONDS, "3600")];
    let half = send_half_with(&client, &a, "immune", "UNIQ-7", now_ms(), &immune).await;
    let s = broker.state();
    // Immune: not checked; an "immunity copy" remembers the original's offset.
    assert_eq!(s.transactions.check_now(s).await.unwrap().checked, 0);
    assert_eq!(max_offset(&client, &a, HALF_TOPIC, 0).await, 2);
    let r = s.store.get_message(HALF_TOPIC, 0, 1, 1, usize::MAX, &|_| true);
    let (copy, _) = message::decode_message(&r.messages[0]).unwrap();
    assert_eq!(copy.properties[property::TRAN_PREPARED_QUEUE_OFFSET], "0");
    // The producer commits the original; the copy is resolved through it.
    end_oneway(&client, &a, &half, sys_flag::TRANSACTION_COMMIT_TYPE).await;
    wait_max_offset(&client, &a, OP_TOPIC, 0, 1).await;
    let stats = s.transactions.check_now(s).await.unwrap();
    assert_eq!((stats.checked, stats.resolved), (0, 1));
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 1);
    assert!(seen.try_recv().is_err());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn transaction_messages_can_be_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.reject_transaction_message = true;
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let req = RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&rmq_protocol::header::SendMessageRequestHeader {
            producer_group: PRODUCER_GROUP.into(),
            topic: TOPIC.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            sys_flag: sys_flag::TRANSACTION_PREPARED_TYPE,
            properties: Some(message::encode_properties(&[(property::TRAN_MSG, "true")])),
            ..Default::default()
        })
        .with_body(&b"x"[..]);
    let resp = client.invoke(&a, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::NO_PERMISSION);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_half_message_older_than_file_reserved_time_is_discarded_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.store.file_reserved_time_hours = 1;
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let (client, _responder, mut seen) = producer(sys_flag::TRANSACTION_COMMIT_TYPE);
    heartbeat(&client, &a, PRODUCER_GROUP).await;
    // Two hours old: past `fileReservedTime=1`, well inside the 72 h default.
    send_half_born(&client, &a, "stale", "UNIQ-R1", now_ms() - 2 * 3_600_000).await;
    let s = broker.state();
    let stats = s.transactions.check_now(s).await.unwrap();
    assert_eq!((stats.checked, stats.discarded), (0, 1));
    assert_eq!(max_offset(&client, &a, CHECK_MAX_TOPIC, 0).await, 1);
    assert!(seen.try_recv().is_err(), "no check-back for a discarded message");
    assert_eq!(max_offset(&client, &a, TOPIC, 1).await, 0);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_half_message_within_file_reserved_time_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    assert_eq!(cfg.store.file_reserved_time_hours, 72);
    let broker = Broker::start(cfg).await.unwrap();
    let a = addr(&broker);
    let (client, _responder, mut seen) = producer(sys_flag::TRANSACTION_COMMIT_TYPE);
    heartbeat(&client, &a, PRODUCER_GROUP).await;
    send_half_born(&client, &a, "recent", "UNIQ-R2", now_ms() - 2 * 3_600_000).await;
    let s = broker.state();
    let stats = s.transactions.check_now(s).await.unwrap();
    assert_eq!((stats.checked, stats.discarded), (1, 0));
    let (h, _) = tokio::time::timeout(TIMEOUT, seen.recv()).await.unwrap().unwrap();
    assert_eq!(h.msg_id.as_deref(), Some("UNIQ-R2"));
    assert_eq!(max_offset(&client, &a, CHECK_MAX_TOPIC, 0).await, 0);
    wait_max_offset(&client, &a, TOPIC, 1, 1).await;
    broker.shutdown().await.unwrap();
}
