//! The producer against a fake name server and two fake brokers over real sockets.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::cluster;
use common::wait::{wait_for, wait_until};
use rmq_client::{ClientError, Message, MessageQueue, SendStatus};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::message;

#[tokio::test]
async fn failed_send_on_broker_a_is_retried_on_broker_b() {
    let c = cluster().await;
    c.a.fail_next_send.store(true, Ordering::SeqCst);
    let mut results = Vec::new();
    // Round robin over 8 queues: within 8 sends broker-a is picked at least once.
    for i in 0..8 {
        let r = c
            .producer
            .send(Message::new("TopicTest", format!("m{i}")).with_tags("TagA"))
            .await
            .expect("send");
        assert_eq!(r.send_status, SendStatus::SendOk);
        results.push(r);
    }
    let a_sends = c.a.sends();
    let failed_key = a_sends[0].uniq_key().expect("UNIQ_KEY sent");
    let retried =
        c.b.sends()
            .into_iter()
            .find(|s| s.uniq_key().as_deref() == Some(failed_key.as_str()));
    assert!(
        retried.is_some(),
        "the message that failed on broker-a was not resent to broker-b"
    );
    let result = results
        .iter()
        .find(|r| r.msg_id == failed_key)
        .expect("result of the retried message");
    assert_eq!(result.message_queue.broker_name, "broker-b");
    assert_eq!(result.offset_msg_id.len(), 32);
    // Every message was stored exactly once.
    let stored = c.a.sends().len() - 1 + c.b.sends().len();
    assert_eq!(stored, 8);
    c.shutdown().await;
}

#[tokio::test]
async fn headers_and_results_follow_the_protocol() {
    let c = cluster().await;
    let r = c
        .producer
        .send(Message::new("TopicTest", "Hello").with_keys("K1"))
        .await
        .expect("send");
    let seen =
        c.a.sends()
            .into_iter()
            .chain(c.b.sends())
            .next()
            .expect("one send");
    assert_eq!(seen.code, request_code::SEND_MESSAGE_V2);
    let h = seen.header.clone().expect("header");
    assert_eq!(
        (
            h.producer_group.as_str(),
            h.topic.as_str(),
            h.default_topic.as_str()
        ),
        ("PG_TEST", "TopicTest", "TBW102")
    );
    assert_eq!(
        (h.default_topic_queue_nums, h.batch, &seen.body[..]),
        (4, false, &b"Hello"[..])
    );
    assert_eq!(h.bname.as_deref(), Some(r.message_queue.broker_name.as_str()));
    assert_eq!(h.queue_id, r.message_queue.queue_id);
    assert_eq!(seen.uniq_key().as_deref(), Some(r.msg_id.as_str()));
    assert!(r
        .to_string()
        .starts_with("SendResult [sendStatus=SEND_OK, msgId="));

    let mut queues = c
        .producer
        .fetch_publish_queues("TopicTest")
        .await
        .expect("queues");
    assert_eq!(queues.len(), 8);
    assert_eq!(queues[0], MessageQueue::new("TopicTest", "broker-a", 0));
    queues.sort();
    assert_eq!(queues[7], MessageQueue::new("TopicTest", "broker-b", 3));
    c.shutdown().await;
}

#[tokio::test]
async fn unknown_topic_uses_clamped_tbw102_route() {
    let c = cluster().await;
    for _ in 0..8 {
        c.producer
            .send(Message::new("NewTopic", "x"))
            .await
            .expect("send");
    }
    let sends = c.a.sends();
    assert_eq!(sends.len(), 8);
    let mut queue_ids: Vec<i32> = sends
        .iter()
        .map(|s| s.header.as_ref().unwrap().queue_id)
        .collect();
    queue_ids.sort();
    queue_ids.dedup();
    assert_eq!(queue_ids, vec![0, 1, 2, 3], "TBW102's 8 queues are clamped to 4");
    assert!(sends
        .iter()
        .all(|s| s.header.as_ref().unwrap().topic == "NewTopic"));
    let asked = c.namesrv.route_requests.lock().unwrap().clone();
    assert!(asked.contains(&"NewTopic".to_owned()) && asked.contains(&"TBW102".to_owned()));
    c.shutdown().await;
}

#[tokio::test]
async fn non_retryable_broker_error_is_returned_at_once() {
    let c = cluster().await;
    *c.a.send_code.lock().unwrap() = response_code::MESSAGE_ILLEGAL;
    *c.b.send_code.lock().unwrap() = response_code::MESSAGE_ILLEGAL;
    let err = c.producer.send(Message::new("TopicTest", "x")).await.unwrap_err();
    assert!(matches!(err, ClientError::Broker { code: 13, .. }), "{err:?}");
    assert_eq!(c.a.sends().len() + c.b.sends().len(), 1);

    // A store-but-degraded code is a result, not an error.
    *c.a.send_code.lock().unwrap() = response_code::SUCCESS;
    *c.b.send_code.lock().unwrap() = response_code::SUCCESS;
    let mq = MessageQueue::new("TopicTest", "broker-b", 2);
    let r = c
        .producer
        .send_to_queue(Message::new("TopicTest", "y"), &mq)
        .await
        .expect("send_to_queue");
    assert_eq!(r.message_queue, mq);
    c.shutdown().await;
}

#[tokio::test]
async fn batch_oneway_async_and_selector() {
    let c = cluster().await;
    let batch = vec![
        Message::new("TopicTest", "one"),
        Message::new("TopicTest", "two"),
        Message::new("TopicTest", "three"),
    ];
    let r = c.producer.send_batch(batch).await.expect("batch");
    let ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(r.offset_msg_id.split(',').count(), 3);
    let seen =
        c.a.sends()
            .into_iter()
            .chain(c.b.sends())
            .next()
            .expect("batch request");
    assert_eq!(seen.code, request_code::SEND_BATCH_MESSAGE);
    assert!(seen.header.as_ref().unwrap().batch);
    let entries = message::decode_batch(&seen.body).expect("batch body");
    assert_eq!(entries.len(), 3);

    let r = c
        .producer
        .send_with_selector(Message::new("TopicTest", "ordered"), |queues, _| queues.len() - 1)
        .await
        .expect("selector");
    assert_eq!(r.message_queue, MessageQueue::new("TopicTest", "broker-b", 3));

    let r = c
        .producer
        .send_async(Message::new("TopicTest", "async"))
        .await
        .expect("join")
        .expect("async send");
    assert_eq!(r.send_status, SendStatus::SendOk);

    c.producer
        .send_oneway(Message::new("TopicTest", "oneway"))
        .await
        .expect("oneway");
    let total = || c.a.sends().len() + c.b.sends().len();
    // The oneway send has no answer: wait until a broker has it.
    wait_until("the oneway send", Duration::from_secs(1), || total() >= 4).await;
    assert_eq!(total(), 4);
    c.shutdown().await;
}

#[tokio::test]
async fn heartbeat_to_masters_and_unregister_on_shutdown() {
    let c = cluster().await;
    // The heartbeat task runs 1 s after start, to the masters of the TBW102 route (broker-a).
    let beat = wait_for("HEART_BEAT", Duration::from_secs(5), || async {
        c.a.seen()
            .into_iter()
            .find(|s| s.code == request_code::HEART_BEAT)
    })
    .await;
    let body: serde_json::Value = serde_json::from_slice(&beat.body).expect("heartbeat JSON");
    assert_eq!(body["clientID"], c.producer.client_id());
    let groups: Vec<&str> = body["producerDataSet"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["groupName"].as_str())
        .collect();
    assert!(
        groups.contains(&"PG_TEST") && groups.contains(&"CLIENT_INNER_PRODUCER"),
        "{groups:?}"
    );

    let producer = c.producer.clone();
    let a = c.a.clone();
    c.shutdown().await;
    assert!(a.seen().iter().any(|s| s.code == request_code::UNREGISTER_CLIENT));
    let err = producer
        .send(Message::new("TopicTest", "late"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotRunning(_)));
}
