//! The controller verbs of `mqadmin` 5.x, same names, flags and lines: `getControllerMetaData`,
//! `getSyncStateSet`, `electMaster`, `cleanBrokerMetadata`, `getControllerConfig`,
//! `updateControllerConfig` (docs/controller/node.md), and `getBrokerEpoch` (asks the brokers). Only `getSyncStateSet -c` needs a name
//! server (for the cluster's broker names).

use anyhow::Context;
use clap::Subcommand;
use rmq_client::{Admin, ClientConfig};
use rmq_protocol::header::CleanControllerBrokerDataRequestHeader;

use crate::admin::{admin, NamesrvOpt};

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum ControllerCommand {
    /// Print a controller's group, leader and peers.
    GetControllerMetaData {
        #[arg(short = 'a', long = "controllerAddress")]
        controller: String,
    },
    /// Print the SyncStateSet of a broker group (-b) or of every group of a cluster (-c).
    GetSyncStateSet {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'a', long = "controllerAddress")]
        controller: String,
        #[arg(short = 'b', long = "brokerName")]
        broker_name: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
    },
    /// Make broker `-b` (a controller id) the master of group `-bn`.
    ElectMaster {
        #[arg(short = 'a', long = "controllerAddress")]
        controller: String,
        #[arg(short = 'b', long = "brokerId")]
        broker_id: i64,
        #[arg(long = "brokerName", alias = "bn")]
        broker_name: String,
        #[arg(short = 'c', long = "clusterName")]
        cluster: String,
    },
    /// Remove brokers (-b `1;2;3`) or a whole group from the controller.
    CleanBrokerMetadata {
        #[arg(short = 'a', long = "controllerAddress")]
        controller: String,
        #[arg(short = 'b', long = "brokerControllerIdsToClean")]
        ids: Option<String>,
        #[arg(long = "brokerName", alias = "bn")]
        broker_name: String,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        /// Also remove brokers that are alive.
        #[arg(short = 'l', long = "cleanLivingBroker")]
        clean_living: bool,
    },
    /// Print the epoch file of every broker (master and slaves) of a group (-b) or cluster (-c).
    GetBrokerEpoch {
        #[command(flatten)]
        ns: NamesrvOpt,
        #[arg(short = 'b', long = "brokerName")]
        broker_name: Option<String>,
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
    },
    /// Print the configuration of each controller of `-a` (`a:p;b:p`).
    GetControllerConfig {
        #[arg(short = 'a', long = "controllerAddress")]
        controller: String,
    },
    /// Set one key on each controller of `-a`.
    UpdateControllerConfig {
        #[arg(short = 'a', long = "controllerAddress")]
        controller: String,
        #[arg(short = 'k', long = "key")]
        key: String,
        #[arg(short = 'v', long = "value")]
        value: String,
    },
}

/// A client for controller calls: no name server needed.
fn bare() -> Admin {
    Admin::new(ClientConfig::default())
}

fn addresses(list: &str) -> Vec<String> {
    list.split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn run(cmd: ControllerCommand) -> anyhow::Result<()> {
    match cmd {
        ControllerCommand::GetControllerMetaData { controller } => {
            let meta = bare().controller_metadata(controller.trim()).await?;
            let s = |v: Option<String>| v.unwrap_or_else(|| "null".into());
            print!("\n#ControllerGroup\t{}", s(meta.group));
            print!("\n#ControllerLeaderId\t{}", s(meta.controller_leader_id));
            print!(
                "\n#ControllerLeaderAddress\t{}",
                s(meta.controller_leader_address)
            );
            for peer in meta
                .peers
                .unwrap_or_default()
                .split(';')
                .filter(|p| !p.is_empty())
            {
                print!("\n#Peer:\t{peer}");
            }
            println!();
        }
        ControllerCommand::GetBrokerEpoch {
            ns,
            broker_name,
            cluster,
        } => {
            let admin = admin(&ns)?;
            let info = admin.cluster_info().await?;
            let names: Vec<String> = match (broker_name, cluster) {
                (Some(b), _) => vec![b.trim().to_string()],
                (None, Some(c)) => info
                    .cluster_addr_table
                    .get(c.trim())
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
                (None, None) => anyhow::bail!("getBrokerEpoch needs -b brokerName or -c clusterName"),
            };
            for name in names {
                let Some(data) = info.broker_addr_table.get(&name) else {
                    continue;
                };
                for addr in data.broker_addrs.values() {
                    let cache = admin
                        .broker_epoch_cache(addr)
                        .await
                        .with_context(|| format!("GET_BROKER_EPOCH_CACHE from {addr}"))?;
                    print!(
                        "\n#clusterName\t{}\n#brokerName\t{}\n#brokerAddr\t{addr}\n#brokerId\t{}",
                        cache.cluster_name, cache.broker_name, cache.broker_id
                    );
                    let last = cache.epoch_list.len().saturating_sub(1);
                    for (i, e) in cache.epoch_list.iter().enumerate() {
                        let end = if i == last { cache.max_offset } else { e.end_offset };
                        print!(
                            "\n#Epoch: EpochEntry{{epoch={}, startOffset={}, endOffset={end}}}",
                            e.epoch, e.start_offset
                        );
                    }
                    println!();
                }
            }
        }
        ControllerCommand::GetSyncStateSet {
            ns,
            controller,
            broker_name,
            cluster,
        } => {
            let controller = addresses(&controller)
                .into_iter()
                .next()
                .context("no controller address")?;
            let names: Vec<String> = match (broker_name, cluster) {
                (Some(b), _) => vec![b.trim().to_string()],
                (None, Some(c)) => {
                    let info = admin(&ns)?.cluster_info().await?;
                    let mut names: Vec<String> = info
                        .cluster_addr_table
                        .get(c.trim())
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default();
                    names.sort();
                    names
                }
                (None, None) => anyhow::bail!("getSyncStateSet needs -b brokerName or -c clusterName"),
            };
            if names.is_empty() {
                return Ok(());
            }
            let info = bare().sync_state_data(&controller, &names).await?;
            for (name, r) in &info.replicas_info_table {
                let master_id = r
                    .master_broker_id
                    .map_or_else(|| "null".into(), |id| id.to_string());
                let master_addr = r.master_address.clone().unwrap_or_else(|| "null".into());
                print!(
                    "\n#brokerName\t{name}\n#MasterBrokerId\t{master_id}\n#MasterAddr\t{master_addr}\n#MasterEpoch\t{}\n#SyncStateSetEpoch\t{}\n#SyncStateSetNums\t{}\n",
                    r.master_epoch,
                    r.sync_state_set_epoch,
                    r.in_sync_replicas.len()
                );
                let show = |m: &rmq_protocol::body::ReplicaIdentity| {
                    format!(
                        "ReplicaIdentity{{brokerName='{}', brokerId={}, brokerAddress='{}', alive={}}}",
                        m.broker_name, m.broker_id, m.broker_address, m.alive
                    )
                };
                for m in &r.in_sync_replicas {
                    print!("\nInSyncReplica:\t{}\n", show(m));
                }
                for m in &r.not_in_sync_replicas {
                    print!("\nNotInSyncReplica:\t{}\n", show(m));
                }
            }
        }
        ControllerCommand::ElectMaster {
            controller,
            broker_id,
            broker_name,
            cluster,
        } => {
            let elected = bare()
                .elect_master(controller.trim(), cluster.trim(), broker_name.trim(), broker_id)
                .await?;
            let h = &elected.header;
            let s = |v: Option<String>| v.unwrap_or_else(|| "null".into());
            print!("\n#ClusterName\t{}", cluster.trim());
            print!("\n#BrokerName\t{}", broker_name.trim());
            print!("\n#BrokerMasterAddr\t{}", s(h.master_address.clone()));
            print!("\n#MasterEpoch\t{}", s(h.master_epoch.map(|e| e.to_string())));
            println!(
                "\n#SyncStateSetEpoch\t{}",
                s(h.sync_state_set_epoch.map(|e| e.to_string()))
            );
            // Java prints these from a body it decodes as the wrong type, so its lines come out
            // empty; rmq prints the member group the controller sent.
            if let Some(group) = &elected.body.broker_member_group {
                for (id, addr) in &group.broker_addrs {
                    println!("\t#Broker\t{id}\t{addr}");
                }
            }
        }
        ControllerCommand::CleanBrokerMetadata {
            controller,
            ids,
            broker_name,
            cluster,
            clean_living,
        } => {
            let header = CleanControllerBrokerDataRequestHeader {
                cluster_name: cluster.map(|c| c.trim().to_string()),
                broker_name: Some(broker_name.trim().to_string()),
                broker_controller_ids_to_clean: ids.map(|i| i.trim().to_string()),
                is_clean_living_broker: Some(clean_living),
                invoke_time: Some(rmq_protocol::time::now_ms()),
            };
            bare().clean_broker_metadata(controller.trim(), header).await?;
            println!(
                "clear broker {} metadata from controller success! ",
                broker_name.trim()
            );
        }
        ControllerCommand::GetControllerConfig { controller } => {
            let admin = bare();
            for addr in addresses(&controller) {
                let pairs = admin.controller_config(&addr).await?;
                println!("============{addr}============");
                for (k, v) in pairs {
                    println!("{k:<50}=  {v}");
                }
            }
        }
        ControllerCommand::UpdateControllerConfig {
            controller,
            key,
            value,
        } => {
            let admin = bare();
            let list = addresses(&controller);
            for addr in &list {
                admin
                    .update_controller_config(addr, key.trim(), value.trim())
                    .await?;
            }
            println!(
                "update controller config success![{}]\n{} : {}",
                list.join(", "),
                key.trim(),
                value.trim()
            );
        }
    }
    Ok(())
}
