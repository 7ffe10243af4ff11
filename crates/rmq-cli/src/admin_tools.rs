//! The last `mqadmin` verbs, same names and flags: `checkRocksdbCqWriteProgress`, the broker
//! container's `addBroker` / `removeBroker`, `dumpCompactionLog` (a local file),
//! `rocksDBConfigToJson` / `exportMetadataInRocksDB` (local metadata: rmq's JSON config files
//! where Java reads its RocksDB store) and `startMonitoring` (docs/broker/admin.md#mqadmin-verbs).
//! Output as mqadmin prints it; `startMonitoring` prints to stdout what Java's
//! `DefaultMonitorListener` logs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use rmq_client::{Admin, MessageExtDisplay};
use rmq_protocol::body::{ConsumerConnection, TopicStatsTable};

use crate::admin::{admin, direct_admin, NamesrvOpt};

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum ToolsCommand {
    /// Ask every broker of a cluster how far its RocksDB consume queues lag the file ones.
    CheckRocksdbCqWriteProgress {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'c', long = "cluster")]
        cluster: String,
        #[arg(short = 't', long = "topic")]
        topic: Option<String>,
    },
    /// Add a broker, from its config file, to a broker container.
    AddBroker {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'c', long = "brokerContainerAddr")]
        container: String,
        #[arg(short = 'b', long = "brokerConfigPath")]
        config_path: String,
    },
    /// Remove a broker (`cluster:brokerName:brokerId`) from a broker container.
    RemoveBroker {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'c', long = "brokerContainerAddr")]
        container: String,
        #[arg(short = 'b', long = "brokerIdentity")]
        identity: String,
    },
    /// Print every message of a compaction log (or commitlog) file.
    DumpCompactionLog {
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
    },
    /// Print a broker's topics, subscription groups or consumer offsets as JSON. Java reads its
    /// RocksDB config store; rmq keeps these in JSON files, read from the config directory `-p`.
    #[command(name = "rocksDBConfigToJson")]
    RocksDbConfigToJson {
        #[arg(short = 'p', long = "configPath")]
        path: PathBuf,
        /// `topics`, `subscriptionGroups` or `consumerOffsets`.
        #[arg(short = 't', long = "configType")]
        kind: String,
    },
    /// Print a broker's topics or subscription groups, a line each or as JSON (`-j true`), from
    /// the config directory `-p` (Java: its RocksDB config store).
    #[command(name = "exportMetadataInRocksDB")]
    ExportMetadataInRocksDb {
        #[arg(short = 'p', long = "path")]
        path: PathBuf,
        /// `topics` or `subscriptionGroups`.
        #[arg(short = 't', long = "configType")]
        kind: String,
        #[arg(short = 'j', long = "jsonEnable", default_value = "false")]
        json: String,
    },
    /// Report every consumer group's undone messages each round (Java's MonitorService).
    StartMonitoring {
        #[command(flatten)]
        ns: NamesrvOpt,
        /// Stop after this many rounds (rmq's addition; Java's runs until killed).
        #[arg(long = "rounds")]
        rounds: Option<u64>,
        /// Milliseconds between rounds (Java's `MonitorConfig.roundInterval`).
        #[arg(long = "interval", default_value_t = 60_000)]
        interval_ms: u64,
    },
}

pub async fn run(cmd: ToolsCommand) -> anyhow::Result<()> {
    match cmd {
        ToolsCommand::CheckRocksdbCqWriteProgress { ns, cluster, topic } => {
            let admin = admin(&ns)?;
            let info = admin.cluster_info().await?;
            if !info.cluster_addr_table.contains_key(cluster.trim()) {
                print!("clusterAddrTable is empty");
                return Ok(());
            }
            let topic = topic.as_deref().map(str::trim).unwrap_or("");
            let mut brokers: Vec<_> = info.broker_addr_table.iter().collect();
            brokers.sort_by(|a, b| a.0.cmp(b.0));
            for (name, bd) in brokers {
                let addr = bd.master_addr().unwrap_or_default();
                let diff = admin.check_rocksdb_cq_write_progress(addr, topic).await?;
                if topic.is_empty() {
                    print!("{name} | {addr} | \n{diff}");
                } else {
                    print!("{diff}");
                }
            }
        }
        ToolsCommand::AddBroker {
            ns,
            container,
            config_path,
        } => {
            let container = container.trim();
            direct_admin(&ns)?
                .add_broker_to_container(container, config_path.trim())
                .await
                .context("AddBrokerSubCommand command failed")?;
            println!("add broker to {container} success");
        }
        ToolsCommand::RemoveBroker {
            ns,
            container,
            identity,
        } => {
            let container = container.trim();
            let parts: Vec<&str> = identity.trim().split(':').map(str::trim).collect();
            let [cluster, name, id] = parts[..] else {
                bail!("-b is clusterName:brokerName:brokerId");
            };
            let id: i64 = id.parse().context("brokerId is not a number")?;
            if id < 0 {
                println!("brokerId can't be negative");
                return Ok(());
            }
            direct_admin(&ns)?
                .remove_broker_from_container(container, cluster, name, id)
                .await
                .context("RemoveBrokerSubCommand command failed")?;
            println!("remove broker from {container} success");
        }
        ToolsCommand::DumpCompactionLog { file } => {
            let Some(file) = file else {
                println!("miss dump log file name");
                return Ok(());
            };
            dump_compaction_log(&file)?;
        }
        ToolsCommand::RocksDbConfigToJson { path, kind } => {
            if !path.exists() {
                println!("Rocksdb path is invalid.");
                return Ok(());
            }
            let kind = kind.trim();
            let v = metadata(&path, kind)?;
            let out = match Metadata::of(kind) {
                Some(Metadata::Offsets) => serde_json::json!({ "offsetTable": v["offsetTable"] }),
                Some(m) => serde_json::json!({ "dataVersion": v["dataVersion"], m.table(): v[m.table()] }),
                None => bail!("unknown configType {kind}: topics, subscriptionGroups or consumerOffsets"),
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        ToolsCommand::ExportMetadataInRocksDb { path, kind, json } => {
            if !path.exists() {
                println!("RocksDB path is invalid.");
                return Ok(());
            }
            let kind = kind.trim();
            let m = match Metadata::of(kind) {
                Some(m @ (Metadata::Topics | Metadata::Groups)) => m,
                _ => {
                    println!(
                        "Invalid config type={}, Options: topics,subscriptionGroups",
                        kind.to_lowercase()
                    );
                    return Ok(());
                }
            };
            let v = metadata(&path, kind)?;
            let table = &v[m.table()];
            if json.trim().eq_ignore_ascii_case("true") {
                let out = serde_json::json!({ m.table(): table });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if let Some(entries) = table.as_object() {
                for (i, (key, value)) in entries.iter().enumerate() {
                    println!("{}, Key: {key}, Value: {value}", i + 1);
                }
            }
        }
        ToolsCommand::StartMonitoring {
            ns,
            rounds,
            interval_ms,
        } => {
            let admin = admin(&ns)?;
            let mut round = 0u64;
            loop {
                monitor_round(&admin).await;
                round += 1;
                if rounds.is_some_and(|n| round >= n) {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(interval_ms)).await;
            }
        }
    }
    Ok(())
}

/// The metadata kinds Java keeps in RocksDB and rmq in JSON files.
#[derive(Clone, Copy)]
enum Metadata {
    Topics,
    Groups,
    Offsets,
}

impl Metadata {
    fn of(kind: &str) -> Option<Metadata> {
        match kind.to_ascii_lowercase().as_str() {
            "topics" => Some(Metadata::Topics),
            "subscriptiongroups" => Some(Metadata::Groups),
            "consumeroffsets" => Some(Metadata::Offsets),
            _ => None,
        }
    }

    /// rmq's (and a Java file store's) file of this kind.
    fn file(self) -> &'static str {
        match self {
            Metadata::Topics => "topics.json",
            Metadata::Groups => "subscriptionGroup.json",
            Metadata::Offsets => "consumerOffset.json",
        }
    }

    /// The table the JSON holds.
    fn table(self) -> &'static str {
        match self {
            Metadata::Topics => "topicConfigTable",
            Metadata::Groups => "subscriptionGroupTable",
            Metadata::Offsets => "offsetTable",
        }
    }
}

/// The metadata file of `kind` in the config directory `dir`. A RocksDB store there (Java's
/// `<dir>/<kind>` with a `CURRENT` file) is named, not read.
fn metadata(dir: &std::path::Path, kind: &str) -> anyhow::Result<serde_json::Value> {
    let m = Metadata::of(kind).with_context(|| format!("unknown configType {kind}"))?;
    let rocks = dir.join(kind);
    if rocks.join("CURRENT").is_file() {
        bail!(
            "{} is a RocksDB store (a Java broker's); rmq keeps its metadata in JSON files and \
             does not read RocksDB",
            rocks.display()
        );
    }
    let file = dir.join(m.file());
    let text = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", file.display()))
}

/// Java's `DumpCompactionLogCommand`: stored records one after another, each printed as
/// `MessageExt.toString()`, until one does not decode.
fn dump_compaction_log(file: &PathBuf) -> anyhow::Result<()> {
    let name = file.display();
    if !file.exists() {
        bail!("file {name} not exist.");
    }
    if file.is_dir() {
        bail!("file {name} is a directory.");
    }
    let data = std::fs::read(file).with_context(|| format!("read {name}"))?;
    let mut at = 0;
    while at + 4 <= data.len() {
        let size = i32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let Ok(size) = usize::try_from(size) else { break };
        if size == 0 || at + size > data.len() {
            break;
        }
        match rmq_protocol::message::decode_message(&data[at..at + size]) {
            Ok((msg, _)) => println!("{}", MessageExtDisplay(&msg)),
            Err(_) => break,
        }
        at += size;
    }
    Ok(())
}

const MONITOR: &str = "[MONITOR] ";

/// One round of Java's `MonitorService.doMonitorWork`: for each group with a retry topic and
/// consumers online, its undone messages per topic (lag summed, the largest queue lag, and how
/// far the last consumed message's store time is behind the newest one's), and a notice when
/// its clients subscribe differently.
async fn monitor_round(admin: &Admin) {
    println!("{MONITOR}=========================================beginRound");
    let begin = std::time::Instant::now();
    let topics = admin.topic_list().await.unwrap_or_default();
    for topic in &topics {
        let Some(group) = topic.strip_prefix("%RETRY%") else {
            continue;
        };
        // Java asks for the connections in both reports; once serves both here.
        let Ok(cc) = admin.consumer_connections(group).await else {
            continue;
        };
        report_undone(admin, group).await;
        report_running_info(admin, group, &cc).await;
    }
    println!("{MONITOR}=========================================endRound");
    println!(
        "Execute one round monitor work, spent timemills: {}",
        begin.elapsed().as_millis()
    );
}

async fn report_undone(admin: &Admin, group: &str) {
    let Ok(stats) = admin.consume_stats(group, None).await else {
        return;
    };
    let mut by_topic: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (mq, ow) in &stats.offset_table {
        by_topic.entry(mq.topic.as_str()).or_default().push((mq, ow));
    }
    for (topic, queues) in by_topic {
        let newest: TopicStatsTable = admin.topic_stats(topic).await.unwrap_or_default();
        let (mut total, mut single_max, mut delay_max) = (0i64, 0i64, 0i64);
        for (mq, ow) in queues {
            let diff = ow.broker_offset - ow.consumer_offset;
            single_max = single_max.max(diff);
            total += diff.max(0);
            if ow.last_timestamp > 0 {
                if let Some(t) = newest.offset_table.get(mq).filter(|t| t.max_offset > 0) {
                    delay_max = delay_max.max(t.last_update_timestamp - ow.last_timestamp);
                }
            }
        }
        println!(
            "{MONITOR}reportUndoneMsgs: UndoneMsgs [consumerGroup={group}, topic={topic}, \
             undoneMsgsTotal={total}, undoneMsgsSingleMQ={single_max}, \
             undoneMsgsDelayTimeMills={delay_max}]"
        );
    }
}

/// Java's `analyzeSubscription` part of `reportConsumerRunningInfo`: the group's online clients
/// must subscribe alike.
async fn report_running_info(admin: &Admin, group: &str, cc: &ConsumerConnection) {
    let mut subscriptions = Vec::new();
    for c in &cc.connection_set {
        if let Ok(info) = admin.consumer_running_info(group, &c.client_id, false).await {
            let mut set: Vec<(String, String)> = info
                .subscription_set
                .iter()
                .map(|s| (s.topic.clone(), s.sub_string.clone()))
                .collect();
            set.sort();
            subscriptions.push(set);
        }
    }
    if subscriptions.windows(2).any(|w| w[0] != w[1]) {
        println!(
            "{MONITOR} [NOTIFY] reportConsumerRunningInfo: ConsumerGroup: {group}, Subscription different"
        );
    }
}
