//! The fault schedules: what is done to which process, and when.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use rmq_client::Admin;

use super::cluster::{Cluster, Node, GROUPS};
use super::load::Ledger;
use super::{topic_config, wait_until, ChaosArgs, Faults, Scenario};

/// Acknowledgements a kill-loop target must have taken since the last kill before it is killed.
const ACKS_BEFORE_KILL: u64 = 300;

pub async fn run(
    args: &ChaosArgs,
    seed: u64,
    cluster: &mut Cluster,
    admin: &Admin,
    ledger: &Ledger,
    faults: &mut Faults,
) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Mixed => mixed(args, seed, cluster, ledger, faults).await,
        Scenario::KillLoop => kill_loop(args, cluster, ledger, faults).await,
        Scenario::MasterLoss => master_loss(args, cluster, admin, faults).await,
        Scenario::Partition => partition(args, cluster, ledger, faults).await,
        Scenario::Failover => anyhow::bail!("the failover scenario runs its own cluster (failover::run)"),
    }
}

/// Random faults on random brokers (masters and slaves) for `--duration` seconds, a healthy
/// pause of 1-3 s between two faults: kill -9, SIGSTOP, graceful restart and, in a private
/// network namespace, a cut-off (of a broker or, now and then, of the name server).
async fn mixed(
    args: &ChaosArgs,
    seed: u64,
    cluster: &mut Cluster,
    ledger: &Ledger,
    faults: &mut Faults,
) -> anyhow::Result<()> {
    let started = ledger.epoch;
    let end = Instant::now() + Duration::from_secs(args.duration);
    let mut rng = Rng::new(seed);
    loop {
        let healthy = rng.duration_ms(1000, 3000);
        if Instant::now() + healthy >= end {
            tokio::time::sleep(end.saturating_duration_since(Instant::now())).await;
            return Ok(());
        }
        tokio::time::sleep(healthy).await;
        let brokers = cluster.masters.len() + cluster.slaves.len();
        let index = rng.below(brokers as u64) as usize;
        let node: &mut Node = if index < cluster.masters.len() {
            &mut cluster.masters[index]
        } else {
            &mut cluster.slaves[index - cluster.masters.len()]
        };
        let at = started.elapsed().as_secs_f64();
        let kinds = if cluster.net { 4 } else { 3 };
        match rng.below(kinds) {
            0 => {
                let down = rng.duration_ms(500, 3000);
                println!(
                    "chaos: +{at:5.1}s kill -9 {} (down {} ms)",
                    node.name,
                    down.as_millis()
                );
                node.kill9();
                faults.kills += 1;
                tokio::time::sleep(down).await;
                tokio::task::block_in_place(|| node.start())?;
            }
            1 => {
                let paused = rng.duration_ms(1000, 5000);
                println!(
                    "chaos: +{at:5.1}s SIGSTOP {} for {} ms",
                    node.name,
                    paused.as_millis()
                );
                node.pause();
                faults.pauses += 1;
                tokio::time::sleep(paused).await;
                node.resume();
            }
            3 => {
                let cut = rng.duration_ms(1000, 5000);
                // One cut-off in (brokers + 1) is the name server's: registrations and route
                // look-ups stall, what is already known keeps working.
                let target = if rng.below(brokers as u64 + 1) == brokers as u64 {
                    &mut cluster.namesrv
                } else {
                    node
                };
                cut_off(target, faults, at, cut)?;
                tokio::time::sleep(cut).await;
                target.reconnect()?;
            }
            _ => {
                println!("chaos: +{at:5.1}s graceful restart of {}", node.name);
                tokio::task::block_in_place(|| {
                    node.terminate();
                    node.start()
                })?;
                faults.restarts += 1;
            }
        }
    }
}

/// `--trials` rounds: wait until the target master (a, b, a, …) has acknowledged
/// [`ACKS_BEFORE_KILL`] messages since the previous kill, kill -9 it while the producers are
/// still sending, restart it on the same store.
async fn kill_loop(
    args: &ChaosArgs,
    cluster: &mut Cluster,
    ledger: &Ledger,
    faults: &mut Faults,
) -> anyhow::Result<()> {
    for trial in 0..args.trials {
        let group = trial % cluster.masters.len();
        let broker = GROUPS[group];
        let loaded = wait_until(Duration::from_secs(10), || {
            ledger.acks_in_trial(trial, broker) >= ACKS_BEFORE_KILL
        })
        .await
        .is_ok();
        let acks = ledger.acks_in_trial(trial, broker);
        let node = &mut cluster.masters[group];
        node.kill9();
        // Acknowledgements from here on belong to the next trial.
        ledger.trial.store(trial + 1, Ordering::SeqCst);
        faults.kills += 1;
        faults.trial_targets.push(broker.to_owned());
        println!(
            "chaos: trial {}/{}: kill -9 {} after {acks} acknowledgements on it since the last kill{}",
            trial + 1,
            args.trials,
            node.name,
            if loaded {
                ""
            } else {
                " (fewer than wanted: the producers avoided it)"
            }
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::task::block_in_place(|| node.start())?;
    }
    Ok(())
}

/// Without slaves, each master in turn: kill -9, its store deleted, restarted empty (the topic
/// is created again); what only that master had is gone. With slaves, master `a` is killed, its
/// store deleted, and it stays down: its slave must serve every message it acknowledged.
async fn master_loss(
    args: &ChaosArgs,
    cluster: &mut Cluster,
    admin: &Admin,
    faults: &mut Faults,
) -> anyhow::Result<()> {
    let with_slaves = !cluster.slaves.is_empty();
    let victims = if with_slaves { 1 } else { cluster.masters.len() };
    let step = Duration::from_secs(args.duration) / (2 * victims as u32 + 1);
    for group in 0..victims {
        tokio::time::sleep(step).await;
        let node = &mut cluster.masters[group];
        println!("chaos: kill -9 {} and delete its store", node.name);
        node.kill9();
        faults.kills += 1;
        if let Some(store) = &node.store {
            match std::fs::remove_dir_all(store) {
                Ok(()) => faults.stores_deleted += 1,
                Err(e) => println!("chaos: could not delete {}: {e}", store.display()),
            }
        }
        if with_slaves {
            println!("chaos: {} stays down; its slave serves the consumers", node.name);
            node.keep_down = true;
            continue;
        }
        tokio::time::sleep(step).await;
        tokio::task::block_in_place(|| node.start())?;
        let addr = &cluster.master_addrs[group];
        admin
            .create_topic(addr, &topic_config())
            .await
            .with_context(|| format!("create the topic again on {addr}"))?;
    }
    tokio::time::sleep(step).await;
    Ok(())
}

/// Each master in turn cut off the network for a sixth of `--duration` (at least 5 s: a send
/// stuck on it takes the 3 s timeout), then,
/// with slaves, each slave. While a master is cut off (after a 500 ms grace for responses
/// already on their way) it must acknowledge nothing and the other group must keep
/// acknowledging; once reconnected it must acknowledge again within 30 s (unless
/// `--fault-avoidance` keeps the producers away from it).
async fn partition(
    args: &ChaosArgs,
    cluster: &mut Cluster,
    ledger: &Ledger,
    faults: &mut Faults,
) -> anyhow::Result<()> {
    const GRACE: Duration = Duration::from_millis(500);
    let cut_for = (Duration::from_secs(args.duration) / 6).max(Duration::from_secs(5));
    let at = |ledger: &Ledger| ledger.epoch.elapsed().as_secs_f64();
    for group in 0..cluster.masters.len() {
        let (broker, other) = (GROUPS[group], GROUPS[1 - group]);
        let node = &mut cluster.masters[group];
        cut_off(node, faults, at(ledger), cut_for)?;
        tokio::time::sleep(GRACE).await;
        let (own, others) = (ledger.acks_from(broker), ledger.acks_from(other));
        tokio::time::sleep(cut_for - GRACE).await;
        let own_during = ledger.acks_from(broker) - own;
        let others_during = ledger.acks_from(other) - others;
        node.reconnect()?;
        println!(
            "chaos: +{:5.1}s {} reconnected; while it was cut off: {own_during} acknowledged by it, {others_during} by {other}",
            at(ledger),
            node.name
        );
        if own_during > 0 {
            anyhow::bail!("{} acknowledged {own_during} sends while cut off", node.name);
        }
        if others_during == 0 {
            anyhow::bail!("no send went to {other} while {} was cut off", node.name);
        }
        if args.fault_avoidance {
            // A timed-out send keeps the broker out of the producers' choice for 10 min.
            println!("chaos: producers avoid {broker} now (latency fault avoidance): not waiting for it");
            continue;
        }
        let before = ledger.acks_from(broker);
        let resumed = Instant::now();
        wait_until(Duration::from_secs(30), || ledger.acks_from(broker) > before)
            .await
            .with_context(|| format!("{} acknowledged nothing after reconnecting", node.name))?;
        println!(
            "chaos: +{:5.1}s {} acknowledges again ({} ms after reconnecting)",
            at(ledger),
            node.name,
            resumed.elapsed().as_millis()
        );
    }
    for node in &mut cluster.slaves {
        cut_off(node, faults, at(ledger), cut_for)?;
        tokio::time::sleep(cut_for).await;
        node.reconnect()?;
        println!("chaos: +{:5.1}s {} reconnected", at(ledger), node.name);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

fn cut_off(node: &mut Node, faults: &mut Faults, at: f64, cut_for: Duration) -> anyhow::Result<()> {
    println!(
        "chaos: +{at:5.1}s cut {} off the network for {} ms",
        node.name,
        cut_for.as_millis()
    );
    faults.cuts += 1;
    node.cut_off()
}

/// xorshift64*: a reproducible fault schedule from `--seed`.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn duration_ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}
