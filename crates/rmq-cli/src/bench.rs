//! `rmq bench produce | consume | timer | pop-churn | grpc-produce | grpc-consume | console`: load generators in the spirit of RocketMQ's
//! `org.apache.rocketmq.example.benchmark.Producer` / `Consumer`.
//!
//! Every report interval (1 s) a line with the interval's TPS, average and max RT and the
//! progress; at the end the totals and an HDR histogram's p50 / p99 / p999, plus one
//! machine-readable `RESULT …` line (`key=value` pairs) that `scripts/bench-smoke` and
//! `bench/compare` parse.
//!
//! * `produce` sends through [`rmq_client::Producer`] (`--mode sync|async|oneway`, `--batch`).
//! * `consume` pulls every read queue of the topic with raw PULL_MESSAGE requests (long polling)
//!   and reports consume TPS and the born→consume / store→consume latencies.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use rmq_client::{Admin, ClientConfig, Message, Producer};
use rmq_protocol::codes::{request_code, response_code};
use rmq_protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::{decode_messages, pull_sys_flag};
use rmq_protocol::RemotingCommand;
use rmq_remoting::RemotingClient;
use tokio::task::JoinSet;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Send load (the Java benchmark `Producer`).
    Produce(ProduceArgs),
    /// Pull load over raw PULL_MESSAGE (the Java benchmark `Consumer`).
    Consume(ConsumeArgs),
    /// Timer messages falling due together: how late they arrive (`TIMER_DELIVER_MS`).
    Timer(timer::TimerArgs),
    /// POP consumers joining and leaving under load: nothing lost, nothing acked twice, no
    /// message invisible much longer than its invisible time.
    PopChurn(pop_churn::PopChurnArgs),
    /// Send load over the 5.x gRPC protocol (a broker's gRPC port).
    GrpcProduce(grpc::GrpcProduceArgs),
    /// SimpleConsumer load over the 5.x gRPC protocol: receive, then ack what came.
    GrpcConsume(grpc::GrpcConsumeArgs),
    /// The web console at scale: many topics and groups, then every page's answer timed.
    Console(console::ConsoleArgs),
}

mod console;
mod grpc;
mod pop_churn;
mod timer;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub enum SendMode {
    /// `send` and wait for the SendResult.
    Sync,
    /// `send_async`, up to `--window` in flight per sender.
    Async,
    /// `send_oneway`: RT is the time to hand the request to the connection.
    Oneway,
}

#[derive(Args, Debug)]
pub struct ProduceArgs {
    /// Name server address list (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    #[arg(short = 't', long, default_value = "BenchmarkTest")]
    topic: String,
    #[arg(short = 'g', long, default_value = "benchmark_producer")]
    group: String,
    /// Concurrent senders.
    #[arg(short = 'w', long = "threads", default_value_t = 64)]
    threads: usize,
    /// Message body size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 128)]
    size: usize,
    /// Number of distinct tags `tag<i % N>` (0 = no tag).
    #[arg(long, default_value_t = 0)]
    tags: u32,
    /// Give every message a key (its sequence number).
    #[arg(long)]
    keys: bool,
    #[arg(long, value_enum, default_value_t = SendMode::Sync)]
    mode: SendMode,
    /// Messages per SEND_BATCH_MESSAGE request (1 = single sends).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Async mode: sends in flight per sender.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Report interval in seconds.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Offer at most this many messages per second in all (0: as fast as the senders go). A
    /// fixed offered load compares the broker's CPU per message between two setups at the same
    /// request rate (scripts/bench-acl).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Send timeout in milliseconds (retries included).
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Name server address list (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    #[arg(short = 't', long, default_value = "BenchmarkTest")]
    topic: String,
    #[arg(short = 'g', long, default_value = "benchmark_consumer")]
    group: String,
    /// Start at each queue's min offset (default: at its max offset, i.e. new messages only).
    #[arg(long)]
    from_start: bool,
    /// maxMsgNums of each pull.
    #[arg(long, default_value_t = 32)]
    pull_batch: i32,
    /// Long-polling suspend time of a pull that finds nothing, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    suspend_ms: i64,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Report interval in seconds.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Produce(args) => produce(args).await,
        BenchCommand::Consume(args) => consume(args).await,
        BenchCommand::Timer(args) => timer::run(args).await,
        BenchCommand::PopChurn(args) => pop_churn::run(args).await,
        BenchCommand::GrpcProduce(args) => grpc::produce(args).await,
        BenchCommand::GrpcConsume(args) => grpc::consume(args).await,
        BenchCommand::Console(args) => console::run(args).await,
    }
}

fn client_config(
    namesrv: Option<String>,
    tls: &crate::tls_args::TlsArgs,
    acl: &crate::credentials::AclArgs,
) -> anyhow::Result<ClientConfig> {
    let addr = namesrv
        .or_else(|| std::env::var("NAMESRV_ADDR").ok())
        .context("no name server address: use -n host:9876 or set NAMESRV_ADDR")?;
    let config = ClientConfig {
        tls: tls.client_tls()?,
        credentials: acl.credentials(),
        ..ClientConfig::with_namesrv(&addr)
    };
    if config.namesrv_addr.is_empty() {
        bail!("empty name server address {addr:?}");
    }
    Ok(config)
}

/// Latencies in microseconds, 1 µs .. 1 h, 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn record(h: &mut Histogram<u64>, micros: u64) {
    h.saturating_record(micros.max(1));
}

/// Counters shared by the workers and the reporter.
#[derive(Default)]
struct Stats {
    /// Messages acknowledged (or handed over, in oneway mode).
    ok: AtomicU64,
    /// Messages whose send failed.
    failed: AtomicU64,
    /// Requests that succeeded, and the sum and max (this interval) of their RT in µs.
    requests: AtomicU64,
    rt_sum_us: AtomicU64,
    rt_max_us: AtomicU64,
}

impl Stats {
    fn success(&self, msgs: u64, rt_us: u64) {
        self.ok.fetch_add(msgs, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.rt_sum_us.fetch_add(rt_us, Ordering::Relaxed);
        self.rt_max_us.fetch_max(rt_us, Ordering::Relaxed);
    }
}

/// When to stop: a deadline, a message budget, or Ctrl-C.
struct Limits {
    stop: AtomicBool,
    /// Messages still to claim (`i64::MAX` without `--count`).
    budget: AtomicI64,
    count: Option<u64>,
    duration: Option<Duration>,
}

impl Limits {
    fn new(count: Option<u64>, duration: Option<f64>) -> anyhow::Result<Arc<Self>> {
        let duration = match duration {
            Some(d) if !(d > 0.0 && d.is_finite()) => bail!("--duration must be > 0"),
            Some(d) => Some(Duration::from_secs_f64(d)),
            None => None,
        };
        let budget = count.map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX));
        Ok(Arc::new(Limits {
            stop: AtomicBool::new(false),
            budget: AtomicI64::new(budget),
            count,
            duration,
        }))
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// `--count` given and all of it claimed.
    fn exhausted(&self) -> bool {
        self.count.is_some() && self.budget.load(Ordering::Relaxed) <= 0
    }

    /// Claims up to `n` messages of the budget; 0 when done.
    fn claim(&self, n: usize) -> usize {
        if self.stopped() {
            return 0;
        }
        let n = n as i64;
        let before = self.budget.fetch_sub(n, Ordering::Relaxed);
        if before <= 0 {
            return 0;
        }
        before.min(n) as usize
    }

    fn progress(&self, done: u64, elapsed: Duration) -> String {
        let by_count = self.count.map(|c| done as f64 / c.max(1) as f64);
        let by_time = self
            .duration
            .map(|d| elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9));
        match by_count.into_iter().chain(by_time).reduce(f64::max) {
            Some(f) => format!("{:5.1}%", (f * 100.0).min(100.0)),
            None => "  n/a ".to_owned(),
        }
    }

    /// Sets `stop` at the deadline or on Ctrl-C.
    fn spawn_stopper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let limits = self.clone();
        tokio::spawn(async move {
            let deadline = async {
                match limits.duration {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = deadline => {}
                _ = tokio::signal::ctrl_c() => eprintln!("interrupted; finishing"),
            }
            limits.stop.store(true, Ordering::Relaxed);
        })
    }
}

/// Spaces sends out to a fixed rate: message `i` (counted over all senders) is due
/// `i / rate` seconds after the start; a sender that claims it waits until then.
struct Pacer {
    start: tokio::time::Instant,
    per_msg: Duration,
    issued: AtomicU64,
}

impl Pacer {
    fn new(rate: f64) -> anyhow::Result<Option<Pacer>> {
        if rate == 0.0 {
            return Ok(None);
        }
        if !(rate > 0.0 && rate.is_finite()) {
            bail!("--rate must be >= 0");
        }
        Ok(Some(Pacer {
            start: tokio::time::Instant::now(),
            per_msg: Duration::from_secs_f64(1.0 / rate),
            issued: AtomicU64::new(0),
        }))
    }

    /// When the next `n` messages are due.
    fn due(&self, n: usize) -> tokio::time::Instant {
        let i = self.issued.fetch_add(n as u64, Ordering::Relaxed);
        self.start + self.per_msg.mul_f64(i as f64)
    }
}

fn interval(secs: f64) -> anyhow::Result<Duration> {
    if !(secs > 0.0 && secs.is_finite()) {
        bail!("--interval must be > 0");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn now_string() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_millis()
    )
}

/// The immutable description of what a sender sends.
struct Workload {
    producer: Producer,
    topic: String,
    body: Bytes,
    tags: u32,
    keys: bool,
    batch: usize,
    mode: SendMode,
    window: usize,
    seq: AtomicU64,
}

impl Workload {
    fn message(&self) -> Message {
        let i = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut msg = Message::new(&self.topic, self.body.clone());
        if self.tags > 0 {
            msg = msg.with_tags(format!("tag{}", i % u64::from(self.tags)));
        }
        if self.keys {
            msg = msg.with_keys(i.to_string());
        }
        msg
    }

    fn messages(&self, n: usize) -> Vec<Message> {
        (0..n).map(|_| self.message()).collect()
    }
}

/// Prints at most a few send errors per second so a dead broker does not flood the terminal.
struct ErrorLog {
    printed: AtomicU64,
}

impl ErrorLog {
    fn report(&self, e: &dyn std::fmt::Display) {
        if self.printed.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("send failed: {e}");
        }
    }
}

async fn send_worker(
    w: Arc<Workload>,
    limits: Arc<Limits>,
    pacer: Option<Arc<Pacer>>,
    stats: Arc<Stats>,
    errors: Arc<ErrorLog>,
) -> Histogram<u64> {
    let mut hist = new_histogram();
    let mut in_flight: JoinSet<(usize, Instant, bool)> = JoinSet::new();
    loop {
        if w.mode == SendMode::Async && in_flight.len() >= w.window {
            if let Some(Ok((n, started, ok))) = in_flight.join_next().await {
                finish(&mut hist, &stats, n, started, ok);
            }
            continue;
        }
        let n = limits.claim(w.batch);
        if n == 0 {
            break;
        }
        if let Some(p) = &pacer {
            tokio::time::sleep_until(p.due(n)).await;
        }
        let started = Instant::now();
        match w.mode {
            SendMode::Sync => {
                let res = if n == 1 && w.batch == 1 {
                    w.producer.send(w.message()).await.map(drop)
                } else {
                    w.producer.send_batch(w.messages(n)).await.map(drop)
                };
                if let Err(e) = &res {
                    errors.report(e);
                }
                finish(&mut hist, &stats, n, started, res.is_ok());
            }
            SendMode::Oneway => {
                let res = w.producer.send_oneway(w.message()).await;
                if let Err(e) = &res {
                    errors.report(e);
                }
                finish(&mut hist, &stats, n, started, res.is_ok());
            }
            SendMode::Async => {
                let producer = w.producer.clone();
                let errors = errors.clone();
                if w.batch == 1 {
                    let handle = producer.send_async(w.message());
                    in_flight.spawn(async move {
                        let ok = match handle.await {
                            Ok(Ok(_)) => true,
                            Ok(Err(e)) => {
                                errors.report(&e);
                                false
                            }
                            Err(e) => {
                                errors.report(&e);
                                false
                            }
                        };
                        (n, started, ok)
                    });
                } else {
                    let msgs = w.messages(n);
                    in_flight.spawn(async move {
                        let res = producer.send_batch(msgs).await;
                        if let Err(e) = &res {
                            errors.report(e);
                        }
                        (n, started, res.is_ok())
                    });
                }
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        if let Ok((n, started, ok)) = done {
            finish(&mut hist, &stats, n, started, ok);
        }
    }
    hist
}

fn finish(hist: &mut Histogram<u64>, stats: &Stats, n: usize, started: Instant, ok: bool) {
    let rt = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if ok {
        record(hist, rt);
        stats.success(n as u64, rt);
    } else {
        stats.failed.fetch_add(n as u64, Ordering::Relaxed);
    }
}

async fn produce(args: ProduceArgs) -> anyhow::Result<()> {
    if args.threads == 0 || args.batch == 0 || args.window == 0 {
        bail!("-w, --batch and --window must be at least 1");
    }
    if args.mode == SendMode::Oneway && args.batch > 1 {
        bail!("--mode oneway sends single messages only (no oneway batch in RocketMQ)");
    }
    let tick = interval(args.interval)?;
    let mut config = client_config(args.namesrv.clone(), &args.tls, &args.acl)?;
    config.send_timeout_ms = args.timeout_ms;
    let limits = Limits::new(args.count, args.duration)?;
    let pacer = Pacer::new(args.rate)?.map(Arc::new);
    let producer = Producer::new(args.group.clone(), config);
    producer.start().await?;
    println!(
        "bench produce: topic={} threads={} size={} mode={:?} batch={} tags={} keys={} duration={} count={} rate={}",
        args.topic,
        args.threads,
        args.size,
        args.mode,
        args.batch,
        args.tags,
        args.keys,
        args.duration.map_or("-".into(), |d| format!("{d}s")),
        args.count.map_or("-".into(), |c| c.to_string()),
        if args.rate > 0.0 { format!("{}/s", args.rate) } else { "-".into() },
    );
    let workload = Arc::new(Workload {
        producer: producer.clone(),
        topic: args.topic.clone(),
        body: Bytes::from(vec![b'a'; args.size]),
        tags: args.tags,
        keys: args.keys,
        batch: args.batch,
        mode: args.mode,
        window: args.window,
        seq: AtomicU64::new(0),
    });
    let stats = Arc::new(Stats::default());
    let errors = Arc::new(ErrorLog {
        printed: AtomicU64::new(0),
    });
    let started = Instant::now();
    let stopper = limits.spawn_stopper();
    let mut workers = JoinSet::new();
    for _ in 0..args.threads {
        workers.spawn(send_worker(
            workload.clone(),
            limits.clone(),
            pacer.clone(),
            stats.clone(),
            errors.clone(),
        ));
    }
    let reporter = tokio::spawn(report_sends(stats.clone(), limits.clone(), started, tick));
    let mut hist = new_histogram();
    while let Some(h) = workers.join_next().await {
        hist.add(h?).context("merging histograms")?;
    }
    let elapsed = started.elapsed();
    reporter.abort();
    stopper.abort();
    producer.shutdown().await;

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
    let (p50, p99, p999, max) = percentiles(&hist);
    println!("---- bench produce summary ----");
    println!(
        "elapsed {secs:.2} s | sent {ok} msgs | failed {failed} | send TPS {tps:.1} | requests {requests}"
    );
    println!("send RT(ms): avg {avg:.3} | p50 {p50:.3} | p99 {p99:.3} | p999 {p999:.3} | max {max:.3}");
    println!(
        "RESULT produce sent={ok} failed={failed} elapsed_s={secs:.3} tps={tps:.1} avg_ms={avg:.3} p50_ms={p50:.3} p99_ms={p99:.3} p999_ms={p999:.3} max_ms={max:.3}"
    );
    if ok == 0 {
        bail!("no message was sent ({failed} failed)");
    }
    Ok(())
}

/// p50, p99, p999 and max in milliseconds.
fn percentiles(h: &Histogram<u64>) -> (f64, f64, f64, f64) {
    if h.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    (
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
    )
}

async fn report_sends(stats: Arc<Stats>, limits: Arc<Limits>, started: Instant, tick: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    let (mut last_ok, mut last_failed, mut last_req, mut last_sum) = (0, 0, 0, 0);
    let mut last = Instant::now();
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let span = now.duration_since(last).as_secs_f64().max(1e-9);
        last = now;
        let ok = stats.ok.load(Ordering::Relaxed);
        let failed = stats.failed.load(Ordering::Relaxed);
        let req = stats.requests.load(Ordering::Relaxed);
        let sum = stats.rt_sum_us.load(Ordering::Relaxed);
        let max = stats.rt_max_us.swap(0, Ordering::Relaxed);
        let reqs = req - last_req;
        let avg = if reqs > 0 {
            (sum - last_sum) as f64 / reqs as f64 / 1000.0
        } else {
            0.0
        };
        println!(
            "Current Time: {} | Send TPS: {:.0} | Max RT(ms): {:.3} | Average RT(ms): {:7.3} | Send Failed: {} | Sent: {} | Progress: {}",
            now_string(),
            (ok - last_ok) as f64 / span,
            ms(max),
            avg,
            failed - last_failed,
            ok,
            limits.progress(ok + failed, started.elapsed()),
        );
        (last_ok, last_failed, last_req, last_sum) = (ok, failed, req, sum);
    }
}

/// One read queue on one broker.
struct PullQueue {
    addr: String,
    broker_name: String,
    queue_id: i32,
    offset: i64,
}

/// Every readable queue of `topic` on a master, starting at its min offset (`from_start`) or its
/// max offset (new messages only).
async fn master_queues(admin: &Admin, topic: &str, from_start: bool) -> anyhow::Result<Vec<PullQueue>> {
    let route = admin
        .topic_route(topic)
        .await
        .with_context(|| format!("route of topic {topic}"))?;
    let mut queues = Vec::new();
    for qd in &route.queue_datas {
        let Some(addr) = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == qd.broker_name)
            .and_then(|b| b.broker_addrs.get(&0))
        else {
            continue;
        };
        for queue_id in 0..qd.read_queue_nums {
            let offset = if from_start {
                admin.min_offset(addr, topic, queue_id).await?
            } else {
                admin.max_offset(addr, topic, queue_id).await?
            };
            queues.push(PullQueue {
                addr: addr.clone(),
                broker_name: qd.broker_name.clone(),
                queue_id,
                offset,
            });
        }
    }
    if queues.is_empty() {
        bail!("topic {topic} has no readable queue with a master");
    }
    Ok(queues)
}

/// Consumer-side counters: messages, and born→consume / store→consume latency sums (ms).
#[derive(Default)]
struct ConsumeStats {
    msgs: AtomicU64,
    /// Microseconds from the start to the last pull that returned messages.
    last_msg_us: AtomicU64,
    b2c_sum_ms: AtomicU64,
    b2c_max_ms: AtomicU64,
    s2c_sum_ms: AtomicU64,
    s2c_max_ms: AtomicU64,
}

use rmq_protocol::time::now_ms;

async fn consume(args: ConsumeArgs) -> anyhow::Result<()> {
    let tick = interval(args.interval)?;
    if args.pull_batch < 1 || args.suspend_ms < 0 {
        bail!("--pull-batch must be >= 1 and --suspend-ms >= 0");
    }
    let config = client_config(args.namesrv.clone(), &args.tls, &args.acl)?;
    let admin = Admin::new(config);
    let queues = master_queues(&admin, &args.topic, args.from_start).await?;
    println!(
        "bench consume: topic={} group={} queues={} from={} duration={} count={}",
        args.topic,
        args.group,
        queues.len(),
        if args.from_start {
            "min offset"
        } else {
            "max offset"
        },
        args.duration.map_or("-".into(), |d| format!("{d}s")),
        args.count.map_or("-".into(), |c| c.to_string()),
    );
    let limits = Limits::new(args.count, args.duration)?;
    let stats = Arc::new(ConsumeStats::default());
    let tls = args.tls.client_tls()?;
    let remoting = RemotingClient::new().with_tls(tls);
    let remoting = Arc::new(match args.acl.credentials() {
        Some(creds) => remoting.with_hook(Arc::new(rmq_client::SignRequests::new(creds))),
        None => remoting,
    });
    let args = Arc::new(args);
    let started = Instant::now();
    let stopper = limits.spawn_stopper();
    let reporter = tokio::spawn(report_consumes(stats.clone(), limits.clone(), started, tick));
    let mut pullers = JoinSet::new();
    for q in queues {
        pullers.spawn(pull_queue(
            q,
            args.clone(),
            remoting.clone(),
            limits.clone(),
            stats.clone(),
            started,
        ));
    }
    let mut hist = new_histogram();
    let mut first_err = None;
    while let Some(res) = pullers.join_next().await {
        match res? {
            Ok(h) => hist.add(h).context("merging histograms")?,
            Err(e) => {
                limits.stop.store(true, Ordering::Relaxed);
                first_err.get_or_insert(e);
            }
        }
    }
    let elapsed = started.elapsed();
    reporter.abort();
    stopper.abort();
    remoting.close_all();
    if let Some(e) = first_err {
        return Err(e);
    }
    let msgs = stats.msgs.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let tps = msgs as f64 / secs;
    // TPS while there was something to consume: up to the last pull that returned messages.
    let busy_secs = (stats.last_msg_us.load(Ordering::Relaxed) as f64 / 1e6).max(1e-9);
    let busy_tps = if msgs > 0 { msgs as f64 / busy_secs } else { 0.0 };
    let (p50, p99, p999, max) = percentiles(&hist);
    println!("---- bench consume summary ----");
    println!(
        "elapsed {secs:.2} s | consumed {msgs} msgs | consume TPS {tps:.1} | until the last message {busy_secs:.2} s: {busy_tps:.1} msg/s"
    );
    println!("born->consume RT(ms): p50 {p50:.3} | p99 {p99:.3} | p999 {p999:.3} | max {max:.3}");
    println!(
        "RESULT consume consumed={msgs} elapsed_s={secs:.3} tps={tps:.1} busy_s={busy_secs:.3} busy_tps={busy_tps:.1} b2c_p50_ms={p50:.3} b2c_p99_ms={p99:.3} b2c_p999_ms={p999:.3} b2c_max_ms={max:.3}"
    );
    Ok(())
}

async fn pull_queue(
    mut q: PullQueue,
    args: Arc<ConsumeArgs>,
    remoting: Arc<RemotingClient>,
    limits: Arc<Limits>,
    stats: Arc<ConsumeStats>,
    started: Instant,
) -> anyhow::Result<Histogram<u64>> {
    let mut hist = new_histogram();
    let sys_flag = pull_sys_flag::SUSPEND | pull_sys_flag::SUBSCRIPTION;
    let timeout = Duration::from_millis(args.suspend_ms as u64 + 5000);
    while !limits.stopped() {
        let header = PullMessageRequestHeader {
            consumer_group: args.group.clone(),
            topic: args.topic.clone(),
            queue_id: q.queue_id,
            queue_offset: q.offset,
            max_msg_nums: args.pull_batch,
            sys_flag,
            commit_offset: 0,
            suspend_timeout_millis: args.suspend_ms,
            subscription: Some("*".to_owned()),
            sub_version: now_ms(),
            expression_type: Some("TAG".to_owned()),
            bname: Some(q.broker_name.clone()),
        };
        let cmd = RemotingCommand::request(request_code::PULL_MESSAGE).with_header(&header);
        let resp = tokio::select! {
            r = remoting.invoke(&q.addr, cmd, timeout) => r,
            _ = wait_stop(&limits) => break,
        };
        let resp = resp.with_context(|| format!("PULL_MESSAGE to {}", q.addr))?;
        match resp.code {
            response_code::SUCCESS => {
                let h: PullMessageResponseHeader = resp.header()?;
                let msgs = decode_messages(&resp.body).context("decoding pulled messages")?;
                let now = now_ms();
                let n = msgs.len() as u64;
                let claimed = limits.claim(msgs.len());
                for m in &msgs {
                    let b2c = (now - m.born_timestamp).max(0) as u64;
                    let s2c = (now - m.store_timestamp).max(0) as u64;
                    record(&mut hist, b2c * 1000);
                    stats.b2c_sum_ms.fetch_add(b2c, Ordering::Relaxed);
                    stats.b2c_max_ms.fetch_max(b2c, Ordering::Relaxed);
                    stats.s2c_sum_ms.fetch_add(s2c, Ordering::Relaxed);
                    stats.s2c_max_ms.fetch_max(s2c, Ordering::Relaxed);
                }
                stats.msgs.fetch_add(n, Ordering::Relaxed);
                let since_start = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                stats.last_msg_us.fetch_max(since_start, Ordering::Relaxed);
                q.offset = h.next_begin_offset;
                if claimed < msgs.len() || limits.exhausted() {
                    limits.stop.store(true, Ordering::Relaxed);
                }
            }
            response_code::PULL_NOT_FOUND
            | response_code::PULL_RETRY_IMMEDIATELY
            | response_code::PULL_OFFSET_MOVED => {
                if let Ok(h) = resp.header::<PullMessageResponseHeader>() {
                    q.offset = h.next_begin_offset;
                }
            }
            response_code::REQUEST_CODE_NOT_SUPPORTED => bail!(
                "the broker at {} does not support PULL_MESSAGE (REQUEST_CODE_NOT_SUPPORTED): \
                 this broker build has no consume path yet",
                q.addr
            ),
            code => bail!(
                "PULL_MESSAGE to {} failed: code {code} {}",
                q.addr,
                resp.remark.unwrap_or_default()
            ),
        }
    }
    Ok(hist)
}

async fn wait_stop(limits: &Limits) {
    while !limits.stopped() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn report_consumes(stats: Arc<ConsumeStats>, limits: Arc<Limits>, started: Instant, tick: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    let (mut last_msgs, mut last_b2c, mut last_s2c) = (0, 0, 0);
    let mut last = Instant::now();
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let span = now.duration_since(last).as_secs_f64().max(1e-9);
        last = now;
        let msgs = stats.msgs.load(Ordering::Relaxed);
        let b2c = stats.b2c_sum_ms.load(Ordering::Relaxed);
        let s2c = stats.s2c_sum_ms.load(Ordering::Relaxed);
        let n = (msgs - last_msgs).max(1) as f64;
        println!(
            "Current Time: {} | Consume TPS: {:.0} | AVG(B2C) RT(ms): {:7.3} | AVG(S2C) RT(ms): {:7.3} | MAX(B2C) RT(ms): {} | MAX(S2C) RT(ms): {} | Consumed: {} | Progress: {}",
            now_string(),
            (msgs - last_msgs) as f64 / span,
            (b2c - last_b2c) as f64 / n,
            (s2c - last_s2c) as f64 / n,
            stats.b2c_max_ms.swap(0, Ordering::Relaxed),
            stats.s2c_max_ms.swap(0, Ordering::Relaxed),
            msgs,
            limits.progress(msgs, started.elapsed()),
        );
        (last_msgs, last_b2c, last_s2c) = (msgs, b2c, s2c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_spaces_messages_by_the_rate() {
        assert!(Pacer::new(0.0).unwrap().is_none());
        assert!(Pacer::new(-1.0).is_err());
        assert!(Pacer::new(f64::NAN).is_err());
        let p = Pacer::new(1000.0).unwrap().unwrap();
        assert_eq!(p.due(1), p.start);
        // A batch of 3 claims three slots: the next message is due 4 ms in.
        assert_eq!(p.due(3), p.start + Duration::from_millis(1));
        assert_eq!(p.due(1), p.start + Duration::from_millis(4));
    }

    #[test]
    fn claim_respects_the_budget() {
        let limits = Limits::new(Some(5), None).unwrap();
        assert_eq!(limits.claim(2), 2);
        assert_eq!(limits.claim(2), 2);
        assert_eq!(limits.claim(2), 1);
        assert_eq!(limits.claim(2), 0);
        assert_eq!(limits.claim(1), 0);
    }

    #[test]
    fn claim_stops_on_flag() {
        let limits = Limits::new(None, Some(1.0)).unwrap();
        assert_eq!(limits.claim(3), 3);
        limits.stop.store(true, Ordering::Relaxed);
        assert_eq!(limits.claim(3), 0);
    }

    #[test]
    fn progress_takes_the_further_limit() {
        let limits = Limits::new(Some(100), Some(10.0)).unwrap();
        assert_eq!(limits.progress(50, Duration::from_secs(1)).trim(), "50.0%");
        assert_eq!(limits.progress(10, Duration::from_secs(8)).trim(), "80.0%");
        let unbounded = Limits::new(None, None).unwrap();
        assert_eq!(unbounded.progress(10, Duration::from_secs(8)).trim(), "n/a");
    }

    #[test]
    fn percentiles_in_ms() {
        let mut h = new_histogram();
        for us in 1..=1000u64 {
            record(&mut h, us * 1000);
        }
        let (p50, p99, p999, max) = percentiles(&h);
        assert!((p50 - 500.0).abs() < 1.0, "{p50}");
        assert!((p99 - 990.0).abs() < 1.0, "{p99}");
        assert!((p999 - 999.0).abs() < 1.0, "{p999}");
        assert!((max - 1000.0).abs() < 1.0, "{max}");
        assert_eq!(percentiles(&new_histogram()), (0.0, 0.0, 0.0, 0.0));
    }
}
