//! Access control for rmq (docs/broker/acl.md).
//!
//! ACL 1.0, as Apache RocketMQ 4.9 and 5.x serve it behind `aclEnable=true`: accounts and white
//! addresses in `plain_acl.yml` (plus `conf/acl/*.yml`), requests signed by the official clients'
//! `AclClientRPCHook`. Pure: no I/O but reading the files in [`load`], no locks; the broker keeps
//! the current [`AclRules`] and asks them about every request.
//!
//! # Layout
//! - [`sign`]: the HmacSHA1 request signature (both sides: clients sign, the broker verifies in
//!   constant time).
//! - [`file`]: the `plain_acl.yml` format.
//! - [`address`]: white-address patterns.
//! - [`perm`]: permission bits.
//! - [`resource`]: which topics and groups each request code needs.
//! - [`rules`]: compiled rules and the decision.
//! - [`grpc`]: the 5.x gRPC SDKs' `authorization` header.

pub mod address;
pub mod file;
pub mod grpc;
pub mod load;
pub mod perm;
pub mod resource;
pub mod rules;
pub mod sign;
pub mod v2;

pub use file::{AccountConfig, AclFile};
pub use load::{load, write_atomically, AclSource, Loaded, Snapshot};
pub use perm::Perm;
pub use resource::Request;
pub use rules::AclRules;
pub use sign::Credentials;

/// `UtilAll.split(s, ",")` as the ACL admin paths use it: the non-empty, trimmed parts.
pub fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// A request the rules refuse; `reason` names why (an access key at most, never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Denied {
    pub reason: String,
}

impl Denied {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// ACL configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    #[error("address pattern `{pattern}`: {why}")]
    Address { pattern: String, why: String },
    #[error("account `{access_key}`: {why}")]
    Account { access_key: String, why: String },
    #[error("{path}: {source}")]
    Yaml {
        path: String,
        #[source]
        source: serde_yaml::Error,
    },
    /// ACL 2.0 metadata that does not validate (Java's AuthenticationException /
    /// AuthorizationException texts).
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
