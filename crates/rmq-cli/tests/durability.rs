//! SYNC_FLUSH durability: every acknowledged message survives `kill -9` of the broker process.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const QUEUES: i32 = 4;
const WRITERS: usize = 8;
/// The kill happens only after at least this many acknowledgements, while writers are mid-stream.
const MIN_ACKED_BEFORE_KILL: usize = 400;

/// Body -> (commitlog offset from the offsetMsgId, queue, queue offset) of every SUCCESS response.
type Acked = HashMap<String, (i64, i32, i64)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    let dir = temp_dir();
    let (_ns, ns_addr) = namesrv(dir.path());
    let (broker_proc, broker_addr) = broker(dir.path(), &ns_addr, "flushDiskType=SYNC_FLUSH");
    let client = Arc::new(RemotingClient::new());

    let acked: Arc<Mutex<Acked>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, acked, stop, addr) = (client.clone(), acked.clone(), stop.clone(), broker_addr.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = format!("w{w}-m{i}");
                let queue = (w as i32) % QUEUES;
                let req = send_request("DurableTopic", queue, body.as_bytes(), "TAGS\u{1}T");
                match client.invoke(&addr, req, Duration::from_secs(5)).await {
                    Ok(resp) if resp.code == response_code::SUCCESS => {
                        let (_, off) = message::decode_offset_msg_id(resp.ext("msgId").unwrap()).unwrap();
                        let qo: i64 = resp.ext("queueOffset").unwrap().parse().unwrap();
                        acked.lock().unwrap().insert(body, (off, queue, qo));
                    }
                    // Stored but not confirmed on disk in time (a very loaded machine): not an ack.
                    Ok(resp) if resp.code == response_code::FLUSH_DISK_TIMEOUT => {}
                    Ok(resp) => panic!("unexpected send response {} {:?}", resp.code, resp.remark),
                    Err(_) => break, // the broker is gone
                }
                i += 1;
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < MIN_ACKED_BEFORE_KILL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "too few acknowledgements before the kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    broker_proc.kill9(); // writers are still sending
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= MIN_ACKED_BEFORE_KILL);

    // Restart on the same store and check every acknowledged message.
    let (_broker2, addr2) = broker(dir.path(), &ns_addr, "flushDiskType=SYNC_FLUSH");
    let client = RemotingClient::new();
    let mut max_per_queue = HashMap::new();
    for q in 0..QUEUES {
        let resp = invoke(
            &client,
            &addr2,
            RemotingCommand::request(request_code::GET_MAX_OFFSET)
                .with_ext("topic", "DurableTopic")
                .with_ext("queueId", q.to_string()),
        )
        .await;
        max_per_queue.insert(q, resp.ext("offset").unwrap().parse::<i64>().unwrap());
    }
    for (body, (offset, queue, queue_offset)) in &acked {
        assert!(
            queue_offset < &max_per_queue[queue],
            "queue {queue} lost offset {queue_offset}"
        );
        let view = invoke(
            &client,
            &addr2,
            RemotingCommand::request(request_code::VIEW_MESSAGE_BY_ID).with_ext("offset", offset.to_string()),
        )
        .await;
        assert_eq!(
            view.code,
            response_code::SUCCESS,
            "acknowledged message {body} at {offset} lost: {:?}",
            view.remark
        );
        let (m, _) = message::decode_message(&view.body).unwrap();
        assert_eq!(std::str::from_utf8(&m.body).unwrap(), body);
        assert_eq!(m.queue_offset, *queue_offset);
    }
    // New sends continue after the recovered tail.
    let resp = invoke(
        &client,
        &addr2,
        send_request("DurableTopic", 0, b"after-restart", ""),
    )
    .await;
    assert_eq!(resp.code, response_code::SUCCESS);
    assert_eq!(
        resp.ext("queueOffset").unwrap().parse::<i64>().unwrap(),
        max_per_queue[&0]
    );
}
