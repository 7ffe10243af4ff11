//! More `mqadmin` verbs, same names and flags as the Java 5.3.1 tools: `consumerConnection`,
//! `producerConnection`, `consumerStatus`, `getConsumerConfig`, `addWritePerm`, `wipeWritePerm`,
//! `updateTopicPerm`, `topicClusterList`, `updateKvConfig`, `deleteKvConfig`, `updateOrderConf`, `skipAccumulatedMessage`,
//! `cloneGroupOffset`, `sendMessage`, `printMsg`, `printMsgByQueue`, `queryMsgByOffset`,
//! `consumeMessage`, `statsAll`, `exportConfigs`, `exportMetadata`, `exportMetrics`,
//! `deleteExpiredCommitLog`, `resetMasterFlushOffset`, `updateTopicList`, `updateSubGroupList`,
//! `getColdDataFlowCtrInfo`, `updateColdDataFlowCtrGroupConfig`, `removeColdDataFlowCtrGroupConfig`,
//! `allocateMQ`, `checkMsgSendRT`, `sendMsgStatus`
//! (docs/broker/admin.md). Output as mqadmin prints it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context};
use clap::Subcommand;
use rmq_protocol::body::{ConsumerRunningInfo, TopicConfig};
use rmq_protocol::codes::response_code;
use rmq_protocol::version::version_desc;

use crate::admin::{admin, client_config, format_ms, parse_timestamp, NamesrvOpt};

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum MoreCommand {
    /// Query a consumer group's connections, client versions and subscriptions.
    ConsumerConnection {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'g', long = "consumerGroup")]
        group: String,
        /// Ask this broker instead of a master of the group's retry topic.
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
    },
    /// Query a producer group's connections on the brokers of a topic.
    ProducerConnection {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'g', long = "producerGroup")]
        group: String,
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// Query a consumer's internal state (GET_CONSUMER_RUNNING_INFO): of one client (-i), or of
    /// every client of the group, each written to the file `<now>/<clientId>`.
    ConsumerStatus {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'g', long = "consumerGroup")]
        group: String,
        /// The consumer's client id.
        #[arg(short = 'i', long = "clientId")]
        client_id: Option<String>,
        /// Ask this broker for the group's connections.
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        /// Ask for the consumer's thread stacks too.
        #[arg(short = 's', long = "jstack", default_value_t = false)]
        jstack: bool,
    },
    /// Print a subscription group's configuration on every broker that has it.
    GetConsumerConfig {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'g', long = "groupName")]
        group: String,
    },
    /// Give a broker's topics back their write permission on every name server.
    AddWritePerm {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
    },
    /// Take the write permission off a broker's topics on every name server.
    WipeWritePerm {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
    },
    /// Change a topic's permission (2 W, 4 R, 6 RW) on a master (-b) or every master of a
    /// cluster (-c).
    UpdateTopicPerm {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[arg(short = 'p', long = "perm")]
        perm: i32,
    },
    /// Print the clusters a topic is on.
    TopicClusterList {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// Create or update a KV config on every name server.
    UpdateKvConfig {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 's', long = "namespace")]
        namespace: String,
        #[arg(short = 'k', long = "key")]
        key: String,
        #[arg(short = 'v', long = "value")]
        value: String,
    },
    /// Get, put or delete a topic's order conf (`brokerName:queueNums;...`, the name servers'
    /// ORDER_TOPIC_CONFIG namespace).
    UpdateOrderConf {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// `brokerName1:num;brokerName2:num` (put).
        #[arg(short = 'v', long = "orderConf")]
        order_conf: Option<String>,
        #[arg(short = 'm', long = "method", value_parser = ["put", "get", "delete"])]
        method: String,
    },
    /// Move a group's offsets on a topic to the end of each queue (resetOffsetByTime to -1).
    SkipAccumulatedMessage {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'g', long = "group")]
        group: String,
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Also move offsets forward (default true, as mqadmin).
        #[arg(short = 'f', long = "force", default_value_t = true, action = clap::ArgAction::Set)]
        force: bool,
        /// Cluster name (accepted as mqadmin's; the topic's route is used).
        #[arg(short = 'c', long = "cluster")]
        cluster: Option<String>,
    },
    /// Copy a group's committed offsets to another group.
    CloneGroupOffset {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 's', long = "srcGroup")]
        src_group: String,
        #[arg(short = 'd', long = "destGroup")]
        dest_group: String,
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Accepted as mqadmin's; not used (nor by mqadmin).
        #[arg(short = 'o', long = "offline")]
        offline: Option<String>,
    },
    /// Send one message (to a queue with -b and -i) and print where it went.
    SendMessage {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// The body, as UTF-8.
        #[arg(short = 'p', long = "body")]
        body: String,
        #[arg(short = 'k', long = "key")]
        key: Option<String>,
        #[arg(short = 'c', long = "tags")]
        tags: Option<String>,
        /// Broker name (with -i).
        #[arg(short = 'b', long = "broker")]
        broker: Option<String>,
        /// Queue id (needs -b).
        #[arg(short = 'i', long = "qid")]
        qid: Option<i32>,
        /// Accepted as mqadmin's; rmq's producer sends no trace.
        #[arg(short = 'm', long = "msgTraceEnable")]
        msg_trace_enable: Option<String>,
    },
    /// Print every message of a topic between two times (mqadmin `printMsg`).
    PrintMsg {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Accepted as mqadmin's; bodies are printed as (lossy) UTF-8.
        #[arg(short = 'c', long = "charsetName")]
        charset_name: Option<String>,
        #[arg(short = 's', long = "subExpression", default_value = "*")]
        sub_expression: String,
        /// Epoch ms or `yyyy-MM-dd#HH:mm:ss:SSS`.
        #[arg(short = 'b', long = "beginTimestamp")]
        begin: Option<String>,
        #[arg(short = 'e', long = "endTimestamp")]
        end: Option<String>,
        /// Print the body (default true).
        #[arg(short = 'd', long = "printBody", default_value_t = true, action = clap::ArgAction::Set)]
        print_body: bool,
    },
    /// Print (or count by tag) the messages of one queue (mqadmin `printMsgByQueue`).
    PrintMsgByQueue {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[arg(short = 'a', long = "brokerName")]
        broker_name: String,
        #[arg(short = 'i', long = "queueId")]
        queue_id: i32,
        /// Accepted as mqadmin's; bodies are printed as (lossy) UTF-8.
        #[arg(short = 'c', long = "charsetName")]
        charset_name: Option<String>,
        #[arg(short = 's', long = "subExpression", default_value = "*")]
        sub_expression: String,
        #[arg(short = 'b', long = "beginTimestamp")]
        begin: Option<String>,
        #[arg(short = 'e', long = "endTimestamp")]
        end: Option<String>,
        /// Print the messages (default false).
        #[arg(short = 'p', long = "print", default_value_t = false, action = clap::ArgAction::Set)]
        print_msg: bool,
        /// Print the bodies (default false).
        #[arg(short = 'd', long = "printBody", default_value_t = false, action = clap::ArgAction::Set)]
        print_body: bool,
        /// Count the messages by tag (default false).
        #[arg(short = 'f', long = "calculate", default_value_t = false, action = clap::ArgAction::Set)]
        calculate: bool,
    },
    /// Print a message's trace: the trace topic's records keyed by the message id (Pub, then Sub
    /// per consumer group).
    #[command(name = "queryMsgTraceById", alias = "QueryMsgTraceById")]
    QueryMsgTraceById {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'i', long = "msgId")]
        msg_id: String,
        #[arg(short = 't', long = "traceTopic", default_value = "RMQ_SYS_TRACE_TOPIC")]
        trace_topic: String,
        #[arg(short = 'b', long = "beginTimestamp", default_value_t = 0)]
        begin: i64,
        #[arg(short = 'e', long = "endTimestamp", default_value_t = i64::MAX)]
        end: i64,
        #[arg(short = 'c', long = "maxNum", default_value_t = 64)]
        max_num: i32,
    },
    /// Print the message at one offset of a queue.
    QueryMsgByOffset {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
        #[arg(short = 'i', long = "queueId")]
        queue_id: i32,
        #[arg(short = 'o', long = "offset")]
        offset: i64,
        /// Accepted as mqadmin's; the body is printed as (lossy) UTF-8.
        #[arg(short = 'f', long = "bodyFormat")]
        body_format: Option<String>,
    },
    /// Pull and print up to -c messages of a topic, a queue (-b -i) or from an offset (-o).
    ConsumeMessage {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[arg(short = 'b', long = "brokerName")]
        broker_name: Option<String>,
        #[arg(short = 'i', long = "queueId")]
        queue_id: Option<i32>,
        #[arg(short = 'o', long = "offset")]
        offset: Option<i64>,
        /// The consumer group (default TOOLS_CONSUMER).
        #[arg(short = 'g', long = "consumerGroup")]
        group: Option<String>,
        #[arg(short = 's', long = "beginTimestamp")]
        begin: Option<String>,
        #[arg(short = 'e', long = "endTimestamp")]
        end: Option<String>,
        #[arg(short = 'c', long = "MessageNumber", default_value_t = 128)]
        count: i64,
    },
    /// Every topic's (or -t's) groups with their accumulation, TPS and 24-hour message counts.
    StatsAll {
        #[command(flatten)]
        ns: NamesrvOpt,
        /// Print active topics only.
        #[arg(short = 'a', long = "activeTopic", default_value_t = false)]
        active_topic: bool,
        #[arg(short = 't', long = "topic")]
        topic: Option<String>,
    },
    /// Write a cluster's brokers' main configs and its scale to `<filePath>/configs.json`.
    ExportConfigs {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'c', long = "clusterName")]
        cluster: String,
        #[arg(short = 'f', long = "filePath", default_value = "/tmp/rocketmq/export")]
        file_path: String,
    },
    /// Write the user topics and subscription groups of a cluster's masters (-c) or of one broker
    /// (-b with -t or -g) to `<filePath>/metadata.json`, `topic.json` or `subscriptionGroup.json`.
    ExportMetadata {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        #[arg(short = 'f', long = "filePath", default_value = "/tmp/rocketmq/export")]
        file_path: String,
        /// Only the topics.
        #[arg(short = 't', long = "topic", default_value_t = false)]
        topic: bool,
        /// Only the subscription groups.
        #[arg(short = 'g', long = "subscriptionGroup", default_value_t = false)]
        subscription_group: bool,
        /// With the retry and DLQ topics.
        #[arg(short = 's', long = "specialTopic", default_value_t = false)]
        special_topic: bool,
    },
    /// Write a cluster's brokers' runtime metrics to `<filePath>/metrics.json`.
    ExportMetrics {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'c', long = "clusterName")]
        cluster: String,
        #[arg(short = 'f', long = "filePath", default_value = "/tmp/rocketmq/export")]
        file_path: String,
    },
    /// Delete the expired commit log files of a broker (-b), a cluster (-c) or every cluster.
    DeleteExpiredCommitLog {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "cluster")]
        cluster: Option<String>,
    },
    /// Set the master flush offset a slave reports (a master ignores it).
    ResetMasterFlushOffset {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: String,
        #[arg(short = 'o', long = "offset")]
        offset: i64,
    },
    /// Create or update the topics of a JSON file (a list of TopicConfig) on a broker or cluster.
    UpdateTopicList {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(
            short = 'b',
            long = "brokerAddr",
            required_unless_present = "cluster",
            conflicts_with = "cluster"
        )]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        #[arg(short = 'f', long = "filename")]
        filename: String,
    },
    /// Create or update the groups of a JSON file (a list of SubscriptionGroupConfig) on a
    /// broker or cluster.
    UpdateSubGroupList {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(
            short = 'b',
            long = "brokerAddr",
            required_unless_present = "cluster",
            conflicts_with = "cluster"
        )]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        #[arg(short = 'f', long = "filename")]
        filename: String,
    },
    /// Print the cold-read flow control tables of a broker (-b) or of a cluster's brokers (-c).
    GetColdDataFlowCtrInfo {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
    },
    /// Set a group's cold-read threshold on a broker (-b) or every master of a cluster (-c).
    UpdateColdDataFlowCtrGroupConfig {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        #[arg(short = 'g', long = "consumerGroup")]
        group: String,
        #[arg(short = 'v', long = "threshold")]
        threshold: String,
    },
    /// Remove a group's cold-read threshold from a broker (-b) or every master of a cluster (-c).
    RemoveColdDataFlowCtrGroupConfig {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        #[arg(short = 'g', long = "consumerGroup")]
        group: String,
    },
    /// Print how AllocateMessageQueueAveragely shares a topic's queues among the clients -i.
    #[command(name = "allocateMQ")]
    AllocateMq {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Comma-separated client ids (IPs).
        #[arg(short = 'i', long = "ipList")]
        ip_list: String,
    },
    /// Send -a messages of -s bytes round the topic's queues and print each send's RT.
    #[command(name = "checkMsgSendRT")]
    CheckMsgSendRt {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[arg(short = 'a', long = "amount", default_value_t = 100)]
        amount: i64,
        #[arg(short = 's', long = "size", default_value_t = 128)]
        size: usize,
    },
    /// Send -a messages of -s bytes to the topic named after each broker of the clusters, print
    /// each broker's average RT, and again every -i seconds (until stopped, or --rounds).
    #[command(name = "clusterRT")]
    ClusterRt {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'a', long = "amount", default_value_t = 100)]
        amount: i64,
        #[arg(short = 's', long = "size", default_value_t = 128)]
        size: usize,
        /// One cluster (default: every cluster).
        #[arg(short = 'c', long = "cluster")]
        cluster: Option<String>,
        /// `true`: print `time|room|cluster|broker|rt` lines (Java's tlog form, time in GMT+8).
        #[arg(short = 'p', long = "printLog", default_value = "false")]
        print_log: String,
        #[arg(short = 'm', long = "machineRoom", default_value = "noname")]
        machine_room: String,
        /// Seconds between rounds.
        #[arg(short = 'i', long = "interval", default_value_t = 10)]
        interval: u64,
        /// Stop after this many rounds (rmq's addition; Java's runs until stopped).
        #[arg(long = "rounds")]
        rounds: Option<u64>,
    },
    /// Send -c messages to the topic named after a broker and print each RT and SendResult.
    SendMsgStatus {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
        #[arg(short = 's', long = "messageSize", default_value_t = 128)]
        message_size: usize,
        #[arg(short = 'c', long = "count", default_value_t = 50)]
        count: i64,
    },
    /// Delete a KV config from every name server.
    DeleteKvConfig {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 's', long = "namespace")]
        namespace: String,
        #[arg(short = 'k', long = "key")]
        key: String,
    },
}

pub async fn run(cmd: MoreCommand) -> anyhow::Result<()> {
    match cmd {
        MoreCommand::ConsumerConnection {
            ns,
            group,
            broker_addr,
        } => {
            let admin = admin(&ns)?;
            let group = group.trim();
            let cc = match broker_addr {
                Some(addr) => admin.consumer_connections_at(group, addr.trim()).await?,
                None => admin.consumer_connections(group).await?,
            };
            println!(
                "{:<36} {:<22} {:<10} #Version",
                "#ClientId", "#ClientAddr", "#Language"
            );
            for c in &cc.connection_set {
                println!(
                    "{:<36} {:<22} {:<10} {}",
                    c.client_id,
                    c.client_addr,
                    c.language,
                    version_desc(c.version)
                );
            }
            println!("\nBelow is subscription:");
            println!("{:<20} #SubExpression", "#Topic");
            let mut subs: Vec<_> = cc.subscription_table.values().collect();
            subs.sort_by(|a, b| a.topic.cmp(&b.topic));
            for sd in subs {
                println!("{:<20} {}", sd.topic, sd.sub_string);
            }
            println!();
            println!("ConsumeType: {}", cc.consume_type);
            println!("MessageModel: {}", cc.message_model);
            println!("ConsumeFromWhere: {}", cc.consume_from_where);
        }
        MoreCommand::ProducerConnection { ns, group, topic } => {
            let pc = admin(&ns)?
                .producer_connections(group.trim(), topic.trim())
                .await?;
            for (i, c) in pc.connection_set.iter().enumerate() {
                println!(
                    "{:04}  {:<32} {:<22} {:<8} {}",
                    i + 1,
                    c.client_id,
                    c.client_addr,
                    c.language,
                    version_desc(c.version)
                );
            }
        }
        MoreCommand::ConsumerStatus {
            ns,
            group,
            client_id,
            broker_addr,
            jstack,
        } => {
            let admin = admin(&ns)?;
            let group = group.trim();
            if let Some(id) = client_id {
                let info = admin.consumer_running_info(group, id.trim(), jstack).await?;
                print!("{}", format_running_info(&info));
                return Ok(());
            }
            let cc = match broker_addr {
                Some(addr) => admin.consumer_connections_at(group, addr.trim()).await?,
                None => admin.consumer_connections(group).await?,
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            println!(
                "{:<10} {:<40} {:<20} #ConsumerRunningInfoFile",
                "#Index", "#ClientId", "#Version"
            );
            let mut infos = Vec::new();
            for c in &cc.connection_set {
                match admin.consumer_running_info(group, &c.client_id, jstack).await {
                    Ok(info) => {
                        let path = format!("{now}/{}", c.client_id);
                        std::fs::create_dir_all(now.to_string())?;
                        std::fs::write(&path, format_running_info(&info))?;
                        infos.push(info);
                        println!(
                            "{:<10} {:<40} {:<20} {path}",
                            infos.len(),
                            c.client_id,
                            version_desc(c.version)
                        );
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
            if let Some(first) = infos.first() {
                let subs = |i: &ConsumerRunningInfo| {
                    i.subscription_set
                        .iter()
                        .map(|s| (s.topic.clone(), s.sub_string.clone()))
                        .collect::<BTreeSet<_>>()
                };
                if infos.iter().all(|i| subs(i) == subs(first)) {
                    let mut held = BTreeSet::new();
                    let balanced = infos
                        .iter()
                        .flat_map(|i| i.mq_table.keys())
                        .all(|mq| held.insert((&mq.topic, &mq.broker_name, mq.queue_id)));
                    print!("\n\nSame subscription in the same group of consumer");
                    println!("\n\nRebalance {}", if balanced { "OK" } else { "Failed" });
                } else {
                    print!("\n\nWARN: Different subscription in the same group of consumer!!!");
                }
            }
        }
        MoreCommand::GetConsumerConfig { ns, group } => {
            let admin = admin(&ns)?;
            let group = group.trim();
            let info = admin.cluster_info().await?;
            let mut brokers: Vec<_> = info.broker_addr_table.iter().collect();
            brokers.sort_by(|a, b| a.0.cmp(b.0));
            for (name, bd) in brokers {
                let cluster = info
                    .cluster_addr_table
                    .iter()
                    .find(|(_, names)| names.contains(name))
                    .map_or("null", |(c, _)| c.as_str());
                let Some(addr) = bd
                    .master_addr()
                    .or_else(|| bd.broker_addrs.values().next().map(String::as_str))
                else {
                    continue;
                };
                let groups = admin.subscription_groups(addr).await?;
                let Some(config) = groups.subscription_group_table.get(group) else {
                    continue;
                };
                println!("============================={cluster}:{name}=============================");
                if let serde_json::Value::Object(fields) = serde_json::to_value(config)? {
                    for (field, value) in fields {
                        let value = match value {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Null => String::new(),
                            v => v.to_string(),
                        };
                        println!("{field:<40}=  {value}");
                    }
                }
            }
        }
        MoreCommand::AddWritePerm { ns, broker_name } => {
            let admin = admin(&ns)?;
            let broker_name = broker_name.trim();
            for addr in admin.namesrv_addrs() {
                match admin.add_write_perm(&addr, broker_name).await {
                    Ok(n) => {
                        println!("add write perm of broker[{broker_name}] in name server[{addr}] OK, {n}")
                    }
                    Err(e) => {
                        println!("add write perm of broker[{broker_name}] in name server[{addr}] Failed");
                        eprintln!("{e}");
                    }
                }
            }
        }
        MoreCommand::WipeWritePerm { ns, broker_name } => {
            let admin = admin(&ns)?;
            let broker_name = broker_name.trim();
            for addr in admin.namesrv_addrs() {
                match admin.wipe_write_perm(&addr, broker_name).await {
                    Ok(n) => {
                        println!("wipe write perm of broker[{broker_name}] in name server[{addr}] OK, {n}")
                    }
                    Err(e) => {
                        println!("wipe write perm of broker[{broker_name}] in name server[{addr}] Failed");
                        eprintln!("{e}");
                    }
                }
            }
        }
        MoreCommand::UpdateTopicPerm {
            ns,
            broker_addr,
            cluster,
            topic,
            perm,
        } => {
            let admin = admin(&ns)?;
            let topic = topic.trim();
            let route = admin.topic_route(topic).await?;
            let qd = route.queue_datas.first().context("the topic has no queues")?;
            let tc = TopicConfig {
                topic_name: topic.to_owned(),
                read_queue_nums: qd.read_queue_nums,
                write_queue_nums: qd.write_queue_nums,
                perm,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_sys_flag: qd.topic_sys_flag,
                order: false,
                attributes: Default::default(),
            };
            match (broker_addr, cluster) {
                (Some(addr), _) => {
                    let addr = addr.trim();
                    let Some(name) = route
                        .broker_datas
                        .iter()
                        .find(|bd| bd.broker_addrs.get(&0).map(String::as_str) == Some(addr))
                        .map(|bd| bd.broker_name.clone())
                    else {
                        println!("updateTopicPerm error broker not exit or broker is not master!.");
                        return Ok(());
                    };
                    let old = route
                        .queue_datas
                        .iter()
                        .find(|q| q.broker_name == name)
                        .map_or(0, |q| q.perm);
                    if old == perm {
                        println!("new perm equals to the old one!");
                        return Ok(());
                    }
                    admin.create_topic(addr, &tc).await?;
                    println!("update topic perm from {old} to {perm} in {addr} success.");
                    println!("{}.", serde_json::to_string(&tc)?);
                }
                (None, Some(cluster)) => {
                    for addr in admin.cluster_masters(cluster.trim()).await? {
                        admin.create_topic(&addr, &tc).await?;
                        println!("update topic perm from {} to {perm} in {addr} success.", qd.perm);
                    }
                }
                (None, None) => bail!("updateTopicPerm needs -b brokerAddr or -c clusterName"),
            }
        }
        MoreCommand::TopicClusterList { ns, topic } => {
            let admin = admin(&ns)?;
            let route = admin.topic_route(topic.trim()).await?;
            let info = admin.cluster_info().await?;
            let mut clusters = BTreeSet::new();
            for bd in &route.broker_datas {
                for (cluster, names) in &info.cluster_addr_table {
                    if names.contains(&bd.broker_name) {
                        clusters.insert(cluster.clone());
                    }
                }
            }
            for c in clusters {
                println!("{c}");
            }
        }
        MoreCommand::UpdateKvConfig {
            ns,
            namespace,
            key,
            value,
        } => {
            admin(&ns)?
                .put_kv_config(namespace.trim(), key.trim(), value.trim())
                .await?;
            println!("create or update kv config to namespace success.");
        }
        MoreCommand::UpdateOrderConf {
            ns,
            topic,
            order_conf,
            method,
        } => {
            const NS: &str = "ORDER_TOPIC_CONFIG";
            let admin = admin(&ns)?;
            let topic = topic.trim();
            match method.as_str() {
                "get" => {
                    let conf = admin.kv_config(NS, topic).await?;
                    print!(
                        "get orderConf success. topic=[{topic}], orderConf=[{}] ",
                        conf.as_deref().unwrap_or("null")
                    );
                }
                "put" => {
                    let conf = order_conf.as_deref().map(str::trim).unwrap_or_default();
                    if conf.is_empty() {
                        bail!("please set orderConf with option -v.");
                    }
                    admin.put_kv_config(NS, topic, conf).await?;
                    print!("update orderConf success. topic=[{topic}], orderConf=[{conf}]");
                }
                _ => {
                    admin.delete_kv_config(NS, topic).await?;
                    print!("delete orderConf success. topic=[{topic}]");
                }
            }
        }
        MoreCommand::SkipAccumulatedMessage {
            ns,
            group,
            topic,
            force,
            cluster: _,
        } => {
            let admin = admin(&ns)?;
            let (group, topic) = (group.trim(), topic.trim());
            let offsets = match admin.reset_offset_by_time(group, topic, -1, force).await {
                Err(e) if e.broker_code() == Some(response_code::CONSUMER_NOT_ONLINE) => {
                    println!("the consumer group is not online; resetting the stored offsets directly");
                    admin.reset_offset_offline(group, topic, -1, force).await?
                }
                other => other?,
            };
            println!("{:<40}  {:<40}  {:<40}", "#brokerName", "#queueId", "#offset");
            let mut rows: Vec<_> = offsets.into_iter().collect();
            rows.sort();
            for (mq, offset) in rows {
                println!("{:<40}  {:<40}  {:<40}", mq.broker_name, mq.queue_id, offset);
            }
        }
        MoreCommand::CloneGroupOffset {
            ns,
            src_group,
            dest_group,
            topic,
            offline: _,
        } => {
            let admin = admin(&ns)?;
            let (src, dest, topic) = (src_group.trim(), dest_group.trim(), topic.trim());
            let stats = admin.consume_stats(src, None).await?;
            if !stats.offset_table.is_empty() {
                let route = admin.topic_route(topic).await?;
                for (mq, wrapper) in &stats.offset_table {
                    let Some(addr) = route
                        .broker_datas
                        .iter()
                        .find(|bd| bd.broker_name == mq.broker_name)
                        .and_then(|bd| {
                            bd.master_addr()
                                .or_else(|| bd.broker_addrs.values().next().map(String::as_str))
                        })
                    else {
                        bail!("no broker {} in the route of {topic}", mq.broker_name);
                    };
                    if wrapper.consumer_offset >= 0 {
                        admin
                            .update_consumer_offset(addr, dest, mq, wrapper.consumer_offset)
                            .await?;
                    }
                }
            }
            print!("clone group offset success. srcGroup[{src}], destGroup=[{dest}], topic[{topic}]");
        }
        MoreCommand::SendMessage {
            ns,
            topic,
            body,
            key,
            tags,
            broker,
            qid,
            msg_trace_enable: _,
        } => {
            let topic = topic.trim();
            if qid.is_some() && broker.is_none() {
                print!("Broker name must be set if the queue is chosen!");
                return Ok(());
            }
            let mut msg = rmq_client::Message::new(topic, body.trim().as_bytes().to_vec());
            if let Some(t) = tags {
                msg = msg.with_tags(t.trim());
            }
            if let Some(k) = key {
                msg = msg.with_keys(k.trim());
            }
            let group = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                .to_string();
            let producer = rmq_client::Producer::new(group, client_config(&ns)?);
            producer.start().await?;
            let result = match (broker, qid) {
                (Some(b), Some(q)) if q > -1 => {
                    let mq = rmq_client::MessageQueue::new(topic, b.trim(), q);
                    producer.send_to_queue(msg, &mq).await
                }
                _ => producer.send(msg).await,
            };
            producer.shutdown().await;
            let result = result?;
            println!(
                "{:<32}  {:<4}  {:<20}    #MsgId",
                "#Broker Name", "#QID", "#Send Result"
            );
            println!(
                "{:<32}  {:<4}  {:<20}    {}",
                result.message_queue.broker_name,
                result.message_queue.queue_id,
                result.send_status.name(),
                result.msg_id
            );
        }
        MoreCommand::PrintMsg {
            ns,
            topic,
            charset_name: _,
            sub_expression,
            begin,
            end,
            print_body,
        } => {
            let consumer = rmq_client::PullConsumer::new(TOOLS_CONSUMER_GROUP, client_config(&ns)?);
            let result = print_msg(
                &consumer,
                topic.trim(),
                sub_expression.trim(),
                begin,
                end,
                print_body,
            )
            .await;
            consumer.shutdown().await;
            result?;
        }
        MoreCommand::PrintMsgByQueue {
            ns,
            topic,
            broker_name,
            queue_id,
            charset_name: _,
            sub_expression,
            begin,
            end,
            print_msg,
            print_body,
            calculate,
        } => {
            let consumer = rmq_client::PullConsumer::new(TOOLS_CONSUMER_GROUP, client_config(&ns)?);
            let mq = rmq_client::MessageQueue::new(topic.trim(), broker_name.trim(), queue_id);
            let result = print_msg_by_queue(
                &consumer,
                &mq,
                sub_expression.trim(),
                (begin, end),
                (print_msg, print_body, calculate),
            )
            .await;
            consumer.shutdown().await;
            result?;
        }
        MoreCommand::QueryMsgTraceById {
            ns,
            msg_id,
            trace_topic,
            begin,
            end,
            max_num,
        } => {
            let msg_id = msg_id.trim();
            let found = admin(&ns)?
                .query_message_by_key(trace_topic.trim(), msg_id, max_num, begin, end)
                .await?;
            let views: Vec<TraceView> = found.iter().flat_map(|m| trace_views(msg_id, m)).collect();
            print_trace(&views);
        }
        MoreCommand::QueryMsgByOffset {
            ns,
            topic,
            broker_name,
            queue_id,
            offset,
            body_format: _,
        } => {
            let consumer = rmq_client::PullConsumer::new(TOOLS_CONSUMER_GROUP, client_config(&ns)?);
            let mq = rmq_client::MessageQueue::new(topic.trim(), broker_name.trim(), queue_id);
            let result = consumer.pull(&mq, "*", offset, 1).await;
            consumer.shutdown().await;
            let result = result?;
            if result.status == rmq_client::PullStatus::Found {
                if let Some(m) = result.messages.first() {
                    crate::admin::print_message(m);
                }
            }
        }
        MoreCommand::ConsumeMessage {
            ns,
            topic,
            broker_name,
            queue_id,
            offset,
            group,
            begin,
            end,
            count,
        } => {
            if count <= 0 {
                print!("Please input a positive messageNumber!");
                return Ok(());
            }
            if queue_id.is_some() && broker_name.is_none() {
                print!("Please set the brokerName before queueId!");
                return Ok(());
            }
            if offset.is_some() && queue_id.is_none() {
                print!("Please set queueId before offset!");
                return Ok(());
            }
            let now = crate::admin::now_ms();
            let begin = begin.as_deref().map(parse_timestamp).transpose()?.unwrap_or(0);
            let end = end.as_deref().map(parse_timestamp).transpose()?.unwrap_or(0);
            if begin > now {
                print!("Please set the beginTimestamp before now!");
                return Ok(());
            }
            if end > now {
                print!("Please set the endTimestamp before now!");
                return Ok(());
            }
            if end != 0 && begin > end {
                print!("Please make sure that the beginTimestamp is less than or equal to the endTimestamp");
                return Ok(());
            }
            let group = group.map_or_else(|| TOOLS_CONSUMER_GROUP.to_owned(), |g| g.trim().to_owned());
            let consumer = rmq_client::PullConsumer::new(group, client_config(&ns)?);
            let topic = topic.trim();
            let result = match (broker_name, queue_id) {
                (Some(b), Some(q)) => {
                    let mq = rmq_client::MessageQueue::new(topic, b.trim(), q);
                    consume_by_queue(&consumer, &mq, offset.unwrap_or(0), (begin, end), count).await
                }
                _ => consume_default(&consumer, topic, (begin, end), count).await,
            };
            consumer.shutdown().await;
            result?;
        }
        MoreCommand::StatsAll {
            ns,
            active_topic,
            topic,
        } => {
            let admin = admin(&ns)?;
            println!(
                "{:<64}  {:<64} {:>12} {:>11} {:>11} {:>14} {:>14}",
                "#Topic",
                "#Consumer Group",
                "#Accumulation",
                "#InTPS",
                "#OutTPS",
                "#InMsg24Hour",
                "#OutMsg24Hour"
            );
            let select = topic.as_deref().map(str::trim).filter(|t| !t.is_empty());
            for t in admin.topic_list().await? {
                if t.starts_with("%RETRY%") || t.starts_with("%DLQ%") {
                    continue;
                }
                if select.is_some_and(|s| s != t) {
                    continue;
                }
                // as Java, a topic that fails is left out
                let _ = print_topic_stats(&admin, &t, active_topic).await;
            }
        }
        MoreCommand::ExportConfigs {
            ns,
            cluster,
            file_path,
        } => {
            let admin = admin(&ns)?;
            let cluster = cluster.trim();
            let info = admin.cluster_info().await?;
            let mut names: Vec<_> = info
                .cluster_addr_table
                .get(cluster)
                .map(|n| n.iter().cloned().collect())
                .unwrap_or_default();
            names.sort();
            let (mut masters, mut slaves) = (0, 0);
            let mut broker_configs = serde_json::Map::new();
            for name in names {
                let Some(bd) = info.broker_addr_table.get(&name) else {
                    continue;
                };
                let Some(master) = bd.broker_addrs.get(&0) else {
                    continue;
                };
                let config = admin.broker_config(master).await?;
                masters += 1;
                slaves += bd.broker_addrs.len() - 1;
                let mut props = serde_json::Map::new();
                for key in EXPORTED_BROKER_CONFIGS {
                    if let Some((_, v)) = config.iter().find(|(k, _)| k == key) {
                        props.insert((*key).to_owned(), v.clone().into());
                    }
                }
                let broker_name = config
                    .iter()
                    .find(|(k, _)| k == "brokerName")
                    .map_or(name.clone(), |(_, v)| v.clone());
                broker_configs.insert(broker_name, props.into());
            }
            let result = serde_json::json!({
                "brokerConfigs": broker_configs,
                "clusterScale": {
                    "namesrvSize": admin.namesrv_addrs().len(),
                    "masterBrokerSize": masters,
                    "slaveBrokerSize": slaves,
                },
            });
            let path = format!("{}/configs.json", file_path.trim());
            write_export(&path, &result)?;
            print!("export {path} success");
        }
        MoreCommand::ExportMetadata {
            ns,
            cluster,
            broker_addr,
            file_path,
            topic,
            subscription_group,
            special_topic,
        } => {
            let admin = admin(&ns)?;
            let file_path = file_path.trim();
            if let Some(addr) = broker_addr {
                let addr = addr.trim();
                if topic {
                    let path = format!("{file_path}/topic.json");
                    let wrapper = admin.user_topic_config(addr, special_topic).await?;
                    write_export(&path, &serde_json::to_value(&wrapper)?)?;
                    print!("export {path} success");
                } else if subscription_group {
                    let path = format!("{file_path}/subscriptionGroup.json");
                    let wrapper = admin.user_subscription_groups(addr).await?;
                    write_export(&path, &serde_json::to_value(&wrapper)?)?;
                    print!("export {path} success");
                }
            } else if let Some(cluster) = cluster {
                let mut topics = serde_json::Map::new();
                let mut groups = serde_json::Map::new();
                for addr in admin.cluster_masters(cluster.trim()).await? {
                    let wrapper = admin.user_topic_config(&addr, special_topic).await?;
                    for (name, tc) in wrapper.topic_config_table {
                        let mut tc = serde_json::to_value(&tc)?;
                        if let Some(old) = topics.get(&name) {
                            for key in ["writeQueueNums", "readQueueNums"] {
                                let sum = old[key].as_i64().unwrap_or(0) + tc[key].as_i64().unwrap_or(0);
                                tc[key] = sum.into();
                            }
                        }
                        topics.insert(name, tc);
                    }
                    let wrapper = admin.user_subscription_groups(&addr).await?;
                    for (name, sg) in wrapper.subscription_group_table {
                        let mut sg = serde_json::to_value(&sg)?;
                        if let Some(old) = groups.get(&name) {
                            let key = "retryQueueNums";
                            let sum = old[key].as_i64().unwrap_or(0) + sg[key].as_i64().unwrap_or(0);
                            sg[key] = sum.into();
                        }
                        groups.insert(name, sg);
                    }
                }
                let mut result = serde_json::Map::new();
                let path = if topic {
                    result.insert("topicConfigTable".into(), topics.into());
                    format!("{file_path}/topic.json")
                } else if subscription_group {
                    result.insert("subscriptionGroupTable".into(), groups.into());
                    format!("{file_path}/subscriptionGroup.json")
                } else {
                    result.insert("topicConfigTable".into(), topics.into());
                    result.insert("subscriptionGroupTable".into(), groups.into());
                    format!("{file_path}/metadata.json")
                };
                result.insert("exportTime".into(), crate::admin::now_ms().into());
                write_export(&path, &result.into())?;
                println!("export {path} success");
            } else {
                bail!("exportMetadata needs -c clusterName or -b brokerAddr");
            }
        }
        MoreCommand::ExportMetrics {
            ns,
            cluster,
            file_path,
        } => {
            let admin = admin(&ns)?;
            let info = admin.cluster_info().await?;
            let mut names: Vec<_> = info
                .cluster_addr_table
                .get(cluster.trim())
                .context("no such cluster")?
                .iter()
                .cloned()
                .collect();
            names.sort();
            let mut total_tps = [0.0f64; 4];
            let mut total_day = [0i64; 4];
            let mut report = serde_json::Map::new();
            for name in names {
                let Some(addr) = info
                    .broker_addr_table
                    .get(&name)
                    .and_then(|bd| bd.broker_addrs.get(&0))
                else {
                    continue;
                };
                let (broker_info, tps, day) = broker_metrics(&admin, addr).await?;
                for i in 0..4 {
                    total_tps[i] += tps[i];
                    total_day[i] += day[i];
                }
                report.insert(name, broker_info);
            }
            let result = serde_json::json!({
                "evaluateReport": report,
                "totalData": {
                    "totalTps": {
                        "totalNormalInTps": total_tps[0],
                        "totalNormalOutTps": total_tps[1],
                        "totalTransInTps": total_tps[2],
                        "totalScheduleInTps": total_tps[3],
                    },
                    "totalOneDayNum": {
                        "normalOneDayInNum": total_day[0],
                        "normalOneDayOutNum": total_day[1],
                        "transOneDayInNum": total_day[2],
                        "scheduleOneDayInNum": total_day[3],
                    },
                },
            });
            let path = format!("{}/metrics.json", file_path.trim());
            write_export(&path, &result)?;
            print!("export {path} success");
        }
        MoreCommand::DeleteExpiredCommitLog {
            ns,
            broker_addr,
            cluster,
        } => {
            let admin = admin(&ns)?;
            let mut result = false;
            if let Some(addr) = broker_addr {
                admin.delete_expired_commit_log(addr.trim()).await?;
                result = true;
            } else {
                let info = admin.cluster_info().await?;
                let mut clusters: Vec<_> = match cluster.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                    Some(c) => vec![c.to_owned()],
                    None => info.cluster_addr_table.keys().cloned().collect(),
                };
                clusters.sort();
                for c in clusters {
                    let mut names: Vec<_> = info.cluster_addr_table.get(&c).into_iter().flatten().collect();
                    names.sort();
                    for name in names {
                        let Some(bd) = info.broker_addr_table.get(name) else {
                            continue;
                        };
                        for addr in bd.broker_addrs.values() {
                            admin.delete_expired_commit_log(addr).await?;
                            result = true;
                        }
                    }
                }
            }
            print!("{}", if result { "success" } else { "false" });
        }
        MoreCommand::ResetMasterFlushOffset {
            ns,
            broker_addr,
            offset,
        } => {
            admin(&ns)?
                .reset_master_flush_offset(broker_addr.trim(), offset)
                .await?;
            println!("reset master flush offset to {offset} success");
        }
        MoreCommand::UpdateTopicList {
            ns,
            broker_addr,
            cluster,
            filename,
        } => {
            let filename = filename.trim();
            let Some(bytes) = read_list_file(filename)? else {
                return Ok(());
            };
            let configs: Vec<TopicConfig> = rmq_protocol::body::from_fastjson(&bytes)?;
            if configs.is_empty() {
                return Ok(());
            }
            let admin = admin(&ns)?;
            if let Some(addr) = broker_addr {
                let addr = addr.trim();
                admin.create_topic_list(addr, &configs).await?;
                println!("submit batch of topic config to {addr} success, please check the result later.");
            } else if let Some(cluster) = cluster {
                for addr in admin.cluster_masters(cluster.trim()).await? {
                    admin.create_topic_list(&addr, &configs).await?;
                    println!(
                        "submit batch of topic config to {addr} success, please check the result later."
                    );
                }
            }
        }
        MoreCommand::UpdateSubGroupList {
            ns,
            broker_addr,
            cluster,
            filename,
        } => {
            let filename = filename.trim();
            let Some(bytes) = read_list_file(filename)? else {
                return Ok(());
            };
            let configs: Vec<rmq_protocol::body::SubscriptionGroupConfig> =
                rmq_protocol::body::from_fastjson(&bytes)?;
            if configs.is_empty() {
                return Ok(());
            }
            let admin = admin(&ns)?;
            if let Some(addr) = broker_addr {
                let addr = addr.trim();
                admin.create_subscription_group_list(addr, &configs).await?;
                println!("submit batch of group config to {addr} success, please check the result later.");
            } else if let Some(cluster) = cluster {
                for addr in admin.cluster_masters(cluster.trim()).await? {
                    admin.create_subscription_group_list(&addr, &configs).await?;
                    println!(
                        "submit batch of subscription group config to {addr} success, please check the result later."
                    );
                }
            }
        }
        MoreCommand::GetColdDataFlowCtrInfo {
            ns,
            broker_addr,
            cluster,
        } => {
            let admin = admin(&ns)?;
            if let Some(addr) = broker_addr {
                let addr = addr.trim();
                print_cold_ctr_info(&admin, &format!("============{addr}============\n"), addr).await?;
            } else if let Some(cluster) = cluster {
                let info = admin.cluster_info().await?;
                let mut names: Vec<_> = info
                    .cluster_addr_table
                    .get(cluster.trim())
                    .into_iter()
                    .flatten()
                    .collect();
                names.sort();
                for name in names {
                    let Some(bd) = info.broker_addr_table.get(name) else {
                        continue;
                    };
                    let Some(master) = bd.broker_addrs.get(&0) else {
                        continue;
                    };
                    print_cold_ctr_info(
                        &admin,
                        &format!("============Master: {master}============\n"),
                        master,
                    )
                    .await?;
                    for (_, slave) in bd.broker_addrs.iter().filter(|(id, _)| **id != 0) {
                        let prefix =
                            format!("============My Master: {master}=====Slave: {slave}============\n");
                        print_cold_ctr_info(&admin, &prefix, slave).await?;
                    }
                }
            }
        }
        MoreCommand::UpdateColdDataFlowCtrGroupConfig {
            ns,
            broker_addr,
            cluster,
            group,
            threshold,
        } => {
            let admin = admin(&ns)?;
            let (group, threshold) = (group.trim(), threshold.trim());
            if let Some(addr) = broker_addr {
                let addr = addr.trim();
                admin
                    .update_cold_data_flow_ctr_group_config(addr, group, threshold)
                    .await?;
                println!("updateColdDataFlowCtrGroupConfig success, {addr}");
            } else if let Some(cluster) = cluster {
                for addr in admin.cluster_masters(cluster.trim()).await? {
                    match admin
                        .update_cold_data_flow_ctr_group_config(&addr, group, threshold)
                        .await
                    {
                        Ok(()) => println!("updateColdDataFlowCtrGroupConfig success, {addr}"),
                        Err(e) => eprintln!("{e}"),
                    }
                }
            } else {
                bail!("updateColdDataFlowCtrGroupConfig needs -b brokerAddr or -c clusterName");
            }
        }
        MoreCommand::RemoveColdDataFlowCtrGroupConfig {
            ns,
            broker_addr,
            cluster,
            group,
        } => {
            let admin = admin(&ns)?;
            let group = group.trim();
            if let Some(addr) = broker_addr {
                let addr = addr.trim();
                admin.remove_cold_data_flow_ctr_group_config(addr, group).await?;
                println!("remove broker cold read threshold success, {addr}");
            } else if let Some(cluster) = cluster {
                for addr in admin.cluster_masters(cluster.trim()).await? {
                    match admin.remove_cold_data_flow_ctr_group_config(&addr, group).await {
                        Ok(()) => println!("remove broker cold read threshold success, {addr}"),
                        Err(e) => eprintln!("{e}"),
                    }
                }
            } else {
                bail!("removeColdDataFlowCtrGroupConfig needs -b brokerAddr or -c clusterName");
            }
        }
        MoreCommand::AllocateMq { ns, topic, ip_list } => {
            let topic = topic.trim();
            let ips: Vec<String> = ip_list.trim().split(',').map(str::to_owned).collect();
            let consumer = rmq_client::PullConsumer::new(TOOLS_CONSUMER_GROUP, client_config(&ns)?);
            let mqs = consumer.fetch_subscribe_queues(topic).await;
            consumer.shutdown().await;
            let mqs = mqs?;
            let mut entries = Vec::new();
            for ip in &ips {
                let queues: Vec<String> = rmq_client::consumer::allocate_averagely(ip, &mqs, &ips)
                    .iter()
                    .map(|mq| {
                        format!(
                            "{{\"brokerName\":{},\"queueId\":{},\"topic\":{}}}",
                            serde_json::Value::from(mq.broker_name.as_str()),
                            mq.queue_id,
                            serde_json::Value::from(mq.topic.as_str())
                        )
                    })
                    .collect();
                entries.push(format!(
                    "{}:[{}]",
                    serde_json::Value::from(ip.as_str()),
                    queues.join(",")
                ));
            }
            println!("{{\"result\":{{{}}}}}", entries.join(","));
        }
        MoreCommand::CheckMsgSendRt {
            ns,
            topic,
            amount,
            size,
        } => {
            let topic = topic.trim();
            let group = crate::admin::now_ms().to_string();
            let producer = rmq_client::Producer::new(group, client_config(&ns)?);
            producer.start().await?;
            let result = check_msg_send_rt(&producer, topic, amount, size).await;
            producer.shutdown().await;
            result?;
        }
        MoreCommand::ClusterRt {
            ns,
            amount,
            size,
            cluster,
            print_log,
            machine_room,
            interval,
            rounds,
        } => {
            let admin = admin(&ns)?;
            let group = crate::admin::now_ms().to_string();
            let producer = rmq_client::Producer::new(group, client_config(&ns)?);
            producer.start().await?;
            let rt = ClusterRt {
                amount,
                size,
                cluster: cluster.as_deref().map(str::trim),
                tlog: print_log.trim().eq_ignore_ascii_case("true"),
                machine_room: machine_room.trim(),
                interval: std::time::Duration::from_secs(interval),
                rounds,
            };
            let result = cluster_rt(&admin, &producer, &rt).await;
            producer.shutdown().await;
            result?;
        }
        MoreCommand::SendMsgStatus {
            ns,
            broker_name,
            message_size,
            count,
        } => {
            let broker_name = broker_name.trim();
            let producer = rmq_client::Producer::new("PID_SMSC", client_config(&ns)?);
            producer.start().await?;
            let result = send_msg_status(&producer, broker_name, message_size, count).await;
            producer.shutdown().await;
            result?;
        }
        MoreCommand::DeleteKvConfig { ns, namespace, key } => {
            admin(&ns)?.delete_kv_config(namespace.trim(), key.trim()).await?;
            println!("delete kv config from namespace success.");
        }
    }
    Ok(())
}

/// `MixAll.TOOLS_CONSUMER_GROUP`, the group mqadmin's pull consumers use.
const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";

/// The queue's `[min, max)` offsets, narrowed by the begin / end timestamps (SEARCH_OFFSET).
async fn offset_range(
    consumer: &rmq_client::PullConsumer,
    mq: &rmq_client::MessageQueue,
    begin: Option<i64>,
    end: Option<i64>,
) -> anyhow::Result<(i64, i64)> {
    let mut min = consumer.min_offset(mq).await?;
    let mut max = consumer.max_offset(mq).await?;
    if let Some(b) = begin {
        min = consumer.search_offset(mq, b).await?;
    }
    if let Some(e) = end {
        max = consumer.search_offset(mq, e).await?;
    }
    Ok((min, max))
}

/// `MSGID: <id> <MessageExt> BODY: <body>` per message, as mqadmin's `printMessage`.
fn print_msgs(msgs: &[rmq_client::MessageExt], print_body: bool) {
    for m in msgs {
        let body = if print_body {
            String::from_utf8_lossy(&m.body).into_owned()
        } else {
            "NOT PRINT BODY".to_owned()
        };
        println!(
            "MSGID: {} {} BODY: {body}",
            m.client_msg_id(),
            rmq_client::MessageExtDisplay(m)
        );
    }
}

/// mqadmin `printMsg`: every readable queue of the topic, 32 messages a pull.
async fn print_msg(
    consumer: &rmq_client::PullConsumer,
    topic: &str,
    sub_expression: &str,
    begin: Option<String>,
    end: Option<String>,
    print_body: bool,
) -> anyhow::Result<()> {
    use rmq_client::PullStatus;
    let begin = begin.as_deref().map(parse_timestamp).transpose()?;
    let end = end.as_deref().map(parse_timestamp).transpose()?;
    for mq in consumer.fetch_subscribe_queues(topic).await? {
        let (min, max) = offset_range(consumer, &mq, begin, end).await?;
        println!("minOffset={min}, maxOffset={max}, {mq}");
        let mut offset = min;
        while offset < max {
            let result = match consumer.pull(&mq, sub_expression, offset, 32).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    break;
                }
            };
            offset = result.next_begin_offset;
            match result.status {
                PullStatus::Found => print_msgs(&result.messages, print_body),
                PullStatus::NoMatchedMsg => {
                    println!("{mq} no matched msg. status={}, offset={offset}", result.status)
                }
                PullStatus::NoNewMsg | PullStatus::OffsetIllegal => {
                    println!(
                        "{mq} print msg finished. status={}, offset={offset}",
                        result.status
                    );
                    break;
                }
            }
        }
        println!("--------------------------------------------------------");
    }
    Ok(())
}

/// mqadmin `printMsgByQueue`: the messages of one queue, printed (-p) and / or counted by tag
/// (-f, most frequent first).
async fn print_msg_by_queue(
    consumer: &rmq_client::PullConsumer,
    mq: &rmq_client::MessageQueue,
    sub_expression: &str,
    (begin, end): (Option<String>, Option<String>),
    (print_msg, print_body, calculate): (bool, bool, bool),
) -> anyhow::Result<()> {
    let begin = begin.as_deref().map(parse_timestamp).transpose()?;
    let end = end.as_deref().map(parse_timestamp).transpose()?;
    let (min, max) = offset_range(consumer, mq, begin, end).await?;
    let mut tags = std::collections::BTreeMap::<String, u64>::new();
    let mut offset = min;
    while offset < max {
        let result = match consumer.pull(mq, sub_expression, offset, 32).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                break;
            }
        };
        offset = result.next_begin_offset;
        if result.status != rmq_client::PullStatus::Found {
            break;
        }
        if calculate {
            for m in &result.messages {
                if let Some(tag) = m.tags().filter(|t| !t.trim().is_empty()) {
                    *tags.entry(tag.to_owned()).or_default() += 1;
                }
            }
        }
        if print_msg {
            print_msgs(&result.messages, print_body);
        }
    }
    if calculate {
        let mut counts: Vec<_> = tags.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (tag, n) in counts {
            println!("Tag: {tag:<30} Count: {n}");
        }
    }
    Ok(())
}

/// ConsumeMessageCommand's `pullMessageByQueue`: `[min, max]` of one queue, printed.
async fn consume_range(
    consumer: &rmq_client::PullConsumer,
    mq: &rmq_client::MessageQueue,
    min: i64,
    max: i64,
) -> anyhow::Result<()> {
    use rmq_client::PullStatus;
    let mut offset = min;
    while offset <= max {
        let n = i32::try_from(max - offset + 1).unwrap_or(i32::MAX);
        let result = match consumer.pull(mq, "*", offset, n).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return Ok(());
            }
        };
        offset = result.next_begin_offset;
        match result.status {
            PullStatus::Found => {
                println!("Consume ok");
                print_msgs(&result.messages, true);
            }
            PullStatus::NoMatchedMsg => {
                println!("{mq} no matched msg. status={}, offset={offset}", result.status)
            }
            PullStatus::NoNewMsg | PullStatus::OffsetIllegal => {
                println!(
                    "{mq} print msg finished. status={}, offset={offset}",
                    result.status
                );
                break;
            }
        }
    }
    Ok(())
}

/// `consumeMessage -t` (no queue): up to `count` messages over the topic's queues in order.
async fn consume_default(
    consumer: &rmq_client::PullConsumer,
    topic: &str,
    (begin, end): (i64, i64),
    count: i64,
) -> anyhow::Result<()> {
    let mut left = count;
    for mq in consumer.fetch_subscribe_queues(topic).await? {
        if left == 0 {
            break;
        }
        let (min, mut max) = offset_range(
            consumer,
            &mq,
            (begin > 0).then_some(begin),
            (end > 0).then_some(end),
        )
        .await?;
        if max - min > left {
            println!(
                "The older {left} message of the {} queue will be provided",
                mq.queue_id
            );
            max = min + left - 1;
            left = 0;
        } else {
            left = left - (max - min) - 1;
        }
        consume_range(consumer, &mq, min, max).await?;
    }
    Ok(())
}

/// `consumeMessage -t -b -i [-o]`: up to `count` messages of one queue from `offset`.
async fn consume_by_queue(
    consumer: &rmq_client::PullConsumer,
    mq: &rmq_client::MessageQueue,
    offset: i64,
    (begin, end): (i64, i64),
    count: i64,
) -> anyhow::Result<()> {
    let (min, mut max) = offset_range(
        consumer,
        mq,
        (begin > 0).then_some(begin),
        (end > 0).then_some(end),
    )
    .await?;
    if offset > max {
        println!("{mq} no matched msg, offset={offset}");
        return Ok(());
    }
    let min = min.max(offset);
    if max - min > count {
        println!("The oldler {count} message will be provided");
        max = min + count - 1;
    }
    consume_range(consumer, mq, min, max).await
}

/// The broker configs `exportConfigs` keeps (Java's `needBrokerProprties`).
const EXPORTED_BROKER_CONFIGS: &[&str] = &[
    "brokerClusterName",
    "brokerId",
    "brokerName",
    "brokerRole",
    "fileReservedTime",
    "filterServerNums",
    "flushDiskType",
    "maxMessageSize",
    "messageDelayLevel",
    "msgTraceTopicName",
    "slaveReadEnable",
    "traceOn",
    "traceTopicEnable",
    "useTLS",
    "autoCreateTopicEnable",
    "autoCreateSubscriptionGroup",
];

/// Pretty JSON to `path`, its directories created (Java's `MixAll.string2FileNotSafe`).
fn write_export(path: &str, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)?).with_context(|| format!("writing {path}"))
}

/// The first 64 characters (Java's `UtilAll.frontStringAtLeast(s, 64)`).
fn front64(s: &str) -> String {
    s.chars().take(64).collect()
}

/// `(statsMinute.tps, the day's sum, else the hour's, else the minute's)` of one
/// VIEW_BROKER_STATS_DATA item on every master of the route; an item a broker does not answer
/// counts 0, as in Java's `StatsAllSubCommand`.
async fn broker_stats(
    admin: &rmq_client::Admin,
    route: &rmq_client::TopicRouteData,
    stats_name: &str,
    stats_key: &str,
) -> (f64, i64) {
    let (mut tps, mut sum) = (0.0, 0);
    for addr in route.broker_datas.iter().filter_map(|bd| bd.broker_addrs.get(&0)) {
        let Ok(bsd) = admin.view_broker_stats_data(addr, stats_name, stats_key).await else {
            continue;
        };
        tps += bsd["statsMinute"]["tps"].as_f64().unwrap_or(0.0);
        sum += ["statsDay", "statsHour", "statsMinute"]
            .iter()
            .map(|k| bsd[*k]["sum"].as_i64().unwrap_or(0))
            .find(|s| *s != 0)
            .unwrap_or(0);
    }
    (tps, sum)
}

/// StatsAllSubCommand's `printTopicDetail`: a line per consuming group, or a NO_CONSUMER line.
async fn print_topic_stats(admin: &rmq_client::Admin, topic: &str, active_only: bool) -> anyhow::Result<()> {
    let route = admin.topic_route(topic).await?;
    let groups = admin.consumed_by(topic).await.unwrap_or_default();
    let (in_tps, in_today) = broker_stats(admin, &route, "TOPIC_PUT_NUMS", topic).await;
    if groups.is_empty() {
        if !active_only || in_today > 0 {
            println!(
                "{:<64}  {:<64} {:>12} {:>11.2} {:>11} {:>14} {:>14}",
                front64(topic),
                "",
                0,
                in_tps,
                "",
                in_today,
                "NO_CONSUMER"
            );
        }
        return Ok(());
    }
    for group in groups {
        let (out_tps, out_today) =
            broker_stats(admin, &route, "GROUP_GET_NUMS", &format!("{topic}@{group}")).await;
        let accumulate = match admin.consume_stats(&group, Some(topic)).await {
            Ok(stats) => stats
                .offset_table
                .values()
                .map(|w| w.broker_offset - w.consumer_offset)
                .sum::<i64>()
                .max(0),
            Err(_) => 0,
        };
        if !active_only || in_today > 0 || out_today > 0 {
            println!(
                "{:<64}  {:<64} {:>12} {:>11.2} {:>11.2} {:>14} {:>14}",
                front64(topic),
                front64(&group),
                accumulate,
                in_tps,
                out_tps,
                in_today,
                out_today
            );
        }
    }
    Ok(())
}

/// One master's entry of `exportMetrics` (Java's `runtimeEnv`, `runtimeQuota`, `runtimeVersion`),
/// with its `[normalIn, normalOut, transIn, scheduleIn]` TPS and one-day counts.
async fn broker_metrics(
    admin: &rmq_client::Admin,
    addr: &str,
) -> anyhow::Result<(serde_json::Value, [f64; 4], [i64; 4])> {
    let kv = admin.broker_runtime_info(addr).await?;
    let config = admin.broker_config(addr).await?;
    let groups = admin.user_subscription_groups(addr).await?;
    let topics = admin.user_topic_config(addr, false).await?;
    let get = |k: &str| kv.get(k).cloned();
    let num = |k: &str| kv.get(k).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
    let first_f64 = |k: &str| {
        kv.get(k)
            .and_then(|v| v.split(' ').next().and_then(|f| f.parse::<f64>().ok()))
            .unwrap_or(0.0)
    };
    let stats = |key: &'static str| async move {
        match admin.view_broker_stats_data(addr, "TOPIC_PUT_NUMS", key).await {
            Ok(bsd) => (
                bsd["statsMinute"]["tps"].as_f64().unwrap_or(0.0),
                ["statsDay", "statsHour", "statsMinute"]
                    .iter()
                    .map(|k| bsd[*k]["sum"].as_i64().unwrap_or(0))
                    .find(|s| *s != 0)
                    .unwrap_or(0),
            ),
            Err(_) => (0.0, 0),
        }
    };
    let (trans_tps, trans_day) = stats(rmq_protocol::topic::TRANS_HALF_TOPIC).await;
    let (schedule_tps, schedule_day) = stats(rmq_protocol::topic::SCHEDULE_TOPIC).await;
    let tps = [
        first_f64("putTps"),
        first_f64("getTransferredTps"),
        trans_tps,
        schedule_tps,
    ];
    let day = [
        num("msgPutTotalTodayMorning") - num("msgPutTotalYesterdayMorning"),
        num("msgGetTotalTodayMorning") - num("msgGetTotalYesterdayMorning"),
        trans_day,
        schedule_day,
    ];
    let mut clients = BTreeSet::new();
    for group in groups.subscription_group_table.keys() {
        if let Ok(cc) = admin.consumer_connections(group).await {
            for c in &cc.connection_set {
                clients.insert(format!("{}%{}", c.language, version_desc(c.version)));
            }
        }
    }
    let cpu_num = config
        .iter()
        .find(|(k, _)| k == "clientCallbackExecutorThreads")
        .map(|(_, v)| v.clone());
    let entry = serde_json::json!({
        "runtimeEnv": {
            "cpuNum": cpu_num,
            "totalMemKBytes": get("totalMemKBytes"),
        },
        "runtimeQuota": {
            "diskRatio": {
                "commitLogDiskRatio": get("commitLogDiskRatio"),
                "consumeQueueDiskRatio": get("consumeQueueDiskRatio"),
            },
            "tps": {
                "normalInTps": tps[0],
                "normalOutTps": tps[1],
                "transInTps": tps[2],
                "scheduleInTps": tps[3],
            },
            "oneDayNum": {
                "normalOneDayInNum": day[0],
                "normalOneDayOutNum": day[1],
                "transOneDayInNum": day[2],
                "scheduleOneDayInNum": day[3],
            },
            "messageAverageSize": get("putMessageAverageSize"),
            "topicSize": topics.topic_config_table.len(),
            "groupSize": groups.subscription_group_table.len(),
        },
        "runtimeVersion": {
            "rocketmqVersion": "V5_3_1",
            "clientInfo": clients,
        },
    });
    Ok((entry, tps, day))
}

/// The bytes of an `updateTopicList` / `updateSubGroupList` file; `None`, after mqadmin's
/// message, when it does not exist.
fn read_list_file(filename: &str) -> anyhow::Result<Option<Vec<u8>>> {
    if !std::path::Path::new(filename).exists() {
        println!("the file path {filename} does not exists");
        return Ok(None);
    }
    Ok(Some(
        std::fs::read(filename).with_context(|| format!("reading {filename}"))?,
    ))
}

/// GetColdDataFlowCtrInfoSubCommand's `getAndPrint`: ` <prefix>`, then the broker's table as
/// fastjson's pretty JSON, the runtime entries' times formatted.
async fn print_cold_ctr_info(admin: &rmq_client::Admin, prefix: &str, addr: &str) -> anyhow::Result<()> {
    print!(" {prefix}");
    let Some(text) = admin.cold_data_flow_ctr_info(addr).await? else {
        println!("Broker[{addr}] has no cold ctr table !");
        return Ok(());
    };
    let mut json: serde_json::Value = serde_json::from_str(&text)?;
    if let Some(runtime) = json.get_mut("runtimeTable").and_then(|t| t.as_object_mut()) {
        for entry in runtime.values_mut().filter_map(|v| v.as_object_mut()) {
            for (from, to) in [
                ("lastColdReadTimeMills", "lastColdReadTimeFormat"),
                ("createTimeMills", "createTimeFormat"),
            ] {
                if let Some(ms) = entry.remove(from) {
                    let ms = ms.as_i64().or_else(|| ms.as_str().and_then(|s| s.parse().ok()));
                    entry.insert(to.into(), format_ms(ms.unwrap_or(0)).into());
                }
            }
        }
    }
    let mut out = String::new();
    fastjson_pretty(&json, 0, &mut out);
    println!("{out}");
    Ok(())
}

/// `JSON.toJSONString(v, true)`'s layout: tab indents, `"key":value`.
fn fastjson_pretty(v: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let indent = |out: &mut String, d: usize| out.extend(std::iter::repeat_n('\t', d));
    match v {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, val)) in map.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                fastjson_pretty(val, depth + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, val) in items.iter().enumerate() {
                indent(out, depth + 1);
                fastjson_pretty(val, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// CheckMsgSendRTCommand: message `i` to queue `i % n`, a line per send, the average RT
/// without the first send.
async fn check_msg_send_rt(
    producer: &rmq_client::Producer,
    topic: &str,
    amount: i64,
    size: usize,
) -> anyhow::Result<()> {
    let queues = producer.fetch_publish_queues(topic).await?;
    if queues.is_empty() {
        bail!("no route for topic {topic}");
    }
    let body = "a".repeat(size).into_bytes();
    println!(
        "{:<32}  {:<4}  {:<20}    #RT",
        "#Broker Name", "#QID", "#Send Result"
    );
    let mut elapsed = 0u128;
    for i in 0..amount {
        let mq = &queues[usize::try_from(i).unwrap_or(0) % queues.len()];
        let start = std::time::Instant::now();
        let ok = producer
            .send_to_queue(rmq_client::Message::new(topic, body.clone()), mq)
            .await
            .is_ok();
        let rt = start.elapsed().as_millis();
        if i != 0 {
            elapsed += rt;
        }
        println!("{:<32}  {:<4}  {:<20}    {rt}", mq.broker_name, mq.queue_id, ok);
    }
    let avg = elapsed as f64 / (amount - 1) as f64;
    println!("Avg RT: {avg:.2}");
    Ok(())
}

/// One trace record of a message (Java's `TraceView`, the fields `queryMsgTraceById` prints).
#[derive(Debug)]
struct TraceView {
    /// `Pub`, `SubBefore`, `SubAfter` or `EndTransaction`.
    kind: String,
    group: String,
    client_host: String,
    timestamp: i64,
    cost_ms: i64,
    success: bool,
}

/// Java's `TraceView.decodeFromTraceTransData`: the trace records (`TraceDataEncoder`'s, fields
/// split by \u0001, records by \u0002) of the trace message `m` that are about `msg_id`; the
/// client host is the trace message's born host.
fn trace_views(msg_id: &str, m: &rmq_protocol::message::MessageExt) -> Vec<TraceView> {
    let body = String::from_utf8_lossy(&m.body);
    let mut views = Vec::new();
    for record in body.split('\u{2}').filter(|r| !r.is_empty()) {
        let f: Vec<&str> = record.split('\u{1}').collect();
        let num = |i: usize| f.get(i).and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        let text = |i: usize| f.get(i).copied().unwrap_or("").to_owned();
        let truth = |i: usize| f.get(i).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        // (type, group, the traced message id, timestamp, cost, success)
        let (group, id, timestamp, cost_ms, success) = match f[0] {
            // Pub: the success flag is field 12 (13 fields) or 13 (14 or more)
            "Pub" => (
                text(3),
                text(5),
                num(1),
                num(10),
                truth(if f.len() == 13 { 12 } else { 13 }),
            ),
            "SubBefore" => (text(3), text(5), num(1), 0, false),
            // SubAfter: timestamp and group only from 9 fields on (older clients send 6 or 7)
            "SubAfter" => (text(8), text(2), num(7), num(3), truth(4)),
            "EndTransaction" => (text(3), text(5), num(1), 0, false),
            _ => continue,
        };
        if id != msg_id {
            continue;
        }
        views.push(TraceView {
            kind: f[0].to_owned(),
            group,
            client_host: m.born_host.ip().to_string(),
            timestamp,
            cost_ms,
            success,
        });
    }
    views
}

/// QueryMsgTraceByIdSubCommand's `printMessageTrace`: each Pub with its header, then per consumer
/// group (sorted; Java's order is a HashMap's) its SubAfter records.
fn print_trace(views: &[TraceView]) {
    let line = |a: &str, b: &str, c: &str, d: &str, e: &str, f: &str| {
        println!("{a:<10} {b:<20} {c:<20} {d:<20} {e:<10} {f:<10}");
    };
    let row = |kind: &str, v: &TraceView| {
        let status = if v.success { "success" } else { "failed" };
        let time = crate::admin::format_ms(v.timestamp);
        line(
            kind,
            &v.group,
            &v.client_host,
            &time,
            &format!("{}ms", v.cost_ms),
            status,
        );
    };
    let mut subs: BTreeMap<&str, Vec<&TraceView>> = BTreeMap::new();
    for v in views {
        match v.kind.as_str() {
            "Pub" => {
                line(
                    "#Type",
                    "#ProducerGroup",
                    "#ClientHost",
                    "#SendTime",
                    "#CostTimes",
                    "#Status",
                );
                row("Pub", v);
                println!();
            }
            "SubAfter" => subs.entry(&v.group).or_default().push(v),
            _ => {}
        }
    }
    for traces in subs.values() {
        line(
            "#Type",
            "#ConsumerGroup",
            "#ClientHost",
            "#ConsumerTime",
            "#CostTimes",
            "#Status",
        );
        for v in traces {
            row("Sub", v);
        }
        println!();
    }
}

/// The options of `clusterRT`.
struct ClusterRt<'a> {
    amount: i64,
    size: usize,
    cluster: Option<&'a str>,
    tlog: bool,
    machine_room: &'a str,
    interval: std::time::Duration,
    rounds: Option<u64>,
}

/// CLusterSendMsgRTCommand: per broker of the clusters, `amount` sends of `size` bytes to the
/// topic named after the broker, and the average RT of all but the first; a round every
/// `interval`.
async fn cluster_rt(
    admin: &rmq_client::Admin,
    producer: &rmq_client::Producer,
    o: &ClusterRt<'_>,
) -> anyhow::Result<()> {
    let info = admin.cluster_info().await?;
    let clusters: Vec<String> = match o.cluster {
        Some(c) => vec![c.to_owned()],
        None => {
            let mut all: Vec<String> = info.cluster_addr_table.keys().cloned().collect();
            all.sort();
            all
        }
    };
    if !o.tlog {
        println!(
            "{:<24}  {:<24}  {:<4}  {:<8}  {:<8}",
            "#Cluster Name", "#Broker Name", "#RT", "#successCount", "#failCount"
        );
    }
    let body = "a".repeat(o.size).into_bytes();
    let mut round = 0;
    loop {
        for cluster in &clusters {
            let Some(brokers) = info.cluster_addr_table.get(cluster) else {
                print!("cluster [{cluster}] not exist");
                break;
            };
            for broker in brokers {
                let (mut elapsed, mut ok, mut failed) = (0u128, 0, 0);
                for i in 0..o.amount {
                    let start = std::time::Instant::now();
                    match producer
                        .send(rmq_client::Message::new(broker, body.clone()))
                        .await
                    {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                    if i != 0 {
                        elapsed += start.elapsed().as_millis();
                    }
                }
                let rt = elapsed as f64 / (o.amount - 1) as f64;
                if o.tlog {
                    // Java's getCurTime(): yyyy-MM-dd HH:mm:ss in GMT+8
                    let now = crate::admin::format_ms(crate::admin::now_ms() + 8 * 3_600_000);
                    println!("{now}|{}|{cluster}|{broker}|{:.0}", o.machine_room, rt);
                } else {
                    println!(
                        "{cluster:<24}  {broker:<24}  {:<8}  {ok:<16}  {failed:<16}",
                        format!("{rt:.2}")
                    );
                }
            }
        }
        round += 1;
        if o.rounds.is_some_and(|n| round >= n) {
            return Ok(());
        }
        tokio::time::sleep(o.interval).await;
    }
}

/// SendMsgStatusCommand: one warm-up message, then `count` of `size` bytes ("hello jodie"
/// repeated) to the topic named after the broker.
async fn send_msg_status(
    producer: &rmq_client::Producer,
    broker_name: &str,
    size: usize,
    count: i64,
) -> anyhow::Result<()> {
    let body = |size: usize| "hello jodie".repeat(size.div_ceil(11)).into_bytes();
    producer
        .send(rmq_client::Message::new(broker_name, body(16)))
        .await?;
    for _ in 0..count {
        let start = std::time::Instant::now();
        let result = producer
            .send(rmq_client::Message::new(broker_name, body(size)))
            .await?;
        println!("rt={}ms, SendResult={result}", start.elapsed().as_millis());
    }
    Ok(())
}

/// Java's `ConsumerRunningInfo.formatString()` (queues, topics and properties sorted).
fn format_running_info(info: &ConsumerRunningInfo) -> String {
    use std::fmt::Write as _;
    let mut sb = String::from("#Consumer Properties#\n");
    let props: std::collections::BTreeMap<_, _> = info.properties.iter().collect();
    for (k, v) in props {
        let _ = writeln!(sb, "{k:<40}: {v}");
    }
    sb.push_str("\n\n#Consumer Subscription#\n");
    for (i, sd) in info.subscription_set.iter().enumerate() {
        let _ = writeln!(
            sb,
            "{:03} Topic: {:<40} ClassFilter: {:<8} SubExpression: {}",
            i + 1,
            sd.topic,
            sd.class_filter_mode,
            sd.sub_string
        );
    }
    let mut mqs: Vec<_> = info.mq_table.iter().collect();
    mqs.sort_by(|a, b| {
        (&a.0.topic, &a.0.broker_name, a.0.queue_id).cmp(&(&b.0.topic, &b.0.broker_name, b.0.queue_id))
    });
    sb.push_str("\n\n#Consumer Offset#\n");
    let _ = writeln!(
        sb,
        "{:<64}  {:<32}  {:<4}  {:<20}",
        "#Topic", "#Broker Name", "#QID", "#Consumer Offset"
    );
    for (mq, pq) in &mqs {
        let _ = writeln!(
            sb,
            "{:<32}  {:<32}  {:<4}  {:<20}",
            mq.topic, mq.broker_name, mq.queue_id, pq.commit_offset
        );
    }
    sb.push_str("\n\n#Consumer MQ Detail#\n");
    let _ = writeln!(
        sb,
        "{:<64}  {:<32}  {:<4}  {:<20}",
        "#Topic", "#Broker Name", "#QID", "#ProcessQueueInfo"
    );
    for (mq, pq) in &mqs {
        let _ = writeln!(
            sb,
            "{:<64}  {:<32}  {:<4}  ProcessQueueInfo [commitOffset={}, cachedMsgMinOffset={}, cachedMsgMaxOffset={}, cachedMsgCount={}, cachedMsgSizeInMiB={}, transactionMsgMinOffset={}, transactionMsgMaxOffset={}, transactionMsgCount={}, locked={}, tryUnlockTimes={}, lastLockTimestamp={}, droped={}, lastPullTimestamp={}, lastConsumeTimestamp={}]",
            mq.topic,
            mq.broker_name,
            mq.queue_id,
            pq.commit_offset,
            pq.cached_msg_min_offset,
            pq.cached_msg_max_offset,
            pq.cached_msg_count,
            pq.cached_msg_size_in_mib,
            pq.transaction_msg_min_offset,
            pq.transaction_msg_max_offset,
            pq.transaction_msg_count,
            pq.locked,
            pq.try_unlock_times,
            pq.last_lock_timestamp,
            pq.droped,
            pq.last_pull_timestamp,
            pq.last_consume_timestamp
        );
    }
    sb.push_str("\n\n#Consumer Pop Detail#\n");
    let _ = writeln!(
        sb,
        "{:<32}  {:<32}  {:<4}  {:<20}",
        "#Topic", "#Broker Name", "#QID", "#ProcessQueueInfo"
    );
    sb.push_str("\n\n#Consumer RT&TPS#\n");
    let _ = writeln!(
        sb,
        "{:<64}  {:>14} {:>14} {:>14} {:>14} {:>18} {:>25}",
        "#Topic",
        "#Pull RT",
        "#Pull TPS",
        "#Consume RT",
        "#ConsumeOK TPS",
        "#ConsumeFailed TPS",
        "#ConsumeFailedMsgsInHour"
    );
    let status: std::collections::BTreeMap<_, _> = info.status_table.iter().collect();
    for (topic, cs) in status {
        let _ = writeln!(
            sb,
            "{topic:<32}  {:>14.2} {:>14.2} {:>14.2} {:>14.2} {:>18.2} {:>25}",
            cs.pull_rt,
            cs.pull_tps,
            cs.consume_rt,
            cs.consume_ok_tps,
            cs.consume_failed_tps,
            cs.consume_failed_msgs
        );
    }
    if let Some(jstack) = &info.jstack {
        sb.push_str("\n\n#Consumer jstack#\n");
        sb.push_str(jstack);
    }
    sb
}
