//! `rmq bench pop-churn`: POP consumers coming and going under load (issue #13, must-show 3).
//!
//! A producer sends `--rate` messages a second for `--duration` seconds; up to `--consumers`
//! [`SimpleConsumer`]s of one group pop (queue -1, `--batch` at a time) and ack everything they
//! get. Every second one consumer leaves or joins (never fewer than one): a leaving one drops the
//! batch it holds without acking — as a crashed consumer would — so those messages must come back
//! after their invisible time. After the load every slot joins and the run drains until each sent
//! message has been acknowledged once.
//!
//! Reported: sent, acknowledged, missing, duplicate deliveries (and how many of those came after
//! an ack — there must be none), the *overdue* time of each redelivery (how long after its
//! previous pop's invisible time ended it was handed out again: the revive path plus the next
//! pop), and the send → first delivery latency. The run fails when a message is missing, an
//! acknowledged message comes back, or a redelivery is overdue by more than `--revive-allowance-ms`
//! (one revive interval, Java's `reviveInterval`, by default).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use parking_lot::Mutex;
use rmq_client::{Admin, ConsumeFromWhere, Message, PoppedMessage, Producer, SimpleConsumer};
use rmq_protocol::time::now_ms;
use tokio::task::JoinHandle;

use super::{client_config, new_histogram, percentiles, record};

const BODY_PREFIX: &str = "churn-";

#[derive(Args, Debug)]
pub struct PopChurnArgs {
    /// Name server address list (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    #[arg(short = 't', long, default_value = "BenchmarkPopChurn")]
    topic: String,
    #[arg(short = 'g', long, default_value = "benchmark_pop_churn")]
    group: String,
    /// Consumer slots (each joins and leaves).
    #[arg(long, default_value_t = 8)]
    consumers: usize,
    /// Seconds of load (and of churn).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Messages sent per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Queues of the topic (created on every master).
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Invisible time of each pop (ms).
    #[arg(long, default_value_t = 3_000)]
    invisible_ms: u64,
    /// Messages per pop (1..=32).
    #[arg(long, default_value_t = 16)]
    batch: u32,
    /// How long after its invisible time a redelivery may come (ms).
    #[arg(long, default_value_t = 1_000)]
    revive_allowance_ms: i64,
    /// Most seconds to wait, after the load, for every message to be acknowledged.
    #[arg(long, default_value_t = 60)]
    drain: u64,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

/// One hand-out of a message.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    at_ms: i64,
    pop_time: i64,
    invisible_time: i64,
    acked: bool,
}

#[derive(Default)]
struct Ledger {
    sent: HashMap<u64, i64>,
    deliveries: HashMap<u64, Vec<Delivery>>,
    acked: u64,
}

struct Shared {
    ledger: Mutex<Ledger>,
    /// Deliveries dropped by leaving consumers.
    abandoned: AtomicU64,
}

impl Shared {
    fn delivered(&self, seq: u64, m: &PoppedMessage, at_ms: i64) {
        self.ledger
            .lock()
            .deliveries
            .entry(seq)
            .or_default()
            .push(Delivery {
                at_ms,
                pop_time: m.pop_time,
                invisible_time: m.invisible_time,
                acked: false,
            });
    }

    fn acked(&self, seq: u64) {
        let mut l = self.ledger.lock();
        let first = match l.deliveries.get_mut(&seq).and_then(|d| d.last_mut()) {
            Some(d) => {
                d.acked = true;
                true
            }
            None => false,
        };
        if first {
            l.acked += 1;
        }
    }

    /// Messages sent and acknowledged at least once.
    fn done(&self) -> (usize, usize) {
        let l = self.ledger.lock();
        let acked = l
            .sent
            .keys()
            .filter(|s| l.deliveries.get(s).is_some_and(|d| d.iter().any(|x| x.acked)))
            .count();
        (l.sent.len(), acked)
    }
}

fn seq_of(m: &PoppedMessage) -> Option<u64> {
    std::str::from_utf8(&m.message.body)
        .ok()?
        .strip_prefix(BODY_PREFIX)?
        .parse()
        .ok()
}

/// One consumer slot's life: pop and ack until told to leave, then drop what it holds.
async fn consume(
    consumer: SimpleConsumer,
    leave: Arc<AtomicBool>,
    shared: Arc<Shared>,
    invisible: Duration,
    batch: u32,
) {
    while !leave.load(Ordering::Acquire) {
        let got = match consumer
            .receive(batch, invisible, Duration::from_millis(500))
            .await
        {
            Ok(got) => got,
            Err(e) => {
                tracing::debug!(error = %e, "pop failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let at = now_ms();
        for m in &got {
            if let Some(seq) = seq_of(m) {
                shared.delivered(seq, m, at);
            }
        }
        if leave.load(Ordering::Acquire) {
            // Leaving with a batch in hand: never acked, it must come back.
            shared.abandoned.fetch_add(got.len() as u64, Ordering::Relaxed);
            break;
        }
        for m in &got {
            match consumer.ack(m).await {
                Ok(()) => {
                    if let Some(seq) = seq_of(m) {
                        shared.acked(seq);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "ack failed"),
            }
        }
    }
    consumer.shutdown().await;
}

struct Slot {
    leave: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

pub async fn run(args: PopChurnArgs) -> anyhow::Result<()> {
    if args.consumers == 0 || args.rate == 0 || !(1..=32).contains(&args.batch) {
        bail!("--consumers and --rate must be at least 1, --batch within 1..=32");
    }
    let config = client_config(args.namesrv.clone(), &args.tls, &args.acl)?;
    let admin = Admin::new(config.clone());
    let cluster = admin.cluster_info().await.context("cluster info")?;
    let masters: Vec<String> = cluster
        .broker_addr_table
        .values()
        .filter_map(|b| b.broker_addrs.get(&0).cloned())
        .collect();
    if masters.is_empty() {
        bail!("no master broker in the cluster");
    }
    let mut tc = rmq_protocol::body::TopicConfig::new(&args.topic);
    tc.read_queue_nums = args.queues;
    tc.write_queue_nums = args.queues;
    for m in &masters {
        admin
            .create_topic(m, &tc)
            .await
            .with_context(|| format!("creating {} on {m}", args.topic))?;
    }
    let producer = Producer::new(format!("{}_producer", args.group), config.clone());
    producer.start().await?;
    let shared = Arc::new(Shared {
        ledger: Mutex::new(Ledger::default()),
        abandoned: AtomicU64::new(0),
    });
    let invisible = Duration::from_millis(args.invisible_ms);
    let start_slot = |shared: &Arc<Shared>| -> anyhow::Result<Slot> {
        let consumer = SimpleConsumer::new(args.group.clone(), config.clone())
            .with_consume_from_where(ConsumeFromWhere::FirstOffset);
        consumer.subscribe(&args.topic, "*")?;
        let leave = Arc::new(AtomicBool::new(false));
        let (l, s, batch) = (leave.clone(), shared.clone(), args.batch);
        let task = tokio::spawn(async move {
            if let Err(e) = consumer.start().await {
                tracing::warn!(error = %e, "consumer did not start");
                return;
            }
            consume(consumer, l, s, invisible, batch).await;
        });
        Ok(Slot { leave, task })
    };
    let mut slots: Vec<Option<Slot>> = (0..args.consumers).map(|_| None).collect();
    for slot in slots.iter_mut().take(args.consumers.div_ceil(2)) {
        *slot = Some(start_slot(&shared)?);
    }
    println!(
        "bench pop-churn: topic={} group={} consumers={} duration={}s rate={}/s invisible={}ms batch={} on {} master(s)",
        args.topic,
        args.group,
        args.consumers,
        args.duration,
        args.rate,
        args.invisible_ms,
        args.batch,
        masters.len()
    );

    // Load: paced sends for the duration, churn once a second meanwhile.
    let started = tokio::time::Instant::now();
    let stop_at = started + Duration::from_secs(args.duration);
    let sender = {
        let (producer, shared, topic, rate) =
            (producer.clone(), shared.clone(), args.topic.clone(), args.rate);
        tokio::spawn(async move {
            let mut seq = 0u64;
            let gap = Duration::from_secs_f64(1.0 / rate as f64);
            let mut next = tokio::time::Instant::now();
            let mut failed = 0u64;
            while tokio::time::Instant::now() < stop_at {
                tokio::time::sleep_until(next).await;
                next += gap;
                let m = Message::new(&topic, format!("{BODY_PREFIX}{seq}"));
                match producer.send(m).await {
                    Ok(_) => {
                        shared.ledger.lock().sent.insert(seq, now_ms());
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::debug!(error = %e, "send failed");
                    }
                }
                seq += 1;
            }
            failed
        })
    };
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut events = (0u64, 0u64);
    let mut tick = tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(1));
    while tokio::time::Instant::now() < stop_at {
        tick.tick().await;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let running: Vec<usize> = (0..slots.len()).filter(|i| slots[*i].is_some()).collect();
        let idle: Vec<usize> = (0..slots.len()).filter(|i| slots[*i].is_none()).collect();
        let join = running.len() <= 1 || (!idle.is_empty() && rng.is_multiple_of(2));
        if join {
            if let Some(&i) = idle.get((rng >> 8) as usize % idle.len().max(1)) {
                slots[i] = Some(start_slot(&shared)?);
                events.0 += 1;
            }
        } else if let Some(&i) = running.get((rng >> 8) as usize % running.len().max(1)) {
            if let Some(slot) = slots[i].take() {
                slot.leave.store(true, Ordering::Release);
                events.1 += 1;
                tokio::spawn(async move {
                    let _ = slot.task.await;
                });
            }
        }
        let (sent, acked) = shared.done();
        println!(
            "[{:>3}s] consumers={} sent={sent} acked={acked} abandoned={} joins={} leaves={}",
            started.elapsed().as_secs(),
            slots.iter().filter(|s| s.is_some()).count(),
            shared.abandoned.load(Ordering::Relaxed),
            events.0,
            events.1
        );
    }
    let failed_sends = sender.await.unwrap_or(0);

    // Drain: everyone in, until every sent message is acknowledged.
    for slot in slots.iter_mut() {
        if slot.is_none() {
            *slot = Some(start_slot(&shared)?);
        }
    }
    let drain_until = tokio::time::Instant::now() + Duration::from_secs(args.drain);
    loop {
        let (sent, acked) = shared.done();
        if acked >= sent || tokio::time::Instant::now() >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for slot in slots.into_iter().flatten() {
        slot.leave.store(true, Ordering::Release);
        let _ = tokio::time::timeout(Duration::from_secs(10), slot.task).await;
    }
    producer.shutdown().await;

    report(&shared, &args, failed_sends, events)
}

fn report(shared: &Shared, args: &PopChurnArgs, failed_sends: u64, events: (u64, u64)) -> anyhow::Result<()> {
    let l = shared.ledger.lock();
    let mut latency = new_histogram();
    let mut overdue = new_histogram();
    let (mut missing, mut duplicates, mut after_ack, mut redeliveries) = (0u64, 0u64, 0u64, 0u64);
    let mut max_overdue_ms = 0i64;
    let mut examples = Vec::new();
    for (seq, sent_ms) in &l.sent {
        let Some(ds) = l.deliveries.get(seq) else {
            missing += 1;
            if examples.len() < 5 {
                examples.push(format!("{BODY_PREFIX}{seq} never delivered"));
            }
            continue;
        };
        if !ds.iter().any(|d| d.acked) {
            missing += 1;
        }
        if let Some(first) = ds.first() {
            record(&mut latency, ((first.at_ms - sent_ms).max(0) as u64) * 1000);
        }
        duplicates += ds.len().saturating_sub(1) as u64;
        for pair in ds.windows(2) {
            let (prev, next) = (pair[0], pair[1]);
            if prev.acked {
                after_ack += 1;
                if examples.len() < 5 {
                    examples.push(format!("{BODY_PREFIX}{seq} delivered again after its ack"));
                }
            }
            redeliveries += 1;
            let due = prev.pop_time + prev.invisible_time;
            let late = next.at_ms - due;
            max_overdue_ms = max_overdue_ms.max(late);
            record(&mut overdue, (late.max(0) as u64) * 1000);
            if next.pop_time < due && examples.len() < 5 {
                examples.push(format!(
                    "{BODY_PREFIX}{seq} popped again at {} before its invisible time ended at {due}",
                    next.pop_time
                ));
            }
        }
    }
    let early = l
        .deliveries
        .values()
        .flat_map(|ds| ds.windows(2).map(|p| (p[0], p[1])))
        .filter(|(prev, next)| next.pop_time < prev.pop_time + prev.invisible_time)
        .count();
    let (lp50, lp99, _, lmax) = percentiles(&latency);
    let (op50, op99, _, omax) = percentiles(&overdue);
    println!(
        "bench pop-churn: sent={} failed_sends={failed_sends} acked={} missing={missing} deliveries={} duplicates={duplicates} \
         abandoned={} redeliveries={redeliveries} after_ack={after_ack} early={early} joins={} leaves={}",
        l.sent.len(),
        l.acked,
        l.deliveries.values().map(Vec::len).sum::<usize>(),
        shared.abandoned.load(Ordering::Relaxed),
        events.0,
        events.1
    );
    println!("  send → first delivery ms: p50 {lp50:.1} p99 {lp99:.1} max {lmax:.1}");
    println!(
        "  redelivery after the invisible time ended, ms: p50 {op50:.1} p99 {op99:.1} max {omax:.1} (allowance {} ms)",
        args.revive_allowance_ms
    );
    for e in &examples {
        println!("  {e}");
    }
    println!(
        "RESULT pop-churn sent={} missing={missing} duplicates={duplicates} after_ack={after_ack} early={early} \
         abandoned={} redeliveries={redeliveries} overdue_p50_ms={op50:.1} overdue_p99_ms={op99:.1} \
         max_overdue_ms={max_overdue_ms} first_delivery_p50_ms={lp50:.1} first_delivery_p99_ms={lp99:.1} \
         first_delivery_max_ms={lmax:.1} joins={} leaves={}",
        l.sent.len(),
        shared.abandoned.load(Ordering::Relaxed),
        events.0,
        events.1
    );
    if missing > 0 || after_ack > 0 || early > 0 || max_overdue_ms > args.revive_allowance_ms {
        bail!(
            "pop churn failed: missing={missing} after_ack={after_ack} early={early} max_overdue_ms={max_overdue_ms}"
        );
    }
    Ok(())
}
