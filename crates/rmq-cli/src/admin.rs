//! The `mqadmin` subset: `updateTopic`, `topicList`, `topicRoute`, `clusterList`, `topicStatus`,
//! `consumerProgress`, `resetOffsetByTime`, `queryMsgById`, `queryMsgByKey`, `queryMsgByUniqueKey`,
//! `resendDlqMessage` (the console's DLQ resend) and `setConsumeMode` (PULL or POP); the ACL
//! verbs (`admin_acl`, `admin_auth`) and the operating verbs (`admin_ops`: broker and name server
//! config, `brokerStatus`, `brokerConsumeStats`, `queryCq`, cleaning, `producer`) and the
//! static-topic verbs (`admin_static`), and the last few (`admin_tools`: containers, monitoring,
//! the compaction log dump, the RocksDB CQ check).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rmq_client::{Admin, ClientConfig, MessageExt};
use rmq_protocol::body::TopicConfig;
use rmq_protocol::codes::response_code;
use rmq_protocol::time::{civil_from_days, days_from_civil};

#[derive(Args, Clone)]
pub(crate) struct NamesrvOpt {
    /// Name server address list, `host:9876;host2:9876` (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
    #[command(flatten)]
    acl: crate::credentials::AclArgs,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
}

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum AdminCommand {
    /// Create or update a topic on a broker (-b) or on every master of a cluster (-c).
    UpdateTopic {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long)]
        topic: String,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        #[arg(short = 'r', long = "readQueueNums", default_value_t = 8)]
        read_queue_nums: i32,
        #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8)]
        write_queue_nums: i32,
        #[arg(short = 'p', long = "perm", default_value_t = 6)]
        perm: i32,
    },
    /// List every topic the name servers know.
    TopicList {
        #[command(flatten)]
        ns: NamesrvOpt,
    },
    /// Print a topic's route as JSON.
    TopicRoute {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long)]
        topic: String,
    },
    /// List clusters and their brokers.
    ClusterList {
        #[command(flatten)]
        ns: NamesrvOpt,
    },
    /// Min/max offsets of each queue of a topic.
    TopicStatus {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long)]
        topic: String,
    },
    /// Per-queue broker offset, consumer offset and lag of a consumer group.
    ConsumerProgress {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'g', long = "groupName")]
        group: String,
        /// Only this topic (default: every topic the group has offsets for).
        #[arg(short = 't', long)]
        topic: Option<String>,
    },
    /// Move a group's offsets to a point in time (pushed to live consumers by the brokers).
    ResetOffsetByTime {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'g', long = "group")]
        group: String,
        #[arg(short = 't', long)]
        topic: String,
        /// `now`, epoch ms, or `yyyy-MM-dd#HH:mm:ss:SSS` (UTC).
        #[arg(short = 's', long = "timestamp")]
        timestamp: String,
        /// Also move offsets forward (default true, as mqadmin).
        #[arg(short = 'f', long = "force", default_value_t = true, action = clap::ArgAction::Set)]
        force: bool,
    },
    /// Print a message by its offsetMsgId (or, with -t, by its client id when that fails).
    QueryMsgById {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'i', long = "msgId")]
        msg_id: String,
        /// Topic to search by unique key if the id is not an offsetMsgId.
        #[arg(short = 't', long)]
        topic: Option<String>,
    },
    /// List the messages of a topic whose KEYS contain a key.
    QueryMsgByKey {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long)]
        topic: String,
        #[arg(short = 'k', long = "msgKey")]
        key: String,
        /// Max messages per broker.
        #[arg(short = 'c', long = "maxNum", default_value_t = 64)]
        max_num: i32,
        /// Store-time window, epoch ms.
        #[arg(short = 'b', long = "beginTimestamp", default_value_t = 0)]
        begin: i64,
        #[arg(short = 'e', long = "endTimestamp", default_value_t = i64::MAX)]
        end: i64,
    },
    /// Print a message by its client id (UNIQ_KEY).
    QueryMsgByUniqueKey {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long)]
        topic: String,
        #[arg(short = 'i', long = "msgId")]
        msg_id: String,
    },
    /// Send a copy of a dead-lettered message (by offsetMsgId) back to its original topic.
    ResendDlqMessage {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'i', long = "msgId")]
        msg_id: String,
    },
    /// Set whether a group consumes a topic by PULL or POP (SET_MESSAGE_REQUEST_MODE), on a
    /// broker (-b) or every master of a cluster (-c).
    SetConsumeMode {
        #[command(flatten)]
        target: BrokerTarget,
        /// The topic (not a retry topic).
        #[arg(short = 't', long = "topicName")]
        topic: String,
        /// The consumer group.
        #[arg(short = 'g', long = "groupName")]
        group: String,
        /// `PULL` or `POP`.
        #[arg(short = 'm', long = "mode", value_parser = ["PULL", "POP"])]
        mode: String,
        /// POP: how many other clients' queues each client also pops; 0 or less: every client
        /// pops every queue.
        #[arg(short = 'q', long = "popShareQueueNum", default_value_t = 0)]
        pop_share_queue_num: i32,
    },
    #[command(flatten)]
    Acl(crate::admin_acl::AclCommand),
    #[command(flatten)]
    Auth(crate::admin_auth::AuthCommand),
    #[command(flatten)]
    Ops(crate::admin_ops::OpsCommand),
    #[command(flatten)]
    Controller(crate::admin_controller::ControllerCommand),
    #[command(flatten)]
    More(crate::admin_more::MoreCommand),
    #[command(flatten)]
    Static(crate::admin_static::StaticCommand),
    #[command(flatten)]
    Tools(crate::admin_tools::ToolsCommand),
}

/// `-b brokerAddr` or `-c clusterName`, as the ACL verbs and `setConsumeMode` take them.
#[derive(Args, Clone)]
pub(crate) struct BrokerTarget {
    #[command(flatten)]
    pub(crate) ns: NamesrvOpt,
    /// One broker, `host:port`.
    #[arg(short = 'b', long = "brokerAddr")]
    pub(crate) broker_addr: Option<String>,
    /// Every broker of this cluster.
    #[arg(short = 'c', long = "clusterName")]
    pub(crate) cluster: Option<String>,
}

impl BrokerTarget {
    /// The one broker, or the masters of the cluster (the 4.9 ACL verbs).
    pub(crate) async fn masters(&self, admin: &Admin, verb: &str) -> anyhow::Result<Vec<String>> {
        self.resolve(admin, verb, true).await
    }

    /// The one broker, or every broker of the cluster, slaves too (the 5.x auth verbs).
    pub(crate) async fn brokers(&self, admin: &Admin, verb: &str) -> anyhow::Result<Vec<String>> {
        self.resolve(admin, verb, false).await
    }

    async fn resolve(&self, admin: &Admin, verb: &str, masters_only: bool) -> anyhow::Result<Vec<String>> {
        match (&self.broker_addr, &self.cluster) {
            (Some(addr), _) => Ok(vec![addr.clone()]),
            (None, Some(cluster)) if masters_only => Ok(admin.cluster_masters(cluster).await?),
            (None, Some(cluster)) => Ok(admin.cluster_brokers(cluster).await?),
            (None, None) => bail!("{verb} needs -b brokerAddr or -c clusterName"),
        }
    }
}

pub(crate) fn admin(ns: &NamesrvOpt) -> anyhow::Result<Admin> {
    Ok(Admin::new(client_config(ns)?))
}

/// An admin for verbs that talk to one given address only: `-n` may be left out.
pub(crate) fn direct_admin(ns: &NamesrvOpt) -> anyhow::Result<Admin> {
    if ns.namesrv.is_some() || std::env::var("NAMESRV_ADDR").is_ok() {
        return admin(ns);
    }
    Ok(Admin::new(ClientConfig {
        credentials: ns.acl.credentials(),
        tls: ns.tls.client_tls()?,
        ..ClientConfig::default()
    }))
}

/// The client configuration of `-n` and the ACL / TLS flags.
pub(crate) fn client_config(ns: &NamesrvOpt) -> anyhow::Result<ClientConfig> {
    let addr = ns
        .namesrv
        .clone()
        .or_else(|| std::env::var("NAMESRV_ADDR").ok())
        .context("no name server address: use -n host:9876 or set NAMESRV_ADDR")?;
    let config = ClientConfig {
        namesrv_addr: addr
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        credentials: ns.acl.credentials(),
        tls: ns.tls.client_tls()?,
        ..ClientConfig::default()
    };
    Ok(config)
}

pub async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::UpdateTopic {
            ns,
            topic,
            broker_addr,
            cluster,
            read_queue_nums,
            write_queue_nums,
            perm,
        } => {
            let admin = admin(&ns)?;
            let tc = TopicConfig {
                topic_name: topic.clone(),
                read_queue_nums,
                write_queue_nums,
                perm,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_sys_flag: 0,
                order: false,
                attributes: Default::default(),
            };
            match (broker_addr, cluster) {
                (Some(addr), _) => {
                    admin.create_topic(&addr, &tc).await?;
                    println!("create topic to {addr} success.");
                }
                (None, Some(cluster)) => {
                    admin.create_topic_in_cluster(&cluster, &tc).await?;
                    println!("create topic to cluster {cluster} success.");
                }
                (None, None) => bail!("updateTopic needs -b brokerAddr or -c clusterName"),
            }
            println!("{}", serde_json::to_string(&tc)?);
        }
        AdminCommand::TopicList { ns } => {
            for t in admin(&ns)?.topic_list().await? {
                println!("{t}");
            }
        }
        AdminCommand::TopicRoute { ns, topic } => {
            let route = admin(&ns)?.topic_route(&topic).await?;
            println!("{}", serde_json::to_string_pretty(&route)?);
        }
        AdminCommand::ClusterList { ns } => {
            let info = admin(&ns)?.cluster_info().await?;
            println!(
                "{:<22} {:<22} {:>4} {:<24}",
                "#Cluster Name", "#Broker Name", "#BID", "#Addr"
            );
            let mut clusters: Vec<_> = info.cluster_addr_table.iter().collect();
            clusters.sort();
            for (cluster, brokers) in clusters {
                for name in brokers {
                    if let Some(b) = info.broker_addr_table.get(name) {
                        for (id, addr) in &b.broker_addrs {
                            println!("{cluster:<22} {name:<22} {id:>4} {addr:<24}");
                        }
                    }
                }
            }
        }
        AdminCommand::TopicStatus { ns, topic } => {
            let admin = admin(&ns)?;
            let route = admin.topic_route(&topic).await?;
            println!(
                "{:<32} {:<6} {:>12} {:>12}",
                "#Broker Name", "#QID", "#Min Offset", "#Max Offset"
            );
            for qd in &route.queue_datas {
                let Some(addr) = route
                    .broker_datas
                    .iter()
                    .find(|b| b.broker_name == qd.broker_name)
                    .and_then(|b| b.broker_addrs.get(&0))
                else {
                    continue;
                };
                for q in 0..qd.write_queue_nums {
                    let min = admin.min_offset(addr, &topic, q).await?;
                    let max = admin.max_offset(addr, &topic, q).await?;
                    println!("{:<32} {:<6} {:>12} {:>12}", qd.broker_name, q, min, max);
                }
            }
        }
        AdminCommand::ConsumerProgress { ns, group, topic } => {
            consumer_progress(&admin(&ns)?, &group, topic.as_deref()).await?;
        }
        AdminCommand::ResetOffsetByTime {
            ns,
            group,
            topic,
            timestamp,
            force,
        } => {
            let admin = admin(&ns)?;
            let ms = parse_timestamp(&timestamp)?;
            let offsets = match admin.reset_offset_by_time(&group, &topic, ms, force).await {
                Err(e) if e.broker_code() == Some(response_code::CONSUMER_NOT_ONLINE) => {
                    println!("the consumer group is not online; resetting the stored offsets directly");
                    admin.reset_offset_offline(&group, &topic, ms, force).await?
                }
                other => other?,
            };
            println!(
                "rollback consumer offset by specified group[{group}], topic[{topic}], force[{force}], timestamp(string)[{timestamp}], timestamp(long)[{ms}]"
            );
            println!("{:<40}  {:<40}  {:<40}", "#brokerName", "#queueId", "#offset");
            let mut rows: Vec<_> = offsets.into_iter().collect();
            rows.sort();
            for (mq, offset) in rows {
                println!("{:<40}  {:<40}  {:<40}", mq.broker_name, mq.queue_id, offset);
            }
        }
        AdminCommand::QueryMsgById { ns, msg_id, topic } => {
            let admin = admin(&ns)?;
            let msg = match (admin.view_message(&msg_id).await, topic) {
                (Ok(m), _) => m,
                (Err(_), Some(topic)) => admin.query_message_by_unique_key(&topic, &msg_id).await?,
                (Err(e), None) => return Err(e.into()),
            };
            print_message(&msg);
        }
        AdminCommand::QueryMsgByKey {
            ns,
            topic,
            key,
            max_num,
            begin,
            end,
        } => {
            let msgs = admin(&ns)?
                .query_message_by_key(&topic, &key, max_num, begin, end)
                .await?;
            println!("{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset");
            for m in msgs {
                println!(
                    "{:<50} {:>4} {:>40}",
                    m.client_msg_id(),
                    m.queue_id,
                    m.queue_offset
                );
            }
        }
        AdminCommand::QueryMsgByUniqueKey { ns, topic, msg_id } => {
            print_message(&admin(&ns)?.query_message_by_unique_key(&topic, &msg_id).await?);
        }
        AdminCommand::ResendDlqMessage { ns, msg_id } => {
            let result = admin(&ns)?.resend_from_dlq(&msg_id).await?;
            println!("{result}");
        }
        AdminCommand::SetConsumeMode {
            target,
            topic,
            group,
            mode,
            pop_share_queue_num,
        } => {
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "setConsumeMode").await? {
                admin
                    .set_message_request_mode(&addr, &topic, &group, &mode, pop_share_queue_num)
                    .await?;
                println!("set consume mode to {addr} success.");
            }
            println!(
                "topic[{topic}] group[{group}] consume mode[{mode}] popShareQueueNum[{pop_share_queue_num}]"
            );
        }
        AdminCommand::Acl(cmd) => crate::admin_acl::run(cmd).await?,
        AdminCommand::Auth(cmd) => crate::admin_auth::run(cmd).await?,
        AdminCommand::Ops(cmd) => crate::admin_ops::run(cmd).await?,
        AdminCommand::Controller(cmd) => crate::admin_controller::run(cmd).await?,
        AdminCommand::More(cmd) => crate::admin_more::run(cmd).await?,
        AdminCommand::Static(cmd) => crate::admin_static::run(cmd).await?,
        AdminCommand::Tools(cmd) => crate::admin_tools::run(cmd).await?,
    }
    Ok(())
}

/// mqadmin's `printMsg`, with the body printed (lossy UTF-8) instead of saved to a file, and
/// times in UTC.
pub(crate) fn print_message(m: &MessageExt) {
    let mut props: Vec<_> = m.properties.iter().collect();
    props.sort();
    let props: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let keys: Vec<&str> = m.keys().collect();
    let rows = [
        ("OffsetID:", m.msg_id.clone()),
        ("Topic:", m.topic.clone()),
        ("Tags:", format!("[{}]", m.tags().unwrap_or_default())),
        ("Keys:", format!("[{}]", keys.join(" "))),
        ("Queue ID:", m.queue_id.to_string()),
        ("Queue Offset:", m.queue_offset.to_string()),
        ("CommitLog Offset:", m.commit_log_offset.to_string()),
        ("Reconsume Times:", m.reconsume_times.to_string()),
        ("Born Timestamp:", format_ms(m.born_timestamp)),
        ("Store Timestamp:", format_ms(m.store_timestamp)),
        ("Born Host:", m.born_host.to_string()),
        ("Store Host:", m.store_host.to_string()),
        ("System Flag:", m.sys_flag.to_string()),
        ("Properties:", format!("{{{}}}", props.join(", "))),
        ("Message Body:", String::from_utf8_lossy(&m.body).into_owned()),
    ];
    for (name, value) in rows {
        println!("{name:<20} {value}");
    }
}

/// mqadmin `consumerProgress -g G`: one line per queue, then TPS and the total lag.
async fn consumer_progress(admin: &Admin, group: &str, topic: Option<&str>) -> anyhow::Result<()> {
    let stats = admin.consume_stats(group, topic).await?;
    println!(
        "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20} {:<20}  #LastTime",
        "#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Client IP", "#Diff"
    );
    let mut rows: Vec<_> = stats.offset_table.iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut diff_total = 0i64;
    for (mq, ow) in rows {
        let diff = ow.broker_offset - ow.consumer_offset;
        diff_total += diff;
        let last = if ow.last_timestamp > 0 {
            format_ms(ow.last_timestamp)
        } else {
            "N/A".to_owned()
        };
        println!(
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20} {:<20}  {}",
            mq.topic, mq.broker_name, mq.queue_id, ow.broker_offset, ow.consumer_offset, "N/A", diff, last
        );
    }
    println!();
    println!("Consume TPS: {:.2}", stats.consume_tps);
    println!("Consume Diff Total: {diff_total}");
    Ok(())
}

pub(crate) use rmq_protocol::time::now_ms;

/// `now`, epoch ms, `yyyy-MM-dd#HH:mm:ss:SSS` (mqadmin) or `yyyyMMddHHmmss` (consumeTimestamp),
/// the last two read as UTC.
pub(crate) fn parse_timestamp(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    if s == "now" {
        return Ok(now_ms());
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let field = |from: usize, len: usize| -> anyhow::Result<i64> {
        Ok(digits.get(from..from + len).context("truncated date")?.parse()?)
    };
    let is_compact = digits.len() == 14 && digits == s;
    let is_mqadmin = s.len() == 23 && s.as_bytes()[10] == b'#';
    if !is_compact && !is_mqadmin {
        if let Ok(ms) = s.parse::<i64>() {
            return Ok(ms);
        }
        bail!("bad timestamp {s:?}: use now, epoch ms, yyyy-MM-dd#HH:mm:ss:SSS or yyyyMMddHHmmss");
    }
    let millis = if is_mqadmin { field(14, 3)? } else { 0 };
    let days = days_from_civil(field(0, 4)?, field(4, 2)?, field(6, 2)?);
    Ok(((days * 24 + field(8, 2)?) * 60 + field(10, 2)?) * 60_000 + field(12, 2)? * 1000 + millis)
}

/// `yyyy-MM-dd HH:mm:ss` (UTC) of an epoch-ms timestamp.
pub(crate) fn format_ms(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_timestamp("2023-11-14#22:13:20:005").unwrap(),
            1_700_000_000_005
        );
        assert_eq!(parse_timestamp("20231114221320").unwrap(), 1_700_000_000_000);
        assert!(parse_timestamp("yesterday").is_err());
        assert!((parse_timestamp("now").unwrap() - now_ms()).abs() < 1000);
        assert_eq!(format_ms(1_700_000_000_005), "2023-11-14 22:13:20");
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
