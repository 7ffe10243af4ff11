//! Prometheus metrics (docs/broker/metrics.md): a known load — N sends, M pulled, K sent to the
//! dead-letter queue, an offset committed — and one scrape of `/metrics` over HTTP whose counters
//! equal N, M and K and whose lag is what is left.
#![allow(clippy::unwrap_used, reason = "test code")]

mod common;

use std::time::Duration;

use rmq_broker::Broker;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::header::{
    ConsumerSendMsgBackRequestHeader, PullMessageRequestHeader, SendMessageRequestHeader,
};
use rmq_protocol::message;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;

const TOPIC: &str = "MetricsTopic";
const GROUP: &str = "MetricsGroup";

async fn call(client: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    client.invoke(addr, req, Duration::from_secs(10)).await.unwrap()
}

/// PULL_MESSAGE of `GROUP` from offset 0, held up to `hold_ms` when nothing is there (0: not
/// held).
fn pull(topic: &str, queue_id: i32, max: i32, hold_ms: i64) -> RemotingCommand {
    use rmq_protocol::message::pull_sys_flag::{SUBSCRIPTION, SUSPEND};
    let h = PullMessageRequestHeader {
        consumer_group: GROUP.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: 0,
        max_msg_nums: max,
        sys_flag: if hold_ms > 0 {
            SUBSCRIPTION | SUSPEND
        } else {
            SUBSCRIPTION
        },
        commit_offset: 0,
        suspend_timeout_millis: hold_ms,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        bname: None,
    };
    RemotingCommand::request(rc::PULL_MESSAGE).with_header(&h)
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    rmq_testkit::scrape_metrics(addr).await
}

fn sample(text: &str, name: &str, want: &[&str]) -> Option<f64> {
    rmq_testkit::metric_sample(text, name, want)
}

#[tokio::test]
async fn a_known_load_is_what_the_scrape_counts() {
    const N: usize = 10;
    const M: usize = 6;
    const K: usize = 2;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.metrics_exporter_type = "PROM".into();
    config.metrics_prom_exporter_host = "127.0.0.1".into();
    config.metrics_prom_exporter_port = 0;
    let b = Broker::start(config).await.unwrap();
    let metrics = b.metrics_addr().expect("metrics served");
    let addr = common::addr(&b);
    let client = RemotingClient::new();

    for i in 0..N {
        let h = SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: TOPIC.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 1,
            queue_id: 0,
            born_timestamp: 1_700_000_000_000,
            properties: Some("WAIT\u{1}true".into()),
            ..Default::default()
        };
        let req = RemotingCommand::request(rc::SEND_MESSAGE)
            .with_header(&h)
            .with_body(format!("body-{i:02}").into_bytes());
        let resp = call(&client, &addr, req).await;
        assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    }

    // M pulled, K of them sent back straight to the dead-letter queue, M committed.
    let resp = call(&client, &addr, pull(TOPIC, 0, M as i32, 0)).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    let pulled = message::decode_messages(&resp.body).unwrap();
    assert_eq!(pulled.len(), M);
    // Throughput counts whole stored records, all of one size here.
    let pulled_bytes = resp.body.len();
    assert_eq!(pulled_bytes % M, 0);
    for m in pulled.iter().take(K) {
        let h = ConsumerSendMsgBackRequestHeader {
            offset: m.commit_log_offset,
            group: GROUP.into(),
            delay_level: -1,
            origin_msg_id: Some(m.msg_id.clone()),
            origin_topic: Some(TOPIC.into()),
            unit_mode: false,
            max_reconsume_times: Some(16),
            bname: None,
        };
        let resp = call(
            &client,
            &addr,
            RemotingCommand::request(rc::CONSUMER_SEND_MSG_BACK).with_header(&h),
        )
        .await;
        assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    }
    let commit = RemotingCommand::request(rc::UPDATE_CONSUMER_OFFSET)
        .with_ext("consumerGroup", GROUP)
        .with_ext("topic", TOPIC)
        .with_ext("queueId", "0")
        .with_ext("commitOffset", M.to_string());
    assert_eq!(call(&client, &addr, commit).await.code, code::SUCCESS);

    let text = scrape(metrics).await;
    let topic = format!("topic=\"{TOPIC}\"");
    let group = format!("consumer_group=\"{GROUP}\"");
    assert_eq!(
        sample(&text, "rocketmq_messages_in_total", &[&topic]),
        Some(N as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, "rocketmq_throughput_in_total", &[&topic]),
        Some((N * (pulled_bytes / M)) as f64)
    );
    // one size observation per send, each a whole record of under 1 KiB; normal messages
    let normal = "message_type=\"normal\"";
    assert_eq!(
        sample(&text, "rocketmq_message_size_count", &[&topic, normal]),
        Some(N as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, "rocketmq_message_size_bucket", &[&topic, "le=\"1024.0\""]),
        Some(N as f64)
    );
    assert_eq!(
        sample(&text, "rocketmq_message_size_sum", &[&topic]),
        Some((N * (pulled_bytes / M)) as f64)
    );
    assert!(text.contains("# TYPE rocketmq_message_size histogram"));
    assert_eq!(
        sample(&text, "rocketmq_messages_out_total", &[&topic, &group]),
        Some(M as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, "rocketmq_throughput_out_total", &[&topic, &group]),
        Some(pulled_bytes as f64)
    );
    assert_eq!(
        sample(&text, "rocketmq_send_to_dlq_messages_total", &[&topic, &group]),
        Some(K as f64),
        "{text}"
    );
    assert_eq!(
        sample(&text, "rocketmq_consumer_lag_messages", &[&topic, &group]),
        Some((N - M) as f64),
        "{text}"
    );
    // the Grafana dashboard that ships in deploy/ asks only for metrics served here
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../../deploy/grafana/rmq-dashboard.json")).unwrap();
    let mut asked = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("rocketmq_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                asked.push(name);
            }
        }
    }
    assert!(asked.len() >= 13, "{asked:?}");
    for name in &asked {
        let histogram = ["_bucket", "_count", "_sum"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .any(|stem| text.contains(&format!("# TYPE {stem} histogram")));
        assert!(
            histogram || text.contains(&format!("# TYPE {name} ")),
            "the dashboard asks for {name}, not served"
        );
    }
    // all pulled messages were committed: none in flight, the rest ready
    assert_eq!(
        sample(&text, "rocketmq_consumer_inflight_messages", &[&topic, &group]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "rocketmq_consumer_ready_messages", &[&topic, &group]),
        Some((N - M) as f64),
        "{text}"
    );
    assert!(sample(&text, "rocketmq_consumer_lag_latency", &[&topic, &group]).unwrap() >= 0.0);
    assert!(sample(&text, "rocketmq_consumer_queueing_latency", &[&topic, &group]).unwrap() >= 0.0);
    assert_eq!(
        sample(&text, "rocketmq_broker_permission", &[]),
        Some(6.0),
        "{text}"
    );
    assert!(sample(&text, "rocketmq_topic_number", &[]).unwrap() >= 1.0);
    assert!(sample(&text, "rocketmq_consumer_group_number", &[]).unwrap() >= 1.0);
    assert_eq!(
        sample(&text, "rocketmq_processor_watermark", &["processor=\"send\""]),
        Some(0.0)
    );
    // The dead letters were stored too (a system topic), under the cluster and node labels.
    assert_eq!(
        sample(
            &text,
            "rocketmq_messages_in_total",
            &[&format!("topic=\"%DLQ%{GROUP}\""), "is_system=\"true\""]
        ),
        Some(K as f64)
    );
    assert!(text.contains("# TYPE rocketmq_messages_in_total counter"));
    assert!(
        text.contains("node_type=\"broker\",node_id=\"broker-test\""),
        "{text}"
    );
    assert!(sample(&text, "rocketmq_storage_size", &[]).unwrap() > 0.0);
}

/// Transactions (half messages, commits, rollbacks, the finish latency) and the per-request
/// latency histogram, long-polled pulls told apart; the half-message count survives a restart.
#[tokio::test]
async fn transactions_and_request_latency_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.metrics_exporter_type = "PROM".into();
    config.metrics_prom_exporter_host = "127.0.0.1".into();
    config.metrics_prom_exporter_port = 0;
    let b = Broker::start(config.clone()).await.unwrap();
    let addr = common::addr(&b);
    let client = RemotingClient::new();
    let born = common::now_ms() - 10_000;
    let halves = [
        common::send_half_born(&client, &addr, "a", "UNIQ-A", born).await,
        common::send_half_born(&client, &addr, "b", "UNIQ-B", born).await,
        common::send_half_born(&client, &addr, "c", "UNIQ-C", born).await,
    ];
    for (half, state) in halves.iter().zip([
        rmq_protocol::message::sys_flag::TRANSACTION_COMMIT_TYPE,
        rmq_protocol::message::sys_flag::TRANSACTION_ROLLBACK_TYPE,
    ]) {
        let req = common::end_request(
            common::PRODUCER_GROUP,
            half.queue_offset,
            half.commit_log_offset,
            state,
            false,
            &half.uniq_key,
        );
        assert_eq!(call(&client, &addr, req).await.code, code::SUCCESS);
    }
    // A pull held by long polling (nothing in queue 2) until its 100 ms run out.
    let resp = call(&client, &addr, pull(common::TOPIC, 2, 1, 100)).await;
    assert_eq!(resp.code, code::PULL_NOT_FOUND, "{:?}", resp.remark);

    let text = scrape(b.metrics_addr().unwrap()).await;
    let topic = format!("topic=\"{}\"", common::TOPIC);
    assert_eq!(sample(&text, "rocketmq_half_messages", &[&topic]), Some(1.0));
    assert_eq!(
        sample(&text, "rocketmq_commit_messages_total", &[&topic]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "rocketmq_rollback_messages_total", &[&topic]),
        Some(1.0)
    );
    // Born 10 s before its commit: Java records whole seconds, so the 60 s bucket.
    assert_eq!(
        sample(
            &text,
            "rocketmq_finish_message_latency_bucket",
            &[&topic, "le=\"5.0\""]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "rocketmq_finish_message_latency_bucket",
            &[&topic, "le=\"60.0\""]
        ),
        Some(1.0)
    );
    assert!(text.contains("# TYPE rocketmq_rpc_latency histogram"));
    let rpc = |request: &str, response: &str, held: &str, result: &str| {
        sample(
            &text,
            "rocketmq_rpc_latency_count",
            &[
                "protocol_type=\"remoting\"",
                &format!("request_code=\"{request}\""),
                &format!("response_code=\"{response}\""),
                &format!("is_long_polling=\"{held}\""),
                &format!("result=\"{result}\""),
            ],
        )
    };
    assert_eq!(rpc("send_message", "success", "false", "success"), Some(3.0));
    assert_eq!(rpc("end_transaction", "success", "false", "success"), Some(2.0));
    assert_eq!(
        rpc("pull_message", "pull_not_found", "true", "success"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "rocketmq_rpc_latency_bucket",
            &["request_code=\"pull_message\"", "le=\"10.0\""]
        ),
        Some(0.0),
        "held for 100 ms"
    );
    assert_eq!(
        sample(&text, "rocketmq_storage_dispatch_behind_bytes", &[]),
        Some(0.0)
    );
    assert!(sample(&text, "rocketmq_storage_message_reserve_time", &[]).unwrap() >= 0.0);

    b.shutdown().await.unwrap();
    let b = Broker::start(config).await.unwrap();
    let text = scrape(b.metrics_addr().unwrap()).await;
    assert_eq!(
        sample(&text, "rocketmq_half_messages", &[&topic]),
        Some(1.0),
        "config/transactionMetrics kept the count"
    );
    b.shutdown().await.unwrap();
}

/// The timer store's metrics and the topic and group creation histograms: timers to the
/// millisecond (three short, one far out that stays pending) and a delay-level message (which
/// goes through the schedule topic, not the timer, as in Java); topics and groups created, one of
/// each refused. The scrape is polled until the short timers are delivered.
#[tokio::test]
async fn timers_and_creations_are_counted() {
    use rmq_protocol::body::{self, CreateTopicListRequestBody};
    use rmq_protocol::header::CreateTopicRequestHeader;
    use rmq_protocol::time::now_ms;

    const TT: &str = "TimerMetricsTopic";
    const SHORT_MS: [i64; 3] = [150, 237, 301];
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.metrics_exporter_type = "PROM".into();
    config.metrics_prom_exporter_host = "127.0.0.1".into();
    config.metrics_prom_exporter_port = 0;
    let b = Broker::start(config.clone()).await.unwrap();
    let metrics = b.metrics_addr().unwrap();
    let addr = common::addr(&b);
    let client = RemotingClient::new();

    let before = scrape(metrics).await;
    let topics_before = sample(&before, "rocketmq_topic_number", &[]).unwrap();
    let groups_before = sample(&before, "rocketmq_consumer_group_number", &[]).unwrap();
    assert_eq!(
        sample(&before, "rocketmq_timer_enqueue_lag", &[]),
        Some(0.0),
        "{before}"
    );

    // Topics: one created alone, two in a list, one refused (a system topic's name).
    let create = |topic: &str| {
        let h = CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: "TBW102".into(),
            read_queue_nums: 4,
            write_queue_nums: 4,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
            attributes: None,
            force: None,
        };
        RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC).with_header(&h)
    };
    assert_eq!(call(&client, &addr, create(TT)).await.code, code::SUCCESS);
    assert_eq!(
        call(&client, &addr, create("rmq_sys_refused")).await.code,
        code::SYSTEM_ERROR
    );
    let list = CreateTopicListRequestBody {
        topic_config_list: ["ListedA", "ListedB"]
            .iter()
            .map(|t| rmq_broker::topic::topic_config(t, 4, 6))
            .collect(),
    };
    let req = RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC_LIST).with_body(body::to_json(&list));
    let resp = call(&client, &addr, req).await;
    assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    // Groups: two created, one refused (an illegal name).
    for (group, want) in [
        ("CreatedGroupA", code::SUCCESS),
        ("CreatedGroupB", code::SUCCESS),
        ("bad group", code::SYSTEM_ERROR),
    ] {
        let req = RemotingCommand::request(rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(format!("{{\"groupName\":\"{group}\"}}").into_bytes());
        assert_eq!(call(&client, &addr, req).await.code, want, "{group}");
    }
    let created = scrape(metrics).await;
    assert_eq!(
        sample(&created, "rocketmq_topic_number", &[]),
        Some(topics_before + 3.0)
    );
    assert_eq!(
        sample(&created, "rocketmq_consumer_group_number", &[]),
        Some(groups_before + 2.0)
    );

    // Timers: one due in 90 s (stays pending), three due in a few hundred ms; a delay level 1.
    let send = |props: Vec<(&'static str, String)>| {
        let h = SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: TT.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            born_timestamp: now_ms(),
            properties: Some(message::encode_properties(&props)),
            ..Default::default()
        };
        RemotingCommand::request(rc::SEND_MESSAGE)
            .with_header(&h)
            .with_body(b"timer".to_vec())
    };
    let far = vec![("TIMER_DELIVER_MS", (now_ms() + 90_000).to_string())];
    let mut sends = vec![far];
    sends.extend(SHORT_MS.map(|ms| vec![("TIMER_DELAY_MS", ms.to_string())]));
    sends.push(vec![("DELAY", "1".to_string())]);
    for props in sends {
        let resp = call(&client, &addr, send(props)).await;
        assert_eq!(resp.code, code::SUCCESS, "{:?}", resp.remark);
    }

    let topic = format!("topic=\"{TT}\"");
    let short = SHORT_MS.len() as f64;
    let state = b.state().clone();
    let text = common::wait::wait_for(
        "the short timers and the delay-level message delivered",
        Duration::from_secs(30),
        || {
            let (topic, state) = (topic.clone(), state.clone());
            async move {
                let text = scrape(metrics).await;
                let delivered = sample(&text, "rocketmq_timer_dequeue_total", &[&topic]);
                let stored = state.store.max_offset_in_queue(TT, 0);
                if delivered == Some(short) && stored == 4 {
                    Ok(text)
                } else {
                    Err(format!(
                        "{delivered:?} timers delivered, {stored} messages in {TT}"
                    ))
                }
            }
        },
    )
    .await;
    let store = "storage_type=\"local\",storage_medium=\"disk\"";
    assert_eq!(
        sample(&text, "rocketmq_timer_enqueue_total", &[&topic, store]),
        Some(short + 1.0),
        "the delay-level message is no timer: {text}"
    );
    assert_eq!(sample(&text, "rocketmq_timing_messages", &[&topic]), Some(1.0));
    assert_eq!(sample(&text, "rocketmq_timer_dequeue_lag", &[store]), Some(1.0));
    assert_eq!(sample(&text, "rocketmq_timer_enqueue_lag", &[]), Some(0.0));
    assert_eq!(sample(&text, "rocketmq_timer_enqueue_latency", &[]), Some(0.0));
    assert!(sample(&text, "rocketmq_timer_dequeue_latency", &[]).unwrap() <= 5.0);
    // Delays in whole seconds: the short ones under 1 min, the far one under 10 min.
    let delay = |le: &str| {
        sample(
            &text,
            "rocketmq_delay_message_latency_bucket",
            &[&topic, &format!("le=\"{le}\"")],
        )
    };
    assert_eq!(delay("60.0"), Some(short));
    assert_eq!(delay("600.0"), Some(short + 1.0));
    assert_eq!(
        sample(&text, "rocketmq_delay_message_latency_count", &[&topic]),
        Some(short + 1.0)
    );
    assert!(text.contains("# TYPE rocketmq_delay_message_latency histogram"));
    assert!(text.contains("# TYPE rocketmq_timer_enqueue_total counter"));

    let timed = |name: &str, labels: &[&str]| sample(&text, &format!("{name}_count"), labels);
    let topic_created = "rocketmq_topic_create_execution_time";
    assert_eq!(
        timed(
            topic_created,
            &["invocation_status=\"success\"", "is_system=\"false\""]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        timed(
            topic_created,
            &["invocation_status=\"failure\"", "is_system=\"true\""]
        ),
        Some(1.0)
    );
    let group_created = "rocketmq_consumer_group_create_execution_time";
    assert_eq!(
        timed(group_created, &["invocation_status=\"success\""]),
        Some(2.0)
    );
    assert_eq!(
        timed(group_created, &["invocation_status=\"failure\""]),
        Some(1.0)
    );
    assert!(sample(
        &text,
        "rocketmq_topic_create_execution_time_bucket",
        &["le=\"5000.0\""]
    )
    .is_some());

    // After a restart the far timer is found pending again: timing, not enqueued anew.
    b.shutdown().await.unwrap();
    drop(state); // it holds the store (and its lock)
    let b = Broker::start(config).await.unwrap();
    let metrics = b.metrics_addr().unwrap();
    let text = common::wait::wait_for("the pending timer found again", Duration::from_secs(30), || {
        let topic = topic.clone();
        async move {
            let text = scrape(metrics).await;
            match sample(&text, "rocketmq_timing_messages", &[&topic]) {
                Some(1.0) => Ok(text),
                n => Err(format!("timing {n:?}")),
            }
        }
    })
    .await;
    assert_eq!(
        sample(&text, "rocketmq_timer_enqueue_total", &[&topic]),
        Some(0.0)
    );
    assert_eq!(sample(&text, "rocketmq_timer_dequeue_lag", &[]), Some(1.0));
    b.shutdown().await.unwrap();
}
