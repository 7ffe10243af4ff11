//! GET_BROKER_CONSUME_STATS (`mqadmin brokerConsumeStats`) and QUERY_CONSUME_QUEUE
//! (`mqadmin queryCq`) over a real socket, against what was sent and committed.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

mod common;

use common::*;
use rmq_broker::Broker;
use rmq_protocol::body::{self, ConsumeStatsList, QueryConsumeQueueResponseBody};
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{
    GetConsumeStatsInBrokerHeader, PullMessageRequestHeader, QueryConsumeQueueRequestHeader,
    UpdateConsumerOffsetRequestHeader, ViewBrokerStatsDataRequestHeader,
};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC_Q: &str = "StatsTopic";

/// The keys of Java 4.9.7's GET_BROKER_RUNTIME_INFO (`mqadmin brokerStatus` against it, without
/// delay messages or a transient store pool).
const JAVA_497_RUNTIME_KEYS: &[&str] = &[
    "EndTransactionQueueSize",
    "EndTransactionThreadPoolQueueCapacity",
    "bootTimestamp",
    "brokerVersion",
    "brokerVersionDesc",
    "commitLogDirCapacity",
    "commitLogDiskRatio",
    "commitLogMaxOffset",
    "commitLogMinOffset",
    "consumeQueueDiskRatio",
    "dispatchBehindBytes",
    "dispatchMaxBuffer",
    "earliestMessageTimeStamp",
    "getFoundTps",
    "getMessageEntireTimeMax",
    "getMissTps",
    "getTotalTps",
    "getTransferedTps",
    "msgGetTotalTodayMorning",
    "msgGetTotalTodayNow",
    "msgGetTotalYesterdayMorning",
    "msgPutTotalTodayMorning",
    "msgPutTotalTodayNow",
    "msgPutTotalYesterdayMorning",
    "pageCacheLockTimeMills",
    "pullThreadPoolQueueCapacity",
    "pullThreadPoolQueueHeadWaitTimeMills",
    "pullThreadPoolQueueSize",
    "putLatency99",
    "putLatency999",
    "putMessageAverageSize",
    "putMessageDistributeTime",
    "putMessageEntireTimeMax",
    "putMessageFailedTimes",
    "putMessageSizeTotal",
    "putMessageTimesTotal",
    "putTps",
    "queryThreadPoolQueueCapacity",
    "queryThreadPoolQueueHeadWaitTimeMills",
    "queryThreadPoolQueueSize",
    "remainHowManyDataToFlush",
    "remainTransientStoreBufferNumbs",
    "runtime",
    "sendThreadPoolQueueCapacity",
    "sendThreadPoolQueueHeadWaitTimeMills",
    "sendThreadPoolQueueSize",
    "startAcceptSendRequestTimeStamp",
];
const GROUP: &str = "StatsGroup";

fn send(i: usize) -> RemotingCommand {
    send_request(TOPIC_Q, &format!("STATS{i:04}"), format!("m{i}").as_bytes())
}

fn query_cq(topic: &str, index: i64, count: i32) -> RemotingCommand {
    RemotingCommand::request(rc::QUERY_CONSUME_QUEUE).with_header(&QueryConsumeQueueRequestHeader {
        topic: topic.into(),
        queue_id: 0,
        index,
        count,
        consumer_group: Some(GROUP.into()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_consume_stats_and_query_cq() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(config(dir.path())).await.unwrap();
    let addr = addr(&broker);
    let client = RemotingClient::new();
    let call = |req| {
        let client = &client;
        let addr = &addr;
        async move { client.invoke(addr, req, TIMEOUT).await.unwrap() }
    };
    // the stats list the subscription groups (UPDATE_CONSUMER_OFFSET creates none)
    let group = RemotingCommand::request(rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
        .with_body(format!("{{\"groupName\":\"{GROUP}\"}}").into_bytes());
    assert_eq!(call(group).await.code, code::SUCCESS);
    for i in 0..5 {
        let r = call(send(i)).await;
        assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    }
    wait_max_offset(&client, &addr, TOPIC_Q, 0, 5).await;
    let commit = RemotingCommand::request(rc::UPDATE_CONSUMER_OFFSET).with_header(
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: GROUP.into(),
            topic: TOPIC_Q.into(),
            queue_id: 0,
            commit_offset: 2,
            bname: None,
        },
    );
    assert_eq!(call(commit).await.code, code::SUCCESS);

    let r = call(
        RemotingCommand::request(rc::GET_BROKER_CONSUME_STATS)
            .with_header(&GetConsumeStatsInBrokerHeader { is_order: false }),
    )
    .await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let list: ConsumeStatsList = body::from_fastjson(&r.body).unwrap();
    assert_eq!(list.broker_addr, addr);
    let mine: Vec<_> = list
        .consume_stats_list
        .iter()
        .filter_map(|m| m.get(GROUP))
        .collect();
    assert_eq!(mine.len(), 1, "{list:?}");
    let stats = &mine[0][0];
    let q0 = stats
        .offset_table
        .iter()
        .find(|(mq, _)| mq.queue_id == 0)
        .unwrap()
        .1;
    assert_eq!((q0.broker_offset, q0.consumer_offset), (5, 2));
    assert!(q0.last_timestamp > 0);
    assert_eq!(list.total_diff, 3, "only this group has offsets");
    // isOrder: the topic is not orderly, so the group lists nothing
    let r = call(
        RemotingCommand::request(rc::GET_BROKER_CONSUME_STATS)
            .with_header(&GetConsumeStatsInBrokerHeader { is_order: true }),
    )
    .await;
    let list: ConsumeStatsList = body::from_fastjson(&r.body).unwrap();
    assert!(list
        .consume_stats_list
        .iter()
        .filter_map(|m| m.get(GROUP))
        .all(|v| v.is_empty()));

    let r = call(query_cq(TOPIC_Q, 1, 3)).await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    let b: QueryConsumeQueueResponseBody = body::from_fastjson(&r.body).unwrap();
    assert_eq!((b.min_queue_index, b.max_queue_index), (0, 5));
    assert_eq!(b.queue_data.len(), 3);
    assert!(b
        .queue_data
        .windows(2)
        .all(|w| w[0].physic_offset < w[1].physic_offset));
    assert!(b.queue_data.iter().all(|e| e.physic_size > 0));
    assert_eq!(
        b.filter_data.as_deref(),
        Some("StatsGroup@StatsTopic is not online!")
    );
    assert!(b.subscription_data.is_none());

    let r = call(query_cq(TOPIC_Q, 9, 3)).await;
    assert_eq!(r.code, code::SUCCESS);
    assert_eq!(r.remark.as_deref(), Some("Index 9 of 0@StatsTopic is not exist!"));
    assert!(r.body.is_empty());
    let r = call(query_cq("NoSuchTopic", 0, 1)).await;
    assert_eq!(r.code, code::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("0@NoSuchTopic is not exist!"));

    // GET_BROKER_RUNTIME_INFO: every key Java 4.9.7 answers (captured from its brokerStatus),
    // with the figures of this load
    let r = call(RemotingCommand::request(rc::GET_BROKER_RUNTIME_INFO)).await;
    let info: body::KvTable = body::from_fastjson(&r.body).unwrap();
    let t = &info.table;
    for key in JAVA_497_RUNTIME_KEYS {
        assert!(t.contains_key(*key), "runtime info lacks {key}: {t:?}");
    }
    assert_eq!(t["msgPutTotalTodayNow"], "5");
    assert_eq!(t["putMessageTimesTotal"], "5");
    let ratio: f64 = t["commitLogDiskRatio"].parse().unwrap();
    assert!((0.0..=1.0).contains(&ratio), "{ratio}");
    assert!(
        t["commitLogDirCapacity"].starts_with("Total : "),
        "{}",
        t["commitLogDirCapacity"]
    );
    assert!(t["earliestMessageTimeStamp"].parse::<i64>().unwrap() > 0);
    assert!(
        t["runtime"].starts_with("[ 0 days, 0 hours, "),
        "{}",
        t["runtime"]
    );

    // VIEW_BROKER_STATS_DATA (`mqadmin statsAll`): the five sends and a pull of them, over the
    // last minute, hour and day; Java's SYSTEM_ERROR for an item never counted
    let pull = RemotingCommand::request(rc::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: GROUP.into(),
        topic: TOPIC_Q.into(),
        queue_id: 0,
        queue_offset: 0,
        max_msg_nums: 32,
        // the subscription is this request's (no consumer heartbeat)
        sys_flag: rmq_broker::processor::pull_sys_flag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        bname: None,
    });
    assert_eq!(call(pull).await.code, code::SUCCESS);
    let stats = |name: &str, key: &str| {
        RemotingCommand::request(rc::VIEW_BROKER_STATS_DATA).with_header(&ViewBrokerStatsDataRequestHeader {
            stats_name: name.into(),
            stats_key: key.into(),
        })
    };
    let window = |r: &RemotingCommand, w: &str| {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let item = &v[w];
        (
            item["sum"].as_i64().unwrap(),
            item["tps"].as_f64().unwrap(),
            item["avgpt"].as_f64().unwrap(),
        )
    };
    let r = call(stats("TOPIC_PUT_NUMS", TOPIC_Q)).await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    // fastjson's field order, Java's field names
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(text.starts_with("{\"statsDay\":{\"avgpt\":"), "{text}");
    for w in ["statsMinute", "statsHour", "statsDay"] {
        let (sum, tps, avgpt) = window(&r, w);
        assert_eq!(sum, 5, "{w}: {text}");
        assert!(tps > 0.0, "{w}: {text}");
        assert_eq!(avgpt, 1.0, "one message per send: {text}");
    }
    let r = call(stats("TOPIC_PUT_SIZE", TOPIC_Q)).await;
    assert!(window(&r, "statsMinute").0 > 5 * 100, "five stored records");
    let r = call(stats("GROUP_GET_NUMS", &format!("{TOPIC_Q}@{GROUP}"))).await;
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    assert_eq!(
        window(&r, "statsMinute"),
        (5, window(&r, "statsMinute").1, 5.0),
        "one pull of five"
    );
    let r = call(stats("BROKER_PUT_NUMS", "DefaultCluster")).await;
    assert_eq!(window(&r, "statsDay").0, 5);
    assert_eq!(
        window(&r, "statsDay").2,
        0.0,
        "Java counts no times for the broker's items"
    );
    let r = call(stats("BROKER_GET_NUMS", "DefaultCluster")).await;
    assert_eq!(window(&r, "statsDay").0, 5);
    let r = call(stats("TOPIC_PUT_NUMS", "NoSuchTopic")).await;
    assert_eq!(r.code, code::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("The stats <TOPIC_PUT_NUMS> <NoSuchTopic> not exist")
    );
    let r = call(stats("NO_SUCH_STATS", TOPIC_Q)).await;
    assert_eq!(r.code, code::SYSTEM_ERROR);

    // the cleaning verbs leave live queues alone
    for code_ in [rc::CLEAN_EXPIRED_CONSUMEQUEUE, rc::CLEAN_UNUSED_TOPIC] {
        let r = call(RemotingCommand::request(code_)).await;
        assert_eq!(r.code, code::SUCCESS, "{code_}: {:?}", r.remark);
    }
    assert_eq!(max_offset(&client, &addr, TOPIC_Q, 0).await, 5);

    let r = call(RemotingCommand::request(rc::GET_SYSTEM_TOPIC_LIST_FROM_BROKER)).await;
    let list: body::TopicList = body::from_fastjson(&r.body).unwrap();
    assert!(
        list.topic_list.iter().any(|t| t == "SCHEDULE_TOPIC_XXXX"),
        "{list:?}"
    );
    assert!(list.topic_list.iter().any(|t| t == "TBW102"));

    heartbeat(&client, &addr, "StatsProducers").await;
    let r = call(RemotingCommand::request(rc::GET_ALL_PRODUCER_INFO)).await;
    assert_eq!(r.code, code::SUCCESS);
    let table: body::ProducerTableInfo = body::from_fastjson(&r.body).unwrap();
    let p = &table.data["StatsProducers"][0];
    assert_eq!(p.client_id, "127.0.0.1@test");
    assert!(p.remote_ip.starts_with("/127.0.0.1:"), "{p:?}");
    assert!(p.last_update_timestamp > 0);
    broker.shutdown().await.unwrap();
}
