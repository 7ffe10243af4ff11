//! The load: producer tasks that record every acknowledged (SEND_OK) message, push consumers
//! that record every delivery, and the [`Ledger`] both write to.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_client::{
    ClientConfig, ConsumeFromWhere, ConsumeStatus, ConsumerConfig, Message, Producer, PushConsumer,
    SendStatus,
};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

pub const TOPIC: &str = "ChaosTopic";
const PRODUCER_GROUP: &str = "CHAOS_PG";
const CONSUMER_GROUP: &str = "CHAOS_CG";

/// Where an acknowledged message went, and during which trial (kill-loop) it was acknowledged.
#[derive(Debug, Clone)]
pub struct Ack {
    pub broker: String,
    pub offset_msg_id: String,
    pub trial: usize,
    /// When the producer got the SEND_OK.
    pub at: Instant,
}

impl Ack {
    /// The port of the broker that stored the message (the offset message id is the store
    /// host's IPv4 address, port and commitlog offset in hex).
    pub fn store_port(&self) -> Option<u16> {
        let hex = self.offset_msg_id.get(8..16)?;
        u32::from_str_radix(hex, 16)
            .ok()
            .and_then(|p| u16::try_from(p).ok())
    }
}

/// Everything the producers and consumers saw. Locks are never held across an `.await`.
pub struct Ledger {
    /// body → where it was stored.
    acked: Mutex<HashMap<String, Ack>>,
    /// body → deliveries.
    delivered: Mutex<HashMap<String, u32>>,
    /// (trial, broker) → acknowledgements.
    acks_per_trial: Mutex<HashMap<(usize, String), u64>>,
    pub failed_sends: AtomicU64,
    pub not_ok: AtomicU64,
    pub trial: AtomicUsize,
    /// Longest time one producer task went without an acknowledgement.
    longest_task_gap_ms: AtomicU64,
    /// Longest time with no acknowledgement from any producer task.
    longest_global_gap_ms: AtomicU64,
    /// None until the first acknowledgement (start-up is not an outage).
    last_ack: Mutex<Option<Instant>>,
    /// The zero of the "+N s" times the run prints.
    pub epoch: Instant,
}

/// A stretch without any acknowledgement longer than this is printed when it ends.
const REPORTED_GAP_MS: u64 = 2000;

impl Ledger {
    pub fn new() -> Arc<Self> {
        Arc::new(Ledger {
            acked: Mutex::default(),
            delivered: Mutex::default(),
            acks_per_trial: Mutex::default(),
            failed_sends: AtomicU64::new(0),
            not_ok: AtomicU64::new(0),
            trial: AtomicUsize::new(0),
            longest_task_gap_ms: AtomicU64::new(0),
            longest_global_gap_ms: AtomicU64::new(0),
            last_ack: Mutex::new(None),
            epoch: Instant::now(),
        })
    }

    fn ack(&self, body: String, broker: String, offset_msg_id: String) {
        let trial = self.trial.load(Ordering::SeqCst);
        *self
            .acks_per_trial
            .lock()
            .entry((trial, broker.clone()))
            .or_default() += 1;
        self.acked.lock().insert(
            body,
            Ack {
                broker,
                offset_msg_id,
                trial,
                at: Instant::now(),
            },
        );
        let mut last = self.last_ack.lock();
        if let Some(previous) = *last {
            let gap = previous.elapsed().as_millis() as u64;
            self.longest_global_gap_ms.fetch_max(gap, Ordering::Relaxed);
            if gap > REPORTED_GAP_MS {
                println!(
                    "chaos: +{:5.1}s no acknowledgement from any producer for the last {gap} ms",
                    self.epoch.elapsed().as_secs_f64()
                );
            }
        }
        *last = Some(Instant::now());
    }

    fn task_gap(&self, gap: Duration) {
        self.longest_task_gap_ms
            .fetch_max(gap.as_millis() as u64, Ordering::Relaxed);
    }

    fn deliver(&self, body: String) {
        *self.delivered.lock().entry(body).or_default() += 1;
    }

    pub fn acked_count(&self) -> usize {
        self.acked.lock().len()
    }

    pub fn acks_in_trial(&self, trial: usize, broker: &str) -> u64 {
        self.acks_per_trial
            .lock()
            .get(&(trial, broker.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Acknowledgements from `broker` so far (every trial).
    pub fn acks_from(&self, broker: &str) -> u64 {
        self.acks_per_trial
            .lock()
            .iter()
            .filter(|((_, b), _)| b == broker)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Every acknowledgement so far: when, and the store port of the broker that gave it.
    pub fn acks_by_port(&self) -> Vec<(Instant, u16)> {
        let mut out: Vec<(Instant, u16)> = self
            .acked
            .lock()
            .values()
            .filter_map(|a| Some((a.at, a.store_port()?)))
            .collect();
        out.sort();
        out
    }

    /// The first acknowledgement after `after` from a broker listening on one of `ports`.
    pub fn first_ack_from(&self, ports: &[u16], after: Instant) -> Option<Instant> {
        self.acked
            .lock()
            .values()
            .filter(|a| a.at > after && a.store_port().is_some_and(|p| ports.contains(&p)))
            .map(|a| a.at)
            .min()
    }

    /// Per trial (the `trial` an acknowledgement was counted in): (acknowledged, lost,
    /// delivered more than once).
    pub fn per_trial(&self) -> HashMap<usize, (usize, usize, usize)> {
        let delivered = self.delivered.lock();
        let mut out: HashMap<usize, (usize, usize, usize)> = HashMap::new();
        for (body, ack) in self.acked.lock().iter() {
            let e = out.entry(ack.trial).or_default();
            e.0 += 1;
            match delivered.get(body) {
                None => e.1 += 1,
                Some(n) if *n > 1 => e.2 += 1,
                Some(_) => {}
            }
        }
        out
    }

    /// Acknowledged messages never delivered.
    pub fn undelivered(&self) -> Vec<(String, Ack)> {
        let delivered = self.delivered.lock();
        self.acked
            .lock()
            .iter()
            .filter(|(body, _)| !delivered.contains_key(*body))
            .map(|(b, a)| (b.clone(), a.clone()))
            .collect()
    }

    /// (distinct bodies delivered, deliveries, bodies delivered more than once, extra
    /// deliveries, delivered bodies that were never acknowledged).
    pub fn delivery_counts(&self) -> (usize, u64, usize, u64, usize) {
        let delivered = self.delivered.lock();
        let acked = self.acked.lock();
        let total: u64 = delivered.values().map(|n| u64::from(*n)).sum();
        let dups = delivered.values().filter(|n| **n > 1).count();
        let extra: u64 = delivered.values().map(|n| u64::from(*n) - 1).sum();
        let unacked = delivered.keys().filter(|b| !acked.contains_key(*b)).count();
        (delivered.len(), total, dups, extra, unacked)
    }

    /// (longest gap of one producer task, longest gap of all producers), in ms.
    pub fn gaps_ms(&self) -> (u64, u64) {
        (
            self.longest_task_gap_ms.load(Ordering::Relaxed),
            self.longest_global_gap_ms.load(Ordering::Relaxed),
        )
    }
}

/// The producer side: `tasks` loops over two producer instances, `rate` messages/s in all.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    producers: Vec<Producer>,
}

impl Load {
    pub async fn start(
        namesrv: &str,
        tasks: usize,
        rate: u64,
        fault_avoidance: bool,
        ledger: Arc<Ledger>,
    ) -> anyhow::Result<Load> {
        let mut producers = Vec::new();
        for i in 0..2 {
            let config = ClientConfig {
                instance_name: format!("chaos-p{i}"),
                send_latency_fault_enable: fault_avoidance,
                ..ClientConfig::with_namesrv(namesrv)
            };
            let p = Producer::new(PRODUCER_GROUP, config);
            p.start().await?;
            producers.push(p);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let period = Duration::from_micros(1_000_000 * tasks as u64 / rate.max(1));
        let handles = (0..tasks)
            .map(|t| {
                let producer = producers[t % producers.len()].clone();
                tokio::spawn(produce(t, producer, period, ledger.clone(), stop.clone()))
            })
            .collect();
        Ok(Load {
            stop,
            tasks: handles,
            producers,
        })
    }

    /// Stops sending and waits for the sends in flight.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            let _ = t.await;
        }
        for p in self.producers {
            p.shutdown().await;
        }
    }
}

async fn produce(
    task: usize,
    producer: Producer,
    period: Duration,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_ok = Instant::now();
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let body = format!("p{task}-{seq}");
        seq += 1;
        match producer.send(Message::new(TOPIC, body.clone())).await {
            Ok(r) if r.send_status == SendStatus::SendOk => {
                ledger.task_gap(last_ok.elapsed());
                last_ok = Instant::now();
                ledger.ack(body, r.message_queue.broker_name, r.offset_msg_id);
            }
            Ok(_) => {
                ledger.not_ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                ledger.failed_sends.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(task, error = %e, "send failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    ledger.task_gap(last_ok.elapsed());
}

/// Two members of one clustering group, from the first offset, recording every body.
pub async fn start_consumers(namesrv: &str, ledger: Arc<Ledger>) -> anyhow::Result<Vec<PushConsumer>> {
    let mut consumers = Vec::new();
    for i in 0..2 {
        let config = ClientConfig {
            instance_name: format!("chaos-c{i}"),
            ..ClientConfig::with_namesrv(namesrv)
        };
        let consumer_config = ConsumerConfig {
            consume_from_where: ConsumeFromWhere::FirstOffset,
            consume_message_batch_max_size: 32,
            pull_exception_delay_ms: 500,
            rebalance_interval_ms: 5000,
            // A restarted broker knows a consumer only from its next heartbeat; until then the
            // members disagree on the group and some queues have no owner.
            heartbeat_interval_ms: 2000,
            ..ConsumerConfig::default()
        };
        let consumer = PushConsumer::new(CONSUMER_GROUP, config, consumer_config);
        consumer.subscribe(TOPIC, "*")?;
        let ledger = ledger.clone();
        consumer.register_listener(move |msgs| {
            for m in msgs {
                ledger.deliver(String::from_utf8_lossy(&m.body).into_owned());
            }
            ConsumeStatus::ConsumeSuccess
        });
        consumer.start().await?;
        consumers.push(consumer);
    }
    Ok(consumers)
}
