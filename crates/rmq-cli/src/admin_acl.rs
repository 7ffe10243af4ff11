//! The ACL 1.0 verbs of `mqadmin` (4.9 tools), same names and flags: `updateAclConfig`,
//! `deleteAclConfig`, `updateGlobalWhiteAddr`, `clusterAclConfigVersion`, `getAclConfig`
//! (docs/broker/acl.md#management-codes). Each goes to one broker (-b) or every master of a
//! cluster (-c).

use clap::Subcommand;

use crate::admin::{admin, BrokerTarget as Target};

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum AclCommand {
    /// Create or update an ACL account (plain_acl.yml) on brokers.
    UpdateAclConfig {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'a', long = "accessKey")]
        access_key: String,
        #[arg(short = 's', long = "secretKey")]
        secret_key: String,
        #[arg(short = 'w', long = "whiteRemoteAddress")]
        white_remote_address: Option<String>,
        #[arg(short = 'i', long = "defaultTopicPerm")]
        default_topic_perm: Option<String>,
        #[arg(short = 'u', long = "defaultGroupPerm")]
        default_group_perm: Option<String>,
        /// e.g. `topicA=DENY,topicD=SUB`
        #[arg(short = 't', long = "topicPerms")]
        topic_perms: Option<String>,
        /// e.g. `groupD=DENY,groupE=SUB`
        #[arg(short = 'g', long = "groupPerms")]
        group_perms: Option<String>,
        #[arg(short = 'm', long = "admin")]
        admin: Option<bool>,
    },
    /// Delete an ACL account on brokers.
    DeleteAclConfig {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'a', long = "accessKey")]
        access_key: String,
    },
    /// Replace the global white address list on brokers.
    UpdateGlobalWhiteAddr {
        #[command(flatten)]
        target: Target,
        /// e.g. `10.10.103.*,192.168.0.*`
        #[arg(short = 'g', long = "globalWhiteRemoteAddresses")]
        addrs: String,
        /// The ACL file to change (default plain_acl.yml).
        #[arg(short = 'p', long = "aclFileFullPath")]
        file: Option<String>,
    },
    /// Print each broker's ACL file versions.
    ClusterAclConfigVersion {
        #[command(flatten)]
        target: Target,
    },
    /// Print each broker's ACL accounts and white lists (admin accounts only on rmq).
    GetAclConfig {
        #[command(flatten)]
        target: Target,
    },
}

fn list(s: Option<String>) -> Vec<String> {
    s.as_deref().map(rmq_acl::comma_list).unwrap_or_default()
}

pub async fn run(cmd: AclCommand) -> anyhow::Result<()> {
    match cmd {
        AclCommand::UpdateAclConfig {
            target,
            access_key,
            secret_key,
            white_remote_address,
            default_topic_perm,
            default_group_perm,
            topic_perms,
            group_perms,
            admin: is_admin,
        } => {
            let admin = admin(&target.ns)?;
            let account = rmq_acl::AccountConfig {
                access_key: Some(access_key),
                secret_key: Some(secret_key),
                white_remote_address,
                admin: is_admin.unwrap_or(false),
                default_topic_perm,
                default_group_perm,
                topic_perms: list(topic_perms),
                group_perms: list(group_perms),
            };
            for addr in target.masters(&admin, "updateAclConfig").await? {
                admin.update_acl_config(&addr, &account).await?;
                println!("update plain access config to {addr} success.");
            }
        }
        AclCommand::DeleteAclConfig { target, access_key } => {
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "deleteAclConfig").await? {
                admin.delete_acl_config(&addr, &access_key).await?;
                println!("delete plain access config account from {addr} success.");
            }
        }
        AclCommand::UpdateGlobalWhiteAddr { target, addrs, file } => {
            let admin = admin(&target.ns)?;
            let addrs = list(Some(addrs));
            for addr in target.masters(&admin, "updateGlobalWhiteAddr").await? {
                admin
                    .update_global_white_addrs(&addr, &addrs, file.as_deref())
                    .await?;
                println!("update global white remote addresses to {addr} success.");
            }
        }
        AclCommand::ClusterAclConfigVersion { target } => {
            let admin = admin(&target.ns)?;
            println!(
                "{:<20} {:<24} {:<64}",
                "#Cluster Name", "#Broker Name", "#Broker Addr  #AclFilePath  #AclConfigVersion"
            );
            for addr in target.masters(&admin, "clusterAclConfigVersion").await? {
                let info = admin.acl_version_info(&addr).await?;
                let get = |k: &str| info.get(k).cloned().unwrap_or_default();
                println!(
                    "{:<20} {:<24} {} {} {}",
                    get("clusterName"),
                    get("brokerName"),
                    get("brokerAddr"),
                    get("allAclFileVersion"),
                    get("version")
                );
            }
        }
        AclCommand::GetAclConfig { target } => {
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "getAclConfig").await? {
                let c = admin.acl_config(&addr).await?;
                println!("{addr}");
                println!(
                    "{:<20}: {}",
                    "globalWhiteRemoteAddresses",
                    c.global_white_addrs.join(",")
                );
                for a in &c.plain_access_configs {
                    println!("{:<20}: {}", "accessKey", a.access_key.as_deref().unwrap_or(""));
                    println!("{:<20}: {}", "secretKey", a.secret_key.as_deref().unwrap_or(""));
                    println!(
                        "{:<20}: {}",
                        "whiteRemoteAddress",
                        a.white_remote_address.as_deref().unwrap_or("")
                    );
                    println!("{:<20}: {}", "admin", a.admin);
                    println!(
                        "{:<20}: {}",
                        "defaultTopicPerm",
                        a.default_topic_perm.as_deref().unwrap_or("")
                    );
                    println!(
                        "{:<20}: {}",
                        "defaultGroupPerm",
                        a.default_group_perm.as_deref().unwrap_or("")
                    );
                    println!("{:<20}: {}", "topicPerms", a.topic_perms.join(","));
                    println!("{:<20}: {}", "groupPerms", a.group_perms.join(","));
                }
            }
        }
    }
    Ok(())
}
