//! The ACL 1.0 management codes (Java 4.9 `AdminBrokerProcessor`): UPDATE_AND_CREATE_ACL_CONFIG
//! (50), DELETE_ACL_CONFIG (51), GET_BROKER_CLUSTER_ACL_INFO (52), UPDATE_GLOBAL_WHITE_ADDRS_CONFIG
//! (53) and GET_BROKER_CLUSTER_ACL_CONFIG (54, 4.9 only; rmq answers it to admin accounts only,
//! because it carries the secrets).

use std::collections::BTreeMap;

use rmq_acl::AccountConfig;
use rmq_protocol::codes::response_code as code;
use rmq_protocol::RemotingCommand;
use serde::Serialize;

use super::{error, ok};
use crate::BrokerState;

const NOT_ENABLED: &str = "ACL is not enabled on this broker (aclEnable=false)";

fn field(req: &RemotingCommand, k: &str) -> Option<String> {
    req.ext_fields.get(k).filter(|v| !v.is_empty()).cloned()
}

fn split_list(s: Option<String>) -> Vec<String> {
    s.as_deref().map(rmq_acl::comma_list).unwrap_or_default()
}

pub(super) fn update_account(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let failed = code::UPDATE_AND_CREATE_ACL_CONFIG_FAILED;
    let Some(acl) = &s.acl else {
        return error(req, failed, NOT_ENABLED);
    };
    let account = AccountConfig {
        access_key: field(req, "accessKey"),
        secret_key: field(req, "secretKey"),
        white_remote_address: field(req, "whiteRemoteAddress"),
        admin: field(req, "admin").is_some_and(|v| rmq_protocol::header::parse_bool(&v)),
        default_topic_perm: field(req, "defaultTopicPerm"),
        default_group_perm: field(req, "defaultGroupPerm"),
        topic_perms: split_list(field(req, "topicPerms")),
        group_perms: split_list(field(req, "groupPerms")),
    };
    match acl.upsert_account(account) {
        Ok(()) => ok(req),
        Err(e) => error(req, failed, e.to_string()),
    }
}

pub(super) fn delete_account(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let failed = code::DELETE_ACL_CONFIG_FAILED;
    let Some(acl) = &s.acl else {
        return error(req, failed, NOT_ENABLED);
    };
    let Some(ak) = field(req, "accessKey") else {
        return error(req, failed, "the request header lacks accessKey");
    };
    match acl.delete_account(&ak) {
        Ok(()) => ok(req),
        Err(e) => error(req, failed, e.to_string()),
    }
}

pub(super) fn update_global_white(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let failed = code::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED;
    let Some(acl) = &s.acl else {
        return error(req, failed, NOT_ENABLED);
    };
    let addrs = split_list(field(req, "globalWhiteAddrs"));
    match acl.set_global_white(addrs, field(req, "aclFileFullPath").as_deref()) {
        Ok(()) => ok(req),
        Err(e) => error(req, failed, e.to_string()),
    }
}

#[derive(Serialize)]
struct VersionJson {
    timestamp: i64,
    counter: i64,
}

/// GET_BROKER_CLUSTER_ACL_INFO: the response header `GetBrokerAclConfigResponseHeader`.
pub(super) fn version_info(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let Some(acl) = &s.acl else {
        return error(req, code::SYSTEM_ERROR, NOT_ENABLED);
    };
    let versions = match acl.versions() {
        Ok(v) => v,
        Err(e) => return error(req, code::SYSTEM_ERROR, e.to_string()),
    };
    let default = acl.source().default_file();
    let all: BTreeMap<String, VersionJson> = versions
        .iter()
        .map(|(p, v)| {
            (
                p.display().to_string(),
                VersionJson {
                    timestamp: v.timestamp,
                    counter: v.counter,
                },
            )
        })
        .collect();
    let version = versions
        .iter()
        .find(|(p, _)| *p == default)
        .map(|(_, v)| v)
        .copied()
        .unwrap_or_default();
    let mut resp = ok(req);
    let f = &mut resp.ext_fields;
    // the default file's DataVersion as JSON (Java's `dataVersion.toJson()`; the 5.x tools parse it)
    f.insert(
        "version".into(),
        serde_json::to_string(&VersionJson {
            timestamp: version.timestamp,
            counter: version.counter,
        })
        .unwrap_or_else(|_| "{}".into()),
    );
    f.insert(
        "allAclFileVersion".into(),
        serde_json::to_string(&all).unwrap_or_else(|_| "{}".into()),
    );
    f.insert("brokerName".into(), s.config.broker_name.clone());
    f.insert("brokerAddr".into(), s.addr.clone());
    f.insert("clusterName".into(), s.config.broker_cluster_name.clone());
    resp
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterAclConfig {
    global_white_addrs: Vec<String>,
    plain_access_configs: Vec<AccountConfig>,
}

/// GET_BROKER_CLUSTER_ACL_CONFIG (4.9): every file's white list and accounts, secrets included,
/// so only for admin accounts (or white addresses).
pub(super) fn cluster_config(s: &BrokerState, req: &RemotingCommand) -> RemotingCommand {
    let Some(acl) = &s.acl else {
        return error(req, code::SYSTEM_ERROR, NOT_ENABLED);
    };
    let rules = acl.rules();
    let admin = match req.ext_fields.get(rmq_acl::sign::ACCESS_KEY) {
        // The signature was checked before dispatch; a white address may send no key at all.
        Some(ak) => rules.accounts.get(ak).is_some_and(|a| a.admin),
        None => true,
    };
    if !admin {
        return error(
            req,
            code::NO_PERMISSION,
            format!("Need admin permission for request code={}", req.code),
        );
    }
    let files = match acl.files() {
        Ok(f) => f,
        Err(e) => return error(req, code::SYSTEM_ERROR, e.to_string()),
    };
    let mut body = ClusterAclConfig {
        global_white_addrs: Vec::new(),
        plain_access_configs: Vec::new(),
    };
    for (_, f) in files {
        body.global_white_addrs.extend(f.global_white_remote_addresses);
        body.plain_access_configs.extend(f.accounts);
    }
    match serde_json::to_vec(&body) {
        Ok(json) => ok(req).with_body(json),
        Err(e) => error(req, code::SYSTEM_ERROR, e.to_string()),
    }
}
