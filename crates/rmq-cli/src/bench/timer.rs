//! `rmq bench timer`: how late timer messages arrive when many fall due at once (issue #13;
//! BENCHMARKS.md "Timer messages").
//!
//! `--count` messages, each with `TIMER_DELIVER_MS` spread evenly over one `--spread-ms` window
//! that starts `--lead-ms` after the run starts (long enough to send them all first), are sent by
//! `-w` senders; every queue of the topic is pulled from its max offset meanwhile. For each
//! message that arrives, two latenesses against its deliver time: the *delivery* lateness (the
//! store time of the delivered copy, the broker's own doing) and the *receipt* lateness (when this
//! process got it, the pull path included). Reports p50 / p99 / p999 / max of both, the messages
//! early (delivered before their time), missing and duplicated, and one `RESULT timer …` line.
//! Any broker that speaks 5.x timers can be measured: rmq or the Java 5.x broker (bench/timer).

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use rmq_client::{Admin, Message, Producer};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::{decode_messages, property, pull_sys_flag};
use rmq_protocol::time::now_ms;
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;
use tokio::task::JoinSet;

use super::{client_config, master_queues, new_histogram, percentiles, record, PullQueue};

/// The property carrying the deliver time the bench asked for (also readable on the Java side).
const ASKED: &str = "BENCH_TIMER_DELIVER_MS";

#[derive(Args, Debug)]
pub struct TimerArgs {
    /// Name server address list (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    #[arg(short = 't', long, default_value = "BenchmarkTimer")]
    topic: String,
    #[arg(short = 'g', long, default_value = "benchmark_timer")]
    group: String,
    /// Timer messages to send.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Message body size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 128)]
    size: usize,
    /// Concurrent senders.
    #[arg(short = 'w', long = "threads", default_value_t = 32)]
    threads: usize,
    /// The window of deliver times starts this long after the run starts (ms).
    #[arg(long, default_value_t = 20_000)]
    lead_ms: i64,
    /// Deliver times are spread evenly over this window (ms).
    #[arg(long, default_value_t = 1_000)]
    spread_ms: i64,
    /// Give up this long after the window's end (s).
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

/// What the pullers saw.
struct Seen {
    delivery: Mutex<Histogram<u64>>,
    receipt: Mutex<Histogram<u64>>,
    keys: Mutex<HashSet<String>>,
    unique: AtomicU64,
    duplicates: AtomicU64,
    early: AtomicU64,
    /// The earliest delivery relative to its deliver time (ms; negative = early).
    min_delivery_ms: AtomicI64,
}

pub async fn run(args: TimerArgs) -> anyhow::Result<()> {
    if args.count == 0 || args.threads == 0 || args.spread_ms < 1 || args.lead_ms < 1 {
        bail!("--count, -w, --spread-ms and --lead-ms must be at least 1");
    }
    let config = client_config(args.namesrv.clone(), &args.tls, &args.acl)?;
    let producer = Producer::new(args.group.clone(), config.clone());
    producer.start().await?;
    // The topic exists (auto-created by the first send) and its route is known before the timers.
    let body = Bytes::from(vec![b't'; args.size]);
    producer
        .send(Message::new(&args.topic, body.clone()))
        .await
        .context("warm-up send")?;
    let admin = Admin::new(config);
    let queues = master_queues(&admin, &args.topic, false).await?;
    let start = now_ms();
    let window = start + args.lead_ms;
    println!(
        "bench timer: topic={} count={} size={} threads={} deliver window [{window}, {}) ms = {} ms after the start, {} queues",
        args.topic,
        args.count,
        args.size,
        args.threads,
        window + args.spread_ms,
        args.lead_ms,
        queues.len()
    );

    let seen = Arc::new(Seen {
        delivery: Mutex::new(new_histogram()),
        receipt: Mutex::new(new_histogram()),
        keys: Mutex::new(HashSet::with_capacity(args.count as usize)),
        unique: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        early: AtomicU64::new(0),
        min_delivery_ms: AtomicI64::new(i64::MAX),
    });
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let remoting = RemotingClient::new().with_tls(args.tls.client_tls()?);
    let remoting = Arc::new(match args.acl.credentials() {
        Some(creds) => remoting.with_hook(Arc::new(rmq_client::SignRequests::new(creds))),
        None => remoting,
    });
    let mut pullers = JoinSet::new();
    for q in queues {
        pullers.spawn(pull(
            q,
            args.topic.clone(),
            args.group.clone(),
            remoting.clone(),
            seen.clone(),
            done.clone(),
        ));
    }

    // Send: message i is due at window + i * spread / count.
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut senders = JoinSet::new();
    for _ in 0..args.threads {
        let (producer, next, failed, body, topic) = (
            producer.clone(),
            next.clone(),
            failed.clone(),
            body.clone(),
            args.topic.clone(),
        );
        let (count, spread) = (args.count, args.spread_ms);
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let at = window + i64::try_from(i as u128 * spread as u128 / count as u128).unwrap_or(0);
                let m = Message::new(&topic, body.clone())
                    .with_deliver_time_ms(at)
                    .with_property(ASKED, at.to_string());
                if let Err(e) = producer.send(m).await {
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("send failed: {e}");
                    }
                }
            }
        });
    }
    while senders.join_next().await.is_some() {}
    let sent_at = now_ms();
    let failed = failed.load(Ordering::Relaxed);
    let sent = args.count - failed;
    println!(
        "sent {sent} timers in {:.2} s ({failed} failed); the window opens {} ms later",
        (sent_at - start) as f64 / 1000.0,
        window - sent_at
    );
    if sent_at > window {
        eprintln!(
            "warning: sending took longer than --lead-ms: early deliver times were already due when sent"
        );
    }
    let early_seen = seen.unique.load(Ordering::Relaxed);

    // Wait for every one, or the timeout.
    let deadline = window + args.spread_ms + i64::try_from(args.timeout_s).unwrap_or(120) * 1000;
    let mut last_report = now_ms();
    while seen.unique.load(Ordering::Relaxed) < sent && now_ms() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if now_ms() - last_report >= 1000 {
            last_report = now_ms();
            println!(
                "[{:+.1} s to the window] received {} of {sent}",
                (last_report - window) as f64 / -1000.0,
                seen.unique.load(Ordering::Relaxed)
            );
        }
    }
    // A duplicate of the last ones would come in the same pass.
    tokio::time::sleep(Duration::from_millis(200)).await;
    done.store(true, Ordering::Relaxed);
    pullers.abort_all();
    while pullers.join_next().await.is_some() {}
    producer.shutdown().await;

    let unique = seen.unique.load(Ordering::Relaxed);
    let missing = sent.saturating_sub(unique);
    let dups = seen.duplicates.load(Ordering::Relaxed);
    let early = seen.early.load(Ordering::Relaxed);
    let (d50, d99, d999, dmax) = percentiles(&seen.delivery.lock());
    let (r50, r99, r999, rmax) = percentiles(&seen.receipt.lock());
    let min_delivery = seen.min_delivery_ms.load(Ordering::Relaxed);
    println!("---- bench timer summary ----");
    println!("received {unique} of {sent} (missing {missing}, duplicates {dups}, early {early}; {early_seen} had arrived before the sends ended)");
    println!("delivery lateness (ms; store time of the delivered copy - deliver time): p50 {d50:.3} | p99 {d99:.3} | p999 {d999:.3} | max {dmax:.3} | min {min_delivery}");
    println!("receipt lateness (ms; received here - deliver time): p50 {r50:.3} | p99 {r99:.3} | p999 {r999:.3} | max {rmax:.3}");
    println!(
        "RESULT timer sent={sent} received={unique} missing={missing} duplicates={dups} early={early} send_s={:.3} delivery_p50_ms={d50:.3} delivery_p99_ms={d99:.3} delivery_p999_ms={d999:.3} delivery_max_ms={dmax:.3} receipt_p50_ms={r50:.3} receipt_p99_ms={r99:.3} receipt_p999_ms={r999:.3} receipt_max_ms={rmax:.3}",
        (sent_at - start) as f64 / 1000.0
    );
    if missing > 0 {
        bail!("{missing} timers never arrived");
    }
    Ok(())
}

async fn pull(
    mut q: PullQueue,
    topic: String,
    group: String,
    remoting: Arc<RemotingClient>,
    seen: Arc<Seen>,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    let sys_flag = pull_sys_flag::SUSPEND | pull_sys_flag::SUBSCRIPTION;
    while !done.load(Ordering::Relaxed) {
        let header = PullMessageRequestHeader {
            consumer_group: group.clone(),
            topic: topic.clone(),
            queue_id: q.queue_id,
            queue_offset: q.offset,
            max_msg_nums: 32,
            sys_flag,
            commit_offset: 0,
            suspend_timeout_millis: 1000,
            subscription: Some("*".to_owned()),
            sub_version: now_ms(),
            expression_type: Some("TAG".to_owned()),
            bname: Some(q.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(request_code::PULL_MESSAGE).with_header(&header);
        let resp = remoting
            .invoke(&q.addr, cmd, Duration::from_secs(6))
            .await
            .with_context(|| format!("PULL_MESSAGE to {}", q.addr))?;
        match resp.code {
            response_code::SUCCESS => {
                let h: PullMessageResponseHeader = resp.header()?;
                let msgs = decode_messages(&resp.body).context("decoding pulled messages")?;
                let now = now_ms();
                for m in &msgs {
                    let Some(asked) = m.properties.get(ASKED).and_then(|v| v.parse::<i64>().ok()) else {
                        continue; // the warm-up message
                    };
                    let key = m.properties.get(property::UNIQ_KEY).cloned().unwrap_or_default();
                    if !seen.keys.lock().insert(key) {
                        seen.duplicates.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let delivery = m.store_timestamp - asked;
                    seen.min_delivery_ms.fetch_min(delivery, Ordering::Relaxed);
                    if delivery < 0 {
                        seen.early.fetch_add(1, Ordering::Relaxed);
                    }
                    record(
                        &mut seen.delivery.lock(),
                        u64::try_from(delivery.max(0)).unwrap_or(0) * 1000,
                    );
                    record(
                        &mut seen.receipt.lock(),
                        u64::try_from((now - asked).max(0)).unwrap_or(0) * 1000,
                    );
                    seen.unique.fetch_add(1, Ordering::Relaxed);
                }
                q.offset = h.next_begin_offset;
            }
            response_code::PULL_NOT_FOUND
            | response_code::PULL_RETRY_IMMEDIATELY
            | response_code::PULL_OFFSET_MOVED => {
                if let Ok(h) = resp.header::<PullMessageResponseHeader>() {
                    q.offset = h.next_begin_offset;
                }
            }
            code => bail!(
                "PULL_MESSAGE to {} failed: code {code} {}",
                q.addr,
                resp.remark.unwrap_or_default()
            ),
        }
    }
    Ok(())
}
