//! The ACL 2.0 verbs of the 5.x `mqadmin`, same names and flags: `createUser`, `updateUser`,
//! `deleteUser`, `getUser`, `listUser`, `createAcl`, `updateAcl`, `deleteAcl`, `getAcl`,
//! `listAcl` (docs/broker/acl.md#acl-20). Each goes to one broker (-b) or every broker, masters
//! and slaves, of a cluster (-c), as Java's do.

use clap::{Args, Subcommand};
use rmq_acl::v2::model::UserInfo;
use rmq_client::admin::acl_info;

use crate::admin::{admin, BrokerTarget as Target};

#[derive(Subcommand)]
#[command(rename_all = "camelCase")]
pub enum AuthCommand {
    /// Create an ACL 2.0 user.
    CreateUser {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'u', long = "username")]
        username: String,
        #[arg(short = 'p', long = "password")]
        password: String,
        /// Super or Normal (default Normal).
        #[arg(short = 't', long = "userType")]
        user_type: Option<String>,
    },
    /// Update a user's password, type or status.
    UpdateUser {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'u', long = "username")]
        username: String,
        #[arg(short = 'p', long = "password")]
        password: Option<String>,
        #[arg(short = 't', long = "userType")]
        user_type: Option<String>,
        /// enable or disable.
        #[arg(short = 's', long = "userStatus")]
        user_status: Option<String>,
    },
    /// Delete a user (and its ACL).
    DeleteUser {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'u', long = "username")]
        username: String,
    },
    /// Print a user.
    GetUser {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'u', long = "username")]
        username: String,
    },
    /// Print the users whose name contains a filter.
    ListUser {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'f', long = "filter")]
        filter: Option<String>,
    },
    /// Create (or add to) a subject's ACL: one entry per resource.
    CreateAcl {
        #[command(flatten)]
        acl: AclSpec,
    },
    /// Update a subject's ACL entries (same as createAcl: entries of the same resource are replaced).
    UpdateAcl {
        #[command(flatten)]
        acl: AclSpec,
    },
    /// Delete a subject's ACL, or its entry for one resource.
    DeleteAcl {
        #[command(flatten)]
        target: Target,
        #[arg(short = 's', long = "subject")]
        subject: String,
        #[arg(short = 'r', long = "resources")]
        resource: Option<String>,
    },
    /// Print a subject's ACL.
    GetAcl {
        #[command(flatten)]
        target: Target,
        #[arg(short = 's', long = "subject")]
        subject: String,
    },
    /// Print the ACLs matching a subject and a resource filter.
    ListAcl {
        #[command(flatten)]
        target: Target,
        #[arg(short = 's', long = "subject")]
        subject: Option<String>,
        #[arg(short = 'r', long = "resource")]
        resource: Option<String>,
    },
}

#[derive(Args, Clone)]
pub(crate) struct AclSpec {
    #[command(flatten)]
    target: Target,
    /// `User:<name>`.
    #[arg(short = 's', long = "subject")]
    subject: String,
    /// e.g. `Topic:orders,Group:app-*`.
    #[arg(short = 'r', long = "resources")]
    resources: String,
    /// e.g. `Pub,Sub` (Pub, Sub, Create, Update, Delete, Get, List, All).
    #[arg(short = 'a', long = "actions")]
    actions: String,
    /// e.g. `10.0.0.0/8,192.168.1.7`.
    #[arg(short = 'i', long = "sourceIp")]
    source_ips: Option<String>,
    /// Allow or Deny.
    #[arg(short = 'd', long = "decision")]
    decision: String,
}

fn list(s: &str) -> Vec<String> {
    rmq_acl::comma_list(s)
}

fn user(
    username: &str,
    password: Option<String>,
    user_type: Option<String>,
    user_status: Option<String>,
) -> UserInfo {
    UserInfo {
        username: Some(username.to_string()),
        password,
        user_type,
        user_status,
    }
}

async fn put_acl(a: AclSpec, update: bool) -> anyhow::Result<()> {
    let admin = admin(&a.target.ns)?;
    let info = acl_info(
        &a.subject,
        &list(&a.resources),
        &list(&a.actions),
        &a.source_ips.as_deref().map(list).unwrap_or_default(),
        &a.decision,
    );
    let verb = if update { "update" } else { "create" };
    for addr in a.target.brokers(&admin, &format!("{verb}Acl")).await? {
        admin.put_acl(&addr, &info, update).await?;
        println!("{verb} acl to {addr} success.");
    }
    Ok(())
}

pub async fn run(cmd: AuthCommand) -> anyhow::Result<()> {
    match cmd {
        AuthCommand::CreateUser {
            target,
            username,
            password,
            user_type,
        } => {
            let admin = admin(&target.ns)?;
            let info = user(&username, Some(password), user_type, None);
            for addr in target.brokers(&admin, "createUser").await? {
                admin.create_user(&addr, &info).await?;
                println!("create user to {addr} success.");
            }
        }
        AuthCommand::UpdateUser {
            target,
            username,
            password,
            user_type,
            user_status,
        } => {
            let admin = admin(&target.ns)?;
            let info = user(&username, password, user_type, user_status);
            for addr in target.brokers(&admin, "updateUser").await? {
                admin.update_user(&addr, &info).await?;
                println!("update user to {addr} success.");
            }
        }
        AuthCommand::DeleteUser { target, username } => {
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "deleteUser").await? {
                admin.delete_user(&addr, &username).await?;
                println!("delete user from {addr} success.");
            }
        }
        AuthCommand::GetUser { target, username } => {
            let admin = admin(&target.ns)?;
            println!(
                "{:<16} {:<16} {:<16} {:<8}",
                "#UserName", "#Password", "#UserType", "#UserStatus"
            );
            for addr in target.brokers(&admin, "getUser").await? {
                if let Some(u) = admin.get_user(&addr, &username).await? {
                    print_user(&u);
                }
            }
        }
        AuthCommand::ListUser { target, filter } => {
            let admin = admin(&target.ns)?;
            println!(
                "{:<16} {:<16} {:<16} {:<8}",
                "#UserName", "#Password", "#UserType", "#UserStatus"
            );
            for addr in target.brokers(&admin, "listUser").await? {
                for u in admin.list_users(&addr, filter.as_deref().unwrap_or("")).await? {
                    print_user(&u);
                }
            }
        }
        AuthCommand::CreateAcl { acl } => put_acl(acl, false).await?,
        AuthCommand::UpdateAcl { acl } => put_acl(acl, true).await?,
        AuthCommand::DeleteAcl {
            target,
            subject,
            resource,
        } => {
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "deleteAcl").await? {
                admin.delete_acl(&addr, &subject, resource.as_deref()).await?;
                println!("delete acl to {addr} success.");
            }
        }
        AuthCommand::GetAcl { target, subject } => {
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "getAcl").await? {
                if let Some(acl) = admin.get_acl(&addr, &subject).await? {
                    println!("{}", serde_json::to_string_pretty(&acl)?);
                }
            }
        }
        AuthCommand::ListAcl {
            target,
            subject,
            resource,
        } => {
            let admin = admin(&target.ns)?;
            for addr in target.brokers(&admin, "listAcl").await? {
                let acls = admin
                    .list_acls(
                        &addr,
                        subject.as_deref().unwrap_or(""),
                        resource.as_deref().unwrap_or(""),
                    )
                    .await?;
                println!("{}", serde_json::to_string_pretty(&acls)?);
            }
        }
    }
    Ok(())
}

fn print_user(u: &UserInfo) {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    println!(
        "{:<16} {:<16} {:<16} {:<8}",
        s(&u.username),
        s(&u.password),
        s(&u.user_type),
        s(&u.user_status)
    );
}
