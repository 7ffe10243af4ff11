//! The ACL 2.0 verbs of the 5.x `mqadmin`, same names and flags: `createUser`, `updateUser`,
//! `deleteUser`, `getUser`, `listUser`, `createAcl`, `updateAcl`, `deleteAcl`, `getAcl`,
//! `listAcl`, `copyUser`, `copyAcl` (docs/broker/acl.md#acl-20). The edits go to one broker (-b)
//! or every broker, masters and slaves, of a cluster (-c), the reads to one broker or the
//! cluster's masters, as Java's do; the output is Java's.

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
    /// Copy users (all, or -u's comma-separated list) from one broker to another: created there,
    /// or updated where they exist.
    CopyUser {
        #[command(flatten)]
        ns: crate::admin::NamesrvOpt,
        #[arg(short = 'f', long = "fromBroker")]
        from: String,
        #[arg(short = 't', long = "toBroker")]
        to: String,
        #[arg(short = 'u', long = "usernames")]
        usernames: Option<String>,
    },
    /// Copy ACLs (all, or -s's comma-separated subjects) from one broker to another.
    CopyAcl {
        #[command(flatten)]
        ns: crate::admin::NamesrvOpt,
        #[arg(short = 'f', long = "fromBroker")]
        from: String,
        #[arg(short = 't', long = "toBroker")]
        to: String,
        #[arg(short = 's', long = "subjects")]
        subjects: Option<String>,
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
                println!("delete user to {addr} success.");
            }
        }
        AuthCommand::GetUser { target, username } => {
            // the first master that has the user
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "getUser").await? {
                if let Some(u) = admin.get_user(&addr, &username).await? {
                    print_users(&[u]);
                    break;
                }
            }
        }
        AuthCommand::ListUser { target, filter } => {
            // -c: the first master with users, and which one it was
            let admin = admin(&target.ns)?;
            let filter = filter.as_deref().unwrap_or("");
            for addr in target.masters(&admin, "listUser").await? {
                let users = admin.list_users(&addr, filter).await?;
                if !users.is_empty() {
                    print_users(&users);
                    if target.cluster.is_some() && target.broker_addr.is_none() {
                        println!("get user from {addr} success.");
                    }
                    break;
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
            for addr in target.masters(&admin, "getAcl").await? {
                if let Some(acl) = admin.get_acl(&addr, &subject).await? {
                    print_acls(&[acl]);
                }
            }
        }
        AuthCommand::ListAcl {
            target,
            subject,
            resource,
        } => {
            let admin = admin(&target.ns)?;
            for addr in target.masters(&admin, "listAcl").await? {
                let acls = admin
                    .list_acls(
                        &addr,
                        subject.as_deref().unwrap_or(""),
                        resource.as_deref().unwrap_or(""),
                    )
                    .await?;
                if !acls.is_empty() {
                    print_acls(&acls);
                }
            }
        }
        AuthCommand::CopyUser {
            ns,
            from,
            to,
            usernames,
        } => {
            let admin = admin(&ns)?;
            let (from, to) = (from.trim(), to.trim());
            let users = match names(&usernames) {
                Some(names) => {
                    let mut found = Vec::new();
                    for name in names {
                        found.extend(admin.get_user(from, name).await?);
                    }
                    found
                }
                None => admin.list_users(from, "").await?,
            };
            for u in users {
                let name = u.username.clone().unwrap_or_default();
                if admin.get_user(to, &name).await?.is_none() {
                    admin.create_user(to, &u).await?;
                } else {
                    admin.update_user(to, &u).await?;
                }
                println!("copy user of {name} from {from} to {to} success.");
            }
        }
        AuthCommand::CopyAcl {
            ns,
            from,
            to,
            subjects,
        } => {
            let admin = admin(&ns)?;
            let (from, to) = (from.trim(), to.trim());
            let acls = match names(&subjects) {
                Some(subjects) => {
                    let mut found = Vec::new();
                    for subject in subjects {
                        found.extend(admin.get_acl(from, subject).await?);
                    }
                    found
                }
                None => admin.list_acls(from, "", "").await?,
            };
            for acl in acls {
                let subject = acl.subject.clone().unwrap_or_default();
                let exists = admin.get_acl(to, &subject).await?.is_some();
                admin.put_acl(to, &acl, exists).await?;
                println!("copy acl of {subject} from {from} to {to} success.");
            }
        }
    }
    Ok(())
}

/// The copy verbs' comma-separated names (`StringUtils.split`: empty parts dropped); None when
/// absent or blank (then every user / ACL is copied).
fn names(list: &Option<String>) -> Option<Vec<&str>> {
    let list = list.as_deref().map(str::trim).filter(|l| !l.is_empty())?;
    Some(list.split(',').filter(|n| !n.is_empty()).collect())
}

/// Java's `String.valueOf` of an optional field: `null` when absent.
fn java(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("null")
}

/// Java's `List.toString`, or `null` for a list the broker left out.
fn java_list(v: &[String], absent_is_null: bool) -> String {
    if v.is_empty() && absent_is_null {
        "null".into()
    } else {
        format!("[{}]", v.join(", "))
    }
}

/// Get/ListUserSubCommand's table.
fn print_users(users: &[UserInfo]) {
    let row = |a: &str, b: &str, c: &str, d: &str| println!("{a:<16}  {b:<22}  {c:<22}  {d:<22}");
    row("#UserName", "#Password", "#UserType", "#UserStatus");
    for u in users {
        row(
            java(&u.username),
            java(&u.password),
            java(&u.user_type),
            java(&u.user_status),
        );
    }
}

/// Get/ListAclSubCommand's table: a row per policy entry, or the subject alone without policies.
fn print_acls(acls: &[rmq_acl::v2::model::AclInfo]) {
    let row = |a: &str, b: &str, c: &str, d: &str, e: &str, f: &str| {
        println!("{a:<16}  {b:<10}  {c:<22}  {d:<20}  {e:<24}  {f:<10}");
    };
    row(
        "#Subject",
        "#PolicyType",
        "#Resource",
        "#Actions",
        "#SourceIp",
        "#Decision",
    );
    for acl in acls {
        let subject = java(&acl.subject);
        if acl.policies.is_empty() {
            row(subject, "", "", "", "", "");
        }
        for policy in &acl.policies {
            for e in &policy.entries {
                row(
                    subject,
                    java(&policy.policy_type),
                    java(&e.resource),
                    &java_list(&e.actions, false),
                    &java_list(&e.source_ips, true),
                    java(&e.decision),
                );
            }
        }
    }
}
