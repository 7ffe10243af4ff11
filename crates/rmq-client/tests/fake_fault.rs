//! Producer fault tolerance against a fake name server and two fake brokers over real sockets:
//! latency-based fault avoidance, retries on another broker (broker errors, SYSTEM_BUSY,
//! connection refused, timeouts) and `retry_another_broker_when_not_store_ok`.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::wait::wait_for;
use common::{cluster, cluster_with, Cluster};
use rmq_client::{ClientConfig, ClientError, Message, SendResult, SendStatus};
use rmq_protocol::codes::response_code;

const DEADLINE: Duration = Duration::from_secs(20);

fn fault_enabled(c: &mut ClientConfig) {
    c.send_latency_fault_enable = true;
}

async fn send(c: &Cluster, i: usize) -> Result<SendResult, ClientError> {
    c.producer
        .send(Message::new("TopicTest", format!("m{i}")).with_tags("T"))
        .await
}

#[tokio::test]
async fn a_failing_broker_is_isolated_with_fault_avoidance() {
    let c = cluster_with(fault_enabled).await;
    *c.a.send_code.lock().unwrap() = response_code::SYSTEM_ERROR;
    for i in 0..24 {
        let r = send(&c, i).await.expect("retried on broker-b");
        assert_eq!(
            (r.send_status, r.message_queue.broker_name.as_str()),
            (SendStatus::SendOk, "broker-b")
        );
    }
    // Round robin over 8 queues reaches broker-a within the first sends; after that one failure
    // broker-a is isolated (30 000 ms charged → 600 s) and never tried again.
    assert_eq!(c.a.sends().len(), 1, "broker-a tried again after its isolation");
    c.shutdown().await;
}

#[tokio::test]
async fn without_fault_avoidance_round_robin_keeps_trying_the_failing_broker() {
    let c = cluster().await;
    *c.a.send_code.lock().unwrap() = response_code::SYSTEM_ERROR;
    for i in 0..24 {
        let r = send(&c, i).await.expect("retried on broker-b");
        assert_eq!(r.message_queue.broker_name, "broker-b");
    }
    assert!(
        c.a.sends().len() > 1,
        "{} sends reached broker-a",
        c.a.sends().len()
    );
    c.shutdown().await;
}

#[tokio::test]
async fn an_isolated_broker_comes_back_when_its_duration_is_over() {
    let c = cluster_with(|cfg| {
        fault_enabled(cfg);
        // Successes never isolate; a failure (charged 30 000 ms) isolates for 300 ms.
        cfg.latency_max_ms = vec![0, 10_000];
        cfg.not_available_duration_ms = vec![0, 300];
    })
    .await;
    *c.a.send_code.lock().unwrap() = response_code::SYSTEM_ERROR;
    let mut i = 0;
    while c.a.sends().is_empty() {
        send(&c, i).await.expect("send");
        i += 1;
        assert!(i < 100, "broker-a never selected");
    }
    *c.a.send_code.lock().unwrap() = response_code::SUCCESS;
    let cluster = &c;
    wait_for("broker-a used again", DEADLINE, move || {
        let n = i;
        i += 1;
        async move {
            let r = send(cluster, n).await.expect("send");
            (r.message_queue.broker_name == "broker-a").then_some(())
        }
    })
    .await;
    c.shutdown().await;
}

#[tokio::test]
async fn system_busy_is_retried_on_another_broker() {
    let c = cluster().await;
    *c.a.send_code.lock().unwrap() = response_code::SYSTEM_BUSY;
    for i in 0..8 {
        let r = send(&c, i).await.expect("retried on broker-b");
        assert_eq!(r.message_queue.broker_name, "broker-b");
    }
    assert!(!c.a.sends().is_empty());
    c.shutdown().await;
}

#[tokio::test]
async fn refused_connections_are_retried_on_another_broker() {
    let mut c = cluster_with(fault_enabled).await;
    c.servers.remove(0).shutdown().await; // broker-a is gone
    for i in 0..16 {
        let r = send(&c, i).await.expect("retried on broker-b");
        assert_eq!(r.message_queue.broker_name, "broker-b");
    }
    c.shutdown().await;
}

#[tokio::test]
async fn after_a_timeout_the_slow_broker_is_avoided() {
    let c = cluster_with(|cfg| {
        fault_enabled(cfg);
        cfg.send_timeout_ms = 500;
    })
    .await;
    c.a.send_delay_ms.store(1500, Ordering::SeqCst);
    let mut timeouts = 0;
    for i in 0..20 {
        match send(&c, i).await {
            Ok(r) => assert_eq!(r.message_queue.broker_name, "broker-b"),
            // The attempt used the whole send timeout, as in Java: nothing is left to retry with.
            Err(ClientError::Remoting { .. } | ClientError::Timeout { .. }) => timeouts += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(timeouts, 1, "only the first send to the slow broker may time out");
    assert_eq!(c.a.sends().len(), 1);
    c.shutdown().await;
}

#[tokio::test]
async fn not_store_ok_is_sent_again_only_when_asked() {
    let c = cluster_with(|cfg| cfg.retry_another_broker_when_not_store_ok = true).await;
    *c.a.send_code.lock().unwrap() = response_code::FLUSH_DISK_TIMEOUT;
    for i in 0..8 {
        let r = send(&c, i).await.expect("send");
        assert_eq!(
            (r.send_status, r.message_queue.broker_name.as_str()),
            (SendStatus::SendOk, "broker-b")
        );
    }
    assert!(!c.a.sends().is_empty());
    // Both brokers answer FLUSH_DISK_TIMEOUT: after the last attempt its result is returned.
    *c.b.send_code.lock().unwrap() = response_code::FLUSH_DISK_TIMEOUT;
    let before = c.a.sends().len() + c.b.sends().len();
    let r = send(&c, 99).await.expect("send");
    assert_eq!(r.send_status, SendStatus::FlushDiskTimeout);
    assert_eq!(c.a.sends().len() + c.b.sends().len() - before, 3, "1 + 2 retries");
    c.shutdown().await;

    let c = cluster().await;
    *c.a.send_code.lock().unwrap() = response_code::FLUSH_DISK_TIMEOUT;
    *c.b.send_code.lock().unwrap() = response_code::FLUSH_DISK_TIMEOUT;
    let r = send(&c, 0).await.expect("send");
    assert_eq!(r.send_status, SendStatus::FlushDiskTimeout);
    assert_eq!(
        c.a.sends().len() + c.b.sends().len(),
        1,
        "not sent again by default"
    );
    c.shutdown().await;
}
