//! The failover scenario (issue #16): a name server, three `rmq controller`s (one Raft group)
//! and two broker groups of three brokers in controller mode with `allAckInSyncStateSet=true`.
//! Under load, each trial `kill -9`s the current master of one group (every other trial the
//! controllers' Raft leader too), waits for the first SEND_OK from another broker of that
//! group, restarts what it killed and waits for the old master to be back as a slave.
//!
//! Reported per trial: the time from the kill to the first acknowledged send on the new master,
//! and overall lost (must be 0), duplicated, and whether two brokers of a group ever
//! acknowledged alternately (a deposed master acknowledging after its successor: must never).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rmq_client::Admin;

use super::cluster::{free_port, start_namesrv, Node};
use super::load::{Ledger, TOPIC};
use super::{wait_until, ChaosArgs, Faults};

pub const GROUPS: [&str; 2] = ["a", "b"];
const REPLICAS: usize = 3;
const CONTROLLERS: usize = 3;
/// Acknowledgements between two trials.
const ACKS_BETWEEN_TRIALS: usize = 300;
/// The longest a trial step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// One broker process and the port clients know it by.
pub struct Replica {
    pub node: Node,
    pub port: u16,
}

pub struct FailoverCluster {
    pub namesrv_addr: String,
    namesrv: Node,
    controllers: Vec<Node>,
    controller_addrs: Vec<String>,
    /// Per group, its three brokers.
    pub groups: Vec<Vec<Replica>>,
}

impl FailoverCluster {
    pub fn start(dir: &Path, flush: &str) -> anyhow::Result<FailoverCluster> {
        let exe = std::env::current_exe().context("current_exe")?;
        let mut taken = Vec::new();
        let (namesrv, namesrv_addr) = start_namesrv(dir, &exe, &mut taken)?;

        let ports: Vec<u16> = (0..CONTROLLERS)
            .map(|_| free_port(false, &mut taken))
            .collect::<anyhow::Result<_>>()?;
        let peers = ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("n{i}-127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(";");
        let controller_addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut controllers = Vec::new();
        for i in 0..CONTROLLERS {
            let name = format!("ctl-{i}");
            let home = dir.join(&name);
            std::fs::create_dir_all(&home)?;
            let conf = format!(
                "controllerDLegerGroup=chaos\ncontrollerDLegerPeers={peers}\ncontrollerDLegerSelfId=n{i}\n\
                 controllerStorePath={}\nscanNotActiveBrokerInterval=1000\n",
                home.join("store").display()
            );
            let path = home.join("controller.conf");
            std::fs::write(&path, conf).with_context(|| format!("write {}", path.display()))?;
            let args = vec![
                "controller".into(),
                "-c".into(),
                path.to_string_lossy().into_owned(),
            ];
            controllers.push(Node::new(&name, &exe, args, dir.to_path_buf(), None));
        }
        for c in &mut controllers {
            c.start()?;
        }

        let mut groups = Vec::new();
        for group in GROUPS {
            let mut replicas = Vec::new();
            for r in 0..REPLICAS {
                let port = free_port(true, &mut taken)?;
                let name = format!("{group}-{r}");
                let store = dir.join(&name).join("store");
                let conf = format!(
                    "brokerClusterName=ChaosCluster\nbrokerName={group}\nlistenPort={port}\n\
                     brokerIP1=127.0.0.1\nbrokerIP2=127.0.0.1\nnamesrvAddr={namesrv_addr}\nstorePathRootDir={}\n\
                     flushDiskType={flush}\nmappedFileSizeCommitLog=16777216\nautoCreateTopicEnable=true\n\
                     enableGrpcServer=false\nenableControllerMode=true\ncontrollerAddr={}\n\
                     allAckInSyncStateSet=true\n",
                    store.display(),
                    controller_addrs.join(";"),
                );
                std::fs::create_dir_all(dir.join(&name))?;
                let path = dir.join(&name).join("broker.conf");
                std::fs::write(&path, conf).with_context(|| format!("write {}", path.display()))?;
                let args = vec!["broker".into(), "-c".into(), path.to_string_lossy().into_owned()];
                replicas.push(Replica {
                    node: Node::new(&name, &exe, args, dir.to_path_buf(), Some(store)),
                    port,
                });
            }
            groups.push(replicas);
        }
        for r in groups.iter_mut().flatten() {
            r.node.start()?;
        }
        Ok(FailoverCluster {
            namesrv_addr,
            namesrv,
            controllers,
            controller_addrs,
            groups,
        })
    }

    /// Starts every process that is down.
    pub fn heal(&mut self) -> anyhow::Result<()> {
        for c in &mut self.controllers {
            c.start()?;
        }
        for r in self.groups.iter_mut().flatten() {
            r.node.start()?;
        }
        Ok(())
    }

    pub fn shutdown(&mut self) {
        for r in self.groups.iter_mut().flatten() {
            r.node.terminate();
        }
        for c in &mut self.controllers {
            c.terminate();
        }
        self.namesrv.terminate();
    }

    /// The controllers' Raft leader, as the first controller that answers names it.
    async fn controller_leader(&self, admin: &Admin) -> Option<usize> {
        for addr in &self.controller_addrs {
            if let Ok(meta) = admin.controller_metadata(addr).await {
                let leader = meta.controller_leader_address?;
                return self.controller_addrs.iter().position(|a| *a == leader);
            }
        }
        None
    }
}

/// The master of `group` in the name server's route of the test topic (brokerId 0).
async fn master_port(admin: &Admin, group: &str) -> Option<u16> {
    let route = admin.topic_route(TOPIC).await.ok()?;
    let data = route.broker_datas.iter().find(|b| b.broker_name == group)?;
    let addr = data.broker_addrs.get(&0)?;
    addr.rsplit(':').next()?.parse().ok()
}

/// Whether the broker on `port` is in `group`'s route as a slave.
async fn is_slave(admin: &Admin, group: &str, port: u16) -> bool {
    let Ok(route) = admin.topic_route(TOPIC).await else {
        return false;
    };
    route
        .broker_datas
        .iter()
        .filter(|b| b.broker_name == group)
        .flat_map(|b| b.broker_addrs.iter())
        .any(|(id, a)| *id > 0 && a.ends_with(&format!(":{port}")))
}

/// Waits until every group has a master in the route of the test topic.
pub async fn wait_for_masters(admin: &Admin) -> anyhow::Result<()> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let mut all = true;
        for g in GROUPS {
            all &= master_port(admin, g).await.is_some();
        }
        if all {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("not every broker group has a master in the route of {TOPIC}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a trial does to the master of its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` of the master.
    Kill,
    /// `kill -9` of the master and of the controllers' Raft leader at the same moment.
    KillWithLeader,
    /// SIGSTOP of the master (it holds its sockets and answers nothing: cut off), SIGCONT once
    /// its successor acknowledged; it must not acknowledge again, and must come back as a slave.
    Pause,
}

impl Fault {
    fn of_trial(t: usize) -> Fault {
        match t % 3 {
            0 => Fault::Kill,
            1 => Fault::KillWithLeader,
            _ => Fault::Pause,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Fault::Kill => "kill -9",
            Fault::KillWithLeader => "kill -9 (+ controller leader)",
            Fault::Pause => "SIGSTOP (cut off)",
        }
    }
}

/// One trial's outcome.
pub struct Trial {
    pub group: &'static str,
    pub killed: String,
    pub fault: Fault,
    pub killed_at: Instant,
    pub failover: Duration,
}

/// The trials; returns each one's failover time.
pub async fn run(
    args: &ChaosArgs,
    cluster: &mut FailoverCluster,
    admin: &Admin,
    ledger: &Ledger,
    faults: &mut Faults,
) -> anyhow::Result<Vec<Trial>> {
    let mut trials = Vec::new();
    for t in 0..args.trials {
        let group_index = t % GROUPS.len();
        let group = GROUPS[group_index];
        let before = ledger.acked_count();
        wait_until(STEP_TIMEOUT, || {
            ledger.acked_count() >= before + ACKS_BETWEEN_TRIALS
        })
        .await
        .with_context(|| format!("trial {}: no load before the kill", t + 1))?;
        let port = wait_for(|| master_port(admin, group))
            .await
            .with_context(|| format!("trial {}: no master of group {group}", t + 1))?;
        let index = cluster.groups[group_index]
            .iter()
            .position(|r| r.port == port)
            .with_context(|| format!("trial {}: master port {port} is none of group {group}", t + 1))?;
        let fault = Fault::of_trial(t);
        let leader = if fault == Fault::KillWithLeader {
            cluster.controller_leader(admin).await
        } else {
            None
        };
        let killed_at = Instant::now();
        let name = {
            let replica = &mut cluster.groups[group_index][index];
            if fault == Fault::Pause {
                replica.node.pause();
                faults.pauses += 1;
            } else {
                replica.node.kill9();
                faults.kills += 1;
            }
            replica.node.name.clone()
        };
        if let Some(l) = leader {
            cluster.controllers[l].kill9();
            faults.kills += 1;
        }
        ledger.trial.store(t + 1, std::sync::atomic::Ordering::SeqCst);
        let others: Vec<u16> = cluster.groups[group_index]
            .iter()
            .map(|r| r.port)
            .filter(|p| *p != port)
            .collect();
        let mut first = None;
        wait_until(STEP_TIMEOUT, || {
            first = ledger.first_ack_from(&others, killed_at);
            first.is_some()
        })
        .await
        .with_context(|| format!("trial {}: no acknowledged send on a new master of {group}", t + 1))?;
        let failover = first.map_or(Duration::ZERO, |f| f.duration_since(killed_at));
        println!(
            "chaos: trial {:2}: {} of master {name} of group {group}{}: first SEND_OK on the new master after {} ms",
            t + 1,
            fault.describe(),
            if leader.is_some() { "" } else if fault == Fault::KillWithLeader { " (no leader found)" } else { "" },
            failover.as_millis()
        );
        faults.trial_targets.push(name.clone());
        if let Some(l) = leader {
            tokio::task::block_in_place(|| cluster.controllers[l].start())?;
            faults.restarts += 1;
        }
        if fault == Fault::Pause {
            cluster.groups[group_index][index].node.resume();
        } else {
            tokio::task::block_in_place(|| cluster.groups[group_index][index].node.start())?;
            faults.restarts += 1;
        }
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !is_slave(admin, group, port).await {
            if Instant::now() > deadline {
                bail!(
                    "trial {}: {name} did not come back as a slave of group {group}",
                    t + 1
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        trials.push(Trial {
            group,
            killed: name,
            fault,
            killed_at,
            failover,
        });
    }
    Ok(trials)
}

async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    mut f: impl FnMut() -> F,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("not within {STEP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Acknowledgements from a second broker of a group while another was its master: between a
/// new master's first acknowledgement and the group's next kill (and before the first kill),
/// every acknowledgement of the group must come from one broker. Counted over the producers'
/// receive times.
///
/// Returns the count per trial (index: the trial that began the window, 0 before the first).
pub fn two_master_acks(ledger: &Ledger, cluster: &FailoverCluster, trials: &[Trial]) -> Vec<usize> {
    let acks = ledger.acks_by_port();
    let mut count = vec![0; trials.len() + 1];
    for (g, group) in cluster.groups.iter().enumerate() {
        let ports: Vec<u16> = group.iter().map(|r| r.port).collect();
        let mine: Vec<(usize, &Trial)> = trials
            .iter()
            .enumerate()
            .filter(|(_, t)| t.group == GROUPS[g])
            .map(|(i, t)| (i + 1, t))
            .collect();
        // Windows of one master: [start, first fault), [first ack after fault i, fault i+1), ...
        let mut windows = Vec::new();
        let mut from = acks.first().map(|(t, _)| (0, *t));
        for (i, t) in &mine {
            if let Some((w, f)) = from {
                windows.push((w, f, Some(t.killed_at)));
            }
            from = Some((*i, t.killed_at + t.failover));
        }
        if let Some((w, f)) = from {
            windows.push((w, f, None));
        }
        for (w, from, to) in windows {
            let mut owner = None;
            for (at, port) in &acks {
                if !ports.contains(port) || *at < from || to.is_some_and(|t| *at >= t) {
                    continue;
                }
                match owner {
                    None => owner = Some(*port),
                    Some(o) if o != *port => count[w] += 1,
                    Some(_) => {}
                }
            }
        }
    }
    count
}

/// Percentile (0..=100) of `values`, nearest rank.
pub fn percentile(values: &[Duration], p: usize) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut v = values.to_vec();
    v.sort();
    let rank = (p * v.len()).div_ceil(100).clamp(1, v.len());
    v[rank - 1]
}
