//! The ACL page's ACL 2.0 section (docs/console.md, `#/acl`): RocketMQ 5.3 users and their ACLs
//! (subject, policies of resource patterns, actions, source IPs and a decision) per broker,
//! through the AUTH_* admin codes. Passwords are shown masked; an update that leaves the password
//! blank keeps the user's.
//!
//! Input is checked here with the broker's own rules (`rmq_acl::v2::model`), so a bad resource or
//! action is a 400 that names it before anything is sent.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use rmq_acl::v2::model::{self, Acl, AclInfo, PolicyType, UserInfo, UserStatus, UserType};
use rmq_client::admin::acl_info;
use rmq_client::ClientError;
use rmq_protocol::codes::response_code;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::acl::{
    body, done_on, failed_on, mask, nonblank, query, unavailable, BrokerQuery, Members, Target,
};
use crate::api::{ApiError, ApiResult, App};

/// `GET /api/acl/v2?broker=<addr>`: the broker's users (passwords masked) and ACLs, or its
/// `state` when it has no ACL 2.0.
pub async fn v2(State(app): State<Arc<App>>, q: Result<Query<BrokerQuery>, QueryRejection>) -> ApiResult {
    let addr = query(q)?.addr(&app).await?;
    let mut users = match app.admin.list_users(&addr, "").await {
        Ok(u) => u,
        Err(e) => {
            return unavailable(&addr, &e)
                .or_else(|| java_unconfigured(&addr, &e))
                .map(Json)
                .ok_or_else(|| e.into())
        }
    };
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let users: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({
                "username": u.username, "password": mask(u.password.as_deref()),
                "userType": u.user_type, "userStatus": u.user_status,
            })
        })
        .collect();
    let mut acls = app.admin.list_acls(&addr, "", "").await?;
    acls.sort_by(|a, b| a.subject.cmp(&b.subject));
    Ok(Json(json!({
        "broker": addr, "state": "enabled", "users": users, "acls": acls,
    })))
}

/// What Apache RocketMQ 5.x answers to the AUTH_* codes when no `authenticationMetadataProvider`
/// is configured (an IllegalStateException, logged; this remark is all the client gets).
const JAVA_SYSTEM_ERROR: &str = "An system error occurred";

/// A 5.x broker without ACL 2.0 configured, told apart by its remark: `disabled`.
fn java_unconfigured(addr: &str, e: &ClientError) -> Option<Value> {
    match e {
        ClientError::Broker { code, remark }
            if *code == response_code::SYSTEM_ERROR && remark.contains(JAVA_SYSTEM_ERROR) =>
        {
            Some(json!({
                "broker": addr, "state": "disabled",
                "reason": format!(
                    "ACL 2.0 is not configured on this broker (no authenticationMetadataProvider; \
                     it answered: {})",
                    remark.trim()
                ),
            }))
        }
        _ => None,
    }
}

/// `POST /api/acl/v2/users`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserForm {
    #[serde(flatten)]
    target: Target,
    username: Option<String>,
    /// Blank on an update: keep the user's.
    password: Option<String>,
    user_type: Option<String>,
    user_status: Option<String>,
}

impl UserForm {
    fn user(&self) -> Result<UserInfo, ApiError> {
        let username =
            nonblank(&self.username).ok_or_else(|| ApiError::bad_request("username is required"))?;
        if username.contains(char::is_whitespace) || username.contains(':') {
            return Err(ApiError::bad_request(format!(
                "username `{username}` may not contain spaces or ':'"
            )));
        }
        let user_type = nonblank(&self.user_type);
        if let Some(t) = user_type.filter(|t| UserType::parse(t).is_none()) {
            return Err(ApiError::bad_request(format!(
                "userType `{t}` is not Super or Normal"
            )));
        }
        let user_status = nonblank(&self.user_status);
        if let Some(s) = user_status.filter(|s| UserStatus::parse(s).is_none()) {
            return Err(ApiError::bad_request(format!(
                "userStatus `{s}` is not enable or disable"
            )));
        }
        Ok(UserInfo {
            username: Some(username.to_string()),
            password: nonblank(&self.password).map(str::to_string),
            user_type: user_type.map(str::to_string),
            user_status: user_status.map(str::to_string),
        })
    }
}

/// `POST /api/acl/v2/users`: creates the user (AUTH_CREATE_USER; a password is required) or
/// updates it (AUTH_UPDATE_USER) on each broker, whichever it is there.
pub async fn put_user(
    State(app): State<Arc<App>>,
    payload: Result<Json<UserForm>, JsonRejection>,
) -> ApiResult {
    let form = body(payload)?;
    let user = form.user()?;
    let username = user.username.clone().unwrap_or_default();
    let mut done = Vec::new();
    for addr in form.target.addrs(&app, Members::All).await? {
        let r = match app.admin.get_user(&addr, &username).await {
            Ok(Some(_)) => match app.admin.update_user(&addr, &user).await {
                Ok(()) => applied(&app, &addr, &user).await,
                Err(e) => Err(e.into()),
            },
            Ok(None) if user.password.is_none() => Err(ApiError::bad_request(format!(
                "password is required: {username} is a new user"
            ))),
            Ok(None) => app.admin.create_user(&addr, &user).await.map_err(ApiError::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = r {
            return Err(failed_on(&addr, &done, e));
        }
        tracing::info!(broker = %addr, username, "console: ACL 2.0 user created or updated");
        done.push(addr);
    }
    done_on(done)
}

/// Whether `addr` holds `user`'s fields after an AUTH_UPDATE_USER it acknowledged: Apache
/// RocketMQ 5.3.1 answers success and keeps the user as it was (it stores the old one again), so
/// the console reads the user back and says so rather than report an edit that did not happen.
async fn applied(app: &App, addr: &str, user: &UserInfo) -> Result<(), ApiError> {
    let name = user.username.as_deref().unwrap_or_default();
    let now = app.admin.get_user(addr, name).await?.unwrap_or_default();
    let same = |want: &Option<String>, have: &Option<String>| match want {
        Some(w) => have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)),
        None => true,
    };
    if same(&user.password, &now.password)
        && same(&user.user_type, &now.user_type)
        && same(&user.user_status, &now.user_status)
    {
        return Ok(());
    }
    Err(ApiError {
        status: axum::http::StatusCode::BAD_GATEWAY,
        message: format!(
            "the broker acknowledged the update of {name} but did not apply it (Apache RocketMQ \
             5.3.1 ignores AUTH_UPDATE_USER); delete the user and create it again"
        ),
    })
}

/// `DELETE /api/acl/v2/users/<username>?broker=|cluster=` (AUTH_DELETE_USER; drops its ACL too).
pub async fn delete_user(
    State(app): State<Arc<App>>,
    Path(username): Path<String>,
    q: Result<Query<Target>, QueryRejection>,
) -> ApiResult {
    let target = query(q)?;
    let username = username.trim().to_string();
    if username.is_empty() {
        return Err(ApiError::bad_request("username is required"));
    }
    let mut done = Vec::new();
    for addr in target.addrs(&app, Members::All).await? {
        if let Err(e) = app.admin.delete_user(&addr, &username).await {
            return Err(failed_on(&addr, &done, e.into()));
        }
        tracing::info!(broker = %addr, username, "console: ACL 2.0 user deleted");
        done.push(addr);
    }
    done_on(done)
}

/// `POST /api/acl/v2/acls`'s body: one policy entry per resource, all with the same actions,
/// source IPs and decision (what `mqadmin createAcl -r a,b -a Pub,Sub` sends).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AclForm {
    #[serde(flatten)]
    target: Target,
    /// `User:<name>`, or the bare user name.
    subject: Option<String>,
    /// `Custom` (default) or `Default`.
    policy_type: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    source_ips: Vec<String>,
    decision: Option<String>,
}

fn trimmed(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `alice` or `User:alice` → `User:alice`.
fn subject_of(s: &str) -> String {
    match s.contains(':') {
        true => s.to_string(),
        false => model::user_subject(s),
    }
}

impl AclForm {
    fn acl(&self) -> Result<AclInfo, ApiError> {
        let subject = nonblank(&self.subject)
            .map(subject_of)
            .ok_or_else(|| ApiError::bad_request("subject is required (User:<name>)"))?;
        let resources = trimmed(&self.resources);
        if resources.is_empty() {
            return Err(ApiError::bad_request(
                "resources are required (e.g. Topic:orders, Group:g*, *)",
            ));
        }
        let actions = trimmed(&self.actions);
        if actions.is_empty() {
            return Err(ApiError::bad_request("actions are required (e.g. Pub, Sub)"));
        }
        let decision = nonblank(&self.decision)
            .ok_or_else(|| ApiError::bad_request("decision is required (Allow or Deny)"))?;
        let mut info = acl_info(
            &subject,
            &resources,
            &actions,
            &trimmed(&self.source_ips),
            decision,
        );
        if let Some(t) = nonblank(&self.policy_type) {
            let t = PolicyType::parse(t)
                .ok_or_else(|| ApiError::bad_request(format!("policyType `{t}` is not Custom or Default")))?;
            for p in &mut info.policies {
                p.policy_type = Some(t.name().to_string());
            }
        }
        // the broker's own checks: resource patterns, action names, source IPs, decision
        Acl::from_info(&info, None).map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(info)
    }
}

/// `POST /api/acl/v2/acls`: adds the entries to the subject's ACL on each broker (an entry
/// replaces the one of the same resource): AUTH_UPDATE_ACL when it has one, else AUTH_CREATE_ACL.
pub async fn put_acl(
    State(app): State<Arc<App>>,
    payload: Result<Json<AclForm>, JsonRejection>,
) -> ApiResult {
    let form = body(payload)?;
    let acl = form.acl()?;
    let subject = acl.subject.clone().unwrap_or_default();
    let mut done = Vec::new();
    for addr in form.target.addrs(&app, Members::All).await? {
        let r = match app.admin.get_acl(&addr, &subject).await {
            Ok(existing) => app.admin.put_acl(&addr, &acl, existing.is_some()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            return Err(failed_on(&addr, &done, e.into()));
        }
        tracing::info!(broker = %addr, subject, "console: ACL 2.0 policy created or updated");
        done.push(addr);
    }
    done_on(done)
}

/// `DELETE /api/acl/v2/acls/<subject>`'s query: the target and, to drop one entry, its resource.
#[derive(Debug, Deserialize)]
pub struct DeleteAcl {
    #[serde(flatten)]
    target: Target,
    resource: Option<String>,
}

/// `DELETE /api/acl/v2/acls/<subject>?broker=|cluster=[&resource=]` (AUTH_DELETE_ACL): the whole
/// ACL, or its entry for `resource`.
pub async fn delete_acl(
    State(app): State<Arc<App>>,
    Path(subject): Path<String>,
    q: Result<Query<DeleteAcl>, QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let subject = subject.trim();
    if subject.is_empty() {
        return Err(ApiError::bad_request("subject is required (User:<name>)"));
    }
    let subject = subject_of(subject);
    let resource = nonblank(&q.resource);
    let mut done = Vec::new();
    for addr in q.target.addrs(&app, Members::All).await? {
        if let Err(e) = app.admin.delete_acl(&addr, &subject, resource).await {
            return Err(failed_on(&addr, &done, e.into()));
        }
        tracing::info!(broker = %addr, subject, resource, "console: ACL 2.0 policy deleted");
        done.push(addr);
    }
    done_on(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(code: i32, remark: &str) -> ClientError {
        ClientError::Broker {
            code,
            remark: remark.into(),
        }
    }

    #[test]
    fn java_without_acl_2_is_disabled() {
        // Apache RocketMQ 5.3.1's answer to AUTH_LIST_USER without an authenticationMetadataProvider
        let e = broker(
            response_code::SYSTEM_ERROR,
            "An system error occurred, please try again later.",
        );
        let v = java_unconfigured("127.0.0.1:10911", &e).unwrap();
        assert_eq!(v["state"], "disabled");
        assert!(v["reason"].as_str().unwrap().contains("please try again later"));
        // any other failure stays an error
        assert!(java_unconfigured("b", &broker(response_code::SYSTEM_ERROR, "disk full")).is_none());
        assert!(java_unconfigured("b", &broker(response_code::NO_PERMISSION, JAVA_SYSTEM_ERROR)).is_none());
    }
}
