//! POP consumption (5.x POP_MESSAGE / ACK / CHANGE_MESSAGE_INVISIBLETIME / NOTIFICATION /
//! QUERY_ASSIGNMENT / SET_MESSAGE_REQUEST_MODE) against an in-process broker over the remoting
//! protocol. Time is a manual clock: invisible times pass when a test says so, and "not yet"
//! is checked with the clock still before the time (nothing can be due), never by sleeping.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::wait::wait_for;
use rmq_testkit::wait_for_some;

use rmq_broker::{Broker, BrokerConfig};
use rmq_protocol::body::pop::{
    QueryAssignmentRequestBody, QueryAssignmentResponseBody, SetMessageRequestModeRequestBody,
};
use rmq_protocol::body::{self, MessageQueue};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::*;
use rmq_protocol::message::{self, encode_properties, property, MessageExt};
use rmq_protocol::pop::{parse_msg_offset_info, parse_start_offset_info, ReceiptHandle, TopicKind, POP_CK};
use rmq_protocol::time::{Clock, ManualClock};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const RPC: Duration = Duration::from_secs(10);
const TOPIC: &str = "PopTopic";
const GROUP: &str = "PopGroup";
const RETRY: &str = "%RETRY%PopGroup_PopTopic";
const DEADLINE: Duration = Duration::from_secs(30);
const T0: i64 = 1_700_000_000_000;

fn config(dir: &Path, clock: &ManualClock) -> BrokerConfig {
    let mut c = common::config(dir);
    c.broker_cluster_name = "PopCluster".into();
    c.store.clock = Clock::from(clock.clone());
    c
}

async fn start(c: &BrokerConfig) -> Broker {
    wait_for("the broker to start", DEADLINE, || async {
        Broker::start(c.clone()).await.map_err(|e| e.to_string())
    })
    .await
}

async fn create_topic(client: &RemotingClient, addr: &str, queues: i32) {
    let h = CreateTopicRequestHeader {
        topic: TOPIC.into(),
        default_topic: "TBW102".into(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: None,
        order: false,
        attributes: None,
        force: None,
    };
    let req = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC).with_header(&h);
    let resp = client.invoke(addr, req, RPC).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
}

async fn send(client: &RemotingClient, addr: &str, queue_id: i32, body: &str) {
    let h = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: TOPIC.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: T0,
        flag: 0,
        properties: Some(encode_properties(&[(property::TAGS, "A")])),
        reconsume_times: None,
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        bname: None,
    };
    let req = RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&h)
        .with_body(body.as_bytes().to_vec());
    let resp = client.invoke(addr, req, RPC).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "send: {:?}", resp.remark);
}

struct Pop {
    resp: RemotingCommand,
    h: Option<PopMessageResponseHeader>,
    msgs: Vec<MessageExt>,
}

impl Pop {
    fn bodies(&self) -> Vec<String> {
        self.msgs
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect()
    }

    /// The receipt handle of message `i`, built as the 5.x client builds it
    /// (`MQClientAPIImpl.processPopResponse`): its own `POP_CK`, else from the offset summaries.
    fn handle(&self, i: usize) -> String {
        let m = &self.msgs[i];
        if let Some(ck) = m.properties.get(POP_CK) {
            return ck.clone();
        }
        let h = self.h.as_ref().unwrap();
        let key = format!("{}@{}", TopicKind::of(&m.topic).flag(), m.queue_id);
        let start = parse_start_offset_info(h.start_offset_info.as_deref().unwrap()).unwrap()[&key];
        ReceiptHandle {
            ck_offset: start,
            pop_time: h.pop_time,
            invisible_time: h.invisible_time,
            revive_qid: h.revive_qid,
            kind: TopicKind::of(&m.topic),
            broker_name: "broker-test".into(),
            queue_id: m.queue_id,
            msg_offset: m.queue_offset,
        }
        .encode()
    }

    /// The topic an ack names: the retry topic for a retried message (`getRealTopic`).
    fn real_topic(&self, i: usize) -> String {
        let handle = ReceiptHandle::parse(&self.handle(i)).unwrap();
        handle.kind.real_topic(TOPIC, GROUP)
    }
}

async fn pop_with(
    client: &RemotingClient,
    addr: &str,
    invisible_ms: i64,
    poll_ms: i64,
    order: bool,
    max: i32,
) -> Pop {
    let h = PopMessageRequestHeader {
        consumer_group: GROUP.into(),
        topic: TOPIC.into(),
        queue_id: -1,
        max_msg_nums: max,
        invisible_time: invisible_ms,
        poll_time: poll_ms,
        born_time: 0,
        init_mode: 0,
        exp_type: Some("TAG".into()),
        exp: Some("*".into()),
        order: Some(order),
        attempt_id: None,
        bname: None,
    };
    let req = RemotingCommand::request(rc::POP_MESSAGE).with_header(&h);
    let resp = client
        .invoke(addr, req, RPC + Duration::from_millis(poll_ms as u64))
        .await
        .unwrap();
    let h = resp.header::<PopMessageResponseHeader>().ok();
    let msgs = if resp.code == code::SUCCESS {
        message::decode_messages(&resp.body).unwrap()
    } else {
        Vec::new()
    };
    Pop { resp, h, msgs }
}

async fn pop(client: &RemotingClient, addr: &str, invisible_ms: i64) -> Pop {
    pop_with(client, addr, invisible_ms, 0, false, 32).await
}

async fn ack(client: &RemotingClient, addr: &str, p: &Pop, i: usize) -> RemotingCommand {
    let m = &p.msgs[i];
    let h = AckMessageRequestHeader {
        consumer_group: GROUP.into(),
        topic: p.real_topic(i),
        queue_id: m.queue_id,
        extra_info: p.handle(i),
        offset: m.queue_offset,
        bname: None,
    };
    let req = RemotingCommand::request(rc::ACK_MESSAGE).with_header(&h);
    client.invoke(addr, req, RPC).await.unwrap()
}

fn bodies(p: &Pop) -> BTreeSet<String> {
    p.bodies().into_iter().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Pops until something comes (the revive task runs on its own schedule once the clock moved).
async fn pop_some(client: &RemotingClient, addr: &str, invisible_ms: i64) -> Pop {
    wait_for_some("a pop to find messages", DEADLINE, || async {
        let p = pop(client, addr, invisible_ms).await;
        (!p.msgs.is_empty()).then_some(p)
    })
    .await
}

#[tokio::test]
async fn popped_messages_come_back_after_their_invisible_time_unless_acked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let b = start(&config(dir.path(), &clock)).await;
    let (client, addr) = (RemotingClient::new(), common::addr(&b));
    create_topic(&client, &addr, 1).await;
    for body in ["m0", "m1", "m2"] {
        send(&client, &addr, 0, body).await;
    }

    let first = pop(&client, &addr, 10_000).await;
    assert_eq!(first.resp.code, code::SUCCESS, "{:?}", first.resp.remark);
    let h = first.h.clone().unwrap();
    assert_eq!((h.pop_time, h.invisible_time), (T0, 10_000));
    assert!((0..8).contains(&h.revive_qid));
    assert_eq!(h.start_offset_info.as_deref(), Some("0 0 0"));
    assert_eq!(
        parse_msg_offset_info(h.msg_offset_info.as_deref().unwrap()).unwrap()["0@0"],
        vec![0, 1, 2]
    );
    assert_eq!(first.bodies(), vec!["m0", "m1", "m2"]);
    assert!(first
        .msgs
        .iter()
        .all(|m| m.topic == TOPIC && !m.properties.contains_key(POP_CK)));
    assert_eq!(ack(&client, &addr, &first, 1).await.code, code::SUCCESS);

    // The offset moved past them: nothing more now, nor just before the invisible time ends.
    let none = pop(&client, &addr, 10_000).await;
    assert_eq!(none.resp.code, code::POLLING_TIMEOUT);
    assert!(none.h.is_some(), "every POP answer carries its header");
    clock.advance(Duration::from_millis(9_999));
    assert!(pop(&client, &addr, 10_000).await.msgs.is_empty());

    // Then the two unacked ones come back through the retry topic, under the topic's name.
    clock.advance(Duration::from_millis(1));
    let again = pop_some(&client, &addr, 5_000).await;
    assert_eq!(bodies(&again), set(&["m0", "m2"]));
    for (i, m) in again.msgs.iter().enumerate() {
        assert_eq!(m.topic, TOPIC);
        assert_eq!(m.reconsume_times, 1);
        assert_eq!(
            m.properties.get("1ST_POP_TIME").map(String::as_str),
            Some("1700000000000")
        );
        let handle = ReceiptHandle::parse(&again.handle(i)).unwrap();
        assert_eq!(handle.kind, TopicKind::RetryV1);
        assert_eq!(again.real_topic(i), RETRY);
    }
    for i in 0..again.msgs.len() {
        assert_eq!(ack(&client, &addr, &again, i).await.code, code::SUCCESS);
    }
    // Acked: nothing is open any more, so nothing can come back however much time passes.
    assert_eq!(b.state().pop.unacked_messages(), 0);
    clock.advance(Duration::from_secs(3600));
    assert!(pop(&client, &addr, 5_000).await.msgs.is_empty());
    assert_eq!(
        b.state().store.max_offset_in_queue(RETRY, 0),
        2,
        "revived once each"
    );
}

#[tokio::test]
async fn a_changed_invisible_time_replaces_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let b = start(&config(dir.path(), &clock)).await;
    let (client, addr) = (RemotingClient::new(), common::addr(&b));
    create_topic(&client, &addr, 1).await;
    send(&client, &addr, 0, "slow").await;
    let p = pop(&client, &addr, 60_000).await;
    assert_eq!(p.bodies(), vec!["slow"]);
    let m = &p.msgs[0];
    let h = ChangeInvisibleTimeRequestHeader {
        consumer_group: GROUP.into(),
        topic: TOPIC.into(),
        queue_id: 0,
        extra_info: p.handle(0),
        offset: m.queue_offset,
        invisible_time: 1_000,
        bname: None,
    };
    clock.advance(Duration::from_millis(500));
    let req = RemotingCommand::request(rc::CHANGE_MESSAGE_INVISIBLETIME).with_header(&h);
    let resp = client.invoke(&addr, req, RPC).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let ch: ChangeInvisibleTimeResponseHeader = resp.header().unwrap();
    assert_eq!((ch.pop_time, ch.invisible_time), (T0 + 500, 1_000));
    assert_eq!(ch.revive_qid, p.h.as_ref().unwrap().revive_qid);

    clock.advance(Duration::from_millis(999));
    assert!(
        pop(&client, &addr, 5_000).await.msgs.is_empty(),
        "not before the new time"
    );
    clock.advance(Duration::from_millis(1));
    let back = pop_some(&client, &addr, 5_000).await;
    assert_eq!(back.bodies(), vec!["slow"]);
    assert_eq!(ack(&client, &addr, &back, 0).await.code, code::SUCCESS);
    // The first checkpoint was closed by the change: the old 60 s never revives it again.
    clock.advance(Duration::from_secs(120));
    assert_eq!(b.state().pop.unacked_messages(), 0);
    assert!(pop(&client, &addr, 5_000).await.msgs.is_empty());
    assert_eq!(b.state().store.max_offset_in_queue(RETRY, 0), 1);
}

#[tokio::test]
async fn orderly_pop_holds_the_queue_until_the_batch_is_acked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let b = start(&config(dir.path(), &clock)).await;
    let (client, addr) = (RemotingClient::new(), common::addr(&b));
    create_topic(&client, &addr, 1).await;
    for i in 0..5 {
        send(&client, &addr, 0, &format!("o{i}")).await;
    }
    let first = pop_with(&client, &addr, 10_000, 0, true, 2).await;
    assert_eq!(first.bodies(), vec!["o0", "o1"]);
    let h = first.h.clone().unwrap();
    assert_eq!(h.revive_qid, 999);
    assert_eq!(h.order_count_info.as_deref(), Some("0 0 0"));
    // Held: nothing for anyone until the batch is acked.
    assert!(pop_with(&client, &addr, 10_000, 0, true, 2).await.msgs.is_empty());
    assert_eq!(ack(&client, &addr, &first, 0).await.code, code::SUCCESS);
    assert!(pop_with(&client, &addr, 10_000, 0, true, 2).await.msgs.is_empty());
    assert_eq!(ack(&client, &addr, &first, 1).await.code, code::SUCCESS);
    let second = pop_with(&client, &addr, 10_000, 0, true, 2).await;
    assert_eq!(second.bodies(), vec!["o2", "o3"]);
    // Not acked: after the invisible time the same batch comes again, counted.
    clock.advance(Duration::from_millis(10_000));
    let again = pop_with(&client, &addr, 10_000, 0, true, 2).await;
    assert_eq!(again.bodies(), vec!["o2", "o3"]);
    assert_eq!(
        again.h.as_ref().unwrap().order_count_info.as_deref(),
        Some("0 qo0%2 1;0 qo0%3 1;0 0 1")
    );
    for i in 0..2 {
        assert_eq!(ack(&client, &addr, &again, i).await.code, code::SUCCESS);
    }
    assert_eq!(
        pop_with(&client, &addr, 10_000, 0, true, 2).await.bodies(),
        vec!["o4"]
    );
}

#[tokio::test]
async fn a_held_pop_is_answered_by_the_next_message() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let b = start(&config(dir.path(), &clock)).await;
    let (client, addr) = (RemotingClient::new(), common::addr(&b));
    create_topic(&client, &addr, 2).await;
    let held = {
        let (client, addr) = (RemotingClient::new(), addr.clone());
        tokio::spawn(async move { pop_with(&client, &addr, 10_000, 600_000, false, 32).await })
    };
    let polling = PollingInfoRequestHeader {
        consumer_group: GROUP.into(),
        topic: TOPIC.into(),
        queue_id: -1,
        bname: None,
    };
    wait_for("the pop to be held", DEADLINE, || async {
        let req = RemotingCommand::request(rc::POLLING_INFO).with_header(&polling);
        let resp = client.invoke(&addr, req, RPC).await.map_err(|e| e.to_string())?;
        let h: PollingInfoResponseHeader = resp.header().map_err(|e| e.to_string())?;
        (h.polling_num == 1)
            .then_some(())
            .ok_or_else(|| format!("{} held", h.polling_num))
    })
    .await;
    send(&client, &addr, 1, "late").await;
    let p = tokio::time::timeout(DEADLINE, held).await.unwrap().unwrap();
    assert_eq!(p.resp.code, code::SUCCESS);
    assert_eq!(p.bodies(), vec!["late"]);

    // NOTIFICATION: nothing left now, and then there is.
    let notify = |poll| NotificationRequestHeader {
        consumer_group: GROUP.into(),
        topic: TOPIC.into(),
        queue_id: -1,
        poll_time: poll,
        born_time: 0,
        order: None,
        attempt_id: None,
        bname: None,
    };
    let req = RemotingCommand::request(rc::NOTIFICATION).with_header(&notify(0));
    let resp = client.invoke(&addr, req, RPC).await.unwrap();
    assert!(!resp.header::<NotificationResponseHeader>().unwrap().has_msg);
    send(&client, &addr, 0, "more").await;
    let req = RemotingCommand::request(rc::NOTIFICATION).with_header(&notify(60_000));
    let resp = client.invoke(&addr, req, RPC).await.unwrap();
    assert!(resp.header::<NotificationResponseHeader>().unwrap().has_msg);
}

#[tokio::test]
async fn a_crash_loses_no_unacked_pop_and_brings_back_no_acked_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let c = config(dir.path(), &clock);
    let b = start(&c).await;
    let (client, addr) = (RemotingClient::new(), common::addr(&b));
    create_topic(&client, &addr, 1).await;
    for i in 0..4 {
        send(&client, &addr, 0, &format!("c{i}")).await;
    }
    let p1 = pop_with(&client, &addr, 10_000, 0, false, 2).await;
    let p2 = pop_with(&client, &addr, 20_000, 0, false, 2).await;
    assert_eq!(
        (p1.bodies(), p2.bodies()),
        (vec!["c0".into(), "c1".into()], vec!["c2".into(), "c3".into()])
    );
    assert_eq!(ack(&client, &addr, &p1, 1).await.code, code::SUCCESS);
    assert_eq!(ack(&client, &addr, &p2, 0).await.code, code::SUCCESS);
    assert_eq!(ack(&client, &addr, &p2, 1).await.code, code::SUCCESS);
    // kill -9: no offsets file written since the pops (its first write is 10 s after start).
    b.crash().await;
    let b = start(&c).await;
    let addr = common::addr(&b);
    assert_eq!(
        b.state().pop.unacked_messages(),
        1,
        "replayed from the revive log"
    );
    assert!(
        pop(&client, &addr, 5_000).await.msgs.is_empty(),
        "nothing popped before is popped again"
    );
    clock.advance(Duration::from_secs(60));
    let back = pop_some(&client, &addr, 5_000).await;
    assert_eq!(back.bodies(), vec!["c0"]);
    assert_eq!(ack(&client, &addr, &back, 0).await.code, code::SUCCESS);
    assert_eq!(b.state().pop.unacked_messages(), 0);
    assert_eq!(b.state().store.max_offset_in_queue(RETRY, 0), 1);
}

#[tokio::test]
async fn request_modes_assign_pop_queues_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let c = config(dir.path(), &clock);
    let b = start(&c).await;
    let (client, addr) = (RemotingClient::new(), common::addr(&b));
    create_topic(&client, &addr, 4).await;
    let mode = SetMessageRequestModeRequestBody {
        consumer_group: GROUP.into(),
        mode: "POP".into(),
        pop_share_queue_num: 0,
        topic: TOPIC.into(),
    };
    let req = RemotingCommand::request(rc::SET_MESSAGE_REQUEST_MODE).with_body(body::to_json(&mode));
    assert_eq!(client.invoke(&addr, req, RPC).await.unwrap().code, code::SUCCESS);
    let retry = SetMessageRequestModeRequestBody {
        topic: "%RETRY%x".into(),
        ..mode.clone()
    };
    let req = RemotingCommand::request(rc::SET_MESSAGE_REQUEST_MODE).with_body(body::to_json(&retry));
    assert_eq!(
        client.invoke(&addr, req, RPC).await.unwrap().code,
        code::NO_PERMISSION
    );
    b.shutdown().await.unwrap();

    let b = start(&c).await;
    let addr = common::addr(&b);
    let q = QueryAssignmentRequestBody {
        client_id: "c1".into(),
        consumer_group: GROUP.into(),
        message_model: "CLUSTERING".into(),
        strategy_name: "AVG".into(),
        topic: TOPIC.into(),
    };
    let req = RemotingCommand::request(rc::QUERY_ASSIGNMENT).with_body(body::to_json(&q));
    let resp = client.invoke(&addr, req, RPC).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS);
    let got: QueryAssignmentResponseBody = body::from_fastjson(&resp.body).unwrap();
    let queues: Vec<(MessageQueue, String)> = got
        .message_queue_assignments
        .into_iter()
        .map(|a| (a.message_queue, a.mode))
        .collect();
    assert_eq!(
        queues,
        vec![(MessageQueue::new(TOPIC, "broker-test", -1), "POP".to_string())]
    );
}

#[tokio::test]
async fn a_crash_does_not_bring_back_acked_orderly_messages() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let c = config(dir.path(), &clock);
    let b = start(&c).await;
    let (client, addr) = (RemotingClient::new(), common::addr(&b));
    create_topic(&client, &addr, 1).await;
    for i in 0..4 {
        send(&client, &addr, 0, &format!("f{i}")).await;
    }
    let batch = pop_with(&client, &addr, 10_000, 0, true, 3).await;
    assert_eq!(batch.bodies(), vec!["f0", "f1", "f2"]);
    for i in 0..2 {
        assert_eq!(ack(&client, &addr, &batch, i).await.code, code::SUCCESS);
    }
    b.crash().await;
    let b = start(&c).await;
    let addr = common::addr(&b);
    // The held batch is gone with the process; the acked two are not popped again.
    let again = pop_with(&client, &addr, 10_000, 0, true, 3).await;
    assert_eq!(again.bodies(), vec!["f2", "f3"]);
}
