//! A SYNC_MASTER and its slave in one process (HA address from `haMasterAddress`, no name
//! server): acknowledged sends are on the slave, the slave serves pulls (suggesting the master)
//! and consumer offsets, and never stores a pull's commit offset.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use std::time::Duration;

use common::wait::wait_until;
use common::{addr, config, TIMEOUT};
use rmq_broker::{Broker, BrokerRole};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{PullMessageRequestHeader, SendMessageRequestHeader};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

/// Exists on every broker (no metadata sync needed without a name server).
const TOPIC: &str = "BenchmarkTest";

fn send(body: &str) -> RemotingCommand {
    let h = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: TOPIC.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 0,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some("WAIT\u{1}true\u{2}".into()),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        bname: None,
    };
    RemotingCommand::request(rc::SEND_MESSAGE)
        .with_header(&h)
        .with_body(body.as_bytes().to_vec())
}

fn pull(offset: i64, sys_flag: i32, commit_offset: i64) -> RemotingCommand {
    RemotingCommand::request(rc::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: "CG".into(),
        topic: TOPIC.into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag,
        commit_offset,
        suspend_timeout_millis: 1000,
        subscription: Some("*".into()),
        sub_version: 1,
        expression_type: Some("TAG".into()),
        bname: None,
    })
}

fn offset_request(code: i32, offset: Option<i64>) -> RemotingCommand {
    let mut req = RemotingCommand::request(code)
        .with_ext("consumerGroup", "CG")
        .with_ext("topic", TOPIC)
        .with_ext("queueId", "0");
    if let Some(o) = offset {
        req = req.with_ext("commitOffset", o.to_string());
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_serves_pulls_and_offsets_of_replicated_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = config(&dir.path().join("bad"));
    bad.broker_role = BrokerRole::Slave;
    assert!(
        Broker::start(bad).await.is_err(),
        "a slave with brokerId 0 must not start"
    );

    let mut mc = config(&dir.path().join("master"));
    mc.broker_role = BrokerRole::SyncMaster;
    let master = Broker::start(mc).await.unwrap();
    let ha_port = master.state().config.ha_listen_port;
    let mut sc = config(&dir.path().join("slave"));
    sc.broker_role = BrokerRole::Slave;
    sc.broker_id = 1;
    sc.ha_master_address = Some(format!("127.0.0.1:{ha_port}"));
    let slave = Broker::start(sc).await.unwrap();
    let (m, s) = (addr(&master), addr(&slave));
    let client = RemotingClient::new();

    wait_until("the slave to connect", Duration::from_secs(20), || {
        master.state().store.ha().connection_count() > 0
    })
    .await;
    for i in 0..5 {
        let r = client.invoke(&m, send(&format!("m{i}")), TIMEOUT).await.unwrap();
        assert_eq!(r.code, code::SUCCESS, "send {i}: {:?}", r.remark);
    }

    // COMMIT_OFFSET (0x1) | SUSPEND (0x2) | SUBSCRIPTION (0x4): served, offset not stored.
    let r = client.invoke(&s, pull(0, 0x7, 3), TIMEOUT).await.unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    assert_eq!(r.ext("suggestWhichBrokerId"), Some("0"));
    assert_eq!(r.ext("nextBeginOffset"), Some("5"));
    let msgs = rmq_protocol::message::decode_messages(&r.body).unwrap();
    assert_eq!(msgs.len(), 5);
    let q = client
        .invoke(&s, offset_request(rc::QUERY_CONSUMER_OFFSET, None), TIMEOUT)
        .await
        .unwrap();
    // (Java answers 0 for a group without an offset whose queue starts in memory.)
    assert_ne!(
        q.ext("offset"),
        Some("3"),
        "a slave must not store a pull's commit offset"
    );

    // Caught up: held, then PULL_NOT_FOUND at the same offset.
    let r = client.invoke(&s, pull(5, 0x6, 0), TIMEOUT).await.unwrap();
    assert_eq!(r.code, code::PULL_NOT_FOUND);
    assert_eq!(r.ext("nextBeginOffset"), Some("5"));
    // Past the end: not corrected on a slave, a retry suggesting the group's broker.
    let r = client.invoke(&s, pull(50, 0x4, 0), TIMEOUT).await.unwrap();
    assert_eq!(r.code, code::PULL_RETRY_IMMEDIATELY);
    assert_eq!(r.ext("nextBeginOffset"), Some("50"));

    // Consumer offsets can be written to and read from the slave (master down).
    let u = client
        .invoke(&s, offset_request(rc::UPDATE_CONSUMER_OFFSET, Some(4)), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(u.code, code::SUCCESS);
    let q = client
        .invoke(&s, offset_request(rc::QUERY_CONSUMER_OFFSET, None), TIMEOUT)
        .await
        .unwrap();
    assert_eq!((q.code, q.ext("offset")), (code::SUCCESS, Some("4")));

    // A slave refuses sends.
    let r = client.invoke(&s, send("x"), TIMEOUT).await.unwrap();
    assert_eq!(r.code, code::SERVICE_NOT_AVAILABLE);

    // A second slave with offsetCheckInSlave=true answers an out-of-range offset like a master.
    let mut cc = config(&dir.path().join("checking-slave"));
    cc.broker_role = BrokerRole::Slave;
    cc.broker_id = 2;
    cc.offset_check_in_slave = true;
    cc.ha_master_address = Some(format!("127.0.0.1:{ha_port}"));
    let checking = Broker::start(cc).await.unwrap();
    wait_until("the second slave to catch up", Duration::from_secs(20), || {
        checking.state().store.max_offset_in_queue(TOPIC, 0) >= 5
    })
    .await;
    let r = client
        .invoke(&addr(&checking), pull(50, 0x4, 0), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, code::PULL_OFFSET_MOVED, "{:?}", r.remark);
    assert_eq!(r.ext("nextBeginOffset"), Some("5"));

    checking.shutdown().await.unwrap();
    slave.shutdown().await.unwrap();
    master.shutdown().await.unwrap();
}
