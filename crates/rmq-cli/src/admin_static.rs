//! The static-topic verbs of the 5.x `mqadmin`, same names and flags: `updateStaticTopic` and
//! `remappingStaticTopic` (docs/broker/admin.md#static-topics). Like Java's they print where
//! the mapping before and after is written (`<tmp>/<topic>-<epoch>.before|.after`, the
//! `TopicRemappingDetailWrapper` JSON), then write the new mapping to the brokers; `-mf` applies
//! such a file (Java declares it but never reads it).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rmq_client::admin::static_topic::{
    brokers_of_clusters, check_consistence, plan_remapping, plan_update, BrokerConfigMap, BLOCK_SEQ_SIZE,
};
use rmq_client::Admin;
use rmq_protocol::body::static_topic::{TopicRemappingDetailWrapper, TYPE_CREATE_OR_UPDATE};
use rmq_protocol::body::ClusterInfo;

use crate::admin::{admin, NamesrvOpt};

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum StaticCommand {
    /// Create a static topic over brokers (-b) or clusters (-c), or grow it to -qn logic queues.
    UpdateStaticTopic {
        #[command(flatten)]
        target: StaticTarget,
        /// The total number of logic queues (`-qn`).
        #[arg(long = "qn", visible_alias = "totalQueueNum")]
        queue_num: Option<i32>,
    },
    /// Spread a static topic's logic queues over other brokers (-b) or clusters (-c): moved
    /// queues get a new generation on their new broker.
    RemappingStaticTopic {
        #[command(flatten)]
        target: StaticTarget,
    },
}

/// What both verbs take.
#[derive(Args)]
pub struct StaticTarget {
    #[command(flatten)]
    ns: NamesrvOpt,
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Target brokers, comma separated.
    #[arg(short = 'b', long = "brokers", conflicts_with = "clusters")]
    brokers: Option<String>,
    /// Target clusters, comma separated.
    #[arg(short = 'c', long = "clusters")]
    clusters: Option<String>,
    /// A mapping file written by an earlier run (`-mf`) to apply as it is.
    #[arg(long = "mf", visible_alias = "mapFile")]
    map_file: Option<PathBuf>,
    /// `true`: brokers take the mapping whatever its epoch (`-fr`).
    #[arg(long = "fr", visible_alias = "forceReplace", default_value = "false")]
    force: String,
}

impl StaticTarget {
    fn force(&self) -> bool {
        self.force.trim().eq_ignore_ascii_case("true")
    }

    /// The target brokers by name (`-b`, or every broker of `-c`); none is an error.
    fn brokers(&self, info: &ClusterInfo) -> anyhow::Result<BTreeSet<String>> {
        let split = |s: &str| s.split(',').map(|p| p.trim().to_owned()).collect::<Vec<_>>();
        let brokers: BTreeSet<String> = match (&self.brokers, &self.clusters) {
            (Some(b), _) => split(b).into_iter().filter(|b| !b.is_empty()).collect(),
            (None, Some(c)) => brokers_of_clusters(info, &split(c)),
            (None, None) => bail!("give the target brokers (-b) or clusters (-c)"),
        };
        if brokers.is_empty() {
            bail!("Find none brokers, do nothing");
        }
        Ok(brokers)
    }
}

pub async fn run(cmd: StaticCommand) -> anyhow::Result<()> {
    match cmd {
        StaticCommand::UpdateStaticTopic { target, queue_num } => {
            let admin = admin(&target.ns)?;
            let topic = target.topic.trim();
            let info = admin.cluster_info().await?;
            if let Some(file) = &target.map_file {
                let mut plan = read_plan(file, topic)?;
                return Ok(admin
                    .apply_static_topic_update(&mut plan, &info, target.force())
                    .await?);
            }
            let queue_num = queue_num.context("updateStaticTopic needs -qn totalQueueNum")?;
            let brokers = target.brokers(&info)?;
            let configs = admin.static_topic_configs(topic, &info).await?;
            let now = now_ms();
            let epoch = match configs.is_empty() {
                true => now,
                false => check_consistence(topic, &configs).map_err(anyhow::Error::msg)?.0,
            };
            write_before(topic, epoch, &configs)?;
            let mut plan =
                plan_update(topic, queue_num, &brokers, configs, now).map_err(anyhow::Error::msg)?;
            println!(
                "The new mapping data is written to file {}",
                write_plan(&plan, ".after")?.display()
            );
            admin.apply_static_topic_update(&mut plan, &info, false).await?;
        }
        StaticCommand::RemappingStaticTopic { target } => {
            let admin = admin(&target.ns)?;
            let topic = target.topic.trim();
            let info = admin.cluster_info().await?;
            if let Some(file) = &target.map_file {
                let mut plan = read_plan(file, topic)?;
                return remap(&admin, &mut plan, &info, target.force()).await;
            }
            let brokers = target.brokers(&info)?;
            for broker in &brokers {
                let known = info.broker_addr_table.get(broker).and_then(|bd| bd.master_addr());
                if known.is_none() {
                    bail!("Can't find addr for broker {broker}");
                }
            }
            let configs = admin.static_topic_configs(topic, &info).await?;
            if configs.is_empty() {
                bail!("No topic route to do the remapping");
            }
            let (epoch, _) = check_consistence(topic, &configs).map_err(anyhow::Error::msg)?;
            write_before(topic, epoch, &configs)?;
            let mut plan = plan_remapping(topic, configs, &brokers, now_ms()).map_err(anyhow::Error::msg)?;
            // Java prints "old" for both files here.
            println!(
                "The old mapping data is written to file {}",
                write_plan(&plan, ".after")?.display()
            );
            remap(&admin, &mut plan, &info, false).await?;
        }
    }
    Ok(())
}

async fn remap(
    admin: &Admin,
    plan: &mut TopicRemappingDetailWrapper,
    info: &ClusterInfo,
    force: bool,
) -> anyhow::Result<()> {
    Ok(admin
        .apply_static_topic_remapping(plan, info, BLOCK_SEQ_SIZE, force)
        .await?)
}

/// The mapping as it is, written before anything changes.
fn write_before(topic: &str, epoch: i64, configs: &BrokerConfigMap) -> anyhow::Result<()> {
    let before = TopicRemappingDetailWrapper {
        broker_config_map: configs.clone(),
        epoch,
        topic: topic.to_owned(),
        kind: TYPE_CREATE_OR_UPDATE.to_owned(),
        ..TopicRemappingDetailWrapper::default()
    };
    println!(
        "The old mapping data is written to file {}",
        write_plan(&before, ".before")?.display()
    );
    Ok(())
}

/// Java's `writeToTemp`: `<tmp>/<topic>-<epoch><suffix>`.
fn write_plan(plan: &TopicRemappingDetailWrapper, suffix: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("{}-{}{suffix}", plan.topic, plan.epoch));
    let json = rmq_protocol::body::to_json(plan);
    std::fs::write(&path, &json).with_context(|| format!("write file failed {}", path.display()))?;
    Ok(path)
}

/// A mapping file given with `-mf`, checked as Java checks it.
fn read_plan(path: &PathBuf, topic: &str) -> anyhow::Result<TopicRemappingDetailWrapper> {
    let text = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let plan: TopicRemappingDetailWrapper = rmq_protocol::body::from_fastjson(&text)
        .with_context(|| format!("{} is not a mapping data file", path.display()))?;
    check_consistence(topic, &plan.broker_config_map).map_err(anyhow::Error::msg)?;
    Ok(plan)
}

fn now_ms() -> i64 {
    rmq_protocol::time::now_ms()
}
