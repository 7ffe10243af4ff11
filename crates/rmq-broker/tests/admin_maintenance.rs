//! The 5.x maintenance verbs over a real socket: RESET_MASTER_FLUSH_OFFSET (`mqadmin
//! resetMasterFlushOffset`: a no-op on a master, the offset `haStatus` shows on a slave) and the
//! cold-read flow control table (`mqadmin updateColdDataFlowCtrGroupConfig`,
//! `removeColdDataFlowCtrGroupConfig`, `getColdDataFlowCtrInfo`).

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use common::{addr, config, TIMEOUT};
use rmq_broker::{Broker, BrokerRole};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;
use serde_json::{json, Value};

fn reset_flush(offset: &str) -> RemotingCommand {
    RemotingCommand::request(rc::RESET_MASTER_FLUSH_OFFSET).with_ext("masterFlushOffset", offset)
}

async fn json_of(client: &RemotingClient, addr: &str, req: RemotingCommand) -> Value {
    let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    serde_json::from_slice(&resp.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_master_flush_offset_reaches_the_slaves_ha_status() {
    let dir = tempfile::tempdir().unwrap();
    let master = Broker::start(config(&dir.path().join("master"))).await.unwrap();
    let mut sc = config(&dir.path().join("slave"));
    sc.broker_role = BrokerRole::Slave;
    sc.broker_id = 1;
    let slave = Broker::start(sc).await.unwrap();
    let client = RemotingClient::new();
    let ha_status = || RemotingCommand::request(rc::GET_BROKER_HA_STATUS);

    // a master answers SUCCESS and changes nothing
    let r = client
        .invoke(&addr(&master), reset_flush("4096"), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let m = json_of(&client, &addr(&master), ha_status()).await;
    assert_eq!(m["master"], true);

    let s = addr(&slave);
    let before = json_of(&client, &s, ha_status()).await;
    assert_eq!(before["haClientRuntimeInfo"]["masterFlushOffset"], 0);
    let r = client.invoke(&s, reset_flush("4096"), TIMEOUT).await.unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let after = json_of(&client, &s, ha_status()).await;
    assert_eq!(after["haClientRuntimeInfo"]["masterFlushOffset"], 4096);

    // no offset, or one that is not a number: SUCCESS, nothing changed (Java's null check)
    for req in [
        RemotingCommand::request(rc::RESET_MASTER_FLUSH_OFFSET),
        reset_flush("x"),
    ] {
        let r = client.invoke(&s, req, TIMEOUT).await.unwrap();
        assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    }
    let last = json_of(&client, &s, ha_status()).await;
    assert_eq!(last["haClientRuntimeInfo"]["masterFlushOffset"], 4096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_read_thresholds_update_show_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // an operator-given threshold is shown; the other keeps Java's default (100 MiB)
    c.update_one("cgColdReadThreshold", "2048");
    let broker = Broker::start(c).await.unwrap();
    let a = addr(&broker);
    let client = RemotingClient::new();
    let info = || RemotingCommand::request(rc::GET_COLD_DATA_FLOW_CTR_INFO);

    let empty = json_of(&client, &a, info()).await;
    assert_eq!(
        empty,
        json!({"runtimeTable": {}, "configTable": {}, "cgColdReadThreshold": 2048,
               "globalColdReadThreshold": 104_857_600, "globalAcc": 0})
    );

    // group=threshold properties; an entry that is not a number is skipped, the rest applies
    let update = RemotingCommand::request(rc::UPDATE_COLD_DATA_FLOW_CTR_CONFIG)
        .with_body(b"g1=1000\ng2=lots\ng3=7\n".to_vec());
    let r = client.invoke(&a, update, TIMEOUT).await.unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let set = json_of(&client, &a, info()).await;
    assert_eq!(set["configTable"], json!({"g1": 1000, "g3": 7}));

    let remove = RemotingCommand::request(rc::REMOVE_COLD_DATA_FLOW_CTR_CONFIG).with_body(b"g1".to_vec());
    let r = client.invoke(&a, remove, TIMEOUT).await.unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    // an empty body is no error
    let r = client
        .invoke(
            &a,
            RemotingCommand::request(rc::REMOVE_COLD_DATA_FLOW_CTR_CONFIG),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let left = json_of(&client, &a, info()).await;
    assert_eq!(left["configTable"], json!({"g3": 7}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_broker_has_no_consumer_of_the_revive_log() {
    // Java commits CID_RMQ_SYS_REVIVE_GROUP's offset only once the revive log moves (a POP): before
    // that, `mqadmin topicList -c` shows no group for rmq_sys_REVIVE_LOG_<cluster>
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let client = RemotingClient::new();
    let topic = format!("rmq_sys_REVIVE_LOG_{}", broker.state().config.broker_cluster_name);
    let req = RemotingCommand::request(rc::QUERY_TOPIC_CONSUME_BY_WHO)
        .with_header(&rmq_protocol::header::QueryTopicConsumeByWhoRequestHeader { topic });
    let groups = json_of(&client, &addr(&broker), req).await;
    assert_eq!(groups["groupList"], json!([]), "{groups}");
}
