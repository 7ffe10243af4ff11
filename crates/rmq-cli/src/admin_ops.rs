//! The operating verbs of `mqadmin`, same names and flags: `getBrokerConfig`,
//! `updateBrokerConfig`, `getNamesrvConfig`, `updateNamesrvConfig`, `brokerStatus`,
//! `brokerConsumeStats`, `queryCq`, `cleanExpiredCQ`, `cleanUnusedTopic`, `producer`,
//! `deleteTopic`, `updateSubGroup`, `deleteSubGroup`, `haStatus`, `setCommitLogReadAheadMode`
//! (docs/broker/admin.md). Output as mqadmin prints it.

use anyhow::Context;
use clap::Subcommand;
use rmq_protocol::body::SubscriptionGroupConfig;
use rmq_protocol::header::QueryConsumeQueueRequestHeader;

use crate::admin::{admin, BrokerTarget as Target, NamesrvOpt};

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum OpsCommand {
    /// Print the configuration of a broker (-b) or of every broker of a cluster (-c).
    GetBrokerConfig {
        #[command(flatten)]
        target: Target,
    },
    /// Set one broker.conf key on a broker (-b) or every broker of a cluster (-c), at run time.
    UpdateBrokerConfig {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'k', long = "key")]
        key: String,
        #[arg(short = 'v', long = "value")]
        value: String,
    },
    /// Print the configuration of every name server of -n.
    GetNamesrvConfig {
        #[command(flatten)]
        ns: NamesrvOpt,
    },
    /// Set one key on every name server of -n, at run time.
    UpdateNamesrvConfig {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'k', long = "key")]
        key: String,
        #[arg(short = 'v', long = "value")]
        value: String,
    },
    /// Print a broker's runtime figures (GET_BROKER_RUNTIME_INFO).
    BrokerStatus {
        #[command(flatten)]
        target: Target,
    },
    /// Print every group's lag on a broker.
    BrokerConsumeStats {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: String,
        /// Orderly topics only.
        #[arg(short = 'o', long = "order", default_value_t = false)]
        order: bool,
    },
    /// Print consume-queue entries of one queue.
    QueryCq {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "broker")]
        broker_addr: String,
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[arg(short = 'q', long = "queue")]
        queue_id: i32,
        #[arg(short = 'i', long = "index")]
        index: i64,
        #[arg(short = 'c', long = "count", default_value_t = 10)]
        count: i32,
        #[arg(short = 'g', long = "consumer")]
        group: Option<String>,
    },
    /// Remove consume queues whose messages are all gone from the commitlog.
    #[command(name = "cleanExpiredCQ")]
    CleanExpiredCq {
        #[command(flatten)]
        target: Target,
    },
    /// Remove the consume queues of topics the brokers no longer have.
    CleanUnusedTopic {
        #[command(flatten)]
        target: Target,
    },
    /// Print the producer connections of a broker.
    Producer {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "broker")]
        broker_addr: String,
    },
    /// Delete a topic from the masters of a cluster and from the name servers.
    DeleteTopic {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[arg(short = 'c', long = "clusterName")]
        cluster: String,
    },
    /// Print the replication status of a broker (-b) or of every master of a cluster (-c).
    HaStatus {
        #[command(flatten)]
        target: Target,
    },
    /// Commitlog reads with read-ahead (-m 0, the default) or without (-m 1, random reads) on a
    /// broker (-b) or every broker of a cluster (-c).
    SetCommitLogReadAheadMode {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'm', long = "commitLogReadAheadMode")]
        mode: String,
    },
    /// Create or update a subscription group on a broker (-b) or every master of a cluster (-c).
    UpdateSubGroup {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'g', long = "groupName")]
        group: String,
        #[arg(short = 's', long = "consumeEnable", action = clap::ArgAction::Set)]
        consume_enable: Option<bool>,
        #[arg(short = 'm', long = "consumeFromMinEnable", action = clap::ArgAction::Set)]
        consume_from_min_enable: Option<bool>,
        #[arg(short = 'd', long = "consumeBroadcastEnable", action = clap::ArgAction::Set)]
        consume_broadcast_enable: Option<bool>,
        #[arg(short = 'q', long = "retryQueueNums")]
        retry_queue_nums: Option<i32>,
        #[arg(short = 'r', long = "retryMaxTimes")]
        retry_max_times: Option<i32>,
        #[arg(short = 'i', long = "brokerId")]
        broker_id: Option<i64>,
        #[arg(short = 'w', long = "whichBrokerWhenConsumeSlowly")]
        which_broker_when_consume_slowly: Option<i64>,
        #[arg(short = 'a', long = "notifyConsumerIdsChanged", action = clap::ArgAction::Set)]
        notify_consumer_ids_changed: Option<bool>,
    },
    /// Delete a subscription group from a broker (-b) or from every master of a cluster (-c,
    /// which also deletes its retry and dead-letter topics).
    DeleteSubGroup {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'g', long = "groupName")]
        group: String,
        /// Also drop the group's committed offsets.
        #[arg(short = 'r', long = "removeOffset", default_value_t = false, action = clap::ArgAction::Set)]
        remove_offset: bool,
    },
}

/// `HAStatusSubCommand.printStatus`.
fn print_ha_status(addr: &str, info: &rmq_protocol::body::HaRuntimeInfo) {
    if info.master {
        println!(
            "\n#MasterAddr\t{addr}\n#MasterCommitLogMaxOffset\t{}\n#SlaveNum\t{}\n#InSyncSlaveNum\t{}",
            info.master_commit_log_max_offset,
            info.ha_connection_info.len(),
            info.in_sync_slave_nums
        );
        println!(
            "{:<32}  {:<16} {:>16} {:>16} {:>16} {:>16}",
            "#SlaveAddr", "#SlaveAckOffset", "#Diff", "#TransferSpeed(KB/s)", "#Status", "#TransferFromWhere"
        );
        for c in &info.ha_connection_info {
            println!(
                "{:<32}  {:<16} {:>16} {:>16.2} {:>16} {:>16}",
                c.addr,
                c.slave_ack_offset,
                c.diff,
                c.transferred_byte_in_second as f64 / 1024.0,
                if c.in_sync { "OK" } else { "Fall Behind" },
                c.transfer_from_where
            );
        }
    } else {
        let c = &info.ha_client_runtime_info;
        let time = crate::admin::format_ms;
        println!("\n#MasterAddr\t{}", c.master_addr.as_deref().unwrap_or("null"));
        println!("#CommitLogMaxOffset\t{}", c.max_offset);
        println!(
            "#TransferSpeed(KB/s)\t{:.2}",
            c.transferred_byte_in_second as f64 / 1024.0
        );
        println!("#LastReadTime\t{}", time(c.last_read_timestamp));
        println!("#LastWriteTime\t{}", time(c.last_write_timestamp));
        println!("#MasterFlushOffset\t{}", c.master_flush_offset);
    }
}

/// `DeleteTopicSubCommand.deleteTopic`: the cluster's masters, then the name servers.
async fn delete_topic(admin: &rmq_client::Admin, cluster: &str, topic: &str) -> anyhow::Result<()> {
    let masters = admin.cluster_masters(cluster).await?;
    admin.delete_topic_in_brokers(&masters, topic).await?;
    println!("delete topic [{topic}] from cluster [{cluster}] success.");
    admin.delete_topic_in_namesrv(topic, Some(cluster)).await?;
    println!("delete topic [{topic}] from NameServer success.");
    Ok(())
}

fn print_pairs(title: &str, pairs: &[(String, String)]) {
    println!("============{title}============");
    for (k, v) in pairs {
        println!("{k:<50}=  {v}");
    }
}

pub async fn run(cmd: OpsCommand) -> anyhow::Result<()> {
    match cmd {
        OpsCommand::GetBrokerConfig { target } => {
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "getBrokerConfig").await? {
                print_pairs(&addr, &admin.broker_config(&addr).await?);
            }
        }
        OpsCommand::UpdateBrokerConfig { target, key, value } => {
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "updateBrokerConfig").await? {
                admin
                    .update_broker_config(&addr, &[(key.clone(), value.clone())])
                    .await
                    .with_context(|| format!("update broker config of {addr}"))?;
                println!("update broker config success, {addr}");
            }
        }
        OpsCommand::GetNamesrvConfig { ns } => {
            let admin = admin(&ns)?;
            for addr in admin.namesrv_addrs() {
                print_pairs(&addr, &admin.namesrv_config(&addr).await?);
            }
        }
        OpsCommand::UpdateNamesrvConfig { ns, key, value } => {
            let admin = admin(&ns)?;
            let addrs = admin.namesrv_addrs();
            for addr in &addrs {
                admin
                    .update_namesrv_config(addr, &[(key.clone(), value.clone())])
                    .await
                    .with_context(|| format!("update name server config of {addr}"))?;
            }
            println!("update name server config success!{addrs:?}\n{key} : {value}");
        }
        OpsCommand::BrokerStatus { target } => {
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "brokerStatus").await? {
                let mut table: Vec<_> = admin.broker_runtime_info(&addr).await?.into_iter().collect();
                table.sort();
                for (k, v) in table {
                    println!("{k:<32}: {v}");
                }
            }
        }
        OpsCommand::BrokerConsumeStats {
            ns,
            broker_addr,
            order,
        } => {
            let admin = admin(&ns)?;
            let list = admin.broker_consume_stats(&broker_addr, order).await?;
            println!(
                "{:<64}  {:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  #LastTime",
                "#Topic", "#Group", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff"
            );
            for groups in &list.consume_stats_list {
                for (group, stats) in groups {
                    for s in stats {
                        let mut queues: Vec<_> = s.offset_table.iter().collect();
                        queues.sort_by(|a, b| (&a.0.topic, a.0.queue_id).cmp(&(&b.0.topic, b.0.queue_id)));
                        for (mq, w) in queues {
                            println!(
                                "{:<64}  {:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  {}",
                                mq.topic,
                                group,
                                mq.broker_name,
                                mq.queue_id,
                                w.broker_offset,
                                w.consumer_offset,
                                w.broker_offset - w.consumer_offset,
                                w.last_timestamp
                            );
                        }
                    }
                }
            }
            println!("\nDiff Total: {}", list.total_diff);
        }
        OpsCommand::QueryCq {
            ns,
            broker_addr,
            topic,
            queue_id,
            index,
            count,
            group,
        } => {
            let admin = admin(&ns)?;
            let header = QueryConsumeQueueRequestHeader {
                topic,
                queue_id,
                index,
                count,
                consumer_group: group,
            };
            match admin.query_consume_queue(&broker_addr, header).await? {
                Err(remark) => println!("{remark}"),
                Ok(b) => {
                    if let Some(sd) = &b.subscription_data {
                        println!("Subscription data: \n{}", serde_json::to_string_pretty(sd)?);
                        println!("======================================");
                    }
                    if let Some(f) = &b.filter_data {
                        println!("Filter data: \n{f}");
                        println!("======================================");
                    }
                    println!(
                        "Queue data: \nmax: {}, min: {}",
                        b.max_queue_index, b.min_queue_index
                    );
                    println!("======================================");
                    for (i, e) in b.queue_data.iter().enumerate() {
                        println!(
                            "idx: {}\nConsumeQueueData{{physicOffset={}, physicSize={}, tagsCode={}, extendDataJson='null', bitMap='null', eval=false, msg='null'}}",
                            index + i as i64,
                            e.physic_offset,
                            e.physic_size,
                            e.tags_code
                        );
                        println!("======================================");
                    }
                }
            }
        }
        OpsCommand::CleanExpiredCq { target } => {
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "cleanExpiredCQ").await? {
                admin.clean_expired_consume_queues(&addr).await?;
            }
            println!("success");
        }
        OpsCommand::CleanUnusedTopic { target } => {
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "cleanUnusedTopic").await? {
                admin.clean_unused_topics(&addr).await?;
            }
            println!("success");
        }
        OpsCommand::DeleteTopic { ns, topic, cluster } => {
            delete_topic(&admin(&ns)?, &cluster, &topic).await?;
        }
        OpsCommand::SetCommitLogReadAheadMode { target, mode } => {
            let mode = mode.trim();
            if mode != "0" && mode != "1" {
                println!("set the read mode error; 0 is default, 1 random read");
                return Ok(());
            }
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "setCommitLogReadAheadMode").await? {
                println!("============{addr}============");
                let remark = admin.set_commit_log_read_ahead_mode(&addr, mode).await?;
                println!("commitLog set readAhead mode rstStr{remark}");
            }
        }
        OpsCommand::HaStatus { target } => {
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "haStatus").await? {
                print_ha_status(&addr, &admin.ha_status(&addr).await?);
            }
        }
        OpsCommand::UpdateSubGroup {
            target,
            group,
            consume_enable,
            consume_from_min_enable,
            consume_broadcast_enable,
            retry_queue_nums,
            retry_max_times,
            broker_id,
            which_broker_when_consume_slowly,
            notify_consumer_ids_changed,
        } => {
            // mqadmin's defaults for what is not given (SubscriptionGroupConfig's)
            let d = SubscriptionGroupConfig::default();
            let config = SubscriptionGroupConfig {
                group_name: group,
                consume_enable: consume_enable.unwrap_or(d.consume_enable),
                consume_from_min_enable: consume_from_min_enable.unwrap_or(d.consume_from_min_enable),
                consume_broadcast_enable: consume_broadcast_enable.unwrap_or(d.consume_broadcast_enable),
                retry_queue_nums: retry_queue_nums.unwrap_or(d.retry_queue_nums),
                retry_max_times: retry_max_times.unwrap_or(d.retry_max_times),
                broker_id: broker_id.unwrap_or(d.broker_id),
                which_broker_when_consume_slowly: which_broker_when_consume_slowly
                    .unwrap_or(d.which_broker_when_consume_slowly),
                notify_consumer_ids_changed_enable: notify_consumer_ids_changed
                    .unwrap_or(d.notify_consumer_ids_changed_enable),
                ..d
            };
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "updateSubGroup").await? {
                admin
                    .create_subscription_group(&addr, &config)
                    .await
                    .with_context(|| format!("create subscription group on {addr}"))?;
                println!("create subscription group to {addr} success.");
            }
            println!(
                "{}",
                String::from_utf8_lossy(&rmq_protocol::body::to_json(&config))
            );
        }
        OpsCommand::DeleteSubGroup {
            target,
            group,
            remove_offset,
        } => {
            let admin = admin(&target.ns)?;
            let masters = target.masters(&admin, "deleteSubGroup").await?;
            for addr in &masters {
                admin
                    .delete_subscription_group(addr, &group, remove_offset)
                    .await
                    .with_context(|| format!("delete subscription group {group} from {addr}"))?;
                match &target.cluster {
                    Some(cluster) if target.broker_addr.is_none() => println!(
                        "delete subscription group [{group}] from broker [{addr}] in cluster [{cluster}] success."
                    ),
                    _ => println!("delete subscription group [{group}] from broker [{addr}] success."),
                }
            }
            if let (None, Some(cluster)) = (&target.broker_addr, &target.cluster) {
                // as mqadmin: the group's retry and dead-letter topics go too; a failure there is
                // reported and does not undo the group's deletion
                for topic in [format!("%RETRY%{group}"), format!("%DLQ%{group}")] {
                    if let Err(e) = delete_topic(&admin, cluster, &topic).await {
                        eprintln!("delete topic {topic}: {e:#}");
                    }
                }
            }
        }
        OpsCommand::Producer { ns, broker_addr } => {
            let table = admin(&ns)?.producer_info(&broker_addr).await?;
            let mut groups: Vec<_> = table.data.iter().collect();
            groups.sort_by(|a, b| a.0.cmp(b.0));
            for (group, infos) in groups {
                for p in infos {
                    println!(
                        "producer group ({group}) instance : clientId={}, remoteIP={}, language={}, version={}, lastUpdateTimestamp={}",
                        p.client_id, p.remote_ip, p.language, p.version, p.last_update_timestamp
                    );
                }
            }
        }
    }
    Ok(())
}
