//! `rmq bench grpc-produce | grpc-consume`: the same load over the RocketMQ 5.x gRPC protocol
//! (`apache.rocketmq.v2.MessagingService`) that 5.x SDKs speak, against a broker's gRPC port.
//!
//! `grpc-produce`: `-w` concurrent senders over `--channels` HTTP/2 connections, each a
//! SendMessage of one message (a 5.x producer's one request per message) and its wait.
//! `grpc-consume`: `-w` receivers of one group (Settings sent once over Telemetry), each a
//! ReceiveMessage of up to `--batch` messages, then one AckMessage for them: a SimpleConsumer's
//! loop. Both print the interval and summary lines and the `RESULT` line of `rmq bench produce`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use rmq_grpc_proto::tonic::transport::{Channel, Endpoint};
use rmq_grpc_proto::tonic::Request;
use rmq_grpc_proto::v2::messaging_service_client::MessagingServiceClient;
use rmq_grpc_proto::v2::*;
use rmq_grpc_proto::{prost_types, tonic};
use tokio::task::JoinSet;

use super::{interval, new_histogram, percentiles, record, report_sends, Limits, Stats};

#[derive(Args, Debug)]
pub struct GrpcProduceArgs {
    /// The broker's gRPC endpoint, host:port (its `grpcServerPort`).
    #[arg(short = 'e', long)]
    endpoint: String,
    #[arg(short = 't', long, default_value = "BenchmarkTest")]
    topic: String,
    /// Concurrent senders.
    #[arg(short = 'w', long = "threads", default_value_t = 64)]
    threads: usize,
    /// HTTP/2 connections the senders share.
    #[arg(long, default_value_t = 4)]
    channels: usize,
    /// Message body size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 128)]
    size: usize,
    #[arg(long)]
    duration: Option<f64>,
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
}

#[derive(Args, Debug)]
pub struct GrpcConsumeArgs {
    /// The broker's gRPC endpoint, host:port.
    #[arg(short = 'e', long)]
    endpoint: String,
    #[arg(short = 't', long, default_value = "BenchmarkTest")]
    topic: String,
    #[arg(short = 'g', long, default_value = "benchmark_grpc_consumer")]
    group: String,
    /// Concurrent receivers.
    #[arg(short = 'w', long = "threads", default_value_t = 8)]
    threads: usize,
    #[arg(long, default_value_t = 4)]
    channels: usize,
    /// Messages per ReceiveMessage (at most 32).
    #[arg(long, default_value_t = 32)]
    batch: i32,
    #[arg(long)]
    duration: Option<f64>,
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
}

fn resource(name: &str) -> Option<Resource> {
    Some(Resource {
        resource_namespace: String::new(),
        name: name.to_string(),
    })
}

fn request<T>(msg: T, client_id: &str, timeout: Duration) -> Request<T> {
    let mut r = Request::new(msg);
    r.set_timeout(timeout);
    let meta = r.metadata_mut();
    meta.insert("x-mq-client-id", client_id.parse().expect("ascii client id"));
    meta.insert(
        "x-mq-language",
        tonic::metadata::MetadataValue::from_static("RUST"),
    );
    meta.insert("x-mq-protocol", tonic::metadata::MetadataValue::from_static("v2"));
    meta.insert(
        "x-mq-client-version",
        tonic::metadata::MetadataValue::from_static("5.0.7"),
    );
    r
}

async fn channels(endpoint: &str, n: usize) -> anyhow::Result<Vec<MessagingServiceClient<Channel>>> {
    let mut out = Vec::with_capacity(n.max(1));
    for _ in 0..n.max(1) {
        let channel = Endpoint::from_shared(format!("http://{endpoint}"))?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to the gRPC endpoint {endpoint}"))?;
        out.push(MessagingServiceClient::new(channel));
    }
    Ok(out)
}

fn client_id(role: &str) -> String {
    format!("rmq-bench-{role}@{}", std::process::id())
}

fn status_error(what: &str, s: Option<&Status>) -> Option<String> {
    match s {
        Some(s) if s.code == Code::Ok as i32 => None,
        Some(s) => Some(format!("{what}: {} {}", s.code, s.message)),
        None => Some(format!("{what}: no status")),
    }
}

/// Unique enough message ids: the process, the time, a counter.
fn message_id(seq: u64) -> String {
    format!(
        "01{:08X}{:016X}{:08X}",
        std::process::id(),
        rmq_protocol::time::now_ms(),
        seq as u32
    )
}

pub async fn produce(args: GrpcProduceArgs) -> anyhow::Result<()> {
    if args.threads == 0 {
        bail!("-w must be at least 1");
    }
    let tick = interval(args.interval)?;
    let limits = Limits::new(args.count, args.duration)?;
    let clients = channels(&args.endpoint, args.channels).await?;
    println!(
        "bench grpc-produce: endpoint={} topic={} threads={} channels={} size={}",
        args.endpoint, args.topic, args.threads, args.channels, args.size
    );
    let id = client_id("producer");
    let body = bytes::Bytes::from(vec![b'a'; args.size]);
    let stats = Arc::new(Stats::default());
    let errors = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let stopper = limits.spawn_stopper();
    let reporter = tokio::spawn(report_sends(stats.clone(), limits.clone(), started, tick));
    let mut workers = JoinSet::new();
    for i in 0..args.threads {
        let mut client = clients[i % clients.len()].clone();
        let (limits, stats, errors, seq, id, body, topic) = (
            limits.clone(),
            stats.clone(),
            errors.clone(),
            seq.clone(),
            id.clone(),
            body.clone(),
            args.topic.clone(),
        );
        workers.spawn(async move {
            let mut hist = new_histogram();
            while limits.claim(1) == 1 {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let msg = Message {
                    topic: resource(&topic),
                    user_properties: Default::default(),
                    system_properties: Some(SystemProperties {
                        message_id: message_id(n),
                        message_type: MessageType::Normal as i32,
                        born_timestamp: Some(prost_types::Timestamp {
                            seconds: rmq_protocol::time::now_ms() / 1000,
                            nanos: 0,
                        }),
                        ..Default::default()
                    }),
                    body: body.clone(),
                };
                let t0 = Instant::now();
                let res = client
                    .send_message(request(
                        SendMessageRequest { messages: vec![msg] },
                        &id,
                        Duration::from_secs(3),
                    ))
                    .await;
                let rt = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                let failure = match &res {
                    Ok(r) => status_error("send", r.get_ref().status.as_ref()),
                    Err(e) => Some(format!("send: {e}")),
                };
                match failure {
                    None => {
                        record(&mut hist, rt);
                        stats.success(1, rt);
                    }
                    Some(e) => {
                        stats.failed.fetch_add(1, Ordering::Relaxed);
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("{e}");
                        }
                    }
                }
            }
            hist
        });
    }
    let mut hist = new_histogram();
    while let Some(h) = workers.join_next().await {
        hist.add(h?).context("merging histograms")?;
    }
    let elapsed = started.elapsed();
    reporter.abort();
    stopper.abort();
    summary("grpc-produce", "sent", &stats, &hist, elapsed)
}

fn summary(
    name: &str,
    verb: &str,
    stats: &Stats,
    hist: &hdrhistogram::Histogram<u64>,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let ok = stats.ok.load(Ordering::Relaxed);
    let failed = stats.failed.load(Ordering::Relaxed);
    let requests = stats.requests.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let tps = ok as f64 / secs;
    let avg = if requests > 0 {
        stats.rt_sum_us.load(Ordering::Relaxed) as f64 / requests as f64 / 1000.0
    } else {
        0.0
    };
    let (p50, p99, p999, max) = percentiles(hist);
    println!("---- bench {name} summary ----");
    println!("elapsed {secs:.2} s | {verb} {ok} msgs | failed {failed} | TPS {tps:.1} | requests {requests}");
    println!("RT(ms): avg {avg:.3} | p50 {p50:.3} | p99 {p99:.3} | p999 {p999:.3} | max {max:.3}");
    println!(
        "RESULT {name} {verb}={ok} failed={failed} elapsed_s={secs:.3} tps={tps:.1} avg_ms={avg:.3} p50_ms={p50:.3} p99_ms={p99:.3} p999_ms={p999:.3} max_ms={max:.3}"
    );
    if ok == 0 {
        bail!("no message was {verb} ({failed} failed)");
    }
    Ok(())
}

/// Opens the consumer's Telemetry stream and settles its Settings; the stream stays open while
/// the returned sender lives.
async fn settle(
    client: &mut MessagingServiceClient<Channel>,
    id: &str,
    group: &str,
    topic: &str,
) -> anyhow::Result<tokio::sync::mpsc::Sender<TelemetryCommand>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(telemetry_command::Command::Settings(Settings {
            client_type: Some(ClientType::SimpleConsumer as i32),
            pub_sub: Some(settings::PubSub::Subscription(Subscription {
                group: resource(group),
                subscriptions: vec![SubscriptionEntry {
                    topic: resource(topic),
                    expression: Some(FilterExpression {
                        r#type: FilterType::Tag as i32,
                        expression: "*".into(),
                    }),
                }],
                ..Default::default()
            })),
            ..Default::default()
        })),
    })
    .await?;
    let outbound = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut inbound = client
        .telemetry(request(outbound, id, Duration::from_secs(3600)))
        .await
        .context("telemetry")?
        .into_inner();
    match inbound.message().await? {
        Some(TelemetryCommand {
            command: Some(telemetry_command::Command::Settings(_)),
            ..
        }) => {}
        other => bail!("no Settings answer: {other:?}"),
    }
    tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
    Ok(tx)
}

pub async fn consume(args: GrpcConsumeArgs) -> anyhow::Result<()> {
    if args.threads == 0 || !(1..=32).contains(&args.batch) {
        bail!("-w must be at least 1 and --batch 1..=32");
    }
    let tick = interval(args.interval)?;
    let limits = Limits::new(args.count, args.duration)?;
    let mut clients = channels(&args.endpoint, args.channels).await?;
    let id = client_id("consumer");
    let _telemetry = settle(&mut clients[0], &id, &args.group, &args.topic).await?;
    println!(
        "bench grpc-consume: endpoint={} topic={} group={} threads={} channels={} batch={}",
        args.endpoint, args.topic, args.group, args.threads, args.channels, args.batch
    );
    let stats = Arc::new(Stats::default());
    let errors = Arc::new(AtomicU64::new(0));
    // When the last messages came (µs from the start): the TPS leaves out the final empty polls.
    let last_us = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let stopper = limits.spawn_stopper();
    let reporter = tokio::spawn(report_sends(stats.clone(), limits.clone(), started, tick));
    let mut workers = JoinSet::new();
    for i in 0..args.threads {
        let mut client = clients[i % clients.len()].clone();
        let (limits, stats, errors, id, last_us) = (
            limits.clone(),
            stats.clone(),
            errors.clone(),
            id.clone(),
            last_us.clone(),
        );
        let (group, topic, batch) = (args.group.clone(), args.topic.clone(), args.batch);
        workers.spawn(async move {
            let mut hist = new_histogram();
            while !limits.stopped() {
                let t0 = Instant::now();
                match receive_and_ack(&mut client, &id, &group, &topic, batch).await {
                    Ok(0) => {}
                    Ok(n) => {
                        let rt = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                        record(&mut hist, rt);
                        stats.success(n as u64, rt);
                        last_us.fetch_max(
                            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                            Ordering::Relaxed,
                        );
                        if limits.claim(n) < n || limits.exhausted() {
                            limits.stop.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        stats.failed.fetch_add(1, Ordering::Relaxed);
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("{e}");
                        }
                    }
                }
            }
            hist
        });
    }
    let mut hist = new_histogram();
    while let Some(h) = workers.join_next().await {
        hist.add(h?).context("merging histograms")?;
    }
    let elapsed = started
        .elapsed()
        .min(Duration::from_micros(last_us.load(Ordering::Relaxed).max(1)));
    reporter.abort();
    stopper.abort();
    summary("grpc-consume", "received", &stats, &hist, elapsed)
}

/// One ReceiveMessage (2 s long poll) and one AckMessage of what it brought: the messages acked.
async fn receive_and_ack(
    client: &mut MessagingServiceClient<Channel>,
    id: &str,
    group: &str,
    topic: &str,
    batch: i32,
) -> anyhow::Result<usize> {
    use receive_message_response::Content;
    let req = ReceiveMessageRequest {
        group: resource(group),
        message_queue: Some(MessageQueue {
            topic: resource(topic),
            id: -1,
            permission: Permission::ReadWrite as i32,
            broker: None,
            accept_message_types: Vec::new(),
        }),
        filter_expression: Some(FilterExpression {
            r#type: FilterType::Tag as i32,
            expression: "*".into(),
        }),
        batch_size: batch,
        invisible_duration: Some(prost_types::Duration {
            seconds: 30,
            nanos: 0,
        }),
        auto_renew: false,
        long_polling_timeout: Some(prost_types::Duration { seconds: 5, nanos: 0 }),
        attempt_id: None,
    };
    let mut stream = client
        .receive_message(request(req, id, Duration::from_secs(10)))
        .await?
        .into_inner();
    let mut entries = Vec::new();
    while let Some(item) = stream.message().await? {
        match item.content {
            Some(Content::Status(s))
                if s.code != Code::Ok as i32 && s.code != Code::MessageNotFound as i32 =>
            {
                bail!("receive: {} {}", s.code, s.message)
            }
            Some(Content::Message(m)) => {
                let sys = m.system_properties.unwrap_or_default();
                entries.push(AckMessageEntry {
                    message_id: sys.message_id,
                    receipt_handle: sys.receipt_handle.unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
    let n = entries.len();
    if n == 0 {
        return Ok(0);
    }
    let ack = AckMessageRequest {
        group: resource(group),
        topic: resource(topic),
        entries,
    };
    let resp = client
        .ack_message(request(ack, id, Duration::from_secs(3)))
        .await?;
    if let Some(e) = status_error("ack", resp.get_ref().status.as_ref()) {
        bail!(e);
    }
    Ok(n)
}
