//! The ACL page's ACL 1.0 section (docs/console.md, `#/acl`): a broker's `plain_acl.yml` accounts
//! and global white addresses (RocketMQ 4.9 `updateAclConfig` .. `getAclConfig`), and what both
//! sections share: the brokers an edit goes to, a broker saying it has no ACL, masked secrets and
//! JSON errors for bad input.
//!
//! Secrets never leave the console: a listing shows them masked, and an update that leaves the
//! secret key blank keeps the one the broker has.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use rmq_acl::address::AddressPattern;
use rmq_acl::{AccountConfig, Perm};
use rmq_client::{ClientError, ClusterInfo};
use rmq_protocol::codes::response_code;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{ApiError, ApiResult, App};

/// What a listing shows for a secret key or a password.
pub(crate) const MASK: &str = "******";

/// A secret as listings show it: `******` when there is one.
pub(crate) fn mask(secret: Option<&str>) -> &'static str {
    match secret {
        Some(s) if !s.is_empty() => MASK,
        _ => "",
    }
}

/// The body of a POST, or a 400 saying what is wrong with it (axum's own rejection is text).
pub(crate) fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload
        .map(|Json(v)| v)
        .map_err(|e| ApiError::bad_request(format!("bad request body: {}", e.body_text())))
}

/// The query string, or a 400.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))
}

pub(crate) fn nonblank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Which brokers an edit goes to: one (`broker`, its address) or a whole `cluster`.
#[derive(Debug, Default, Deserialize)]
pub struct Target {
    broker: Option<String>,
    cluster: Option<String>,
}

/// The members of a cluster an edit goes to: the masters (ACL 1.0, as 4.9 `mqadmin -c`) or
/// every broker (ACL 2.0, as 5.3 `mqadmin -c`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Members {
    Masters,
    All,
}

impl Target {
    /// The addresses, each known to the name server (the console sends nowhere else).
    pub(crate) async fn addrs(&self, app: &App, members: Members) -> Result<Vec<String>, ApiError> {
        let info = app.admin.cluster_info().await?;
        match (nonblank(&self.broker), nonblank(&self.cluster)) {
            (Some(b), None) => Ok(vec![known_broker(&info, b)?]),
            (None, Some(c)) => {
                let names = info
                    .cluster_addr_table
                    .get(c)
                    .ok_or_else(|| ApiError::bad_request(format!("no cluster {c}")))?;
                let mut addrs: Vec<String> = names
                    .iter()
                    .filter_map(|n| info.broker_addr_table.get(n))
                    .flat_map(|bd| match members {
                        Members::Masters => bd.master_addr().map(str::to_string).into_iter().collect(),
                        Members::All => bd.broker_addrs.values().cloned().collect::<Vec<_>>(),
                    })
                    .collect();
                addrs.sort();
                if addrs.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "cluster {c} has no broker to edit"
                    )));
                }
                Ok(addrs)
            }
            (Some(_), Some(_)) => Err(ApiError::bad_request("name a broker or a cluster, not both")),
            (None, None) => Err(ApiError::bad_request(
                "name the broker (\"broker\": address) or the cluster (\"cluster\") to change",
            )),
        }
    }
}

/// `addr` if a broker of the cluster has it.
fn known_broker(info: &ClusterInfo, addr: &str) -> Result<String, ApiError> {
    let known = info
        .broker_addr_table
        .values()
        .any(|bd| bd.broker_addrs.values().any(|a| a == addr));
    match known {
        true => Ok(addr.to_string()),
        false => Err(ApiError::bad_request(format!(
            "no broker at {addr} in this cluster"
        ))),
    }
}

/// `?broker=<addr>` of the listings.
#[derive(Debug, Default, Deserialize)]
pub struct BrokerQuery {
    broker: Option<String>,
}

impl BrokerQuery {
    pub(crate) async fn addr(&self, app: &App) -> Result<String, ApiError> {
        let addr = nonblank(&self.broker)
            .ok_or_else(|| ApiError::bad_request("name a broker: ?broker=host:port"))?;
        known_broker(&app.admin.cluster_info().await?, addr)
    }
}

/// A listing's answer when the broker has no such ACL: `disabled` (it runs without it) or
/// `unsupported` (it does not know the request code); `None` for any other failure.
pub(crate) fn unavailable(addr: &str, e: &ClientError) -> Option<Value> {
    let ClientError::Broker { code, remark } = e else {
        return None;
    };
    let lower = remark.to_ascii_lowercase();
    let state = if *code == response_code::REQUEST_CODE_NOT_SUPPORTED {
        "unsupported"
    } else if lower.contains("not enabled") || lower.contains("not configured") {
        "disabled"
    } else {
        return None;
    };
    Some(json!({ "broker": addr, "state": state, "reason": remark }))
}

/// The error of an edit that failed on `addr` after it was done on `done`.
pub(crate) fn failed_on(addr: &str, done: &[String], e: ApiError) -> ApiError {
    let already = match done.is_empty() {
        true => String::new(),
        false => format!(" (already done on {})", done.join(", ")),
    };
    ApiError {
        status: e.status,
        message: format!("{addr}: {}{already}", e.message),
    }
}

/// The answer of an edit done on every target.
pub(crate) fn done_on(brokers: Vec<String>) -> ApiResult {
    Ok(Json(json!({ "ok": true, "brokers": brokers })))
}

/// `GET /api/acl/brokers`: every broker, for the page's broker picker and edit targets.
pub async fn brokers(State(app): State<Arc<App>>) -> ApiResult {
    let info = app.admin.cluster_info().await?;
    let mut rows: Vec<(String, String, i64, String)> = info
        .broker_addr_table
        .values()
        .flat_map(|bd| {
            bd.broker_addrs
                .iter()
                .map(|(id, a)| (bd.cluster.clone(), bd.broker_name.clone(), *id, a.clone()))
        })
        .collect();
    rows.sort();
    let mut clusters: Vec<&String> = info.cluster_addr_table.keys().collect();
    clusters.sort();
    let brokers: Vec<Value> = rows
        .into_iter()
        .map(|(cluster, name, id, addr)| {
            json!({ "cluster": cluster, "brokerName": name, "brokerId": id, "addr": addr })
        })
        .collect();
    Ok(Json(json!({ "clusters": clusters, "brokers": brokers })))
}

/// What a broker with `aclEnable=false` answers: rmq's own remark for it, so that the answer is
/// the same whether the broker said so or its configuration did.
const V1_NOT_ENABLED: &str = "ACL is not enabled on this broker (aclEnable=false)";

/// The broker's `aclEnable` (GET_BROKER_CONFIG), `None` when it cannot be read.
async fn acl_enabled(app: &App, addr: &str) -> Option<bool> {
    let config = app.admin.broker_config(addr).await.ok()?;
    config
        .iter()
        .find(|(k, _)| k == "aclEnable")
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// `GET /api/acl/v1?broker=<addr>`: the broker's accounts (secret keys masked) and global white
/// addresses, or its `state` when it has no ACL 1.0.
///
/// Apache RocketMQ brokers need more care than rmq: without ACL, 4.9 does not answer the ACL
/// codes at all (a NullPointerException, logged; the request times out), so `aclEnable` is read
/// from the broker's configuration first; and 4.9.8 / 5.x run ACL 1.0 without listing it
/// (GET_BROKER_CLUSTER_ACL_CONFIG is gone), which is answered as enabled with `"listed": false`:
/// accounts and the white list can still be set.
pub async fn v1(State(app): State<Arc<App>>, q: Result<Query<BrokerQuery>, QueryRejection>) -> ApiResult {
    let addr = query(q)?.addr(&app).await?;
    let enabled = acl_enabled(&app, &addr).await;
    if enabled == Some(false) {
        return Ok(Json(
            json!({ "broker": addr, "state": "disabled", "reason": V1_NOT_ENABLED }),
        ));
    }
    let version = || async {
        app.admin
            .acl_version_info(&addr)
            .await
            .ok()
            .and_then(|v| v.get("version").cloned())
    };
    let config = match app.admin.acl_config(&addr).await {
        Ok(c) => c,
        Err(ClientError::Broker { code, remark })
            if code == response_code::REQUEST_CODE_NOT_SUPPORTED && enabled == Some(true) =>
        {
            return Ok(Json(json!({
                "broker": addr, "state": "enabled", "listed": false, "version": version().await,
                "reason": format!(
                    "this broker does not list its ACL 1.0 accounts (GET_BROKER_CLUSTER_ACL_CONFIG: {}); \
                     accounts and the global white list can still be set",
                    remark.trim()
                ),
                "globalWhiteAddrs": [], "accounts": [],
            })));
        }
        Err(e) => return unavailable(&addr, &e).map(Json).ok_or_else(|| e.into()),
    };
    let version = version().await;
    let mut accounts = config.plain_access_configs;
    accounts.sort_by(|a, b| a.access_key.cmp(&b.access_key));
    let accounts: Vec<Value> = accounts
        .iter()
        .map(|a| {
            json!({
                "accessKey": a.access_key, "secretKey": mask(a.secret_key.as_deref()),
                "whiteRemoteAddress": a.white_remote_address, "admin": a.admin,
                "defaultTopicPerm": a.default_topic_perm, "defaultGroupPerm": a.default_group_perm,
                "topicPerms": a.topic_perms, "groupPerms": a.group_perms,
            })
        })
        .collect();
    Ok(Json(json!({
        "broker": addr, "state": "enabled", "version": version,
        "globalWhiteAddrs": config.global_white_addrs, "accounts": accounts,
    })))
}

/// `POST /api/acl/v1/accounts`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountForm {
    #[serde(flatten)]
    target: Target,
    access_key: Option<String>,
    /// Blank on an update: keep the broker's.
    secret_key: Option<String>,
    white_remote_address: Option<String>,
    #[serde(default)]
    admin: bool,
    default_topic_perm: Option<String>,
    default_group_perm: Option<String>,
    #[serde(default)]
    topic_perms: Vec<String>,
    #[serde(default)]
    group_perms: Vec<String>,
}

fn check_perm(what: &str, perm: Option<&str>) -> Result<(), ApiError> {
    match perm {
        Some(p) if !Perm::is_valid_text(p) => Err(ApiError::bad_request(format!(
            "{what} `{p}` is not one of PUB, SUB, PUB|SUB, DENY"
        ))),
        _ => Ok(()),
    }
}

/// `resource=PERM` entries, trimmed, blanks dropped.
fn resource_perms(what: &str, entries: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        match e.split_once('=') {
            Some((res, perm)) if !res.trim().is_empty() && Perm::is_valid_text(perm) => {
                out.push(format!("{}={}", res.trim(), perm.trim()))
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "{what} entry `{e}` is not name=PUB, SUB, PUB|SUB or DENY"
                )))
            }
        }
    }
    Ok(out)
}

impl AccountForm {
    /// The account to send (without its secret when it was left blank), after the checks.
    fn account(&self) -> Result<AccountConfig, ApiError> {
        let access_key =
            nonblank(&self.access_key).ok_or_else(|| ApiError::bad_request("accessKey is required"))?;
        let default_topic_perm = nonblank(&self.default_topic_perm);
        let default_group_perm = nonblank(&self.default_group_perm);
        check_perm("defaultTopicPerm", default_topic_perm)?;
        check_perm("defaultGroupPerm", default_group_perm)?;
        let white = nonblank(&self.white_remote_address);
        if let Some(w) = white {
            AddressPattern::parse(w)
                .map_err(|e| ApiError::bad_request(format!("whiteRemoteAddress: {e}")))?;
        }
        Ok(AccountConfig {
            access_key: Some(access_key.to_string()),
            secret_key: nonblank(&self.secret_key).map(str::to_string),
            white_remote_address: white.map(str::to_string),
            admin: self.admin,
            default_topic_perm: default_topic_perm.map(str::to_string),
            default_group_perm: default_group_perm.map(str::to_string),
            topic_perms: resource_perms("topicPerms", &self.topic_perms)?,
            group_perms: resource_perms("groupPerms", &self.group_perms)?,
        })
    }
}

/// The secret key `access_key` has on `addr`, for an update that keeps it.
async fn current_secret(app: &App, addr: &str, access_key: &str) -> Result<String, ApiError> {
    let config = match app.admin.acl_config(addr).await {
        Ok(c) => c,
        Err(ClientError::Broker { code, .. }) if code == response_code::REQUEST_CODE_NOT_SUPPORTED => {
            return Err(ApiError::bad_request(format!(
                "secretKey is required: this broker does not list its accounts \
                 (GET_BROKER_CLUSTER_ACL_CONFIG), so {access_key}'s cannot be kept"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    config
        .plain_access_configs
        .into_iter()
        .find(|a| a.access_key.as_deref() == Some(access_key))
        .and_then(|a| a.secret_key)
        .ok_or_else(|| ApiError::bad_request(format!("secretKey is required: {access_key} is a new account")))
}

/// `POST /api/acl/v1/accounts`: creates or replaces an account (UPDATE_AND_CREATE_ACL_CONFIG)
/// on the broker or every master of the cluster.
pub async fn put_account(
    State(app): State<Arc<App>>,
    payload: Result<Json<AccountForm>, JsonRejection>,
) -> ApiResult {
    let form = body(payload)?;
    let account = form.account()?;
    let access_key = account.access_key.clone().unwrap_or_default();
    let addrs = form.target.addrs(&app, Members::Masters).await?;
    let mut done = Vec::new();
    for addr in addrs {
        let mut account = account.clone();
        if account.secret_key.is_none() {
            match current_secret(&app, &addr, &access_key).await {
                Ok(s) => account.secret_key = Some(s),
                Err(e) => return Err(failed_on(&addr, &done, e)),
            }
        }
        if let Err(e) = app.admin.update_acl_config(&addr, &account).await {
            return Err(failed_on(&addr, &done, e.into()));
        }
        tracing::info!(broker = %addr, access_key, admin = account.admin, "console: ACL account updated");
        done.push(addr);
    }
    done_on(done)
}

/// `DELETE /api/acl/v1/accounts/<accessKey>?broker=|cluster=` (DELETE_ACL_CONFIG).
pub async fn delete_account(
    State(app): State<Arc<App>>,
    Path(access_key): Path<String>,
    q: Result<Query<Target>, QueryRejection>,
) -> ApiResult {
    let target = query(q)?;
    let access_key = access_key.trim().to_string();
    if access_key.is_empty() {
        return Err(ApiError::bad_request("accessKey is required"));
    }
    let mut done = Vec::new();
    for addr in target.addrs(&app, Members::Masters).await? {
        if let Err(e) = app.admin.delete_acl_config(&addr, &access_key).await {
            return Err(failed_on(&addr, &done, e.into()));
        }
        tracing::info!(broker = %addr, access_key, "console: ACL account deleted");
        done.push(addr);
    }
    done_on(done)
}

/// `POST /api/acl/v1/white-addrs`'s body: the new list (empty clears it).
#[derive(Debug, Deserialize)]
pub struct WhiteAddrs {
    #[serde(flatten)]
    target: Target,
    addrs: Option<Vec<String>>,
}

/// `POST /api/acl/v1/white-addrs`: replaces plain_acl.yml's global white addresses
/// (UPDATE_GLOBAL_WHITE_ADDRS_CONFIG).
pub async fn put_white_addrs(
    State(app): State<Arc<App>>,
    payload: Result<Json<WhiteAddrs>, JsonRejection>,
) -> ApiResult {
    let form = body(payload)?;
    let addrs: Vec<String> = form
        .addrs
        .ok_or_else(|| ApiError::bad_request("addrs is required (an empty list clears the white list)"))?
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    for a in &addrs {
        AddressPattern::parse(a).map_err(|e| ApiError::bad_request(format!("white address `{a}`: {e}")))?;
    }
    let mut done = Vec::new();
    for broker in form.target.addrs(&app, Members::Masters).await? {
        if let Err(e) = app.admin.update_global_white_addrs(&broker, &addrs, None).await {
            return Err(failed_on(&broker, &done, e.into()));
        }
        tracing::info!(broker = %broker, count = addrs.len(), "console: ACL global white addresses replaced");
        done.push(broker);
    }
    done_on(done)
}
