//! Compiled ACL 1.0 rules and the decision (Java 5.3.1 `PlainPermissionManager.validate` +
//! `PlainPermissionChecker.check`; docs/broker/acl.md#decisions).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::address::AddressPattern;
use crate::file::{AccountConfig, AclFile};
use crate::perm::Perm;
use crate::resource::{self, Request, ADMIN_CODES, RETRY_PREFIX, TRACE_TOPIC};
use crate::sign::{self, SigningKey, ACCESS_KEY};
use crate::{AclError, Denied};

/// One account, compiled.
#[derive(Debug, Clone)]
pub struct Account {
    pub access_key: String,
    secret_key: String,
    /// `secret_key`'s HMAC key schedule, made once at compile time.
    key: SigningKey,
    pub white: AddressPattern,
    pub admin: bool,
    pub default_topic: Perm,
    pub default_group: Perm,
    /// Topics by name, groups by retry topic (`%RETRY%G`).
    pub perms: NameMap<Perm>,
}

/// The maps a check looks names up in. Their keys come from the ACL files, never from a
/// request, so a fast hash (foldhash, seeded per process) is safe where SipHash was a fifth of
/// what the check spent outside the signature.
pub type NameMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Java's key length rule: longer than 6 characters.
const MIN_KEY_LEN: usize = 6;

impl Account {
    pub fn compile(c: &AccountConfig) -> Result<Account, AclError> {
        let (Some(ak), Some(sk)) = (c.access_key.as_deref(), c.secret_key.as_deref()) else {
            return Err(AclError::Account {
                access_key: c.access_key.clone().unwrap_or_default(),
                why: "accessKey and secretKey are required".into(),
            });
        };
        if ak.chars().count() <= MIN_KEY_LEN || sk.chars().count() <= MIN_KEY_LEN {
            return Err(AclError::Account {
                access_key: ak.to_string(),
                why: "accessKey and secretKey must be longer than 6 characters".into(),
            });
        }
        let mut perms = NameMap::default();
        for (list, is_topic) in [(&c.group_perms, false), (&c.topic_perms, true)] {
            for entry in list {
                let items: Vec<&str> = entry.split('=').filter(|s| !s.is_empty()).collect();
                let [name, perm] = items.as_slice() else {
                    return Err(AclError::Account {
                        access_key: ak.to_string(),
                        why: format!("`{entry}` is not Resource=Perm"),
                    });
                };
                let name = name.trim();
                let key = if is_topic {
                    name.to_string()
                } else {
                    resource::retry_topic(name)
                };
                perms.insert(key, Perm::parse(Some(perm)));
            }
        }
        Ok(Account {
            access_key: ak.to_string(),
            secret_key: sk.to_string(),
            key: SigningKey::new(sk),
            white: AddressPattern::parse(c.white_remote_address.as_deref().unwrap_or(""))?,
            admin: c.admin,
            default_topic: Perm::parse(c.default_topic_perm.as_deref()),
            default_group: Perm::parse(c.default_group_perm.as_deref()),
            perms,
        })
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }
}

/// Every file's rules, compiled: what a broker checks requests against.
#[derive(Debug, Clone, Default)]
pub struct AclRules {
    pub global_white: Vec<AddressPattern>,
    pub accounts: NameMap<Account>,
}

impl AclRules {
    /// Compiles files in order; an access key defined again in a later file is ignored (with a
    /// warning in the returned list), as Java does. Any invalid entry fails the whole set.
    pub fn compile<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a AclFile)>,
    ) -> Result<(AclRules, Vec<String>), AclError> {
        let mut rules = AclRules::default();
        let mut warnings = Vec::new();
        for (name, file) in files {
            for w in &file.global_white_remote_addresses {
                rules.global_white.push(AddressPattern::parse(w)?);
            }
            for c in &file.accounts {
                let a = Account::compile(c)?;
                if rules.accounts.contains_key(&a.access_key) {
                    warnings.push(format!(
                        "accessKey {} is defined again in {name}; the first one wins",
                        a.access_key
                    ));
                    continue;
                }
                rules.accounts.insert(a.access_key.clone(), a);
            }
        }
        Ok((rules, warnings))
    }

    /// The decision for one request from `remote`.
    pub fn check(&self, req: &Request<'_>, remote: IpAddr) -> Result<(), Denied> {
        // Java parses before it validates: an unreadable request is refused even from a white address.
        // A request without ext fields is not parsed (Java: extFields == null).
        let needed = if req.fields.is_empty() {
            resource::Needed::new()
        } else {
            resource::needed(req)?
        };
        self.decide(
            req.fields.get(ACCESS_KEY).map(String::as_str),
            |account| sign::verify_request_with(req, &account.key),
            Some(req.code),
            &needed,
            remote,
        )
    }

    /// The decision for one gRPC request of the 5.x SDKs (Java's `AuthenticationInterceptor`
    /// with `PlainAccessValidator`): `signed` is its `authorization` header, `needed` what the
    /// message asks for (no gRPC request is an admin request).
    pub fn check_grpc(
        &self,
        signed: Option<&crate::grpc::Signed>,
        needed: &[(std::borrow::Cow<'_, str>, Perm)],
        remote: IpAddr,
    ) -> Result<(), Denied> {
        self.decide(
            signed.map(|s| s.access_key.as_str()),
            |account| signed.is_some_and(|s| s.verifies(&account.key)),
            None,
            needed,
            remote,
        )
    }

    /// `PlainPermissionManager.validate`: white addresses, the account, its signature (checked
    /// by `verify`), then the permissions `needed` (and admin for an admin `code`).
    fn decide(
        &self,
        access_key: Option<&str>,
        verify: impl FnOnce(&Account) -> bool,
        code: Option<i32>,
        needed: &[(std::borrow::Cow<'_, str>, Perm)],
        remote: IpAddr,
    ) -> Result<(), Denied> {
        if self.global_white.iter().any(|p| p.matches(remote)) {
            return Ok(());
        }
        let Some(ak) = access_key else {
            return Err(Denied::new("No accessKey is configured"));
        };
        let Some(account) = self.accounts.get(ak) else {
            return Err(Denied::new(format!("No acl config for {ak}")));
        };
        if account.white.matches(remote) {
            return Ok(());
        }
        if !verify(account) {
            return Err(Denied::new(format!("Check signature failed for accessKey={ak}")));
        }
        if needed
            .iter()
            .any(|(res, perm)| res == TRACE_TOPIC && *perm == Perm::PUB)
        {
            return Ok(());
        }
        if account.admin {
            return Ok(());
        }
        if let Some(code) = code.filter(|c| ADMIN_CODES.contains(c)) {
            return Err(Denied::new(format!(
                "Need admin permission for request code={code}, but accessKey={ak} is not"
            )));
        }
        for (res, needed) in needed {
            let is_group = res.starts_with(RETRY_PREFIX);
            let (owned, prefix) = match account.perms.get(res.as_ref()) {
                Some(p) => (*p, "No permission for"),
                None => (
                    if is_group {
                        account.default_group
                    } else {
                        account.default_topic
                    },
                    "No default permission for",
                ),
            };
            if !Perm::allows(owned, *needed) {
                let what = match res.strip_prefix(RETRY_PREFIX) {
                    Some(g) => format!("group:{g}"),
                    None => format!("topic:{res}"),
                };
                return Err(Denied::new(format!("{prefix} {what}")));
            }
        }
        Ok(())
    }
}
