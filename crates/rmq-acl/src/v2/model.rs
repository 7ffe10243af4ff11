//! ACL 2.0 metadata (Java 5.3 `auth/.../model`): users, resources, actions, policies, and their
//! JSON forms on the wire (`UserInfo`, `AclInfo`) and on disk.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::AclError;

fn invalid(what: impl Into<String>) -> AclError {
    AclError::Invalid(what.into())
}

/// `UserType`: a super user passes every authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserType {
    Super,
    #[default]
    Normal,
}

/// `UserStatus`: a disabled user cannot authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserStatus {
    #[default]
    Enable,
    Disable,
}

impl UserType {
    pub fn parse(s: &str) -> Option<UserType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "super" => Some(UserType::Super),
            "normal" => Some(UserType::Normal),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            UserType::Super => "Super",
            UserType::Normal => "Normal",
        }
    }
}

impl UserStatus {
    pub fn parse(s: &str) -> Option<UserStatus> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enable" => Some(UserStatus::Enable),
            "disable" => Some(UserStatus::Disable),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            UserStatus::Enable => "enable",
            UserStatus::Disable => "disable",
        }
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub password: String,
    pub user_type: UserType,
    pub user_status: UserStatus,
}

/// `UserInfo`, the wire and disk form (every field optional, as Java's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_status: Option<String>,
}

impl User {
    pub fn info(&self) -> UserInfo {
        UserInfo {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            user_type: Some(self.user_type.name().into()),
            user_status: Some(self.user_status.name().into()),
        }
    }

    /// A new user from its wire form (`AuthenticationMetadataManagerImpl.createUser`): a name
    /// and a password are required; type defaults to Normal, status to enable.
    pub fn from_info(info: &UserInfo) -> Result<User, AclError> {
        let username = info
            .username
            .clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid("the username is blank"))?;
        let password = info
            .password
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("the password is blank"))?;
        Ok(User {
            username,
            password,
            user_type: parse_opt(info.user_type.as_deref(), UserType::parse, "userType")?.unwrap_or_default(),
            user_status: parse_opt(info.user_status.as_deref(), UserStatus::parse, "userStatus")?
                .unwrap_or_default(),
        })
    }

    /// Applies the fields `info` sets (UPDATE_USER).
    pub fn update(&mut self, info: &UserInfo) -> Result<(), AclError> {
        if let Some(p) = info.password.clone().filter(|s| !s.is_empty()) {
            self.password = p;
        }
        if let Some(t) = parse_opt(info.user_type.as_deref(), UserType::parse, "userType")? {
            self.user_type = t;
        }
        if let Some(s) = parse_opt(info.user_status.as_deref(), UserStatus::parse, "userStatus")? {
            self.user_status = s;
        }
        Ok(())
    }
}

fn parse_opt<T>(s: Option<&str>, parse: fn(&str) -> Option<T>, what: &str) -> Result<Option<T>, AclError> {
    match s.filter(|s| !s.trim().is_empty()) {
        None => Ok(None),
        Some(s) => parse(s)
            .map(Some)
            .ok_or_else(|| invalid(format!("{what} `{s}` is unknown"))),
    }
}

/// `ResourceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    Any,
    Cluster,
    Namespace,
    Topic,
    Group,
}

impl ResourceType {
    fn parse(s: &str) -> Option<ResourceType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "any" => Some(ResourceType::Any),
            "cluster" => Some(ResourceType::Cluster),
            "namespace" => Some(ResourceType::Namespace),
            "topic" => Some(ResourceType::Topic),
            "group" => Some(ResourceType::Group),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Any => "Any",
            ResourceType::Cluster => "Cluster",
            ResourceType::Namespace => "Namespace",
            ResourceType::Topic => "Topic",
            ResourceType::Group => "Group",
        }
    }
}

/// `ResourcePattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    Literal,
    Prefixed,
    Any,
}

/// A resource in a policy (`Topic:orders`, `Group:app-*`, `Topic:*`, `*`) or a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    pub kind: ResourceType,
    pub name: String,
    pub pattern: Pattern,
}

impl Resource {
    pub fn literal(kind: ResourceType, name: &str) -> Resource {
        Resource {
            kind,
            name: name.to_string(),
            pattern: Pattern::Literal,
        }
    }

    pub fn topic(name: &str) -> Resource {
        Resource::literal(ResourceType::Topic, name)
    }

    /// A group; `%RETRY%G` / `%DLQ%G` name group G (Java `Resource.ofGroup`).
    pub fn group(name: &str) -> Resource {
        let g = name
            .strip_prefix("%RETRY%")
            .or_else(|| name.strip_prefix("%DLQ%"))
            .unwrap_or(name);
        Resource::literal(ResourceType::Group, g)
    }

    /// `Resource.of(key)`: `*`, `Type:name`, `Type:prefix*`, `Type:*`.
    pub fn parse(key: &str) -> Result<Resource, AclError> {
        let key = key.trim();
        if key == "*" {
            return Ok(Resource {
                kind: ResourceType::Any,
                name: String::new(),
                pattern: Pattern::Any,
            });
        }
        let (kind, name) = key.split_once(':').unwrap_or((key, ""));
        let kind =
            ResourceType::parse(kind).ok_or_else(|| invalid(format!("resource `{key}`: unknown type")))?;
        let (name, pattern) = if name == "*" {
            (String::new(), Pattern::Any)
        } else if let Some(prefix) = name.strip_suffix('*') {
            (prefix.to_string(), Pattern::Prefixed)
        } else {
            (name.to_string(), Pattern::Literal)
        };
        if pattern == Pattern::Literal && name.is_empty() {
            return Err(invalid(format!("resource `{key}`: no name")));
        }
        Ok(Resource { kind, name, pattern })
    }

    /// The text form (`getResourceKey`).
    pub fn key(&self) -> String {
        match (self.kind, self.pattern) {
            (ResourceType::Any, _) => "*".into(),
            (k, Pattern::Any) => format!("{}:*", k.name()),
            (k, Pattern::Literal) => format!("{}:{}", k.name(), self.name),
            (k, Pattern::Prefixed) => format!("{}:{}*", k.name(), self.name),
        }
    }

    /// Whether this (policy) resource covers `r` (a request's literal resource).
    pub fn covers(&self, r: &Resource) -> bool {
        if self.kind == ResourceType::Any {
            return true;
        }
        if self.kind != r.kind {
            return false;
        }
        match self.pattern {
            Pattern::Any => true,
            Pattern::Literal => self.name == r.name,
            Pattern::Prefixed => r.name.starts_with(&self.name),
        }
    }
}

/// `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    All,
    /// Only in requests: any granted action will do.
    Any,
    Pub,
    Sub,
    Create,
    Update,
    Delete,
    Get,
    List,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "all" => Action::All,
            "any" => Action::Any,
            "pub" => Action::Pub,
            "sub" => Action::Sub,
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "get" => Action::Get,
            "list" => Action::List,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::All => "All",
            Action::Any => "Any",
            Action::Pub => "Pub",
            Action::Sub => "Sub",
            Action::Create => "Create",
            Action::Update => "Update",
            Action::Delete => "Delete",
            Action::Get => "Get",
            Action::List => "List",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    Custom,
    Default,
}

impl PolicyType {
    pub fn parse(s: &str) -> Option<PolicyType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "custom" => Some(PolicyType::Custom),
            "default" => Some(PolicyType::Default),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            PolicyType::Custom => "Custom",
            PolicyType::Default => "Default",
        }
    }
}

/// A source-IP condition: one address or a CIDR range (`IPAddressUtils.isIPInRange`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIp {
    text: String,
    net: IpAddr,
    prefix: Option<u8>,
}

impl SourceIp {
    pub fn parse(s: &str) -> Result<SourceIp, AclError> {
        let text = s.trim().to_string();
        let bad = || invalid(format!("source ip `{text}` is not an address or CIDR"));
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text.as_str(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        if prefix.is_some_and(|p| p > max) {
            return Err(bad());
        }
        Ok(SourceIp {
            text: text.clone(),
            net,
            prefix,
        })
    }

    pub fn matches(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let Some(prefix) = self.prefix else {
            return ip == self.net;
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    pub resource: Resource,
    pub actions: Vec<Action>,
    pub source_ips: Vec<SourceIp>,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub policy_type: PolicyType,
    pub entries: Vec<PolicyEntry>,
}

/// A subject's policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// `User:name`.
    pub subject: String,
    pub policies: Vec<Policy>,
}

/// `AclInfo`, the wire and disk form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AclInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub policies: Vec<PolicyInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_type: Option<String>,
    pub entries: Vec<PolicyEntryInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyEntryInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

/// The subject key of a user.
pub fn user_subject(username: &str) -> String {
    format!("User:{username}")
}

/// The user name of a `User:name` subject.
pub fn subject_user(subject: &str) -> Option<&str> {
    subject.trim().strip_prefix("User:").filter(|n| !n.is_empty())
}

impl Acl {
    /// Validates and converts `info` as `AuthorizationMetadataManagerImpl.validate` does; a
    /// policy without a type is Custom.
    pub fn from_info(info: &AclInfo, subject: Option<&str>) -> Result<Acl, AclError> {
        let subject = info.subject.as_deref().or(subject).map(str::trim).unwrap_or("");
        if subject_user(subject).is_none() {
            return Err(invalid(format!("the subject `{subject}` is not User:<name>")));
        }
        if info.policies.is_empty() {
            return Err(invalid("the policies are empty"));
        }
        let mut policies = Vec::new();
        for p in &info.policies {
            let policy_type = match p.policy_type.as_deref().filter(|s| !s.trim().is_empty()) {
                None => PolicyType::Custom,
                Some(t) => {
                    PolicyType::parse(t).ok_or_else(|| invalid(format!("policy type `{t}` is unknown")))?
                }
            };
            if p.entries.is_empty() {
                return Err(invalid("the policy entries are empty"));
            }
            let mut entries = Vec::new();
            for e in &p.entries {
                let resource = Resource::parse(
                    e.resource
                        .as_deref()
                        .ok_or_else(|| invalid("the resource is null"))?,
                )?;
                if e.actions.is_empty() {
                    return Err(invalid("the actions are empty"));
                }
                let actions = e
                    .actions
                    .iter()
                    .map(|a| Action::parse(a).ok_or_else(|| invalid(format!("action `{a}` is unknown"))))
                    .collect::<Result<Vec<_>, _>>()?;
                if actions.contains(&Action::Any) {
                    return Err(invalid("the actions can not be Any"));
                }
                let source_ips = e
                    .source_ips
                    .iter()
                    .map(|s| SourceIp::parse(s))
                    .collect::<Result<Vec<_>, _>>()?;
                let decision = match e.decision.as_deref().map(|d| d.trim().to_ascii_lowercase()) {
                    Some(d) if d == "allow" => Decision::Allow,
                    Some(d) if d == "deny" => Decision::Deny,
                    _ => return Err(invalid("the decision is null or illegal")),
                };
                entries.push(PolicyEntry {
                    resource,
                    actions,
                    source_ips,
                    decision,
                });
            }
            policies.push(Policy { policy_type, entries });
        }
        Ok(Acl {
            subject: subject.to_string(),
            policies,
        })
    }

    pub fn info(&self) -> AclInfo {
        AclInfo {
            subject: Some(self.subject.clone()),
            policies: self
                .policies
                .iter()
                .map(|p| PolicyInfo {
                    policy_type: Some(p.policy_type.name().into()),
                    entries: p
                        .entries
                        .iter()
                        .map(|e| PolicyEntryInfo {
                            resource: Some(e.resource.key()),
                            actions: e.actions.iter().map(|a| a.name().to_string()).collect(),
                            source_ips: e.source_ips.iter().map(|s| s.text().to_string()).collect(),
                            decision: Some(match e.decision {
                                Decision::Allow => "Allow".into(),
                                Decision::Deny => "Deny".into(),
                            }),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// `Acl.updatePolicy`: each new policy's entries replace the old entries of the same
    /// resource, or are added.
    pub fn merge(&mut self, other: Acl) {
        for new in other.policies {
            match self
                .policies
                .iter_mut()
                .find(|p| p.policy_type == new.policy_type)
            {
                None => self.policies.push(new),
                Some(old) => {
                    for e in new.entries {
                        match old.entries.iter_mut().find(|o| o.resource == e.resource) {
                            Some(o) => *o = e,
                            None => old.entries.push(e),
                        }
                    }
                }
            }
        }
    }

    /// `Acl.deletePolicy`: drops the entry of `resource` from the policy of `policy_type`.
    pub fn delete(&mut self, policy_type: PolicyType, resource: &Resource) {
        if let Some(p) = self.policies.iter_mut().find(|p| p.policy_type == policy_type) {
            p.entries.retain(|e| e.resource != *resource);
        }
        self.policies.retain(|p| !p.entries.is_empty());
    }
}
