//! `rmq chaos` (hidden; `scripts/chaos` runs it): a name server and two broker groups (`a`, `b`)
//! as child processes of this binary, producers and push consumers in this process, and faults
//! injected while they run (kill -9, SIGSTOP/SIGCONT, graceful restarts, network cut-offs, a
//! master's store deleted). At the end every process is brought back, the consumers drain, and the run
//! reports acknowledged, delivered, lost, duplicated and the longest time producers could not
//! send. It fails when an acknowledged message is lost where no loss is allowed.
//!
//! # Layout
//! - `cluster`: the server processes, their broker.conf files and ports.
//! - `load`: producer tasks, push consumers and the ledger of acknowledgements and deliveries.
//! - `net`: the private network namespace and the cut-off rules.
//! - `scenario`: the fault schedules.

mod cluster;
mod failover;
mod load;
mod net;
mod scenario;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use rmq_client::{Admin, ClientConfig, TopicConfig};

use cluster::{BrokerSettings, Cluster};
use load::{Ledger, Load, TOPIC};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Random kill -9 / SIGSTOP / graceful restart of random brokers for --duration.
    Mixed,
    /// --trials rounds of: load, kill -9 of one master (a, b, a, …), restart.
    KillLoop,
    /// kill -9 of each master in turn, its store deleted before it restarts empty; with
    /// --slaves only master a, which stays down (its slave must serve everything).
    MasterLoss,
    /// Each master in turn (then each slave, with --slaves) cut off the network: no send to a
    /// cut-off master may succeed while the other group keeps acknowledging, and it must
    /// acknowledge again once reconnected. Needs a private network namespace.
    Partition,
    /// Controller mode (3 controllers, 2 groups of 3 brokers, allAckInSyncStateSet): --trials
    /// rounds of kill -9 of a group's master (every other round with the controllers' Raft
    /// leader), timing the first SEND_OK on the new master; nothing acknowledged may be lost
    /// and no two brokers of a group may acknowledge at once.
    Failover,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Flush {
    SyncFlush,
    AsyncFlush,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    AsyncMaster,
    SyncMaster,
}

/// Network cut-offs in the mixed scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cut {
    /// When a private network namespace can be had (`unshare -rn` and `ip rule` work).
    Auto,
    /// Always; fail when no private network namespace can be had.
    On,
    /// Never (the run stays in the caller's network namespace).
    Off,
}

#[derive(Args, Debug, Clone)]
pub struct ChaosArgs {
    #[arg(long, value_enum, default_value = "mixed")]
    pub scenario: Scenario,
    /// Seconds of fault injection (mixed, master-loss).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Rounds of the kill-loop scenario.
    #[arg(long, default_value_t = 20)]
    pub trials: usize,
    /// `flushDiskType` of every broker.
    #[arg(long, value_enum, default_value = "SYNC_FLUSH")]
    pub flush: Flush,
    /// `brokerRole` of the masters (slaves are SLAVE).
    #[arg(long, value_enum, default_value = "ASYNC_MASTER")]
    pub role: Role,
    /// A slave (brokerId=1) per group; needs HA replication.
    #[arg(long)]
    pub slaves: bool,
    /// Producer tasks.
    #[arg(long, default_value_t = 8)]
    pub producers: usize,
    /// Messages per second, all producer tasks together.
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Cut brokers off the network in the mixed scenario: the harness re-runs itself in a
    /// private network namespace where TCP to a broker's ports can be made unreachable.
    #[arg(long, value_enum, default_value = "auto")]
    pub cut: Cut,
    /// Stay in the caller's namespaces: no cut-offs, and server processes may outlive a
    /// harness that is killed.
    #[arg(long)]
    pub no_namespaces: bool,
    /// Producers use latency-based fault avoidance (`sendLatencyFaultEnable`).
    #[arg(long)]
    pub fault_avoidance: bool,
    /// Start the consumers only after the faults, so that every acknowledged message has to be
    /// read back from the restarted brokers' stores.
    #[arg(long)]
    pub late_consumers: bool,
    /// Seconds the consumers get to deliver every acknowledged message at the end.
    #[arg(long, default_value_t = 90)]
    pub drain_timeout: u64,
    /// Random seed of the fault schedule (default: the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Working directory (stores, configs, process output); default a new temp directory,
    /// removed after a passing run.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Counts of the faults injected, for the report.
#[derive(Debug, Default)]
pub struct Faults {
    pub kills: u32,
    pub pauses: u32,
    pub restarts: u32,
    pub stores_deleted: u32,
    pub cuts: u32,
    /// kill-loop: the broker killed in each trial.
    pub trial_targets: Vec<String>,
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    if args.producers == 0 || args.rate == 0 {
        bail!("--producers and --rate must be at least 1");
    }
    // The harness's own clients log only when asked (RUST_LOG=rmq_client=info, say).
    if std::env::var_os("RUST_LOG").is_some() {
        crate::logging::init(None);
    }
    // Every scenario runs in private namespaces when they can be had: cut-offs need the
    // network one, and as PID 1 of its own PID namespace the harness takes every server
    // process with it if it is killed.
    let needs_net = args.cut == Cut::On || args.scenario == Scenario::Partition;
    let isolated = net::in_private_netns();
    if args.no_namespaces && needs_net {
        bail!("--no-namespaces: cut-offs need a private network namespace");
    }
    if !args.no_namespaces && !isolated {
        if tokio::task::block_in_place(net::available) {
            return Err(net::reexec_in_netns());
        }
        if needs_net {
            bail!("no private network namespace (`unshare -rn --pid --fork` with `ip rule … dport` failed): cut-offs are impossible here");
        }
        println!("chaos: no private namespaces here (`unshare -rn --pid --fork` or `ip rule … dport` failed): no cut-offs, and servers may outlive a killed harness");
    }
    if isolated {
        tokio::task::block_in_place(net::setup_loopback)?;
        // PID 1 ignores signals it has no handler for: exit (taking the servers along) on
        // Ctrl-C or SIGTERM.
        tokio::spawn(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            println!("chaos: interrupted");
            std::process::exit(130);
        });
    }
    let net = isolated
        && match args.scenario {
            Scenario::Mixed => args.cut != Cut::Off,
            Scenario::Partition => true,
            Scenario::KillLoop | Scenario::MasterLoss | Scenario::Failover => false,
        };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("rmq-chaos-{}-{seed}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let settings = BrokerSettings {
        flush: name(args.flush),
        role: name(args.role),
    };
    println!(
        "chaos: scenario={} flush={} role={} slaves={} namespaces={isolated} cut-offs={net} producers={} rate={}/s fault_avoidance={} late_consumers={} seed={seed} dir={}",
        name(args.scenario),
        settings.flush,
        settings.role,
        args.slaves,
        args.producers,
        args.rate,
        args.fault_avoidance,
        args.late_consumers,
        dir.display()
    );
    let passed = if args.scenario == Scenario::Failover {
        let mut cluster =
            tokio::task::block_in_place(|| failover::FailoverCluster::start(&dir, &settings.flush))?;
        let outcome = exercise_failover(&args, &mut cluster).await;
        tokio::task::block_in_place(|| cluster.shutdown());
        outcome?
    } else {
        let mut cluster = tokio::task::block_in_place(|| Cluster::start(&dir, &settings, args.slaves, net))?;
        let outcome = exercise(&args, seed, &mut cluster).await;
        tokio::task::block_in_place(|| cluster.shutdown());
        outcome?
    };
    if !passed {
        bail!(
            "acknowledged messages were lost; stores and logs kept in {}",
            dir.display()
        );
    }
    // RMQ_CHAOS_KEEP=1 keeps a passing run's stores and logs too (to look at a slow trial).
    if temp && std::env::var_os("RMQ_CHAOS_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("chaos: stores and logs kept in {}", dir.display());
    }
    Ok(())
}

/// Load, faults, heal, drain, report. `Ok(false)`: a loss that is not allowed.
async fn exercise(args: &ChaosArgs, seed: u64, cluster: &mut Cluster) -> anyhow::Result<bool> {
    let admin = Admin::new(ClientConfig::with_namesrv(&cluster.namesrv_addr));
    create_topic(&admin, &cluster.master_addrs).await?;
    let ledger = Ledger::new();
    let mut consumers = Vec::new();
    if !args.late_consumers {
        consumers = load::start_consumers(&cluster.namesrv_addr, ledger.clone()).await?;
    }
    let (load, started) = start_load(args, &cluster.namesrv_addr, &ledger).await?;

    let mut faults = Faults::default();
    let result = scenario::run(args, seed, cluster, &admin, &ledger, &mut faults).await;
    let chaos_time = started.elapsed();
    load.stop().await;
    result?;

    tokio::task::block_in_place(|| cluster.heal())?;
    println!(
        "chaos: faults over after {:.1} s; every process is up, draining",
        chaos_time.as_secs_f64()
    );
    if args.late_consumers {
        consumers = load::start_consumers(&cluster.namesrv_addr, ledger.clone()).await?;
    }
    let drain_time = drain(args, &ledger, &consumers).await;
    let passed = report(args, &admin, &ledger, &faults, chaos_time, drain_time).await;
    for c in consumers {
        c.shutdown().await;
    }
    Ok(passed)
}

/// The failover scenario: load, trials, heal, drain, report with the per-trial failover times.
async fn exercise_failover(
    args: &ChaosArgs,
    cluster: &mut failover::FailoverCluster,
) -> anyhow::Result<bool> {
    let admin = Admin::new(ClientConfig::with_namesrv(&cluster.namesrv_addr));
    // Routes name the groups once their masters registered; the topic is created on each.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let masters = match admin.topic_route("TBW102").await {
            Ok(route) => route
                .broker_datas
                .iter()
                .filter_map(|b| b.broker_addrs.get(&0).cloned())
                .collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        };
        if masters.len() == failover::GROUPS.len() {
            create_topic(&admin, &masters).await?;
            break;
        }
        if Instant::now() > deadline {
            bail!("the broker groups did not get masters");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    failover::wait_for_masters(&admin).await?;
    let ledger = Ledger::new();
    let consumers = load::start_consumers(&cluster.namesrv_addr, ledger.clone()).await?;
    let (load, started) = start_load(args, &cluster.namesrv_addr, &ledger).await?;
    let mut faults = Faults::default();
    let result = failover::run(args, cluster, &admin, &ledger, &mut faults).await;
    let chaos_time = started.elapsed();
    load.stop().await;
    let trials = result?;
    tokio::task::block_in_place(|| cluster.heal())?;
    let drain_time = drain(args, &ledger, &consumers).await;
    let passed = report(args, &admin, &ledger, &faults, chaos_time, drain_time).await;
    let kills: Vec<Duration> = trials
        .iter()
        .filter(|t| t.fault != failover::Fault::Pause)
        .map(|t| t.failover)
        .collect();
    let pauses: Vec<Duration> = trials
        .iter()
        .filter(|t| t.fault == failover::Fault::Pause)
        .map(|t| t.failover)
        .collect();
    println!(
        "  failover after kill -9 (master, or master and controller leader), {} trials: p50 {} ms, p99 {} ms, max {} ms",
        kills.len(),
        failover::percentile(&kills, 50).as_millis(),
        failover::percentile(&kills, 99).as_millis(),
        failover::percentile(&kills, 100).as_millis(),
    );
    println!(
        "  failover after SIGSTOP of the master (detected by heartbeat timeout), {} trials: max {} ms",
        pauses.len(),
        failover::percentile(&pauses, 100).as_millis(),
    );
    let two_masters = failover::two_master_acks(&ledger, cluster, &trials);
    let per_trial = ledger.per_trial();
    println!("  per trial: fault, failover, and of the messages acknowledged until the next fault: acknowledged / lost / duplicated / acknowledged by a second master");
    for (i, t) in trials.iter().enumerate() {
        let (acked, lost, dups) = per_trial.get(&(i + 1)).copied().unwrap_or_default();
        println!(
            "    trial {:2}: group {} {:<30} {} {:>6} ms  {acked} / {lost} / {dups} / {}",
            i + 1,
            t.group,
            t.fault.describe(),
            t.killed,
            t.failover.as_millis(),
            two_masters[i + 1]
        );
    }
    let two_masters: usize = two_masters.iter().sum();
    println!("  acknowledgements by a second master of a group while another was master: {two_masters}");
    for c in consumers {
        c.shutdown().await;
    }
    Ok(passed && two_masters == 0)
}

/// Starts the producers and waits for their first acknowledgement; returns when that was.
async fn start_load(
    args: &ChaosArgs,
    namesrv: &str,
    ledger: &std::sync::Arc<Ledger>,
) -> anyhow::Result<(Load, Instant)> {
    let load = Load::start(
        namesrv,
        args.producers,
        args.rate,
        args.fault_avoidance,
        ledger.clone(),
    )
    .await?;
    let started = Instant::now();
    wait_until(Duration::from_secs(30), || ledger.acked_count() > 0)
        .await
        .context("no message acknowledged before the faults")?;
    Ok((load, started))
}

/// Waits until every acknowledged message was delivered (or `--drain-timeout`); returns how long.
async fn drain(args: &ChaosArgs, ledger: &Ledger, consumers: &[rmq_client::PushConsumer]) -> Duration {
    let drain_started = Instant::now();
    let deadline = drain_started + Duration::from_secs(args.drain_timeout);
    let mut last_rebalance = Instant::now();
    loop {
        let undelivered = ledger.undelivered().len();
        if undelivered == 0 || Instant::now() > deadline {
            break;
        }
        if last_rebalance.elapsed() > Duration::from_secs(5) {
            println!(
                "chaos: +{:.0}s of drain: {undelivered} acknowledged messages not delivered yet",
                drain_started.elapsed().as_secs_f64()
            );
            consumers.iter().for_each(|c| c.rebalance_now());
            last_rebalance = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drain_started.elapsed()
}

async fn create_topic(admin: &Admin, masters: &[String]) -> anyhow::Result<()> {
    for addr in masters {
        admin
            .create_topic(addr, &topic_config())
            .await
            .with_context(|| format!("create {TOPIC} on {addr}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match admin.topic_route(TOPIC).await {
            Ok(route) if route.queue_datas.len() == masters.len() => return Ok(()),
            _ if Instant::now() > deadline => bail!("{TOPIC} is not routed to every broker group"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Polls `done` every 20 ms until it holds or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            bail!("not reached within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Prints the result; false when acknowledged messages were lost and loss is not allowed.
async fn report(
    args: &ChaosArgs,
    admin: &Admin,
    ledger: &Ledger,
    faults: &Faults,
    chaos_time: Duration,
    drain_time: Duration,
) -> bool {
    let lost = ledger.undelivered();
    // Is a lost message still in its broker's store (a delivery problem) or gone (storage loss)?
    let mut missing_from_store = 0;
    for (body, ack) in lost.iter().take(200) {
        // The id is (store host, commitlog offset): after a store was deleted another message
        // may sit at that offset now.
        let found = admin.view_message(&ack.offset_msg_id).await;
        if !found.is_ok_and(|m| m.body == body.as_bytes()) {
            missing_from_store += 1;
        }
    }
    let (distinct, deliveries, dups, extra, unacked) = ledger.delivery_counts();
    let (task_gap, global_gap) = ledger.gaps_ms();
    let loss_allowed = loss_allowed(args);
    println!(
        "chaos result ({} s of faults, drained in {:.1} s):",
        chaos_time.as_secs(),
        drain_time.as_secs_f64()
    );
    println!(
        "  faults injected:  kill -9 x{}, SIGSTOP x{}, graceful restart x{}, cut off x{}, store deleted x{}",
        faults.kills, faults.pauses, faults.restarts, faults.cuts, faults.stores_deleted
    );
    println!("  acknowledged:     {}", ledger.acked_count());
    println!(
        "  delivered:        {distinct} distinct ({deliveries} deliveries; {unacked} never acknowledged)"
    );
    println!(
        "  lost:             {} (acknowledged, never delivered{})",
        lost.len(),
        if lost.is_empty() {
            String::new()
        } else {
            format!(
                "; of the first {} looked up, {missing_from_store} are missing from the store",
                lost.len().min(200)
            )
        }
    );
    println!("  duplicated:       {dups} messages delivered more than once ({extra} extra deliveries)");
    println!(
        "  failed sends:     {} (error after retries), {} stored but not SEND_OK",
        ledger.failed_sends.load(Ordering::Relaxed),
        ledger.not_ok.load(Ordering::Relaxed)
    );
    println!("  longest time a producer could not send: {task_gap} ms (no producer at all: {global_gap} ms)");
    if args.scenario == Scenario::KillLoop {
        // A message acknowledged by broker X during trial t was at risk at X's next kill.
        let targets = &faults.trial_targets;
        let mut lost_per_trial = vec![0usize; targets.len()];
        for (_, ack) in &lost {
            if let Some(k) = (ack.trial..targets.len()).find(|k| targets[*k] == ack.broker) {
                lost_per_trial[k] += 1;
            }
        }
        let per_trial: Vec<String> = lost_per_trial
            .iter()
            .enumerate()
            .map(|(t, n)| format!("{}:{n}", t + 1))
            .collect();
        println!("  lost per trial (trial:lost): {}", per_trial.join(" "));
    }
    for (body, ack) in lost.iter().take(10) {
        println!("    lost {body} on broker {} ({})", ack.broker, ack.offset_msg_id);
    }
    let passed = lost.is_empty() || loss_allowed;
    println!(
        "chaos: {} (loss {} for flush={} role={} slaves={} scenario={})",
        if passed { "PASS" } else { "FAIL" },
        if loss_allowed { "allowed" } else { "not allowed" },
        name(args.flush),
        name(args.role),
        args.slaves,
        name(args.scenario)
    );
    passed
}

/// No acknowledged message may be lost under SYNC_FLUSH (the process dies, the disk stays), nor
/// under SYNC_MASTER with slaves (a master's store may go, its slave has everything). Deleting a
/// master's store without a synchronous slave loses what only it had.
fn loss_allowed(args: &ChaosArgs) -> bool {
    let replicated = args.role == Role::SyncMaster && args.slaves;
    match args.scenario {
        Scenario::MasterLoss => !replicated,
        // allAckInSyncStateSet: every acknowledged message is on every in-sync replica.
        Scenario::Failover => false,
        Scenario::Mixed | Scenario::KillLoop | Scenario::Partition => {
            args.flush == Flush::AsyncFlush && !replicated
        }
    }
}

fn name(v: impl ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

/// The test topic: 4 queues on each master.
fn topic_config() -> TopicConfig {
    TopicConfig {
        topic_name: TOPIC.to_owned(),
        read_queue_nums: 4,
        write_queue_nums: 4,
        ..TopicConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ChaosArgs,
    }

    fn args(line: &str) -> ChaosArgs {
        Cli::parse_from(std::iter::once("chaos").chain(line.split_whitespace())).args
    }

    #[test]
    fn loss_is_allowed_only_without_sync_flush_or_sync_replication() {
        assert!(!loss_allowed(&args("")));
        assert!(!loss_allowed(&args("--scenario kill-loop --flush SYNC_FLUSH")));
        assert!(loss_allowed(&args("--scenario kill-loop --flush ASYNC_FLUSH")));
        assert!(!loss_allowed(&args(
            "--flush ASYNC_FLUSH --role SYNC_MASTER --slaves"
        )));
        assert!(loss_allowed(&args("--scenario master-loss")));
        assert!(loss_allowed(&args("--scenario master-loss --role SYNC_MASTER")));
        assert!(!loss_allowed(&args(
            "--scenario master-loss --role SYNC_MASTER --slaves"
        )));
        assert_eq!(name(Flush::AsyncFlush), "ASYNC_FLUSH");
        assert_eq!(name(Scenario::KillLoop), "kill-loop");
    }
}
