//! ACL 2.0 (Apache RocketMQ 5.3+, docs/broker/acl.md#acl-20): users (super, normal) who sign
//! requests as ACL 1.0 accounts do, and per-user policies over `Cluster:`, `Topic:` and `Group:`
//! resources. Pure data and decisions here, plus the two JSON files they persist to.

pub mod admin;
pub mod authz;
pub mod model;
pub mod service;

pub use service::{AuthEditError, AuthService, AuthSettings};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use model::{
    Acl, AclInfo, Action, Decision, Policy, PolicyEntry, PolicyType, Resource, ResourceType, User, UserInfo,
};
use model::{Pattern, UserStatus, UserType};

use crate::{AccountConfig, AclError};

/// Every user and ACL a broker knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthData {
    pub users: BTreeMap<String, User>,
    /// By subject (`User:name`).
    pub acls: BTreeMap<String, Acl>,
}

/// Where the metadata lives: `<dir>/users.json` and `<dir>/acls.json`, each written atomically.
#[derive(Debug, Clone)]
pub struct AuthFiles {
    pub dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AclError + '_ {
    move |source| AclError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn json(path: &Path) -> impl FnOnce(serde_json::Error) -> AclError + '_ {
    move |e| AclError::Invalid(format!("{}: {e}", path.display()))
}

impl AuthFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn users_path(&self) -> PathBuf {
        self.dir.join("users.json")
    }

    fn acls_path(&self) -> PathBuf {
        self.dir.join("acls.json")
    }

    /// Reads both files; missing files are empty.
    pub fn load(&self) -> Result<AuthData, AclError> {
        let mut data = AuthData::default();
        let path = self.users_path();
        if let Some(text) = read_optional(&path)? {
            let infos: Vec<UserInfo> = serde_json::from_str(&text).map_err(json(&path))?;
            for info in &infos {
                let user = User::from_info(info)?;
                data.users.insert(user.username.clone(), user);
            }
        }
        let path = self.acls_path();
        if let Some(text) = read_optional(&path)? {
            let infos: Vec<AclInfo> = serde_json::from_str(&text).map_err(json(&path))?;
            for info in &infos {
                let acl = Acl::from_info(info, None)?;
                data.acls.insert(acl.subject.clone(), acl);
            }
        }
        Ok(data)
    }

    /// Writes both files (temporary file, fsync, rename).
    pub fn save(&self, data: &AuthData) -> Result<(), AclError> {
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let users: Vec<UserInfo> = data.users.values().map(User::info).collect();
        let acls: Vec<AclInfo> = data.acls.values().map(Acl::info).collect();
        write_json(&self.users_path(), &users)?;
        write_json(&self.acls_path(), &acls)
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, AclError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), AclError> {
    use std::io::Write as _;
    let bytes = serde_json::to_vec_pretty(value).map_err(json(path))?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl AuthData {
    /// `initAuthenticationUser` (`{"username":..,"password":..}`): a super user created at start
    /// when no user of that name exists. Returns whether it was created.
    pub fn init_user(&mut self, json_text: &str) -> Result<bool, AclError> {
        let info: UserInfo = serde_json::from_str(json_text)
            .map_err(|e| AclError::Invalid(format!("initAuthenticationUser: {e}")))?;
        let mut user = User::from_info(&info)?;
        if self.users.contains_key(&user.username) {
            return Ok(false);
        }
        user.user_type = UserType::Super;
        self.users.insert(user.username.clone(), user);
        Ok(true)
    }

    /// `migrateAuthFromV1Enabled` (Java `AuthMigrator`): each ACL 1.0 account whose name is not
    /// a user yet becomes one (admin -> Super) with an ACL of its topic and group permissions
    /// (Custom) and its defaults (Default, `Topic:*` / `Group:*`). Returns the names migrated.
    pub fn migrate_from_v1(&mut self, accounts: &[AccountConfig]) -> Vec<String> {
        let mut migrated = Vec::new();
        for a in accounts {
            let (Some(ak), Some(sk)) = (a.access_key.as_deref(), a.secret_key.as_deref()) else {
                continue;
            };
            if self.users.contains_key(ak) {
                continue;
            }
            let user_type = if a.admin {
                UserType::Super
            } else {
                UserType::Normal
            };
            self.users.insert(
                ak.to_string(),
                User {
                    username: ak.into(),
                    password: sk.into(),
                    user_type,
                    user_status: UserStatus::Enable,
                },
            );
            let entry = |resource: Resource, perm: &str| {
                let perm = perm.trim();
                let actions = match perm {
                    "PUB" => vec![Action::Pub],
                    "SUB" => vec![Action::Sub],
                    "PUB|SUB" | "SUB|PUB" => vec![Action::Pub, Action::Sub],
                    _ => vec![Action::All],
                };
                let decision = if perm == "DENY" || perm.is_empty() {
                    Decision::Deny
                } else {
                    Decision::Allow
                };
                PolicyEntry {
                    resource,
                    actions,
                    source_ips: Vec::new(),
                    decision,
                }
            };
            let mut custom = Vec::new();
            for (list, is_topic) in [(&a.topic_perms, true), (&a.group_perms, false)] {
                for p in list {
                    let parts: Vec<&str> = p.split('=').filter(|s| !s.is_empty()).collect();
                    let [name, perm] = parts.as_slice() else { continue };
                    let r = if is_topic {
                        Resource::topic(name.trim())
                    } else {
                        Resource::group(name.trim())
                    };
                    custom.push(entry(r, perm));
                }
            }
            let mut default = Vec::new();
            for (perm, kind) in [
                (&a.default_topic_perm, ResourceType::Topic),
                (&a.default_group_perm, ResourceType::Group),
            ] {
                if let Some(perm) = perm.as_deref().filter(|p| !p.trim().is_empty()) {
                    default.push(entry(
                        Resource {
                            kind,
                            name: String::new(),
                            pattern: Pattern::Any,
                        },
                        perm,
                    ));
                }
            }
            let mut policies = Vec::new();
            if !custom.is_empty() {
                policies.push(Policy {
                    policy_type: PolicyType::Custom,
                    entries: custom,
                });
            }
            if !default.is_empty() {
                policies.push(Policy {
                    policy_type: PolicyType::Default,
                    entries: default,
                });
            }
            if !policies.is_empty() {
                let subject = model::user_subject(ak);
                self.acls.insert(subject.clone(), Acl { subject, policies });
            }
            migrated.push(ak.to_string());
        }
        migrated
    }
}

#[cfg(test)]
mod tests;
