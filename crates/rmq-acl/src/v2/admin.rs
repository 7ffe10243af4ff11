//! The ACL 2.0 admin codes (Java 5.3 `AdminBrokerProcessor`): AUTH_CREATE_USER (3001) ..
//! AUTH_LIST_ACL (3010), answered by any server that keeps an [`AuthService`]. Refusals are
//! NO_PERMISSION with Java's texts, other failures SYSTEM_ERROR; who may call them is decided
//! before dispatch (`Cluster:` Update / Get).

use rmq_protocol::body;
use rmq_protocol::codes::{request_code as rc, response_code as code};
use rmq_protocol::RemotingCommand;

use super::model::{AclInfo, UserInfo};
use super::service::{AuthEditError, AuthService};

/// The codes [`handle`] answers.
pub const CODES: [i32; 10] = [
    rc::AUTH_CREATE_USER,
    rc::AUTH_UPDATE_USER,
    rc::AUTH_DELETE_USER,
    rc::AUTH_GET_USER,
    rc::AUTH_LIST_USER,
    rc::AUTH_CREATE_ACL,
    rc::AUTH_UPDATE_ACL,
    rc::AUTH_DELETE_ACL,
    rc::AUTH_GET_ACL,
    rc::AUTH_LIST_ACL,
];

fn error(req: &RemotingCommand, c: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req, c).with_remark(remark)
}

fn ok(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, code::SUCCESS)
}

const NOT_ENABLED: &str =
    "ACL 2.0 is not enabled on this broker (authenticationEnabled / authorizationEnabled)";

fn field<'a>(req: &'a RemotingCommand, k: &str) -> Option<&'a str> {
    req.ext_fields
        .get(k)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

fn answer(req: &RemotingCommand, r: Result<(), AuthEditError>) -> RemotingCommand {
    match r {
        Ok(()) => ok(req),
        Err(AuthEditError::Refused(why)) => error(req, code::NO_PERMISSION, why),
        Err(AuthEditError::Failed(why)) => error(req, code::SYSTEM_ERROR, why),
    }
}

fn json_body(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Answers one of [`CODES`]; `auth` is `None` when the server runs without ACL 2.0.
pub fn handle(auth: Option<&AuthService>, req: &RemotingCommand) -> RemotingCommand {
    let Some(auth) = auth else {
        return error(req, code::SYSTEM_ERROR, NOT_ENABLED);
    };
    let by_super = auth.signed_by_super(req);
    match req.code {
        rc::AUTH_CREATE_USER | rc::AUTH_UPDATE_USER => {
            let Some(username) = field(req, "username") else {
                return error(req, code::SYSTEM_ERROR, "The username is blank");
            };
            let mut info: UserInfo = match body::from_fastjson(&req.body) {
                Ok(i) => i,
                Err(e) => {
                    return error(
                        req,
                        code::SYSTEM_ERROR,
                        format!("the UserInfo body does not decode: {e}"),
                    )
                }
            };
            info.username = Some(username.to_string());
            let r = if req.code == rc::AUTH_CREATE_USER {
                auth.create_user(&info, by_super)
            } else {
                auth.update_user(&info, by_super)
            };
            answer(req, r)
        }
        rc::AUTH_DELETE_USER => answer(
            req,
            auth.delete_user(field(req, "username").unwrap_or(""), by_super),
        ),
        rc::AUTH_GET_USER => {
            let Some(username) = field(req, "username") else {
                return error(req, code::SYSTEM_ERROR, "The username is blank");
            };
            match auth.data().users.get(username) {
                Some(u) => ok(req).with_body(json_body(&u.info())),
                None => ok(req),
            }
        }
        rc::AUTH_LIST_USER => {
            let filter = field(req, "filter").unwrap_or("");
            let users: Vec<UserInfo> = auth
                .data()
                .users
                .values()
                .filter(|u| u.username.contains(filter))
                .map(|u| u.info())
                .collect();
            if users.is_empty() {
                ok(req)
            } else {
                ok(req).with_body(json_body(&users))
            }
        }
        rc::AUTH_CREATE_ACL | rc::AUTH_UPDATE_ACL => {
            let info: AclInfo = match body::from_fastjson(&req.body) {
                Ok(i) => i,
                Err(e) => return error(req, code::NO_PERMISSION, format!("The body of acl is null: {e}")),
            };
            answer(req, auth.upsert_acl(&info, field(req, "subject")))
        }
        rc::AUTH_DELETE_ACL => {
            let Some(subject) = field(req, "subject") else {
                return error(req, code::NO_PERMISSION, "The subject is null.");
            };
            answer(
                req,
                auth.delete_acl(subject, field(req, "policyType"), field(req, "resource")),
            )
        }
        rc::AUTH_GET_ACL => {
            let subject = field(req, "subject").unwrap_or("");
            let data = auth.data();
            let user = super::model::subject_user(subject).unwrap_or("");
            if !data.users.contains_key(user) {
                return error(req, code::NO_PERMISSION, "The subject is not exist.");
            }
            match data.acls.get(subject.trim()) {
                Some(acl) => ok(req).with_body(json_body(&acl.info())),
                None => ok(req),
            }
        }
        rc::AUTH_LIST_ACL => {
            let subjects = field(req, "subjectFilter").unwrap_or("");
            let resources = field(req, "resourceFilter").unwrap_or("");
            let mut out = Vec::new();
            for acl in auth.data().acls.values().filter(|a| a.subject.contains(subjects)) {
                let mut info = acl.info();
                for p in &mut info.policies {
                    p.entries
                        .retain(|e| e.resource.as_deref().unwrap_or("").contains(resources));
                }
                info.policies.retain(|p| !p.entries.is_empty());
                if !info.policies.is_empty() {
                    out.push(info);
                }
            }
            if out.is_empty() {
                ok(req)
            } else {
                ok(req).with_body(json_body(&out))
            }
        }
        _ => error(req, code::REQUEST_CODE_NOT_SUPPORTED, "not an ACL 2.0 code"),
    }
}
