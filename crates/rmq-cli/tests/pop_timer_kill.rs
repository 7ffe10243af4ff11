//! `kill -9` of a broker process with timers pending and pops unacknowledged (issue #13): after
//! the restart every acknowledged timer arrives, no earlier than its time; every unacked popped
//! message comes back through the pop retry topic after its invisible time; no acknowledged one
//! does, and nothing popped before the kill is popped again from the topic.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{
    AckMessageRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, PopMessageRequestHeader,
    PopMessageResponseHeader,
};
use rmq_protocol::message::{self, MessageExt};
use rmq_protocol::pop::{parse_start_offset_info, ReceiptHandle, TopicKind, POP_CK};
use rmq_protocol::time::now_ms;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "PopKillTopic";
const TIMERS: &str = "TimerKillTopic";
const GROUP: &str = "PopKillGroup";
const RETRY: &str = "%RETRY%PopKillGroup_PopKillTopic";
const INVISIBLE_MS: i64 = 3_000;
const DEADLINE: Duration = Duration::from_secs(60);

async fn pop(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    group: &str,
    invisible_ms: i64,
) -> (RemotingCommand, Vec<MessageExt>) {
    let h = PopMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id: -1,
        max_msg_nums: 32,
        invisible_time: invisible_ms,
        poll_time: 1_000,
        born_time: 0,
        init_mode: 0,
        exp_type: None,
        exp: None,
        order: None,
        attempt_id: None,
        bname: None,
    };
    let resp = invoke(
        client,
        addr,
        RemotingCommand::request(rc::POP_MESSAGE).with_header(&h),
    )
    .await;
    let msgs = if resp.code == code::SUCCESS {
        message::decode_messages(&resp.body).unwrap()
    } else {
        assert_eq!(resp.code, code::POLLING_TIMEOUT, "{:?}", resp.remark);
        Vec::new()
    };
    (resp, msgs)
}

/// Acks as the 5.x client does: its `POP_CK`, or one built from the response's offsets.
async fn ack(client: &RemotingClient, addr: &str, resp: &RemotingCommand, m: &MessageExt) {
    let handle = match m.properties.get(POP_CK) {
        Some(ck) => ReceiptHandle::parse(ck).unwrap(),
        None => {
            let h: PopMessageResponseHeader = resp.header().unwrap();
            let starts = parse_start_offset_info(h.start_offset_info.as_deref().unwrap()).unwrap();
            ReceiptHandle {
                ck_offset: starts[&format!("0@{}", m.queue_id)],
                pop_time: h.pop_time,
                invisible_time: h.invisible_time,
                revive_qid: h.revive_qid,
                kind: TopicKind::Normal,
                broker_name: "broker-a".into(),
                queue_id: m.queue_id,
                msg_offset: m.queue_offset,
            }
        }
    };
    let h = AckMessageRequestHeader {
        consumer_group: GROUP.into(),
        topic: handle.kind.real_topic(TOPIC, GROUP),
        queue_id: m.queue_id,
        extra_info: handle.encode(),
        offset: m.queue_offset,
        bname: None,
    };
    let resp = invoke(
        client,
        addr,
        RemotingCommand::request(rc::ACK_MESSAGE).with_header(&h),
    )
    .await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
}

async fn max_offset(client: &RemotingClient, addr: &str, topic: &str, queue_id: i32) -> i64 {
    let h = GetMaxOffsetRequestHeader {
        topic: topic.into(),
        queue_id,
        bname: None,
    };
    let resp = invoke(
        client,
        addr,
        RemotingCommand::request(rc::GET_MAX_OFFSET).with_header(&h),
    )
    .await;
    if resp.code != code::SUCCESS {
        return 0;
    }
    resp.header::<GetMaxOffsetResponseHeader>().unwrap().offset
}

fn body(m: &MessageExt) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_keeps_pending_timers_and_unacked_pops() {
    let dir = temp_dir();
    let (_ns, ns_addr) = namesrv(dir.path());
    let (broker_proc, addr) = broker(dir.path(), &ns_addr, "");
    let client = RemotingClient::new();

    // Timers due a few seconds from now, acknowledged before the kill.
    let due_ms = now_ms() + 4_000;
    let mut timers = BTreeMap::new();
    for i in 0..20 {
        let b = format!("timer-{i}");
        let deliver = due_ms + i * 50;
        let props = format!("TIMER_DELIVER_MS\u{1}{deliver}\u{2}TAGS\u{1}T");
        let resp = invoke(
            &client,
            &addr,
            send_request(TIMERS, i as i32 % 4, b.as_bytes(), &props),
        )
        .await;
        assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
        timers.insert(b, deliver);
    }
    // Ten messages popped; four acknowledged.
    for i in 0..10 {
        let resp = invoke(
            &client,
            &addr,
            send_request(TOPIC, 0, format!("pop-{i}").as_bytes(), "TAGS\u{1}T"),
        )
        .await;
        assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    }
    let (resp, popped) = pop(&client, &addr, TOPIC, GROUP, INVISIBLE_MS).await;
    assert_eq!(popped.len(), 10, "one pop takes all ten");
    let mut acked = BTreeSet::new();
    for m in popped.iter().filter(|m| m.queue_offset % 3 == 0) {
        ack(&client, &addr, &resp, m).await;
        acked.insert(body(m));
    }
    assert_eq!(acked.len(), 4);
    broker_proc.kill9();

    let (_broker, addr) = broker(dir.path(), &ns_addr, "");
    // Nothing popped before the kill is popped from the topic again.
    let (_, again) = pop(&client, &addr, TOPIC, GROUP, INVISIBLE_MS).await;
    let from_topic: Vec<String> = again
        .iter()
        .filter(|m| m.reconsume_times == 0)
        .map(body)
        .collect();
    assert!(
        from_topic.is_empty(),
        "popped again from the topic: {from_topic:?}"
    );
    let mut back: BTreeMap<String, MessageExt> = again.into_iter().map(|m| (body(&m), m)).collect();

    // The six unacked ones come back once their invisible time is over.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while back.len() < 6 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "came back: {:?}",
            back.keys()
        );
        let (resp, msgs) = pop(&client, &addr, TOPIC, GROUP, 30_000).await;
        for m in msgs {
            assert_eq!(m.reconsume_times, 1, "{}", body(&m));
            ack(&client, &addr, &resp, &m).await;
            back.insert(body(&m), m);
        }
    }
    let unacked: BTreeSet<String> = (0..10)
        .map(|i| format!("pop-{i}"))
        .filter(|b| !acked.contains(b))
        .collect();
    assert_eq!(back.keys().cloned().collect::<BTreeSet<_>>(), unacked);
    // The checkpoint was revived as one batch: exactly the six went to the retry topic.
    assert_eq!(max_offset(&client, &addr, RETRY, 0).await, 6);

    // Every timer arrives, none before its time (a delivered one may repeat).
    let mut arrived: BTreeMap<String, MessageExt> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while arrived.len() < timers.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timers arrived: {}",
            arrived.len()
        );
        let (_, msgs) = pop(&client, &addr, TIMERS, "TimerReader", 60_000).await;
        for m in msgs {
            arrived.insert(body(&m), m);
        }
    }
    for (b, m) in &arrived {
        let deliver = timers[b];
        assert!(
            m.store_timestamp >= deliver,
            "{b} stored at {} before its time {deliver}",
            m.store_timestamp
        );
    }
}
