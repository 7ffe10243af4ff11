//! The `mqadmin` subset: `updateTopic`, `topicList`, `topicRoute`, `clusterList`, `topicStatus`.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rmq_client::{Admin, ClientConfig};
use rmq_protocol::body::TopicConfig;

#[derive(Args, Clone)]
pub struct NamesrvOpt {
    /// Name server address list, `host:9876;host2:9876` (or env NAMESRV_ADDR).
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv: Option<String>,
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
}

fn admin(ns: &NamesrvOpt) -> anyhow::Result<Admin> {
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
        ..ClientConfig::default()
    };
    Ok(Admin::new(config))
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
    }
    Ok(())
}
